//! The writer's files read back by Polars equal to what was written: row groups, dictionaries.

use super::dictionary::VIEW_DICTIONARY_MAX;
use super::*;
use polars_arrow::array::Array;

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
        split_floats: &["hours"],
    }
}

fn read(bytes: &[u8]) -> DataFrame {
    ParquetReader::new(std::io::Cursor::new(bytes))
        .finish()
        .expect("read back")
}

/// The rows of each row group of the file `out`.
fn group_rows(out: &[u8]) -> Vec<usize> {
    let meta = ParquetReader::new(std::io::Cursor::new(out))
        .get_metadata()
        .expect("metadata")
        .clone();
    meta.row_groups.iter().map(|g| g.num_rows()).collect()
}

/// The file `out`, said to be `size` bytes by the writer `kind`, is that long and reads back
/// as `expected`.
fn reads_back(out: &[u8], size: u64, expected: &DataFrame, kind: WriterKind) {
    assert_eq!(size, out.len() as u64, "{kind:?}");
    let back = read(out);
    assert_eq!(back.schema(), expected.schema(), "{kind:?}");
    assert!(back.equals_missing(expected), "{kind:?}");
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
                split_floats: if statistics { &["hours"] } else { &[] },
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
            if statistics {
                // Each group's statistics are its rows' (a group of several chunks is their
                // pages one after the other, its statistics reduced over them).
                let mut offset = 0;
                for g in &meta.row_groups {
                    let rows = df.slice(offset, g.num_rows());
                    offset += g.num_rows() as i64;
                    let at = |name: &str| {
                        g.parquet_columns()
                            .iter()
                            .find(|c| c.descriptor().path_in_schema[0].as_str() == name)
                            .and_then(|c| c.statistics(&meta.footer_buf))
                            .expect("statistics")
                            .expect("read")
                    };
                    let hours = rows.column("hours").expect("hours").f64().expect("f64");
                    let polars_parquet::parquet::statistics::Statistics::Double(s) = at("hours")
                    else {
                        panic!("hours: not doubles");
                    };
                    assert_eq!(s.null_count, Some(hours.null_count() as i64));
                    assert_eq!((s.min_value, s.max_value), (hours.min(), hours.max()));
                    let count = rows.column("count").expect("count").u32().expect("u32");
                    let polars_parquet::parquet::statistics::Statistics::Int32(s) = at("count")
                    else {
                        panic!("count: not int32");
                    };
                    let as_i32 = |v: Option<u32>| v.map(|v| v as i32);
                    assert_eq!(
                        (s.min_value, s.max_value),
                        (as_i32(count.min()), as_i32(count.max()))
                    );
                }
            }
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
fn the_floats_named_are_written_byte_stream_split_and_read_back_equal() {
    use polars_parquet::parquet::page::{CompressedPage, FormatEncoding};
    use polars_parquet::parquet::read::get_page_iterator;
    // "hours" has missing values (definition levels before the values); "x" has none.
    let mut df = sample(ROW_GROUP + 1_000);
    let x: Vec<f64> = (0..df.height()).map(|i| (i as f64).sqrt()).collect();
    df.with_column(Column::new("x".into(), x)).expect("x");
    for split_floats in [&["hours", "x"][..], &["hours"], &[]] {
        let options = Options {
            split_floats,
            ..snappy(false)
        };
        let mut out = Vec::new();
        write_parquet(&mut out, &df, options).expect("write");
        assert!(read(&out).equals_missing(&df), "{split_floats:?}");
        let meta = ParquetReader::new(std::io::Cursor::new(&out))
            .get_metadata()
            .expect("metadata")
            .clone();
        let mut split_pages = 0;
        for g in &meta.row_groups {
            for c in g.parquet_columns() {
                let name = c.descriptor().path_in_schema[0].to_string();
                let pages = get_page_iterator(
                    c,
                    std::io::Cursor::new(out.clone().into()),
                    Vec::new(),
                    usize::MAX,
                )
                .expect("pages");
                for page in pages {
                    if let CompressedPage::Data(page) = page.expect("page") {
                        let split = page.header().encoding() == FormatEncoding::BYTE_STREAM_SPLIT;
                        assert_eq!(split, split_floats.contains(&name.as_str()), "{name}");
                        split_pages += usize::from(split);
                    }
                }
            }
        }
        assert_eq!(split_pages > 0, !split_floats.is_empty());
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
            split_floats: &[],
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
    let mut writer = TableWriter::new(&mut out, frames[0].schema(), snappy(false)).expect("new");
    let mut stacked = frames[0].clone();
    for (i, f) in frames.iter().enumerate() {
        writer.write(f).expect("write");
        if i > 0 {
            stacked.vstack_mut(f).expect("vstack");
        }
    }
    // Another schema is refused, naming it.
    let other = df!("x" => [1i32]).expect("frame");
    let err = writer.write(&other).expect_err("another schema");
    assert!(err.to_string().contains("another schema"), "{err}");
    let (_, size) = writer.finish().expect("finish");
    assert_eq!(size, out.len() as u64);
    assert!(read(&out).equals_missing(&stacked));
    let half = (ROW_GROUP + 1_000) / 2;
    assert_eq!(group_rows(&out), [ROW_GROUP, 10, half, half, 5]);
}

#[test]
fn polars_own_writer_the_fallback_writes_the_same_tables_frame_by_frame() {
    let sizes = [ROW_GROUP / 2, ROW_GROUP + 1_000, 0, 5];
    let frames: Vec<DataFrame> = sizes.iter().map(|n| sample(*n)).collect();
    let mut stacked = frames[0].clone();
    for f in &frames[1..] {
        stacked.vstack_mut(f).expect("vstack");
    }
    let mut files = Vec::new();
    for kind in [WriterKind::Parallel, WriterKind::Polars] {
        for options in [snappy(false), {
            let mut zstd = snappy(true);
            zstd.compression = CompressionOptions::Zstd(None);
            zstd
        }] {
            let mut out = Vec::new();
            let mut writer =
                TableWriter::with(kind, &mut out, frames[0].schema(), options).expect("new");
            for f in &frames {
                writer.write(f).expect("write");
            }
            let other = df!("x" => [1i32]).expect("frame");
            let err = writer.write(&other).expect_err("another schema");
            assert!(
                err.to_string().contains("another schema"),
                "{kind:?}: {err}"
            );
            let (_, size) = writer.finish().expect("finish");
            reads_back(&out, size, &stacked, kind);
            files.push(out);
        }
    }
    // Two writers, two files: the same table, written differently.
    assert_ne!(files[0], files[2]);
}

#[test]
fn frames_encoded_apart_are_written_in_their_order_each_in_groups_of_its_own() {
    use rayon::prelude::*;
    let sizes = [ROW_GROUP / 2, 10, ROW_GROUP + 1_000, 0, 5];
    let frames: Vec<DataFrame> = sizes.iter().map(|n| sample(*n)).collect();
    // Rows written as they come (waiting to share a group), then the frames encoded apart.
    let first = sample(7);
    let mut stacked = first.clone();
    for f in &frames {
        stacked.vstack_mut(f).expect("vstack");
    }
    for kind in [WriterKind::Parallel, WriterKind::Polars] {
        // Encoded side by side, the last first.
        let mut encoded: Vec<(usize, Encoded)> = frames
            .par_iter()
            .enumerate()
            .rev()
            .map(|(i, f)| {
                (
                    i,
                    encode_with(kind, f.clone(), snappy(false)).expect("encode"),
                )
            })
            .collect();
        encoded.sort_by_key(|e| e.0);
        let mut out = Vec::new();
        let mut writer =
            TableWriter::with(kind, &mut out, first.schema(), snappy(false)).expect("new");
        writer.write(&first).expect("write");
        for (_, e) in &encoded {
            writer.write_encoded(e).expect("write encoded");
        }
        // Rows of another schema, or encoded for the other writer, are refused.
        let other = encode_with(kind, df!("x" => [1i32]).expect("frame"), snappy(false));
        let err = writer
            .write_encoded(&other.expect("encode"))
            .expect_err("another schema");
        assert!(
            err.to_string().contains("another schema"),
            "{kind:?}: {err}"
        );
        let foreign = match kind {
            WriterKind::Parallel => WriterKind::Polars,
            WriterKind::Polars => WriterKind::Parallel,
        };
        let err = writer
            .write_encoded(&encode_with(foreign, sample(3), snappy(false)).expect("encode"))
            .expect_err("another writer");
        assert!(
            err.to_string().contains("another writer"),
            "{kind:?}: {err}"
        );
        let (_, size) = writer.finish().expect("finish");
        reads_back(&out, size, &stacked, kind);
        if kind == WriterKind::Parallel {
            let half = (ROW_GROUP + 1_000) / 2;
            assert_eq!(group_rows(&out), [7, ROW_GROUP / 2, 10, half, half, 5]);
        }
    }
}
