//! A stable least-significant-digit radix sort by an integer key.

/// `items` ordered by `key` (stable: items with equal keys keep their order), by passes of 11
/// bits, as many as the largest key needs: each pass is a count and a move, where a comparison
/// sort of a million items makes some twenty passes over them.
pub fn sort_by_key<T: Copy>(mut items: Vec<T>, key: impl Fn(&T) -> u64) -> Vec<T> {
    const BITS: u32 = 11;
    const MASK: u64 = (1 << BITS) - 1;
    let max = items.iter().map(&key).max().unwrap_or(0);
    if max == 0 {
        return items;
    }
    let mut buf = items.clone();
    let mut shift = 0;
    while shift < 64 && (max >> shift) > 0 {
        let mut start = vec![0usize; (1 << BITS) + 1];
        for o in &items {
            start[((key(o) >> shift) & MASK) as usize + 1] += 1;
        }
        for d in 0..1 << BITS {
            start[d + 1] += start[d];
        }
        for o in &items {
            let d = ((key(o) >> shift) & MASK) as usize;
            buf[start[d]] = *o;
            start[d] += 1;
        }
        std::mem::swap(&mut items, &mut buf);
        shift += BITS;
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_stably_by_key_of_any_width() {
        let keys: Vec<u64> = vec![
            5,
            1,
            5,
            0,
            2048,
            7,
            1 << 22,
            3,
            2048,
            0,
            u64::from(u32::MAX) - 1,
            u64::MAX,
            1 << 40,
        ];
        let items: Vec<(u64, u32)> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (*k, i as u32))
            .collect();
        let mut expected = items.clone();
        expected.sort_by_key(|o| o.0);
        assert_eq!(sort_by_key(items.clone(), |o| o.0), expected);
        // Equal keys keep their order: sorting by the key's low bits only.
        let mut low = items.clone();
        low.sort_by_key(|o| o.0 & 0xff);
        assert_eq!(sort_by_key(items, |o| o.0 & 0xff), low);
        assert!(sort_by_key(Vec::<(u64, u32)>::new(), |o| o.0).is_empty());
    }
}
