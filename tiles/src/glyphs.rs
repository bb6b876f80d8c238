//! Map label glyphs: the signed-distance-field PBF ranges MapLibre asks for
//! (`/fonts/{fontstack}/{start}-{end}.pbf`), rendered by martin-core's `fonts` support from font
//! files installed on the server (Debian's `fonts-noto-core`), so the viewer draws sector names
//! and parcel ids with no font CDN. A range is rendered once and kept.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use martin_core::fonts::{FontError, FontSources};

/// The fonts a server has, and the ranges it has rendered.
#[derive(Debug)]
pub struct Glyphs {
    sources: FontSources,
    /// The fonts' names ("Noto Sans Regular"), in the order given.
    names: Vec<String>,
    rendered: Mutex<Rendered>,
}

/// The ranges rendered, by font stack and first code point.
type Rendered = HashMap<(String, u32), Arc<Vec<u8>>>;

/// Why glyphs could not be had.
#[derive(Debug, thiserror::Error)]
pub enum GlyphError {
    /// A font file or folder that does not read.
    #[error("font {path}: {message}")]
    Open {
        /// The file or folder.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// A request for a font or range there is not.
    #[error("{0}")]
    Request(String),
}

impl Glyphs {
    /// The fonts of `paths` (files, or folders searched for `.ttf`, `.otf`, `.ttc`).
    ///
    /// # Errors
    /// A path that holds no font, or a font that does not read.
    pub fn open(paths: &[PathBuf]) -> Result<Glyphs, GlyphError> {
        let mut sources = FontSources::default();
        let mut names = Vec::new();
        for p in paths {
            let before: std::collections::HashSet<String> =
                sources.get_catalog().into_keys().collect();
            sources
                .recursively_add_directory(p.clone())
                .map_err(|e| GlyphError::Open {
                    path: p.display().to_string(),
                    message: e.to_string(),
                })?;
            let mut added: Vec<String> = sources
                .get_catalog()
                .into_keys()
                .filter(|k| !before.contains(k))
                .collect();
            added.sort();
            names.extend(added);
        }
        Ok(Glyphs {
            sources,
            names,
            rendered: Mutex::new(HashMap::new()),
        })
    }

    /// The fonts' names, as a style's `text-font` names them.
    #[must_use]
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The glyphs of `fontstack` (names joined by commas) for the 256 code points from
    /// `start`, as MapLibre's `{range}.pbf`.
    ///
    /// # Errors
    /// [`GlyphError::Request`] for an unknown font or a range that is not 256 code points
    /// aligned on 256.
    pub fn range(&self, fontstack: &str, start: u32, end: u32) -> Result<Arc<Vec<u8>>, GlyphError> {
        let key = (fontstack.to_owned(), start);
        let cached = self
            .rendered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .cloned();
        if let Some(pbf) = cached {
            return Ok(pbf);
        }
        let pbf = self
            .sources
            .get_font_range(fontstack, start, end)
            .map_err(|e| match e {
                FontError::FontNotFound(_)
                | FontError::InvalidFontRangeStartEnd { .. }
                | FontError::InvalidFontRangeStart(_)
                | FontError::InvalidFontRangeEnd(_)
                | FontError::InvalidFontRange(..)
                | FontError::TooManyFontIds { .. } => GlyphError::Request(e.to_string()),
                other => GlyphError::Open {
                    path: fontstack.to_owned(),
                    message: other.to_string(),
                },
            })?;
        let pbf = Arc::new(pbf);
        self.rendered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, Arc::clone(&pbf));
        Ok(pbf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_debian_font_renders_the_latin_range_and_refuses_bad_ranges() {
        let font = PathBuf::from("/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf");
        if !font.exists() {
            assert!(
                std::env::var_os("CI").is_none(),
                "fonts-noto-core is not installed (make deps)"
            );
            eprintln!("skipped: fonts-noto-core is not installed");
            return;
        }
        let g = Glyphs::open(&[font]).expect("the font");
        assert_eq!(g.names(), ["Noto Sans Regular"]);
        let pbf = g.range("Noto Sans Regular", 0, 255).expect("glyphs");
        // a protobuf holding the stack's name and glyphs for the Latin letters
        assert!(pbf.len() > 10_000, "{} bytes", pbf.len());
        assert!(pbf.windows(17).any(|w| w == b"Noto Sans Regular"));
        assert!(Arc::ptr_eq(
            &pbf,
            &g.range("Noto Sans Regular", 0, 255).expect("again")
        ));
        assert!(matches!(
            g.range("Comic Sans", 0, 255),
            Err(GlyphError::Request(_))
        ));
        assert!(matches!(
            g.range("Noto Sans Regular", 1, 256),
            Err(GlyphError::Request(_))
        ));
    }
}
