//! A year of citizen reports for the sample town, with lifecycle times, statuses in the
//! municipality's own words, and personal data that predio must keep out of public outputs.

use std::path::Path;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Weekday};

use super::{Front, Lot, Town};
use crate::crs::Crs;
use crate::error::{Error, Result};
use crate::rng::SplitMix64;

/// Category, department, share of reports, median days to resolve, description templates
/// (`{}` stands for a neighbour's surname: free text that names people).
const CATEGORIES: [(&str, &str, f64, f64, [&str; 2]); 11] = [
    (
        "Bache",
        "Obras Viales",
        22.0,
        8.0,
        [
            "Hueco grande en la calle",
            "Bache frente a la casa de la familia {}",
        ],
    ),
    (
        "Alumbrado público",
        "Alumbrado",
        18.0,
        4.0,
        [
            "Lámpara apagada desde hace días",
            "Poste sin luz diagonal a donde {}",
        ],
    ),
    (
        "Recolección de residuos",
        "Gestión Ambiental",
        16.0,
        2.0,
        [
            "No pasó el camión de basura",
            "Basura acumulada al lado de la casa de {}",
        ],
    ),
    (
        "Limpieza de vías y lotes",
        "Servicios Urbanos",
        9.0,
        6.0,
        [
            "Lote baldío con maleza alta",
            "Caño sucio frente a donde vive {}",
        ],
    ),
    (
        "Alcantarillado pluvial",
        "Obras Viales",
        8.0,
        12.0,
        [
            "Alcantarilla tapada, se inunda con la lluvia",
            "Tragante sin tapa cerca de la pulpería de {}",
        ],
    ),
    (
        "Árbol caído o poda",
        "Gestión Ambiental",
        7.0,
        7.0,
        [
            "Árbol con ramas sobre el tendido eléctrico",
            "Árbol caído en el patio de {}",
        ],
    ),
    (
        "Aceras en mal estado",
        "Obras Viales",
        6.0,
        15.0,
        [
            "Acera quebrada, peligro para peatones",
            "Acera destruida frente al taller de {}",
        ],
    ),
    (
        "Ruido",
        "Control Urbano",
        5.0,
        5.0,
        [
            "Música a alto volumen de noche",
            "Ruido constante del local de {}",
        ],
    ),
    (
        "Construcción sin permiso",
        "Control Urbano",
        4.0,
        20.0,
        [
            "Construcción sin rótulo de permiso",
            "El vecino {} construye sobre la acera",
        ],
    ),
    (
        "Señalización vial",
        "Obras Viales",
        3.0,
        9.0,
        [
            "Falta señal de alto en la esquina",
            "Señal caída frente a la casa de {}",
        ],
    ),
    (
        "Parques y zonas verdes",
        "Servicios Urbanos",
        2.0,
        10.0,
        [
            "Juegos infantiles dañados en el parque",
            "Zona verde sin chapear, detrás de la casa de {}",
        ],
    ),
];

/// The mapping that reads `reports.csv` (`predio import reports reports.csv --mapping ...`).
pub(super) const MAPPING: &str = r#"# Mapping of the sample town's reports.csv for `predio import reports --format csv`.
[source]
timezone = "America/Costa_Rica"
datetime_formats = ["%Y-%m-%d %H:%M"]

[columns]
id = "id_reporte"
created_at = "fecha_creacion"
acknowledged_at = "fecha_atencion"
closed_at = "fecha_cierre"
status = "estado"
category = "categoria"
department = "departamento"
channel = "canal"
lat = "latitud"
lon = "longitud"
# reports taken at the counter or by phone without coordinates: located by the parcel's finca
# or its address against the cadastre's (import parcels --address-field direccion)
address = "direccion"
parcel_ref = "finca"

[status]
"Abierto" = "open"
"En proceso" = "in_progress"
"Resuelto" = "resolved"
"Rechazado" = "rejected"
"Duplicado" = "duplicate"
"Cerrado sin solución" = "resolved:closed_not_fixed"

# Personal data and free text: never read into predio's tables.
[private]
columns = ["nombre", "correo", "telefono", "descripcion"]
"#;

/// Where the town's system puts reports it cannot locate: the town hall, in local metres.
pub(super) const TOWN_HALL_LOCAL: (f64, f64) = (0.0, 0.0);

const FIRST: [&str; 16] = [
    "María", "José", "Ana", "Luis", "Carmen", "Carlos", "Rosa", "Jorge", "Laura", "Manuel",
    "Sofía", "Andrés", "Daniela", "Fernando", "Lucía", "Óscar",
];
const SURNAMES: [&str; 16] = [
    "Rodríguez",
    "Vargas",
    "Jiménez",
    "Mora",
    "Rojas",
    "Solís",
    "Quesada",
    "Araya",
    "Castro",
    "Chaves",
    "Ramírez",
    "Arias",
    "Alfaro",
    "Calderón",
    "Brenes",
    "Zúñiga",
];
const CHANNELS: [(&str, f64); 5] = [
    ("app", 45.0),
    ("web", 20.0),
    ("teléfono", 20.0),
    ("ventanilla", 10.0),
    ("redes sociales", 5.0),
];

fn ascii(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'á' | 'Á' => 'a',
            'é' | 'É' => 'e',
            'í' | 'Í' => 'i',
            'ó' | 'Ó' => 'o',
            'ú' | 'Ú' => 'u',
            'ñ' | 'Ñ' => 'n',
            other => other.to_ascii_lowercase(),
        })
        .collect()
}

fn fmt(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

/// Writes `count` reports over the lots as `reports.csv`.
pub(super) fn write_reports(
    path: &Path,
    rng: &mut SplitMix64,
    town: &Town,
    lots: &[Lot],
    lot_sector: &[usize],
    sectors: usize,
    count: usize,
) -> Result<(f64, f64)> {
    let err = |e: &dyn std::fmt::Display| Error::Write {
        path: path.into(),
        message: e.to_string(),
    };
    let to_wgs84 = Crs::from_user_input(&format!("EPSG:{}", super::SAMPLE_EPSG))
        .and_then(|c| c.to_wgs84())
        .map_err(|e| err(&e))?;

    let mut by_sector: Vec<Vec<usize>> = vec![Vec::new(); sectors];
    for (i, &s) in lot_sector.iter().enumerate() {
        by_sector[s].push(i);
    }
    // Barrios differ in how much they report; some have hot spots of one category, and in some
    // the lighting complaints rise through the year (a trend for the planners to find).
    let intensity: Vec<f64> = (0..sectors).map(|_| (0.6 * rng.normal()).exp()).collect();
    let hot: Vec<Vec<f64>> = (0..sectors)
        .map(|_| {
            CATEGORIES
                .iter()
                .map(|_| if rng.unit() < 0.05 { 4.0 } else { 1.0 })
                .collect()
        })
        .collect();
    let rising: Vec<bool> = (0..sectors).map(|_| rng.unit() < 0.08).collect();
    let cumulative: Vec<Vec<f64>> = (0..CATEGORIES.len())
        .map(|c| {
            let mut acc = 0.0;
            (0..sectors)
                .map(|s| {
                    acc += intensity[s] * hot[s][c] * by_sector[s].len() as f64;
                    acc
                })
                .collect()
        })
        .collect();
    let category_weights: Vec<f64> = CATEGORIES.iter().map(|c| c.2).collect();
    let channel_weights: Vec<f64> = CHANNELS.iter().map(|c| c.1).collect();
    // The reports of 2025, exported on 5 January 2026.
    let (start, export) = (midnight(2025, 1, 1), midnight(2026, 1, 5));
    // The town hall: where systems put reports whose location is unknown.
    let (hall_lon, hall_lat) = {
        let c = town.world(TOWN_HALL_LOCAL.0, TOWN_HALL_LOCAL.1);
        to_wgs84.convert((c.x, c.y)).map_err(|e| err(&e))?
    };

    let mut w = csv::Writer::from_path(path).map_err(|e| err(&e))?;
    w.write_record(HEADER).map_err(|e| err(&e))?;
    for k in 0..count {
        let c = rng.weighted(&category_weights);
        let (category, department, _, median_days, templates) = CATEGORIES[c];
        let cum = &cumulative[c];
        let total = cum.last().copied().unwrap_or(0.0);
        let x = rng.unit() * total;
        let s = cum.partition_point(|v| *v <= x).min(sectors - 1);
        let lot_index = by_sector[s][rng.below(by_sector[s].len())];
        let lot = &lots[lot_index];

        let created = created_at(rng, start, c == 1 && rising[s]);

        let (ack, status, closed) = outcome(rng, created, median_days, export);

        let (mut lat, mut lon) = location(rng, lot, (hall_lat, hall_lon), |x, y| {
            let p = town.world(x, y);
            to_wgs84.convert((p.x, p.y)).map_err(|e| err(&e))
        })?;

        let (description, name, email, phone) = reporter(rng, templates);
        let channel = CHANNELS[rng.weighted(&channel_weights)].0;
        // Half the reports taken by phone or at the counter carry no coordinates: the lot's
        // finca or address as the clerk typed it (drawn apart, so the town is otherwise the same).
        let (mut direccion, mut finca) = (String::new(), String::new());
        if matches!(channel, "teléfono" | "ventanilla") {
            let mut side = SplitMix64::new(0xADD2_E550 ^ k as u64);
            if side.unit() < 0.5 {
                (lat, lon) = (String::new(), String::new());
                (direccion, finca) = counter_location(&mut side, lot, lot_index);
            }
        }
        w.write_record([
            format!("R-{:07}", k + 1),
            fmt(created),
            ack.map(fmt).unwrap_or_default(),
            closed.map(fmt).unwrap_or_default(),
            status.to_owned(),
            category.to_owned(),
            department.to_owned(),
            channel.to_owned(),
            description,
            lat,
            lon,
            name,
            email,
            phone,
            direccion,
            finca,
        ])
        .map_err(|e| err(&e))?;
    }
    w.flush().map_err(|e| err(&e))?;
    // As written in the CSV (7 decimals), so the mapping names exactly that point.
    let round = |v: f64| (v * 1e7).round() / 1e7;
    Ok((round(hall_lat), round(hall_lon)))
}

/// What became of a report by the export: its acknowledgement, its status label and when it
/// was closed (most resolved; rejected and duplicates sooner).
fn outcome(
    rng: &mut SplitMix64,
    created: NaiveDateTime,
    median_days: f64,
    export: NaiveDateTime,
) -> (Option<NaiveDateTime>, &'static str, Option<NaiveDateTime>) {
    let ack = created + Duration::minutes((20.0 * 60.0 * (1.0 * rng.normal()).exp()) as i64);
    let ack = (ack < export).then_some(ack);
    let outcome = rng.weighted(&[88.0, 5.0, 4.0, 3.0]);
    let speed = if outcome == 1 || outcome == 2 {
        0.3
    } else {
        1.0
    };
    let hours = median_days * 24.0 * 1.4 * speed * (0.9 * rng.normal()).exp();
    let closed = created + Duration::minutes((hours * 60.0) as i64);
    let (status, closed) = if closed < export {
        (
            ["Resuelto", "Rechazado", "Duplicado", "Cerrado sin solución"][outcome],
            Some(closed),
        )
    } else if ack.is_some() {
        ("En proceso", None)
    } else {
        ("Abierto", None)
    };
    (ack, status, closed)
}

/// How a clerk writes where a report without coordinates is: the finca (as registered, or
/// with a space for the dash, or zero-padded) or the address (as the cadastre has it, with a
/// unit, with a letter of the street type wrong, the number moved by 2, or in lower case).
fn counter_location(rng: &mut SplitMix64, lot: &Lot, index: usize) -> (String, String) {
    let finca = super::finca(index);
    if rng.unit() < 0.3 {
        let written = match rng.below(3) {
            0 => finca,
            1 => finca.replace('-', " "),
            _ => format!("0{finca}"),
        };
        return (String::new(), written);
    }
    let address = super::address(lot);
    let written = match rng.weighted(&[55.0, 15.0, 10.0, 10.0, 10.0]) {
        0 => address,
        1 => format!("{address} Apto {}", 1 + rng.below(6)),
        2 => address.replacen("Calle", "Cale", 1),
        3 => {
            let (street, number) = address.rsplit_once(' ').unwrap_or((&address, ""));
            match number.parse::<i64>() {
                Ok(n) if n > 2 => format!("{street} {}", n + 2),
                _ => address.clone(),
            }
        }
        _ => address.to_lowercase(),
    };
    (written, String::new())
}

/// Midnight starting a day.
fn midnight(year: i32, month: u32, day: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(year, month, day)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("a valid date")
}

/// The columns of the reports' CSV, as a Costa Rican municipality's system exports them.
const HEADER: [&str; 16] = [
    "id_reporte",
    "fecha_creacion",
    "fecha_atencion",
    "fecha_cierre",
    "estado",
    "categoria",
    "departamento",
    "canal",
    "descripcion",
    "latitud",
    "longitud",
    "nombre",
    "correo",
    "telefono",
    "direccion",
    "finca",
];

/// When a report is made: over the whole of 2025 from `start` (late in the year where the
/// complaints are `rising`), fewer on weekends, busier in office hours.
fn created_at(rng: &mut SplitMix64, start: NaiveDateTime, rising: bool) -> NaiveDateTime {
    let mut day_frac = if rising {
        rng.unit().sqrt()
    } else {
        rng.unit()
    };
    let mut created = start + Duration::seconds((day_frac * 365.0 * 86_400.0) as i64);
    if matches!(created.weekday(), Weekday::Sat | Weekday::Sun) && rng.unit() < 0.5 {
        day_frac = rng.unit();
        created = start + Duration::seconds((day_frac * 365.0 * 86_400.0) as i64);
    }
    let hour = 6 + rng.weighted(&[
        2.0, 5.0, 8.0, 8.0, 7.0, 6.0, 6.0, 7.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 2.0, 1.0,
    ]);
    created = created
        .date()
        .and_hms_opt(hour as u32, rng.below(60) as u32, 0)
        .expect("valid time");
    created
}

/// Where a report is placed, as the CSV writes it (latitude, longitude): mostly inside its lot,
/// often on the street in front, sometimes unknown, or on the town hall (`hall`, latitude and
/// longitude), as systems do with reports they cannot place. `to_wgs84` takes the town's local
/// coordinates to longitude and latitude.
fn location<E>(
    rng: &mut SplitMix64,
    lot: &Lot,
    (hall_lat, hall_lon): (f64, f64),
    to_wgs84: impl Fn(f64, f64) -> std::result::Result<(f64, f64), E>,
) -> std::result::Result<(String, String), E> {
    let r = rng.unit();
    Ok(if r < 0.01 {
        (String::new(), String::new())
    } else if r < 0.015 {
        (format!("{hall_lat:.7}"), format!("{hall_lon:.7}"))
    } else {
        let (x0, x1, y0, y1) = lot.local;
        let margin = 2.5f64.min((x1 - x0) / 3.0).min((y1 - y0) / 3.0);
        let x = rng.range(x0 + margin, x1 - margin);
        let y = if rng.unit() < 0.75 {
            rng.range(y0 + margin, y1 - margin)
        } else {
            match lot.front {
                Front::South | Front::Whole => y0 - rng.range(1.5, 6.5),
                Front::North => y1 + rng.range(1.5, 6.5),
            }
        };
        let (lon, lat) = to_wgs84(x, y)?;
        (format!("{lat:.7}"), format!("{lon:.7}"))
    })
}

/// Who made a report and what they wrote: the description, then the name, e-mail and phone
/// (empty for an anonymous report).
fn reporter(rng: &mut SplitMix64, templates: [&str; 2]) -> (String, String, String, String) {
    let anonymous = rng.unit() < 0.1;
    let (first, s1, s2) = (
        FIRST[rng.below(16)],
        SURNAMES[rng.below(16)],
        SURNAMES[rng.below(16)],
    );
    let neighbour = SURNAMES[rng.below(16)];
    let description = templates[rng.below(2)].replace("{}", neighbour);
    let name = if anonymous {
        String::new()
    } else {
        format!("{first} {s1} {s2}")
    };
    let email = if anonymous {
        String::new()
    } else {
        format!(
            "{}.{}{}@correo.example",
            ascii(first),
            ascii(s1),
            rng.below(100)
        )
    };
    let phone = if anonymous {
        String::new()
    } else {
        format!("+506 8{:03} {:04}", rng.below(1000), rng.below(10_000))
    };
    (description, name, email, phone)
}
