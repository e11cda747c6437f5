//! A convolution followed by 2x2 max-pooling (stride 2, floor), computed phase by phase.
//!
//! Pooled position (i, j) is the largest of the convolution at (2i+a, 2j+b) for the four
//! *phases* (a, b) in {0, 1}². Each phase is the convolution with stride 2 of the input cropped
//! at (a, b); stacked along the batch, the four are one convolution call, whose output
//! `[4, B, C, Q, Q]` is pooled by a reduction over its outer axis. On CPU that is far cheaper
//! than `max_pool2d` (a scalar kernel that costs as much as the convolution before it, see
//! README "How training computes"), and it computes the same function: the same values, and the
//! gradient of each window goes, as `max_pool2d`'s does, to its first largest element in
//! row-major order (a, b) = (0, 0), (0, 1), (1, 0), (1, 1).

use tch::{Kind, Tensor};

/// `max_pool2d(conv2d(x, weight, bias, groups), 2, 2)` for `x` `[B, C_in, H, W]` and `weight`
/// `[C_out, C_in / groups, k, k]` (valid convolution, stride 1).
pub(crate) fn conv_max_pool(x: &Tensor, weight: &Tensor, bias: &Tensor, groups: i64) -> Tensor {
    let (xs, k) = (x.size(), weight.size()[2]);
    let (b, h, w) = (xs[0], xs[2], xs[3]);
    let (qh, qw) = ((h - k + 1) / 2, (w - k + 1) / 2);
    // The input rows a, a+2, ..., read by phase a's stride-2 convolution with Q outputs.
    let (lh, lw) = (2 * qh + k - 2, 2 * qw + k - 2);
    let crops: Vec<Tensor> = [(0, 0), (0, 1), (1, 0), (1, 1)]
        .iter()
        .map(|&(a, c)| x.narrow(2, a, lh).narrow(3, c, lw))
        .collect();
    let phases = Tensor::cat(&crops, 0).conv2d(weight, Some(bias), [2, 2], [0, 0], [1, 1], groups);
    let c_out = phases.size()[1];
    first_max_of_phases(&phases.view([4, b, c_out, qh, qw]))
}

/// The largest of the four phases `[4, ...]`, with the gradient to the first largest one.
fn first_max_of_phases(phases: &Tensor) -> Tensor {
    let values = phases.detach();
    let max = values.amax([0], true);
    if !phases.requires_grad() {
        return max.squeeze_dim(0);
    }
    // 1 where a phase holds its window's maximum, 0 below it (NaN where NaN).
    let mut chosen = &values - &max;
    let _ = chosen.sign_();
    let _ = chosen.g_add_scalar_(1.0);
    // Exactly one maximum per window: the common case, a one-hot choice already. Ties (flat
    // image regions) and NaN take the exact rule.
    if chosen.sum(Kind::Double).double_value(&[]) != max.numel() as f64 {
        chosen = first_of_ties(&values, &max);
    }
    // One term is the maximum itself, the others are zeros: the sum is the maximum, exactly.
    (phases * chosen).sum_dim_intlist(0, false, phases.kind())
}

/// One-hot over the phase axis: the first phase equal to the maximum (the last phase where no
/// phase equals it, i.e. where a NaN is the window's value, which the sum then keeps).
fn first_of_ties(values: &Tensor, max: &Tensor) -> Tensor {
    let max = max.squeeze_dim(0);
    let mut seen = values.get(0).eq_tensor(&max);
    let mut chosen = vec![seen.shallow_clone()];
    for k in 1..3 {
        let equal = values.get(k).eq_tensor(&max);
        chosen.push(equal.logical_and(&seen.logical_not()));
        seen = seen.logical_or(&equal);
    }
    chosen.push(seen.logical_not());
    Tensor::stack(&chosen, 0).to_kind(values.kind())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    fn reference(x: &Tensor, w: &Tensor, b: &Tensor, groups: i64) -> Tensor {
        x.conv2d(w, Some(b), [1, 1], [0, 0], [1, 1], groups)
            .max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false)
    }

    fn max_abs(a: &Tensor, b: &Tensor) -> f64 {
        (a - b).abs().max().double_value(&[])
    }

    /// Values and the gradients of input, weight and bias of both formulations.
    fn both(x: &Tensor, w: &Tensor, b: &Tensor, groups: i64) -> [[Tensor; 4]; 2] {
        let out = |f: &dyn Fn(&Tensor, &Tensor, &Tensor) -> Tensor| {
            let (x, w, b) = (
                x.detach().set_requires_grad(true),
                w.detach().set_requires_grad(true),
                b.detach().set_requires_grad(true),
            );
            let y = f(&x, &w, &b);
            let g = Tensor::linspace(-1.0, 1.0, y.numel() as i64, (Kind::Float, Device::Cpu))
                .view(y.size().as_slice());
            (&y * &g).sum(Kind::Float).backward();
            [y.detach(), x.grad(), w.grad(), b.grad()]
        };
        [
            out(&|x, w, b| reference(x, w, b, groups)),
            out(&|x, w, b| conv_max_pool(x, w, b, groups)),
        ]
    }

    #[test]
    fn equals_convolution_then_max_pool_with_its_gradients() {
        tch::manual_seed(3);
        // Odd and even maps (23 -> 19 -> 9 drops a row and a column), grouped and not.
        for (c_in, size, groups) in [(1, 24, 1), (6, 23, 2), (4, 12, 1)] {
            let x = Tensor::randn([3, c_in, size, size], (Kind::Float, Device::Cpu));
            let w = Tensor::randn([4, c_in / groups, 5, 5], (Kind::Float, Device::Cpu));
            let b = Tensor::randn([4], (Kind::Float, Device::Cpu));
            let [r, p] = both(&x, &w, &b, groups);
            assert_eq!(r[0].size(), p[0].size());
            for (what, (u, v)) in ["value", "d input", "d weight", "d bias"]
                .iter()
                .zip(r.iter().zip(&p))
            {
                let scale = u.abs().max().double_value(&[]).max(1.0);
                assert!(max_abs(u, v) <= 1e-5 * scale, "{what}: {}", max_abs(u, v));
            }
        }
    }

    #[test]
    fn ties_send_the_gradient_to_the_first_element_of_the_window_like_max_pool() {
        // A flat image: every window is a four-way tie.
        let x = Tensor::ones([2, 1, 10, 10], (Kind::Float, Device::Cpu));
        let w = Tensor::ones([3, 1, 3, 3], (Kind::Float, Device::Cpu));
        let b = Tensor::zeros([3], (Kind::Float, Device::Cpu));
        let [r, p] = both(&x, &w, &b, 1);
        assert!(r[0].equal(&p[0]));
        for (u, v) in r.iter().zip(&p).skip(1) {
            assert!(max_abs(u, v) < 1e-4, "{}", max_abs(u, v));
        }
    }

    #[test]
    fn without_gradients_it_is_the_plain_maximum() {
        tch::manual_seed(4);
        let x = Tensor::randn([2, 2, 9, 9], (Kind::Float, Device::Cpu));
        let w = Tensor::randn([2, 2, 3, 3], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        let b = Tensor::randn([2], (Kind::Float, Device::Cpu));
        let trained = conv_max_pool(&x, &w, &b, 1).detach();
        let inferred = tch::no_grad(|| conv_max_pool(&x, &w, &b, 1));
        assert!(trained.equal(&inferred));
    }
}
