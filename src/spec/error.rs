//! Errors in what the user wrote: always located (file, and line where known), always naming
//! the stage and field concerned, and suggesting the closest valid name for typos.

use std::fmt;
use std::path::{Path, PathBuf};

/// A problem in a pipeline or stage-definition file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// What the message is about, e.g. "stage 'prep', parameter 'size'".
    pub context: Option<String>,
    pub message: String,
}

impl SpecError {
    pub fn new(file: &Path, message: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            line: None,
            column: None,
            context: None,
            message: message.into(),
        }
    }

    pub fn context(mut self, context: impl Into<String>) -> Self {
        self.context = Some(context.into());
        self
    }

    pub fn line(mut self, line: Option<usize>) -> Self {
        self.line = line;
        self
    }

    /// A YAML parse error, with the line and column serde_yaml reports.
    pub fn yaml(file: &Path, err: &serde_yaml::Error) -> Self {
        let loc = err.location();
        let message = err.to_string();
        // serde_yaml appends " at line L column C"; we print the location up front instead.
        let message = match message.rfind(" at line ") {
            Some(i) if loc.is_some() => message[..i].to_string(),
            _ => message,
        };
        Self {
            file: file.to_owned(),
            line: loc.as_ref().map(|l| l.line()),
            column: loc.as_ref().map(|l| l.column()),
            context: None,
            message,
        }
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        write!(f, ": ")?;
        if let Some(ctx) = &self.context {
            write!(f, "{ctx}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for SpecError {}

/// " (did you mean 'x'?)" for the valid name closest to `wrong`, if any is close; otherwise
/// the list of valid names.
pub fn suggest<'a>(wrong: &str, valid: impl IntoIterator<Item = &'a str>) -> String {
    let valid: Vec<&str> = valid.into_iter().collect();
    let best = valid
        .iter()
        .map(|v| (strsim::damerau_levenshtein(wrong, v), *v))
        .min_by_key(|(d, v)| (*d, v.to_string()));
    match best {
        Some((d, v)) if d <= 3 && d < wrong.len().max(2) => format!("did you mean '{v}'?"),
        _ if valid.is_empty() => "there are none".to_string(),
        _ => format!("valid: {}", valid.join(", ")),
    }
}

/// Best-effort line of a key nested under the given path of mapping keys (e.g. the line of
/// `epochs:` under `stages:` / `rf_cnn:`), for messages about values serde cannot locate.
pub fn locate(text: &str, path: &[&str]) -> Option<usize> {
    let mut from = 0;
    let mut found = None;
    let lines: Vec<&str> = text.lines().collect();
    for key in path {
        let pos = lines
            .iter()
            .enumerate()
            .skip(from)
            .find(|(_, l)| has_key(l, key))?;
        found = Some(pos.0 + 1);
        from = pos.0;
    }
    found
}

fn has_key(line: &str, key: &str) -> bool {
    let t = line.trim_start().trim_start_matches("- ");
    let body = t.trim_start_matches(['{', ' ']);
    body.starts_with(&format!("{key}:"))
        || body.starts_with(&format!("\"{key}\":"))
        || t.contains(&format!("{{ {key}:"))
        || t.contains(&format!(", {key}:"))
        || t.contains(&format!("{{{key}:"))
}

/// Adds "did you mean" to serde's "unknown field `x`, expected one of `a`, `b`" messages.
pub fn with_suggestion(message: &str) -> String {
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return message.to_string();
    };
    let Some((wrong, tail)) = rest.split_once('`') else {
        return message.to_string();
    };
    let valid: Vec<&str> = tail.split('`').skip(1).step_by(2).collect();
    format!("unknown field '{wrong}' ({})", suggest(wrong, valid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_nearest_name() {
        assert_eq!(
            suggest("epoch", ["epochs", "seed"]),
            "did you mean 'epochs'?"
        );
        assert_eq!(suggest("zzzzzz", ["epochs", "seed"]), "valid: epochs, seed");
    }

    #[test]
    fn locates_nested_keys_including_flow_style() {
        let text = "name: x\nstages:\n  a: { uses: gen, with: { n: 3 } }\n  b:\n    uses: y\n    with:\n      n: 4\n";
        assert_eq!(locate(text, &["stages", "b", "n"]), Some(7));
        assert_eq!(locate(text, &["stages", "a", "uses"]), Some(3));
        assert_eq!(locate(text, &["stages", "c"]), None);
    }

    #[test]
    fn display_puts_location_first() {
        let e = SpecError::new(Path::new("p.yaml"), "bad")
            .line(Some(3))
            .context("stage 'a'");
        assert_eq!(e.to_string(), "p.yaml:3: stage 'a': bad");
    }
}
