//! Reports as Parquet: `reports.parquet` (one row per report, public columns only) and
//! `report_history.parquet` (one row per status change). Times are UTC milliseconds.

use std::fs::File;
use std::path::Path;

use polars::prelude::*;

use super::tables::{pl_err, read_frame, write_frame, write_frame_with_mode};
use crate::error::{Error, Result};
use crate::model::{CellId, ParcelId, ReportId, SectorId};
use crate::report::columns::{ReportColumns, INDEX_COLUMNS};
use crate::report::frame::{from_ms, reports_frame, text, times};
use crate::report::{Location, MatchKind, PrivateFields, Report, Status, StatusChange, StatusType};

/// Writes `reports.parquet` and `report_history.parquet` into `dir` (fsynced).
///
/// # Errors
/// I/O and encoding errors naming the file.
pub fn write_reports(dir: &Path, reports: &[Report]) -> Result<()> {
    let path = dir.join("reports.parquet");
    let df = reports_frame(reports).map_err(pl_err(&path))?;
    write_frame(&path, &df)?;
    let hpath = dir.join("report_history.parquet");
    let rows: Vec<(&str, &StatusChange)> = reports
        .iter()
        .flat_map(|r| r.history.iter().map(move |h| (r.id.as_str(), h)))
        .collect();
    let history = DataFrame::new(
        rows.len(),
        vec![
            text("report_id", rows.iter().map(|(id, _)| Some(*id))),
            times(
                "at",
                rows.iter()
                    .map(|(_, h)| Some(h.at.timestamp_millis()))
                    .collect(),
            )
            .map_err(pl_err(&hpath))?,
            text("status", rows.iter().map(|(_, h)| Some(h.status.as_str()))),
            text("label", rows.iter().map(|(_, h)| Some(h.label.as_str()))),
        ],
    )
    .map_err(pl_err(&hpath))?;
    write_frame(&hpath, &history)
}

/// Writes the personal fields kept with `--keep-private` to `path`, one row per (report id,
/// field, value), readable by its owner only. Public outputs never read this file.
///
/// # Errors
/// I/O and encoding errors naming the file.
pub fn write_private(path: &Path, private: &[PrivateFields]) -> Result<()> {
    let rows: Vec<(&str, &str, &str)> = private
        .iter()
        .flat_map(|p| {
            p.values
                .iter()
                .map(move |(k, v)| (p.id.as_str(), k.as_str(), v.as_str()))
        })
        .collect();
    let df = DataFrame::new(
        rows.len(),
        vec![
            text("report_id", rows.iter().map(|r| Some(r.0))),
            text("field", rows.iter().map(|r| Some(r.1))),
            text("value", rows.iter().map(|r| Some(r.2))),
        ],
    )
    .map_err(pl_err(path))?;
    // Created readable by its owner only, never readable by others even for a moment; an
    // existing file keeps its mode when truncated, hence the permissions set after.
    write_frame_with_mode(path, &df, 0o600)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(Error::io(path))?;
    }
    Ok(())
}

/// Reads what [`write_private`] wrote, grouped by report in file order.
///
/// # Errors
/// I/O and decoding errors naming the file.
pub fn read_private(path: &Path) -> Result<Vec<PrivateFields>> {
    let df = read_frame(path)?;
    let e = pl_err(path);
    let (ids, fields, values) = (
        strs(&df, "report_id").map_err(&e)?,
        strs(&df, "field").map_err(&e)?,
        strs(&df, "value").map_err(&e)?,
    );
    let mut out: Vec<PrivateFields> = Vec::new();
    for ((id, f), v) in ids.into_iter().zip(fields).zip(values) {
        let id = ReportId::from(id.unwrap_or_default());
        let pair = (f.unwrap_or_default(), v.unwrap_or_default());
        match out.last_mut() {
            Some(last) if last.id == id => last.values.push(pair),
            _ => out.push(PrivateFields {
                id,
                values: vec![pair],
            }),
        }
    }
    Ok(out)
}

fn strs(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<String>>> {
    Ok(df
        .column(name)?
        .str()?
        .iter()
        .map(|v| v.map(str::to_owned))
        .collect())
}

fn i64s(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<i64>>> {
    Ok(df
        .column(name)?
        .cast(&DataType::Int64)?
        .i64()?
        .iter()
        .collect())
}

fn parse<T: std::str::FromStr<Err = String>>(path: &Path, v: Option<&str>) -> Result<T> {
    v.unwrap_or_default()
        .parse()
        .map_err(|message| Error::Parquet {
            path: path.into(),
            message,
        })
}

/// Reads what the indices need of the reports, as columns, with the number of status changes
/// each has instead of the history, which is much cheaper.
///
/// # Errors
/// I/O and decoding errors naming the file (and the column, and the row of a bad value).
pub fn read_report_columns(dir: &Path) -> Result<ReportColumns> {
    let path = dir.join("reports.parquet");
    let file = File::open(&path).map_err(Error::io(&path))?;
    let columns: Vec<String> = INDEX_COLUMNS.iter().map(|c| (*c).to_owned()).collect();
    let hpath = dir.join("report_history.parquet");
    // The history's ids are read beside the reports. Each column is made one chunk by the
    // reader, the columns side by side (the indices read them by position): one after the
    // other, the string columns' views took a tenth of a second on 1,000,000 reports.
    let (df, history) = rayon::join(
        || {
            ParquetReader::new(file)
                .with_columns(Some(columns))
                .set_rechunk(true)
                .finish()
                .map_err(pl_err(&path))
        },
        || history_ids(&hpath),
    );
    let df = df?;
    let ids = df
        .column("id")
        .and_then(|c| c.str().cloned())
        .map_err(pl_err(&path))?;
    let history = history?;
    // Each report's count of history rows is found beside the columns' conversion.
    let (lens, columns) = rayon::join(
        || history.map(|h| history_counts(&ids, &h)),
        || ReportColumns::from_frame(&df, Vec::new()),
    );
    let columns = columns.map_err(pl_err(&path))?;
    Ok(match lens {
        Some(lens) => columns.with_history_lens(lens),
        None => columns,
    })
}

/// The report ids of the history file's rows, if there is one.
fn history_ids(hpath: &Path) -> Result<Option<StringChunked>> {
    if !hpath.exists() {
        return Ok(None);
    }
    let file = File::open(hpath).map_err(Error::io(hpath))?;
    let h = ParquetReader::new(file)
        .with_columns(Some(vec!["report_id".into()]))
        .finish()
        .map_err(pl_err(hpath))?;
    let ids = h
        .column("report_id")
        .and_then(|c| c.str().cloned())
        .map_err(pl_err(hpath))?;
    Ok(Some(ids))
}

/// Number of history rows (`hids`, their report ids) of each report (`ids`), in the reports'
/// order.
fn history_counts(ids: &StringChunked, hids: &StringChunked) -> Vec<u32> {
    let mut counts = vec![0u32; ids.len()];
    let mut cursor = 0;
    let mut rows = hids.iter().peekable();
    for (i, id) in ids.iter().enumerate() {
        while id.is_some() && rows.peek().is_some_and(|r| *r == id) {
            rows.next();
            counts[i] += 1;
            cursor += 1;
        }
    }
    if cursor < hids.len() {
        // Not in the reports' order: count by id instead.
        let index: std::collections::HashMap<&str, usize> = ids
            .iter()
            .enumerate()
            .filter_map(|(i, id)| id.map(|id| (id, i)))
            .collect();
        counts.iter_mut().for_each(|c| *c = 0);
        for id in hids.iter().flatten() {
            if let Some(i) = index.get(id) {
                counts[*i] += 1;
            }
        }
    }
    counts
}

/// A column of `df` (one chunk); a column that is not there is an error.
fn get<'a, T>(
    df: &'a DataFrame,
    name: &str,
    typed: impl Fn(&'a Series) -> PolarsResult<&'a T>,
) -> PolarsResult<&'a T> {
    typed(df.column(name)?.as_materialized_series())
}

/// Reads the reports written by [`write_reports`] from `dir`.
///
/// # Errors
/// I/O and decoding errors naming the file.
pub fn read_reports(dir: &Path) -> Result<Vec<Report>> {
    use rayon::prelude::*;
    let path = dir.join("reports.parquet");
    let file = File::open(&path).map_err(Error::io(&path))?;
    let mut df = ParquetReader::new(file).finish().map_err(pl_err(&path))?;
    // One chunk per column, times as plain milliseconds.
    for name in [
        "created_at",
        "acknowledged_at",
        "closed_at",
        "reopened_at",
        "deadline_at",
    ] {
        let ms = df
            .column(name)
            .and_then(|c| c.cast(&DataType::Int64))
            .map_err(pl_err(&path))?;
        df.with_column(ms).map_err(pl_err(&path))?;
    }
    df.rechunk_mut_par();
    let e = pl_err(&path);
    let text = |name: &str| get(&df, name, |s| s.str()).map_err(&e);
    let (id, source, category, department, channel) = (
        text("id")?,
        text("source")?,
        text("category")?,
        text("department")?,
        text("channel")?,
    );
    let (status, label, stype, tz, location) = (
        text("status")?,
        text("status_label")?,
        text("status_type")?,
        text("source_tz")?,
        text("location")?,
    );
    let (parcel, sector, matched, area, parent) = (
        text("parcel_id")?,
        text("sector_id")?,
        text("match")?,
        text("source_area")?,
        text("parent_id")?,
    );
    let time = |name: &str| get(&df, name, |s| s.i64()).map_err(&e);
    let (created, ack, closed, reopened, deadline) = (
        time("created_at")?,
        time("acknowledged_at")?,
        time("closed_at")?,
        time("reopened_at")?,
        time("deadline_at")?,
    );
    let on_time = get(&df, "source_on_time", |s| s.bool()).map_err(&e)?;
    let float = |name: &str| get(&df, name, |s| s.f64()).map_err(&e);
    let (lon, lat, dist) = (float("lon")?, float("lat")?, float("distance_m")?);
    // a version written before matches by address has no score column
    let score = match df.column("match_score") {
        Ok(_) => Some(float("match_score")?),
        Err(_) => None,
    };
    let h3 = get(&df, "h3", |s| s.u64()).map_err(&e)?;
    let owned = |c: &StringChunked, i: usize| c.get(i).map(str::to_owned);
    let ms = |c: &Int64Chunked, i: usize| from_ms(c.get(i));
    let mut out: Vec<Report> = (0..df.height())
        .into_par_iter()
        .map(|i| {
            let match_kind = matched
                .get(i)
                .and_then(|m| m.parse::<MatchKind>().ok())
                .unwrap_or(MatchKind::None);
            Ok(Report {
                history: Vec::new(),
                id: id.get(i).map(ReportId::new).unwrap_or_default(),
                source: owned(source, i).unwrap_or_default(),
                category: owned(category, i),
                department: owned(department, i),
                channel: owned(channel, i),
                status: parse::<Status>(&path, status.get(i))?,
                status_label: owned(label, i).unwrap_or_default(),
                status_type: parse::<StatusType>(&path, stype.get(i))?,
                created_at: ms(created, i).unwrap_or_default(),
                acknowledged_at: ms(ack, i),
                closed_at: ms(closed, i),
                reopened_at: ms(reopened, i),
                deadline_at: ms(deadline, i),
                source_on_time: on_time.get(i),
                source_tz: owned(tz, i).unwrap_or_default(),
                lon: lon.get(i),
                lat: lat.get(i),
                location: parse::<Location>(&path, location.get(i))?,
                parcel_id: parcel.get(i).map(ParcelId::new),
                sector_id: sector.get(i).map(SectorId::new),
                match_kind,
                distance_m: dist.get(i),
                match_score: score.and_then(|s| s.get(i)),
                h3: h3.get(i).and_then(CellId::from_index),
                source_area: owned(area, i),
                parent_id: owned(parent, i),
                address: None,
                parcel_ref: None,
            })
        })
        .collect::<Result<_>>()?;

    attach_history(dir, &mut out)?;
    Ok(out)
}

/// Attaches `report_history.parquet` of `dir` (if any) to `out`, each report's changes in their
/// order. The history is written report by report in the reports' order: it is walked with a
/// cursor (a map by id only if a file was written otherwise).
fn attach_history(dir: &Path, out: &mut [Report]) -> Result<()> {
    let mut changes: Vec<(Option<String>, Option<StatusChange>)> = Vec::new();
    let hpath = dir.join("report_history.parquet");
    if hpath.exists() {
        let h = read_frame(&hpath)?;
        let he = pl_err(&hpath);
        let (ids, at, st, lb) = (
            strs(&h, "report_id").map_err(&he)?,
            i64s(&h, "at").map_err(&he)?,
            strs(&h, "status").map_err(&he)?,
            strs(&h, "label").map_err(&he)?,
        );
        changes.reserve(ids.len());
        for (((id, at), st), lb) in ids.into_iter().zip(at).zip(st).zip(lb) {
            let change = StatusChange {
                at: from_ms(at).unwrap_or_default(),
                status: parse(&hpath, st.as_deref())?,
                label: lb.unwrap_or_default(),
            };
            changes.push((id, Some(change)));
        }
    }
    let mut cursor = 0;
    for r in out.iter_mut() {
        while cursor < changes.len() && changes[cursor].0.as_deref() == Some(r.id.as_str()) {
            r.history.extend(changes[cursor].1.take());
            cursor += 1;
        }
    }
    if cursor < changes.len() {
        // Not in the reports' order: attach everything by id instead.
        let mut map: std::collections::HashMap<ReportId, Vec<StatusChange>> =
            std::collections::HashMap::new();
        for r in out.iter_mut() {
            for c in r.history.drain(..) {
                map.entry(r.id.clone()).or_default().push(c);
            }
        }
        for (id, c) in changes {
            if let Some(c) = c {
                map.entry(ReportId::from(id.unwrap_or_default()))
                    .or_default()
                    .push(c);
            }
        }
        for r in out.iter_mut() {
            r.history = map.remove(&r.id).unwrap_or_default();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tables::*;
    use chrono::TimeZone as _;
    use chrono::Utc;

    fn report(id: &str, located: bool) -> Report {
        let t = Utc
            .with_ymd_and_hms(2025, 3, 4, 15, 30, 0)
            .single()
            .expect("valid");
        Report {
            id: id.into(),
            source: "csv".into(),
            category: Some("Bache".into()),
            department: None,
            channel: Some("app".into()),
            status: Status::Resolved,
            status_label: "Cerrado sin solución".into(),
            status_type: StatusType::ClosedNotFixed,
            created_at: t,
            acknowledged_at: Some(t + chrono::Duration::hours(3)),
            closed_at: Some(t + chrono::Duration::days(2)),
            reopened_at: None,
            deadline_at: None,
            source_on_time: Some(true),
            source_tz: "America/Costa_Rica".into(),
            lon: located.then_some(-84.1),
            lat: located.then_some(9.93),
            location: if located {
                Location::Located
            } else {
                Location::Missing
            },
            parcel_id: located.then(|| ParcelId::new("10000001-000")),
            sector_id: located.then(|| SectorId::new("B001")),
            match_kind: if located {
                MatchKind::Nearest
            } else {
                MatchKind::None
            },
            distance_m: located.then_some(4.25),
            match_score: (!located).then_some(0.85),
            h3: located.then(|| CellId::from_index(0x0896_61b4_b6a7_ffff).expect("a cell")),
            history: vec![StatusChange {
                at: t,
                status: Status::Open,
                label: "Abierto".into(),
            }],
            source_area: located.then(|| "Distrito 1".into()),
            parent_id: None,
            address: None,
            parcel_ref: None,
        }
    }

    #[test]
    fn reports_round_trip_through_parquet() {
        let dir = tempfile::tempdir().expect("tempdir");
        let reports = vec![report("R-1", true), report("R-2", false)];
        write_reports(dir.path(), &reports).expect("write");
        assert_eq!(read_reports(dir.path()).expect("read"), reports);
        // For the indices: the columns they use, with the history's lengths.
        let lean = read_report_columns(dir.path()).expect("lean read");
        assert_eq!(
            (lean.len(), lean.history_len(0), lean.history_len(1)),
            (2, 1, 1)
        );
        assert_eq!(
            (lean.parcel_id(0), lean.h3(0), lean.status_type(0)),
            (
                Some("10000001-000"),
                reports[0].h3.map(u64::from),
                StatusType::ClosedNotFixed
            )
        );
        assert_eq!(
            (lean.parcel_id(1), lean.lon_lat(1), lean.id(1)),
            (None, None, "R-2")
        );
    }

    #[cfg(unix)]
    #[test]
    fn the_private_fields_file_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("private.parquet");
        let private = [PrivateFields {
            id: "R-1".into(),
            values: vec![("email".into(), "vecina@example.org".into())],
        }];
        // New, and over a file that was readable by everyone.
        for _ in 0..2 {
            write_private(&path, &private).expect("write");
            let mode = std::fs::metadata(&path)
                .expect("metadata")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        }
        let back = read_frame(&path).expect("read");
        assert_eq!(back.height(), 1);
    }

    #[test]
    fn a_missing_column_is_an_error_naming_the_file_and_column() {
        let dir = tempfile::tempdir().expect("tempdir");
        write_reports(dir.path(), &[report("R-1", true)]).expect("write");
        let path = dir.path().join("reports.parquet");
        for column in ["parcel_id", "channel"] {
            let df = read_frame(&path).expect("read").drop(column).expect("drop");
            write_frame(&path, &df).expect("rewrite");
            let full = read_reports(dir.path()).expect_err("full read").to_string();
            assert!(
                full.contains("reports.parquet") && full.contains(column),
                "{full}"
            );
            // The indices need the parcel, not the channel.
            let lean = read_report_columns(dir.path());
            if column == "parcel_id" {
                let e = lean.expect_err("lean read").to_string();
                assert!(e.contains("reports.parquet") && e.contains(column), "{e}");
            } else {
                assert!(lean.is_ok());
            }
            write_reports(dir.path(), &[report("R-1", true)]).expect("restore");
        }
        // A status that is not one of predio's, in the second report.
        write_reports(dir.path(), &[report("R-1", true), report("R-2", true)]).expect("write");
        let mut df = read_frame(&path).expect("read");
        let status = Series::new("status".into(), ["resolved", "resuelto"]);
        df.with_column(status.into_column()).expect("status");
        write_frame(&path, &df).expect("rewrite");
        let e = read_report_columns(dir.path())
            .expect_err("bad status")
            .to_string();
        assert!(
            e.contains("reports.parquet") && e.contains("column status, row 2"),
            "{e}"
        );
    }

    #[test]
    fn a_table_file_is_synced_while_written_every_sync_every_bytes() {
        use std::io::Write as _;
        let dir = tempfile::tempdir().expect("tempdir");
        let file = File::create(dir.path().join("t")).expect("create");
        for (written, syncs) in [(SYNC_EVERY - 1, 0..=0), (2 * SYNC_EVERY + 10, 1..=2)] {
            let (sync, syncer) = syncer(file.try_clone().expect("clone"));
            let mut out = Hashing {
                inner: Vec::new(),
                hasher: <sha2::Sha256 as sha2::Digest>::new(),
                bytes: 0,
                unsynced: 0,
                sync,
            };
            let chunk = vec![7u8; 1 << 20];
            let mut left = written;
            while left > 0 {
                let n = left.min(chunk.len() as u64) as usize;
                out.write_all(&chunk[..n]).expect("write");
                left -= n as u64;
            }
            assert_eq!(out.bytes, written);
            drop(out);
            let done = syncer.join().expect("thread").expect("synced");
            // Asked once per SYNC_EVERY bytes; a request made while one is pending is merged.
            assert!(syncs.contains(&done), "{written} bytes: {done} syncs");
        }
    }
}
