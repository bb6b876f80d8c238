//! A CSV of reports with the sample town's mapping: rows are read or listed as refused, never a
//! panic.
#![no_main]

mod common;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use predio_importers::CsvMapping;

static MAPPING: OnceLock<CsvMapping> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let mapping = MAPPING.get_or_init(|| {
        let path = common::file("mapping.toml", include_bytes!("../mappings/town.toml"));
        CsvMapping::from_file(&path).expect("the mapping reads")
    });
    let path = common::file("reports.csv", data);
    if let Ok(rows) = predio_importers::read_csv_reports(&path, mapping, Default::default()) {
        for r in &rows.reports {
            assert!(!r.id.as_str().is_empty());
        }
    }
});
