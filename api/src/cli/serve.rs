//! The arguments of `serve` and `keys`.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

/// `predio keys`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a key: printed once on stdout, stored only as its SHA-256.
    Add(KeysAdd),
    /// List the keys' names, roles and dates (never the keys).
    List {
        /// Key file (default DATA/keys.toml).
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
    },
    /// Remove a key by name.
    Remove {
        /// The key's name.
        name: String,
        /// Key file (default DATA/keys.toml).
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
    },
}

/// `predio keys add`.
#[derive(Debug, Args)]
pub struct KeysAdd {
    /// Who holds the key (unique in the file).
    #[arg(long)]
    pub name: String,
    /// What it may see.
    #[arg(long, value_enum)]
    pub role: crate::role::Role,
    /// Key file (default DATA/keys.toml).
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// The municipalities the key is for, in a deployment of many (`serve --catalogs DIR`,
    /// whose key file is DIR/keys.toml): `SLUG` (with --role) or `SLUG:ROLE` (another role
    /// there, e.g. `cartago:planner`). The key holds in these only; elsewhere it is a caller
    /// without a key (403 on private endpoints). Repeatable; none: every municipality.
    #[arg(long = "catalog", value_name = "SLUG[:ROLE]")]
    pub catalogs: Vec<String>,
}

/// `predio serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0: any free port, printed at start).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub addr: std::net::SocketAddr,
    /// How often to look for a new catalog version, milliseconds.
    #[arg(long, default_value_t = 500, value_name = "MS")]
    pub poll_ms: u64,
    /// Tile cache budget, MiB.
    #[arg(long, default_value_t = 256, value_name = "MIB")]
    pub cache_mib: u64,
    /// Heat cells with fewer reports than this are left out of the `heat` layer.
    #[arg(long, default_value_t = 3, value_name = "K")]
    pub min_heat_reports: u32,
    /// Folder holding MapLibre GL JS (`maplibre-gl.js`, `maplibre-gl.css`); default: the npm
    /// install made by `make web` in api/web/node_modules/maplibre-gl/dist.
    #[arg(long, env = "PREDIO_WEB_DIR", value_name = "DIR")]
    pub web_dir: Option<PathBuf>,
    /// Another tile layer served beside the catalog's, read with martin-core:
    /// `NAME=FILE.pmtiles`, `NAME=FILE.mbtiles`, `NAME=postgresql://USER:PASS@HOST/DB#SCHEMA.TABLE`
    /// (a PostGIS table: its geometry and scalar columns) or `…#SCHEMA.FUNCTION()` (a function
    /// of z, x, y returning an MVT). Served at /tiles/NAME/{z}/{x}/{y}.mvt and /tiles/NAME.json.
    /// Repeatable.
    #[arg(long = "source", value_name = "NAME=LOCATION")]
    pub sources: Vec<predio_tiles::SourceSpec>,
    /// A base map drawn beneath the layers: a vector PMTiles or MBTiles file (e.g. a Protomaps
    /// extract of the city), served as the `basemap` layer; its `earth`, `landuse`, `water`,
    /// `roads` and `buildings` layers are styled (Protomaps' names). Without one, the cadastre's
    /// outlines are the base.
    #[arg(long, value_name = "FILE")]
    pub basemap: Option<PathBuf>,
    /// API key file (see `predio keys`; default DATA/keys.toml, re-read when it changes).
    #[arg(long, value_name = "FILE")]
    pub keys: Option<PathBuf>,
    /// Serve the parcel layer (parcels' indices) without a key; by default it needs `planner`.
    #[arg(long)]
    pub public_parcels: bool,
    /// Parcel attributes the parcel tiles carry beside the indices (comma-separated names of
    /// the cadastre's columns or of those joined by `import parcel-table`, e.g.
    /// `LUC,Land_Value,YearBuilt`): numbers as numbers, text as text. None by default (lighter
    /// tiles); the parcel layer's key rule applies to them.
    #[arg(long, value_delimiter = ',', value_name = "NAME,...")]
    pub parcel_attributes: Vec<String>,
    /// Let anyone read Open311's `requests.json|xml` and `requests/{id}` without a key, as
    /// GeoReport v2 clients expect (the key is for creating requests). A caller without an
    /// auditor key gets each request without parcel, distance or any personal or free-text
    /// field, its location coarsened as `--public-location` says; auditors see what they saw.
    #[arg(long)]
    pub public_requests: bool,
    /// Where a public request is placed: `parcel` (its parcel's interior point; a report with
    /// no parcel goes to the centre of its H3 cell at resolution 9), or `h3` / `h3:RES` (the
    /// centre of its H3 cell at RES, default 9; 7 is about 1.2 km across). Stated in discovery.
    #[arg(long, default_value = "parcel", value_name = "parcel|h3[:RES]")]
    pub public_location: PublicLocation,
    /// Fonts for the map's labels (sector names, parcel ids), served as glyphs at
    /// /fonts/{fontstack}/{range}.pbf: font files or folders (repeatable). Default: Debian's
    /// Noto Sans (`fonts-noto-core`) if installed, else DejaVu Sans; none found: no labels.
    #[arg(long = "fonts", value_name = "PATH")]
    pub fonts: Vec<PathBuf>,
    /// Origins allowed by CORS (repeatable); default any (`*`), as public map tiles are.
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    pub cors_origins: Vec<String>,
    /// Requests per second allowed to each client (its key, else its IP address), with bursts
    /// of 4 s worth; 0 = no limit. Over it: 429 with Retry-After.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub rate_limit: u32,
    /// A request not answered within this many seconds gets 503.
    #[arg(long, default_value_t = 30, value_name = "S")]
    pub timeout_s: u64,
    /// Serve every catalog under DIR, each folder DIR/SLUG a municipality, at /m/SLUG/ (the
    /// viewer, tiles, TileJSON, style, Open311, audit, plan: every endpoint above); `/` lists
    /// them with their bounds, `/municipalities.json` too, `/health` says which are loaded or
    /// unavailable. A catalog is loaded when first asked for and unloaded, least recently used
    /// first, to stay within --memory-mib; folders added or removed and new versions are
    /// picked up without a restart. The key file is DIR/keys.toml (keys made with `predio
    /// --data DIR keys add --catalog SLUG` hold in their municipalities only). --data is not
    /// read.
    #[arg(long, value_name = "DIR")]
    pub catalogs: Option<PathBuf>,
    /// With --catalogs: the memory the loaded catalogs and their tile caches may take, MiB
    /// (each catalog reckoned from its stored files, its tile cache a share of --cache-mib).
    #[arg(long, default_value_t = 1024, value_name = "MIB")]
    pub memory_mib: u64,
}

/// How a public Open311 request is placed (`--public-location`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicLocation {
    /// The report's parcel's interior point; without a parcel, its H3 cell's centre at res 9.
    Parcel,
    /// The centre of the report's H3 cell at this resolution.
    H3(h3o::Resolution),
}

impl PublicLocation {
    /// The H3 resolution used where a report has no parcel (and for `h3`).
    pub fn resolution(self) -> h3o::Resolution {
        match self {
            Self::Parcel => h3o::Resolution::Nine,
            Self::H3(r) => r,
        }
    }

    /// What discovery says of it.
    pub fn describe(self) -> String {
        match self {
            Self::Parcel => "the interior point of the report's parcel (without a parcel: the \
                             centre of its H3 cell at resolution 9)"
                .to_owned(),
            Self::H3(r) => format!(
                "the centre of the report's H3 cell at resolution {}",
                u8::from(r)
            ),
        }
    }
}

impl std::str::FromStr for PublicLocation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim().to_ascii_lowercase();
        let res = match s.as_str() {
            "parcel" => return Ok(Self::Parcel),
            "h3" => 9,
            other => other
                .strip_prefix("h3:")
                .and_then(|r| r.parse::<u8>().ok())
                .ok_or_else(|| format!("{s:?}: parcel, h3 or h3:RES (RES 0 to 15)"))?,
        };
        h3o::Resolution::try_from(res)
            .map(Self::H3)
            .map_err(|_| format!("{s:?}: an H3 resolution is 0 to 15"))
    }
}

/// Which filter sets `publish` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PublishFilters {
    /// Each window, all reports.
    Windows,
    /// Each window, and each category and department of each window.
    All,
}

/// `predio publish`.
#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The site's folder (replaced whole).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// First zoom of the archives.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u8).range(0..=22))]
    pub minzoom: u8,
    /// Last zoom of the archives.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u8).range(0..=22))]
    pub maxzoom: u8,
    /// Publish the parcels layer too (as `serve --public-parcels`).
    #[arg(long)]
    pub public_parcels: bool,
    /// Parcel attributes the parcel tiles carry (as `serve --parcel-attributes`).
    #[arg(long, value_delimiter = ',', value_name = "NAME,...")]
    pub parcel_attributes: Vec<String>,
    /// Heat cells with fewer reports than this are left out.
    #[arg(long, default_value_t = 3, value_name = "K")]
    pub min_heat_reports: u32,
    /// The filter sets: `windows` (each window, all reports) or `all` (also each category and
    /// department; many more archives).
    #[arg(long, value_enum, default_value = "windows")]
    pub filters: PublishFilters,
    /// One site per catalog under DIR (each folder DIR/SLUG a municipality, published at
    /// OUT/SLUG/), with an index page and `municipalities.json`.
    #[arg(long, value_name = "DIR")]
    pub catalogs: Option<PathBuf>,
    /// Fonts for the labels' glyphs (as `serve --fonts`).
    #[arg(long = "fonts", value_name = "PATH")]
    pub fonts: Vec<PathBuf>,
}
