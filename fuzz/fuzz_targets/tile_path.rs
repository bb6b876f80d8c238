//! `/tiles/{layer}/{z}/{x}/{y}.mvt`: a tile that parses is on the grid and is the numbers given.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.splitn(3, '/');
    let (Some(z), Some(x), Some(file)) = (parts.next(), parts.next(), parts.next()) else {
        return;
    };
    if let Ok(t) = predio::params::tile_path(z, x, file) {
        assert!(t.z() <= 22);
        let n = 1u64 << t.z();
        assert!(u64::from(t.x()) < n && u64::from(t.y()) < n);
        let y = file
            .strip_suffix(".mvt")
            .or_else(|| file.strip_suffix(".pbf"))
            .expect("a parsed tile has its suffix");
        let given = |s: &str| s.parse::<u64>().expect("a parsed number is digits");
        assert_eq!(
            (u64::from(t.z()), u64::from(t.x()), u64::from(t.y())),
            (given(z), given(x), given(y))
        );
    }
});
