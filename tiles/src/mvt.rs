//! The MVT 2.1 encoding of one polygon layer, written for how predio's layers tag their
//! features: every key is known before the first feature, and most values are numbers.
//!
//! A general MVT writer looks each key up by its text and keeps every value in a hash map
//! whose entries it sorts back into order at the end; serving cold parcel tiles, that was
//! about 30 % of the server's CPU (fast-mvt 0.7: key lookups, value interning, map growth, the
//! final sort). Here a key is a slot in the list the layer declares (its index in the tile is
//! assigned on first use), counts below [`SMALL`] are found by position, the other values in
//! maps with room for the tile's features that borrow the layer's texts rather than copy them,
//! and each value is encoded into the layer's value list the first time it is seen, so nothing
//! is sorted. A server without a tile cache answered 1.3x the parcel tiles a second
//! (benches/README.md). The bytes are those a general writer produces (keys and values numbered
//! in order of first use, each value once, rings rewound to the MVT winding of their role): the
//! tests compare them with fast-mvt's, byte for byte.

use std::collections::HashMap;

use geo::Coord;

type Map<K> = HashMap<K, u32, foldhash::fast::FixedState>;

/// Unsigned values below this are looked up by position (counts mostly are).
const SMALL: usize = 256;

/// Not numbered yet.
const NONE: u32 = u32::MAX;

/// `Layer.extent`.
const EXTENT: u32 = 4096;

/// `Layer.version`.
const VERSION: u32 = 2;

/// `Feature.type` of a polygon.
const POLYGON: u32 = 3;

/// A tag's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum TagValue<'a> {
    /// `string_value`.
    Text(&'a str),
    /// `double_value`.
    Double(f64),
    /// `uint_value`.
    UInt(u64),
    /// `sint_value` (zig-zag).
    SInt(i64),
}

/// One layer being written: its features so far, and the keys and values they use.
pub(crate) struct LayerWriter<'a> {
    name: &'a str,
    /// The keys the layer may use, by slot.
    keys: Vec<&'a str>,
    /// Each slot's index among the layer's keys ([`NONE`] until first used).
    key_index: Vec<u32>,
    /// The slots used, in order of first use.
    used: Vec<u32>,
    strings: Map<&'a str>,
    /// Doubles and signed integers by (type, bits).
    scalars: Map<(u8, u64)>,
    small: [u32; SMALL],
    values: u32,
    /// The encoded `Layer.values` fields so far.
    value_bytes: Vec<u8>,
    /// The encoded `Layer.features` fields so far.
    features: Vec<u8>,
    count: usize,
    tags: Vec<u32>,
    /// The varint bytes of `tags`, counted as they are added.
    tags_len: usize,
    geometry: Vec<u32>,
    /// The varint bytes of `geometry`.
    geometry_len: usize,
    cursor: Coord<i32>,
}

impl<'a> LayerWriter<'a> {
    /// A layer named `name` whose features may use `keys` (tagged by their slot in it), with
    /// room for about `features` features.
    pub(crate) fn new(name: &'a str, keys: Vec<&'a str>, features: usize) -> Self {
        let slots = keys.len();
        let hasher = foldhash::fast::FixedState::default;
        // Room from the start for what a tile's features typically hold (two distinct numbers
        // and about 48 bytes of tags and geometry a parcel; a sector's dozen fields): growing
        // from nothing, a tile of one or two sectors spent a quarter of its time reallocating.
        Self {
            name,
            keys,
            key_index: vec![NONE; slots],
            used: Vec::with_capacity(slots),
            strings: Map::with_capacity_and_hasher(features + 8, hasher()),
            scalars: Map::with_capacity_and_hasher(features * 2 + slots, hasher()),
            small: [NONE; SMALL],
            values: 0,
            value_bytes: Vec::with_capacity(features * 32 + 256),
            features: Vec::with_capacity(features * 48 + 256),
            count: 0,
            tags: Vec::with_capacity(2 * slots),
            tags_len: 0,
            geometry: Vec::with_capacity(64),
            geometry_len: 0,
            cursor: Coord { x: 0, y: 0 },
        }
    }

    /// Starts a polygon feature with `id`; [`Feature::end`] adds it to the layer.
    pub(crate) fn feature(&mut self, id: u64) -> Feature<'_, 'a> {
        self.tags.clear();
        self.tags_len = 0;
        self.geometry.clear();
        self.geometry_len = 0;
        self.cursor = Coord { x: 0, y: 0 };
        Feature { layer: self, id }
    }

    /// Adds `value` at the end of the layer's values, unlooked-up, and gives its index.
    fn push_value(&mut self, value: TagValue<'a>) -> u32 {
        let next = self.values;
        self.values += 1;
        let out = &mut self.value_bytes;
        match value {
            TagValue::Text(s) => {
                let inner = 1 + varint_len(s.len() as u64) + s.len();
                header(4, inner, out);
                string_field(1, s, out);
            }
            TagValue::Double(d) => {
                header(4, 9, out);
                out.push(3 << 3 | 1);
                out.extend_from_slice(&d.to_le_bytes());
            }
            TagValue::UInt(v) => {
                header(4, 1 + varint_len(v), out);
                out.push(5 << 3);
                varint(v, out);
            }
            TagValue::SInt(v) => {
                let z = ((v << 1) ^ (v >> 63)) as u64;
                header(4, 1 + varint_len(z), out);
                out.push(6 << 3);
                varint(z, out);
            }
        }
        next
    }

    /// The index of `value` in the layer's values, added at the end if new.
    fn value(&mut self, value: TagValue<'a>) -> u32 {
        let next = self.values;
        let slot = match value {
            TagValue::UInt(v) if v < SMALL as u64 => &mut self.small[v as usize],
            TagValue::Text(s) => self.strings.entry(s).or_insert(NONE),
            TagValue::Double(d) => self.scalars.entry((0, d.to_bits())).or_insert(NONE),
            TagValue::UInt(v) => self.scalars.entry((1, v)).or_insert(NONE),
            TagValue::SInt(v) => self.scalars.entry((2, v as u64)).or_insert(NONE),
        };
        if *slot != NONE {
            return *slot;
        }
        *slot = next;
        self.push_value(value)
    }

    /// The layer as a `Tile.layers` field (tiles of several layers are these concatenated);
    /// `None` without features.
    pub(crate) fn finish(self) -> Option<Vec<u8>> {
        if self.count == 0 {
            return None;
        }
        let keys: usize = self
            .used
            .iter()
            .map(|&s| {
                let k = self.keys[s as usize];
                1 + varint_len(k.len() as u64) + k.len()
            })
            .sum();
        let len = 1
            + varint_len(self.name.len() as u64)
            + self.name.len()
            + self.features.len()
            + keys
            + self.value_bytes.len()
            + 1
            + varint_len(u64::from(EXTENT))
            + 1
            + varint_len(u64::from(VERSION));
        let mut out = Vec::with_capacity(len + 6);
        header(3, len, &mut out);
        string_field(1, self.name, &mut out);
        out.extend_from_slice(&self.features);
        for &s in &self.used {
            string_field(3, self.keys[s as usize], &mut out);
        }
        out.extend_from_slice(&self.value_bytes);
        out.push(5 << 3);
        varint(u64::from(EXTENT), &mut out);
        out.push(15 << 3);
        varint(u64::from(VERSION), &mut out);
        Some(out)
    }
}

/// A feature being written into its layer.
pub(crate) struct Feature<'w, 'a> {
    layer: &'w mut LayerWriter<'a>,
    id: u64,
}

impl<'a> Feature<'_, 'a> {
    /// Tags the feature with the key of `slot` (see [`LayerWriter::new`]) and `value`.
    pub(crate) fn tag(&mut self, slot: usize, value: TagValue<'a>) {
        let key = self.key(slot);
        let value = self.layer.value(value);
        self.push_tag(key, value);
    }

    /// Tags the feature with the key of `slot` and the text `value`, which the caller knows no
    /// other value of the layer equals (a feature's unique id): it is added to the layer's
    /// values without being looked up. Equal to [`Feature::tag`] for such a text.
    pub(crate) fn tag_unique_text(&mut self, slot: usize, value: &'a str) {
        let key = self.key(slot);
        debug_assert!(
            !self.layer.strings.contains_key(value),
            "{value:?} is not unique in the layer"
        );
        let value = self.layer.push_value(TagValue::Text(value));
        self.push_tag(key, value);
    }

    /// The layer's index of the key of `slot`, numbered on first use.
    fn key(&mut self, slot: usize) -> u32 {
        let l = &mut *self.layer;
        let mut key = l.key_index[slot];
        if key == NONE {
            key = l.used.len() as u32;
            l.key_index[slot] = key;
            l.used.push(slot as u32);
        }
        key
    }

    fn push_tag(&mut self, key: u32, value: u32) {
        let l = &mut *self.layer;
        l.tags.extend([key, value]);
        l.tags_len += varint_len(u64::from(key)) + varint_len(u64::from(value));
    }

    /// Adds a ring (without its closing vertex; one that has it is taken as well), rewound if
    /// needed so that exterior rings turn clockwise on screen and holes the other way. A
    /// polygon is its exterior ring followed by its holes.
    #[cfg(test)]
    pub(crate) fn ring(&mut self, ring: &[Coord<i32>], exterior: bool) {
        let ring = match ring {
            [first, .., last] if first == last => &ring[..ring.len() - 1],
            _ => ring,
        };
        if !ring.is_empty() {
            self.ring_of_area(ring, exterior, crate::geom::signed_area2(ring));
        }
    }

    /// [`Feature::ring`] of a ring without its closing vertex whose signed area (twice it, or any
    /// multiple: only its sign is read) the caller has: the cut rings come with theirs.
    pub(crate) fn ring_of_area(&mut self, ring: &[Coord<i32>], exterior: bool, area: i64) {
        if ring.is_empty() {
            return;
        }
        let reverse = area != 0 && (area > 0) != exterior;
        let at = |i: usize| {
            if reverse {
                ring[ring.len() - 1 - i]
            } else {
                ring[i]
            }
        };
        let l = &mut *self.layer;
        let g = &mut l.geometry;
        g.reserve(2 * ring.len() + 3);
        let mut cursor = l.cursor;
        // MoveTo 1 and ClosePath 1 are a byte each.
        let mut len = 2;
        g.push(command(1, 1));
        for i in 0..ring.len() {
            if i == 1 {
                let c = command(2, ring.len() - 1);
                g.push(c);
                len += varint_len(u64::from(c));
            }
            let c = at(i);
            for d in [c.x.saturating_sub(cursor.x), c.y.saturating_sub(cursor.y)] {
                let z = ((d << 1) ^ (d >> 31)) as u32;
                g.push(z);
                len += varint_len(u64::from(z));
            }
            cursor = c;
        }
        g.push(command(7, 1));
        l.cursor = cursor;
        l.geometry_len += len;
    }

    /// Adds the feature to its layer.
    pub(crate) fn end(self) {
        let l = self.layer;
        let (tags, geometry) = (l.tags_len, l.geometry_len);
        debug_assert_eq!(tags, packed_len(&l.tags));
        debug_assert_eq!(geometry, packed_len(&l.geometry));
        let len = 1 + varint_len(self.id) + packed_field_len(tags) + 2 + packed_field_len(geometry);
        let out = &mut l.features;
        header(2, len, out);
        out.push(1 << 3);
        varint(self.id, out);
        packed(2, &l.tags, tags, out);
        out.push(3 << 3);
        out.push(POLYGON as u8);
        packed(4, &l.geometry, geometry, out);
        l.count += 1;
    }
}

/// A command integer: `id` (1 MoveTo, 2 LineTo, 7 ClosePath) and its count.
fn command(id: u32, count: usize) -> u32 {
    // A tile's ring cannot approach 2^29 vertices (the clipped part of a polygon in memory).
    id | (u32::try_from(count).unwrap_or(u32::MAX >> 3) << 3)
}

/// The bytes of `v` as a varint: one per started 7 bits, one for zero. `bits * 9 / 64 + 1`
/// is `ceil(bits / 7)` for 1 to 64 bits (as prost computes it): a multiply and a shift where
/// `div_ceil(7)` took a division's worth of instructions on every tag and coordinate.
fn varint_len(v: u64) -> usize {
    let bits = 64 - (v | 1).leading_zeros() as usize;
    (bits * 9 + 64) / 64
}

/// Appends `v` as a varint, a byte at a time (most are one or two bytes: copying them from a
/// buffer on the stack was a call to `memcpy` for each).
fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Writes `v` as a varint into `bytes` from `at`; gives where it ends.
fn put_varint(mut v: u64, bytes: &mut [u8], mut at: usize) -> usize {
    while v >= 0x80 {
        bytes[at] = (v as u8) | 0x80;
        v >>= 7;
        at += 1;
    }
    bytes[at] = v as u8;
    at + 1
}

/// The key of a length-delimited field (`field` < 16) and its length.
fn header(field: u8, len: usize, out: &mut Vec<u8>) {
    out.push(field << 3 | 2);
    varint(len as u64, out);
}

fn string_field(field: u8, s: &str, out: &mut Vec<u8>) {
    header(field, s.len(), out);
    out.extend_from_slice(s.as_bytes());
}

fn packed_len(values: &[u32]) -> usize {
    values.iter().map(|&v| varint_len(u64::from(v))).sum()
}

/// A packed field of `len` bytes with its key and length (nothing when empty).
fn packed_field_len(len: usize) -> usize {
    if len == 0 {
        0
    } else {
        1 + varint_len(len as u64) + len
    }
}

/// The varints are written into the `len` bytes made for them, through a slice: pushed one
/// by one, each byte rechecked the vector's capacity and stored its length (every tag and
/// coordinate of a tile is one).
fn packed(field: u8, values: &[u32], len: usize, out: &mut Vec<u8>) {
    if values.is_empty() {
        return;
    }
    header(field, len, out);
    let start = out.len();
    out.resize(start + len, 0);
    let bytes = &mut out[start..];
    let at = values
        .iter()
        .fold(0, |at, &v| put_varint(u64::from(v), bytes, at));
    debug_assert_eq!(at, len, "the packed field's length");
}

#[cfg(test)]
mod tests;
