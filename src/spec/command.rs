//! The placeholders of a `command` stage's template: `{params.NAME}`, `{inputs.NAME}` and
//! `{outputs.NAME}`, found when its definition is checked (every one must be declared) and
//! filled when the command runs (`exec::command`).

/// The placeholders a command uses, as (section, name): for checking against the definition.
pub fn placeholders(command: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let _ = scan(command, |section, name| {
        out.push((section.to_string(), name.to_string()));
        Ok(String::new())
    });
    out
}

/// Walks `command` once, replacing each `{section.name}` placeholder by what `value` gives
/// for it; other text (and braces that are no placeholder) is kept as written. One pass: a
/// value that itself holds placeholder text (a `--set` value `"{outputs.out} x"`) is data,
/// never substituted again (issue 30, case 10).
pub fn scan(
    command: &str,
    mut value: impl FnMut(&str, &str) -> Result<String, String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(command.len());
    let mut rest = command;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('}') else { break };
        out.push_str(&rest[..=start]);
        match after[..end].split_once('.') {
            Some((section, name)) if ["params", "inputs", "outputs"].contains(&section) => {
                out.pop();
                out.push_str(&value(section, name)?);
            }
            _ => out.push_str(&after[..=end]),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_placeholders() {
        let p = placeholders(
            "python3 x.py --n {params.n} {inputs.text} > {outputs.out} {notaplaceholder}",
        );
        assert_eq!(
            p,
            vec![
                ("params".into(), "n".into()),
                ("inputs".into(), "text".into()),
                ("outputs".into(), "out".into())
            ]
        );
    }
}
