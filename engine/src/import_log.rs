//! The import report: every feature or row that was repaired, skipped or flagged, and why.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::LayerKind;

/// What the importer did about a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueAction {
    /// The geometry was repaired (GDAL MakeValid) and imported.
    Repaired,
    /// The feature was left out.
    Skipped,
    /// Imported as is, with a warning (e.g. a parcel outside every sector).
    Flagged,
}

impl fmt::Display for IssueAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IssueAction::Repaired => "repaired",
            IssueAction::Skipped => "skipped",
            IssueAction::Flagged => "flagged",
        })
    }
}

/// One problem found in one feature (or row) of a source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Issue {
    /// The layer being imported.
    pub layer: LayerKind,
    /// 1-based number of the feature (or line) in the source.
    pub feature: u64,
    /// The feature's id, where it has one.
    pub id: Option<String>,
    /// What is wrong, in words (e.g. `invalid geometry: ring self-intersection at ...`).
    pub problem: String,
    /// What was done about it.
    pub action: IssueAction,
}

/// All issues of one import, written as `import-report.csv` in the version it creates.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportReport {
    /// The issues in source order.
    pub issues: Vec<Issue>,
}

impl ImportReport {
    /// How many issues ended with `action`.
    pub fn count(&self, action: IssueAction) -> usize {
        self.issues.iter().filter(|i| i.action == action).count()
    }

    /// Writes the report as CSV (`layer,feature,id,action,problem`) and fsyncs it.
    ///
    /// # Errors
    /// I/O errors naming `path`.
    pub fn write_csv(&self, path: &Path) -> Result<()> {
        let file = std::fs::File::create(path).map_err(Error::io(path))?;
        let mut w = csv::Writer::from_writer(file);
        let csv_err = |e: csv::Error| Error::Io {
            path: path.into(),
            source: e.into(),
        };
        w.write_record(["layer", "feature", "id", "action", "problem"])
            .map_err(csv_err)?;
        for i in &self.issues {
            w.write_record([
                i.layer.as_str(),
                &i.feature.to_string(),
                i.id.as_deref().unwrap_or(""),
                &i.action.to_string(),
                &i.problem,
            ])
            .map_err(csv_err)?;
        }
        let file = w.into_inner().map_err(|e| Error::Io {
            path: path.into(),
            source: e.into_error(),
        })?;
        file.sync_all().map_err(Error::io(path))
    }
}
