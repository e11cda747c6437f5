//! `sapipe predict` on the worker side: a train stage's checkpoint run on new images. Not a
//! pipeline stage kind (no definition file names it); `sapipe predict` hands it to the
//! libtorch worker like a stage, with
//!
//! - params: `preprocessing` (a [`Preprocessing`]), `neurons` (indices, or null for all),
//!   `group_size` (neurons per network, as the train stage predicted);
//! - inputs: `checkpoint`, `prepared` (the training images' range), `images` (a file or folder,
//!   [`crate::neuro::data::new_images`]);
//! - output: `predictions`, `[images, neurons]` float32 `.npy`.
//!
//! New images pass through the training transform; images whose pixel values lie far outside
//! the training images' range (more than half that range beyond either end: uint8 0-255
//! against images in [0, 1], say) are refused, since normalisation could not map them to
//! anything the model saw.

use serde_json::{Value, json};

use crate::kind::{KindError, Metrics, StageContext, StageKind};
use crate::neuro::array::ArrayF32;
use crate::neuro::data::new_images;
use crate::neuro::data::transform::Preprocessing;
use crate::neuro::model::checkpoint::Checkpoint;
use crate::neuro::stats::{mean_var, widen};
use crate::neuro::train::fit::EVAL_BATCH;
use crate::neuro::train::torch_device;
use crate::neuro::train::trainer::predict_checkpoint;

pub struct PredictKind;

/// Images per progress step (a multiple of the inference batch, so chunking does not change
/// the batches and hence the numbers).
const CHUNK: usize = 20 * EVAL_BATCH;

/// (min, max) of finite values.
fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    })
}

/// Refuses images whose pixel range cannot be mapped onto the training images'.
fn check_range(
    images: &ArrayF32,
    training: &ArrayF32,
    p: &Preprocessing,
    source: &str,
) -> Result<(), String> {
    let (lo, hi) = range(
        training
            .data
            .iter()
            .map(|&v| v as f64 * p.norm_std + p.norm_mean),
    );
    let (a, b) = range(images.data.iter().map(|&v| v as f64));
    let slack = 0.5 * (hi - lo);
    if a < lo - slack || b > hi + slack {
        return Err(format!(
            "{source}: pixel values span [{a:.4}, {b:.4}], but the training images spanned \
             [{lo:.4}, {hi:.4}] (after cropping and resampling); rescale the images to the \
             training range (uint8 images are read as value / 255)"
        ));
    }
    Ok(())
}

impl StageKind for PredictKind {
    fn name(&self) -> &'static str {
        "predict"
    }

    fn version(&self) -> u32 {
        1
    }

    fn uses_device(&self) -> bool {
        true
    }

    fn run(&self, ctx: &StageContext) -> Result<Metrics, KindError> {
        let stage = ctx.stage;
        let invalid = |m: String| KindError::Invalid(format!("stage '{stage}': {m}"));
        let p: Preprocessing = serde_json::from_value(ctx.param("preprocessing")?.clone())
            .map_err(|e| invalid(format!("parameter 'preprocessing': {e}")))?;
        let group_size = ctx.param_u64("group_size")?.max(1) as usize;
        let images_path = ctx.input("images")?;
        let source = images_path.display().to_string();
        let read = new_images::read(images_path).map_err(|e| KindError::Invalid(e.to_string()))?;
        let inputs = p
            .apply(&read.images)
            .map_err(|e| KindError::Invalid(format!("{source}: {e}")))?;
        let prepared = ctx.input("prepared")?;
        let training = ArrayF32::read_npy(&prepared.join("train_images.npy"))
            .map_err(|e| invalid(format!("input 'prepared': {e}")))?;
        check_range(&read.images, &training, &p, &source).map_err(KindError::Invalid)?;

        let ckpt_path = ctx.input("checkpoint")?;
        let mut checkpoint =
            Checkpoint::read(ckpt_path).map_err(|e| invalid(format!("input 'checkpoint': {e}")))?;
        let all = checkpoint.meta.neurons;
        let neurons: Vec<usize> = match ctx.param("neurons")? {
            Value::Null => (0..all).collect(),
            v => serde_json::from_value(v.clone())
                .map_err(|e| invalid(format!("parameter 'neurons': {e}")))?,
        };
        if let Some(&bad) = neurons.iter().find(|&&i| i >= all) {
            return Err(KindError::Invalid(format!(
                "--neurons: neuron {bad} does not exist; the model of stage '{stage}' has {all} neurons (0-{})",
                all - 1
            )));
        }
        if neurons.len() != all || neurons.iter().enumerate().any(|(i, &n)| i != n) {
            checkpoint = checkpoint.select_neurons(&neurons);
        }
        if checkpoint.meta.input_size != p.geometry.size {
            return Err(invalid(format!(
                "the checkpoint takes {0} x {0} images but the prepared dataset's are {1} x {1}",
                checkpoint.meta.input_size, p.geometry.size
            )));
        }
        let device = torch_device(ctx.device).map_err(|e| KindError::Failed(e.to_string()))?;
        let n = inputs.shape[0];
        let mut out = Vec::with_capacity(n * neurons.len());
        for start in (0..n).step_by(CHUNK) {
            let rows: Vec<usize> = (start..(start + CHUNK).min(n)).collect();
            let chunk = predict_checkpoint(
                &checkpoint,
                ckpt_path,
                &inputs.select_rows(&rows),
                device,
                group_size,
                EVAL_BATCH,
            )
            .map_err(|e| KindError::Failed(format!("stage '{stage}': {e}")))?;
            out.extend(chunk.data);
            (ctx.progress)(
                (start + rows.len()) as u64,
                n as u64,
                &format!("{} of {n} images", start + rows.len()),
            );
        }
        let predictions = ArrayF32::new(vec![n, neurons.len()], out);
        let path = ctx.output("predictions")?;
        predictions
            .write_npy(path)
            .map_err(|e| KindError::Failed(format!("{}: {e}", path.display())))?;
        let (lo, hi) = range(predictions.data.iter().map(|&v| v as f64));
        let (mean, _) = mean_var(&widen(&predictions.data));
        let mut m = Metrics::new();
        m.insert("images".into(), json!(n));
        m.insert("neurons".into(), json!(neurons));
        m.insert("model".into(), json!(checkpoint.meta.model));
        m.insert("files".into(), json!(read.files));
        m.insert("prediction_min".into(), json!(lo));
        m.insert("prediction_mean".into(), json!(mean));
        m.insert("prediction_max".into(), json!(hi));
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neuro::data::transform::Geometry;

    #[test]
    fn images_far_outside_the_training_range_are_refused() {
        let p = Preprocessing {
            geometry: Geometry::new(2, 2, 0, 1).unwrap(),
            norm_mean: 0.5,
            norm_std: 0.25,
        };
        // Normalised -2..2 is 0..1 in pixel values.
        let training = ArrayF32::new(vec![2, 1, 1], vec![-2.0, 2.0]);
        let ok = ArrayF32::new(vec![1, 2, 2], vec![0.0, 0.2, 1.0, 1.4]);
        check_range(&ok, &training, &p, "ok.npy").unwrap();
        let bytes = ArrayF32::new(vec![1, 2, 2], vec![0.0, 12.0, 255.0, 3.0]);
        let e = check_range(&bytes, &training, &p, "u8.npy").unwrap_err();
        assert!(
            e.starts_with("u8.npy: pixel values span [0.0000, 255.0000], but the training images spanned [0.0000, 1.0000]"),
            "{e}"
        );
    }
}
