//! The report's decomposition section: one table per question a reader asks of a `decompose`
//! stage's `summary.json` (where a model's FCL drive comes from, whether that matches the
//! simulated truth, where the centre hypercolumn attends), each with a sentence saying what it
//! shows, then the stage's maps with captions that say when a map is no different from its
//! reference.

use std::fmt::Write as _;

use super::tables::{MISSING, Table, fmt3, row};
use crate::neuro::analysis::files::{
    AttentionSummary, DecompositionFigure, DecompositionSummary, ModelSummary, SplitName, file_part,
};

/// A fraction of `n` neurons as "75% (3 of 4)".
fn share_of(fraction: Option<f64>, n: usize) -> String {
    match fraction {
        Some(f) if f.is_finite() => {
            let count = (f * n as f64).round() as usize;
            format!("{:.0}% ({count} of {n})", 100.0 * f)
        }
        _ => MISSING.into(),
    }
}

fn model_cell(stage: &str, m: &ModelSummary) -> String {
    format!("{} ({stage})", m.label)
}

/// Where each model's FCL output comes from: centre or surround.
fn fcl_table(stage: &str, s: &DecompositionSummary) -> Option<Table> {
    let mut header = vec!["Model", "Neurons", "Centre share", "Centre-dominated"];
    if s.truth {
        header.push("Centre-dominated in the truth");
    }
    let rows: Vec<Vec<String>> = s
        .models
        .iter()
        .filter_map(|(train, m)| {
            let f = m.fcl.as_ref()?;
            let mut row = vec![
                model_cell(train, m),
                f.neurons.to_string(),
                fmt3(f.centre_share_mean),
                share_of(f.centre_fraction, f.neurons),
            ];
            if s.truth {
                let truth = f.truth.as_ref().and_then(|t| t.truth_centre_fraction);
                row.push(share_of(truth, f.neurons));
            }
            Some(row)
        })
        .collect();
    (!rows.is_empty()).then(|| Table {
        title: format!("Centre and surround in the FCL — {stage}"),
        header: row(&header),
        rows,
        notes: vec![format!(
            "How much of each neuron's FCL output comes from the centre hypercolumn rather than \
             the surround: centre share = s.d. of the centre contribution / (s.d. of centre + \
             s.d. of surround) over the {} images, mean over neurons; a neuron is \
             centre-dominated when its share exceeds 0.5.{}",
            s.images,
            if s.truth {
                " The last column applies the same rule to the simulated neurons' own centre \
                 and surround terms."
            } else {
                ""
            }
        )],
    })
}

/// Whether each model's centre and surround terms move like the simulated neurons' own.
fn truth_table(stage: &str, s: &DecompositionSummary) -> Option<Table> {
    if !s.truth {
        return None;
    }
    let rows: Vec<Vec<String>> = s
        .models
        .iter()
        .filter_map(|(train, m)| {
            let f = m.fcl.as_ref()?;
            let t = f.truth.as_ref()?;
            Some(vec![
                model_cell(train, m),
                fmt3(t.centre_corr),
                fmt3(t.surround_corr),
                share_of(t.dominance_agreement, f.neurons),
                fmt3(t.share_corr),
            ])
        })
        .collect();
    (!rows.is_empty()).then(|| Table {
        title: format!("The decomposition against the simulated truth — {stage}"),
        header: row(&[
            "Model",
            "r, centre vs true centre",
            "r, surround vs true surround modulation",
            "Agree on dominance",
            "r of centre shares across neurons",
        ]),
        rows,
        notes: vec![format!(
            "Pearson r per neuron over the {} images, averaged over neurons: 1 means the \
             model's centre (surround) term moves exactly as the simulated neuron's centre \
             response (surround modulation) does, 0 that they are unrelated.",
            s.images
        )],
    })
}

/// One sentence on how far a mean attention map is from uniform.
pub fn uniformity(a: &AttentionSummary) -> Option<String> {
    let d = a.largest_deviation_from_uniform?;
    let tolerance = 100.0 * AttentionSummary::UNIFORM_TOLERANCE;
    Some(match a.looks_uniform()? {
        true => format!(
            "every position is within {:.1}% of uniform attention: indistinguishable from \
             uniform (tolerance {tolerance:.0}%)",
            100.0 * d
        ),
        false => format!(
            "some position is {:.0}% away from uniform attention: structured (more than \
             {tolerance:.0}%)",
            100.0 * d
        ),
    })
}

/// Where each SA model's centre hypercolumn attends.
fn attention_table(stage: &str, s: &DecompositionSummary) -> Option<Table> {
    let rows: Vec<Vec<String>> = s
        .models
        .iter()
        .filter_map(|(train, m)| {
            let a = m.attention.as_ref()?;
            let relative = a.centre_self_weight.zip(a.uniform).map(|(w, u)| w / u);
            let verdict = match a.looks_uniform() {
                Some(true) => "indistinguishable from uniform",
                Some(false) => "structured",
                None => MISSING,
            };
            Some(vec![
                model_cell(train, m),
                a.centre_self_weight
                    .map_or(MISSING.into(), |w| format!("{w:.4}")),
                a.uniform.map_or(MISSING.into(), |u| format!("{u:.4}")),
                relative.map_or(MISSING.into(), |r| format!("{r:.2}×")),
                a.largest_deviation_from_uniform
                    .map_or(MISSING.into(), |d| format!("{:.1}%", 100.0 * d)),
                verdict.into(),
            ])
        })
        .collect();
    (!rows.is_empty()).then(|| Table {
        title: format!("Attention of the centre hypercolumn — {stage}"),
        header: row(&[
            "Model",
            "Self-weight",
            "Uniform weight",
            "Self-weight / uniform",
            "Largest deviation of the map from uniform",
            "Map",
        ]),
        rows,
        notes: vec![format!(
            "The centre hypercolumn's attention weights, averaged over each neuron's top {} \
             images and over neurons. Uniform attention gives each position the same weight \
             (the third column); a map within {:.0}% of it everywhere is called \
             indistinguishable from uniform.",
            s.top_k,
            100.0 * AttentionSummary::UNIFORM_TOLERANCE
        )],
    })
}

/// The tables and sentences of one decompose stage (figures are added by the caller).
pub fn decomposition_tables(stage: &str, s: &DecompositionSummary) -> String {
    // The tables' titles name the stage; the caller heads the section with it.
    let mut out = format!(
        "{} images{}; attention averaged over each neuron's top {} images.\n\n",
        s.images,
        match s.split {
            SplitName::Val => " of the validation split",
            SplitName::Test => " of the test split",
        },
        s.top_k,
    );
    for table in [
        fcl_table(stage, s),
        truth_table(stage, s),
        attention_table(stage, s),
    ]
    .into_iter()
    .flatten()
    {
        out += &table.to_markdown();
        out.push('\n');
    }
    let nothing: Vec<String> = s
        .models
        .iter()
        .filter(|(_, m)| m.fcl.is_none() && m.attention.is_none())
        .map(|(train, m)| model_cell(train, m))
        .collect();
    if !nothing.is_empty() {
        let _ = writeln!(
            out,
            "Nothing to decompose (no FCL readout, no self-attention): {}.\n",
            nothing.join(", ")
        );
    }
    out
}

/// The caption of a decomposition figure file, with the attention map's uniformity verdict
/// when the summary records it.
pub fn figure_caption(file: &str, s: &DecompositionSummary) -> Option<String> {
    let (figure, part) = DecompositionFigure::parse(file)?;
    let (train, model) = s.models.iter().find(|(t, _)| file_part(t) == part)?;
    let mut caption = format!("{} ({train}): {}", model.label, figure.caption());
    if figure == DecompositionFigure::Attention
        && let Some(sentence) = model.attention.as_ref().and_then(uniformity)
    {
        let _ = write!(caption, "; {sentence}");
    }
    Some(caption)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neuro::analysis::fixtures::summary;

    #[test]
    fn one_table_per_question_with_integers_as_integers() {
        let md = decomposition_tables("decomp", &summary());
        assert!(md.starts_with("9 images of the test split"), "{md}");
        assert!(
            md.contains("| ff+sa-CNN* (ff_sa) | 4 | 0.800 | 75% (3 of 4) | 75% (3 of 4) |"),
            "{md}"
        );
        assert!(
            md.contains("| ff+sa-CNN* (ff_sa) | 0.900 | 0.250 | 100% (4 of 4) | — |"),
            "{md}"
        );
        assert!(
            md.contains("| ff+sa-CNN* (ff_sa) | 0.0625 | 0.1111 | 0.56× | 50.0% | structured |"),
            "{md}"
        );
        assert!(
            md.contains(
                "| rf+sa-CNN (rf_sa) | — | 0.1111 | — | 5.0% | indistinguishable from uniform |"
            ),
            "{md}"
        );
        assert!(!md.contains("models."), "no dotted keys: {md}");
        assert_eq!(
            md.matches("\n_").count(),
            3,
            "a sentence under each table: {md}"
        );
    }

    #[test]
    fn attention_captions_say_whether_the_map_is_uniform() {
        let s = summary();
        let c = figure_caption("attention_rf_sa.png", &s).unwrap();
        assert!(
            c.starts_with("rf+sa-CNN (rf_sa): attention of the centre hypercolumn")
                && c.ends_with("indistinguishable from uniform (tolerance 10%)"),
            "{c}"
        );
        let c = figure_caption("attention_ff_sa.png", &s).unwrap();
        assert!(
            c.contains("50% away from uniform attention: structured"),
            "{c}"
        );
        let c = figure_caption("fcl_map_ff_sa.png", &s).unwrap();
        assert!(!c.contains("uniform"), "{c}");
        assert_eq!(figure_caption("fcl_map_other.png", &s), None);
    }

    #[test]
    fn a_model_without_fcl_or_attention_is_named_once() {
        let mut s = summary();
        let mut plain = s.models["rf_sa"].clone();
        plain.attention = None;
        plain.label = "rf-CNN".into();
        s.models.insert("rf_cnn".into(), plain);
        s.truth = false;
        let md = decomposition_tables("d", &s);
        assert!(
            md.contains(
                "Nothing to decompose (no FCL readout, no self-attention): rf-CNN (rf_cnn)."
            ),
            "{md}"
        );
        assert!(!md.contains("against the simulated truth"), "{md}");
    }
}
