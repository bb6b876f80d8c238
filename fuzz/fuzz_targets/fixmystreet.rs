//! A FixMyStreet dashboard export: read or refused, never a panic.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = common::file("fms.csv", data);
    let _ = predio_importers::read_fixmystreet(&path, None, Default::default());
});
