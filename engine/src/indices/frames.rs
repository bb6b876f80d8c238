//! The aggregates of a level, window and dimension made into a Polars frame of the table's
//! columns, its key and name columns gathered by code.

use polars::prelude::*;
use polars_arrow::bitmap::Bitmap;

use super::aggregate::*;
use super::attention::*;
use super::config::Weights;
use super::schema;

/// A column of names by 1-based key: row 0 is missing (no feature, no value), row `k` is the
/// name of key `k`. A frame's column is gathered from it by key, string views copied rather
/// than each string pushed again.
pub(super) fn by_key<'s>(name: &str, names: impl Iterator<Item = &'s str>) -> StringChunked {
    StringChunked::from_iter_options(name.into(), std::iter::once(None).chain(names.map(Some)))
}

/// The rows `keys` of a [`by_key`] column, with no validity mask when none is missing (it
/// would be written, a bit per row, for nothing).
pub(super) fn gather(names: &StringChunked, keys: &IdxCa) -> PolarsResult<Column> {
    let taken = names.take(keys)?;
    let taken = if taken.null_count() == 0 {
        let arrays: Vec<_> = taken
            .downcast_iter()
            .map(|a| a.clone().with_validity(None))
            .collect();
        StringChunked::from_chunk_iter(taken.name().clone(), arrays)
    } else {
        taken
    };
    Ok(taken.into_column())
}

/// What a level's table says of its features, by their 1-based key.
pub(super) struct Features {
    /// The key columns of the level ([`by_key`]; e.g. `parcel_id`; `sector_id` and `name`;
    /// `cell`).
    pub names: Vec<StringChunked>,
    /// Each feature's area in km² (NaN when unknown).
    pub area_km2: Vec<f64>,
    /// Each feature's population (sectors), when the level has one.
    pub population: Option<Vec<Option<f64>>>,
    /// The H3 resolution of a cell table.
    pub res: Option<i32>,
}

/// Where a [`Part`] sits: its window's label and its dimension's name and values.
pub(super) struct Place<'a> {
    pub window: &'a str,
    pub dimension: &'a str,
    /// Names of the dimension codes ([`by_key`]: code `c` is row `c`, code 0 missing).
    pub values: &'a StringChunked,
}

/// A column of `value` on each of its `n` rows, held as the one value.
fn constant(name: &str, value: &str, n: usize) -> Column {
    Column::new_scalar(
        name.into(),
        Scalar::new(DataType::String, AnyValue::StringOwned(value.into())),
        n,
    )
}

pub(super) fn u32s(name: &str, v: Vec<u32>) -> Column {
    UInt32Chunked::from_vec(name.into(), v)
        .into_series()
        .into_column()
}

/// A nullable column from options, through a trusted-length collect (values and validity in
/// one pass) rather than a builder.
pub(super) fn opt<T: PolarsNumericType>(name: &str, v: &[Option<T::Native>]) -> Column
where
    ChunkedArray<T>: IntoSeries,
{
    let ca: ChunkedArray<T> = v.iter().copied().collect_ca_trusted(name.into());
    ca.into_series().into_column()
}

/// `a / b` where `b > 0`, else `None`.
pub(super) fn ratio(a: f64, b: Option<f64>) -> Option<f64> {
    b.filter(|b| *b > 0.0).map(|b| a / b)
}

/// `a / b` where `b > 0`, else NaN (missing).
pub(super) fn nan_ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        f64::NAN
    }
}

/// A column of `values` that are missing where `valid` is false (no mask when none is): the
/// vector becomes the column's buffer.
pub(super) fn masked<T: PolarsNumericType>(
    name: &str,
    values: Vec<T::Native>,
    valid: impl Fn(&T::Native) -> bool,
) -> Column
where
    ChunkedArray<T>: IntoSeries,
{
    let mask = (!values.iter().all(&valid))
        .then(|| polars_arrow::bitmap::Bitmap::from_iter(values.iter().map(valid)));
    ChunkedArray::<T>::from_vec_validity(name.into(), values, mask)
        .into_series()
        .into_column()
}

/// A float column whose NaNs are missing.
pub(super) fn nan_null(name: &str, values: Vec<f64>) -> Column {
    masked::<Float64Type>(name, values, |v| !v.is_nan())
}

/// The columns that say where the rows of a [`Part`] are: the feature's key columns, the
/// window, the dimension and its value.
fn place_columns(part: &Part, f: &Features, at: &Place<'_>) -> PolarsResult<Vec<Column>> {
    let n = part.len();
    let mut cols: Vec<Column> = Vec::with_capacity(40);
    // The window, the dimension (the cells' resolution, and the value of `all`) are the same on
    // every row: constant columns, made into values only a row group at a time as the table is
    // written.
    if let Some(res) = f.res {
        cols.push(Column::new_scalar(
            schema::key::RES.into(),
            Scalar::new(DataType::Int32, AnyValue::Int32(res)),
            n,
        ));
    }
    let keys = IdxCa::from_slice(PlSmallStr::EMPTY, &part.key);
    for names in &f.names {
        cols.push(gather(names, &keys)?);
    }
    cols.push(constant(schema::key::WINDOW, at.window, n));
    cols.push(constant(schema::key::DIMENSION, at.dimension, n));
    if part.code.iter().all(|c| *c == 0) {
        cols.push(Column::full_null(
            at.values.name().clone(),
            n,
            &DataType::String,
        ));
    } else {
        let codes = IdxCa::from_slice(PlSmallStr::EMPTY, &part.code);
        cols.push(gather(at.values, &codes)?);
    }
    Ok(cols)
}

/// The finished table rows of a [`Part`]: keys, window, dimension, value, the aggregates with
/// their ratios, area, density (and population) and attention, in the tables' column order.
pub(super) fn frame(
    part: Part,
    f: &Features,
    at: &Place<'_>,
    min_reports: u32,
    weights: &Weights,
) -> PolarsResult<DataFrame> {
    let n = part.len();
    let feature = |k: u32| (k as usize).checked_sub(1);
    let mut cols = place_columns(&part, f, at)?;
    let [received, open, _, _, _, answered, on_time, _, _, _, overdue, _, _, _, _, reopened, with_history, recurrent] =
        &part.counts;
    let share = |a: &[u32], b: &[u32]| -> Vec<f64> {
        a.iter()
            .zip(b)
            .map(|(a, b)| nan_ratio(f64::from(*a), f64::from(*b)))
            .collect()
    };
    let compliance = share(on_time, answered);
    let reopen_rate = share(reopened, with_history);
    let trend: Vec<f64> = match &part.prev {
        Some(prev) => share(received, prev),
        None => vec![f64::NAN; n],
    };
    // NaN where the area is unknown (kept: it is not missing), 0 without a feature (masked).
    let area: Vec<f64> = part
        .key
        .iter()
        .map(|k| feature(*k).map_or(0.0, |i| f.area_km2[i]))
        .collect();
    let density: Vec<f64> = received
        .iter()
        .zip(&area)
        .map(|(r, a)| nan_ratio(f64::from(*r), *a))
        .collect();
    let counts = AttentionCounts {
        received,
        open,
        overdue,
        answered,
        on_time,
        recurrent,
    };
    let attention = counts.column(weights, &density, &part.code, &trend, min_reports);
    let population = populations(f, &part.key, received);
    let with_feature: Vec<bool> = part.key.iter().map(|k| *k > 0).collect();
    let Part {
        counts,
        mut oldest_open_bd,
        quantiles,
        prev,
        ..
    } = part;
    let mut quantiles = quantiles.into_iter();
    let (mut compliance, mut reopen_rate) = (Some(compliance), Some(reopen_rate));
    for (name, values) in COUNTS.iter().zip(counts) {
        cols.push(u32s(name, values));
        match *name {
            schema::ANSWERED_ON_TIME => {
                cols.push(nan_null(
                    schema::COMPLIANCE,
                    compliance.take().unwrap_or_default(),
                ));
            }
            schema::OVERDUE_OVER_20 => {
                let oldest = std::mem::take(&mut oldest_open_bd);
                cols.push(masked::<Int64Type>(schema::OLDEST_OPEN_BD, oldest, |v| {
                    *v != NO_OPEN
                }));
                for q in QUANTILES {
                    cols.push(nan_null(q, quantiles.next().unwrap_or_default()));
                }
            }
            schema::WITH_HISTORY => {
                cols.push(nan_null(
                    schema::REOPEN_RATE,
                    reopen_rate.take().unwrap_or_default(),
                ));
            }
            _ => {}
        }
    }
    cols.push(match prev {
        Some(prev) => u32s(schema::PREV_RECEIVED, prev),
        None => UInt32Chunked::full_null(schema::PREV_RECEIVED.into(), n)
            .into_series()
            .into_column(),
    });
    cols.push(nan_null(schema::TREND, trend));
    let with_area = Bitmap::from_iter(with_feature.iter().copied());
    let all_with_area = with_area.unset_bits() == 0;
    cols.push(
        Float64Chunked::from_vec_validity(
            schema::AREA_KM2.into(),
            area,
            (!all_with_area).then_some(with_area),
        )
        .into_series()
        .into_column(),
    );
    cols.push(nan_null(schema::DENSITY_KM2, density));
    if let Some((pop, per)) = population {
        cols.push(opt::<Float64Type>(schema::POPULATION, &pop));
        cols.push(opt::<Float64Type>(schema::PER_1000, &per));
    }
    cols.push(nan_null(schema::ATTENTION, attention));
    DataFrame::new(n, cols)
}

/// Each row's population and its reports per 1,000 inhabitants.
type Populations = (Vec<Option<f64>>, Vec<Option<f64>>);

/// Each row's population and reports per 1,000 inhabitants, where the level has populations
/// (sectors).
fn populations(f: &Features, key: &[u32], received: &[u32]) -> Option<Populations> {
    let pop = f.population.as_ref()?;
    let of = |k: u32| (k as usize).checked_sub(1).and_then(|i| pop[i]);
    let population: Vec<Option<f64>> = key.iter().map(|k| of(*k)).collect();
    let per_1000 = key
        .iter()
        .zip(received)
        .map(|(k, r)| ratio(f64::from(*r), of(*k)).map(|x| x * 1000.0))
        .collect();
    Some((population, per_1000))
}
