//! The rules of `predio compute`: legal deadlines per category, the holiday calendar, the
//! recurrence interval and the attention index's weights, read from TOML or CSV files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::calendar::Calendar;
use crate::error::{Error, Result};

/// The deadline of a category and the stages of its open reports, in business days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// Legal deadline: answered by the end of this business day after the day of receipt.
    pub days: u32,
    /// An open report this many business days old is in `warning`.
    pub warning_days: u32,
    /// An open report this many business days old is in `alert` (until the deadline passes).
    pub alert_days: u32,
}

impl Rule {
    /// A deadline of `days` with the stages at the Costa Rican proportions (6 / 8 of 10).
    pub fn with_days(days: u32) -> Rule {
        Rule {
            days,
            warning_days: (f64::from(days) * 0.6).round() as u32,
            alert_days: (f64::from(days) * 0.8).round() as u32,
        }
    }
}

impl Default for Rule {
    fn default() -> Rule {
        Rule {
            days: 10,
            warning_days: 6,
            alert_days: 8,
        }
    }
}

/// Weights of the attention index's components (see the README for the formula).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Weights {
    /// Reports per km², as a percentile among the features of the same table.
    pub density: f64,
    /// Share of the window's reports still open.
    pub backlog: f64,
    /// Share of the open reports past their deadline.
    pub overdue: f64,
    /// Share of the answered reports answered late.
    pub late: f64,
    /// Share of the reports that repeat a category on the same parcel.
    pub recurrence: f64,
    /// Growth against the previous window (0 when flat or falling, 1 from doubling).
    pub trend: f64,
}

impl Default for Weights {
    fn default() -> Weights {
        Weights {
            density: 2.0,
            backlog: 1.0,
            overdue: 2.0,
            late: 2.0,
            recurrence: 1.0,
            trend: 1.0,
        }
    }
}

/// Everything `predio compute` needs besides the catalog.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IndexConfig {
    /// The rule of categories without their own.
    pub default_rule: Rule,
    /// Rules by category (the reports' `category`, as imported).
    pub categories: BTreeMap<String, Rule>,
    /// No default deadline (`default_days = 0`): reports with neither a deadline of their own
    /// nor a category rule are not assessed (no verdict, no stage).
    pub no_default_deadline: bool,
    /// Business days: weekends and holidays.
    pub calendar: Calendar,
    /// A report is recurrent when the same parcel had one of the same category at most this
    /// many days before.
    pub recurrence_days: u32,
    /// Features with fewer reports in a window get no attention index (too few to rank).
    pub min_reports: u32,
    /// Attention index weights.
    pub weights: Weights,
}

impl IndexConfig {
    /// The defaults: 10 business days, stages at 6 and 8, recurrence within 30 days, attention
    /// from 5 reports.
    pub fn new() -> IndexConfig {
        IndexConfig {
            recurrence_days: 30,
            min_reports: 5,
            ..IndexConfig::default()
        }
    }

    /// Whether reports of `category` without a deadline of their own get one from the rules.
    pub fn assesses(&self, category: Option<&str>) -> bool {
        !self.no_default_deadline || category.is_some_and(|c| self.categories.contains_key(c))
    }

    /// The rule of a category.
    pub fn rule(&self, category: Option<&str>) -> Rule {
        category
            .and_then(|c| self.categories.get(c))
            .copied()
            .unwrap_or(self.default_rule)
    }
}

fn config_error(path: &Path, message: impl Into<String>) -> Error {
    Error::Config {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleToml {
    days: u32,
    warning_days: Option<u32>,
    alert_days: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeadlinesToml {
    #[serde(default)]
    default_days: Option<u32>,
    #[serde(default)]
    warning_days: Option<u32>,
    #[serde(default)]
    alert_days: Option<u32>,
    #[serde(default)]
    categories: BTreeMap<String, RuleToml>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AttentionToml {
    min_reports: Option<u32>,
    #[serde(default)]
    weights: Option<Weights>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecurrenceToml {
    days: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigToml {
    #[serde(default)]
    deadlines: DeadlinesToml,
    #[serde(default)]
    recurrence: Option<RecurrenceToml>,
    #[serde(default)]
    attention: AttentionToml,
    #[serde(default)]
    holidays: Vec<String>,
}

fn rule_of(path: &Path, what: &str, days: u32, w: Option<u32>, a: Option<u32>) -> Result<Rule> {
    let base = Rule::with_days(days);
    let rule = Rule {
        days,
        warning_days: w.unwrap_or(base.warning_days),
        alert_days: a.unwrap_or(base.alert_days),
    };
    if days == 0 {
        return Err(config_error(
            path,
            format!("{what}: a deadline of 0 business days"),
        ));
    }
    if !(rule.warning_days <= rule.alert_days && rule.alert_days <= rule.days) {
        return Err(config_error(
            path,
            format!(
                "{what}: stages must satisfy warning_days <= alert_days <= days, got {} / {} / {}",
                rule.warning_days, rule.alert_days, rule.days
            ),
        ));
    }
    Ok(rule)
}

fn parse_date(path: &Path, at: &str, s: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| config_error(path, format!("{at}: {s:?} is not a date (YYYY-MM-DD)")))
}

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(Error::io(path))
}

fn is_csv(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
}

impl IndexConfig {
    /// Reads the deadline rules (and, in TOML, the recurrence interval, the attention weights
    /// and inline holidays) from `path`.
    ///
    /// TOML: `[deadlines] default_days, warning_days, alert_days`, `[deadlines.categories."X"]
    /// days, warning_days, alert_days`, `[recurrence] days`, `[attention] min_reports` and
    /// `[attention.weights]`, `holidays = ["YYYY-MM-DD", ...]`. CSV: `category,days` with
    /// optional `warning_days,alert_days` columns; the category `*` sets the default.
    ///
    /// # Errors
    /// [`Error::Config`] naming the file, line or key and the problem.
    pub fn read_deadlines(&mut self, path: &Path) -> Result<()> {
        let text = read_text(path)?;
        if is_csv(path) {
            return self.deadlines_csv(path, &text);
        }
        let cfg: ConfigToml = toml::from_str(&text)
            .map_err(|e| config_error(path, e.to_string().trim().to_owned()))?;
        let d = &cfg.deadlines;
        self.no_default_deadline = d.default_days == Some(0);
        self.default_rule = rule_of(
            path,
            "[deadlines]",
            d.default_days.filter(|d| *d > 0).unwrap_or(10),
            d.warning_days.or(d.default_days.map_or(Some(6), |_| None)),
            d.alert_days.or(d.default_days.map_or(Some(8), |_| None)),
        )?;
        for (name, r) in &d.categories {
            let rule = rule_of(
                path,
                &format!("[deadlines.categories.{name:?}]"),
                r.days,
                r.warning_days,
                r.alert_days,
            )?;
            self.categories.insert(name.clone(), rule);
        }
        if let Some(r) = cfg.recurrence {
            self.recurrence_days = r.days;
        }
        if let Some(m) = cfg.attention.min_reports {
            self.min_reports = m;
        }
        if let Some(w) = cfg.attention.weights {
            let all = [
                w.density,
                w.backlog,
                w.overdue,
                w.late,
                w.recurrence,
                w.trend,
            ];
            if all.iter().any(|x| !x.is_finite() || *x < 0.0) || all.iter().sum::<f64>() <= 0.0 {
                return Err(config_error(
                    path,
                    "[attention.weights]: weights must be finite, >= 0, and not all 0",
                ));
            }
            self.weights = w;
        }
        let mut holidays: Vec<NaiveDate> = self.calendar.holidays().collect();
        for (i, h) in cfg.holidays.iter().enumerate() {
            holidays.push(parse_date(path, &format!("holidays[{i}]"), h)?);
        }
        self.calendar = Calendar::new(holidays);
        Ok(())
    }

    fn deadlines_csv(&mut self, path: &Path, text: &str) -> Result<()> {
        let mut rdr = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let headers = rdr
            .headers()
            .map_err(|e| config_error(path, format!("line 1: {e}")))?
            .clone();
        let find = |n: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(n));
        let (Some(ci), Some(di)) = (find("category"), find("days")) else {
            return Err(config_error(
                path,
                "line 1: the header needs `category` and `days` columns",
            ));
        };
        let (wi, ai) = (find("warning_days"), find("alert_days"));
        for (n, record) in rdr.records().enumerate() {
            let line = n + 2;
            let record = record.map_err(|e| config_error(path, format!("line {line}: {e}")))?;
            let num = |i: Option<usize>, what: &str| -> Result<Option<u32>> {
                match i.and_then(|i| record.get(i)).filter(|s| !s.is_empty()) {
                    None => Ok(None),
                    Some(s) => s.parse().map(Some).map_err(|_| {
                        config_error(
                            path,
                            format!("line {line}: {what} {s:?} is not a whole number"),
                        )
                    }),
                }
            };
            let category = record.get(ci).unwrap_or_default().to_owned();
            let Some(days) = num(Some(di), "days")? else {
                return Err(config_error(path, format!("line {line}: no days")));
            };
            let rule = rule_of(
                path,
                &format!("line {line}"),
                days,
                num(wi, "warning_days")?,
                num(ai, "alert_days")?,
            )?;
            if category == "*" {
                self.default_rule = rule;
            } else {
                self.categories.insert(category, rule);
            }
        }
        Ok(())
    }

    /// Adds the holidays of `path`: TOML `holidays = ["YYYY-MM-DD", ...]` (or `[[holiday]]`
    /// tables with `date` and `name`), or CSV with the date in the first column (a header
    /// line is allowed).
    ///
    /// # Errors
    /// [`Error::Config`] naming the file, line or key and the problem.
    pub fn read_holidays(&mut self, path: &Path) -> Result<()> {
        let text = read_text(path)?;
        let mut holidays: Vec<NaiveDate> = self.calendar.holidays().collect();
        if is_csv(path) {
            for (n, line) in text.lines().enumerate() {
                let first = line.split([',', ';']).next().unwrap_or("").trim();
                if first.is_empty()
                    || (n == 0 && first.eq_ignore_ascii_case("date"))
                    || first.starts_with('#')
                {
                    continue;
                }
                holidays.push(parse_date(path, &format!("line {}", n + 1), first)?);
            }
        } else {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Named {
                date: String,
                #[allow(dead_code)]
                name: Option<String>,
            }
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct File {
                #[serde(default)]
                holidays: Vec<String>,
                #[serde(default)]
                holiday: Vec<Named>,
            }
            let f: File = toml::from_str(&text)
                .map_err(|e| config_error(path, e.to_string().trim().to_owned()))?;
            for (i, h) in f.holidays.iter().enumerate() {
                holidays.push(parse_date(path, &format!("holidays[{i}]"), h)?);
            }
            for (i, h) in f.holiday.iter().enumerate() {
                holidays.push(parse_date(path, &format!("holiday[{i}].date"), &h.date)?);
            }
        }
        self.calendar = Calendar::new(holidays);
        Ok(())
    }
}

/// Where the rules came from, for the manifest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConfigSource {
    /// `--deadlines` file.
    pub deadlines: Option<PathBuf>,
    /// `--holidays` file.
    pub holidays: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file(ext: &str, text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::Builder::new()
            .suffix(ext)
            .tempfile()
            .expect("temp");
        f.write_all(text.as_bytes()).expect("write");
        f
    }

    #[test]
    fn toml_rules_holidays_and_weights() {
        let f = file(
            ".toml",
            r#"
holidays = ["2025-04-17"]
[deadlines]
default_days = 10
warning_days = 6
alert_days = 8
[deadlines.categories."Baches"]
days = 15
[deadlines.categories."Alumbrado"]
days = 5
warning_days = 2
alert_days = 4
[recurrence]
days = 14
[attention]
min_reports = 3
[attention.weights]
density = 1
backlog = 0
overdue = 1
late = 1
recurrence = 0
trend = 0
"#,
        );
        let mut c = IndexConfig::new();
        c.read_deadlines(f.path()).expect("valid");
        assert_eq!(c.rule(None), Rule::default());
        assert_eq!(c.rule(Some("Otro")), Rule::default());
        assert_eq!(
            c.rule(Some("Baches")),
            Rule {
                days: 15,
                warning_days: 9,
                alert_days: 12
            }
        );
        assert_eq!(
            c.rule(Some("Alumbrado")),
            Rule {
                days: 5,
                warning_days: 2,
                alert_days: 4
            }
        );
        assert_eq!((c.recurrence_days, c.min_reports), (14, 3));
        assert_eq!(c.weights.backlog, 0.0);
        let h = file(
            ".csv",
            "date,name\n2025-04-18,Viernes Santo\n\n2025-05-01,Día del Trabajador\n",
        );
        c.read_holidays(h.path()).expect("valid");
        let holidays: Vec<String> = c.calendar.holidays().map(|d| d.to_string()).collect();
        assert_eq!(holidays, ["2025-04-17", "2025-04-18", "2025-05-01"]);
    }

    #[test]
    fn csv_rules_and_errors_name_the_line() {
        let f = file(
            ".csv",
            "category,days,warning_days,alert_days\n*,12,,\nBaches,20,10,15\n",
        );
        let mut c = IndexConfig::new();
        c.read_deadlines(f.path()).expect("valid");
        assert_eq!(
            c.rule(None),
            Rule {
                days: 12,
                warning_days: 7,
                alert_days: 10
            }
        );
        assert_eq!(c.rule(Some("Baches")).days, 20);

        let bad = file(".csv", "category,days\nBaches,diez\n");
        let e = IndexConfig::new()
            .read_deadlines(bad.path())
            .expect_err("bad");
        assert!(
            e.to_string().contains("line 2") && e.to_string().contains("diez"),
            "{e}"
        );
        let bad = file(".csv", "category,days,warning_days\nBaches,5,7\n");
        let e = IndexConfig::new()
            .read_deadlines(bad.path())
            .expect_err("bad");
        assert!(e.to_string().contains("warning_days <= alert_days"), "{e}");
        let bad = file(".toml", "[deadlines]\ndefault_dayz = 3\n");
        let e = IndexConfig::new()
            .read_deadlines(bad.path())
            .expect_err("bad");
        assert!(e.to_string().contains("default_dayz"), "{e}");
        let bad = file(".csv", "date\n2025-02-30\n");
        let e = IndexConfig::new()
            .read_holidays(bad.path())
            .expect_err("bad");
        assert!(
            e.to_string().contains("line 2") && e.to_string().contains("2025-02-30"),
            "{e}"
        );
    }
}
