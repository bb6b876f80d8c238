//! Open311 GeoReport v2 service requests (JSON or XML): any input is read or refused, never a
//! panic; what is read has an id and a UTC time.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = common::file("requests.json", data);
    if let Ok(rows) = predio_importers::read_open311(&path, Default::default()) {
        for r in &rows.reports {
            assert!(!r.id.as_str().is_empty());
        }
    }
});
