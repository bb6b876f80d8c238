//! Crash safety: an import killed with SIGKILL leaves the previous version current and whole.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{info, predio_ok};

fn staging_exists(data: &Path) -> bool {
    std::fs::read_dir(data.join("versions"))
        .map(|d| {
            d.flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with(".staging-"))
        })
        .unwrap_or(false)
}

/// Starts an import and SIGKILLs it when `when` says so; returns whether it was killed mid-way.
fn kill_import(data: &Path, shp: &str, when: impl Fn(&Path, Duration) -> bool) -> bool {
    let mut child = Command::new(env!("CARGO_BIN_EXE_predio"))
        .arg("--data")
        .arg(data)
        .args(["import", "parcels", shp])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return false;
        }
        if when(data, start.elapsed()) {
            child.kill().expect("SIGKILL");
            child.wait().expect("reaped");
            return true;
        }
        std::thread::sleep(Duration::from_micros(500));
    }
}

#[test]
fn sigkill_during_import_leaves_previous_version_current() {
    let town = tempfile::tempdir().expect("tempdir");
    let out = town.path().to_str().expect("utf-8");
    predio_ok(
        town.path(),
        &[
            "sample",
            "--out",
            out,
            "--parcels",
            "120000",
            "--reports",
            "0",
            "--seed",
            "3",
        ],
    );
    let shp = town.path().join("parcels.shp");
    let shp = shp.to_str().expect("utf-8");
    let sectors = town.path().join("sectors.shp");

    let data = tempfile::tempdir().expect("tempdir");
    predio_ok(
        data.path(),
        &["import", "sectors", sectors.to_str().expect("utf-8")],
    );
    let before = info(data.path());

    // Killed while reading, then while writing the new version's files.
    let killed_reading = kill_import(data.path(), shp, |_, t| t > Duration::from_millis(150));
    assert!(
        killed_reading,
        "the import finished before 150 ms; the test needs a bigger town"
    );
    assert_eq!(info(data.path()), before);
    let killed_writing = kill_import(data.path(), shp, |d, _| staging_exists(d));
    assert!(killed_writing, "never saw the staging folder");
    assert!(
        staging_exists(data.path()),
        "the kill left a partial staging folder behind"
    );
    assert_eq!(
        info(data.path()),
        before,
        "CURRENT still names the previous version"
    );
    predio_ok(data.path(), &["info", "--verify"]);

    // The next import cleans the debris up and commits the next version.
    predio_ok(data.path(), &["import", "parcels", shp]);
    assert!(!staging_exists(data.path()));
    let after = info(data.path());
    assert_eq!(after["parent"], before["version"]);
    assert_eq!(after["layers"]["parcels"]["count"], 120000);
}
