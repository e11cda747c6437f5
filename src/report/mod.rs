//! The paper's report library: tables of evaluated models (markdown and terminal text), PNG
//! figures and maps, the paper's ordering claims checked on measured numbers, and the
//! `report.md` that gathers them (`document`). It renders, it does not print (the terminal
//! UI of operations is `crate::ui`). Reports read the `evaluate` stage's metrics artifact
//! ([`crate::neuro::scoring::evaluation::Evaluation`]) and train stages' curves. A model
//! trained with several seeds (`repeat:`) is reported as its mean ± s.d. across seeds and
//! compared over neurons × seeds (`seeds`).

pub mod claims;
pub mod decomposition;
pub mod document;
pub mod figures;
pub mod font;
pub mod maps;
pub mod probe;
pub mod protocol;
pub mod roles;
pub mod seeds;
pub mod tables;
pub mod training;

#[cfg(test)]
pub(crate) mod fixtures;

use crate::neuro::scoring::evaluation::Evaluation;

pub use document::{ProbeInput, ReportError, ReportInputs, StageFigure, write_report};
pub use tables::TableKind;

/// The requested tables as aligned plain text, for `sapipe show`. `evaluations` are
/// (evaluate stage, its evaluation results), e.g. read with
/// `neuro::scoring::evaluation_file::read`.
pub fn render_tables_for_terminal(
    evaluations: &[(String, Evaluation)],
    tables: &[TableKind],
) -> String {
    let rendered: Vec<String> = tables::build_tables(evaluations, tables)
        .iter()
        .map(tables::Table::to_text)
        .collect();
    rendered.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures::{evaluation, model};

    #[test]
    fn terminal_tables_are_aligned_text_without_markdown() {
        let e = evaluation(vec![
            model("ff", "ff-cnn", false, 1.0, [0.474, 8.7, 17.3]),
            model("rf", "rf-cnn", false, 1.0, [0.5, 6.0, 12.0]),
        ]);
        let text = render_tables_for_terminal(&[("eval".into(), e)], &[TableKind::Table1]);
        assert!(text.starts_with("Table 1: main models — eval\n"), "{text}");
        assert!(!text.contains('|'));
        let rf = text.lines().find(|l| l.starts_with("rf-CNN ")).unwrap();
        assert!(rf.contains("0.500") && rf.contains("1.05"), "{rf}");
    }
}
