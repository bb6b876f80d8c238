//! The `predio` package: the command line, the server and the viewer over the library crates.
//!
//! Two binaries share this library. `predio` (`main.rs`) runs every command but those that
//! read or write other formats through GDAL and PROJ; it does not link them, so it starts in
//! milliseconds rather than the ~60 ms the loader takes to bind GDAL's hundred-odd libraries.
//! Those commands (`import`, `sample`, `mapping draft`) run in `predio-gdal`
//! (`bin/predio-gdal.rs`), installed beside it, which `predio` becomes (exec) with the same
//! arguments ([`formats`], [`LINKED`]). The fuzz targets (`fuzz/`) use [`params`].

mod cli;
mod commands;
pub mod formats;
mod malloc;
pub mod params;
mod progress;
mod role;
mod run;

pub use commands::LINKED;
pub use run::main;

/// mimalloc returns the memory of a replaced catalog version to the system, where glibc's
/// arenas keep it: `benches/load.sh` measured resident memory +41 % across a version switch
/// with glibc's allocator, −7 % with mimalloc (and the blocking pool capped, serve.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
