//! An assessor's or cadastre's table (no geometry) joined to the parcels by key: its columns
//! become typed parcel attributes, its address columns feed the address book that locates
//! reports without coordinates (`predio import parcel-table`).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use predio_engine::address::ADDRESS_SEPARATOR;
use predio_engine::{
    Field, FieldType, ImportReport, Issue, IssueAction, LayerKind, LayerMeta, ParcelLayer, Value,
};

use crate::error::{Error, Result};
use crate::reports::draft::sample_file;

/// How a table joins the parcels.
#[derive(Debug, Clone, Default)]
pub struct TableJoin {
    /// The table's key column.
    pub key: String,
    /// The parcels' attribute it equals; `None`: the attribute of the same name if the parcels
    /// have one, else the parcel id.
    pub parcel_key: Option<String>,
    /// Columns holding addresses (all of a parcel's rows kept, joined by " | ").
    pub address_fields: Vec<String>,
    /// Other columns to join (empty: every column but the key).
    pub fields: Vec<String>,
}

/// What a join found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JoinSummary {
    /// Rows read.
    pub rows: usize,
    /// Distinct keys of the table.
    pub keys: usize,
    /// Keys that matched at least one parcel.
    pub matched_keys: usize,
    /// Keys that matched none.
    pub unmatched_keys: usize,
    /// Parcels with at least one row.
    pub parcels_with_rows: usize,
    /// Parcels with none.
    pub parcels_without_rows: usize,
    /// Addresses joined.
    pub addresses: usize,
}

/// The values of a column typed: whole numbers, numbers, else text.
fn column_type(values: impl Iterator<Item = String>) -> FieldType {
    let mut kind = FieldType::Long;
    for v in values.filter(|v| !v.is_empty()) {
        if kind == FieldType::Long && v.parse::<i64>().is_err() {
            kind = FieldType::Double;
        }
        if kind == FieldType::Double && v.parse::<f64>().is_err() {
            return FieldType::String;
        }
    }
    kind
}

fn typed(v: &str, kind: FieldType) -> Value {
    if v.is_empty() {
        return Value::Null;
    }
    match kind {
        FieldType::Long => v.parse().map_or(Value::Null, Value::Long),
        FieldType::Double => v.parse().map_or(Value::Null, Value::Double),
        _ => Value::String(v.to_owned()),
    }
}

/// Joins the table at `path` to `layer` (a copy) as `join` says: returns the new layer, its
/// metadata (fields, address fields, reference field), the summary and the issues (each key
/// that matched no parcel, each parcel with no row).
///
/// # Errors
/// An unreadable, empty or binary file; a key, address or field column that is not in it; a
/// parcel key that is not a parcel attribute.
pub fn join_parcel_table(
    path: &Path,
    layer: &ParcelLayer,
    meta: &LayerMeta,
    join: &TableJoin,
) -> Result<(ParcelLayer, LayerMeta, JoinSummary, ImportReport)> {
    let shown = path.display().to_string();
    let table = sample_file(path, usize::MAX)?;
    let (key, address_at, wanted) = columns(&table, join, &shown)?;
    no_empty_address_column(&table, &address_at, &shown)?;
    let (parcel_key, parcel_key_at) = parcel_key(layer, join)?;
    let parcels_of = parcels_by_key(layer, parcel_key_at);
    let (rows_of, first_line) = rows_by_key(&table, key);
    let mut out = layer.clone();
    let mut report = ImportReport::default();
    let mut summary = JoinSummary {
        rows: table.rows.len(),
        keys: rows_of.len(),
        ..JoinSummary::default()
    };
    // the new fields, typed from their values; one of the same name is replaced
    let value = |n: usize, c: usize| table.rows[n].get(c).map(|s| s.trim()).unwrap_or("");
    let mut new_fields: Vec<(usize, Field)> = wanted
        .iter()
        .map(|&c| {
            let kind = column_type(
                table
                    .rows
                    .iter()
                    .enumerate()
                    .map(|(n, _)| value(n, c).to_owned()),
            );
            (c, Field::new(table.headers[c].clone(), kind))
        })
        .collect();
    new_fields.extend(
        address_at
            .iter()
            .map(|&c| (c, Field::new(table.headers[c].clone(), FieldType::String))),
    );
    let rows_field = Field::new("table_rows", FieldType::Long);
    let slots = field_slots(
        &mut out,
        new_fields.iter().map(|(_, f)| f).chain([&rows_field]),
    );
    let rows_slot = *slots.last().expect("the rows field");
    let mut with_rows = vec![false; out.parcels.len()];
    for (k, rows) in &rows_of {
        let Some(parcels) = parcels_of.get(*k) else {
            summary.unmatched_keys += 1;
            report.issues.push(Issue {
                layer: LayerKind::Parcels,
                feature: first_line[k] as u64,
                id: Some((*k).to_owned()),
                problem: format!(
                    "{shown}: key {} = {k:?} matches no parcel ({} rows)",
                    join.key,
                    rows.len()
                ),
                action: IssueAction::Flagged,
            });
            continue;
        };
        summary.matched_keys += 1;
        let first = rows[0];
        for &i in parcels {
            with_rows[i] = true;
            let p = &mut out.parcels[i];
            for ((c, f), &slot) in new_fields.iter().zip(&slots) {
                p.attributes[slot] = if address_at.contains(c) {
                    let mut seen: Vec<&str> = Vec::new();
                    for &n in rows {
                        let a = value(n, *c);
                        if !a.is_empty() && !seen.contains(&a) {
                            seen.push(a);
                        }
                    }
                    if seen.is_empty() {
                        Value::Null
                    } else {
                        Value::String(seen.join(ADDRESS_SEPARATOR))
                    }
                } else {
                    typed(value(first, *c), f.kind)
                };
            }
            p.attributes[rows_slot] = Value::Long(rows.len() as i64);
        }
        for &c in &address_at {
            summary.addresses += rows.iter().filter(|&&n| !value(n, c).is_empty()).count();
        }
    }
    if summary.matched_keys == 0 {
        return Err(no_key_matches(
            &shown,
            join,
            &rows_of,
            &parcels_of,
            parcel_key.as_deref(),
        ));
    }
    flag_parcels_without_rows(&out, &with_rows, &shown, &mut summary, &mut report);
    let mut meta = meta.clone();
    meta.fields.clone_from(&out.fields);
    for f in &join.address_fields {
        if !meta.address_fields.contains(f) {
            meta.address_fields.push(f.clone());
        }
    }
    meta.ref_field = parcel_key;
    Ok((out, meta, summary, report))
}

/// An address column with no value in any row is an error (a misnamed column, or an export
/// that left it out).
fn no_empty_address_column(
    table: &crate::reports::draft::Sample,
    address_at: &[usize],
    shown: &str,
) -> Result<()> {
    for &c in address_at {
        if table
            .rows
            .iter()
            .all(|r| r.get(c).is_none_or(|v| v.trim().is_empty()))
        {
            return Err(Error::Format {
                path: shown.to_owned(),
                message: format!(
                    "address column {} is empty in every row: nothing to locate reports by",
                    table.headers[c]
                ),
            });
        }
    }
    Ok(())
}

/// The table's rows by key (a row without a key left out), in file order, and each key's first
/// line in the file.
fn rows_by_key(
    table: &crate::reports::draft::Sample,
    key: usize,
) -> (BTreeMap<&str, Vec<usize>>, HashMap<&str, usize>) {
    let mut rows_of: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut first_line: HashMap<&str, usize> = HashMap::new();
    for (n, row) in table.rows.iter().enumerate() {
        let k = row.get(key).map(|s| s.trim()).unwrap_or("");
        if k.is_empty() {
            continue;
        }
        rows_of.entry(k).or_default().push(n);
        first_line.entry(k).or_insert(n + 2);
    }
    (rows_of, first_line)
}

/// The error of a table none of whose keys is a parcel's: a few keys of each side, to compare.
fn no_key_matches(
    shown: &str,
    join: &TableJoin,
    rows_of: &BTreeMap<&str, Vec<usize>>,
    parcels_of: &HashMap<String, Vec<usize>>,
    parcel_key: Option<&str>,
) -> Error {
    let mut theirs: Vec<&str> = parcels_of.keys().map(String::as_str).collect();
    theirs.sort_unstable();
    let few = |v: &[&str]| {
        v.iter()
            .take(3)
            .map(|k| format!("{k:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    Error::Format {
        path: shown.to_owned(),
        message: format!(
            "no value of column {} matches a parcel's {} (the table has {}…, the parcels {}…): \
             check --key and --parcel-key; nothing was imported",
            join.key,
            parcel_key.unwrap_or("id"),
            few(&rows_of.keys().copied().collect::<Vec<_>>()),
            few(&theirs)
        ),
    }
}

/// The parcels' side of the key: its attribute's name and position (`None`: the parcel id).
fn parcel_key(layer: &ParcelLayer, join: &TableJoin) -> Result<(Option<String>, Option<usize>)> {
    let parcel_key = join.parcel_key.clone().or_else(|| {
        layer
            .fields
            .iter()
            .any(|f| f.name == join.key)
            .then(|| join.key.clone())
    });
    let parcel_key_at = match &parcel_key {
        Some(name) => Some(
            layer
                .fields
                .iter()
                .position(|f| &f.name == name)
                .ok_or_else(|| Error::NoSuchField {
                    path: "the current parcels".into(),
                    layer: "parcels".into(),
                    field: name.clone(),
                    available: layer
                        .fields
                        .iter()
                        .map(|f| f.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                })?,
        ),
        None => None,
    };
    Ok((parcel_key, parcel_key_at))
}

/// Where each field goes in `out`'s attributes: a field of the same name is replaced, a new one
/// appended (every parcel's value null until filled).
fn field_slots<'f>(out: &mut ParcelLayer, fields: impl Iterator<Item = &'f Field>) -> Vec<usize> {
    let mut slots = Vec::new();
    for f in fields {
        let slot = match out.fields.iter().position(|x| x.name == f.name) {
            Some(s) => {
                out.fields[s] = f.clone();
                s
            }
            None => {
                out.fields.push(f.clone());
                for p in &mut out.parcels {
                    p.attributes.push(Value::Null);
                }
                out.fields.len() - 1
            }
        };
        slots.push(slot);
    }
    slots
}

/// The table's key column, its address columns and the other columns to join (positions).
fn columns(
    table: &crate::reports::draft::Sample,
    join: &TableJoin,
    shown: &str,
) -> Result<(usize, Vec<usize>, Vec<usize>)> {
    let column = |name: &str| {
        table
            .headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| Error::NoSuchField {
                path: shown.to_owned(),
                layer: "table header".into(),
                field: name.to_owned(),
                available: table.headers.join(", "),
            })
    };
    let key = column(&join.key)?;
    let address_at: Vec<usize> = join
        .address_fields
        .iter()
        .map(|f| column(f))
        .collect::<Result<_>>()?;
    let wanted: Vec<usize> = if join.fields.is_empty() {
        (0..table.headers.len())
            .filter(|i| *i != key && !address_at.contains(i))
            .collect()
    } else {
        join.fields
            .iter()
            .map(|f| column(f))
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .filter(|i| *i != key && !address_at.contains(i))
            .collect()
    };
    Ok((key, address_at, wanted))
}

/// The parcels by their key's value (the attribute at `at`, else the id).
fn parcels_by_key(
    layer: &ParcelLayer,
    parcel_key_at: Option<usize>,
) -> HashMap<String, Vec<usize>> {
    let key_of = |i: usize| -> Option<String> {
        let p = &layer.parcels[i];
        match parcel_key_at {
            Some(k) => match p.attributes.get(k) {
                Some(Value::Null) | None => None,
                Some(Value::String(s)) => Some(s.trim().to_owned()),
                Some(v) => Some(v.to_string()),
            },
            None => Some(p.id.as_str().to_owned()),
        }
    };
    let mut parcels_of: HashMap<String, Vec<usize>> = HashMap::new();
    for i in 0..layer.parcels.len() {
        if let Some(k) = key_of(i) {
            parcels_of.entry(k).or_default().push(i);
        }
    }
    parcels_of
}

/// Counts the parcels with and without a row, and lists those without.
fn flag_parcels_without_rows(
    out: &ParcelLayer,
    with_rows: &[bool],
    shown: &str,
    summary: &mut JoinSummary,
    report: &mut ImportReport,
) {
    for (i, has) in with_rows.iter().enumerate() {
        if *has {
            summary.parcels_with_rows += 1;
        } else {
            summary.parcels_without_rows += 1;
            report.issues.push(Issue {
                layer: LayerKind::Parcels,
                feature: i as u64 + 1,
                id: Some(out.parcels[i].id.to_string()),
                problem: format!("no row of {shown} for this parcel"),
                action: IssueAction::Flagged,
            });
        }
    }
}
