//! Parquet writing with every column chunk of a row group encoded and compressed in parallel.
//!
//! Polars' `ParquetWriter` decides dictionary encoding in parallel, but PLAIN pages are encoded
//! and every page compressed lazily, one after the other, as the file is written: on the parcel
//! indices (3.6 M rows × 36 columns) most of the write ran on one core. Here each column chunk
//! is encoded and compressed to its final pages by its own task, with Polars' own page
//! encoders, and the next row group is prepared while the previous one is written.
//!
//! The file is the one Polars writes (same schema metadata, Parquet v1 pages) but for one
//! choice: numbers (integers, floats, times) are written PLAIN and left to the compression.
//! Polars tries a dictionary on every number column after a HyperLogLog estimate of its
//! cardinality, hashing every value. The hours, rates and areas predio stores are near-unique,
//! so for them the estimate was spent for nothing; for the counts the dictionary saved space
//! that Snappy mostly saves too. On the parcel indices this writes in 15 % less CPU time for
//! a file 14 % larger.
//!
//! A string column chunk of few values (a window, a dimension's values, a status) gets a
//! dictionary found from its views ([`view_dictionary`]), without hashing a string. Other
//! strings get Polars' dictionary only where [`Options::string_dictionaries`] is on: it is
//! tried after the same estimate, then built by hashing every value again. The indices tables
//! write their ids PLAIN: they repeat only a few times, and on the parcel indices (3.6 M rows)
//! that took 13 % off the CPU time of the write for a file 3 % larger.

use std::io::Write;

use polars::prelude::*;
use polars_arrow::array::{Array, DictionaryArray, PrimitiveArray, Utf8ViewArray};
use polars_arrow::datatypes::IntegerType;
use polars_parquet::write::{
    array_to_columns, compress, fallible_streaming_iterator, get_dtype_encoding, to_parquet_schema,
    CompressedPage, CompressionOptions, DynIter, DynStreamingIterator, Encoding, FileWriter,
    ParquetType, StatisticsOptions, Version, WriteOptions,
};
use rayon::prelude::*;

/// Rows per row group: Polars' default.
pub(crate) const ROW_GROUP: usize = 512 * 512;

/// Rows per row group of a table read whole (the reports): a file of up to this many rows is
/// one group, so each column is read as one array, not as chunks that must then be copied into
/// one.
pub(crate) const WHOLE_ROW_GROUP: usize = 1 << 20;

/// How a table is written.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    pub compression: CompressionOptions,
    /// Column statistics (min, max, nulls) in each column chunk.
    pub statistics: bool,
    /// Whether string columns get a dictionary when Polars estimates it pays (else PLAIN).
    pub string_dictionaries: bool,
    /// Most rows per row group ([`ROW_GROUP`], [`WHOLE_ROW_GROUP`]).
    pub row_group: usize,
}

/// One row group: per column, per leaf, its compressed pages.
type Group = Vec<Vec<CompressedPage>>;

/// Writes `df` as a Parquet file into `out` and returns the file's size.
///
/// # Errors
/// Encoding errors, and `out`'s I/O errors.
pub(crate) fn write_parquet<W: Write + Send>(
    out: W,
    df: &DataFrame,
    options: Options,
) -> PolarsResult<u64> {
    let mut writer = TableWriter::new(out, df.schema(), options)?;
    writer.write(df)?;
    writer.finish().map(|(_, size)| size)
}

/// A Parquet file written frame by frame: each frame's rows become row groups as it comes, so
/// a table need not be held whole before it is written.
pub(crate) struct TableWriter<W: Write> {
    writer: FileWriter<W>,
    schema: SchemaRef,
    fields: Vec<ParquetType>,
    encodings: Vec<Vec<Encoding>>,
    options: WriteOptions,
    /// Most rows per row group.
    row_group: usize,
    rows: usize,
    /// Frames shorter than a row group, waiting to share one.
    short: Option<DataFrame>,
}

impl<W: Write + Send> TableWriter<W> {
    /// A file of `schema` into `out`.
    ///
    /// # Errors
    /// A schema Parquet cannot hold.
    pub fn new(out: W, schema: &SchemaRef, options: Options) -> PolarsResult<Self> {
        let arrow = schema.to_arrow(CompatLevel::newest());
        let fields = to_parquet_schema(&arrow)?.fields().to_vec();
        let (string_dictionaries, row_group) = (options.string_dictionaries, options.row_group);
        let options = WriteOptions {
            statistics: if options.statistics {
                StatisticsOptions::default()
            } else {
                StatisticsOptions::empty()
            },
            compression: options.compression,
            version: Version::V1,
            data_page_size: None,
        };
        let encodings: Vec<Vec<Encoding>> = arrow
            .iter_values()
            .map(|f| {
                use ArrowDataType as D;
                match f.dtype {
                    D::Int8
                    | D::Int16
                    | D::Int32
                    | D::Int64
                    | D::UInt8
                    | D::UInt16
                    | D::UInt32
                    | D::UInt64
                    | D::Float32
                    | D::Float64
                    | D::Date32
                    | D::Timestamp(..)
                    | D::Duration(_) => vec![Encoding::Plain],
                    D::Utf8View | D::BinaryView if !string_dictionaries => {
                        vec![Encoding::Plain]
                    }
                    ref dtype => get_dtype_encoding(dtype),
                }
            })
            .collect();
        Ok(TableWriter {
            writer: FileWriter::try_new(out, arrow, options)?,
            schema: schema.clone(),
            fields,
            encodings,
            options,
            row_group,
            rows: 0,
            short: None,
        })
    }

    /// Appends the rows of `df`, which has the file's schema: every column chunk of a row
    /// group is encoded and compressed by its own task, and the next row group is encoded while
    /// one is written.
    ///
    /// # Errors
    /// A frame of another schema; encoding and I/O errors.
    pub fn write(&mut self, df: &DataFrame) -> PolarsResult<()> {
        if df.schema() != &self.schema {
            polars_bail!(SchemaMismatch: "a frame of another schema than the table's: {:?}", df.schema());
        }
        self.rows += df.height();
        // Frames shorter than a row group share one while they fit (as a stacked frame's short
        // chunks do): a table of many small frames is not a file of many small groups.
        if let Some(short) = &mut self.short {
            if short.height() + df.height() <= self.row_group {
                short.vstack_mut(df)?;
                return Ok(());
            }
            let short = self.short.take().unwrap_or_default();
            self.write_groups(&short)?;
        }
        if df.height() < self.row_group {
            self.short = Some(df.clone());
            return Ok(());
        }
        self.write_groups(df)
    }

    /// Writes the row groups of `df`.
    fn write_groups(&mut self, df: &DataFrame) -> PolarsResult<()> {
        let groups = row_groups(df, self.row_group);
        let (fields, encodings, options) = (&self.fields, &self.encodings, self.options);
        let encode = |g: usize| -> PolarsResult<Group> {
            let (offset, len) = groups[g];
            let columns = df
                .columns()
                .par_iter()
                .zip(fields)
                .zip(encodings)
                .map(|((column, field), encoding)| {
                    encode_chunk(column, offset, len, field, encoding, options)
                })
                .collect::<PolarsResult<Vec<Vec<Vec<CompressedPage>>>>>()?;
            Ok(columns.into_iter().flatten().collect())
        };
        let writer = &mut self.writer;
        let mut next = (!groups.is_empty()).then(|| encode(0)).transpose()?;
        for (g, (_, rows)) in groups.iter().enumerate() {
            let group = next.take().expect("the row group was encoded");
            // The next row group is encoded while this one is written.
            let (written, encoded) = rayon::join(
                || write_group(writer, *rows as u64, &group),
                || (g + 1 < groups.len()).then(|| encode(g + 1)).transpose(),
            );
            written?;
            next = encoded?;
        }
        Ok(())
    }

    /// Rows given so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Ends the file (its footer) and gives back `out` and the file's size.
    ///
    /// # Errors
    /// `out`'s I/O errors.
    pub fn finish(mut self) -> PolarsResult<(W, u64)> {
        if let Some(short) = self.short.take() {
            self.write_groups(&short)?;
        }
        let size = self.writer.end(None)?;
        Ok((self.writer.into_inner(), size))
    }
}

/// The row groups of `df` (offset, rows): at most `max` rows each. When every column
/// is chunked alike (a table stacked from frames), a chunk longer than a group is cut into
/// equal groups that are slices of its arrays, not copies; shorter chunks share a group while
/// they fit.
fn row_groups(df: &DataFrame, max: usize) -> Vec<(usize, usize)> {
    let lengths =
        |c: &Column| -> Option<Vec<usize>> { c.as_series().map(|s| s.chunk_lengths().collect()) };
    let chunks: Vec<usize> = df
        .columns()
        .iter()
        .find_map(lengths)
        .filter(|first| {
            df.columns()
                .iter()
                .all(|c| lengths(c).is_none_or(|l| l == *first))
        })
        .unwrap_or_else(|| vec![df.height()]);
    let mut groups: Vec<(usize, usize)> = Vec::new();
    let mut offset = 0;
    // Whether the last group may take the next chunk (it is made of whole short chunks).
    let mut open = false;
    for len in chunks.into_iter().filter(|l| *l > 0) {
        match groups.last_mut() {
            Some(last) if open && last.1 + len <= max => last.1 += len,
            _ if len <= max => {
                groups.push((offset, len));
                open = true;
            }
            _ => {
                let parts = len.div_ceil(max);
                for p in 0..parts {
                    let rows = len * (p + 1) / parts - len * p / parts;
                    groups.push((offset + len * p / parts, rows));
                }
                open = false;
            }
        }
        offset += len;
    }
    groups
}

/// The pages of one column in the row group of `len` rows from `offset` (one list per Parquet
/// leaf).
fn encode_chunk(
    column: &Column,
    offset: usize,
    len: usize,
    field: &ParquetType,
    encoding: &[Encoding],
    options: WriteOptions,
) -> PolarsResult<Vec<Vec<CompressedPage>>> {
    let offset = i64::try_from(offset).expect("row offsets fit i64");
    // Sliced before it is materialised: a constant column becomes only this group's values.
    let slice = column.slice(offset, len);
    let series = slice.as_materialized_series().rechunk();
    let array = series.to_arrow(0, CompatLevel::newest());
    let dictionary = array
        .as_any()
        .downcast_ref::<Utf8ViewArray>()
        .and_then(view_dictionary);
    match dictionary {
        Some(d) => array_to_columns(
            d.boxed(),
            field.clone(),
            options,
            &[Encoding::RleDictionary],
        ),
        None => array_to_columns(&array, field.clone(), options, encoding),
    }?
    .into_iter()
    .map(|pages| {
        pages
            .map(|page| Ok(compress(page?, vec![], options.compression)?))
            .collect()
    })
    .collect()
}

/// Most distinct values a string column chunk gets a dictionary for from [`view_dictionary`].
const VIEW_DICTIONARY_MAX: usize = 1 << 10;

/// A dictionary of `array`'s values found by comparing their views, not their strings, when it
/// has at most [`VIEW_DICTIONARY_MAX`] of them (and a value at all).
///
/// A view is the 16 bytes of a string up to 12 bytes long, or its length, prefix and place in
/// a buffer: values taken from a short list (a window, a dimension's values, a status, the
/// reports' categories as read from their own dictionary) repeat their views, and one lookup of
/// 16 bytes per row finds them. Polars' dictionary estimates the cardinality then hashes every
/// string (see the module's note); without a dictionary, Snappy compresses every copy of every
/// string. A column with more values stops at the first one too many: a few thousand lookups.
/// Equal strings under different views (from different buffers) become one entry.
fn view_dictionary(array: &Utf8ViewArray) -> Option<DictionaryArray<u32>> {
    let views = array.views();
    let valid = |i: usize| array.validity().is_none_or(|v| v.get_bit(i));
    let mut index: PlHashMap<u128, u32> = PlHashMap::default();
    // One representative row of each distinct view.
    let mut firsts: Vec<usize> = Vec::new();
    let mut keys: Vec<u32> = Vec::with_capacity(views.len());
    let mut last: Option<(u128, u32)> = None;
    for (i, view) in views.iter().enumerate() {
        if !valid(i) {
            keys.push(0);
            continue;
        }
        let v = view.as_u128();
        let key = match last {
            Some((l, key)) if l == v => key,
            _ => {
                let next = firsts.len() as u32;
                let key = *index.entry(v).or_insert(next);
                if key == next {
                    if firsts.len() == VIEW_DICTIONARY_MAX {
                        return None;
                    }
                    firsts.push(i);
                }
                last = Some((v, key));
                key
            }
        };
        keys.push(key);
    }
    if firsts.is_empty() {
        return None;
    }
    // Equal strings under different views: one entry each.
    let mut by_value: PlHashMap<&str, u32> = PlHashMap::default();
    let mut values: Vec<&str> = Vec::with_capacity(firsts.len());
    let remap: Vec<u32> = firsts
        .iter()
        .map(|&i| {
            let s = array.value(i);
            *by_value.entry(s).or_insert_with(|| {
                values.push(s);
                values.len() as u32 - 1
            })
        })
        .collect();
    if values.len() < firsts.len() {
        keys.iter_mut().for_each(|k| *k = remap[*k as usize]);
    }
    let keys = PrimitiveArray::new(
        ArrowDataType::UInt32,
        keys.into(),
        array.validity().cloned(),
    );
    let values = Utf8ViewArray::from_slice_values(values);
    DictionaryArray::try_new(
        ArrowDataType::Dictionary(
            IntegerType::UInt32,
            Box::new(ArrowDataType::Utf8View),
            false,
        ),
        keys,
        values.boxed(),
    )
    .ok()
}

fn write_group<W: Write>(writer: &mut FileWriter<W>, rows: u64, group: &Group) -> PolarsResult<()> {
    let columns = DynIter::new(group.iter().map(|pages| {
        Ok(DynStreamingIterator::new(
            fallible_streaming_iterator::convert(pages.iter().map(PolarsResult::Ok)),
        ))
    }));
    writer.write(rows, columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(rows: usize) -> DataFrame {
        let n = u32::try_from(rows).expect("rows");
        let at = Series::new(
            "at".into(),
            (0..n)
                .map(|i| (i % 4 != 0).then(|| 1_700_000_000_000 + i64::from(i) * 60_000))
                .collect::<Vec<_>>(),
        )
        .cast(&DataType::Datetime(
            TimeUnit::Milliseconds,
            Some(TimeZone::UTC),
        ))
        .expect("datetime");
        df!(
            "id" => (0..n).map(|i| format!("P-{}", i % 9_000)).collect::<Vec<_>>(),
            "count" => (0..n).map(|i| i % 7).collect::<Vec<_>>(),
            "hours" => (0..n).map(|i| (i % 5 != 0).then(|| f64::from(i) / 3.0)).collect::<Vec<_>>(),
            "flag" => (0..n).map(|i| (i % 3 == 0).then_some(i % 2 == 0)).collect::<Vec<_>>(),
        )
        .expect("frame")
        .with_column(at.into_column())
        .expect("column")
        .with_column(Column::new_scalar(
            "window".into(),
            Scalar::new(DataType::String, "90d".into()),
            rows,
        ))
        .expect("column")
        .clone()
    }

    /// The indices tables' options, with statistics or without.
    fn snappy(statistics: bool) -> Options {
        Options {
            compression: CompressionOptions::Snappy,
            statistics,
            string_dictionaries: false,
            row_group: ROW_GROUP,
        }
    }

    fn read(bytes: &[u8]) -> DataFrame {
        ParquetReader::new(std::io::Cursor::new(bytes))
            .finish()
            .expect("read back")
    }

    #[test]
    fn a_table_of_several_row_groups_reads_back_equal_to_polars_own_file() {
        // A frame of several chunks (one longer than a group, then short ones); a short one;
        // an empty one.
        let mut chunked = sample(ROW_GROUP + 1_000);
        for rows in [ROW_GROUP / 2, ROW_GROUP / 4, ROW_GROUP / 4, 10] {
            chunked.vstack_mut_owned(sample(rows)).expect("vstack");
        }
        for df in [chunked, sample(10), sample(0)] {
            for (statistics, string_dictionaries) in [(false, true), (true, true), (false, false)] {
                let mut ours = Vec::new();
                let options = Options {
                    compression: CompressionOptions::Snappy,
                    statistics,
                    string_dictionaries,
                    row_group: ROW_GROUP,
                };
                let size = write_parquet(&mut ours, &df, options).expect("write");
                assert_eq!(size, ours.len() as u64);
                let mut theirs = Vec::new();
                ParquetWriter::new(&mut theirs)
                    .finish(&mut df.clone())
                    .expect("polars writes");
                let (a, b) = (read(&ours), read(&theirs));
                assert_eq!(a.schema(), df.schema());
                assert!(a.equals_missing(&df), "{} rows", df.height());
                assert!(a.equals_missing(&b));
                let mut reader = ParquetReader::new(std::io::Cursor::new(&ours));
                let meta = reader.get_metadata().expect("metadata");
                // The chunked frame's groups: its first chunk cut in two, then the short ones
                // together while they fit.
                let groups: Vec<usize> = meta.row_groups.iter().map(|g| g.num_rows()).collect();
                let half = (ROW_GROUP + 1_000) / 2;
                let expected: Vec<usize> = match df.height() {
                    0 => vec![],
                    10 => vec![10],
                    _ => vec![half, half, ROW_GROUP, 10],
                };
                assert_eq!(groups, expected);
                let with_statistics = meta
                    .row_groups
                    .iter()
                    .flat_map(|g| g.parquet_columns())
                    .any(|c| {
                        c.statistics(&meta.footer_buf)
                            .and_then(|s| s.expect("statistics").null_count())
                            .is_some()
                    });
                assert_eq!(with_statistics, statistics && df.height() > 0);
                // Strings get a dictionary from their views where a row group holds at most
                // VIEW_DICTIONARY_MAX values (the window always, the ids of 10 rows), else only
                // when asked for (9,000 ids); numbers never do.
                for g in &meta.row_groups {
                    for c in g.parquet_columns() {
                        let name = c.descriptor().path_in_schema[0].to_string();
                        let ids = g.num_rows().min(9_000);
                        let expected = match name.as_str() {
                            "window" => true,
                            "id" => string_dictionaries || ids <= VIEW_DICTIONARY_MAX,
                            _ => false,
                        };
                        assert_eq!(
                            c.dictionary_page_offset().is_some(),
                            expected,
                            "{name} in a group of {} rows",
                            g.num_rows()
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_table_read_whole_is_one_row_group_up_to_its_size() {
        let df = sample(ROW_GROUP + 1_000);
        let groups = |row_group: usize| -> Vec<usize> {
            let options = Options {
                compression: CompressionOptions::Zstd(None),
                statistics: true,
                string_dictionaries: true,
                row_group,
            };
            let mut out = Vec::new();
            write_parquet(&mut out, &df, options).expect("write");
            assert!(read(&out).equals_missing(&df));
            let mut reader = ParquetReader::new(std::io::Cursor::new(&out));
            let meta = reader.get_metadata().expect("metadata");
            meta.row_groups.iter().map(|g| g.num_rows()).collect()
        };
        let half = (ROW_GROUP + 1_000) / 2;
        assert_eq!(groups(ROW_GROUP), [half, half]);
        assert_eq!(groups(WHOLE_ROW_GROUP), [ROW_GROUP + 1_000]);
    }

    #[test]
    fn a_string_column_of_few_values_gets_its_dictionary_from_its_views() {
        // Strings longer than 12 bytes lie in buffers, each copy at its own place, in two
        // chunks' buffers: equal values under different views.
        let mut values = StringChunked::new(
            "category".into(),
            [
                Some("alumbrado público"),
                None,
                Some("baches"),
                Some("alumbrado público"),
            ],
        );
        values
            .append(&StringChunked::new(
                "category".into(),
                [
                    Some("recolección de basura"),
                    Some("alumbrado público"),
                    Some("baches"),
                ],
            ))
            .expect("append");
        let array = values.rechunk().downcast_as_array().clone();
        let views: std::collections::HashSet<u128> = (0..array.len())
            .filter(|&i| array.is_valid(i))
            .map(|i| array.views()[i].as_u128())
            .collect();
        assert_eq!(views.len(), 5, "three views of \"alumbrado público\"");
        let d = view_dictionary(&array).expect("a dictionary");
        let dict = d
            .values()
            .as_any()
            .downcast_ref::<Utf8ViewArray>()
            .expect("strings");
        let dict: Vec<&str> = dict.values_iter().collect();
        assert_eq!(
            dict,
            ["alumbrado público", "baches", "recolección de basura"]
        );
        let keys: Vec<Option<u32>> = d.keys().iter().map(|k| k.copied()).collect();
        assert_eq!(
            keys,
            [Some(0), None, Some(1), Some(0), Some(2), Some(0), Some(1)]
        );
        // Written and read back: the same column.
        let df = DataFrame::new(values.len(), vec![values.into_column()]).expect("frame");
        let mut out = Vec::new();
        write_parquet(&mut out, &df, snappy(true)).expect("write");
        assert!(read(&out).equals_missing(&df));
        // One value more than VIEW_DICTIONARY_MAX: none; nothing but nulls: none.
        let many: Vec<String> = (0..=VIEW_DICTIONARY_MAX).map(|i| format!("v{i}")).collect();
        let at_most = Utf8ViewArray::from_slice_values(&many[..VIEW_DICTIONARY_MAX]);
        assert_eq!(
            view_dictionary(&at_most).map(|d| d.values().len()),
            Some(VIEW_DICTIONARY_MAX)
        );
        assert!(view_dictionary(&Utf8ViewArray::from_slice_values(&many)).is_none());
        let nulls = Utf8ViewArray::from_slice([None::<&str>, None]);
        assert!(view_dictionary(&nulls).is_none());
    }

    #[test]
    fn frames_written_one_by_one_share_row_groups_while_they_fit() {
        let sizes = [
            ROW_GROUP / 2,
            ROW_GROUP / 4,
            ROW_GROUP / 4,
            10,
            ROW_GROUP + 1_000,
            5,
        ];
        let frames: Vec<DataFrame> = sizes.iter().map(|n| sample(*n)).collect();
        let mut out = Vec::new();
        let mut writer =
            TableWriter::new(&mut out, frames[0].schema(), snappy(false)).expect("new");
        let mut stacked = frames[0].clone();
        for (i, f) in frames.iter().enumerate() {
            writer.write(f).expect("write");
            if i > 0 {
                stacked.vstack_mut(f).expect("vstack");
            }
        }
        assert_eq!(writer.rows(), sizes.iter().sum::<usize>());
        // Another schema is refused, naming it.
        let other = df!("x" => [1i32]).expect("frame");
        let err = writer.write(&other).expect_err("another schema");
        assert!(err.to_string().contains("another schema"), "{err}");
        let (_, size) = writer.finish().expect("finish");
        assert_eq!(size, out.len() as u64);
        assert!(read(&out).equals_missing(&stacked));
        let meta = ParquetReader::new(std::io::Cursor::new(&out))
            .get_metadata()
            .expect("metadata")
            .clone();
        let groups: Vec<usize> = meta.row_groups.iter().map(|g| g.num_rows()).collect();
        let half = (ROW_GROUP + 1_000) / 2;
        assert_eq!(groups, [ROW_GROUP, 10, half, half, 5]);
    }
}
