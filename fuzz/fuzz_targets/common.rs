//! The readers take paths: each input is written to a file in a per-process temporary folder.

use std::path::PathBuf;

/// Writes `data` to `name` in this process's folder and returns its path.
pub fn file(name: &str, data: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("predio-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, data).expect("write input");
    path
}
