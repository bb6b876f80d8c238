//! `predio-gdal`: `predio` with GDAL and PROJ linked, where its commands of other formats
//! (`import`, `sample`, `mapping draft`) run. `predio` becomes this binary (exec) for them;
//! run directly, it takes the same arguments and runs any command.

fn main() -> std::process::ExitCode {
    predio::main(predio::LINKED)
}
