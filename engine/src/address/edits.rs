//! Edit distance between street names (optimal string alignment: insertions, deletions,
//! substitutions and swaps of two neighbouring letters), and the cheap lower bounds that let
//! the fuzzy step pass most names over without aligning them.

/// How many times each letter, digit and space occurs in a name: the edits between two names
/// are at least the larger of the letters one has more of and the other has more of.
/// Which of them occur, as bits, for a first bound in one instruction: a letter present in one
/// name only takes an edit, and one substitution can account for two such letters.
#[derive(Debug, Clone, Copy)]
pub(super) struct Letters([u8; 38], u64);

impl Letters {
    pub(super) fn of(s: &str) -> Self {
        let mut c = [0u8; 38];
        let mut present = 0u64;
        for b in s.bytes() {
            let i = match b {
                b'a'..=b'z' => usize::from(b - b'a'),
                b'0'..=b'9' => 26 + usize::from(b - b'0'),
                b' ' => 36,
                _ => 37,
            };
            c[i] = c[i].saturating_add(1);
            present |= 1 << i;
        }
        Self(c, present)
    }

    /// A first, cheaper bound: half the letters present in one name only, rounded up.
    pub(super) fn quick_bound(&self, other: &Letters) -> usize {
        ((self.1 ^ other.1).count_ones() as usize).div_ceil(2)
    }

    pub(super) fn lower_bound(&self, other: &Letters) -> usize {
        let (mut more, mut fewer) = (0usize, 0usize);
        for (a, b) in self.0.iter().zip(&other.0) {
            if a > b {
                more += usize::from(a - b);
            } else {
                fewer += usize::from(b - a);
            }
        }
        more.max(fewer)
    }
}

/// The edits between `a` and `b` (as [`edits`]) when at most `limit`, else `None`; stops as soon
/// as a row of the alignment exceeds the limit. `scratch` is reused between calls.
pub(super) fn edits_within(
    a: &[u8],
    b: &[u8],
    limit: usize,
    scratch: &mut Vec<usize>,
) -> Option<usize> {
    let w = b.len() + 1;
    scratch.clear();
    scratch.resize((a.len() + 1) * w, 0);
    let d = scratch.as_mut_slice();
    for (j, x) in d.iter_mut().enumerate().take(w) {
        *x = j;
    }
    for i in 1..=a.len() {
        d[i * w] = i;
        let mut row_min = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[(i - 1) * w + j] + 1)
                .min(d[i * w + j - 1] + 1)
                .min(d[(i - 1) * w + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = v;
            row_min = row_min.min(v);
        }
        if row_min > limit {
            return None;
        }
    }
    let e = d[a.len() * w + b.len()];
    (e <= limit).then_some(e)
}

/// Edits between two words (normalised names: bytes): insertions, deletions, substitutions and
/// swaps of two neighbouring letters (optimal string alignment), without a limit.
pub(super) fn edits(a: &str, b: &str) -> usize {
    edits_within(a.as_bytes(), b.as_bytes(), usize::MAX, &mut Vec::new()).unwrap_or(usize::MAX)
}
