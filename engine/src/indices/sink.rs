//! Where the indices tables go as they are computed: a sink of frames, level by level, and
//! the queue that hands a level's frames on in their order whatever order the tasks end in.

use std::collections::BTreeMap;

use polars::prelude::*;

use super::Level;

/// Where [`compute_into`] puts the tables: each level's frames, in the order of its table.
pub trait TableSink: Sync {
    /// The next frame of `level`'s table. Frames of different levels can come at the same time
    /// from different threads; those of one level come one at a time, in order.
    ///
    /// # Errors
    /// Whatever stops the computation (it ends with this error).
    fn frame(&self, level: Level, frame: DataFrame) -> PolarsResult<()>;
}

/// A [`TableSink`] that stacks the frames into [`IndexTables`].
#[derive(Default)]
pub(super) struct Stacked(pub(super) std::sync::Mutex<[Option<DataFrame>; 4]>);

impl TableSink for Stacked {
    fn frame(&self, level: Level, frame: DataFrame) -> PolarsResult<()> {
        let mut tables = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match &mut tables[level as usize] {
            Some(table) => {
                table.vstack_mut_owned(frame)?;
            }
            none => *none = Some(frame),
        }
        Ok(())
    }
}

/// Hands the frames of each level to a sink in their order, as the tasks that make them end
/// in any order: a frame waits until the ones before it are passed on, and the thread that
/// passes one on also passes on those that came while it did.
pub(super) struct InOrder<'s> {
    pub(super) sink: &'s dyn TableSink,
    pub(super) queues: [std::sync::Mutex<Queue>; 4],
}

/// The frames of one level on their way to the sink.
#[derive(Default)]
pub(super) struct Queue {
    /// The position of the next frame to pass on.
    pub(super) next: usize,
    /// Frames that came before their turn.
    pub(super) waiting: BTreeMap<usize, DataFrame>,
    /// A thread is passing frames on.
    pub(super) busy: bool,
    /// The sink refused a frame: the computation ends with that error, and the frames after it
    /// are dropped.
    pub(super) failed: bool,
}

impl InOrder<'_> {
    pub(super) fn put(&self, level: Level, at: usize, frame: DataFrame) -> PolarsResult<()> {
        let queue = &self.queues[level as usize];
        let lock = || {
            queue
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        let mut q = lock();
        if q.failed {
            return Ok(());
        }
        q.waiting.insert(at, frame);
        if q.busy {
            return Ok(());
        }
        q.busy = true;
        loop {
            let next = q.next;
            let Some(frame) = q.waiting.remove(&next) else {
                q.busy = false;
                return Ok(());
            };
            q.next += 1;
            drop(q);
            let passed = self.sink.frame(level, frame);
            q = lock();
            if passed.is_err() {
                (q.busy, q.failed) = (false, true);
                q.waiting.clear();
                return passed;
            }
        }
    }

    /// Frames that never got their turn (one before them never came).
    pub(super) fn left(&self) -> usize {
        self.queues
            .iter()
            .map(|q| q.lock().map_or(0, |q| q.waiting.len()))
            .sum()
    }
}
