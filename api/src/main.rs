//! `predio`: spatial analytics and vector tiles for municipal citizen reports.
//!
//! Every command runs here but those of other formats (`import`, `sample`, `mapping draft`),
//! which run in `predio-gdal`, beside this binary: this one does not link GDAL nor PROJ.

fn main() -> std::process::ExitCode {
    predio::main(predio::formats::IN_HELPER)
}
