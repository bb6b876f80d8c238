//! `predio publish`: the public map as a static site on a plain web server. Its archives hold
//! the server's own tiles, Chromium draws it from them, and no file of it holds personal data.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::api::{private_town, town_secrets};
use crate::support::{arg, predio_ok, python};
use crate::tiles::Server;

/// `value` percent-encoded for a query string.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Every tile of every archive of the site, gunzipped, and each archive's metadata, written
/// under `out` by protomaps' reference reader (`pmtiles`): `out/LAYER/SET/z-x-y.mvt`,
/// `out/LAYER/SET/metadata.json`.
fn dump_archives(site: &Path, out: &Path) {
    let script = r#"
import gzip, json, sys
from pathlib import Path
from pmtiles.reader import MmapSource, Reader, all_tiles
site, out = Path(sys.argv[1]), Path(sys.argv[2])
for archive in sorted(site.glob("tiles/*/*.pmtiles")):
    d = out / archive.parent.name / archive.stem
    d.mkdir(parents=True)
    with open(archive, "rb") as f:
        (d / "metadata.json").write_text(json.dumps(Reader(MmapSource(f)).metadata()))
        for (z, x, y), data in all_tiles(MmapSource(f)):
            (d / f"{z}-{x}-{y}.mvt").write_bytes(gzip.decompress(data))
"#;
    let run = Command::new(python())
        .args(["-c", script, arg(site), arg(out)])
        .output()
        .expect("python runs");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}

/// Every file under `dir`.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("dir").flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// `z-x-y` of a tile dumped by [`dump_archives`]; `None` for its other files.
fn tile_name(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_string_lossy().into_owned();
    name.strip_suffix(".mvt").map(str::to_owned)
}

/// `python3 -m http.server` over `site` on a free port: the child and its address.
struct StaticServer(std::process::Child, String);

impl StaticServer {
    fn start(site: &Path) -> Self {
        let mut child = Command::new("python3")
            .args(["-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "-d"])
            .arg(site)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m http.server starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("its first line");
        // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
        let port = line
            .split(" port ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or_else(|| panic!("no port in {line:?}"))
            .to_owned();
        StaticServer(child, format!("127.0.0.1:{port}"))
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_published_site_holds_the_servers_public_tiles_draws_in_chromium_and_no_personal_data() {
    let data = private_town();
    let d = data.path();
    let site = d.join("site");
    // every filter set, z12-z15
    let publish = || {
        let args = [
            "publish",
            "--out",
            arg(&site),
            "--minzoom",
            "12",
            "--maxzoom",
            "15",
        ];
        predio_ok(d, &[&args[..], &["--filters", "all"]].concat())
    };
    let out = publish();
    eprintln!("publish: {}", String::from_utf8_lossy(&out.stdout).trim());
    // A folder of something else is never replaced.
    let other = d.join("other");
    std::fs::create_dir_all(&other).expect("mkdir");
    std::fs::write(other.join("notes.txt"), "mine").expect("write");
    let refused = crate::support::predio(d, &["publish", "--out", arg(&other)]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("not a site"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(other.join("notes.txt").exists());
    // Publishing again replaces the site it wrote.
    publish();
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(site.join("meta.json")).expect("meta"))
            .expect("json");
    assert_eq!(meta["role"], "public");
    let sets = meta["static"]["filters"].as_array().expect("filter sets");
    let windows = meta["windows"].as_array().expect("windows").len();
    let categories = meta["categories"].as_array().expect("categories").len();
    let departments = meta["departments"].as_array().expect("departments").len();
    assert_eq!(sets.len(), windows * (1 + categories + departments));
    // Parcels are not public unless asked for: no archive of them.
    assert!(!site.join("tiles/parcels").exists());
    assert!(sets.iter().all(|s| s["archives"].get("parcels").is_none()));

    // Every archived tile is the server's answer (a caller without a key) to the same request.
    let dump = d.join("dump");
    dump_archives(&site, &dump);
    let server = Server::launch(d, &[]);
    let mut compared = 0;
    let mut layers_seen = std::collections::BTreeSet::new();
    for set in sets {
        let mut query = format!("window={}", set["window"].as_str().expect("window"));
        for dim in ["category", "department"] {
            if let Some(v) = set[dim].as_str() {
                query += &format!("&{dim}={}", encode(v));
            }
        }
        for (layer, rel) in set["archives"].as_object().expect("archives") {
            let key = Path::new(rel.as_str().expect("path"))
                .file_stem()
                .expect("a file")
                .to_string_lossy()
                .into_owned();
            for tile in files(&dump.join(layer).join(&key)) {
                let Some(zxy) = tile_name(&tile) else {
                    continue;
                };
                let path = format!("/tiles/{layer}/{}.mvt?{query}", zxy.replace('-', "/"));
                let r = server.get(&path, &[]);
                assert_eq!(r.status, 200, "{path}");
                assert!(
                    r.body == std::fs::read(&tile).expect("tile"),
                    "{path}: the archive's tile differs from the server's"
                );
                compared += 1;
                layers_seen.insert(layer.clone());
            }
        }
    }
    drop(server);
    assert!(compared > 200, "{compared} tiles compared");
    assert!(
        ["sectors", "heat"].iter().all(|l| layers_seen.contains(*l)),
        "{layers_seen:?}"
    );

    // No file of the site holds a personal value or a report's id (archives read gunzipped).
    let (mut secrets, ids) = town_secrets();
    secrets.extend(ids.into_iter().filter(|i| !i.is_empty()));
    let mut scanned = 0;
    for file in files(&site)
        .into_iter()
        .filter(|f| f.extension().is_none_or(|e| e != "pmtiles"))
        .chain(files(&dump))
    {
        let bytes = std::fs::read(&file).expect("read");
        scanned += bytes.len();
        let text = String::from_utf8_lossy(&bytes);
        for s in &secrets {
            assert!(!text.contains(s.as_str()), "{} holds {s:?}", file.display());
        }
    }
    assert!(scanned > 1_000_000, "{scanned} bytes scanned");

    // On a plain web server, Chromium draws the sectors with their labels and the heat from the
    // archives, switches archives with the window, and opens a sector's popup.
    let http = StaticServer::start(&site);
    let shot = d.join("static.png");
    let summary =
        crate::tiles::run_viewer_at(&format!("http://{}/", http.1), &shot, Some("static"));
    for k in ["sectors", "heat", "heatOther"] {
        assert!(summary[k].as_u64().is_some_and(|n| n > 0), "{k}: {summary}");
    }
    let popup: HashMap<String, String> =
        serde_json::from_value(summary["popup"].clone()).expect("popup");
    assert!(popup.contains_key("received"), "{popup:?}");
}

/// A city that has imported its cadastre and no reports yet publishes its parcels: one set of
/// archives, no indices (this panicked on an empty list of filter sets).
#[test]
fn a_cadastre_without_reports_publishes_its_parcels() {
    let town_dir = crate::support::sample_town();
    let data = tempfile::tempdir().expect("tempdir");
    let d = data.path();
    predio_ok(
        d,
        &[
            "import",
            "parcels",
            arg(&town_dir.join("parcels.shp")),
            "--id-field",
            "finca",
        ],
    );
    let site = d.join("site");
    let args = ["publish", "--out", arg(&site), "--public-parcels"];
    predio_ok(
        d,
        &[&args[..], &["--minzoom", "13", "--maxzoom", "16"]].concat(),
    );
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(site.join("meta.json")).expect("meta"))
            .expect("json");
    let sets = meta["static"]["filters"].as_array().expect("filter sets");
    assert_eq!(sets.len(), 1, "{sets:?}");
    assert!(sets[0]["archives"]["parcels"].is_string(), "{sets:?}");
    assert!(site.join("style.json").exists());
    // Every zoom has parcel tiles, each with the parcels' ids.
    let dump = d.join("dump");
    dump_archives(&site, &dump);
    let mut zooms = std::collections::BTreeMap::new();
    for tile in files(&dump.join("parcels")) {
        let Some(zxy) = tile_name(&tile) else {
            continue;
        };
        let bytes = std::fs::read(&tile).expect("tile");
        assert!(
            bytes.windows(9).any(|w| w == b"parcel_id"),
            "{zxy} has no parcel ids"
        );
        let z: u8 = zxy.split('-').next().expect("z").parse().expect("zoom");
        *zooms.entry(z).or_insert(0) += 1;
    }
    assert_eq!(
        zooms.keys().copied().collect::<Vec<_>>(),
        [13, 14, 15, 16],
        "{zooms:?}"
    );
}
