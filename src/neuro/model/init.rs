//! Initial values of a network's variables, drawn per neuron and per variable from the stage
//! seed (see `crate::neuro::random::counter`): a neuron starts from the same weights whether it is
//! trained alone or inside a population, and whatever order the variables are created in.
//! Distributions follow PyTorch's defaults for `Conv2d`, `Linear` and `BatchNorm2d`.

use super::arch::{Role, VarSpec};
use crate::neuro::random::counter::{Purpose, Stream};

/// The initial values of `spec` for the neuron with dataset index `neuron`.
pub fn initial_values(spec: &VarSpec, seed: u64, neuron: usize) -> Vec<f32> {
    let n = spec.numel();
    let uniform = |fan_in: usize| {
        let bound = 1.0 / (fan_in as f64).sqrt();
        let stream = Stream::new(seed, Purpose::Init)
            .child(neuron as u64)
            .named(&spec.name);
        (0..n as u64)
            .map(|i| ((2.0 * f64::from(stream.f32_at(i)) - 1.0) * bound) as f32)
            .collect::<Vec<f32>>()
    };
    match spec.role {
        Role::Weight { fan_in } | Role::Bias { fan_in } => uniform(fan_in),
        Role::BnScale | Role::RunningVar => vec![1.0; n],
        Role::BnShift | Role::RunningMean | Role::Gate => vec![0.0; n],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neuro::model::arch::{Architecture, ModelId};

    #[test]
    fn weights_are_bounded_by_fan_in_and_differ_per_neuron_and_variable() {
        let a = Architecture::new(ModelId::FfSaCnn, 50).unwrap();
        let vars = a.variables();
        let w = vars
            .iter()
            .find(|v| v.name == "alpha2.conv.weight")
            .unwrap();
        let v0 = initial_values(w, 1, 0);
        assert_eq!(v0.len(), 30 * 30 * 25);
        let bound = 1.0 / (750f32).sqrt();
        assert!(v0.iter().all(|x| x.abs() <= bound));
        assert!(v0.iter().any(|x| x.abs() > 0.9 * bound));
        assert_eq!(v0, initial_values(w, 1, 0));
        assert_ne!(v0, initial_values(w, 1, 1));
        assert_ne!(v0, initial_values(w, 2, 0));
        let b = vars.iter().find(|v| v.name == "alpha2.conv.bias").unwrap();
        assert_ne!(initial_values(b, 1, 0)[..], v0[..30]);
        let g = vars.iter().find(|v| v.name == "sa.attn.gamma").unwrap();
        assert_eq!(initial_values(g, 1, 0), vec![0.0]);
        let rv = vars.iter().find(|v| v.name == "sa.bn.running_var").unwrap();
        assert_eq!(initial_values(rv, 1, 0), vec![1.0; 30]);
    }
}
