//! Population checkpoints in the safetensors format, readable with `safetensors.torch.load_file`.
//!
//! Every tensor is `float32`, named after the block and layer that own it (the stable variable
//! paths of `model::arch`, e.g. `alpha1.conv.weight`, `sa.attn.q.bias`, `alpha1.bn.running_mean`,
//! `readout.weight`), and stored neuron-major: shape `[neurons, ...]` where `...` is exactly the
//! shape of the corresponding PyTorch module parameter of one neuron's network
//! (`Conv2d.weight` `[C_out, C_in, k, k]`, `Linear.weight` `[1, F]`, `BatchNorm2d.running_var`
//! `[C]`, the attention gate `[1]`). Batch-norm running statistics are included.
//!
//! The header's `__metadata__` holds `format`, `model`, `neurons`, `input_size`, `channels`,
//! `sapipe_version` and free-form extras (label, best epochs, ...). The writer is deterministic:
//! tensors and metadata keys are sorted by name, so equal contents give equal bytes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::neuro::array::ArrayF32;
use crate::neuro::model::arch::{Architecture, ModelId};

/// The value of the `format` metadata key.
pub const FORMAT: &str = "sapipe-population/1";

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a sapipe checkpoint: {message}")]
    Format { path: PathBuf, message: String },
    #[error("{path}: tensor '{tensor}': {message}")]
    Tensor {
        path: PathBuf,
        tensor: String,
        message: String,
    },
}

/// Facts about a checkpoint that are not tensors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointMeta {
    /// The model identifier (`ModelId::id`).
    pub model: String,
    pub neurons: usize,
    /// Side of the square model input in pixels.
    pub input_size: usize,
    /// Channels of the body (the model's own unless overridden).
    pub channels: usize,
    pub sapipe_version: String,
    /// Further string metadata (label, stage, best epochs, ...); keys must not collide with the
    /// fixed ones.
    pub extra: BTreeMap<String, String>,
}

const FIXED_KEYS: [&str; 6] = [
    "format",
    "model",
    "neurons",
    "input_size",
    "channels",
    "sapipe_version",
];

/// A population's variables, neuron-major, by stable name.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    pub meta: CheckpointMeta,
    pub tensors: BTreeMap<String, ArrayF32>,
}

impl Checkpoint {
    /// The architecture the checkpoint was trained with.
    pub fn architecture(&self, path: &Path) -> Result<Architecture, CheckpointError> {
        let format = |message: String| CheckpointError::Format {
            path: path.to_owned(),
            message,
        };
        let model = ModelId::parse(&self.meta.model).map_err(|e| format(e.to_string()))?;
        Architecture::new(model, self.meta.input_size)
            .and_then(|a| a.with_channels(self.meta.channels))
            .map_err(|e| format(e.to_string()))
    }

    /// Checks that the tensors are exactly the variables of `arch` for `meta.neurons` neurons.
    pub fn check(&self, arch: &Architecture, path: &Path) -> Result<(), CheckpointError> {
        let specs = arch.variables();
        for spec in &specs {
            let mut expected = vec![self.meta.neurons];
            expected.extend(&spec.shape);
            let t = self.tensor(&spec.name, path)?;
            if t.shape != expected {
                return Err(CheckpointError::Tensor {
                    path: path.to_owned(),
                    tensor: spec.name.clone(),
                    message: format!(
                        "expected shape {expected:?} for model {}, found {:?}",
                        arch.model, t.shape
                    ),
                });
            }
        }
        if let Some(extra) = self
            .tensors
            .keys()
            .find(|k| !specs.iter().any(|s| &s.name == *k))
        {
            return Err(CheckpointError::Tensor {
                path: path.to_owned(),
                tensor: extra.clone(),
                message: format!("model {} has no such variable", arch.model),
            });
        }
        Ok(())
    }

    /// A tensor by name; the error names the file and the tensor.
    pub fn tensor(&self, name: &str, path: &Path) -> Result<&ArrayF32, CheckpointError> {
        self.tensors
            .get(name)
            .ok_or_else(|| CheckpointError::Tensor {
                path: path.to_owned(),
                tensor: name.to_owned(),
                message: "missing".to_owned(),
            })
    }

    /// The safetensors bytes of the checkpoint.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut meta = serde_json::Map::new();
        for (k, v) in &self.meta.extra {
            meta.insert(k.clone(), v.clone().into());
        }
        meta.insert("format".into(), FORMAT.into());
        meta.insert("model".into(), self.meta.model.clone().into());
        meta.insert("neurons".into(), self.meta.neurons.to_string().into());
        meta.insert("input_size".into(), self.meta.input_size.to_string().into());
        meta.insert("channels".into(), self.meta.channels.to_string().into());
        meta.insert(
            "sapipe_version".into(),
            self.meta.sapipe_version.clone().into(),
        );
        let mut header = serde_json::Map::new();
        header.insert("__metadata__".into(), meta.into());
        let mut offset = 0usize;
        for (name, t) in &self.tensors {
            let len = t.data.len() * 4;
            header.insert(
                name.clone(),
                serde_json::json!({ "dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + len] }),
            );
            offset += len;
        }
        let mut header_bytes = serde_json::to_vec(&header).expect("a JSON map serialises");
        header_bytes.resize(header_bytes.len().next_multiple_of(8), b' ');
        let mut out = Vec::with_capacity(8 + header_bytes.len() + offset);
        out.extend_from_slice(&(header_bytes.len() as u64).to_le_bytes());
        out.extend_from_slice(&header_bytes);
        for t in self.tensors.values() {
            for x in &t.data {
                out.extend_from_slice(&x.to_le_bytes());
            }
        }
        out
    }

    pub fn write(&self, path: &Path) -> Result<(), CheckpointError> {
        std::fs::write(path, self.to_bytes()).map_err(|source| CheckpointError::Io {
            path: path.to_owned(),
            source,
        })
    }

    pub fn read(path: &Path) -> Result<Self, CheckpointError> {
        let bytes = std::fs::read(path).map_err(|source| CheckpointError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_bytes(&bytes, path)
    }

    /// Parses safetensors bytes; `path` only names the source in errors.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self, CheckpointError> {
        let format = |message: String| CheckpointError::Format {
            path: path.to_owned(),
            message,
        };
        let st = safetensors::SafeTensors::deserialize(bytes).map_err(|e| format(e.to_string()))?;
        let (_, header) =
            safetensors::SafeTensors::read_metadata(bytes).map_err(|e| format(e.to_string()))?;
        let raw = header.metadata().clone().unwrap_or_default();
        let get = |key: &str| {
            raw.get(key)
                .cloned()
                .ok_or_else(|| format(format!("metadata key '{key}' is missing")))
        };
        let found_format = get("format")?;
        if found_format != FORMAT {
            return Err(format(format!(
                "format '{found_format}', expected '{FORMAT}'"
            )));
        }
        let number = |key: &str| -> Result<usize, CheckpointError> {
            let v = get(key)?;
            v.parse()
                .map_err(|_| format(format!("metadata '{key}' = '{v}' is not a count")))
        };
        let extra = raw
            .iter()
            .filter(|(k, _)| !FIXED_KEYS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let meta = CheckpointMeta {
            model: get("model")?,
            neurons: number("neurons")?,
            input_size: number("input_size")?,
            channels: number("channels")?,
            sapipe_version: get("sapipe_version")?,
            extra,
        };
        let mut tensors = BTreeMap::new();
        for (name, view) in st.tensors() {
            if view.dtype() != safetensors::Dtype::F32 {
                return Err(CheckpointError::Tensor {
                    path: path.to_owned(),
                    tensor: name,
                    message: format!("dtype {:?}, expected F32", view.dtype()),
                });
            }
            let data: Vec<f32> = view
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            let shape = view.shape().to_vec();
            if shape.first() != Some(&meta.neurons) {
                return Err(CheckpointError::Tensor {
                    path: path.to_owned(),
                    tensor: name,
                    message: format!(
                        "shape {shape:?} does not lead with the {} neurons",
                        meta.neurons
                    ),
                });
            }
            tensors.insert(name, ArrayF32::new(shape, data));
        }
        Ok(Checkpoint { meta, tensors })
    }

    /// The neurons at `indices` (in that order) as a checkpoint of their own.
    pub fn select_neurons(&self, indices: &[usize]) -> Checkpoint {
        Checkpoint {
            meta: CheckpointMeta {
                neurons: indices.len(),
                ..self.meta.clone()
            },
            tensors: self
                .tensors
                .iter()
                .map(|(k, t)| (k.clone(), t.select_rows(indices)))
                .collect(),
        }
    }
}

/// Concatenates the neuron-major tensors of consecutive neuron groups (all with the same
/// names and per-neuron shapes) along the neuron axis.
pub fn concat_neurons(parts: &[BTreeMap<String, ArrayF32>]) -> BTreeMap<String, ArrayF32> {
    let mut out: BTreeMap<String, ArrayF32> = BTreeMap::new();
    for part in parts {
        for (name, t) in part {
            match out.get_mut(name) {
                Some(acc) => {
                    assert_eq!(
                        acc.shape[1..],
                        t.shape[1..],
                        "per-neuron shapes of '{name}' differ between groups"
                    );
                    acc.shape[0] += t.shape[0];
                    acc.data.extend_from_slice(&t.data);
                }
                None => {
                    out.insert(name.clone(), t.clone());
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Checkpoint {
        let mut tensors = BTreeMap::new();
        tensors.insert(
            "b.weight".to_owned(),
            ArrayF32::new(vec![2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
        );
        tensors.insert(
            "a.bias".to_owned(),
            ArrayF32::new(vec![2, 1], vec![-1.5, 0.25]),
        );
        let mut extra = BTreeMap::new();
        extra.insert("label".to_owned(), "rf-CNN (Simul.)".to_owned());
        extra.insert("best_epoch".to_owned(), "[3,4]".to_owned());
        Checkpoint {
            meta: CheckpointMeta {
                model: "rf-cnn".into(),
                neurons: 2,
                input_size: 50,
                channels: 32,
                sapipe_version: "0.1.0".into(),
                extra,
            },
            tensors,
        }
    }

    #[test]
    fn round_trips_through_bytes_and_is_deterministic() {
        let c = sample();
        let bytes = c.to_bytes();
        assert_eq!(bytes, c.clone().to_bytes());
        let back = Checkpoint::from_bytes(&bytes, Path::new("x.safetensors")).unwrap();
        assert_eq!(back, c);
        let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        assert_eq!(header_len % 8, 0);
        assert_eq!(bytes.len(), 8 + header_len + 8 * 4);
    }

    #[test]
    fn selects_and_concatenates_neurons() {
        let c = sample();
        let first = c.select_neurons(&[0]);
        let second = c.select_neurons(&[1]);
        assert_eq!(first.tensors["b.weight"].data, vec![1.0, 2.0, 3.0]);
        assert_eq!(concat_neurons(&[first.tensors, second.tensors]), c.tensors);
    }

    #[test]
    fn rejects_foreign_files_with_the_path() {
        let err =
            Checkpoint::from_bytes(b"not a checkpoint", Path::new("up.safetensors")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("up.safetensors: not a sapipe checkpoint"),
            "{err}"
        );
        let mut c = sample();
        c.meta.extra.clear();
        let mut bytes = c.to_bytes();
        // Corrupt the format tag inside the header.
        let pos = bytes
            .windows(FORMAT.len())
            .position(|w| w == FORMAT.as_bytes())
            .unwrap();
        bytes[pos] = b'X';
        let err = Checkpoint::from_bytes(&bytes, Path::new("c.safetensors")).unwrap_err();
        assert!(
            err.to_string().contains("expected 'sapipe-population/1'"),
            "{err}"
        );
    }

    #[test]
    fn check_names_missing_and_misshapen_tensors() {
        let arch = Architecture::new(ModelId::RfCnn, 50).unwrap();
        let mut tensors = BTreeMap::new();
        for spec in arch.variables() {
            let mut shape = vec![1];
            shape.extend(&spec.shape);
            tensors.insert(spec.name.clone(), ArrayF32::zeros(shape));
        }
        let meta = CheckpointMeta {
            model: "rf-cnn".into(),
            neurons: 1,
            input_size: 50,
            channels: 32,
            sapipe_version: "0".into(),
            extra: BTreeMap::new(),
        };
        let good = Checkpoint { meta, tensors };
        good.check(&arch, Path::new("c")).unwrap();
        let mut missing = good.clone();
        missing.tensors.remove("beta2.bn.running_mean");
        let err = missing
            .check(&arch, Path::new("c"))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "c: tensor 'beta2.bn.running_mean': missing");
        let mut wrong = good.clone();
        wrong
            .tensors
            .insert("readout.weight".into(), ArrayF32::zeros(vec![1, 1, 31]));
        let err = wrong.check(&arch, Path::new("c")).unwrap_err().to_string();
        assert!(err.contains("expected shape [1, 1, 32]"), "{err}");
    }
}
