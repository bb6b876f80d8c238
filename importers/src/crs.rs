//! Source coordinate reference systems and their transformation to EPSG:4326 with PROJ.

use std::cell::RefCell;

use gdal::spatial_ref::SpatialRef;
use proj::Proj;

/// A source CRS, identified as GDAL reads it and defined the way PROJ will use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crs {
    /// Authority code where one is known (`EPSG:2249`, `OGC:CRS84`), else the CRS's name.
    pub code: String,
    /// Human-readable name (`NAD83 / Massachusetts Mainland (ftUS)`).
    pub name: String,
    /// What PROJ is given: `EPSG:N` where the CRS is identified, else its PROJJSON.
    definition: String,
}

impl Crs {
    /// Reads a CRS given by the user (`EPSG:5367`, a WKT, a PROJ string, a .prj path).
    ///
    /// # Errors
    /// GDAL's or PROJ's message when the definition is unknown or cannot reach EPSG:4326.
    pub fn from_user_input(input: &str) -> Result<Crs, String> {
        // GDAL's messages about an unknown CRS go to the log (and this error), not to stderr.
        crate::gdal_log::install();
        let srs = SpatialRef::from_definition(input).map_err(|e| e.to_string())?;
        let crs = Crs::from_spatial_ref(&srs)?;
        crs.to_wgs84()?;
        Ok(crs)
    }

    pub(crate) fn from_spatial_ref(srs: &SpatialRef) -> Result<Crs, String> {
        let name = srs.name().unwrap_or_else(|| "unnamed".to_owned());
        let auth = srs.auth_name();
        let code = srs.auth_code().ok();
        let definition = match (&auth, code) {
            (Some(a), Some(c)) if a.eq_ignore_ascii_case("EPSG") => format!("EPSG:{c}"),
            _ => srs
                .to_projjson()
                .or_else(|_| srs.to_wkt())
                .map_err(|e| e.to_string())?,
        };
        let code = match (auth, code) {
            (Some(a), Some(c)) => format!("{a}:{c}"),
            (Some(a), None) if a.eq_ignore_ascii_case("OGC") => format!("OGC:{name}"),
            _ => name.clone(),
        };
        Ok(Crs {
            code,
            name,
            definition,
        })
    }

    /// WGS 84 (longitude, latitude), for sources whose coordinates are already lon/lat.
    pub fn wgs84() -> Crs {
        Crs {
            code: "EPSG:4326".into(),
            name: "WGS 84".into(),
            definition: "EPSG:4326".into(),
        }
    }

    /// A transformer from this CRS to EPSG:4326 in longitude/latitude order.
    ///
    /// # Errors
    /// PROJ's message when no transformation can be built.
    pub fn to_wgs84(&self) -> Result<Proj, String> {
        Proj::new_known_crs(&self.definition, "EPSG:4326", None).map_err(|e| e.to_string())
    }

    /// A transformer from EPSG:4326 (lon/lat) to this CRS.
    ///
    /// # Errors
    /// PROJ's message when no transformation can be built.
    pub fn from_wgs84(&self) -> Result<Proj, String> {
        Proj::new_known_crs("EPSG:4326", &self.definition, None).map_err(|e| e.to_string())
    }
}

thread_local! {
    /// `Proj` is neither `Send` nor `Sync`: each worker thread keeps its own, built once per CRS.
    static TO_WGS84: RefCell<Option<(String, Proj)>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's transformer from `crs` to EPSG:4326.
pub(crate) fn with_to_wgs84<R>(crs: &Crs, f: impl FnOnce(&Proj) -> R) -> Result<R, String> {
    TO_WGS84.with(|cell| {
        let mut slot = cell.borrow_mut();
        let fresh = !matches!(&*slot, Some((def, _)) if *def == crs.definition);
        if fresh {
            *slot = Some((crs.definition.clone(), crs.to_wgs84()?));
        }
        let (_, proj) = slot.as_ref().expect("transformer was just stored");
        Ok(f(proj))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epsg_codes_resolve_and_unknown_ones_fail_clearly() {
        let crs = Crs::from_user_input("EPSG:5367").expect("CR05 / CRTM05");
        assert_eq!(crs.code, "EPSG:5367");
        assert!(crs.name.contains("CRTM05"), "{}", crs.name);
        let err = Crs::from_user_input("EPSG:999999").expect_err("no such code");
        assert!(!err.is_empty());
    }

    #[test]
    fn crtm05_false_origin_maps_to_its_central_meridian() {
        // CRTM05: Transverse Mercator, central meridian 84°W, false easting 500 km.
        let crs = Crs::from_user_input("EPSG:5367").expect("known");
        let (lon, lat): (f64, f64) = with_to_wgs84(&crs, |p| p.convert((500_000.0, 1_100_000.0)))
            .expect("transformer")
            .expect("convert");
        // CR05 -> WGS 84 goes through a datum transformation of a few centimetres.
        assert!((lon + 84.0).abs() < 1e-5, "{lon}");
        assert!((9.9..10.0).contains(&lat), "{lat}");
    }
}
