//! Progress reporting, so the binary can draw a bar without this crate knowing terminals.

/// Receives progress of a long operation.
pub trait Progress: Sync {
    /// A new stage starts with `total` steps (features).
    fn stage(&self, name: &str, total: u64);
    /// `n` more steps are done.
    fn advance(&self, n: u64);
}

/// Ignores progress.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn stage(&self, _name: &str, _total: u64) {}
    fn advance(&self, _n: u64) {}
}
