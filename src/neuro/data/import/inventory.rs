//! The inventory of an import source, taken before any array is read: every file of a folder
//! (or entry of an `.npz` archive) is accepted, skipped because the stage's `ignore` list names
//! it, skipped because it is hidden (folders only: names starting with '.', such as
//! `.DS_Store`; reported, not an error), or an error that lists what was found and what is
//! accepted. An `ignore` entry that names nothing is an error too. Nothing is dropped silently.

use std::collections::{BTreeMap, BTreeSet};

use super::ImportError;
use super::report::{SkipReason, Skipped};

/// The arrays the importer reads (as `NAME.npy` in a folder, `NAME` in an `.npz`).
pub const ARRAYS: [&str; 8] = [
    "images",
    "responses",
    "test_repeats",
    "train",
    "validation",
    "test",
    "split",
    "is_test",
];

/// The arrays every source must have.
pub const REQUIRED: [&str; 2] = ["images", "responses"];

/// Files a folder may hold beside its arrays.
pub const SIDE_FILES: [&str; 1] = ["split.json"];

/// How names are shown: files of a folder, or arrays of an `.npz` archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Folder,
    Archive,
    /// The variables of a `.mat` or `.h5` file, by name.
    Variables,
}

impl Layout {
    /// "file" or "array", for messages.
    pub fn noun(self) -> &'static str {
        match self {
            Layout::Folder => "file",
            Layout::Archive => "array",
            Layout::Variables => "variable",
        }
    }

    /// An entry as the user knows it: a folder's file name, an archive's array name (the
    /// entry without `.npy`; other entries as they are).
    pub fn shown(self, entry: &str) -> String {
        match self {
            Layout::Folder | Layout::Variables => entry.to_owned(),
            Layout::Archive => entry.strip_suffix(".npy").unwrap_or(entry).to_owned(),
        }
    }

    /// The accepted names, as shown, required ones first.
    pub fn accepted(self) -> Vec<String> {
        let arrays = ARRAYS.iter().map(|a| match self {
            Layout::Folder => format!("{a}.npy"),
            Layout::Archive | Layout::Variables => (*a).to_owned(),
        });
        match self {
            Layout::Folder => arrays
                .chain(SIDE_FILES.iter().map(|f| (*f).to_owned()))
                .collect(),
            Layout::Archive | Layout::Variables => arrays.collect(),
        }
    }
}

/// What a source holds that the importer may use.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inventory {
    /// Accepted arrays present and not ignored, by name.
    pub arrays: BTreeSet<String>,
    /// Accepted side files (folders only) present and not ignored.
    pub side_files: BTreeSet<String>,
    /// What was skipped and why, in name order.
    pub skipped: Vec<Skipped>,
}

/// Whether `ignore` entry `x` names `entry` (a file name or archive entry): exactly, or
/// without its extension (`notes` names `notes.txt`, `extra` names `extra.npy`).
pub fn names(x: &str, entry: &str) -> bool {
    x == entry
        || entry
            .rsplit_once('.')
            .is_some_and(|(stem, _)| !stem.is_empty() && stem == x)
}

/// Sorts `entries` (file names of a folder, or entry names of an archive) into an
/// [`Inventory`], or names what is neither accepted nor ignored. `location` is the source,
/// for messages.
pub fn take_inventory(
    entries: &[String],
    layout: Layout,
    ignore: &[String],
    location: &str,
) -> Result<Inventory, ImportError> {
    let mut entries: Vec<&String> = entries.iter().collect();
    entries.sort();
    let found = || entries.iter().map(|e| layout.shown(e)).collect::<Vec<_>>();
    for x in ignore {
        if !entries.iter().any(|e| names(x, e)) {
            return Err(ImportError::IgnoreUnmatched {
                location: location.to_owned(),
                layout,
                entry: x.clone(),
                found: found(),
            });
        }
    }
    let mut inventory = Inventory::default();
    let mut unknown = Vec::new();
    for e in &entries {
        let array = match layout {
            Layout::Variables => Some(e.as_str()),
            Layout::Folder | Layout::Archive => e.strip_suffix(".npy"),
        }
        .filter(|a| ARRAYS.contains(a));
        if let Some(x) = ignore.iter().find(|x| names(x, e)) {
            if let Some(required) = array.filter(|a| REQUIRED.contains(a)) {
                return Err(ImportError::IgnoreRequired {
                    location: location.to_owned(),
                    entry: x.clone(),
                    array: required.to_owned(),
                });
            }
            inventory.skipped.push(Skipped {
                name: layout.shown(e),
                why: SkipReason::Ignored,
            });
        } else if layout == Layout::Folder && e.starts_with('.') {
            inventory.skipped.push(Skipped {
                name: layout.shown(e),
                why: SkipReason::Hidden,
            });
        } else if let Some(a) = array {
            inventory.arrays.insert(a.to_owned());
        } else if layout == Layout::Folder && SIDE_FILES.contains(&e.as_str()) {
            inventory.side_files.insert((*e).clone());
        } else {
            unknown.push(layout.shown(e));
        }
    }
    if !unknown.is_empty() {
        return Err(ImportError::Unknown {
            location: location.to_owned(),
            layout,
            unknown,
            found: found(),
            accepted: layout.accepted(),
        });
    }
    Ok(inventory)
}

/// `entries` with the `names` mapping applied: each source name it maps becomes the
/// importer's name, so the inventory sees `images` where the source has `stim`.
pub fn rename(
    entries: &[String],
    layout: Layout,
    names: &BTreeMap<String, String>,
    location: &str,
) -> Result<Vec<String>, ImportError> {
    let entry = |name: &str| match layout {
        Layout::Variables => name.to_owned(),
        Layout::Folder | Layout::Archive => format!("{name}.npy"),
    };
    let mut out = entries.to_vec();
    let bad = |message: String| ImportError::Names {
        location: location.to_owned(),
        message,
    };
    for (ours, theirs) in names {
        if !ARRAYS.contains(&ours.as_str()) {
            return Err(bad(format!(
                "`names` maps '{ours}', which is not an array the importer reads; accepted: {}",
                ARRAYS.join(", ")
            )));
        }
        let Some(i) = out.iter().position(|e| *e == entry(theirs)) else {
            let mut found: Vec<String> = entries.iter().map(|e| layout.shown(e)).collect();
            found.sort();
            return Err(bad(format!(
                "`names` maps {ours} to '{theirs}', which the source does not have; found: {}",
                list(&found)
            )));
        };
        if theirs != ours && entries.contains(&entry(ours)) {
            return Err(bad(format!(
                "`names` maps {ours} to '{theirs}', but the source also has {}; name one of                  them in `ignore`, or drop the mapping",
                layout.shown(&entry(ours))
            )));
        }
        out[i] = entry(ours);
    }
    Ok(out)
}

/// " (did you mean 'x'?)" for the name in `valid` closest to `wrong`, if one is close.
fn closest<'a>(wrong: &str, valid: impl Iterator<Item = &'a str>) -> String {
    valid
        .map(|v| (strsim::damerau_levenshtein(wrong, v), v))
        .filter(|&(d, _)| d > 0)
        .min()
        .filter(|&(d, _)| d <= 3 && d < wrong.len().max(2))
        .map(|(_, v)| format!(" (did you mean '{v}'?)"))
        .unwrap_or_default()
}

/// The message of [`ImportError::Unknown`] (after its location).
pub fn unknown_message(
    layout: Layout,
    unknown: &[String],
    found: &[String],
    accepted: &[String],
) -> String {
    let what = layout.noun();
    let plural = if unknown.len() == 1 { "" } else { "s" };
    let article = if what.starts_with('a') { "an" } else { "a" };
    let hint = match unknown {
        [one] => closest(one, accepted.iter().map(String::as_str)),
        _ => String::new(),
    };
    format!(
        "unknown {what}{plural} {}{hint}; found: {}; accepted: {}; to skip {article} {what}, \
         name it in the import stage's `ignore` list (e.g. ignore: [{}])",
        unknown.join(", "),
        list(found),
        accepted.join(", "),
        unknown.join(", ")
    )
}

/// The message of [`ImportError::IgnoreUnmatched`] (after its location).
pub fn unmatched_message(layout: Layout, entry: &str, found: &[String]) -> String {
    format!(
        "`ignore` entry '{entry}' names no {}{}; found: {}",
        layout.noun(),
        closest(entry, found.iter().map(String::as_str)),
        list(found)
    )
}

/// `a, b, c`, or `none`.
pub fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn folder(entries: &[&str], ignore: &[&str]) -> Result<Inventory, String> {
        take_inventory(&strings(entries), Layout::Folder, &strings(ignore), "rec")
            .map_err(|e| e.to_string())
    }

    #[test]
    fn accepted_files_are_taken_hidden_and_ignored_ones_are_reported() {
        let inv = folder(
            &[
                "responses.npy",
                "images.npy",
                "split.json",
                ".DS_Store",
                "notes.txt",
                "extra.npy",
            ],
            &["notes.txt", "extra"],
        )
        .unwrap();
        assert_eq!(
            inv.arrays.iter().collect::<Vec<_>>(),
            ["images", "responses"]
        );
        assert!(inv.side_files.contains("split.json"));
        let skipped: Vec<String> = inv.skipped.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            skipped,
            [
                ".DS_Store (hidden)",
                "extra.npy (ignore)",
                "notes.txt (ignore)"
            ]
        );
    }

    #[test]
    fn an_unknown_file_lists_what_was_found_and_what_is_accepted() {
        let e = folder(&["images.npy", "responses.npy", "notes.txt"], &[]).unwrap_err();
        assert_eq!(
            e,
            "rec: unknown file notes.txt; found: images.npy, notes.txt, responses.npy; \
             accepted: images.npy, responses.npy, test_repeats.npy, train.npy, validation.npy, \
             test.npy, split.npy, is_test.npy, split.json; to skip a file, name it in the \
             import stage's `ignore` list (e.g. ignore: [notes.txt])"
        );
        let e = folder(&["Images.npy", "responses.npy"], &[]).unwrap_err();
        assert!(
            e.contains("unknown file Images.npy (did you mean 'images.npy'?); found:"),
            "{e}"
        );
        let e = folder(&["images.npy", "responses.npy", "a.csv", "b.csv"], &[]).unwrap_err();
        assert!(e.contains("unknown files a.csv, b.csv; found:"), "{e}");
    }

    #[test]
    fn an_archive_shows_array_names_and_has_no_side_files_or_hidden_entries() {
        let e = take_inventory(
            &strings(&["images.npy", "responses.npy", "arr_0.npy", "split.json"]),
            Layout::Archive,
            &[],
            "rec.npz",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with(
                "rec.npz: unknown arrays arr_0, split.json; found: arr_0, images, responses, \
                 split.json; accepted: images, responses, test_repeats, train, validation, test, \
                 split, is_test;"
            ),
            "{e}"
        );
        assert!(e.contains("to skip an array"), "{e}");
    }

    #[test]
    fn ignore_entries_must_name_something_and_not_a_required_array() {
        let e = folder(&["images.npy", "responses.npy", "notes.txt"], &["note.txt"]).unwrap_err();
        assert_eq!(
            e,
            "rec: `ignore` entry 'note.txt' names no file (did you mean 'notes.txt'?); found: \
             images.npy, notes.txt, responses.npy"
        );
        let e = folder(&["images.npy", "responses.npy"], &["images"]).unwrap_err();
        assert!(
            e.contains("`ignore` entry 'images' would skip the required array images"),
            "{e}"
        );
        // An accepted, optional array may be ignored: it is then not read.
        let inv = folder(
            &["images.npy", "responses.npy", "test_repeats.npy"],
            &["test_repeats.npy"],
        )
        .unwrap();
        assert!(!inv.arrays.contains("test_repeats"));
    }

    #[test]
    fn ignore_names_with_or_without_extension() {
        assert!(names("notes", "notes.txt"));
        assert!(names("notes.txt", "notes.txt"));
        assert!(names("a.b", "a.b.c"));
        assert!(!names("a", "a.b.c"));
        assert!(!names("", ".DS_Store"));
        assert!(names(".DS_Store", ".DS_Store"));
    }
}
