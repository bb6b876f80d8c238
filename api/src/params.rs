//! Parsing of what a client puts in a URL: tile paths, tile filters and Open311 request queries.
//! Pure functions (no server state), so the fuzz targets (`fuzz/`) reach them directly.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use predio_tiles::TileCoord;

/// Most requests in one Open311 answer (the specification's customary limit).
pub const MAX_PAGE: usize = 1000;

/// `/tiles/{layer}/{z}/{x}/{y}.mvt`: the tile of the path's `z`, `x` and `y.mvt` (or `.pbf`).
///
/// # Errors
/// A message naming the part that is not a tile number or is out of range.
pub fn tile_path(z: &str, x: &str, file: &str) -> Result<TileCoord, String> {
    let y = file
        .strip_suffix(".mvt")
        .or_else(|| file.strip_suffix(".pbf"))
        .ok_or_else(|| format!("{file}: tiles end in .mvt (or .pbf)"))?;
    let number = |what: &str, s: &str| {
        if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("{what} {s:?} is not a tile number"));
        }
        s.parse::<u32>()
            .map_err(|_| format!("{what} {s:?} is not a tile number"))
    };
    let (z, x, y) = (number("z", z)?, number("x", x)?, number("y", y)?);
    let z = u8::try_from(z).map_err(|_| format!("zoom {z} is above 22"))?;
    TileCoord::new_checked(z, x, y).map_err(|e| e.to_string())
}

/// The `category` or `department` of a tile, TileJSON, style or legend request (not both).
///
/// # Errors
/// Both given.
pub fn dimension(q: &HashMap<String, String>) -> Result<Option<(String, String)>, String> {
    let pick = |k: &str| q.get(k).filter(|v| !v.is_empty()).cloned();
    match (pick("category"), pick("department")) {
        (Some(_), Some(_)) => Err(
            "give category or department, not both (the indices are by one or the other)".into(),
        ),
        (Some(c), None) => Ok(Some(("category".to_owned(), c))),
        (None, Some(d)) => Ok(Some(("department".to_owned(), d))),
        (None, None) => Ok(None),
    }
}

/// An Open311 `requests` query, checked.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RequestQuery {
    /// `service_request_id`: these, whatever the other parameters say (the specification).
    pub ids: Option<Vec<String>>,
    /// `service_code`s.
    pub codes: Option<Vec<String>>,
    /// `status`: `open` and/or `closed`.
    pub statuses: Option<Vec<String>>,
    /// `start_date`.
    pub start: Option<DateTime<Utc>>,
    /// `end_date`.
    pub end: Option<DateTime<Utc>>,
    /// `lat`, `long`, `radius` (metres).
    pub near: Option<(f64, f64, f64)>,
    /// Extension: `sector_id`.
    pub sector: Option<String>,
    /// Extension: `parcel_id`.
    pub parcel: Option<String>,
    /// `page`, from 1.
    pub page: usize,
    /// `page_size`, 1 to [`MAX_PAGE`].
    pub page_size: usize,
}

/// A w3c date-time as it is, or a date: its local midnight in `zone` (the catalog's).
fn date(name: &str, v: &str, zone: chrono_tz::Tz) -> Result<DateTime<Utc>, String> {
    use chrono::TimeZone as _;
    DateTime::parse_from_rfc3339(v)
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").map(|d| {
                let midnight = d.and_time(chrono::NaiveTime::MIN);
                zone.from_local_datetime(&midnight)
                    .earliest()
                    .map_or_else(|| midnight.and_utc(), |t| t.with_timezone(&Utc))
            })
        })
        .map_err(|_| {
            format!("{name}={v:?} is not a w3c date-time (e.g. 2025-06-01T00:00:00Z) or a date")
        })
}

fn num<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, String> {
    v.trim()
        .parse()
        .map_err(|_| format!("{name}={v:?} is not a number"))
}

fn list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl RequestQuery {
    /// Reads the query parameters of `requests.json|xml`.
    ///
    /// # Errors
    /// A message naming the parameter and what it must be.
    pub fn parse(q: &HashMap<String, String>) -> Result<Self, String> {
        Self::parse_in(q, chrono_tz::UTC)
    }

    /// [`RequestQuery::parse`] with dates given as days read as local days of `zone`.
    ///
    /// # Errors
    /// A message naming the parameter and what it must be.
    pub fn parse_in(q: &HashMap<String, String>, zone: chrono_tz::Tz) -> Result<Self, String> {
        let get = |k: &str| q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        let page: usize = get("page").map_or(Ok(1), |v| num("page", v))?;
        let page_size: usize = get("page_size").map_or(Ok(MAX_PAGE), |v| num("page_size", v))?;
        if page == 0 || page_size == 0 || page_size > MAX_PAGE {
            return Err(format!("page starts at 1 and page_size is 1 to {MAX_PAGE}"));
        }
        let statuses = get("status").map(list);
        if let Some(x) = statuses
            .iter()
            .flatten()
            .find(|x| !matches!(x.as_str(), "open" | "closed"))
        {
            return Err(format!("status {x:?}: open or closed"));
        }
        let start = get("start_date")
            .map(|v| date("start_date", v, zone))
            .transpose()?;
        let end = get("end_date")
            .map(|v| date("end_date", v, zone))
            .transpose()?;
        if let (Some(s), Some(e)) = (start, end) {
            if s > e {
                return Err("start_date is after end_date".into());
            }
        }
        let near = match (get("lat"), get("long")) {
            (None, None) => None,
            (Some(la), Some(lo)) => {
                let lat: f64 = num("lat", la)?;
                let lon: f64 = num("long", lo)?;
                let radius: f64 = get("radius").map_or(Ok(1000.0), |v| num("radius", v))?;
                if !((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)) {
                    return Err("lat must be within ±90 and long within ±180".into());
                }
                if !(radius > 0.0 && radius <= 50_000.0) {
                    return Err("radius is metres, over 0 and at most 50000".into());
                }
                Some((lat, lon, radius))
            }
            _ => return Err("give lat and long together".into()),
        };
        Ok(Self {
            ids: get("service_request_id").map(list),
            codes: get("service_code").map(list),
            statuses,
            start,
            end,
            near,
            sector: get("sector_id").map(str::to_owned),
            parcel: get("parcel_id").map(str::to_owned),
            page,
            page_size,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn tile_paths() {
        let t = tile_path("3", "7", "5.mvt").expect("ok");
        assert_eq!((t.z(), t.x(), t.y()), (3, 7, 5));
        assert!(tile_path("3", "8", "0.mvt").is_err());
        assert!(tile_path("23", "0", "0.mvt").is_err());
        assert!(
            tile_path("+3", "0", "0.mvt").is_err(),
            "a sign is not a tile number"
        );
        assert!(tile_path("3", "0", "0.png").is_err());
        assert!(tile_path("99999999999", "0", "0.mvt").is_err());
    }

    #[test]
    fn open311_queries() {
        let r = RequestQuery::parse(&q(&[
            ("status", "open, closed"),
            ("start_date", "2025-01-01"),
            ("end_date", "2025-02-01T00:00:00-06:00"),
            ("lat", "9.9"),
            ("long", "-84.1"),
        ]))
        .expect("ok");
        assert_eq!(r.statuses.as_deref().map(<[String]>::len), Some(2));
        assert_eq!(r.near, Some((9.9, -84.1, 1000.0)));
        assert_eq!(
            r.end.map(|e| e.to_rfc3339()),
            Some("2025-02-01T06:00:00+00:00".into())
        );
        for bad in [
            vec![("status", "pending")],
            vec![("page", "0")],
            vec![("page_size", "1001")],
            vec![("lat", "1")],
            vec![("lat", "91"), ("long", "0")],
            vec![("lat", "1"), ("long", "1"), ("radius", "NaN")],
            vec![("start_date", "2025-02-01"), ("end_date", "2025-01-01")],
            vec![("start_date", "yesterday")],
        ] {
            assert!(RequestQuery::parse(&q(&bad)).is_err(), "{bad:?}");
        }
    }
}
