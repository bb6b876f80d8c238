//! Which rows of an indices table: a window, a dimension with its value, and for the cell
//! table an H3 resolution. One type for every reader: the tiles (a layer's filter, part of each
//! cached tile's key), the exports, the analyses and the server's tables.

use polars::prelude::*;

use crate::error::{Error, Result};
use crate::table::Table;

/// The reports a row of the indices counts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Dimension {
    /// Every report.
    #[default]
    All,
    /// The reports of one category (`Some`), or the rows of each category (`None`).
    Category(Option<String>),
    /// The reports of one department (`Some`), or the rows of each department (`None`).
    Department(Option<String>),
}

impl Dimension {
    /// The dimension from its name (`all`, `category`, `department`, as in the tables'
    /// `dimension` column) and a value; `None` for another name.
    pub fn new(name: &str, value: Option<String>) -> Option<Dimension> {
        match name {
            "all" => Some(Dimension::All),
            "category" => Some(Dimension::Category(value)),
            "department" => Some(Dimension::Department(value)),
            _ => None,
        }
    }

    /// Its name, as in the tables' `dimension` column.
    pub fn name(&self) -> &'static str {
        match self {
            Dimension::All => "all",
            Dimension::Category(_) => "category",
            Dimension::Department(_) => "department",
        }
    }

    /// The dimension and its value, where one value is named (`["category", "Bache"]`): how
    /// the tiles' metadata writes a filter.
    pub fn pair(&self) -> Option<[&str; 2]> {
        self.value().map(|v| [self.name(), v])
    }

    /// The category or department, where one is named.
    pub fn value(&self) -> Option<&str> {
        match self {
            Dimension::All => None,
            Dimension::Category(v) | Dimension::Department(v) => v.as_deref(),
        }
    }
}

/// Which rows of an indices table.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Selection {
    /// The window label (`90d`).
    pub window: String,
    /// The dimension, and its value.
    pub dimension: Dimension,
    /// H3 resolution (cell table only).
    pub res: Option<u8>,
}

impl Selection {
    /// All reports in `window`.
    pub fn window(window: impl Into<String>) -> Self {
        Self {
            window: window.into(),
            dimension: Dimension::All,
            res: None,
        }
    }

    /// The same rows at H3 resolution `res`.
    #[must_use]
    pub fn at_res(&self, res: Option<u8>) -> Self {
        Self {
            res,
            ..self.clone()
        }
    }
}

/// The rows of `df` that `sel` names.
///
/// # Errors
/// [`Error::Indices`] when a column the selection reads is missing from the table.
pub fn select(table: &Table, sel: &Selection) -> Result<Table> {
    let mut pred = col("window")
        .eq(lit(sel.window.clone()))
        .and(col("dimension").eq(lit(sel.dimension.name())));
    if let Some(v) = sel.dimension.value() {
        pred = pred.and(col("value").eq(lit(v.to_owned())));
    }
    if let Some(r) = sel.res {
        pred = pred.and(col("res").eq(lit(i32::from(r))));
    }
    table
        .frame()
        .clone()
        .lazy()
        .filter(pred)
        .collect()
        .map(Table::from_frame)
        .map_err(|e| Error::Indices {
            message: format!("selecting {sel:?}: {e}"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dimensions_read_and_write_the_tables_names() {
        for (name, value) in [
            ("all", None),
            ("category", Some("Bache")),
            ("department", None),
        ] {
            let d = Dimension::new(name, value.map(str::to_owned)).expect("a dimension");
            assert_eq!((d.name(), d.value()), (name, value));
        }
        assert_eq!(Dimension::new("ward", None), None);
        assert_eq!(
            Dimension::Department(Some("Obras".into())).pair(),
            Some(["department", "Obras"])
        );
        assert_eq!(Dimension::Category(None).pair(), None);
        assert_eq!(Dimension::All.pair(), None);
    }

    #[test]
    fn a_selection_picks_its_window_dimension_value_and_resolution() {
        let df = df!(
            "window" => ["90d", "90d", "90d", "30d", "90d"],
            "dimension" => ["all", "category", "category", "category", "category"],
            "value" => [None, Some("Bache"), Some("Basura"), Some("Bache"), Some("Bache")],
            "res" => [9, 9, 9, 9, 10],
        )
        .expect("a frame");
        let table = Table::from_frame(df);
        let rows = |sel: &Selection| select(&table, sel).expect("select").len();
        assert_eq!(rows(&Selection::window("90d")), 1);
        let each_category = Selection {
            window: "90d".into(),
            dimension: Dimension::Category(None),
            res: None,
        };
        assert_eq!(rows(&each_category), 3);
        let bache = Selection {
            dimension: Dimension::Category(Some("Bache".into())),
            ..each_category.clone()
        };
        assert_eq!(rows(&bache), 2);
        assert_eq!(rows(&bache.at_res(Some(10))), 1);
    }
}
