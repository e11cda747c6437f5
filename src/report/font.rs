//! The font the figures' text is drawn with.
//!
//! plotters is built with its pure-Rust `ab_glyph` text renderer (no fontconfig, no FreeType),
//! which draws nothing until a TrueType/OpenType font is registered. We register one font file
//! found at run time: the file named by the `SAPIPE_FONT` environment variable if set, else the
//! first of [`CANDIDATES`] that exists (DejaVu Sans, from Debian's `fonts-dejavu-core`, is the
//! usual one on Linux). Without any, figures are still drawn, with no text, and the report says
//! so.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::style::FontStyle;

/// Environment variable naming a .ttf/.otf file to draw the figures' text with.
pub const FONT_ENV: &str = "SAPIPE_FONT";

/// The family name the font is registered under, used by every text style of the figures.
pub const FAMILY: &str = "sans-serif";

/// Font files tried in order when `SAPIPE_FONT` is unset.
pub const CANDIDATES: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSans.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "/Library/Fonts/Arial.ttf",
    "C:\\Windows\\Fonts\\arial.ttf",
];

/// Whether figure text can be drawn, and with which font file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FontStatus {
    Registered(PathBuf),
    /// No usable font: the reasons tried, for the report's note.
    Missing(String),
}

static STATUS: OnceLock<FontStatus> = OnceLock::new();

/// Finds and registers the font once per process; later calls return the same status.
pub fn ensure_font() -> &'static FontStatus {
    STATUS.get_or_init(|| {
        let status = find_and_register();
        match &status {
            FontStatus::Registered(path) => tracing::debug!("figure font: {}", path.display()),
            FontStatus::Missing(why) => tracing::warn!("figures are drawn without text: {why}"),
        }
        status
    })
}

fn find_and_register() -> FontStatus {
    if let Some(path) = std::env::var_os(FONT_ENV).filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        return match register(&path) {
            Ok(()) => FontStatus::Registered(path),
            Err(why) => FontStatus::Missing(format!("{FONT_ENV}={}: {why}", path.display())),
        };
    }
    for candidate in CANDIDATES.iter().map(Path::new).filter(|p| p.is_file()) {
        match register(candidate) {
            Ok(()) => return FontStatus::Registered(candidate.to_owned()),
            Err(why) => tracing::warn!("font {}: {why}", candidate.display()),
        }
    }
    FontStatus::Missing(format!(
        "no TrueType font found; install one (Debian: fonts-dejavu-core) or set {FONT_ENV} to a \
         .ttf file"
    ))
}

fn register(path: &Path) -> Result<(), String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    // plotters keeps registered fonts for the life of the process; this happens once.
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    plotters::style::register_font(FAMILY, FontStyle::Normal, bytes)
        .map_err(|_| "not a TrueType/OpenType font".to_string())
}
