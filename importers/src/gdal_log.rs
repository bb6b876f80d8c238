//! GDAL reports problems through its error handler, not only through return values: a truncated
//! shapefile makes the feature reader stop with a CPLE failure and no error returned. We route
//! GDAL's messages to `tracing` and keep the failures, so a read can tell "done" from "broken".

use std::sync::{Mutex, Once};

use gdal::errors::CplErrType;

static FAILURES: Mutex<Vec<String>> = Mutex::new(Vec::new());
static INSTALL: Once = Once::new();

thread_local! {
    /// The last warning GDAL gave in this thread: GDAL calls its handler in the thread of the
    /// call that warns, so a caller can read what its own call said (GEOS's validity reason).
    static LAST_WARNING: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Installs the handler once per process.
pub(crate) fn install() {
    INSTALL.call_once(|| {
        gdal::config::set_error_handler(|kind, code, msg| match kind {
            CplErrType::Failure | CplErrType::Fatal => {
                tracing::debug!(gdal.code = code, "GDAL error: {msg}");
                if let Ok(mut f) = FAILURES.lock() {
                    f.push(msg.to_owned());
                }
            }
            CplErrType::Warning => {
                tracing::debug!(gdal.code = code, "GDAL warning: {msg}");
                LAST_WARNING.with(|w| *w.borrow_mut() = Some(msg.to_owned()));
            }
            _ => tracing::trace!(gdal.code = code, "GDAL: {msg}"),
        });
    });
}

/// Forgets failures seen so far (call before an operation whose failures you want).
pub(crate) fn clear() {
    if let Ok(mut f) = FAILURES.lock() {
        f.clear();
    }
}

/// Failures since the last [`clear`].
pub(crate) fn take() -> Vec<String> {
    FAILURES
        .lock()
        .map(|mut f| std::mem::take(&mut *f))
        .unwrap_or_default()
}

/// Runs `f` and returns what it returned with the last warning GDAL gave in this thread during
/// it, if any.
pub(crate) fn with_warning<T>(f: impl FnOnce() -> T) -> (T, Option<String>) {
    LAST_WARNING.with(|w| w.borrow_mut().take());
    let out = f();
    (out, LAST_WARNING.with(|w| w.borrow_mut().take()))
}
