//! Where the commands of other formats run: the commands that read or write files through GDAL
//! and PROJ (`import`, `sample`, `mapping draft`).
//!
//! Binding GDAL and the hundred-odd libraries it needs takes the loader ~60 ms at every start
//! (PROJ alone ~10 ms), longer than a whole `predio info`. So `predio` does not link them: for
//! those commands it becomes `predio-gdal`, installed beside it, with the same arguments and
//! environment (exec: the same process, its exit status and output are the command's). Every
//! other command, `compute`, `serve` and `geocode` among them, runs in `predio` itself.

use std::path::PathBuf;

use anyhow::Context as _;

use crate::cli::Cli;

/// Where the commands of other formats run; the binary's `main` picks one: [`IN_HELPER`], or
/// [`crate::LINKED`] (in this process, with GDAL and PROJ linked: `predio-gdal`).
#[derive(Clone, Copy)]
pub struct Formats(pub(crate) fn(Cli) -> anyhow::Result<()>);

/// In `predio-gdal`, beside this binary, which this process becomes (`predio`).
pub const IN_HELPER: Formats = Formats(in_helper);

/// The helper's file name.
pub const HELPER: &str = "predio-gdal";

/// The helper beside the running binary.
///
/// # Errors
/// The running binary cannot be found, or the helper is not beside it.
fn helper() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("finding the running predio binary")?;
    let helper = exe.with_file_name(HELPER);
    anyhow::ensure!(
        helper.is_file(),
        "{HELPER} is not beside {}: the commands that read or write other formats (import, \
         sample, mapping draft) run in it; install both binaries (`cargo install --path api` \
         does, `cargo build` builds both)",
        exe.display()
    );
    Ok(helper)
}

/// Becomes the helper with this process's arguments; returns only if that failed.
fn in_helper(_cli: Cli) -> anyhow::Result<()> {
    use std::os::unix::process::CommandExt as _;
    let helper = helper()?;
    let mut args = std::env::args_os();
    let mut command = std::process::Command::new(&helper);
    if let Some(name) = args.next() {
        // Messages name the command as the user typed it.
        command.arg0(name);
    }
    let error = command.args(args).exec();
    Err(error).with_context(|| format!("running {}", helper.display()))
}
