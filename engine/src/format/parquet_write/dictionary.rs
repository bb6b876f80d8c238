//! Dictionaries of string column chunks of few values, found from their 16-byte views without
//! hashing a string.

use polars::prelude::*;
use polars_arrow::array::{Array, DictionaryArray, PrimitiveArray, Utf8ViewArray};
use polars_arrow::datatypes::IntegerType;

/// Most distinct values a string column chunk gets a dictionary for from [`view_dictionary`].
pub(super) const VIEW_DICTIONARY_MAX: usize = 1 << 10;

/// A dictionary of `array`'s values found by comparing their views, not their strings, when it
/// has at most [`VIEW_DICTIONARY_MAX`] of them (and a value at all).
///
/// A view is the 16 bytes of a string up to 12 bytes long, or its length, prefix and place in
/// a buffer: values taken from a short list (a window, a dimension's values, a status, the
/// reports' categories as read from their own dictionary) repeat their views, and one lookup of
/// 16 bytes per row finds them. Polars' dictionary estimates the cardinality then hashes every
/// string (see the module's note); without a dictionary, Snappy compresses every copy of every
/// string. A column with more values stops at the first one too many: a few thousand lookups.
/// Equal strings under different views (from different buffers) become one entry.
pub(super) fn view_dictionary(array: &Utf8ViewArray) -> Option<DictionaryArray<u32>> {
    let views = array.views();
    let valid = |i: usize| array.validity().is_none_or(|v| v.get_bit(i));
    let mut index: PlHashMap<u128, u32> = PlHashMap::default();
    // One representative row of each distinct view.
    let mut firsts: Vec<usize> = Vec::new();
    let mut keys: Vec<u32> = Vec::with_capacity(views.len());
    let mut last: Option<(u128, u32)> = None;
    for (i, view) in views.iter().enumerate() {
        if !valid(i) {
            keys.push(0);
            continue;
        }
        let v = view.as_u128();
        let key = match last {
            Some((l, key)) if l == v => key,
            _ => {
                let next = firsts.len() as u32;
                let key = *index.entry(v).or_insert(next);
                if key == next {
                    if firsts.len() == VIEW_DICTIONARY_MAX {
                        return None;
                    }
                    firsts.push(i);
                }
                last = Some((v, key));
                key
            }
        };
        keys.push(key);
    }
    if firsts.is_empty() {
        return None;
    }
    // Equal strings under different views: one entry each.
    let mut by_value: PlHashMap<&str, u32> = PlHashMap::default();
    let mut values: Vec<&str> = Vec::with_capacity(firsts.len());
    let remap: Vec<u32> = firsts
        .iter()
        .map(|&i| {
            let s = array.value(i);
            *by_value.entry(s).or_insert_with(|| {
                values.push(s);
                values.len() as u32 - 1
            })
        })
        .collect();
    if values.len() < firsts.len() {
        keys.iter_mut().for_each(|k| *k = remap[*k as usize]);
    }
    let keys = PrimitiveArray::new(
        ArrowDataType::UInt32,
        keys.into(),
        array.validity().cloned(),
    );
    let values = Utf8ViewArray::from_slice_values(values);
    DictionaryArray::try_new(
        ArrowDataType::Dictionary(
            IntegerType::UInt32,
            Box::new(ArrowDataType::Utf8View),
            false,
        ),
        keys,
        values.boxed(),
    )
    .ok()
}
