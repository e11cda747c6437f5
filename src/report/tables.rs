//! Result tables: a summary of every evaluated model, and tables shaped like the paper's
//! Table 1 (the four main models, CORR relative to ff-CNN), Table 2 (the incremental chain,
//! CORR relative to rf-CNN) and Table 3 (data efficiency: models x training fractions).
//! A [`Table`] renders as markdown (the report) or as aligned text (the terminal).

use crate::neuro::scoring::evaluation::{Evaluation, ModelEvaluation, Split};
use crate::neuro::scoring::metrics::ratio;

use super::roles::{self, FF_CNN, RF_CNN, Role};
use super::seeds::{self, Replicates, Spread};

/// A titled table of strings.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub title: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub notes: Vec<String>,
}

/// Which tables a report renders (the `report` kind's `tables` lists them by identifier).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    Summary,
    Table1,
    Table2,
    Table3,
}

impl TableKind {
    pub const ALL: [TableKind; 4] = [
        TableKind::Summary,
        TableKind::Table1,
        TableKind::Table2,
        TableKind::Table3,
    ];
}

impl crate::neuro::choice::Choice for TableKind {
    const ALL: &'static [Self] = &TableKind::ALL;

    fn id(self) -> &'static str {
        match self {
            TableKind::Summary => "summary",
            TableKind::Table1 => "table1",
            TableKind::Table2 => "table2",
            TableKind::Table3 => "table3",
        }
    }
}

crate::neuro::choice::choice_serde!(TableKind);

pub(super) const MISSING: &str = "—";

pub fn fmt3(value: Option<f64>) -> String {
    value.map_or(MISSING.into(), |v| format!("{v:.3}"))
}

pub fn fmt1(value: Option<f64>) -> String {
    value.map_or(MISSING.into(), |v| format!("{v:.1}"))
}

/// A metric of a model across its seeds (one seed: the value as [`fmt3`] shows it, with `digits` decimals).
fn fmt_spread(spread: Spread, digits: usize) -> String {
    spread.text(digits, MISSING)
}

fn fmt_params(value: Option<u64>) -> String {
    value.map_or(MISSING.into(), |v| v.to_string())
}

pub(super) fn row(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| c.to_string()).collect()
}

impl Table {
    pub fn to_markdown(&self) -> String {
        let line = |cells: &[String]| format!("| {} |\n", cells.join(" | ").replace('\n', " "));
        let mut out = format!("### {}\n\n", self.title);
        out += &line(&self.header);
        out += &format!("|{}\n", "---|".repeat(self.header.len()));
        self.rows.iter().for_each(|r| out += &line(r));
        for note in &self.notes {
            out += &format!("\n_{note}_\n");
        }
        out
    }

    /// Aligned columns for a terminal.
    pub fn to_text(&self) -> String {
        let width = |i: usize| {
            let cells = std::iter::once(&self.header).chain(&self.rows);
            cells
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = (0..self.header.len()).map(width).collect();
        let line = |cells: &[String]| {
            let padded: Vec<String> = cells
                .iter()
                .zip(&widths)
                .map(|(c, &w)| format!("{c:<w$}"))
                .collect();
            format!("{}\n", padded.join("  ").trim_end())
        };
        let mut out = format!("{}\n", self.title);
        out += &line(&self.header);
        out += &format!(
            "{}\n",
            "-".repeat(widths.iter().sum::<usize>() + 2 * widths.len())
        );
        self.rows.iter().for_each(|r| out += &line(r));
        self.notes.iter().for_each(|n| out += &format!("  {n}\n"));
        out
    }
}

fn split_name(e: &Evaluation) -> String {
    let split = match e.split {
        Split::Test => "test",
        Split::Validation => "validation (reference protocol)",
    };
    format!(
        "{split} split, {} images, {} neurons, k = {}",
        e.images, e.neurons, e.k
    )
}

/// Every model of one evaluation: CORR (mean, median), ratio to the evaluation's baseline,
/// PTJ, PTS, FEVE and trainable parameters; a model trained with several seeds is one row of
/// means ± s.d. across its seeds.
pub fn summary_table(stage: &str, e: &Evaluation) -> Table {
    let baseline = e.baseline.as_deref().unwrap_or("no baseline");
    let header = [
        "Model",
        "Stage",
        "Params",
        "CORR mean",
        "CORR median",
        "CORR ratio",
        "PTJ %",
        "PTS %",
        "FEVE",
        "CORR (noise-free)",
    ];
    let groups = seeds::group(&e.models);
    let rows = groups.iter().map(|g| {
        let m = g.first();
        let at = |digits, f: fn(&ModelEvaluation) -> Option<f64>| fmt_spread(g.spread(f), digits);
        vec![
            m.model.label.clone(),
            g.stages(),
            fmt_params(m.model.trainable_params),
            at(3, |m| m.summary.corr.mean),
            at(3, |m| m.summary.corr.median),
            at(2, |m| m.summary.corr_ratio_to_baseline),
            at(1, |m| m.summary.ptj_percent.mean),
            at(1, |m| m.summary.pts_percent.mean),
            at(3, |m| m.summary.feve.mean),
            at(3, |m| m.summary.corr_noise_free.mean),
        ]
    });
    let mut notes = vec![format!(
        "{}; CORR ratio relative to {baseline}.",
        split_name(e)
    )];
    if let Some(ceiling) = e.noise_ceiling.and_then(|c| c.mean) {
        notes.push(format!(
            "Mean noise ceiling (best reachable CORR): {ceiling:.3}."
        ));
    }
    for m in e.models.iter().filter(|m| m.summary.corr.undefined > 0) {
        let n = m.summary.corr.undefined;
        notes.push(format!(
            "{}: CORR undefined for {n} neuron(s) (see the CSV).",
            m.model.label
        ));
    }
    Table {
        title: format!("All models — {stage}"),
        header: row(&header),
        rows: rows.collect(),
        notes,
    }
}

fn not_evaluated(role: &Role) -> Vec<String> {
    row(&[
        role.name,
        MISSING,
        "not evaluated",
        MISSING,
        MISSING,
        MISSING,
        MISSING,
    ])
}

fn role_rows(e: &Evaluation, roles: &[Role], baseline: Role) -> (Vec<Vec<String>>, bool) {
    let base = seeds::group(roles::find(e, &baseline))
        .first()
        .and_then(|g| g.spread(|m| m.summary.corr.mean).mean);
    let mut rows = Vec::new();
    for role in roles {
        let found = seeds::group(roles::find(e, role));
        if found.is_empty() {
            rows.push(not_evaluated(role));
        }
        for g in found {
            rows.push(vec![
                role.name.to_string(),
                g.stages(),
                fmt_spread(g.spread(|m| m.summary.corr.mean), 3),
                fmt_spread(g.spread(|m| ratio(m.summary.corr.mean, base)), 2),
                fmt_spread(g.spread(|m| m.summary.ptj_percent.mean), 1),
                fmt_spread(g.spread(|m| m.summary.pts_percent.mean), 1),
                fmt_params(g.first().model.trainable_params),
            ]);
        }
    }
    (rows, base.is_some())
}

/// The evaluations that get a table: those measuring two or more of `roles`; failing that,
/// those measuring one.
fn relevant<'a>(
    evals: &'a [(String, Evaluation)],
    roles: &[Role],
) -> Vec<&'a (String, Evaluation)> {
    let count = |e: &Evaluation| {
        roles
            .iter()
            .filter(|r| !roles::find(e, r).is_empty())
            .count()
    };
    let most = evals
        .iter()
        .map(|(_, e)| count(e))
        .max()
        .unwrap_or(0)
        .min(2);
    evals
        .iter()
        .filter(|(_, e)| most > 0 && count(e) >= most)
        .collect()
}

/// One table per [`relevant`] evaluation, or one all-"not evaluated" table if there is none.
fn role_tables(
    evals: &[(String, Evaluation)],
    title: &str,
    roles: &[Role],
    baseline: Role,
) -> Vec<Table> {
    let ratio_header = format!("CORR / {}", baseline.name);
    let header = row(&[
        "Model",
        "Stage",
        "CORR",
        &ratio_header,
        "PTJ %",
        "PTS %",
        "Params",
    ]);
    let mut tables: Vec<Table> = relevant(evals, roles)
        .into_iter()
        .map(|(stage, e)| {
            let (rows, has_base) = role_rows(e, roles, baseline);
            let mut notes = vec![format!("{stage}: {}.", split_name(e))];
            if !has_base {
                notes.push(format!(
                    "No ratio: {} was not evaluated here.",
                    baseline.name
                ));
            }
            let title = format!("{title} — {stage}");
            Table {
                title,
                header: header.clone(),
                rows,
                notes,
            }
        })
        .collect();
    if tables.is_empty() {
        let rows = roles.iter().map(not_evaluated).collect();
        let notes = vec!["None of these models was evaluated.".to_string()];
        tables.push(Table {
            title: title.to_string(),
            header,
            rows,
            notes,
        });
    }
    tables
}

/// The paper's Table 1: ff-CNN, ff+sa-CNN, rf-CNN, rf+sa-CNN with CORR relative to ff-CNN.
pub fn table1(evals: &[(String, Evaluation)]) -> Vec<Table> {
    role_tables(evals, "Table 1: main models", &roles::TABLE1, FF_CNN)
}

/// The paper's Table 2: the incremental chain and its simultaneous counterparts, CORR
/// relative to rf-CNN.
pub fn table2(evals: &[(String, Evaluation)]) -> Vec<Table> {
    role_tables(
        evals,
        "Table 2: incremental learning",
        &roles::TABLE2,
        RF_CNN,
    )
}

/// Every fraction present, ascending.
fn fractions(evals: &[(String, Evaluation)]) -> Vec<f64> {
    let mut all: Vec<f64> = evals
        .iter()
        .flat_map(|(_, e)| e.models.iter().map(|m| m.model.fraction))
        .collect();
    all.sort_by(f64::total_cmp);
    all.dedup();
    all
}

/// The model labelled `label` at `fraction` (over its seeds), with the CORR of the ff-CNN of
/// the same evaluation and fraction (its mean across seeds).
fn at_fraction<'a>(
    evals: &'a [(String, Evaluation)],
    label: &str,
    fraction: f64,
) -> Option<(Replicates<'a>, Option<f64>)> {
    evals.iter().find_map(|(_, e)| {
        let at = |m: &&ModelEvaluation| m.model.fraction == fraction;
        let labelled = e
            .models
            .iter()
            .filter(at)
            .filter(|m| m.model.label == label);
        let model = seeds::group(labelled).into_iter().next()?;
        let ff = e
            .models
            .iter()
            .filter(at)
            .filter(|m| FF_CNN.matches(&m.model));
        let ff = seeds::group(ff).into_iter().next();
        Some((
            model,
            ff.and_then(|f| f.spread(|m| m.summary.corr.mean).mean),
        ))
    })
}

/// The paper's Table 3: per model (by label) and training fraction, CORR relative to the
/// ff-CNN trained on the same fraction, PTJ and PTS.
pub fn table3(evals: &[(String, Evaluation)]) -> Table {
    let fractions = fractions(evals);
    let mut labels: Vec<&str> = Vec::new();
    for m in evals.iter().flat_map(|(_, e)| &e.models) {
        if !labels.contains(&m.model.label.as_str()) {
            labels.push(&m.model.label);
        }
    }
    let mut header = vec!["Model".to_string()];
    for f in &fractions {
        let p = f * 100.0;
        header.extend([
            format!("{p}%: CORR / ff-CNN"),
            format!("{p}%: PTJ %"),
            format!("{p}%: PTS %"),
        ]);
    }
    let rows = labels.iter().map(|label| {
        let mut cells = vec![label.to_string()];
        for &f in &fractions {
            match at_fraction(evals, label, f) {
                Some((g, ff)) => cells.extend([
                    fmt_spread(g.spread(|m| ratio(m.summary.corr.mean, ff)), 2),
                    fmt_spread(g.spread(|m| m.summary.ptj_percent.mean), 1),
                    fmt_spread(g.spread(|m| m.summary.pts_percent.mean), 1),
                ]),
                None => cells.extend([MISSING.into(), MISSING.into(), MISSING.into()]),
            }
        }
        cells
    });
    let mut notes = vec![
        "Fractions of the training set; each fraction's CORR is relative to \
                          the ff-CNN trained on the same fraction."
            .to_string(),
    ];
    if fractions.len() < 2 {
        notes.push("Only one training fraction was evaluated.".into());
    }
    Table {
        title: "Table 3: data efficiency".into(),
        header,
        rows: rows.collect(),
        notes,
    }
}

/// The requested tables, in the order asked.
pub fn build_tables(evals: &[(String, Evaluation)], kinds: &[TableKind]) -> Vec<Table> {
    let mut tables = Vec::new();
    for kind in kinds {
        match kind {
            TableKind::Summary => tables.extend(evals.iter().map(|(s, e)| summary_table(s, e))),
            TableKind::Table1 => tables.extend(table1(evals)),
            TableKind::Table2 => tables.extend(table2(evals)),
            TableKind::Table3 => tables.push(table3(evals)),
        }
    }
    tables
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures::{evaluation, model};

    fn evals() -> Vec<(String, Evaluation)> {
        let e = evaluation(vec![
            model("ff", "ff-cnn", false, 1.0, [0.40, 8.0, 16.0]),
            model("rf", "rf-cnn", false, 1.0, [0.50, 6.0, 12.0]),
            model("rfsa_inc", "rf-sa-cnn-star", true, 1.0, [0.45, 7.0, 14.0]),
            model("ff_half", "ff-cnn", false, 0.5, [0.20, 4.0, 8.0]),
            model("rf_half", "rf-cnn", false, 0.5, [0.30, 5.0, 9.0]),
        ]);
        vec![("eval".to_string(), e)]
    }

    #[test]
    fn table1_has_every_row_with_ratio_to_ff_cnn() {
        let t = &table1(&evals())[0];
        let names: Vec<&str> = t.rows.iter().map(|r| r[0].as_str()).collect();
        assert_eq!(names, ["ff-CNN", "ff+sa-CNN", "rf-CNN", "rf+sa-CNN"]);
        assert_eq!(t.rows[0][1..4], ["ff", "0.400", "1.00"]);
        assert_eq!(t.rows[2][1..6], ["rf", "0.500", "1.25", "6.0", "12.0"]);
        assert_eq!(t.rows[1][2], "not evaluated");
        let md = t.to_markdown();
        assert!(
            md.contains("| rf-CNN | rf | 0.500 | 1.25 | 6.0 | 12.0 | 1000 |"),
            "{md}"
        );
        assert!(md.contains("| Model | Stage | CORR | CORR / ff-CNN |"));
    }

    #[test]
    fn table2_ratios_to_rf_cnn_and_separates_incremental() {
        let t = &table2(&evals())[0];
        assert_eq!(
            t.rows[1][..4],
            ["rf+sa-CNN* (Incr.)", "rfsa_inc", "0.450", "0.90"]
        );
        assert_eq!(t.rows[2][2], "not evaluated");
    }

    #[test]
    fn table3_compares_each_fraction_to_its_own_ff_cnn() {
        let t = table3(&evals());
        assert_eq!(t.header[1], "50%: CORR / ff-CNN");
        assert_eq!(t.header[4], "100%: CORR / ff-CNN");
        let rf = t.rows.iter().find(|r| r[0] == "rf-cnn").unwrap();
        assert_eq!(rf[1..], ["1.50", "5.0", "9.0", "1.25", "6.0", "12.0"]);
        let inc = t
            .rows
            .iter()
            .find(|r| r[0] == "rf-sa-cnn-star (Incr.)")
            .unwrap();
        assert_eq!(inc[1], "—");
    }

    /// Every table, as `report.md` (markdown) and `sapipe show` (text) render it.
    #[test]
    fn tables_render() {
        let all = build_tables(&evals(), &TableKind::ALL);
        let markdown: Vec<String> = all.iter().map(Table::to_markdown).collect();
        insta::assert_snapshot!("tables_markdown", markdown.join("\n"));
        let text: Vec<String> = all.iter().map(Table::to_text).collect();
        insta::assert_snapshot!("tables_text", text.join("\n"));
    }

    #[test]
    fn absent_models_give_a_not_evaluated_table_and_text_aligns() {
        let none = vec![(
            "e".to_string(),
            evaluation(vec![model("x", "other", false, 1.0, [0.1; 3])]),
        )];
        let t = &table1(&none)[0];
        assert!(t.rows.iter().all(|r| r[2] == "not evaluated"));
        let text = build_tables(&none, &[TableKind::Summary])[0].to_text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1].find("Stage"), lines[3].find("x "), "{text}");
    }
}
