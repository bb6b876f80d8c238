//! The columns of an indices frame read as plain vectors, for the analyses that walk a table
//! row by row (the plan, the audit table).

use polars::prelude::*;

use crate::error::{Error, Result};

fn column_error(name: &str, problem: impl std::fmt::Display) -> Error {
    Error::Indices {
        message: format!("column {name}: {problem}"),
    }
}

/// A column as numbers (`None` where null).
///
/// # Errors
/// [`Error::Indices`] when the frame has no such column or it is not numeric.
pub fn numbers(df: &DataFrame, name: &str) -> Result<Vec<Option<f64>>> {
    let c = df
        .column(name)
        .map_err(|_| column_error(name, "no such column in the table"))?
        .cast(&DataType::Float64)
        .map_err(|e| column_error(name, format!("not a number ({e})")))?;
    Ok(c.f64().map_err(|e| column_error(name, e))?.iter().collect())
}

/// A column as text (`None` where null).
///
/// # Errors
/// [`Error::Indices`] when the frame has no such column.
pub fn texts(df: &DataFrame, name: &str) -> Result<Vec<Option<String>>> {
    let c = df
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
