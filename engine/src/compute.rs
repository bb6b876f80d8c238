//! The compute use case: the indices of the current version, computed and committed as a new
//! version (what `predio compute` does).
//!
//! The new version is staged before the current one is read: the catalog's lock is held from
//! then on, so no other writer lands a version between the one the indices are computed from
//! and the one they are committed onto. Each table is written into the staged version as its
//! frames are made; the reports and the cadastre are read side by side.

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{DateTime, Utc};

use std::sync::{Mutex, PoisonError};

use polars::prelude::{polars_err, DataFrame, PolarsResult};

use crate::error::{Error, Result};
use crate::indices::{
    self, ConfigSource, IndexConfig, IndicesMeta, Level, Scope, TableSink, Window,
};
use crate::model::{ParcelKey, SectorLayer};
use crate::store::{CatalogStore, Change, EncodedRows, Manifest, NewVersion};
use crate::table::Table;
use crate::ImportReport;

/// Hands each frame of the computation to the new version, counting the rows of each level.
struct Streamed<'v> {
    version: &'v dyn NewVersion,
    /// The rows of each level that got a frame (a level that got none has no table).
    rows: [Mutex<Option<usize>>; 4],
}

impl TableSink for Streamed<'_> {
    /// The frame encoded for its table, and its rows.
    type Ready = (EncodedRows, usize);

    fn ready(&self, level: Level, frame: DataFrame) -> PolarsResult<Self::Ready> {
        let rows = frame.height();
        self.version
            .encode(level, Table::from_frame(frame))
            .map(|encoded| (encoded, rows))
            .map_err(|e| polars_err!(ComputeError: "{e}"))
    }

    fn frame(&self, level: Level, (encoded, rows): Self::Ready) -> PolarsResult<()> {
        *self.rows[level as usize]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert(0) += rows;
        self.version
            .append_encoded(level, encoded)
            .map_err(|e| polars_err!(ComputeError: "{e}"))
    }
}

/// What to compute: the windows, the H3 resolutions, the as-of time and the rules.
#[derive(Debug, Clone)]
pub struct ComputeRequest {
    /// The windows (at least one).
    pub windows: Vec<Window>,
    /// The H3 resolutions of the cell table.
    pub h3_res: Vec<h3o::Resolution>,
    /// Reports created up to this time count; open, overdue and stages are as of it.
    pub as_of: DateTime<Utc>,
    /// Deadlines, stages, holidays, recurrence and attention.
    pub config: IndexConfig,
    /// The files the rules came from (recorded in the manifest, absolute).
    pub config_source: ConfigSource,
    /// The catalog's time zone: the windows' edges are its local days.
    pub zone: chrono_tz::Tz,
}

/// The cadastre the indices were computed from, handed back to the caller: a process about to
/// end can leave it to the operating system (`std::mem::forget`) rather than free half a
/// million parcel ids one allocation at a time.
#[derive(Debug)]
pub struct Cadastre {
    /// The parcels' keys, if the version has parcels.
    pub parcels: Option<Vec<ParcelKey>>,
    /// The sectors, if the version has sectors.
    pub sectors: Option<SectorLayer>,
}

/// A committed computation.
#[derive(Debug)]
pub struct Computed {
    /// The new version's manifest (its `indices` says what was computed).
    pub manifest: Manifest,
    /// Seconds spent computing the tables and streaming them into the new version (the catalog
    /// read, and the tables' last rows, fsync and commit apart).
    pub compute_seconds: f64,
    /// The cadastre read for it.
    pub cadastre: Cadastre,
}

/// Computes the indices of the current version and commits them as a new version.
///
/// # Errors
/// [`Error::Empty`] for an empty catalog, [`Error::NoReports`] when the current version has no
/// reports, [`Error::Indices`] when the computation fails, and the store's I/O errors; the
/// current version is then left as it was.
pub fn compute_version(catalog: &dyn CatalogStore, request: &ComputeRequest) -> Result<Computed> {
    let staged = catalog.begin()?;
    let manifest = catalog.current()?.ok_or_else(|| Error::Empty {
        path: catalog.location().into(),
    })?;
    let read_started = Instant::now();
    let (reports, cadastre) = std::thread::scope(|s| {
        let cadastre = s.spawn(|| -> Result<Cadastre> {
            let cadastre = Cadastre {
                parcels: catalog.parcel_keys(&manifest)?,
                sectors: catalog.sectors(&manifest)?,
            };
            tracing::debug!(
                seconds = read_started.elapsed().as_secs_f64(),
                "read the cadastre"
            );
            Ok(cadastre)
        });
        let reports = catalog.report_columns(&manifest);
        tracing::debug!(
            seconds = read_started.elapsed().as_secs_f64(),
            "read the reports"
        );
        let cadastre = cadastre.join().unwrap_or_else(|_| {
            Err(Error::Indices {
                message: "reading the cadastre panicked".into(),
            })
        });
        (reports, cadastre)
    });
    let reports = reports?.ok_or_else(|| Error::NoReports {
        path: catalog.location().into(),
    })?;
    let cadastre = cadastre?;
    tracing::info!(
        seconds = read_started.elapsed().as_secs_f64(),
        "read the catalog"
    );

    let started = Instant::now();
    let cfg = &request.config;
    let writer = Streamed {
        version: &*staged,
        rows: Default::default(),
    };
    // The monthly series are computed from the reports' facts, beside the indices.
    let series = |found: &indices::Found<'_>| {
        let t = Instant::now();
        let series = found.monthly_series(request.as_of, request.zone);
        tracing::info!(
            rows = series.as_ref().map_or(0, Table::len),
            seconds = t.elapsed().as_secs_f64(),
            "computed the monthly series"
        );
        series
    };
    let (counts, series) = indices::compute_into(
        reports,
        cadastre.parcels.as_deref(),
        cadastre.sectors.as_ref(),
        Scope {
            zone: request.zone,
            as_of: request.as_of,
            windows: &request.windows,
            h3_res: &request.h3_res,
        },
        cfg,
        &writer,
        series,
    )
    .map_err(|e| Error::Indices {
        message: e.to_string(),
    })?;
    let series = series?;
    let rows: BTreeMap<Level, usize> = Level::ALL
        .into_iter()
        .zip(writer.rows)
        .filter_map(|(level, n)| {
            Some((
                level,
                n.into_inner().unwrap_or_else(PoisonError::into_inner)?,
            ))
        })
        .collect();
    let compute_seconds = started.elapsed().as_secs_f64();
    tracing::info!(
        reports = counts.used,
        seconds = compute_seconds,
        "computed and wrote the indices"
    );

    let meta = indices_meta(request, &counts, rows, &manifest);
    let commit_started = Instant::now();
    let committed = staged.commit(Change {
        operation: "compute".into(),
        indices: Some(meta),
        series: Some(series),
        report: ImportReport::default(),
        ..Default::default()
    })?;
    tracing::debug!(
        seconds = commit_started.elapsed().as_secs_f64(),
        "committed"
    );
    Ok(Computed {
        manifest: committed,
        compute_seconds,
        cadastre,
    })
}

/// What the manifest records of a computation.
fn indices_meta(
    request: &ComputeRequest,
    counts: &indices::FactCounts,
    rows: BTreeMap<Level, usize>,
    manifest: &Manifest,
) -> IndicesMeta {
    IndicesMeta {
        as_of: request.as_of,
        computed_at: Utc::now(),
        windows: request.windows.iter().map(|w| w.label.clone()).collect(),
        h3_resolutions: request.h3_res.iter().map(|r| u8::from(*r)).collect(),
        reports: counts.used,
        after_as_of: counts.after_as_of,
        closed_before_created: counts.closed_before_created,
        without_parcel: counts.without_parcel,
        without_sector: counts.without_sector,
        without_cell: counts.without_cell,
        rows,
        default_rule: request.config.default_rule,
        category_rules: request.config.categories.len(),
        holidays: request.config.calendar.holidays().count(),
        recurrence_days: request.config.recurrence_days,
        min_reports: request.config.min_reports,
        weights: request.config.weights,
        config: request.config_source.clone(),
        reports_sha256: manifest
            .files
            .get("reports.parquet")
            .map(|f| f.sha256.clone()),
    }
}
