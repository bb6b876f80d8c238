//! Where the indices tables go as they are computed: a sink of frames, level by level, and
//! the queue that hands a level's frames on in their order whatever order the tasks end in.

use std::collections::BTreeMap;

use polars::prelude::*;

use super::Level;

/// Where [`compute_into`] puts the tables: each level's frames, in the order of its table.
///
/// A frame is first made ready ([`TableSink::ready`]: a store encodes it) by the task that made
/// it, as soon as it is made, whatever its place; then passed on in its table's order
/// ([`TableSink::frame`]). What waits for its turn is the ready frame, not the frame.
pub trait TableSink: Sync {
    /// A frame made ready to be passed on.
    type Ready: Send;

    /// `frame` of `level`'s table made ready to be passed on. Called from any thread, for
    /// frames of any level and place, side by side.
    ///
    /// # Errors
    /// Whatever stops the computation (it ends with this error).
    fn ready(&self, level: Level, frame: DataFrame) -> PolarsResult<Self::Ready>;

    /// The next frame of `level`'s table. Frames of different levels can come at the same time
    /// from different threads; those of one level come one at a time, in order.
    ///
    /// # Errors
    /// Whatever stops the computation (it ends with this error).
    fn frame(&self, level: Level, frame: Self::Ready) -> PolarsResult<()>;
}

/// A [`TableSink`] that stacks the frames into [`IndexTables`].
#[derive(Default)]
pub(super) struct Stacked(pub(super) std::sync::Mutex<[Option<DataFrame>; 4]>);

impl TableSink for Stacked {
    type Ready = DataFrame;

    fn ready(&self, _level: Level, frame: DataFrame) -> PolarsResult<DataFrame> {
        Ok(frame)
    }

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
pub(super) struct InOrder<'s, S: TableSink> {
    pub(super) sink: &'s S,
    pub(super) queues: [std::sync::Mutex<Queue<S::Ready>>; 4],
}

/// The frames of one level on their way to the sink.
pub(super) struct Queue<F> {
    /// The position of the next frame to pass on.
    pub(super) next: usize,
    /// Frames (made ready) that came before their turn.
    pub(super) waiting: BTreeMap<usize, F>,
    /// A thread is passing frames on.
    pub(super) busy: bool,
    /// The sink refused a frame: the computation ends with that error, and the frames after it
    /// are dropped.
    pub(super) failed: bool,
}

impl<F> Default for Queue<F> {
    fn default() -> Self {
        Queue {
            next: 0,
            waiting: BTreeMap::new(),
            busy: false,
            failed: false,
        }
    }
}

impl<'s, S: TableSink> InOrder<'s, S> {
    /// An empty queue per level into `sink`.
    pub(super) fn new(sink: &'s S) -> Self {
        InOrder {
            sink,
            queues: Default::default(),
        }
    }

    /// Makes `frame` ready (on this thread) and passes it on as the frame at `at` of `level`'s
    /// table when its turn comes: now, or when the frame before it is passed on.
    pub(super) fn put(&self, level: Level, at: usize, frame: DataFrame) -> PolarsResult<()> {
        if self.failed(level) {
            return Ok(());
        }
        let frame = self.sink.ready(level, frame)?;
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

    fn failed(&self, level: Level) -> bool {
        self.queues[level as usize].lock().is_ok_and(|q| q.failed)
    }

    /// Frames that never got their turn (one before them never came).
    pub(super) fn left(&self) -> usize {
        self.queues
            .iter()
            .map(|q| q.lock().map_or(0, |q| q.waiting.len()))
            .sum()
    }
}
