//! `predio serve --catalogs DIR`: many municipalities in one process.
//!
//! Each folder `DIR/<slug>/` is a catalog served at `/m/<slug>/` by the same router a single
//! catalog has (its own state, guard, tile cache and version watcher), built when the
//! municipality is first asked for. The loaded catalogs are reckoned against a memory budget:
//! each costs its version's stored files times [`MEMORY_PER_STORED_BYTE`] plus its tile cache's
//! share; loading one that does not fit unloads the least recently used first. A request in
//! flight keeps the catalog it started with until it ends.
//!
//! A folder added is served on its first request; a folder removed is unloaded; a new version
//! is switched to by the catalog's own watcher. A catalog that cannot be loaded (a truncated
//! file) answers 503 with a JSON error, is named in `/health`, and is tried again when its
//! version changes or after [`RETRY_AFTER`]; the others keep serving.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::Router;
use predio_engine::{valid_slug, CatalogStore, DirCatalog};
use serde_json::{json, Value};

use super::{build_state, cors_of, router, watch, Assets, Shared};
use crate::cli::ServeArgs;

mod routes;
pub(crate) use routes::run;

/// Resident memory per byte of a catalog's stored files once served (geometries decoded, tile
/// indexes, attribute tables, hot spots, the style's legends and Open311's services), measured
/// on the sample towns: 3.4 after the load, 4.9 after those requests (docs/scaling.md). Open311
/// requests, search, series and drawn areas read more, on first use.
pub(crate) const MEMORY_PER_STORED_BYTE: u64 = 5;

/// A catalog that failed to load is tried again after this long (or at its next version).
const RETRY_AFTER: Duration = Duration::from_secs(30);

/// One loaded municipality.
pub(super) struct Slot {
    pub(super) app: Router,
    state: Shared,
    cost: u64,
    used: AtomicU64,
    watcher: tokio::task::JoinHandle<()>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.watcher.abort();
    }
}

/// Work for the loader thread.
enum Job {
    /// Build the state of a municipality.
    Load(String, tokio::sync::oneshot::Sender<anyhow::Result<Shared>>),
    /// Return freed memory to the system.
    GiveBack,
}

/// A municipality that could not be loaded: its version then, and when.
struct Broken {
    version: Option<String>,
    at: Instant,
}

/// Why a municipality cannot answer.
pub(super) enum Unavailable {
    /// No such folder.
    Unknown,
    /// It failed to load (logged).
    Broken,
}

/// The deployment: its folder, options, and the loaded municipalities.
pub(crate) struct Deployment {
    root: PathBuf,
    keys: PathBuf,
    args: ServeArgs,
    assets: Assets,
    budget: u64,
    cache_share: u64,
    slots: Mutex<HashMap<String, Arc<Slot>>>,
    gates: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// The loader thread: every catalog is loaded there, one at a time, so that the memory of
    /// one unloaded is returned there at once ([`crate::malloc::give_back`]).
    loader: Mutex<std::sync::mpsc::Sender<Job>>,
    /// One admission at a time: room made, the catalog loaded and counted in.
    admit: tokio::sync::Mutex<()>,
    broken: Mutex<HashMap<String, Broken>>,
    clock: AtomicU64,
    loads: AtomicU64,
    evictions: AtomicU64,
    /// Municipalities unloaded while requests still held them, with their cost: counted in the
    /// budget until the last of those requests ends.
    draining: Mutex<Vec<(std::sync::Weak<super::state::AppState>, u64)>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The version a catalog's `CURRENT` names, if readable.
fn current_version(dir: &Path) -> Option<String> {
    DirCatalog::new(dir)
        .current_version()
        .ok()
        .flatten()
        .map(|v| v.to_string())
}

/// What a catalog's current version is reckoned to take in memory, bytes, and its bounds.
fn reckon(dir: &Path) -> (u64, Option<[f64; 4]>) {
    let Ok(Some(m)) = DirCatalog::new(dir).current() else {
        return (0, None);
    };
    let stored: u64 = m.files.values().map(|f| f.bytes).sum();
    let bounds = m
        .layers
        .values()
        .filter_map(|l| l.bbox)
        .map(<[f64; 4]>::from)
        .reduce(|a, b| {
            [
                a[0].min(b[0]),
                a[1].min(b[1]),
                a[2].max(b[2]),
                a[3].max(b[3]),
            ]
        });
    (stored.saturating_mul(MEMORY_PER_STORED_BYTE), bounds)
}

impl Deployment {
    pub(super) fn new(root: PathBuf, args: &ServeArgs) -> anyhow::Result<Arc<Self>> {
        anyhow::ensure!(root.is_dir(), "--catalogs {}: not a folder", root.display());
        let budget = args.memory_mib.saturating_mul(1 << 20);
        // each loaded catalog's tile cache: a 64th of --cache-mib, at most an eighth of the
        // budget
        let cache_share =
            (args.cache_mib.saturating_mul(1 << 20) / 64).clamp(1 << 20, (budget / 8).max(1 << 20));
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let d = Arc::new(Self {
            keys: args
                .keys
                .clone()
                .unwrap_or_else(|| super::super::keys::default_file(&root)),
            assets: Assets {
                vendor: Arc::new(super::read_vendor(args.web_dir.as_deref())),
                glyphs: super::fonts::open(&args.fonts)?,
            },
            root,
            args: args.clone(),
            budget,
            cache_share,
            slots: Mutex::new(HashMap::new()),
            gates: Mutex::new(HashMap::new()),
            loader: Mutex::new(jobs),
            admit: tokio::sync::Mutex::new(()),
            broken: Mutex::new(HashMap::new()),
            clock: AtomicU64::new(0),
            loads: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
            draining: Mutex::new(Vec::new()),
        });
        let weak = Arc::downgrade(&d);
        std::thread::Builder::new()
            .name("predio-loader".into())
            .spawn(move || {
                for job in queue {
                    match job {
                        Job::Load(slug, reply) => {
                            let Some(d) = weak.upgrade() else { return };
                            // a panic while loading one catalog fails that one, not the thread
                            let built =
                                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                    d.build(&slug)
                                }))
                                .unwrap_or_else(|_| Err(anyhow::anyhow!("loading panicked")));
                            let _ = reply.send(built);
                        }
                        Job::GiveBack => crate::malloc::give_back(),
                    }
                }
            })
            .context("starting the loader thread")?;
        Ok(d)
    }

    /// The state of the municipality `slug`, built as `predio serve` builds one (on the loader
    /// thread).
    fn build(&self, slug: &str) -> anyhow::Result<Shared> {
        build_state(
            Box::new(DirCatalog::new(self.root.join(slug))),
            self.keys.clone(),
            &self.args,
            Vec::new(),
            &self.assets,
            Some(slug),
            self.cache_share,
        )
    }

    /// Asks the loader thread to return the memory freed so far.
    fn give_back(&self) {
        let _ = lock(&self.loader).send(Job::GiveBack);
    }

    /// The municipalities' folders, sorted.
    pub(super) fn slugs(&self) -> Vec<String> {
        let mut out: Vec<String> = std::fs::read_dir(&self.root)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| valid_slug(n))
            .collect();
        out.sort();
        out
    }

    fn touch(&self, slot: &Slot) {
        slot.used.store(
            self.clock.fetch_add(1, Ordering::Relaxed),
            Ordering::Relaxed,
        );
    }

    /// The loaded municipality `slug`, loading it (and unloading others to make room) first.
    pub(super) async fn slot(self: &Arc<Self>, slug: &str) -> Result<Arc<Slot>, Unavailable> {
        let dir = self.root.join(slug);
        if !valid_slug(slug) || !dir.is_dir() {
            // gone: unloaded now, not at the next sweep
            lock(&self.slots).remove(slug);
            return Err(Unavailable::Unknown);
        }
        if let Some(s) = lock(&self.slots).get(slug).cloned() {
            self.touch(&s);
            return Ok(s);
        }
        let gate = Arc::clone(lock(&self.gates).entry(slug.to_owned()).or_default());
        let _one = gate.lock().await;
        if let Some(s) = lock(&self.slots).get(slug).cloned() {
            self.touch(&s);
            return Ok(s);
        }
        let dir2 = dir.clone();
        let (version, (cost, _)) =
            tokio::task::spawn_blocking(move || (current_version(&dir2), reckon(&dir2)))
                .await
                .map_err(|_| Unavailable::Broken)?;
        if let Some(b) = lock(&self.broken).get(slug) {
            if b.version == version && b.at.elapsed() < RETRY_AFTER {
                return Err(Unavailable::Broken);
            }
        }
        let _admit = self.admit.lock().await;
        let cost = cost + self.cache_share;
        self.make_room(slug, cost).await;
        let started = Instant::now();
        let (reply, built) = tokio::sync::oneshot::channel();
        let sent = lock(&self.loader).send(Job::Load(slug.to_owned(), reply));
        let failed = match (sent, built.await) {
            (Ok(()), Ok(Ok(state))) => Ok(state),
            (Ok(()), Ok(Err(e))) => Err(format!("{e:#}")),
            _ => Err("the loader thread stopped".to_owned()),
        };
        let state = match failed {
            Ok(state) => state,
            Err(e) => {
                tracing::error!(municipality = slug, "not served: {e}");
                lock(&self.broken).insert(
                    slug.to_owned(),
                    Broken {
                        version,
                        at: Instant::now(),
                    },
                );
                return Err(Unavailable::Broken);
            }
        };
        lock(&self.broken).remove(slug);
        let cors = cors_of(&self.args.cors_origins).map_err(|_| Unavailable::Broken)?;
        let slot = Arc::new(Slot {
            app: router(Arc::clone(&state), cors),
            watcher: tokio::spawn(watch(
                Arc::clone(&state),
                Duration::from_millis(self.args.poll_ms.max(10)),
            )),
            state,
            cost,
            used: AtomicU64::new(self.clock.fetch_add(1, Ordering::Relaxed)),
        });
        self.loads.fetch_add(1, Ordering::Relaxed);
        tracing::info!(
            municipality = slug,
            secs = started.elapsed().as_secs_f64(),
            mib = cost >> 20,
            "loaded"
        );
        lock(&self.slots).insert(slug.to_owned(), Arc::clone(&slot));
        Ok(slot)
    }

    /// What the loaded municipalities and those unloaded but still answering their last
    /// requests are reckoned to hold, bytes (the drained ones forgotten, their memory given
    /// back).
    fn reckoned(&self) -> u64 {
        let loaded: u64 = lock(&self.slots).values().map(|s| s.cost).sum();
        let mut draining = lock(&self.draining);
        let before = draining.len();
        draining.retain(|(state, _)| state.strong_count() > 0);
        if draining.len() < before {
            self.give_back();
        }
        loaded + draining.iter().map(|(_, c)| c).sum::<u64>()
    }

    /// Unloads the least recently used municipalities (not `slug`), and waits for those
    /// unloaded to finish their requests, until `cost` more fits in the budget (a municipality
    /// that alone exceeds it is loaded when nothing else is held).
    async fn make_room(&self, slug: &str, cost: u64) {
        loop {
            if self.reckoned() + cost <= self.budget {
                return;
            }
            let oldest = {
                let mut slots = lock(&self.slots);
                let oldest = slots
                    .iter()
                    .filter(|(n, _)| n.as_str() != slug)
                    .min_by_key(|(_, s)| s.used.load(Ordering::Relaxed))
                    .map(|(n, _)| n.clone());
                oldest.and_then(|n| slots.remove(&n).map(|s| (n, s)))
            };
            match oldest {
                Some((name, slot)) => {
                    lock(&self.draining).push((Arc::downgrade(&slot.state), slot.cost));
                    drop(slot);
                    self.evictions.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(municipality = %name, "unloaded (memory budget)");
                }
                None if lock(&self.draining).is_empty() => return,
                // the unloaded ones' last requests are ending
                None => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
    }

    /// Unloads the municipalities whose folder is gone, and forgets a failure once its catalog
    /// has a new version.
    pub(super) fn sweep(&self) {
        // what unloaded catalogs still held while their last requests ended
        self.give_back();
        let mut slots = lock(&self.slots);
        slots.retain(|slug, _| {
            let here = self.root.join(slug).is_dir();
            if !here {
                tracing::info!(municipality = %slug, "unloaded (its folder is gone)");
            }
            here
        });
        drop(slots);
        lock(&self.broken).retain(|slug, b| current_version(&self.root.join(slug)) == b.version);
    }

    /// `/health`: every municipality, loaded or not, and the deployment's counters.
    pub(super) fn health(&self) -> Value {
        let slots = lock(&self.slots);
        let broken = lock(&self.broken);
        let list: Vec<Value> = self
            .slugs()
            .into_iter()
            .map(|slug| {
                let (status, version) = match (slots.get(&slug), broken.get(&slug)) {
                    (Some(s), _) => (
                        "loaded",
                        Some(s.state.current.load().manifest.version.to_string()),
                    ),
                    (None, Some(b)) => ("unavailable", b.version.clone()),
                    (None, None) => ("unloaded", None),
                };
                json!({ "slug": slug, "status": status, "version": version })
            })
            .collect();
        let unavailable = list.iter().filter(|m| m["status"] == "unavailable").count();
        json!({
            "status": if unavailable == 0 { "ok" } else { "degraded" },
            "municipalities": list,
            "loaded": slots.len(),
            "unavailable": unavailable,
            "loads": self.loads.load(Ordering::Relaxed),
            "evictions": self.evictions.load(Ordering::Relaxed),
            "memory": {
                "budget_mib": self.budget >> 20,
                "reckoned_mib": slots.values().map(|s| s.cost).sum::<u64>() >> 20,
                "draining": lock(&self.draining).len(),
                "cache_share_mib": self.cache_share >> 20,
            },
        })
    }

    /// Every municipality with its bounds and version, from the manifests.
    pub(super) fn listing(&self) -> Vec<Value> {
        self.slugs()
            .into_iter()
            .map(|slug| {
                let dir = self.root.join(&slug);
                let (_, bounds) = reckon(&dir);
                json!({
                    "slug": slug,
                    "url": format!("/m/{slug}/"),
                    "version": current_version(&dir),
                    "bounds": bounds,
                })
            })
            .collect()
    }
}
