//! Text of matrix stages: `${key}` placeholders, replaced by a combination's values (a string
//! that is exactly `${key}` becomes the value with its YAML type), and `*` patterns, which
//! references use to name several stages (`train@*,0.25`).

use serde_yaml::{Mapping, Value};

use super::error::suggest;

/// Whether `text` matches `pattern`, in which `*` matches any run of characters.
pub fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, rest) = parts.split_first().expect("split yields one part");
    let Some(mut tail) = text.strip_prefix(first) else {
        return false;
    };
    let Some((last, middle)) = rest.split_last() else {
        return tail.is_empty();
    };
    for part in middle {
        match tail.find(part) {
            Some(i) => tail = &tail[i + part.len()..],
            None => return false,
        }
    }
    tail.len() >= last.len() && tail.ends_with(last)
}

/// A scalar as it reads in YAML (strings without quotes).
pub(super) fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => serde_yaml::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

/// What a value is, for messages about values of the wrong shape.
pub(super) fn describe(v: &Value) -> String {
    match v {
        Value::Sequence(_) => "a list".into(),
        Value::Mapping(_) => "a mapping".into(),
        Value::Null => "null".into(),
        other => format!("'{}'", scalar_text(other)),
    }
}

/// The placeholder names `${NAME}` of a string, in order.
pub(super) fn placeholders(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        let after = &rest[i + 2..];
        let Some(end) = after.find('}') else { break };
        out.push(after[..end].to_string());
        rest = &after[end + 1..];
    }
    out
}

pub(super) fn unknown(placeholder: &str, keys: &[&str]) -> String {
    format!(
        "unknown placeholder '${{{placeholder}}}' ({}; matrix keys: {})",
        suggest(placeholder, keys.iter().copied()),
        keys.join(", ")
    )
}

/// `s` with each `${key}` replaced by its value's text; the message names an unknown one.
pub(super) fn interpolate(s: &str, vars: &[(String, Value)]) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        let after = &rest[i + 2..];
        let Some(end) = after.find('}') else { break };
        let key = &after[..end];
        let Some((_, v)) = vars.iter().find(|(k, _)| k == key) else {
            let keys: Vec<&str> = vars.iter().map(|(k, _)| k.as_str()).collect();
            return Err(unknown(key, &keys));
        };
        out.push_str(&rest[..i]);
        out.push_str(&scalar_text(v));
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `v` with placeholders replaced in every string: a string that is exactly `${key}` becomes
/// the value itself (keeping its YAML type). `path` is the mapping keys above `v`, for errors.
pub(super) fn substitute(
    v: &Value,
    vars: &[(String, Value)],
    path: &mut Vec<String>,
) -> Result<Value, (Vec<String>, String)> {
    Ok(match v {
        Value::String(s) => {
            let whole = s
                .strip_prefix("${")
                .and_then(|r| r.strip_suffix('}'))
                .and_then(|k| vars.iter().find(|(key, _)| key == k));
            match whole {
                Some((_, value)) => value.clone(),
                None => Value::String(interpolate(s, vars).map_err(|m| (path.clone(), m))?),
            }
        }
        Value::Sequence(items) => Value::Sequence(
            items
                .iter()
                .map(|i| substitute(i, vars, path))
                .collect::<Result<_, _>>()?,
        ),
        Value::Mapping(m) => {
            let mut out = Mapping::new();
            for (k, item) in m {
                path.push(scalar_text(k));
                let item = substitute(item, vars, path);
                path.pop();
                out.insert(k.clone(), item?);
            }
            Value::Mapping(out)
        }
        Value::Tagged(t) => {
            let mut t = (**t).clone();
            t.value = substitute(&t.value, vars, path)?;
            Value::Tagged(Box::new(t))
        }
        other => other.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_whole_names() {
        assert!(glob("a*c", "abc") && glob("a*c", "ac") && glob("*", ""));
        assert!(glob("t@*,0.5", "t@x,0.5") && !glob("t@*,0.5", "t@x,0.25"));
        assert!(!glob("a*b*c", "acb") && glob("a*b*c", "axbyc") && !glob("ab", "abc"));
        assert!(!glob("a*a", "a"));
    }

    #[test]
    fn placeholders_keep_their_type_whole_and_interpolate_inside_text() {
        let vars = vec![
            ("e".to_string(), Value::from(2)),
            ("m".to_string(), Value::from("a")),
        ];
        let v: Value =
            serde_yaml::from_str("{ n: \"${e}\", l: \"${m}-${e}\", s: [\"${m}\"] }").unwrap();
        let out = substitute(&v, &vars, &mut Vec::new()).unwrap();
        assert_eq!(out["n"], Value::from(2));
        assert_eq!(out["l"], Value::from("a-2"));
        assert_eq!(out["s"][0], Value::from("a"));
        let bad: Value = serde_yaml::from_str("{ w: { x: \"${zzz}\" } }").unwrap();
        let (path, message) = substitute(&bad, &vars, &mut Vec::new()).unwrap_err();
        assert_eq!(path, ["w", "x"]);
        assert_eq!(
            message,
            "unknown placeholder '${zzz}' (valid: e, m; matrix keys: e, m)"
        );
        assert_eq!(placeholders("a${x}b${y}${"), ["x", "y"]);
    }
}
