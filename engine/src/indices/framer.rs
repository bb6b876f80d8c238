//! The aggregation's frames made from its parts and passed on to their tables, each at its
//! place.

use polars::prelude::*;

use super::config::IndexConfig;
use super::sink::{InOrder, TableSink};
use super::{aggregate, frames, Level, Window};

/// What the aggregation's tasks need to make their frames and pass them on.
pub(super) struct Framer<'a, 's, S: TableSink> {
    pub windows: &'a [Window],
    /// The dimensions' names.
    pub dims: [&'static str; 3],
    /// The names of each dimension's values.
    pub values: &'a [StringChunked],
    pub cfg: &'a IndexConfig,
    pub out: &'a InOrder<'s, S>,
}

impl<S: TableSink> Framer<'_, '_, S> {
    /// Where a frame goes: the table of level `l`, at its place there. A parcel frame is one
    /// dimension and window (by dimension, then window); the frames of a sector or cell task
    /// are passed on as one, a level's (a resolution's: by resolution), each small.
    fn place(&self, l: usize, d: usize, w: usize) -> (Level, usize) {
        match l {
            0 => (Level::Parcel, d * self.windows.len() + w),
            1 => (Level::Sector, 0),
            _ => (Level::H3, l - 2),
        }
    }

    /// The frames of level `l`'s `parts` (per dimension of `ds`, per window), made and passed
    /// on in parallel: each its own (parcels), or stacked in the order of the table (the
    /// sectors, the cells of a resolution), so that each becomes row groups of some size.
    pub fn pass(
        &self,
        l: usize,
        features: &frames::Features,
        ds: &[usize],
        parts: Vec<Vec<aggregate::Part>>,
    ) -> PolarsResult<()> {
        use rayon::prelude::*;
        let frame = |d: usize, w: usize, part: aggregate::Part| {
            let at = frames::Place {
                window: &self.windows[w].label,
                dimension: self.dims[d],
                values: &self.values[d],
            };
            frames::frame(part, features, &at, self.cfg.min_reports, &self.cfg.weights)
        };
        let parts: Vec<(usize, usize, aggregate::Part)> = parts
            .into_iter()
            .zip(ds)
            .flat_map(|(parts, d)| parts.into_iter().enumerate().map(move |(w, p)| (*d, w, p)))
            .collect();
        if l == 0 {
            return parts.into_par_iter().try_for_each(|(d, w, part)| {
                let (level, at) = self.place(l, d, w);
                self.out.put(level, at, frame(d, w, part)?)
            });
        }
        let frames: Vec<DataFrame> = parts
            .into_par_iter()
            .map(|(d, w, part)| frame(d, w, part))
            .collect::<PolarsResult<_>>()?;
        let mut frames = frames.into_iter();
        let mut stacked = frames.next().unwrap_or_default();
        for f in frames {
            stacked.vstack_mut_owned(f)?;
        }
        let (level, at) = self.place(l, 0, 0);
        self.out.put(level, at, stacked)
    }
}
