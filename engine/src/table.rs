//! A table of values per feature, as the store hands it out and takes it in: the indices of a
//! level (one row per feature, window and filter) and a level's saved segments.
//!
//! It is the catalog's own type, not a data-frame library's: a store that is not the data
//! directory (PostgreSQL, object storage) builds one from plain columns
//! ([`Table::from_columns`]), and readers take plain columns back ([`Table::numbers`],
//! [`Table::texts`]). Inside the engine it is held as a Polars frame, which the analyses that
//! are written with Polars borrow ([`Table::frame`]).

use polars::prelude::*;

use crate::error::{Error, Result};

/// The values of one column.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// Integers (counts, resolutions).
    Integers(Vec<Option<i64>>),
    /// Real numbers (medians, rates, z-scores).
    Numbers(Vec<Option<f64>>),
    /// Text (ids, windows, names).
    Texts(Vec<Option<String>>),
}

impl Values {
    fn len(&self) -> usize {
        match self {
            Values::Integers(v) => v.len(),
            Values::Numbers(v) => v.len(),
            Values::Texts(v) => v.len(),
        }
    }
}

/// Named, typed columns of equal length.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table(DataFrame);

fn column_error(name: &str, problem: impl std::fmt::Display) -> Error {
    Error::Indices {
        message: format!("column {name}: {problem}"),
    }
}

impl Table {
    /// A table of `columns`, in their order.
    ///
    /// # Errors
    /// [`Error::Indices`] when the columns differ in length or two share a name.
    pub fn from_columns(columns: Vec<(String, Values)>) -> Result<Table> {
        if let Some(((first, a), (name, b))) = columns.first().and_then(|f| {
            columns
                .iter()
                .find(|c| c.1.len() != f.1.len())
                .map(|c| (f, c))
        }) {
            return Err(column_error(
                name,
                format!("{} rows where {first} has {}", b.len(), a.len()),
            ));
        }
        let height = columns.first().map_or(0, |c| c.1.len());
        let columns: Vec<Column> = columns
            .into_iter()
            .map(|(name, values)| match values {
                Values::Integers(v) => Column::new(name.into(), v),
                Values::Numbers(v) => Column::new(name.into(), v),
                Values::Texts(v) => Column::new(name.into(), v),
            })
            .collect();
        DataFrame::new(height, columns)
            .map(Table)
            .map_err(|e| Error::Indices {
                message: e.to_string(),
            })
    }

    /// The table the engine computed as a Polars frame.
    #[must_use]
    pub fn from_frame(frame: DataFrame) -> Table {
        Table(frame)
    }

    /// The table as a Polars frame, for analyses written with Polars.
    #[must_use]
    pub fn frame(&self) -> &DataFrame {
        &self.0
    }

    /// The number of rows.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.height()
    }

    /// Whether the table has no rows.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.height() == 0
    }

    /// The names of the columns, in their order.
    #[must_use]
    pub fn column_names(&self) -> Vec<&str> {
        self.0
            .get_column_names()
            .into_iter()
            .map(PlSmallStr::as_str)
            .collect()
    }

    /// Whether the table has a column of that name.
    #[must_use]
    pub fn has_column(&self, name: &str) -> bool {
        self.0.column(name).is_ok()
    }

    /// A column as numbers (`None` where null).
    ///
    /// # Errors
    /// [`Error::Indices`] when the table has no such column or it is not numeric.
    pub fn numbers(&self, name: &str) -> Result<Vec<Option<f64>>> {
        let c = self
            .0
            .column(name)
            .map_err(|_| column_error(name, "no such column in the table"))?;
        if !c.dtype().is_primitive_numeric() && !c.dtype().is_null() {
            return Err(column_error(name, format!("{} is not a number", c.dtype())));
        }
        let c = c
            .cast(&DataType::Float64)
            .map_err(|e| column_error(name, format!("not a number ({e})")))?;
        Ok(c.f64().map_err(|e| column_error(name, e))?.iter().collect())
    }

    /// A column as text (`None` where null; numbers written as text).
    ///
    /// # Errors
    /// [`Error::Indices`] when the table has no such column.
    pub fn texts(&self, name: &str) -> Result<Vec<Option<String>>> {
        let c = self
            .0
            .column(name)
            .map_err(|_| column_error(name, "no such column in the table"))?
            .cast(&DataType::String)
            .map_err(|e| column_error(name, e))?;
        Ok(c.str()
            .map_err(|e| column_error(name, e))?
            .iter()
            .map(|s| s.map(str::to_owned))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_from_plain_columns_reads_back_the_same_values() {
        let t = Table::from_columns(vec![
            (
                "sector_id".into(),
                Values::Texts(vec![Some("A".into()), None]),
            ),
            ("received".into(), Values::Integers(vec![Some(3), Some(0)])),
            ("median".into(), Values::Numbers(vec![Some(1.5), None])),
        ])
        .expect("table");
        assert_eq!(t.len(), 2);
        assert_eq!(t.column_names(), ["sector_id", "received", "median"]);
        assert_eq!(
            t.texts("sector_id").expect("texts"),
            [Some("A".into()), None]
        );
        assert_eq!(
            t.numbers("received").expect("numbers"),
            [Some(3.0), Some(0.0)]
        );
        assert_eq!(t.numbers("median").expect("numbers"), [Some(1.5), None]);
        assert!(t.numbers("sector_id").is_err(), "text is not a number");
        let e = t.numbers("nope").expect_err("no column").to_string();
        assert!(e.contains("nope"), "{e}");
    }

    #[test]
    fn columns_of_different_lengths_are_refused_naming_the_column() {
        let e = Table::from_columns(vec![
            ("a".into(), Values::Integers(vec![Some(1)])),
            ("b".into(), Values::Integers(vec![Some(1), Some(2)])),
        ])
        .expect_err("unequal lengths")
        .to_string();
        assert!(e.contains("column b") && e.contains("2 rows"), "{e}");
    }
}
