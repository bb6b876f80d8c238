//! The library side of the `predio` package: what the binary and the fuzz targets (`fuzz/`)
//! share. The commands, the server and the CLI live in the binary (`main.rs`).

pub mod params;
