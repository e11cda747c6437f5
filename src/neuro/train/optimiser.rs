//! Adam (PyTorch's default betas and epsilon, no weight decay), written out so that what it
//! computes is visible: every operation is elementwise, so each neuron's moments and updates
//! depend only on its own gradients — a population trained with summed per-neuron losses gets
//! exactly the per-neuron optimiser state it would have alone.

use tch::Tensor;

pub const BETA1: f64 = 0.9;
pub const BETA2: f64 = 0.999;
pub const EPS: f64 = 1e-8;

/// Adam over a fixed list of parameters.
pub struct Adam {
    params: Vec<Tensor>,
    exp_avg: Vec<Tensor>,
    exp_avg_sq: Vec<Tensor>,
    lr: f64,
    steps: i32,
}

impl Adam {
    pub fn new(params: Vec<Tensor>, lr: f64) -> Self {
        let exp_avg = params.iter().map(|p| p.zeros_like()).collect();
        let exp_avg_sq = params.iter().map(|p| p.zeros_like()).collect();
        Adam {
            params,
            exp_avg,
            exp_avg_sq,
            lr,
            steps: 0,
        }
    }

    /// Clears the parameters' gradients.
    pub fn zero_grad(&mut self) {
        for p in &mut self.params {
            p.zero_grad();
        }
    }

    /// One update from the gradients accumulated by `backward`.
    pub fn step(&mut self) {
        let _guard = tch::no_grad_guard();
        self.steps += 1;
        let bias_correction1 = 1.0 - BETA1.powi(self.steps);
        let bias_correction2 = 1.0 - BETA2.powi(self.steps);
        let step_size = self.lr / bias_correction1;
        let bias_correction2_sqrt = bias_correction2.sqrt();
        for ((p, m), v) in self
            .params
            .iter_mut()
            .zip(&mut self.exp_avg)
            .zip(&mut self.exp_avg_sq)
        {
            let g = p.grad();
            if !g.defined() {
                continue;
            }
            let _ = m.lerp_(&g, 1.0 - BETA1);
            let _ = v.g_mul_scalar_(BETA2);
            let _ = v.g_add_(&(&g * &g * (1.0 - BETA2)));
            let denom = v.sqrt() / bias_correction2_sqrt + EPS;
            let _ = p.g_sub_(&(&*m / denom * step_size));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Kind;

    #[test]
    fn first_step_moves_each_parameter_by_lr_against_its_gradient_sign() {
        let p = Tensor::from_slice(&[1.0f32, -2.0, 0.5]).set_requires_grad(true);
        let mut adam = Adam::new(vec![p.shallow_clone()], 0.1);
        let loss = (&p * Tensor::from_slice(&[3.0f32, -1.0, 0.0])).sum(Kind::Float);
        loss.backward();
        adam.step();
        let after: Vec<f32> = Vec::try_from(&p.detach()).unwrap();
        // Adam's first step is lr * g / (|g| + eps'): a full lr step wherever g != 0.
        assert!(
            (after[0] - 0.9).abs() < 1e-6 && (after[1] + 1.9).abs() < 1e-6,
            "{after:?}"
        );
        assert_eq!(after[2], 0.5);
    }

    #[test]
    fn minimises_a_quadratic() {
        let p = Tensor::from_slice(&[3.0f32, -4.0]).set_requires_grad(true);
        let mut adam = Adam::new(vec![p.shallow_clone()], 0.05);
        for _ in 0..500 {
            adam.zero_grad();
            (&p * &p).sum(Kind::Float).backward();
            adam.step();
        }
        let after: Vec<f32> = Vec::try_from(&p.detach()).unwrap();
        assert!(after.iter().all(|x| x.abs() < 0.05), "{after:?}");
    }
}
