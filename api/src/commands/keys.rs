//! API keys and roles: `predio keys add|list|remove`, and the key file `predio serve` reads.
//!
//! A key is 32 random bytes (from the kernel) written once, as `predio_` + hex, to the terminal;
//! the file keeps only its SHA-256 (keys are random, so a fast hash is enough: there is nothing
//! to guess from it), with a name and a role. The file is TOML, rewritten atomically.

use std::collections::HashMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use sha2::{Digest, Sha256};

use crate::cli::{KeysAdd, KeysCommand};
pub use crate::role::Role;

/// One key of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEntry {
    /// Who holds it (unique).
    pub name: String,
    /// What it may see.
    pub role: Role,
    /// SHA-256 of the key, hex.
    pub sha256: String,
    /// When it was made (RFC 3339).
    pub created: String,
    /// The municipalities it is for (`serve --catalogs`), each `SLUG` (with the key's role) or
    /// `SLUG:ROLE` (with a role of its own there); empty: all, with the key's role.
    pub catalogs: Vec<String>,
}

/// The keys a server accepts, by hash: each key's name, role and municipalities.
#[derive(Debug, Clone, Default)]
pub struct Keys {
    by_hash: HashMap<String, (String, Role, Vec<String>)>,
}

impl Keys {
    /// The name and role of `key`, if it is one of ours (in every municipality).
    #[cfg(test)]
    pub fn check(&self, key: &str) -> Option<(&str, Role)> {
        self.check_in(key, None)
    }

    /// The name and role of `key` in the municipality `scope` (a server of many): a key made
    /// for other municipalities is known there, with no more than a caller without a key.
    pub fn check_in(&self, key: &str, scope: Option<&str>) -> Option<(&str, Role)> {
        self.by_hash.get(&hash(key)).map(|(n, r, catalogs)| {
            let role = match scope {
                Some(slug) if !catalogs.is_empty() => catalogs
                    .iter()
                    .filter_map(|c| scoped(c, *r))
                    .find(|(s, _)| *s == slug)
                    .map_or(Role::Public, |(_, role)| role),
                _ => *r,
            };
            (n.as_str(), role)
        })
    }

    /// How many keys there are.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }
}

/// A key's municipality, `SLUG` or `SLUG:ROLE`, as the slug and the role there (`base` where
/// none is given); `None` for anything else.
fn scoped(entry: &str, base: Role) -> Option<(&str, Role)> {
    let (slug, role) = match entry.split_once(':') {
        Some((slug, role)) => (slug, Role::parse(role)?),
        None => (entry, base),
    };
    predio_engine::valid_slug(slug).then_some((slug, role))
}

/// SHA-256 of a key, hex.
pub fn hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// The default key file of a catalog.
pub fn default_file(data: &Path) -> PathBuf {
    data.join("keys.toml")
}

/// Reads the key file; a missing file is no keys.
///
/// # Errors
/// An unreadable file, or an entry without a name, a known role or a 64-hex hash, named by
/// its position.
pub fn read(path: &Path) -> anyhow::Result<Vec<KeyEntry>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let doc: toml::Table = toml::from_str(&text).with_context(|| path.display().to_string())?;
    let mut out = Vec::new();
    let entries = match doc.get("key") {
        None => return Ok(out),
        Some(toml::Value::Array(a)) => a,
        Some(_) => anyhow::bail!("{}: `key` must be an array of tables", path.display()),
    };
    for (i, e) in entries.iter().enumerate() {
        let field = |k: &str| e.get(k).and_then(toml::Value::as_str).map(str::to_owned);
        let at = || format!("{}: key #{}", path.display(), i + 1);
        let name = field("name").with_context(|| format!("{}: no name", at()))?;
        let role = field("role")
            .as_deref()
            .and_then(Role::parse)
            .with_context(|| {
                format!(
                    "{} ({name}): role must be public, planner, auditor or admin",
                    at()
                )
            })?;
        let sha256 = field("sha256")
            .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
            .with_context(|| format!("{} ({name}): sha256 must be 64 hex digits", at()))?;
        let catalogs = match e.get("catalogs") {
            None => Vec::new(),
            Some(toml::Value::Array(a)) => a
                .iter()
                .map(|v| {
                    v.as_str()
                        .filter(|s| scoped(s, role).is_some())
                        .map(str::to_owned)
                })
                .collect::<Option<Vec<_>>>()
                .with_context(|| {
                    format!(
                        "{} ({name}): catalogs must be municipality slugs, each SLUG or SLUG:ROLE",
                        at()
                    )
                })?,
            Some(_) => anyhow::bail!("{} ({name}): catalogs must be an array", at()),
        };
        out.push(KeyEntry {
            name,
            role,
            sha256: sha256.to_ascii_lowercase(),
            created: field("created").unwrap_or_default(),
            catalogs,
        });
    }
    Ok(out)
}

/// The keys of a file, for the server.
///
/// # Errors
/// As [`read`].
pub fn load(path: &Path) -> anyhow::Result<Keys> {
    Ok(Keys {
        by_hash: read(path)?
            .into_iter()
            .map(|e| (e.sha256, (e.name, e.role, e.catalogs)))
            .collect(),
    })
}

fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

fn write(path: &Path, entries: &[KeyEntry]) -> anyhow::Result<()> {
    let mut text = String::from(
        "# predio API keys: SHA-256 of each key, never the key. Managed with `predio keys`.\n",
    );
    for e in entries {
        text += &format!(
            "\n[[key]]\nname = {}\nrole = {}\nsha256 = {}\ncreated = {}\n",
            toml_string(&e.name),
            toml_string(e.role.as_str()),
            toml_string(&e.sha256),
            toml_string(&e.created)
        );
        if !e.catalogs.is_empty() {
            let list: Vec<String> = e.catalogs.iter().map(|c| toml_string(c)).collect();
            text += &format!("catalogs = [{}]\n", list.join(", "));
        }
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    predio_engine::write_file_atomically(path, text.as_bytes())?;
    Ok(())
}

/// A new random key.
fn new_key() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("reading /dev/urandom")?;
    Ok(format!("predio_{}", hex::encode(bytes)))
}

/// Adds a key and returns it (the only time it is shown).
///
/// # Errors
/// A name already used, or the file cannot be read or written.
pub fn add(path: &Path, args: &KeysAdd) -> anyhow::Result<String> {
    let mut entries = read(path)?;
    anyhow::ensure!(
        !args.name.trim().is_empty(),
        "--name: give who holds the key"
    );
    anyhow::ensure!(
        !entries.iter().any(|e| e.name == args.name),
        "{}: a key named {:?} exists; remove it first or choose another name",
        path.display(),
        args.name
    );
    for c in &args.catalogs {
        anyhow::ensure!(
            scoped(c, args.role).is_some(),
            "--catalog {c:?}: a municipality's folder name (lower-case letters, digits, '-', \
             '_'), or SLUG:ROLE for another role there (public, planner, auditor, admin)"
        );
    }
    let key = new_key()?;
    entries.push(KeyEntry {
        name: args.name.clone(),
        role: args.role,
        sha256: hash(&key),
        created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        catalogs: args.catalogs.clone(),
    });
    write(path, &entries)?;
    Ok(key)
}

/// `predio keys ...`.
#[allow(clippy::print_stdout)] // the key and the list are this command's output
pub fn run(data: &Path, command: &KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Add(args) => {
            let path = args.file.clone().unwrap_or_else(|| default_file(data));
            let key = add(&path, args)?;
            println!("{key}");
            let scope = if args.catalogs.is_empty() {
                String::new()
            } else {
                format!(" for {}", args.catalogs.join(", "))
            };
            eprintln!(
                "key {:?} ({}{scope}) added to {}; it is shown only now. Send it as \
                 `X-API-Key: KEY` or `Authorization: Bearer KEY`.",
                args.name,
                args.role,
                path.display()
            );
        }
        KeysCommand::List { file } => {
            let path = file.clone().unwrap_or_else(|| default_file(data));
            let entries = read(&path)?;
            if entries.is_empty() {
                println!("no keys in {}", path.display());
            }
            for e in entries {
                let scope = if e.catalogs.is_empty() {
                    "all".to_owned()
                } else {
                    e.catalogs.join(",")
                };
                println!("{:<24} {:<8} {:<24} {}", e.name, e.role, scope, e.created);
            }
        }
        KeysCommand::Remove { name, file } => {
            let path = file.clone().unwrap_or_else(|| default_file(data));
            let mut entries = read(&path)?;
            let before = entries.len();
            entries.retain(|e| &e.name != name);
            anyhow::ensure!(
                entries.len() < before,
                "{}: no key named {name:?}",
                path.display()
            );
            write(&path, &entries)?;
            eprintln!("key {name:?} removed from {}", path.display());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stored_hashed_and_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keys.toml");
        let args = KeysAdd {
            name: "ana".into(),
            role: Role::Auditor,
            file: None,
            catalogs: Vec::new(),
        };
        let key = add(&path, &args).expect("added");
        assert!(key.starts_with("predio_") && key.len() == 71);
        let text = std::fs::read_to_string(&path).expect("file");
        assert!(!text.contains(&key), "the key itself is never stored");
        assert!(text.contains(&hash(&key)));
        assert!(add(&path, &args).is_err(), "a name is used once");
        let other = add(
            &path,
            &KeysAdd {
                name: "boss".into(),
                role: Role::Admin,
                file: None,
                catalogs: Vec::new(),
            },
        )
        .expect("second");
        assert_ne!(key, other);
        let keys = load(&path).expect("load");
        assert_eq!(keys.len(), 2);
        assert_eq!(keys.check(&key), Some(("ana", Role::Auditor)));
        assert_eq!(keys.check(&other), Some(("boss", Role::Admin)));
        assert_eq!(keys.check("predio_00"), None);
        assert!(Role::Public < Role::Planner && Role::Auditor < Role::Admin);

        std::fs::write(
            &path,
            "[[key]]\nname = \"x\"\nrole = \"boss\"\nsha256 = \"00\"\n",
        )
        .expect("write");
        let e = load(&path).expect_err("bad role").to_string();
        assert!(e.contains("key #1") && e.contains("role"), "{e}");
        assert_eq!(load(&dir.path().join("none.toml")).expect("none").len(), 0);
    }

    #[test]
    fn a_key_for_some_municipalities_is_public_in_the_others() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keys.toml");
        let args = |name: &str, catalogs: &[&str]| KeysAdd {
            name: name.into(),
            role: Role::Auditor,
            file: None,
            catalogs: catalogs.iter().map(|c| (*c).to_owned()).collect(),
        };
        let sj = add(&path, &args("sj", &["san-jose", "heredia:planner"])).expect("added");
        let all = add(&path, &args("all", &[])).expect("added");
        assert!(add(&path, &args("bad", &["San José"])).is_err());
        assert!(add(&path, &args("bad", &["heredia:boss"])).is_err());
        let keys = load(&path).expect("load");
        assert_eq!(
            keys.check_in(&sj, Some("san-jose")),
            Some(("sj", Role::Auditor))
        );
        assert_eq!(
            keys.check_in(&sj, Some("heredia")),
            Some(("sj", Role::Planner))
        );
        assert_eq!(
            keys.check_in(&sj, Some("cartago")),
            Some(("sj", Role::Public))
        );
        assert_eq!(
            keys.check_in(&all, Some("cartago")),
            Some(("all", Role::Auditor))
        );
        // one catalog served alone: its key file's keys hold
        assert_eq!(keys.check(&sj), Some(("sj", Role::Auditor)));
        assert!(std::fs::read_to_string(&path)
            .expect("file")
            .contains("catalogs = [\"san-jose\", \"heredia:planner\"]"));
    }
}
