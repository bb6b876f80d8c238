//! The H3 cells of the reports at the resolutions computed, from their points in spatial order.

use rayon::prelude::*;

use crate::report::columns::ReportColumns;
use crate::report::Location;

/// The H3 cells at `res` of the reports at `used` ([`cell_from`]; 0 for none).
///
/// A cell finer than the stored one is computed from the point, which is most of the work of
/// this (h3o takes some 400 ns a point: trigonometry, a projection onto the icosahedron's face).
/// Those points are taken in spatial order, by a grid of about a cell's size, through the
/// geocoder's cache of recent cells: a point inside one of them, clear of its edges, gets it
/// without the computation, and every other point is computed by h3o.
pub(super) fn cells_of(reports: &ReportColumns, used: &[u32], res: h3o::Resolution) -> Vec<u64> {
    // The stored cells (or their parents) side by side; a cell to compute from the point is
    // marked (no H3 index has every bit set) and left for below.
    const FROM_POINT: u64 = u64::MAX;
    let mut cells: Vec<u64> = used
        .par_iter()
        .map(|&i| {
            let i = i as usize;
            match cell_source(reports.location(i), reports.h3(i), reports.lon_lat(i), res) {
                CellSource::Stored(cell) => cell,
                CellSource::Point => FROM_POINT,
                CellSource::None => 0,
            }
        })
        .collect();
    let mut points: Vec<(u32, [f64; 2])> = Vec::new();
    for (at, cell) in cells.iter_mut().enumerate() {
        if *cell == FROM_POINT {
            *cell = 0;
            if let Some((lon, lat)) = reports.lon_lat(used[at] as usize) {
                points.push((at as u32, [lon, lat]));
            }
        }
    }
    if points.is_empty() {
        return cells;
    }
    // Row by row of a grid of about an edge's length (in degrees of latitude; as many of
    // longitude, narrower in metres away from the equator).
    let step = res.edge_length_m() / 111_000.0;
    let finite = |v: f64| if v.is_finite() { v } else { 0.0 };
    let (lon0, lat0, lon1) = points.iter().fold(
        (f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY),
        |(a, b, c), (_, [lon, lat])| {
            (
                a.min(finite(*lon)),
                b.min(finite(*lat)),
                c.max(finite(*lon)),
            )
        },
    );
    let columns = ((lon1 - lon0) / step) as u64 + 1;
    let points = crate::radix::sort_by_key(points, |(_, [lon, lat])| {
        let x = ((finite(*lon) - lon0) / step) as u64;
        let y = ((finite(*lat) - lat0) / step) as u64;
        y.saturating_mul(columns).saturating_add(x)
    });
    let found: Vec<(u32, u64)> = points
        .par_iter()
        .with_min_len(4096)
        .map_init(
            || crate::geocoder::CellCache::new(res),
            |cache, &(at, [lon, lat])| (at, cache.cell(lon, lat).unwrap_or(0)),
        )
        .collect();
    for (at, cell) in found {
        cells[at as usize] = cell;
    }
    cells
}

/// The reports' cells at `res`, coded in ascending order of cell (0 for a report without one)
/// by a radix sort of the located rows, with the distinct cells.
pub(super) fn coded_cells(
    reports: &ReportColumns,
    used: &[u32],
    res: h3o::Resolution,
) -> (Vec<u32>, Vec<u64>) {
    let cell = cells_of(reports, used, res);
    let first = cell.iter().copied().filter(|c| *c != 0).min().unwrap_or(0);
    // The digits finer than the resolution are all 7 (binary 111) in every cell:
    // shifted out, the key is a radix pass or two shorter.
    let shift = 3 * (15 - u32::from(u8::from(res)));
    let located: Vec<(u64, u32)> = cell
        .iter()
        .enumerate()
        .filter(|(_, c)| **c != 0)
        .map(|(i, c)| {
            debug_assert_eq!((c - first) % (1 << shift), 0, "a cell at {res}");
            ((c - first) >> shift, i as u32)
        })
        .collect();
    let mut code = vec![0u32; cell.len()];
    let mut distinct: Vec<u64> = Vec::new();
    for (key, i) in crate::radix::sort_by_key(located, |o| o.0) {
        let c = first + (key << shift);
        if distinct.last() != Some(&c) {
            distinct.push(c);
        }
        code[i as usize] = distinct.len() as u32;
    }
    (code, distinct)
}

/// The report's H3 cell at `res` ([`cell_from`]; the reference's).
#[cfg(test)]
pub(super) fn cell_at(r: &crate::report::Report, res: h3o::Resolution) -> Option<u64> {
    cell_from(r.location, r.h3.map(u64::from), r.lon.zip(r.lat), res)
}

/// Where a report's cell at a resolution comes from.
enum CellSource {
    /// The stored cell, or its parent.
    Stored(u64),
    /// The report's point: the stored cell is coarser, or there is none.
    Point,
    /// Not located.
    None,
}

/// Where the H3 cell at `res` of a report located so, with its `stored` cell and its point
/// (longitude, latitude), comes from: the stored cell's parent when it is at least as fine,
/// else the point.
fn cell_source(
    location: Location,
    stored: Option<u64>,
    point: Option<(f64, f64)>,
    res: h3o::Resolution,
) -> CellSource {
    if !location.has_point() {
        return CellSource::None;
    }
    if let Some(cell) = stored.and_then(|c| h3o::CellIndex::try_from(c).ok()) {
        if cell.resolution() >= res {
            return cell
                .parent(res)
                .map_or(CellSource::None, |p| CellSource::Stored(u64::from(p)));
        }
    }
    if point.is_some() {
        CellSource::Point
    } else {
        CellSource::None
    }
}

/// The H3 cell at `res` of a report located so ([`cell_source`]), computed by h3o.
#[cfg(test)]
pub(super) fn cell_from(
    location: Location,
    stored: Option<u64>,
    point: Option<(f64, f64)>,
    res: h3o::Resolution,
) -> Option<u64> {
    match cell_source(location, stored, point, res) {
        CellSource::Stored(cell) => Some(cell),
        CellSource::Point => point
            .and_then(|(lon, lat)| h3o::LatLng::new(lat, lon).ok())
            .map(|ll| u64::from(ll.to_cell(res))),
        CellSource::None => None,
    }
}
