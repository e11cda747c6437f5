//! `repeat: { seeds: [1, 2, 3] }` on a pipeline stage: the same stage once per seed, as if
//! the stage had a matrix key `seed` (after its own `matrix:` keys) and `with: { seed:
//! "${seed}" }`. Instances are named like matrix instances, the seed written `seedN`:
//! `train@seed1`, or `train@ff-cnn,seed2` with `matrix: { model: [...] }`. Evaluations and
//! reports recognise these names ([`seed_of`]) and aggregate a model's seeds.

use serde_yaml::{Mapping, Value};

use super::template::{describe, scalar_text};

/// The parameter a `repeat:` varies, and its placeholder in the expanded stage.
pub const KEY: &str = "seed";

/// The seeds of a stage's `repeat:` (`None` when it has none), checked against the rest of
/// the stage: no `seed` in `with:` or `matrix:`. Errors are (field to locate, message).
pub fn seeds(stage: &Mapping) -> Result<Option<Vec<Value>>, (String, String)> {
    let Some(repeat) = stage.get("repeat") else {
        return Ok(None);
    };
    let fail = |field: &str, m: String| Err((field.to_string(), m));
    let example = "expected a mapping such as repeat: { seeds: [1, 2, 3] }";
    let Value::Mapping(repeat) = repeat else {
        return fail("repeat", format!("{example}, found {}", describe(repeat)));
    };
    if let Some(k) = repeat.keys().find(|k| k.as_str() != Some("seeds")) {
        return fail(
            "repeat",
            format!("unknown key '{}' (valid: seeds)", scalar_text(k)),
        );
    }
    let seeds = match repeat.get("seeds") {
        Some(Value::Sequence(s)) if !s.is_empty() => s.clone(),
        Some(Value::Sequence(_)) => return fail("seeds", "`seeds` lists no seed".into()),
        Some(other) => {
            return fail(
                "seeds",
                format!("{example}, found seeds: {}", describe(other)),
            );
        }
        None => return fail("repeat", format!("{example} (`seeds` is missing)")),
    };
    for (i, s) in seeds.iter().enumerate() {
        if s.as_u64().is_none() {
            return fail(
                "seeds",
                format!(
                    "{} is not a seed (seeds are integers, 0 or more)",
                    describe(s)
                ),
            );
        }
        if seeds[..i].contains(s) {
            return fail("seeds", format!("`seeds` lists {} twice", scalar_text(s)));
        }
    }
    if let Some(Value::Mapping(with)) = stage.get("with")
        && with.contains_key(KEY)
    {
        return fail(
            "with",
            "`repeat:` sets the parameter `seed` of each instance; remove `seed` from `with:`"
                .into(),
        );
    }
    if let Some(Value::Mapping(matrix)) = stage.get("matrix")
        && matrix.contains_key(KEY)
    {
        return fail(
            "matrix",
            "`repeat:` varies `seed`; remove the matrix key `seed` (or the `repeat:`)".into(),
        );
    }
    Ok(Some(seeds))
}

/// The stage body of one seed: `with: { seed: "${seed}" }` added (the matrix placeholder).
pub fn with_seed(body: &mut Mapping) {
    let with = body
        .entry(Value::from("with"))
        .or_insert_with(|| Value::Mapping(Mapping::new()));
    if let Value::Mapping(with) = with {
        with.insert(Value::from(KEY), Value::from(format!("${{{KEY}}}")));
    }
}

/// How a seed reads in an instance's name: `seed2`.
pub fn name_part(seed: &Value) -> String {
    format!("{KEY}{}", scalar_text(seed))
}

/// The seed of a stage named as a `repeat:` instance, with the name of the stage without its
/// seed (`train@ff-cnn,seed2` -> (`train@ff-cnn`, 2); `train@seed1` -> (`train`, 1)).
pub fn seed_of(stage: &str) -> Option<(String, u64)> {
    let (family, values) = stage.split_once('@')?;
    let (rest, last) = match values.rsplit_once(',') {
        Some((rest, last)) => (Some(rest), last),
        None => (None, values),
    };
    let digits = last.strip_prefix(KEY)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let seed = digits.parse().ok()?;
    let base = match rest {
        Some(rest) => format!("{family}@{rest}"),
        None => family.to_string(),
    };
    Some((base, seed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(text: &str) -> Mapping {
        serde_yaml::from_str(text).unwrap()
    }

    #[test]
    fn seeds_are_read_and_checked() {
        let ok = stage("{ uses: train, repeat: { seeds: [1, 2, 3] } }");
        assert_eq!(
            seeds(&ok).unwrap().unwrap(),
            [Value::from(1), Value::from(2), Value::from(3)]
        );
        assert_eq!(seeds(&stage("{ uses: train }")).unwrap(), None);
        let err = |text: &str| seeds(&stage(text)).unwrap_err();
        assert_eq!(
            err("{ repeat: { seeds: [1, 1] } }"),
            ("seeds".into(), "`seeds` lists 1 twice".into())
        );
        assert_eq!(err("{ repeat: { seeds: [] } }").1, "`seeds` lists no seed");
        assert!(
            err("{ repeat: { seeds: [-1] } }")
                .1
                .contains("'-1' is not a seed")
        );
        assert!(
            err("{ repeat: { seed: [1] } }")
                .1
                .contains("unknown key 'seed' (valid: seeds)")
        );
        assert!(err("{ repeat: [1, 2] }").1.contains("found a list"));
        assert_eq!(
            err("{ repeat: { seeds: [1] }, with: { seed: 3 } }").0,
            "with"
        );
        assert_eq!(
            err("{ repeat: { seeds: [1] }, matrix: { seed: [3] } }").0,
            "matrix"
        );
    }

    #[test]
    fn names_carry_the_seed_and_read_back() {
        assert_eq!(name_part(&Value::from(12)), "seed12");
        assert_eq!(seed_of("train@seed1"), Some(("train".into(), 1)));
        assert_eq!(
            seed_of("train@ff-cnn,0.25,seed12"),
            Some(("train@ff-cnn,0.25".into(), 12))
        );
        for plain in [
            "train",
            "train@ff-cnn",
            "train@seed",
            "train@seedx",
            "t@a,seed1b",
        ] {
            assert_eq!(seed_of(plain), None, "{plain}");
        }
        let mut body = stage("{ uses: train }");
        with_seed(&mut body);
        assert_eq!(body["with"]["seed"], Value::from("${seed}"));
    }
}
