//! What a lock entry carries so that a result computed in another reproducibility class can be
//! judged on what the model predicts: per-neuron metrics, named `neuron_*` (the last
//! dot-separated part of the name), kept in lock entries although they are arrays. Train
//! stages record `neuron_test_corr` (each neuron's test CORR) and `neuron_test_predictions`
//! (each neuron's predictions on the first [`FINGERPRINT_IMAGES`] test images); evaluate
//! stages record `{model}.neuron_corr`. [`compare`] compares two metric maps number by number
//! with the one relative tolerance ([`super::tolerance`]).

use std::collections::BTreeMap;

use super::tolerance::relative_difference;

/// Test images whose predictions a train stage records per neuron (the prediction
/// fingerprint). CORR over every test image cannot see a prediction scaled or shifted (it is
/// invariant to both), nor one that is otherwise different on a few images only; raw
/// predictions on a fixed set of images see both. Eight per neuron keep a lock entry readable
/// (9 lines per neuron), while a model that predicts differently would have to agree within
/// the tolerance on all eight, and on its CORR over every test image, to pass: on the CI
/// pipeline no two seeds came within 0.83 relative of each other on these numbers.
pub const FINGERPRINT_IMAGES: usize = 8;

/// Name of the per-neuron test CORR a train stage records.
pub const NEURON_TEST_CORR: &str = "neuron_test_corr";
/// Name of the prediction fingerprint a train stage records.
pub const NEURON_TEST_PREDICTIONS: &str = "neuron_test_predictions";
/// Suffix of the per-neuron CORR an evaluate stage records for each model.
pub const NEURON_CORR: &str = "neuron_corr";

/// Whether metric `name` is a per-neuron number compared across classes (and so kept in lock
/// entries although it is an array).
pub fn is_compared(name: &str) -> bool {
    name.rsplit('.')
        .next()
        .is_some_and(|n| n.starts_with("neuron_"))
}

/// Whether a stage's metrics hold numbers that say what its model predicts.
pub fn has_compared<'a>(names: impl IntoIterator<Item = &'a String>) -> bool {
    names.into_iter().any(|k| is_compared(k))
}

/// The largest relative difference between two metric maps, and where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Largest {
    pub relative: f64,
    /// `metric corr 0.5 -> 0.5001`, or `metric neuron_test_corr[2] ...`.
    pub what: String,
}

/// Compares `old` with `new` number by number (arrays element by element): `Ok` with the
/// largest relative difference (`None` when every number is equal) if all are within `rtol`
/// and everything else is equal; otherwise `Err` with the first difference beyond it, in words.
pub fn compare(
    old: &BTreeMap<String, serde_json::Value>,
    new: &BTreeMap<String, serde_json::Value>,
    rtol: f64,
) -> Result<Option<Largest>, String> {
    let mut largest: Option<Largest> = None;
    for name in old.keys().chain(new.keys()) {
        let (Some(a), Some(b)) = (old.get(name), new.get(name)) else {
            return Err(format!("metric {name} is in only one of the two results"));
        };
        let mut pairs = Vec::new();
        if !numbers(name.clone(), a, b, &mut pairs) {
            return Err(format!("metric {name}: {a} -> {b}"));
        }
        for (what, x, y) in pairs {
            let relative = relative_difference(x, y);
            let line = || format!("metric {what} {x} -> {y}");
            if relative > rtol {
                return Err(format!(
                    "{} ({relative:.1e} relative, beyond {rtol:.0e})",
                    line()
                ));
            }
            if relative > largest.as_ref().map_or(0.0, |l| l.relative) {
                largest = Some(Largest {
                    relative,
                    what: line(),
                });
            }
        }
    }
    Ok(largest)
}

/// Collects the numbers of `a` and `b` pairwise into `out` (named `what`, `what[i]`, ...);
/// false when their shapes differ, two integers differ, or a non-number differs (a number
/// against null included).
fn numbers(
    what: String,
    a: &serde_json::Value,
    b: &serde_json::Value,
    out: &mut Vec<(String, f64, f64)>,
) -> bool {
    use serde_json::Value;
    match (a, b) {
        // Counts (parameters, neurons, images) are exact.
        (Value::Number(x), Value::Number(y)) if !x.is_f64() && !y.is_f64() => x == y,
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => {
                out.push((what, x, y));
                true
            }
            _ => x == y,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .enumerate()
                    .all(|(i, (u, v))| numbers(format!("{what}[{i}]"), u, v, out))
        }
        (x, y) => x == y,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: serde_json::Value) -> BTreeMap<String, serde_json::Value> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn per_neuron_metrics_are_the_compared_ones() {
        assert!(is_compared(NEURON_TEST_CORR) && is_compared(NEURON_TEST_PREDICTIONS));
        assert!(is_compared("rf_cnn.neuron_corr"));
        assert!(!is_compared("mean_val_corr") && !is_compared("rf_cnn.corr"));
        assert!(!has_compared(map(json!({"corr": 0.5})).keys()));
        assert!(has_compared(map(json!({"neuron_test_corr": [0.5]})).keys()));
    }

    #[test]
    fn compares_numbers_relatively_element_by_element() {
        let old = map(json!({"neuron_test_corr": [0.5, null, 0.0049], "trainable_params": 10}));
        let close =
            map(json!({"neuron_test_corr": [0.5001, null, 0.0049], "trainable_params": 10}));
        let largest = compare(&old, &close, 1e-3).unwrap().unwrap();
        assert_eq!(largest.what, "metric neuron_test_corr[0] 0.5 -> 0.5001");
        assert!((largest.relative - 1e-4 / 0.5001).abs() < 1e-12);
        assert_eq!(compare(&old, &old, 1e-3), Ok(None));
        // A sign flip of a correlation of 0.0049 is no rounding difference.
        let flipped =
            map(json!({"neuron_test_corr": [0.5, null, -0.0049], "trainable_params": 10}));
        let e = compare(&old, &flipped, 1e-3).unwrap_err();
        assert_eq!(
            e,
            "metric neuron_test_corr[2] 0.0049 -> -0.0049 (2.0e0 relative, beyond 1e-3)"
        );
        // Undefined against defined, other shapes, and missing metrics differ.
        let defined = map(json!({"neuron_test_corr": [0.5, 0.1, 0.0049], "trainable_params": 10}));
        assert!(compare(&old, &defined, 1e-3).is_err());
        let shorter = map(json!({"neuron_test_corr": [0.5, null], "trainable_params": 10}));
        assert!(compare(&old, &shorter, 1e-3).is_err());
        // Counts are exact, however close.
        let counted = map(json!({"neuron_test_corr": [0.5, null, 0.0049], "trainable_params": 11}));
        assert!(compare(&old, &counted, 0.5).is_err());
        let fewer = map(json!({"neuron_test_corr": [0.5, null, 0.0049]}));
        assert!(
            compare(&old, &fewer, 1e-3)
                .unwrap_err()
                .contains("trainable_params is in only one")
        );
    }
}
