//! What `sapipe compare` and `sapipe bench verdicts` show: one decided comparison (both means,
//! the difference with its interval, the Wilcoxon p, the neurons used and left out, the
//! verdict and its reason), and the calibration table (false-claim rate and power per claim
//! kind and neuron count).

use std::fmt::Write as _;

use crate::neuro::scoring::calibration::{Calibration, Row};
use crate::neuro::scoring::verdict::{Decision, Outcome, Relation, SideSummary, interval_text};
use crate::report::tables::Table;

fn number(x: Option<f64>) -> String {
    x.map_or("—".into(), |x| format!("{x:.4}"))
}

/// `mean 0.4120 (3 seeds per neuron, s.d. across seeds 0.0100)`.
fn side_text(s: &SideSummary) -> String {
    let mut out = format!("mean {}", number(s.mean));
    if s.seeds > 1 {
        let _ = write!(
            out,
            " ({} seeds per neuron, averaged; mean s.d. across seeds {})",
            s.seeds,
            number(s.seed_sd)
        );
    }
    out
}

/// The verdict's word.
pub fn verdict_word(o: &Outcome) -> &'static str {
    match o {
        Outcome::Holds => "holds",
        Outcome::DoesNotHold => "does not hold",
        Outcome::Inconclusive(_) => "inconclusive",
    }
}

/// One comparison of `sapipe compare`; `names` are LEFT and RIGHT as given, `metric` the
/// metric compared when it is known (models of the results).
pub fn decision(d: &Decision, names: [&str; 2], metric: Option<&str>) -> String {
    let metric = metric.map_or(String::new(), |m| format!(" in {m}"));
    let [l, r] = names;
    let level = (100.0 * (1.0 - 2.0 * d.rule.alpha) * 10.0).round() / 10.0;
    let mut out = String::new();
    let _ = writeln!(out, "left        {l}: {}", side_text(&d.left));
    let _ = writeln!(out, "right       {r}: {}", side_text(&d.right));
    let diff = d.mean_difference.map_or("—".into(), |m| format!("{m:+.4}"));
    let interval = d.interval.as_ref().map_or("—".into(), interval_text);
    let _ = writeln!(
        out,
        "difference  {diff} (left − right), {level}% t interval {interval}"
    );
    if d.relation == Relation::FarGreater {
        let ratio = d.ratio.map_or("—".into(), |x| format!("{x:.3}"));
        let fieller = d.ratio_interval.as_ref().map_or("—".into(), interval_text);
        let _ = writeln!(
            out,
            "ratio       {ratio}, {level}% Fieller interval {fieller}"
        );
    }
    let tested = match d.relation {
        Relation::Greater => "left > right".to_string(),
        Relation::Approx => format!("|left − right| < {}", d.rule.margin),
        Relation::FarGreater => format!("left > {}·right", d.rule.factor),
    };
    let p = d.wilcoxon_p.map_or("—".into(), |p| format!("{p:.4}"));
    let _ = writeln!(out, "wilcoxon    p = {p} (one-sided, {tested})");
    let mut left_out = Vec::new();
    for (name, s) in [(l, &d.left), (r, &d.right)] {
        if s.undefined > 0 {
            left_out.push(format!("{} undefined in {name}", s.undefined));
        }
        if s.absent > 0 {
            left_out.push(format!("{} absent from {name}", s.absent));
        }
    }
    let _ = write!(out, "neurons     {} used of {}", d.used, d.neurons);
    if !left_out.is_empty() {
        let _ = write!(out, "; left out: {}", left_out.join(", "));
    }
    out.push('\n');
    let claim = match d.relation {
        Relation::Greater => format!("{l} > {r}{metric}"),
        Relation::Approx => format!("{l} ~ {r}{metric}, margin ±{}", d.rule.margin),
        Relation::FarGreater => format!(
            "{l} >> {r}{metric} (ratio of means above {})",
            d.rule.factor
        ),
    };
    let _ = writeln!(out, "claim       {claim}, alpha {}", d.rule.alpha);
    let _ = writeln!(
        out,
        "verdict     {}: {}",
        verdict_word(&d.outcome),
        d.reason
    );
    out
}

fn rate(x: f64) -> String {
    format!("{x:.3}")
}

/// The rows' mean false-claim rate, worst false-claim rate, power and false refutations.
fn pooled(rows: &[&Row]) -> [f64; 4] {
    let n = rows.len().max(1) as f64;
    let mean = |f: fn(&Row) -> f64| rows.iter().map(|r| f(r)).sum::<f64>() / n;
    [
        mean(|r| r.false_claims),
        rows.iter().map(|r| r.false_claims).fold(0.0, f64::max),
        mean(|r| r.power),
        mean(|r| r.false_refutations),
    ]
}

/// The calibration of `sapipe bench verdicts`, one row per claim kind and neuron count.
pub fn calibration(c: &Calibration) -> String {
    let mut table = Table {
        title: format!(
            "verdicts at alpha {} (margin ±{}, factor {}), {} simulations per scenario",
            c.rule.alpha, c.rule.margin, c.rule.factor, c.grid.repeats
        ),
        header: [
            "CLAIM",
            "NEURONS",
            "FALSE CLAIMS",
            "WORST",
            "POWER",
            "FALSE REFUTATIONS",
        ]
        .map(String::from)
        .to_vec(),
        rows: Vec::new(),
        notes: Vec::new(),
    };
    for relation in Relation::ALL {
        let all: Vec<&Row> = c.of(relation).collect();
        for &n in &c.grid.neurons {
            let rows: Vec<&Row> = all.iter().copied().filter(|r| r.neurons == n).collect();
            let [f, worst, power, refuted] = pooled(&rows);
            table.rows.push(vec![
                relation.symbol().into(),
                n.to_string(),
                rate(f),
                rate(worst),
                rate(power),
                rate(refuted),
            ]);
        }
        let [f, worst, power, refuted] = pooled(&all);
        table.rows.push(vec![
            relation.symbol().into(),
            "all".into(),
            rate(f),
            rate(worst),
            rate(power),
            rate(refuted),
        ]);
    }
    let g = &c.grid;
    let per_n = g.noises.len() * g.seeds.len() * g.tails.len();
    table.notes = vec![
        format!(
            "scenarios: noise s.d. {:?} x seeds per neuron {:?} x tails {:?}, pooled per row",
            g.noises, g.seeds, g.tails
        ),
        "false claims: the claim declared to hold when false at its boundary (> : equal \
         means; ~ : difference = ±margin; >> : ratio = factor); WORST: its largest scenario"
            .into(),
        "power: declared to hold when true (> : difference = noise s.d.; ~ : equal means; \
         >> : ratio 2); false refutations: declared not to hold when true"
            .into(),
        format!(
            "Monte-Carlo s.e. of a rate at alpha: {:.4} per scenario, {:.4} per row",
            c.standard_error(g.repeats),
            c.standard_error(g.repeats * per_n)
        ),
    ];
    table.to_text()
}
