//! The sample town: a deterministic, realistic municipality for the demo, the tests and the
//! benches. A rotated street grid of blocks, each split into lots of varied frontage with
//! slanted shared boundaries (some blocks whole, some with a courtyard parcel inside a parcel
//! with a hole), sectors (barrios) that follow street centre lines, and a year of citizen
//! reports with their lifecycle and the reporters' personal data (to prove it never leaks).
//!
//! Parcels and sectors are written as ESRI Shapefiles in EPSG:5367 (CR05 / CRTM05, the
//! Costa Rican national projection) with `.prj` and `.cpg`; reports as a CSV in WGS 84.

use std::fs;
use std::path::{Path, PathBuf};

use gdal::spatial_ref::SpatialRef;
use gdal::vector::{
    Feature, FieldDefn, Geometry, LayerAccess, LayerOptions, OGRFieldType, OGRwkbGeometryType,
};
use gdal::DriverManager;
use geo::{Area, Coord, LineString, MultiPolygon, Polygon};

use geozero::{CoordDimensions, ToWkb};

use crate::error::{Error, Result};
use crate::rng::SplitMix64;

mod reports;

/// EPSG code of the sample town's CRS: CR05 / CRTM05 (Costa Rica).
pub const SAMPLE_EPSG: u32 = 5367;

/// Options of `predio sample`.
#[derive(Debug, Clone)]
pub struct SampleOptions {
    /// Folder to write into (created).
    pub out: PathBuf,
    /// Number of parcels.
    pub parcels: usize,
    /// Number of reports (default: twice the parcels).
    pub reports: Option<usize>,
    /// Seed: the same seed gives the same town.
    pub seed: u64,
}

/// What was written.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleSummary {
    /// `parcels.shp`.
    pub parcels_path: PathBuf,
    /// `sectors.shp`.
    pub sectors_path: PathBuf,
    /// `reports.csv`.
    pub reports_path: PathBuf,
    /// Parcels written.
    pub parcels: usize,
    /// Sectors written.
    pub sectors: usize,
    /// Reports written.
    pub reports: usize,
}

// Town layout, metres in CRTM05. The origin lies in San José's valley.
const ORIGIN: (f64, f64) = (488_500.0, 1_095_500.0);
const ROTATION_DEG: f64 = 7.0;
const BLOCK_W: f64 = 96.0;
const BLOCK_D: f64 = 72.0;
const STREET: f64 = 14.0;
const PITCH_X: f64 = BLOCK_W + STREET;
const PITCH_Y: f64 = BLOCK_D + STREET;
const MEAN_PARCELS_PER_BLOCK: f64 = 13.0;
const BLOCKS_PER_SECTOR: f64 = 150.0;

pub(crate) struct Town {
    cos: f64,
    sin: f64,
}

impl Town {
    fn new() -> Self {
        let r = ROTATION_DEG.to_radians();
        Town {
            cos: r.cos(),
            sin: r.sin(),
        }
    }

    /// Town-local metres to CRTM05.
    pub(crate) fn world(&self, x: f64, y: f64) -> Coord<f64> {
        Coord {
            x: ORIGIN.0 + x * self.cos - y * self.sin,
            y: ORIGIN.1 + x * self.sin + y * self.cos,
        }
    }

    fn ring(&self, pts: &[(f64, f64)]) -> LineString<f64> {
        let mut c: Vec<Coord<f64>> = pts.iter().map(|&(x, y)| self.world(x, y)).collect();
        c.push(c[0]);
        LineString(c)
    }
}

/// Which side of the block a lot faces: where its street frontage is.
#[derive(Clone, Copy)]
pub(crate) enum Front {
    South,
    North,
    Whole,
}

pub(crate) struct Lot {
    pub(crate) geometry: MultiPolygon<f64>,
    block: (usize, usize),
    pub(crate) front: Front,
    /// Local (x0, x1, y0, y1) extent of the lot for placing report points.
    pub(crate) local: (f64, f64, f64, f64),
    uso: &'static str,
}

fn subdivide_block(town: &Town, rng: &mut SplitMix64, bi: usize, bj: usize, out: &mut Vec<Lot>) {
    let (ox, oy) = (bi as f64 * PITCH_X, bj as f64 * PITCH_Y);
    let r = rng.unit();
    if r < 0.05 {
        // A whole-block institution: a school, a market; sometimes with a courtyard parcel.
        let outer = [
            (ox, oy),
            (ox + BLOCK_W, oy),
            (ox + BLOCK_W, oy + BLOCK_D),
            (ox, oy + BLOCK_D),
        ];
        if r < 0.02 {
            let (cx, cy) = (ox + BLOCK_W / 2.0, oy + BLOCK_D / 2.0);
            // Interior ring clockwise, as OGC wants.
            let hole = [
                (cx - 15.0, cy - 10.0),
                (cx - 15.0, cy + 10.0),
                (cx + 15.0, cy + 10.0),
                (cx + 15.0, cy - 10.0),
            ];
            let ccw_hole: Vec<(f64, f64)> = hole.iter().rev().copied().collect();
            out.push(Lot {
                geometry: MultiPolygon(vec![Polygon::new(
                    town.ring(&outer),
                    vec![town.ring(&hole)],
                )]),
                block: (bi, bj),
                front: Front::Whole,
                local: (ox, ox + BLOCK_W, oy, oy + 20.0),
                uso: "institucional",
            });
            out.push(Lot {
                geometry: MultiPolygon(vec![Polygon::new(town.ring(&ccw_hole), vec![])]),
                block: (bi, bj),
                front: Front::Whole,
                local: (cx - 15.0, cx + 15.0, cy - 10.0, cy + 10.0),
                uso: "institucional",
            });
        } else {
            out.push(Lot {
                geometry: MultiPolygon(vec![Polygon::new(town.ring(&outer), vec![])]),
                block: (bi, bj),
                front: Front::Whole,
                local: (ox, ox + BLOCK_W, oy, oy + BLOCK_D),
                uso: if r < 0.035 {
                    "institucional"
                } else {
                    "comercial"
                },
            });
        }
        return;
    }
    // Cuts across the block: bottom x and a slant, shared by neighbouring lots.
    let mut cuts = vec![(0.0, 0.0)];
    let mut x = 0.0;
    loop {
        let w = 7.0 + 17.0 * rng.unit().powf(1.6);
        if x + w > BLOCK_W - 7.0 {
            break;
        }
        x += w;
        cuts.push((x, rng.range(-2.0, 2.0)));
    }
    cuts.push((BLOCK_W, 0.0));
    let mid = BLOCK_D / 2.0 + rng.range(-3.0, 3.0);
    let m = mid / BLOCK_D;
    let uso = |rng: &mut SplitMix64| -> &'static str {
        match rng.weighted(&[70.0, 15.0, 8.0, 4.0]) {
            0 => "residencial",
            1 => "comercial",
            2 => "mixto",
            _ => "baldío",
        }
    };
    for w in cuts.windows(2) {
        let ((a, sa), (b, sb)) = (w[0], w[1]);
        let pts_at = |f: f64| (ox + a + sa * f, ox + b + sb * f);
        let (a0, b0) = pts_at(0.0);
        let (am, bm) = pts_at(m);
        let (a1, b1) = pts_at(1.0);
        let (y0, ym, y1) = (oy, oy + mid, oy + BLOCK_D);
        if rng.unit() < 0.06 {
            // A through lot from street to street.
            let ring = town.ring(&[(a0, y0), (b0, y0), (bm, ym), (b1, y1), (a1, y1), (am, ym)]);
            out.push(Lot {
                geometry: MultiPolygon(vec![Polygon::new(ring, vec![])]),
                block: (bi, bj),
                front: Front::South,
                local: (a0, b0, y0, y1),
                uso: uso(rng),
            });
            continue;
        }
        let south = town.ring(&[(a0, y0), (b0, y0), (bm, ym), (am, ym)]);
        let north = town.ring(&[(am, ym), (bm, ym), (b1, y1), (a1, y1)]);
        out.push(Lot {
            geometry: MultiPolygon(vec![Polygon::new(south, vec![])]),
            block: (bi, bj),
            front: Front::South,
            local: (a0, b0, y0, ym),
            uso: uso(rng),
        });
        out.push(Lot {
            geometry: MultiPolygon(vec![Polygon::new(north, vec![])]),
            block: (bi, bj),
            front: Front::North,
            local: (a1, b1, ym, y1),
            uso: uso(rng),
        });
    }
}

const BARRIOS: [&str; 40] = [
    "Barrio Amón",
    "Barrio Otoya",
    "Barrio Aranjuez",
    "Barrio Escalante",
    "Los Yoses",
    "La California",
    "Barrio Luján",
    "Barrio La Cruz",
    "Barrio Cristo Rey",
    "Barrio México",
    "Barrio Don Bosco",
    "Paso de la Vaca",
    "La Sabana",
    "Rohrmoser",
    "Pavas Centro",
    "Hatillo",
    "San Sebastián",
    "Paso Ancho",
    "Barrio Naciones Unidas",
    "Zapote",
    "San Francisco",
    "Curridabat Centro",
    "Granadilla",
    "Tirrases",
    "Guadalupe",
    "Moravia",
    "San Vicente",
    "Tibás",
    "Cinco Esquinas",
    "Llorente",
    "Barrio Córdoba",
    "Barrio Pinto",
    "El Carmen",
    "Merced",
    "Catedral",
    "Hospital",
    "Mata Redonda",
    "Uruca",
    "Barrio Francisco Peralta",
    "Barrio Los Ángeles",
];

struct SectorCell {
    name: String,
    code: String,
    blocks: (usize, usize, usize, usize),
    geometry: MultiPolygon<f64>,
    population: f64,
}

fn wkb_of(path: &Path, g: &MultiPolygon<f64>) -> Result<Geometry> {
    let wkb = geo::Geometry::MultiPolygon(g.clone())
        .to_wkb(CoordDimensions::xy())
        .map_err(|e| Error::Write {
            path: path.into(),
            message: e.to_string(),
        })?;
    Geometry::from_wkb(&wkb).map_err(|e| Error::Write {
        path: path.into(),
        message: e.to_string(),
    })
}

/// A value for one field of a shapefile feature.
enum Cell<'a> {
    Text(&'a str),
    Int(i32),
    Real(f64),
}

fn write_shapefile<'a>(
    path: &Path,
    fields: &[(&str, OGRFieldType::Type, i32)],
    rows: impl Iterator<Item = (&'a MultiPolygon<f64>, Vec<Cell<'a>>)>,
) -> Result<()> {
    let err = |e: gdal::errors::GdalError| Error::Write {
        path: path.into(),
        message: e.to_string(),
    };
    let driver = DriverManager::get_driver_by_name("ESRI Shapefile").map_err(err)?;
    let mut ds = driver.create_vector_only(path).map_err(err)?;
    let srs = SpatialRef::from_epsg(SAMPLE_EPSG).map_err(err)?;
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("layer");
    let layer = ds
        .create_layer(LayerOptions {
            name: stem,
            srs: Some(&srs),
            ty: OGRwkbGeometryType::wkbPolygon,
            options: Some(&["ENCODING=UTF-8"]),
        })
        .map_err(err)?;
    for (name, kind, width) in fields {
        let def = FieldDefn::new(name, *kind).map_err(err)?;
        if *width > 0 {
            def.set_width(*width);
        }
        def.add_to_layer(&layer).map_err(err)?;
    }
    for (geometry, cells) in rows {
        let mut feature = Feature::new(layer.defn()).map_err(err)?;
        feature.set_geometry(wkb_of(path, geometry)?).map_err(err)?;
        for (i, cell) in cells.iter().enumerate() {
            match cell {
                Cell::Text(s) => feature.set_field_string(i, s),
                Cell::Int(v) => feature.set_field_integer(i, *v),
                Cell::Real(v) => feature.set_field_double(i, *v),
            }
            .map_err(err)?;
        }
        feature.create(&layer).map_err(err)?;
    }
    Ok(())
}

/// Generates the sample town into `options.out`.
///
/// # Errors
/// Files that cannot be written.
#[tracing::instrument(skip_all, fields(parcels = options.parcels, seed = options.seed))]
pub fn generate_sample(options: &SampleOptions) -> Result<SampleSummary> {
    let out = &options.out;
    fs::create_dir_all(out).map_err(|e| Error::Write {
        path: out.clone(),
        message: e.to_string(),
    })?;
    let town = Town::new();
    let mut rng = SplitMix64::new(options.seed);
    let n = options.parcels.max(1);
    let blocks_needed = (n as f64 / MEAN_PARCELS_PER_BLOCK).ceil().max(1.0);
    let cols = blocks_needed.sqrt().ceil() as usize;

    let mut lots: Vec<Lot> = Vec::with_capacity(n + 16);
    let mut b = 0usize;
    while lots.len() < n {
        subdivide_block(&town, &mut rng, b % cols, b / cols, &mut lots);
        b += 1;
    }
    lots.truncate(n);
    let rows = lots.last().map_or(1, |l| l.block.1 + 1);

    let mut sectors = sector_grid(&town, cols, rows);
    let sector_of = |block: (usize, usize)| -> usize {
        sectors
            .iter()
            .position(|s| {
                block.0 >= s.blocks.0
                    && block.0 < s.blocks.1
                    && block.1 >= s.blocks.2
                    && block.1 < s.blocks.3
            })
            .unwrap_or(0)
    };
    let lot_sector: Vec<usize> = lots.iter().map(|l| sector_of(l.block)).collect();
    // Land value and density differ by barrio.
    let sector_value: Vec<f64> = (0..sectors.len())
        .map(|_| 60_000.0 * (0.5 * rng.normal()).exp())
        .collect();
    let mut residents = vec![0.0; sectors.len()];
    for (lot, &s) in lots.iter().zip(&lot_sector) {
        if lot.uso == "residencial" || lot.uso == "mixto" {
            residents[s] += 3.1 * (0.3 * rng.normal()).exp();
        }
    }
    for (s, r) in sectors.iter_mut().zip(&residents) {
        s.population = r.round();
    }

    let parcels_path = out.join("parcels.shp");
    write_parcels(&parcels_path, &lots, &lot_sector, &sector_value, &mut rng)?;

    let sectors_path = out.join("sectors.shp");
    write_sectors(&sectors_path, &sectors)?;

    let reports_path = out.join("reports.csv");
    let reports = options.reports.unwrap_or(2 * n);
    let (hall_lat, hall_lon) = reports::write_reports(
        &reports_path,
        &mut rng,
        &town,
        &lots,
        &lot_sector,
        sectors.len(),
        reports,
    )?;
    let mapping_path = out.join("reports-mapping.toml");
    let mapping = format!(
        "{}\n# The town hall: where the system puts reports it cannot locate.\n[location]\ndefault_points = [[{hall_lat}, {hall_lon}]]\n",
        reports::MAPPING
    );
    fs::write(&mapping_path, mapping).map_err(|e| Error::Write {
        path: mapping_path.clone(),
        message: e.to_string(),
    })?;

    Ok(SampleSummary {
        parcels_path,
        sectors_path,
        reports_path,
        parcels: lots.len(),
        sectors: sectors.len(),
        reports,
    })
}

/// The sectors: a grid of barrios along street centre lines, about `BLOCKS_PER_SECTOR` blocks
/// each, over the `cols` × `rows` blocks of the town.
fn sector_grid(town: &Town, cols: usize, rows: usize) -> Vec<SectorCell> {
    let target = ((cols * rows) as f64 / BLOCKS_PER_SECTOR).round().max(4.0);
    let (sx, sy) = {
        let sx = (target.sqrt() * (cols as f64 / rows as f64).sqrt())
            .round()
            .clamp(1.0, cols as f64) as usize;
        let sy = (target / sx as f64).round().clamp(1.0, rows as f64) as usize;
        (sx, sy)
    };
    let edges = |count: usize, parts: usize| -> Vec<usize> {
        (0..=parts).map(|k| k * count / parts).collect()
    };
    let (ex, ey) = (edges(cols, sx), edges(rows, sy));
    let mut sectors = Vec::with_capacity(sx * sy);
    for j in 0..sy {
        for i in 0..sx {
            let (i0, i1, j0, j1) = (ex[i], ex[i + 1], ey[j], ey[j + 1]);
            let h = STREET / 2.0;
            let (x0, x1) = (i0 as f64 * PITCH_X - h, i1 as f64 * PITCH_X - h);
            let (y0, y1) = (j0 as f64 * PITCH_Y - h, j1 as f64 * PITCH_Y - h);
            let k = sectors.len();
            let base = BARRIOS[k % BARRIOS.len()];
            let name = match k / BARRIOS.len() {
                0 => base.to_owned(),
                r => format!("{base} {}", r + 1),
            };
            sectors.push(SectorCell {
                name,
                code: format!("B{:03}", k + 1),
                blocks: (i0, i1, j0, j1),
                geometry: MultiPolygon(vec![Polygon::new(
                    town.ring(&[(x0, y0), (x1, y0), (x1, y1), (x0, y1)]),
                    vec![],
                )]),
                population: 0.0,
            });
        }
    }
    sectors
}

/// A lot's finca number (its registry number in the Registro Nacional's style).
pub(crate) fn finca(i: usize) -> String {
    format!("1{:07}-000", i + 1)
}

/// A lot's address: the street its frontage is on and its number. Streets run east–west
/// between block rows ("Calle 1" south of the first row); numbers grow eastward, even on the
/// street's north side (lots facing south), odd on its south side; a lot spanning its block's
/// width (a school, a market) has the range of its frontage ("Calle 3 120-216").
pub(crate) fn address(lot: &Lot) -> String {
    let (x0, x1, _, _) = lot.local;
    let number = |x: f64| 2 * (x / 5.0).round() as i64;
    match lot.front {
        Front::South => format!("Calle {} {}", lot.block.1 + 1, number(x0)),
        Front::North => format!("Calle {} {}", lot.block.1 + 2, number(x0) + 1),
        Front::Whole => format!(
            "Calle {} {}-{}",
            lot.block.1 + 1,
            number(x0),
            number(x1) - 2
        ),
    }
}

/// Writes the parcels' shapefile: each lot with its finca number, address, land use,
/// registered area (the drawn one with a small error), land value (its barrio's, varied) and
/// floors.
fn write_parcels(
    path: &Path,
    lots: &[Lot],
    lot_sector: &[usize],
    sector_value: &[f64],
    rng: &mut SplitMix64,
) -> Result<()> {
    let fincas: Vec<String> = (0..lots.len()).map(finca).collect();
    let addresses: Vec<String> = lots.iter().map(address).collect();
    let attrs: Vec<(f64, i32, i32)> = lots
        .iter()
        .zip(lot_sector)
        .map(|(l, &s)| {
            let area = l.geometry.unsigned_area();
            let registered = (area * (1.0 + 0.03 * rng.normal()) * 100.0).round() / 100.0;
            let value = (sector_value[s] * (0.2 * rng.normal()).exp()) as i32;
            let floors = 1 + rng.weighted(&[55.0, 30.0, 10.0, 5.0]) as i32;
            (registered, value, floors)
        })
        .collect();
    write_shapefile(
        path,
        &[
            ("finca", OGRFieldType::OFTString, 16),
            ("direccion", OGRFieldType::OFTString, 32),
            ("uso", OGRFieldType::OFTString, 16),
            ("area_reg", OGRFieldType::OFTReal, 0),
            ("valor_m2", OGRFieldType::OFTInteger, 0),
            ("niveles", OGRFieldType::OFTInteger, 0),
        ],
        lots.iter()
            .zip(fincas.iter().zip(&addresses))
            .zip(&attrs)
            .map(|((l, (finca, address)), (area, value, floors))| {
                (
                    &l.geometry,
                    vec![
                        Cell::Text(finca),
                        Cell::Text(address),
                        Cell::Text(l.uso),
                        Cell::Real(*area),
                        Cell::Int(*value),
                        Cell::Int(*floors),
                    ],
                )
            }),
    )
}

/// Writes the sectors' shapefile: code, name and population.
fn write_sectors(path: &Path, sectors: &[SectorCell]) -> Result<()> {
    write_shapefile(
        path,
        &[
            ("codigo", OGRFieldType::OFTString, 8),
            ("nombre", OGRFieldType::OFTString, 60),
            ("poblacion", OGRFieldType::OFTInteger, 0),
        ],
        sectors.iter().map(|s| {
            (
                &s.geometry,
                vec![
                    Cell::Text(&s.code),
                    Cell::Text(&s.name),
                    Cell::Int(s.population as i32),
                ],
            )
        }),
    )
}
