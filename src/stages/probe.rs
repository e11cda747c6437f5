//! The `probe` stage kind: the in-silico probe of [`crate::neuro::analysis::probe`] run on
//! every bound train stage's checkpoint and, for simulated data, on the simulator's
//! noise-free neurons (`neurons.json` of the raw dataset). It recovers the training
//! transform ([`replay`]: the `crop` parameter checked on the data), draws the stimuli at the
//! raw resolution, passes them through the transform to each model, analyses the responses
//! and writes the files of [`crate::neuro::analysis::probe::files`] into `probe`.

use serde_json::json;

use super::probe_spec::{self, ProbeSpec};
use crate::kind::{KindError, Metrics, StageContext, StageKind};
use crate::neuro::analysis::probe::files::{FIGURE_FILE, ModelProbe, ProbeSummary};
use crate::neuro::analysis::probe::replay::replay;
use crate::neuro::analysis::probe::stimuli::{Canvas, StimulusSet};
use crate::neuro::analysis::probe::truth::{neurons_of, truth_responses};
use crate::neuro::analysis::probe::tuning::{ProbeResult, agreement, analyse};
use crate::neuro::data::dataset::PreparedDataset;
use crate::neuro::data::raw::RawDataset;
use crate::neuro::model::checkpoint::Checkpoint;
use crate::neuro::runtime::determinism;
use crate::neuro::train::fit::EVAL_BATCH;
use crate::neuro::train::trainer::predict_checkpoint;
use crate::neuro::train::{Strategy, torch_device};
use crate::report::probe::tuning_figure;

/// The `probe` kind.
pub struct ProbeKind;

impl StageKind for ProbeKind {
    fn name(&self) -> &'static str {
        "probe"
    }

    fn version(&self) -> u32 {
        probe_spec::VERSION
    }

    fn uses_device(&self) -> bool {
        true
    }

    fn run(&self, ctx: &StageContext) -> Result<Metrics, KindError> {
        let stage = ctx.stage;
        let spec = ProbeSpec::from_params(ctx)?;
        let invalid = |input: &str, m: String| {
            KindError::Invalid(format!("stage '{stage}': input '{input}': {m}"))
        };
        let raw =
            RawDataset::read(ctx.input("data")?).map_err(|e| invalid("data", e.to_string()))?;
        let prepared = PreparedDataset::read(ctx.input("prepared")?)
            .map_err(|e| invalid("prepared", e.to_string()))?;
        let bound = ctx.inputs_many("checkpoint");
        if bound.is_empty() {
            return Err(invalid(
                "checkpoint",
                "bound to no stage: list train stages in `needs`".into(),
            ));
        }
        let preprocessing = replay(&raw, &prepared, spec.crop)
            .map_err(|e| KindError::Invalid(format!("stage '{stage}': {e}")))?;
        let g = preprocessing.geometry;
        let canvas = Canvas::new(
            g.raw_height,
            g.raw_width,
            g.crop,
            preprocessing.norm_mean,
            preprocessing.norm_std,
            spec.protocol.contrast,
        )
        .map_err(|e| invalid("prepared", e.to_string()))?;
        let set = StimulusSet::new(spec.protocol.clone(), canvas)
            .map_err(|e| KindError::Invalid(format!("stage '{stage}': parameter {e}")))?;
        let stimuli = set.render();
        ctx.log(&format!(
            "{} stimuli of {} x {} px (crop {}, model input {} px)",
            set.len(),
            g.raw_height,
            g.raw_width,
            g.crop,
            g.size
        ))?;
        let truth = match &raw.neurons {
            Some(v) => {
                let params = neurons_of(v, raw.meta.neurons, g.raw_height, g.raw_width)
                    .map_err(|e| invalid("data", e.to_string()))?;
                let responses = truth_responses(params, &stimuli);
                Some(analyse(&set, &responses).map_err(|e| invalid("data", e.to_string()))?)
            }
            None => None,
        };
        let inputs = preprocessing
            .apply(&stimuli)
            .map_err(|e| KindError::Failed(format!("stage '{stage}': stimuli: {e}")))?;
        determinism::set_deterministic(ctx.deterministic);
        let device = torch_device(ctx.device)
            .map_err(|e| KindError::Failed(format!("stage '{stage}': {e}")))?;
        let mut summary = ProbeSummary {
            canvas,
            models: Default::default(),
            protocol: spec.protocol.clone(),
            size: g.size,
            stimuli: set.len(),
            truth,
        };
        for (i, (train_stage, path)) in bound.iter().enumerate() {
            (ctx.progress)(
                i as u64,
                bound.len() as u64,
                &format!("probing {train_stage}"),
            );
            let bad = |m: String| {
                KindError::Invalid(format!(
                    "stage '{stage}': input 'checkpoint' of train stage '{train_stage}': {m}"
                ))
            };
            let ckpt = Checkpoint::read(path).map_err(|e| bad(e.to_string()))?;
            let meta = &ckpt.meta;
            if meta.input_size != g.size || meta.neurons != prepared.meta.neurons {
                return Err(bad(format!(
                    "the model takes {0} x {0} images of {1} neurons, the prepared dataset has \
                     {2} x {2} images of {3} neurons",
                    meta.input_size, meta.neurons, g.size, prepared.meta.neurons
                )));
            }
            let group = Strategy::Auto.group_size(device, meta.neurons);
            let responses = predict_checkpoint(&ckpt, path, &inputs, device, group, EVAL_BATCH)
                .map_err(|e| KindError::Failed(format!("stage '{stage}': {train_stage}: {e}")))?;
            let result = analyse(&set, &responses).map_err(|e| bad(e.to_string()))?;
            let label = meta.extra.get("label").cloned();
            summary.models.insert(
                train_stage.to_string(),
                ModelProbe {
                    agreement: summary.truth.as_ref().map(|t| agreement(&result, t)),
                    label: label.unwrap_or_else(|| meta.model.clone()),
                    model: meta.model.clone(),
                    result,
                },
            );
        }
        (ctx.progress)(bound.len() as u64, bound.len() as u64, "done");
        let out = ctx.output("probe")?;
        let failed = |m: String| KindError::Failed(format!("stage '{stage}': {m}"));
        summary.write(out).map_err(|e| failed(e.to_string()))?;
        tuning_figure(&summary, &out.join(FIGURE_FILE), true).map_err(|e| failed(e.to_string()))?;
        Ok(metrics(&summary))
    }
}

/// Population medians per source (`truth_*`, `<train stage>_*`) and agreement with the truth.
fn metrics(s: &ProbeSummary) -> Metrics {
    let mut m = Metrics::new();
    let mut population = |prefix: &str, r: &ProbeResult| {
        let p = &r.population;
        m.insert(format!("{prefix}_median_osi"), json!(p.median_osi));
        m.insert(
            format!("{prefix}_median_ssi_parallel"),
            json!(p.median_ssi_parallel),
        );
        m.insert(
            format!("{prefix}_median_ssi_orthogonal"),
            json!(p.median_ssi_orthogonal),
        );
    };
    if let Some(t) = &s.truth {
        population("truth", t);
    }
    for (stage, model) in &s.models {
        population(stage, &model.result);
    }
    for (stage, model) in &s.models {
        if let Some(a) = &model.agreement {
            m.insert(
                format!("{stage}_orientation_error_deg"),
                json!(a.median_orientation_error_deg),
            );
            m.insert(
                format!("{stage}_ssi_parallel_corr"),
                json!(a.ssi_parallel_corr),
            );
        }
    }
    m.insert("stimuli".into(), json!(s.stimuli));
    m
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    use serde_json::{Value, json};

    use super::*;
    use crate::neuro::data::fixtures::small_config;
    use crate::neuro::data::preprocess::{PreprocessConfig, preprocess};
    use crate::neuro::data::sim::simulate;
    use crate::neuro::data::sim::stimuli::DeadLeaves;
    use crate::neuro::model::ModelId;
    use crate::neuro::train::fixtures;
    use crate::stages::fixtures::{params_from_definition, run_kind};

    /// A tiny simulated population (5 neurons, 32 px raw images cut to 28 px and resampled to
    /// 26) and an rf-CNN trained on it for one epoch: (raw dir, prepared dir, checkpoint).
    fn chain(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
        let sim = simulate(&small_config(3), &DeadLeaves::new(32), &|_, _, _| {}).unwrap();
        let cfg = PreprocessConfig {
            crop: 28,
            size: 26,
            validation: 0.1,
            fraction: 1.0,
            seed: 1,
        };
        let (prepared, _) = preprocess(&sim.raw, &cfg).unwrap();
        let paths = ["raw", "prepared"].map(|d| dir.join(d));
        for p in &paths {
            std::fs::create_dir(p).unwrap();
        }
        sim.raw.write(&paths[0]).unwrap();
        prepared.write(&paths[1]).unwrap();
        let model = ModelId::RfCnn;
        let settings = fixtures::settings(model, 1, crate::neuro::train::Strategy::Population);
        let trained = fixtures::run(&settings, &prepared, None);
        let mut ckpt = fixtures::checkpoint(model, &prepared, &trained);
        ckpt.meta.extra.insert("label".into(), "rf-CNN".into());
        let path = dir.join("rf.st");
        ckpt.write(&path).unwrap();
        let [raw, prepared] = paths;
        (raw, prepared, path)
    }

    fn probe(
        dir: &Path,
        with: Value,
        inputs: BTreeMap<String, PathBuf>,
    ) -> Result<Metrics, KindError> {
        let small = json!({"orientations": 4, "phases": 2, "frequencies": [4.0, 8.0]});
        let mut with = with;
        for (k, v) in small.as_object().unwrap() {
            with.as_object_mut().unwrap().insert(k.clone(), v.clone());
        }
        let (params, outputs) = params_from_definition("probe.yaml", with);
        assert_eq!(outputs, ["probe"]);
        run_kind(&ProbeKind, params, inputs, &[("probe", true)], dir).0
    }

    #[test]
    fn probes_a_tiny_simulated_population_against_its_truth() {
        let dir = tempfile::tempdir().unwrap();
        let (raw, prepared, ckpt) = chain(dir.path());
        let inputs = BTreeMap::from([
            ("data".to_owned(), raw.clone()),
            ("prepared".to_owned(), prepared.clone()),
            ("checkpoint/rf_cnn".to_owned(), ckpt),
        ]);
        let metrics = probe(dir.path(), json!({"crop": 28}), inputs.clone()).unwrap();
        assert_eq!(metrics["stimuli"], json!(1 + 3 * 2 * 4 * 2));
        for key in [
            "truth_median_osi",
            "rf_cnn_median_ssi_parallel",
            "rf_cnn_orientation_error_deg",
        ] {
            assert!(metrics.contains_key(key), "{key} missing: {metrics:?}");
        }
        let out = dir.path().join("probe");
        let summary = ProbeSummary::read(&out.join("summary.json")).unwrap();
        let truth = summary
            .truth
            .as_ref()
            .expect("simulated data carries the truth");
        assert_eq!(truth.neurons.len(), 5);
        assert!(truth.population.responsive > 0, "{:?}", truth.population);
        let model = &summary.models["rf_cnn"];
        assert_eq!(
            (model.label.as_str(), model.result.neurons.len()),
            ("rf-CNN", 5)
        );
        let a = model.agreement.as_ref().expect("compared with the truth");
        assert_eq!(a.orientation_error_deg.len(), 5);
        assert!(
            a.orientation_error_deg
                .iter()
                .flatten()
                .all(|e| (0.0..=90.0).contains(e))
        );
        assert_eq!(summary.canvas.field, 28);
        let csv = std::fs::read_to_string(out.join("per_neuron.csv")).unwrap();
        assert_eq!(csv.lines().filter(|l| l.starts_with("truth,")).count(), 5);
        assert_eq!(csv.lines().filter(|l| l.starts_with("rf_cnn,")).count(), 5);
        assert!(out.join(FIGURE_FILE).is_file());

        // The default crop (the whole 32 px image) is not what preprocess did: refused.
        let err = probe(dir.path(), json!({}), inputs.clone())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("stage 's'") && err.contains("set 'crop' to the preprocess stage's value"),
            "{err}"
        );
        let none = BTreeMap::from([("data".to_owned(), raw), ("prepared".to_owned(), prepared)]);
        let err = probe(dir.path(), json!({"crop": 28}), none)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("input 'checkpoint': bound to no stage"),
            "{err}"
        );
    }

    #[test]
    fn stage_definition_parses() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut kinds = crate::kind::KindRegistry::default();
        kinds.register(Box::new(ProbeKind));
        let def = crate::spec::definition::Definition::load(
            &root.join("stages/probe.yaml"),
            root,
            &kinds,
        )
        .unwrap();
        assert!(def.inputs["checkpoint"].many && !def.inputs["data"].many);
    }
}
