//! The layer writer against fast-mvt's general one: the same features, keys and values give
//! the same bytes.

use fast_mvt::{MvtGeomType, MvtLayerBuilder, MvtValueRef};
use geo::Coord;
use proptest::prelude::*;

use super::{LayerWriter, TagValue};

/// A feature: its id, rings (with their role) and tags (key slot, value).
type Spec = (u64, Vec<(Vec<(i32, i32)>, bool)>, Vec<(usize, Tagged)>);

#[derive(Debug, Clone)]
enum Tagged {
    Text(String),
    Double(f64),
    UInt(u64),
    SInt(i64),
}

impl Tagged {
    fn ours(&self) -> TagValue<'_> {
        match self {
            Tagged::Text(s) => TagValue::Text(s),
            Tagged::Double(d) => TagValue::Double(*d),
            Tagged::UInt(v) => TagValue::UInt(*v),
            Tagged::SInt(v) => TagValue::SInt(*v),
        }
    }

    fn theirs(&self) -> MvtValueRef<'_> {
        match self {
            Tagged::Text(s) => MvtValueRef::String(s),
            Tagged::Double(d) => MvtValueRef::Double(*d),
            Tagged::UInt(v) => MvtValueRef::UInt(*v),
            Tagged::SInt(v) => MvtValueRef::SInt(*v),
        }
    }
}

const KEYS: [&str; 6] = [
    "parcel_id",
    "sector_id",
    "received",
    "open",
    "attention",
    "delta",
];

/// A text of its own for the `k`-th feature (no [`tagged`] text is one).
fn unique_id(k: usize) -> String {
    format!("P-{k}")
}

fn ours(features: &[Spec]) -> Option<Vec<u8>> {
    ours_with(features, &[])
}

/// The layer with, when `ids` are given, each feature first tagged with its own id as
/// [`super::Feature::tag_unique_text`] writes it.
fn ours_with(features: &[Spec], ids: &[String]) -> Option<Vec<u8>> {
    let mut layer = LayerWriter::new("parcels", KEYS.to_vec(), features.len());
    for (k, (id, rings, tags)) in features.iter().enumerate() {
        let mut f = layer.feature(*id);
        if let Some(text) = ids.get(k) {
            f.tag_unique_text(0, text);
        }
        for (ring, exterior) in rings {
            let ring: Vec<Coord<i32>> = ring.iter().map(|&(x, y)| Coord { x, y }).collect();
            f.ring(&ring, *exterior);
        }
        for (slot, v) in tags {
            f.tag(*slot, v.ours());
        }
        f.end();
    }
    layer.finish()
}

fn theirs(features: &[Spec]) -> Option<Vec<u8>> {
    theirs_with(features, &[])
}

fn theirs_with(features: &[Spec], ids: &[String]) -> Option<Vec<u8>> {
    let mut layer = MvtLayerBuilder::new("parcels").expect("a name");
    for (k, (id, rings, tags)) in features.iter().enumerate() {
        let mut f = layer.feature_of(MvtGeomType::Polygon);
        f.id(Some(*id));
        if let Some(text) = ids.get(k) {
            f.tag_ref(KEYS[0], MvtValueRef::String(text))
                .expect("a tag");
        }
        for (ring, exterior) in rings {
            f.ring(ring.iter().map(|&(x, y)| Coord { x, y }), *exterior)
                .expect("a ring");
        }
        for (slot, v) in tags {
            f.tag_ref(KEYS[*slot], v.theirs()).expect("a tag");
        }
        layer = f.end();
    }
    (layer.num_features() > 0).then(|| layer.encode())
}

fn tagged() -> impl Strategy<Value = Tagged> {
    prop_oneof![
        // Few texts, so that values repeat (and the ids' texts too).
        (0..40_u32).prop_map(|i| Tagged::Text(format!("1000{i}-000"))),
        (0..20_u32).prop_map(|i| Tagged::Double(f64::from(i) / 4.0)),
        any::<f64>().prop_map(Tagged::Double),
        (0..300_u64).prop_map(Tagged::UInt),
        any::<u64>().prop_map(Tagged::UInt),
        (-300..300_i64).prop_map(Tagged::SInt),
        any::<i64>().prop_map(Tagged::SInt),
    ]
}

fn ring() -> impl Strategy<Value = (Vec<(i32, i32)>, bool)> {
    (
        prop::collection::vec((-200..4300_i32, -200..4300_i32), 1..12),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(mut r, exterior, closed)| {
            if closed {
                r.push(r[0]);
            }
            (r, exterior)
        })
}

fn feature() -> impl Strategy<Value = Spec> {
    (
        0..1_000_000_u64,
        prop::collection::vec(ring(), 1..4),
        prop::collection::vec((0..KEYS.len(), tagged()), 0..8),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn the_same_bytes_as_fast_mvt(features in prop::collection::vec(feature(), 0..30)) {
        prop_assert_eq!(ours(&features), theirs(&features));
    }

    #[test]
    fn unique_ids_unlooked_up_give_the_same_bytes(
        features in prop::collection::vec(feature(), 0..30),
    ) {
        let ids: Vec<String> = (0..features.len()).map(unique_id).collect();
        prop_assert_eq!(ours_with(&features, &ids), theirs_with(&features, &ids));
    }
}

#[test]
fn varints_have_the_length_they_are_written_with() {
    for bits in 0..64 {
        for v in [1_u64 << bits, (1_u64 << bits) - 1, (1_u64 << bits) | 1] {
            let mut out = Vec::new();
            super::varint(v, &mut out);
            assert_eq!(super::varint_len(v), out.len(), "{v}");
            let mut bytes = [0; 10];
            assert_eq!(super::put_varint(v, &mut bytes, 0), out.len(), "{v}");
            assert_eq!(&bytes[..out.len()], out.as_slice(), "{v}");
        }
    }
    assert_eq!(super::varint_len(0), 1);
    assert_eq!(super::varint_len(u64::MAX), 10);
}

#[test]
fn an_empty_layer_is_none() {
    assert_eq!(ours(&[]), None);
}

#[test]
fn a_square_is_wound_as_the_spec_draws_it() {
    // The spec's example polygon (4.3.5): MoveTo(3,6), LineTo(8,12),(20,34), ClosePath.
    let tile =
        ours(&[(1, vec![(vec![(3, 6), (8, 12), (20, 34)], true)], vec![])]).expect("a layer");
    let theirs = theirs(&[(1, vec![(vec![(3, 6), (8, 12), (20, 34)], true)], vec![])]);
    assert_eq!(Some(tile.clone()), theirs);
    // The geometry field of the one feature: [9, 6, 12, 18, 10, 12, 24, 44, 15].
    let geometry = [0x22, 9, 9, 6, 12, 18, 10, 12, 24, 44, 15];
    assert!(
        tile.windows(geometry.len()).any(|w| w == geometry),
        "{tile:?}"
    );
}
