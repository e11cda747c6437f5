//! Bounds on what a pipeline may ask for (issue 30), checked when it is loaded so that no
//! command runs out of memory, time or file-name length later: the number of stages a matrix
//! makes, the length of names that become file names, and how deeply YAML may nest.

/// The most stages one pipeline may have after its matrices are expanded.
pub const MAX_STAGES: usize = 100_000;

/// The longest stage, pipeline or output name: names become file names (`heads/PIPELINE/
/// STAGE.json`, temporary folders `tmp/STAGE-…`), and file systems allow 255 bytes.
pub const MAX_NAME: usize = 200;

/// The deepest nesting of YAML flow collections (`[`, `{`). libyaml's work grows with the
/// depth times the length of a file, so 200 KB of brackets took 44 s to reject.
pub const MAX_DEPTH: usize = 64;

/// Why `name` is too long to be a name, if it is.
pub fn name_too_long(name: &str) -> Option<String> {
    (name.len() > MAX_NAME).then(|| {
        format!(
            "the name is {} characters long; names become file names and may have at most \
             {MAX_NAME}",
            name.len()
        )
    })
}

/// Why `total` stages (saturated at `usize::MAX`) are too many, if they are.
pub fn too_many_stages(total: usize) -> Option<String> {
    (total > MAX_STAGES).then(|| {
        let count = if total == usize::MAX {
            "more than 10^19".to_string()
        } else {
            total.to_string()
        };
        format!(
            "the pipeline would have {count} stages after expanding its matrices; at most \
             {MAX_STAGES} are allowed (split the grid into several pipelines)"
        )
    })
}

/// The first line where YAML flow collections nest deeper than [`MAX_DEPTH`], with a message.
/// Brackets inside quoted strings and comments do not count; in plain scalars they may, which
/// errs on the side of a refusal only for files no person writes.
pub fn too_deep(text: &str) -> Option<(usize, String)> {
    let mut depth = 0usize;
    for (i, line) in text.lines().enumerate() {
        let mut quote: Option<char> = None;
        let mut prev = ' ';
        for c in line.chars() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') => quote = Some(c),
                (None, '#') if prev.is_whitespace() => break,
                (None, '[' | '{') => {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return Some((
                            i + 1,
                            format!(
                                "YAML nested more than {MAX_DEPTH} levels deep (brackets or \
                                 braces); at most {MAX_DEPTH} are allowed"
                            ),
                        ));
                    }
                }
                (None, ']' | '}') => depth = depth.saturating_sub(1),
                _ => {}
            }
            prev = c;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 30, case 10: 200 KB of nested YAML brackets took 44 s to reject.
    #[test]
    fn case10_deeply_nested_yaml_is_refused_quickly_with_its_line() {
        let t0 = std::time::Instant::now();
        let text = format!(
            "name: x\nstages: {}{}\n",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let (line, why) = too_deep(&text).unwrap();
        assert_eq!(line, 2);
        assert!(why.contains("64"), "{why}");
        assert!(t0.elapsed().as_secs() < 1);
        let fine = "a: { b: [1, 2, { c: \"[[[[\" }] } # [[[[\n";
        assert_eq!(too_deep(&fine.repeat(100)), None);
        let quoted = format!("a: '{}'\n", "[".repeat(1000));
        assert_eq!(too_deep(&quoted), None);
    }

    /// Issue 30, case 10: a 300-character stage name passed `status` and failed in `run`.
    #[test]
    fn case10_over_long_names_and_huge_matrices_are_refused_with_the_limit() {
        assert!(name_too_long(&"a".repeat(MAX_NAME)).is_none());
        let e = name_too_long(&"a".repeat(300)).unwrap();
        assert!(e.contains("300") && e.contains("200"), "{e}");
        assert!(too_many_stages(MAX_STAGES).is_none());
        let e = too_many_stages(1_000_000).unwrap();
        assert!(e.contains("1000000") && e.contains("100000"), "{e}");
        assert!(too_many_stages(usize::MAX).unwrap().contains("10^19"));
    }
}
