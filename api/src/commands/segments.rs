//! `predio segments`: k-means++ segments of sectors or parcels by their indices.

use anyhow::Context as _;
use polars::prelude::*;
use predio_engine::indices::{self, Dimension, Level, Selection};
use predio_engine::segments::{
    choose_k, describe, kmeans, standardise, Segmentation, SegmentsMeta,
};
use predio_engine::{CatalogStore, Change, Table};

use super::compute::{current, indices_meta};
use super::table::{f64_column, format_of, pick_window, string_column, write_out};
use crate::cli::{SegmentLevel, SegmentsArgs};

/// `predio segments`.
#[allow(clippy::print_stdout)] // the table is this command's output
pub fn run(catalog: &dyn CatalogStore, args: &SegmentsArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        (2..=args.k_max).contains(&args.k_min),
        "--k-min {} and --k-max {}: 2 <= k-min <= k-max",
        args.k_min,
        args.k_max
    );
    // a bad --out is refused before any work
    if let Some(out) = &args.out {
        format_of(out)?;
    }
    let manifest = current(catalog)?;
    let meta = indices_meta(&manifest)?;
    let window = pick_window(meta, args.window.as_deref())?;
    let (level, id_col) = match args.level {
        SegmentLevel::Sector => (Level::Sector, "sector_id"),
        SegmentLevel::Parcel => (Level::Parcel, "parcel_id"),
    };
    let table = catalog
        .indices(&manifest, level)?
        .context("indices table missing: run predio compute")?;
    let rows = indices::select(
        &table,
        &Selection {
            window: window.clone(),
            dimension: Dimension::All,
            res: None,
        },
    )?;
    let ids = string_column(&rows, id_col)?;
    let keep: Vec<usize> = (0..ids.len()).filter(|i| ids[*i].is_some()).collect();
    anyhow::ensure!(
        keep.len() >= 3,
        "{} features: too few to segment",
        keep.len()
    );
    let matrix = feature_matrix(&rows, &keep, &args.fields, id_col)?;
    let x = standardise(&matrix);
    let seg = match args.k {
        Some(k) => {
            anyhow::ensure!(k >= 1 && k < x.len(), "--k {k}: 1 to {}", x.len() - 1);
            kmeans(&x, k, args.seed)
        }
        None => choose_k(&x, args.k_min..=args.k_max, args.seed),
    };
    let fields: Vec<&str> = args.fields.iter().map(String::as_str).collect();
    let words: Vec<String> = seg.centroids.iter().map(|c| describe(c, &fields)).collect();
    print_segments(&seg, &words, level, &window, args.seed);
    let table = Table::from_frame(df!(
        id_col => keep.iter().map(|i| ids[*i].clone()).collect::<Vec<_>>(),
        "segment" => seg.labels.iter().map(|l| *l as u32).collect::<Vec<_>>(),
        "description" => seg.labels.iter().map(|l| words[*l].clone()).collect::<Vec<_>>(),
    )?);
    if let Some(out) = &args.out {
        let n = write_out(catalog, &manifest, &table, level, out)?;
        eprintln!("wrote {n} rows to {}", out.display());
    }
    if args.save {
        let meta = SegmentsMeta {
            window: window.clone(),
            fields: args.fields.clone(),
            seed: args.seed,
            k: seg.k,
            silhouette: seg.silhouette,
            sizes: seg.sizes.clone(),
            descriptions: words,
            indices_as_of: meta.as_of,
        };
        let committed = catalog.commit(Change {
            operation: format!("segments {}", level.as_str()),
            segments: Some((level, table, meta)),
            ..Default::default()
        })?;
        eprintln!(
            "saved as {}: the {} tiles carry segment and segment_desc",
            committed.version,
            if level == Level::Sector {
                "sectors"
            } else {
                "parcels"
            }
        );
    }
    Ok(())
}

/// The rows `keep` of `rows` by the numeric columns `fields`: an undefined value (a rate with no
/// reports answered) counts as its column's mean, so its z-score is 0.
fn feature_matrix(
    rows: &Table,
    keep: &[usize],
    fields: &[String],
    id_col: &str,
) -> anyhow::Result<Vec<Vec<f64>>> {
    let mut columns = Vec::new();
    for f in fields {
        let v = f64_column(rows, f)
            .with_context(|| format!("--fields {f}: a numeric column of the {id_col} table"))?;
        let present: Vec<f64> = keep
            .iter()
            .filter_map(|i| v[*i])
            .filter(|x| x.is_finite())
            .collect();
        // an undefined rate (no reports answered) counts as the column's mean: z = 0
        let mean = if present.is_empty() {
            0.0
        } else {
            present.iter().sum::<f64>() / present.len() as f64
        };
        columns.push(
            keep.iter()
                .map(|i| v[*i].filter(|x| x.is_finite()).unwrap_or(mean))
                .collect::<Vec<f64>>(),
        );
    }
    let matrix: Vec<Vec<f64>> = (0..keep.len())
        .map(|r| columns.iter().map(|c| c[r]).collect())
        .collect();
    Ok(matrix)
}

/// The segmentation as `predio segments` prints it: the summary line, then each segment.
#[allow(clippy::print_stdout)] // the table is this command's output
fn print_segments(seg: &Segmentation, words: &[String], level: Level, window: &str, seed: u64) {
    println!(
        "{} {}s in {} segments (window {window}, seed {}, mean silhouette {:.3}{})",
        seg.labels.len(),
        if level == Level::Sector {
            "sector"
        } else {
            "parcel"
        },
        seg.k,
        seed,
        seg.silhouette,
        if seg.tried.is_empty() {
            String::new()
        } else {
            format!(
                "; k by silhouette: {}",
                seg.tried
                    .iter()
                    .map(|(k, s)| format!("{k}: {s:.3}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    );
    for (i, w) in words.iter().enumerate() {
        println!("  segment {i}: {:>6} — {w}", seg.sizes[i]);
    }
}
