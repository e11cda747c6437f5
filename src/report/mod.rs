//! Reports of evaluated models: tables (markdown and terminal text), PNG figures, the paper's
//! ordering claims checked on measured numbers, and the `report.md` that gathers them. This is
//! the only place that renders for people; it reads the `evaluate` stage's metrics artifact
//! ([`crate::neuro::evaluation::Evaluation`]) and train stages' curves.

pub mod claims;
pub mod document;
pub mod figures;
pub mod font;
pub mod roles;
pub mod tables;
pub mod training;

#[cfg(test)]
pub(crate) mod fixtures;

use crate::neuro::evaluation::Evaluation;

pub use document::{ReportError, ReportInputs, load_evaluation, write_report};
pub use tables::TableKind;

/// The requested tables as aligned plain text, for `sapipe show`. `evaluations` are
/// (evaluate stage, its metrics), e.g. read with [`load_evaluation`].
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
