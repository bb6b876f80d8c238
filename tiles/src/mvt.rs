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
    geometry: Vec<u32>,
    cursor: Coord<i32>,
}

impl<'a> LayerWriter<'a> {
    /// A layer named `name` whose features may use `keys` (tagged by their slot in it), with
    /// room for about `features` features.
    pub(crate) fn new(name: &'a str, keys: Vec<&'a str>, features: usize) -> Self {
        let slots = keys.len();
        Self {
            name,
            keys,
            key_index: vec![NONE; slots],
            used: Vec::with_capacity(slots),
            strings: Map::with_capacity_and_hasher(features, foldhash::fast::FixedState::default()),
            scalars: Map::with_capacity_and_hasher(
                features * 2,
                foldhash::fast::FixedState::default(),
            ),
            small: [NONE; SMALL],
            values: 0,
            value_bytes: Vec::new(),
            features: Vec::new(),
            count: 0,
            tags: Vec::new(),
            geometry: Vec::new(),
            cursor: Coord { x: 0, y: 0 },
        }
    }

    /// Starts a polygon feature with `id`; [`Feature::end`] adds it to the layer.
    pub(crate) fn feature(&mut self, id: u64) -> Feature<'_, 'a> {
        self.tags.clear();
        self.geometry.clear();
        self.cursor = Coord { x: 0, y: 0 };
        Feature { layer: self, id }
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
        let l = &mut *self.layer;
        let mut key = l.key_index[slot];
        if key == NONE {
            key = l.used.len() as u32;
            l.key_index[slot] = key;
            l.used.push(slot as u32);
        }
        let value = l.value(value);
        l.tags.extend([key, value]);
    }

    /// Adds a ring (without its closing vertex; one that has it is taken as well), rewound if
    /// needed so that exterior rings turn clockwise on screen and holes the other way. A
    /// polygon is its exterior ring followed by its holes.
    pub(crate) fn ring(&mut self, ring: &[Coord<i32>], exterior: bool) {
        let ring = match ring {
            [first, .., last] if first == last => &ring[..ring.len() - 1],
            _ => ring,
        };
        if ring.is_empty() {
            return;
        }
        let area = signed_area(ring);
        let reverse = area != 0 && (area > 0) != exterior;
        let at = |i: usize| {
            if reverse {
                ring[ring.len() - 1 - i]
            } else {
                ring[i]
            }
        };
        let l = &mut *self.layer;
        l.geometry.reserve(2 * ring.len() + 3);
        l.geometry.push(command(1, 1));
        push_delta(&mut l.geometry, &mut l.cursor, at(0));
        if ring.len() > 1 {
            l.geometry.push(command(2, ring.len() - 1));
            for i in 1..ring.len() {
                push_delta(&mut l.geometry, &mut l.cursor, at(i));
            }
        }
        l.geometry.push(command(7, 1));
    }

    /// Adds the feature to its layer.
    pub(crate) fn end(self) {
        let l = self.layer;
        let tags = packed_len(&l.tags);
        let geometry = packed_len(&l.geometry);
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

/// Twice the signed area of a ring (positive: clockwise on screen, y down).
fn signed_area(ring: &[Coord<i32>]) -> i64 {
    let mut area = 0_i64;
    let mut prev = ring[ring.len() - 1];
    for &c in ring {
        area += i64::from(prev.x) * i64::from(c.y) - i64::from(prev.y) * i64::from(c.x);
        prev = c;
    }
    area
}

/// A command integer: `id` (1 MoveTo, 2 LineTo, 7 ClosePath) and its count.
fn command(id: u32, count: usize) -> u32 {
    // A tile's ring cannot approach 2^29 vertices (the clipped part of a polygon in memory).
    id | (u32::try_from(count).unwrap_or(u32::MAX >> 3) << 3)
}

fn push_delta(out: &mut Vec<u32>, cursor: &mut Coord<i32>, c: Coord<i32>) {
    for d in [c.x.saturating_sub(cursor.x), c.y.saturating_sub(cursor.y)] {
        out.push(((d << 1) ^ (d >> 31)) as u32);
    }
    *cursor = c;
}

fn varint_len(v: u64) -> usize {
    // A byte per started 7 bits, one for zero.
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

fn varint(v: u64, out: &mut Vec<u8>) {
    let mut bytes = [0; 10];
    let len = put_varint(v, &mut bytes, 0);
    out.extend_from_slice(&bytes[..len]);
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
