//! The aggregation's frames made from its parts and passed on to their tables, each at its
//! place.

use polars::prelude::*;

use super::config::IndexConfig;
use super::sink::InOrder;
use super::{aggregate, frames, Level, Window};

/// What the aggregation's tasks need to make their frames and pass them on.
pub(super) struct Framer<'a, 's> {
    pub windows: &'a [Window],
    /// The dimensions' names.
    pub dims: [&'static str; 3],
    /// The names of each dimension's values.
    pub values: &'a [StringChunked],
    pub cfg: &'a IndexConfig,
    pub out: &'a InOrder<'s>,
}

impl Framer<'_, '_> {
    /// Where a frame goes: the table of level `l`, at its place there (by resolution, then
    /// dimension, then window).
    fn place(&self, l: usize, d: usize, w: usize) -> (Level, usize) {
        let at = d * self.windows.len() + w;
        match l {
            0 => (Level::Parcel, at),
            1 => (Level::Sector, at),
            _ => (
                Level::H3,
                (l - 2) * self.dims.len() * self.windows.len() + at,
            ),
        }
    }

    /// The frames of level `l`'s `parts` (per dimension of `ds`, per window), made and passed
    /// on in parallel.
    pub fn pass(
        &self,
        l: usize,
        features: &frames::Features,
        ds: &[usize],
        parts: Vec<Vec<aggregate::Part>>,
    ) -> PolarsResult<()> {
        use rayon::prelude::*;
        parts
            .into_par_iter()
            .zip(ds.par_iter())
            .try_for_each(|(parts, d)| {
                parts
                    .into_par_iter()
                    .zip(self.windows.par_iter())
                    .enumerate()
                    .try_for_each(|(w, (part, window))| {
                        let at = frames::Place {
                            window: &window.label,
                            dimension: self.dims[*d],
                            values: &self.values[*d],
                        };
                        let frame = frames::frame(
                            part,
                            features,
                            &at,
                            self.cfg.min_reports,
                            &self.cfg.weights,
                        )?;
                        let (level, at) = self.place(l, *d, w);
                        self.out.put(level, at, frame)
                    })
            })
    }
}
