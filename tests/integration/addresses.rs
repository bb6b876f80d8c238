//! Reports without coordinates located by parcel reference and by address against the real
//! Cambridge cadastre: the FY2014 parcels and the assessor's table `TaxFY14.csv` (joined on
//! `ML`, address in `Location`). The truth is the table itself: each report is built from one
//! of its rows and must land on a parcel of that row's `ML`.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::fs;

use crate::support::{arg, csv_rows, current_parcels, predio, predio_ok, shared};

/// An assessor's address as a report might write it instead, by kind of noise; `None` where
/// the noise does not apply to it.
fn noisy(kind: &str, address: &str, known: &HashMap<String, Vec<(u32, u32)>>) -> Option<String> {
    // whether `n` is a number of the table on `street` (itself, or inside one of its ranges)
    let holding = |street: &str, n: u32| {
        known.get(street).map_or(0, |v| {
            v.iter().filter(|&&(lo, hi)| lo <= n && n <= hi).count()
        })
    };
    let words: Vec<&str> = address.split_whitespace().collect();
    let number = words.first()?;
    let street_end = words
        .iter()
        .position(|w| w.starts_with('#'))
        .unwrap_or(words.len());
    let street = words.get(1..street_end)?.join(" ");
    match kind {
        "lower case" => Some(address.to_lowercase()),
        "ST/STREET, AVE/AVENUE" => {
            let swapped: Vec<String> = words
                .iter()
                .map(|w| match *w {
                    "ST" => "STREET".to_owned(),
                    "AVE" => "AVENUE".to_owned(),
                    "STREET" => "ST".to_owned(),
                    "AVENUE" => "AVE".to_owned(),
                    w => w.to_owned(),
                })
                .collect();
            let s = swapped.join(" ");
            (s != words.join(" ")).then_some(s)
        }
        "unit added or dropped" => Some(if street_end < words.len() {
            words[..street_end].join(" ")
        } else {
            format!("{address} Apt 3")
        }),
        "one-letter typo" => {
            // the middle letter of the street's longest word changed
            let w = words[1..street_end]
                .iter()
                .filter(|w| w.len() >= 5 && w.chars().all(|c| c.is_ascii_alphabetic()))
                .max_by_key(|w| w.len())?;
            let mid = w.len() / 2;
            let c = if &w[mid..=mid] == "X" { "Q" } else { "X" };
            let typo = format!("{}{c}{}", &w[..mid], &w[mid + 1..]);
            Some(address.replacen(w, &typo, 1))
        }
        "number moved by 2" => {
            let n: u32 = number.parse().ok()?;
            (holding(&street, n + 2) == 0).then(|| format!("{} {street}", n + 2))
        }
        "number inside a range" => {
            let (a, b) = number.split_once('-')?;
            let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
            let inside = format!("{} {street}", a + 2);
            (b >= a + 2 && (b - a) % 2 == 0 && holding(&street, a + 2) == 1).then_some(inside)
        }
        _ => None,
    }
}

const NOISE: [&str; 6] = [
    "lower case",
    "ST/STREET, AVE/AVENUE",
    "unit added or dropped",
    "one-letter typo",
    "number moved by 2",
    "number inside a range",
];

#[test]
fn cambridge_reports_are_placed_by_address_and_map_lot_against_the_assessors_table() {
    let (Some(shp), Some(table)) = (
        shared("cambridge-parcels/cambridge_parcels_FY2014_epsg2249.shp"),
        shared("cambridge-parcels/TaxFY14.csv"),
    ) else {
        return;
    };
    let data = tempfile::tempdir().expect("tempdir");
    let d = data.path();
    predio_ok(d, &["import", "parcels", arg(&shp)]);
    // a key column that does not exist: an error naming the file and the column, no version
    let bad = predio(
        d,
        &["import", "parcel-table", arg(&table), "--key", "MAPLOT"],
    );
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        !bad.status.success() && err.contains("TaxFY14.csv") && err.contains("MAPLOT"),
        "{err}"
    );
    predio_ok(
        d,
        &[
            "import",
            "parcel-table",
            arg(&table),
            "--key",
            "ML",
            "--address-field",
            "Location",
        ],
    );

    // the parcels' ML (a lot drawn in several pieces has several parcels)
    let parcels = current_parcels(d);
    let at = |name: &str| {
        parcels
            .fields
            .iter()
            .position(|f| f.name == name)
            .expect(name)
    };
    let (ml_at, use_at, rows_at) = (at("ML"), at("UseCode"), at("table_rows"));
    let ml_of: HashMap<String, String> = parcels
        .parcels
        .iter()
        .map(|p| (p.id.to_string(), p.attributes[ml_at].to_string()))
        .collect();
    let mls: HashSet<&str> = ml_of.values().map(String::as_str).collect();
    let rows = csv_rows(&table);
    // the join, counted here from the table: typed attributes, rows per parcel, unmatched keys
    let mut per_ml: HashMap<&str, usize> = HashMap::new();
    for r in &rows {
        *per_ml.entry(r["ML"].as_str()).or_default() += 1;
    }
    for p in &parcels.parcels {
        let ml = p.attributes[ml_at].to_string();
        match per_ml.get(ml.as_str()) {
            Some(n) => assert_eq!(p.attributes[rows_at], predio_engine::Value::Long(*n as i64)),
            None => assert_eq!(p.attributes[rows_at], predio_engine::Value::Null),
        }
    }
    assert_eq!(
        parcels.fields[use_at].kind,
        predio_engine::FieldType::Long,
        "UseCode typed"
    );
    let unmatched: HashSet<&str> = per_ml
        .keys()
        .copied()
        .filter(|k| !k.is_empty() && !mls.contains(k))
        .collect();
    let log = fs::read_to_string(crate::support::version_dir(d).join("import-report.csv"))
        .expect("import report");
    let logged = log
        .lines()
        .filter(|l| l.contains("matches no parcel"))
        .count();
    assert_eq!(logged, unmatched.len(), "every key without a parcel listed");
    parcel_tiles_carry_the_joined_attributes(d, &parcels);

    // the reports: each row's address as written, noisy, and its ML as a reference
    // the numbers of each street as the table writes them (digits only: "17B" is 17)
    let mut known: HashMap<String, Vec<(u32, u32)>> = HashMap::new();
    for r in &rows {
        let w: Vec<&str> = r["Location"].split_whitespace().collect();
        let end = w.iter().position(|x| x.starts_with('#')).unwrap_or(w.len());
        let Some(first) = w.first() else { continue };
        let digits = |t: &str| -> Option<u32> {
            t.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
                .parse()
                .ok()
        };
        let (lo, hi) = match first.split_once('-') {
            Some((a, b)) => (digits(a), digits(b)),
            None => (digits(first), digits(first)),
        };
        if let (Some(lo), Some(hi), true) = (lo, hi, end > 1) {
            known
                .entry(w[1..end].join(" "))
                .or_default()
                .push((lo, hi.max(lo)));
        }
    }
    // addresses (unit dropped) shared by several MLs: the address alone cannot tell them apart
    let mut mls_of_address: HashMap<String, HashSet<&str>> = HashMap::new();
    for r in rows.iter().filter(|r| mls.contains(r["ML"].as_str())) {
        mls_of_address
            .entry(
                r["Location"]
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" "),
            )
            .or_default()
            .insert(r["ML"].as_str());
    }
    let mut csv = String::from("id,created,status,address,parcel_ref\n");
    let mut expect: HashMap<String, (String, String)> = HashMap::new();
    let mut add = |kind: &str, n: usize, address: &str, reference: &str, ml: &str| {
        let id = format!("{}-{n}", kind.replace([' ', '/', ','], "_"));
        let q = |v: &str| v.replace('"', "\"\"");
        let _ = writeln!(
            csv,
            "{id},2025-03-01,open,\"{}\",\"{}\"",
            q(address),
            q(reference)
        );
        expect.insert(id, (kind.to_owned(), ml.to_owned()));
    };
    let eligible: Vec<&HashMap<String, String>> = rows
        .iter()
        .filter(|r| mls.contains(r["ML"].as_str()) && !r["Location"].trim().is_empty())
        .collect();
    let mut shared_address = HashSet::new();
    for (n, r) in eligible.iter().enumerate() {
        let a = r["Location"]
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if mls_of_address[&a].len() > 1 {
            shared_address.insert(format!("as_written-{n}"));
        }
        add("as written", n, &r["Location"], "", &r["ML"]);
    }
    for kind in NOISE {
        let mut taken = 0;
        for (n, r) in eligible.iter().enumerate() {
            let a = r["Location"]
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            if taken == 1500 || mls_of_address[&a].len() > 1 {
                continue;
            }
            if let Some(x) = noisy(kind, &a, &known) {
                add(kind, n, &x, "", &r["ML"]);
                taken += 1;
            }
        }
        assert!(taken >= 50, "{kind}: {taken} reports");
    }
    let distinct: Vec<&str> = {
        // map-lots such as "127-123" or "1A-109" (the roads' "-", "--R" are placeholders)
        let mut v: Vec<&str> = mls
            .iter()
            .copied()
            .filter(|m| m.split('-').all(|g| g.chars().any(|c| c.is_ascii_digit())))
            .collect();
        v.sort_unstable();
        v
    };
    for (n, ml) in distinct.iter().enumerate() {
        let padded: String = ml
            .split('-')
            .map(|g| format!("{g:0>4}"))
            .collect::<Vec<_>>()
            .join("-");
        add("ML as written", n, "", ml, ml);
        add("ML with a space", n, "", &ml.replace('-', " "), ml);
        add("ML zero-padded", n, "", &padded, ml);
    }
    let reports = d.join("reports.csv");
    fs::write(&reports, csv).expect("write");
    let mapping = d.join("mapping.toml");
    fs::write(
        &mapping,
        "[source]\ntimezone = \"America/New_York\"\n[columns]\nid = \"id\"\ncreated_at = \"created\"\n\
         status = \"status\"\naddress = \"address\"\nparcel_ref = \"parcel_ref\"\n[status]\n\"open\" = \"open\"\n",
    )
    .expect("write");
    predio_ok(
        d,
        &[
            "import",
            "reports",
            arg(&reports),
            "--mapping",
            arg(&mapping),
        ],
    );
    let export = d.join("export.csv");
    let export_reports = || {
        predio_ok(
            d,
            &[
                "export",
                "reports",
                "--format",
                "csv",
                "--out",
                arg(&export),
            ],
        );
        csv_rows(&export)
    };
    let exported = export_reports();
    let log = fs::read_to_string(crate::support::version_dir(d).join("import-report.csv"))
        .expect("import report");
    let reasons: HashMap<String, String> = log
        .lines()
        .filter_map(|l| {
            let (_, rest) = l.split_once("unlocated: ")?;
            let id = l.split(',').nth(2)?.to_owned();
            Some((id, rest.split([';', ',']).next()?.to_owned()))
        })
        .collect();

    // per kind: located, right among the located, unlocated with a reason
    let mut stats: HashMap<String, (usize, usize, usize, usize)> = HashMap::new();
    let mut ambiguous_shared = 0;
    for r in exported {
        let (kind, ml) = &expect[&r["id"]];
        let s = stats.entry(kind.clone()).or_default();
        s.0 += 1;
        if r["parcel_id"].is_empty() {
            let reason = reasons
                .get(&r["id"])
                .unwrap_or_else(|| panic!("{} unlocated without a reason", r["id"]));
            assert!(
                ["no_match", "ambiguous", "below_threshold", "no_address"]
                    .contains(&reason.as_str()),
                "{reason}: {r:?}"
            );
            if shared_address.contains(&r["id"]) && reason == "ambiguous" {
                ambiguous_shared += 1;
            }
            continue;
        }
        assert_eq!(r["location"], "derived", "{r:?}");
        assert!(r["match"] != "inside" && r["match"] != "nearest", "{r:?}");
        let score: f64 = r["match_score"].parse().expect("a score");
        assert!((0.0..=1.0).contains(&score));
        s.1 += 1;
        if &ml_of[&r["parcel_id"]] == ml {
            s.2 += 1;
        } else {
            s.3 += 1;
            assert!(
                !shared_address.contains(&r["id"]),
                "an address shared by several parcels assigned by chance: {r:?}"
            );
        }
    }
    let mut kinds: Vec<&String> = stats.keys().collect();
    kinds.sort();
    eprintln!(
        "{:<24} {:>7} {:>9} {:>9}",
        "reports", "n", "located", "right"
    );
    for k in &kinds {
        let (n, located, right, _) = stats[*k];
        eprintln!(
            "{k:<24} {n:>7} {:>8.2}% {:>8.2}%",
            100.0 * located as f64 / n as f64,
            100.0 * right as f64 / located.max(1) as f64
        );
    }
    // as the assessor writes them: every address one parcel has, on it; the shared ones left
    // ambiguous, never assigned by chance
    let (n, _, right, wrong) = stats["as written"];
    let unique = n - shared_address.len();
    eprintln!(
        "as written: {unique} addresses of one ML, {} shared ({ambiguous_shared} ambiguous)",
        shared_address.len()
    );
    assert!(ambiguous_shared > 100, "shared addresses said ambiguous");
    assert!(
        right as f64 >= 0.995 * unique as f64,
        "{right} of {unique} right"
    );
    assert!(wrong * 1000 <= n, "{wrong} wrong");
    for kind in NOISE {
        let (n, located, right, _) = stats[kind];
        assert!(
            located as f64 >= 0.95 * n as f64,
            "{kind}: {located} of {n} located"
        );
        assert!(
            right as f64 >= 0.99 * located as f64,
            "{kind}: {right} of {located} right"
        );
    }
    for kind in ["ML as written", "ML with a space", "ML zero-padded"] {
        let (n, _, right, _) = stats[kind];
        assert_eq!(right, n, "{kind}");
    }
    // predio info counts the reports by match kind
    let info = crate::support::info(d);
    let m = &info["reports"]["matches"];
    assert!(m["address"].as_u64().is_some_and(|n| n > 20_000), "{m}");
    assert!(
        m["parcel_ref"]
            .as_u64()
            .is_some_and(|n| n as usize >= 3 * distinct.len() - 3),
        "{m}"
    );

    // coordinates win, unless the mapping prefers the reference: a pin on one lot and the
    // map-lot of another
    let (a, b) = (&parcels.parcels[10], &parcels.parcels[20]);
    let pin = predio_engine::interior_point(&a.geometry).expect("a point");
    let both = d.join("both.csv");
    fs::write(
        &both,
        format!(
            "id,created,status,lat,lon,parcel_ref\nPIN,2025-03-01,open,{},{},{}\n",
            pin.y(),
            pin.x(),
            b.attributes[ml_at]
        ),
    )
    .expect("write");
    for (prefer, want, kind) in [(false, a, "inside"), (true, b, "parcel_ref")] {
        let m = d.join("both.toml");
        fs::write(
            &m,
            format!(
                "[source]\ntimezone = \"America/New_York\"\n[columns]\nid = \"id\"\n\
                 created_at = \"created\"\nstatus = \"status\"\nlat = \"lat\"\nlon = \"lon\"\n\
                 parcel_ref = \"parcel_ref\"\n[status]\n\"open\" = \"open\"\n\
                 [location]\nprefer_parcel_ref = {prefer}\n"
            ),
        )
        .expect("write");
        predio_ok(d, &["import", "reports", arg(&both), "--mapping", arg(&m)]);
        let row = export_reports()
            .into_iter()
            .find(|r| r["id"] == "PIN")
            .expect("the report");
        assert_eq!(
            (row["parcel_id"].as_str(), row["match"].as_str()),
            (want.id.as_str(), kind),
            "prefer_parcel_ref = {prefer}"
        );
    }
}

/// `serve --parcel-attributes`: the parcel tiles carry the joined attributes, typed, equal to
/// the stored ones (absent where a parcel has none); TileJSON lists them.
fn parcel_tiles_carry_the_joined_attributes(
    d: &std::path::Path,
    parcels: &predio_engine::ParcelLayer,
) {
    use crate::tiles::Val;
    use predio_engine::Value;
    let names = ["UseCode", "TotalAppraisedParcelValue", "UseDescription"];
    let at: Vec<usize> = names
        .iter()
        .map(|n| parcels.fields.iter().position(|f| f.name == *n).expect(n))
        .collect();
    let server = crate::tiles::Server::start_with(d, &["--parcel-attributes", &names.join(",")]);
    let tilejson = server.get("/tiles/parcels.json", &[]).json();
    for n in names {
        assert!(
            tilejson["vector_layers"][0]["fields"].get(n).is_some(),
            "{n} in {tilejson}"
        );
    }
    let by_id: HashMap<&str, &predio_engine::Parcel> =
        parcels.parcels.iter().map(|p| (p.id.as_str(), p)).collect();
    let (mut checked, mut with_values) = (0, 0);
    for p in parcels.parcels.iter().step_by(parcels.parcels.len() / 12) {
        let c = predio_engine::interior_point(&p.geometry).expect("a point");
        let (x, y) = crate::tiles::tile_of(16, c.x(), c.y());
        let r = server.get(&format!("/tiles/parcels/16/{x}/{y}.mvt"), &[]);
        assert_eq!(r.status, 200);
        for props in crate::tiles::layer_properties(&r.body, "parcels") {
            let Some(Val::Str(id)) = props.get("parcel_id") else {
                panic!("a parcel without its id: {props:?}");
            };
            let stored = by_id[id.as_str()];
            for (n, &i) in names.iter().zip(&at) {
                let want = &stored.attributes[i];
                match (want, props.get(*n)) {
                    (Value::Null, None) => {}
                    (Value::String(s), None) if s.trim().is_empty() => {}
                    (Value::Long(v), Some(Val::SInt(t) | Val::Int(t))) => {
                        assert_eq!(v, t, "{id} {n}");
                    }
                    (Value::Double(v), Some(Val::Double(t))) => {
                        assert!((v - t).abs() < 1e-9, "{id} {n}: {v} {t}");
                    }
                    (Value::String(v), Some(Val::Str(t))) => assert_eq!(v, t, "{id} {n}"),
                    (want, got) => panic!("{id} {n}: stored {want:?}, tile {got:?}"),
                }
                with_values += usize::from(!matches!(want, Value::Null));
            }
            checked += 1;
        }
    }
    eprintln!("parcel tiles: {checked} features checked, {with_values} attribute values");
    assert!(
        checked > 100 && with_values > 200,
        "{checked} {with_values}"
    );
    // a name the cadastre does not have: serve refuses to start, naming it
    let bad = predio(
        d,
        &[
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--parcel-attributes",
            "Owner",
        ],
    );
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success() && err.contains("\"Owner\""), "{err}");
}
