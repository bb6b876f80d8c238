//! Query strings of the tile and Open311 endpoints: parsed or refused with a message, never a
//! panic; what parses is within the documented ranges.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use predio::params::{dimension, RequestQuery, MAX_PAGE};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let q: HashMap<String, String> = text
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    match dimension(&q) {
        Ok(Some((d, v))) => assert!((d == "category" || d == "department") && !v.is_empty()),
        Ok(None) | Err(_) => {}
    }
    match RequestQuery::parse(&q) {
        Ok(r) => {
            assert!(r.page >= 1 && (1..=MAX_PAGE).contains(&r.page_size));
            if let (Some(s), Some(e)) = (r.start, r.end) {
                assert!(s <= e);
            }
            if let Some((lat, lon, radius)) = r.near {
                assert!(lat.abs() <= 90.0 && lon.abs() <= 180.0);
                assert!(radius > 0.0 && radius <= 50_000.0);
            }
        }
        Err(e) => assert!(!e.is_empty()),
    }
});
