//! mimalloc's options for the batch commands (all but `serve`), set in-process at start-up, and
//! how a batch command ends (`end_batch`).
//!
//! - Purge delay 10,000 ms. A batch command ends in seconds; returning freed memory to the
//!   system in the middle of it only makes the next allocations fault their pages in again,
//!   zeroed. On 1,000,000 reports `predio compute` took 35–70 thousand page faults and 2–6 s of
//!   system time at mimalloc's default delay (1 s), 5 thousand faults with it deferred past the
//!   command's end.
//! - No transparent huge pages. mimalloc asks for them on its large regions, and each first
//!   touch then zeroes 2 MiB. On the bench VM, which reports free memory to its host
//!   (virtio-balloon free page reporting), those faults were 44 % of `predio compute`'s samples
//!   and made a single run after idle 2–3 s slower (benches/README.md); on a machine without
//!   free page reporting, set `MIMALLOC_ALLOW_THP=1`.
//!
//! An option the user set in the environment (`MIMALLOC_PURGE_DELAY`, `MIMALLOC_ALLOW_THP`) is
//! kept: mimalloc read it as the process started. `serve` keeps mimalloc's defaults: it returns
//! a replaced catalog version's memory.

// The one module with `unsafe`: three calls into mimalloc, one prctl and `_exit`, each with its
// reason.
#![allow(unsafe_code)]

use libmimalloc_sys::{mi_collect, mi_option_set, mi_option_t};

/// `mi_option_purge_delay` in the mimalloc v3 that libmimalloc-sys 0.1.49 bundles (the crate
/// is pinned; `the_option_numbers_name_the_options_meant` checks both numbers).
const PURGE_DELAY: mi_option_t = 15;
/// `mi_option_allow_thp`, as above.
const ALLOW_THP: mi_option_t = 43;

/// The batch commands' options: the environment variable that would set each (and that the
/// user may set instead), its option and its value (what `--help` says).
pub(crate) const BATCH_OPTIONS: [(&str, mi_option_t, i32); 2] = [
    // milliseconds
    ("MIMALLOC_PURGE_DELAY", PURGE_DELAY, 10_000),
    ("MIMALLOC_ALLOW_THP", ALLOW_THP, 0),
];

/// Sets the batch commands' options, each unless the environment set it.
pub(crate) fn batch_options() {
    for (var, option, value) in BATCH_OPTIONS {
        if std::env::var_os(var).is_none() {
            // SAFETY: sets an integer option; mimalloc reads options atomically and checks
            // these two before each purge and each huge-page advice.
            unsafe { mi_option_set(option, value.into()) };
        }
    }
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
        // What mimalloc does at start-up when the option is off: the kernel's THP "always"
        // mode is refused for this process too.
        // SAFETY: PR_SET_THP_DISABLE takes integer arguments and touches no memory of ours.
        let refused = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
        if refused != 0 {
            tracing::debug!("prctl(PR_SET_THP_DISABLE) refused");
        }
    }
}

/// Ends a batch command that succeeded: stdout and stderr flushed, then `_exit(0)`, which skips
/// what `exit` would run next and predio does not need: mimalloc's `mi_process_done` (every
/// freed page handed back to the system, one `madvise` at a time: 294 calls after `predio
/// compute`) and, in `predio-gdal`, the destructors of the hundred-odd C and C++ libraries GDAL
/// brings. Between `predio compute`'s last fsync and the end of the process that was 60 ms, now
/// 2 ms (strace).
/// Everything a command writes is flushed and synced before it returns (its writers are dropped
/// by then); nothing of predio's is registered with `atexit`.
pub(crate) fn end_batch() -> ! {
    use std::io::Write;
    // A reader gone away (`predio indices | head`) is not an error here either.
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: `_exit` takes an integer and does not return; the process ends with what it has
    // written, as it would after `exit`, less the teardown above.
    unsafe { libc::_exit(0) }
}

/// `serve --catalogs`: freed memory goes back to the system at once (purge delay 0, unless
/// `MIMALLOC_PURGE_DELAY` is set), as a municipality unloaded or a lazily built table dropped
/// on an idle thread would otherwise stay resident; many catalogs share one memory budget.
pub(crate) fn eager_purge() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets an integer option, as in `batch_options`.
        unsafe { mi_option_set(PURGE_DELAY, 0) };
    }
}

/// Returns the calling thread's freed memory to the system now, blocks freed by other threads
/// included. `serve --catalogs` loads every catalog on one thread and calls this there after
/// unloading one, so an unloaded catalog's memory leaves the process then, not whenever that
/// thread next allocates.
pub(crate) fn give_back() {
    // SAFETY: takes no pointer; collects the calling thread's own heap.
    unsafe { mi_collect(true) };
}

#[cfg(test)]
mod tests {
    use std::ffi::{c_char, c_void, CStr};

    use super::*;

    extern "C" {
        /// mimalloc's `mi_options_print_out` (exported by the bundled library; not bound by
        /// libmimalloc-sys).
        fn mi_options_print_out(
            out: Option<unsafe extern "C" fn(*const c_char, *mut c_void)>,
            arg: *mut c_void,
        );
    }

    unsafe extern "C" fn collect(msg: *const c_char, arg: *mut c_void) {
        // SAFETY: `arg` is the `String` handed to `mi_options_print_out` below, and mimalloc
        // gives a NUL-terminated message.
        let (out, msg) = unsafe { (&mut *arg.cast::<String>(), CStr::from_ptr(msg)) };
        out.push_str(&msg.to_string_lossy());
    }

    #[test]
    fn the_option_numbers_name_the_options_meant() {
        batch_options();
        let mut printed = String::new();
        // SAFETY: `collect` appends to `printed`, which outlives the call.
        unsafe { mi_options_print_out(Some(collect), (&raw mut printed).cast()) };
        let value = |name: &str| {
            printed
                .lines()
                .find(|l| l.contains(&format!("option '{name}'")))
                .unwrap_or_else(|| panic!("no option {name} in:\n{printed}"))
                .to_owned()
        };
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert!(value("purge_delay").contains(": 10000"), "{printed}");
        }
        if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
            assert!(value("allow_thp").contains(": 0"), "{printed}");
            // SAFETY: PR_GET_THP_DISABLE takes integer arguments.
            let disabled = unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) };
            assert_eq!(disabled, 1, "THP refused for the process");
        }
    }
}
