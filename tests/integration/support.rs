//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use geo::{Coord, MultiPolygon};

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("api/ has a parent")
        .to_path_buf()
}

/// A file of ../shared/data, or `None` (with a message) when the datasets are not there.
/// Under CI=true a missing dataset fails the test.
pub fn shared(rel: &str) -> Option<PathBuf> {
    let path = workspace().join("../shared/data").join(rel);
    present(&path, "../shared/data is not beside this checkout").then_some(path)
}

/// Something `make test` installs (a Python venv, Chromium, PostGIS, an npm package): when it is
/// missing the install failed, so the test fails naming it and the command that installs it.
/// Only ../shared/data may be absent outside CI ([`shared`]).
pub fn required(path: &Path, what: &str, install: &str) -> PathBuf {
    assert!(
        path.exists(),
        "{} is missing ({what}): install it with `{install}` (or run `make test`, which does)",
        path.display()
    );
    path.to_path_buf()
}

/// Whether a dataset a test needs is there; when not, says so (`why`) and the test skips,
/// except under CI=true, where its absence fails the test.
pub fn present(path: &Path, why: &str) -> bool {
    if path.exists() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{} is missing ({why})",
        path.display()
    );
    eprintln!("SKIPPED: {} not found ({why})", path.display());
    false
}

/// Runs `predio --data DATA args...`.
pub fn predio(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_predio"))
        .arg("--data")
        .arg(data)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("the predio binary runs")
}

/// Runs predio and fails the test, showing stderr, unless it succeeds.
pub fn predio_ok(data: &Path, args: &[&str]) -> Output {
    let out = predio(data, args);
    assert!(
        out.status.success(),
        "predio {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `predio info --json` as JSON.
pub fn info(data: &Path) -> serde_json::Value {
    let out = predio_ok(data, &["info", "--json"]);
    serde_json::from_slice(&out.stdout).expect("info --json prints JSON")
}

/// A small sample town (2,000 parcels, seed 7), generated once per test run.
pub fn sample_town() -> &'static Path {
    static TOWN: OnceLock<tempfile::TempDir> = OnceLock::new();
    TOWN.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().to_str().expect("utf-8 path").to_owned();
        predio_ok(
            dir.path(),
            &[
                "sample",
                "--out",
                &out,
                "--parcels",
                "2000",
                "--reports",
                "500",
                "--seed",
                "7",
            ],
        );
        dir
    })
    .path()
}

/// The sample town with its sectors (names, population), parcels and reports imported.
pub fn town() -> tempfile::TempDir {
    let town = sample_town();
    let data = tempfile::tempdir().expect("tempdir");
    let d = data.path();
    predio_ok(
        d,
        &[
            "import",
            "sectors",
            arg(&town.join("sectors.shp")),
            "--id-field",
            "codigo",
            "--name-field",
            "nombre",
            "--population-field",
            "poblacion",
        ],
    );
    predio_ok(
        d,
        &[
            "import",
            "parcels",
            arg(&town.join("parcels.shp")),
            "--id-field",
            "finca",
            "--address-field",
            "direccion",
        ],
    );
    predio_ok(
        d,
        &[
            "import",
            "reports",
            arg(&town.join("reports.csv")),
            "--mapping",
            arg(&town.join("reports-mapping.toml")),
        ],
    );
    data
}

/// The check venv's Python (pandas, numpy, shapely, esda, pmtiles...): required.
pub fn python() -> PathBuf {
    let p = std::env::var_os("PREDIO_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/check-venv/bin/python"));
    required(&p, "the Python of the second engines", "make check-venv")
}

/// Debian's Chromium and the npm packages a browser test drives: required.
pub fn browser(npm: &[&str]) {
    required(
        Path::new("/usr/bin/chromium"),
        "Debian's chromium",
        "make browser-deps",
    );
    for p in npm {
        required(
            &workspace().join(p),
            "an npm package",
            "make browser-deps web",
        );
    }
}

/// Runs a Python oracle and reads the JSON it prints; its stderr shown if it fails.
pub fn python_json(python: &Path, args: &[&str]) -> serde_json::Value {
    let run = Command::new(python)
        .args(args)
        .output()
        .expect("python runs");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    serde_json::from_slice(&run.stdout).expect("json")
}

/// The rows of a CSV file, by column name.
pub fn csv_rows(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let mut rdr = csv::Reader::from_path(path).expect("csv");
    let headers = rdr.headers().expect("header").clone();
    rdr.records()
        .map(|r| {
            let r = r.expect("row");
            headers
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_owned(), v.to_owned()))
                .collect()
        })
        .collect()
}

/// Runs a GDAL command-line tool and returns its stdout.
pub fn gdal_tool(tool: &str, args: &[&str]) -> String {
    let out = Command::new(tool)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{tool} runs (gdal-bin): {e}"));
    assert!(
        out.status.success(),
        "{tool} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Metres between two lon/lat points (equirectangular: exact enough below a kilometre).
pub fn metres(a: Coord<f64>, b: Coord<f64>) -> f64 {
    let lat = (a.y + b.y).to_radians() / 2.0;
    let dx = (a.x - b.x) * 111_319.49 * lat.cos();
    let dy = (a.y - b.y) * 110_574.0 * (1.0 + 0.0067 * lat.sin().powi(2) * 1.5);
    dx.hypot(dy)
}

/// All vertices of a multipolygon.
pub fn vertices(g: &MultiPolygon<f64>) -> Vec<Coord<f64>> {
    g.iter()
        .flat_map(|p| {
            std::iter::once(p.exterior())
                .chain(p.interiors())
                .flat_map(|r| r.0.iter().copied())
        })
        .collect()
}

/// The largest distance from any vertex of `a` to the nearest vertex of `b`, both ways, metres.
pub fn vertex_hausdorff_m(a: &MultiPolygon<f64>, b: &MultiPolygon<f64>) -> f64 {
    let (va, vb) = (vertices(a), vertices(b));
    let one_way = |from: &[Coord<f64>], to: &[Coord<f64>]| {
        from.iter()
            .map(|p| {
                to.iter()
                    .map(|q| metres(*p, *q))
                    .fold(f64::INFINITY, f64::min)
            })
            .fold(0.0, f64::max)
    };
    one_way(&va, &vb).max(one_way(&vb, &va))
}

/// The folder of the catalog's current version.
pub fn version_dir(data: &Path) -> PathBuf {
    data.join("versions")
        .join(info(data)["version"].as_str().expect("a current version"))
}

/// A path as a command argument.
pub fn arg(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A throwaway PostgreSQL + PostGIS cluster on a free loopback port, trusting local users;
/// stopped and removed on drop. `None` (with a message) when PostGIS is not installed; under
/// CI=true it must be (`make test` installs postgresql-15-postgis-3).
pub struct Postgis {
    dir: tempfile::TempDir,
    bin: PathBuf,
    /// Its TCP port on 127.0.0.1.
    pub port: u16,
}

/// A PostgreSQL server tool; as `postgres` when we are root (the server refuses root).
fn server_tool(bin: &Path, tool: &str) -> Command {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin.join(tool));
        c
    } else {
        Command::new(bin.join(tool))
    }
}

impl Postgis {
    /// Starts one; PostgreSQL and PostGIS are required.
    pub fn start() -> Self {
        use std::os::unix::fs::PermissionsExt;
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path().join("bin"))
            .find(|b| b.join("initdb").exists())
            .unwrap_or_else(|| PathBuf::from("/usr/lib/postgresql/15/bin"));
        let version = bin
            .parent()
            .and_then(Path::file_name)
            .map_or_else(|| "15".to_owned(), |v| v.to_string_lossy().into_owned());
        let control = PathBuf::from(format!(
            "/usr/share/postgresql/{version}/extension/postgis.control"
        ));
        let install = "apt-get install postgresql-15 postgresql-15-postgis-3";
        required(&bin.join("initdb"), "PostgreSQL", install);
        required(&control, "PostGIS", install);
        let dir = tempfile::tempdir().expect("tempdir");
        // the server's user (postgres, when we are root) creates its data folder in it
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777))
            .expect("chmod");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let pg = Self { dir, bin, port };
        let data = pg.dir.path().join("pgdata");
        let run = |tool: &str, args: &[&str]| {
            let out = server_tool(&pg.bin, tool)
                .args(args)
                .output()
                .expect("PostgreSQL tools run");
            assert!(
                out.status.success(),
                "{tool} {args:?}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run(
            "initdb",
            &[
                "-D",
                arg(&data),
                "-A",
                "trust",
                "-U",
                "predio",
                "-E",
                "UTF8",
            ],
        );
        let opts = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            arg(pg.dir.path())
        );
        let log = pg.dir.path().join("log");
        run(
            "pg_ctl",
            &[
                "-D",
                arg(&data),
                "-l",
                arg(&log),
                "-o",
                &opts,
                "-w",
                "start",
            ],
        );
        pg.sql("CREATE EXTENSION postgis");
        pg
    }

    /// `postgresql://` URL of its `postgres` database.
    pub fn url(&self) -> String {
        format!("postgresql://predio@127.0.0.1:{}/postgres", self.port)
    }

    /// GDAL's name of the database (`PG:...`).
    pub fn gdal(&self) -> String {
        format!(
            "PG:host=127.0.0.1 port={} user=predio dbname=postgres",
            self.port
        )
    }

    /// Runs SQL through psql and returns its unaligned output.
    pub fn sql(&self, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", "predio", "-d", "postgres", "-c", sql])
            .output()
            .expect("psql runs");
        assert!(
            out.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Drop for Postgis {
    fn drop(&mut self) {
        let data = self.dir.path().join("pgdata");
        let _ = server_tool(&self.bin, "pg_ctl")
            .args(["-D", arg(&data), "-m", "immediate", "-w", "stop"])
            .output();
    }
}

/// The parcels of the catalog's current version, as stored.
pub fn current_parcels(data: &Path) -> predio_engine::ParcelLayer {
    predio_engine::read_parcels(&version_dir(data).join("parcels.fgb"))
        .expect("parcels.fgb reads back")
}

/// Uniform numbers in [0, 1) from a fixed 64-bit LCG (Knuth's MMIX constants): the tests'
/// random points, the same on every run.
pub fn uniform(seed: u64) -> impl FnMut() -> f64 {
    let mut state = seed;
    move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Held by the tests that start a browser or a JVM (Chromium, Spark): each takes both cores of
/// a small machine for seconds, and their own time limits (page waits) must not run out because
/// another of them is starting.
pub fn heavy() -> std::sync::MutexGuard<'static, ()> {
    static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());
    HEAVY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A sample town of `parcels` parcels and twice as many reports made with `seed` under `root`,
/// imported into `data`: its sectors with their names, its parcels with their addresses, its
/// reports (a municipality of the tests of many).
pub fn imported_town(root: &Path, data: &Path, seed: u64, parcels: usize) {
    let town = root.join(format!("town-{seed}"));
    predio_ok(
        data,
        &[
            "sample",
            "--out",
            arg(&town),
            "--parcels",
            &parcels.to_string(),
            "--reports",
            &(parcels * 2).to_string(),
            "--seed",
            &seed.to_string(),
        ],
    );
    for (what, file, fields) in [
        (
            "sectors",
            "sectors.shp",
            &["--id-field", "codigo", "--name-field", "nombre"][..],
        ),
        (
            "parcels",
            "parcels.shp",
            &["--id-field", "finca", "--address-field", "direccion"][..],
        ),
    ] {
        let path = town.join(file);
        let mut args = vec!["import", what, arg(&path)];
        args.extend(fields);
        predio_ok(data, &args);
    }
    predio_ok(
        data,
        &[
            "import",
            "reports",
            arg(&town.join("reports.csv")),
            "--mapping",
            arg(&town.join("reports-mapping.toml")),
        ],
    );
}
