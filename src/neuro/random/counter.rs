//! Counter-based random streams: every random number the neural stages draw (initial weights,
//! the per-epoch data order, dropout masks) is a pure function of the stage seed and a few
//! integers naming what it is for — the purpose, the neuron, the epoch, the step, the layer —
//! and its index within that stream.
//!
//! Nothing here has state, so the numbers a neuron sees do not depend on how many other neurons
//! are trained beside it, in which order, on which device, or in how many threads: training a
//! neuron alone and training it inside a population draws identical masks and initial weights.
//! The mixing function is SplitMix64's finaliser (a bijection on `u64` with full avalanche).

/// What a stream is used for; part of every stream's key so that purposes never collide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Initial values of the network's variables.
    Init = 1,
    /// The order of the training images in each epoch.
    Shuffle = 2,
    /// Channel-dropout masks.
    Dropout = 3,
    /// Synthetic data of throughput benchmarks.
    Bench = 4,
    /// Bootstrap resamples of paired model comparisons (no longer drawn; kept so that no
    /// other purpose reuses its number).
    Bootstrap = 5,
    /// Simulated per-neuron model comparisons of `sapipe bench verdicts`.
    Calibration = 6,
}

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's output function applied to `z + golden ratio`.
pub fn mix(z: u64) -> u64 {
    let mut z = z.wrapping_add(GOLDEN);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A keyed stream of random numbers, addressed by index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stream(u64);

impl Stream {
    /// The root stream of a seed for one purpose.
    pub fn new(seed: u64, purpose: Purpose) -> Self {
        Stream(mix(mix(seed) ^ (purpose as u64)))
    }

    /// A sub-stream, e.g. for one neuron, epoch, step or layer.
    pub fn child(self, id: u64) -> Self {
        Stream(mix(self.0 ^ mix(id.wrapping_mul(GOLDEN))))
    }

    /// A sub-stream named by a string (e.g. a variable's path), through FNV-1a.
    pub fn named(self, name: &str) -> Self {
        let mut h: u64 = 0xCBF2_9CE4_8422_2325;
        for b in name.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01B3);
        }
        self.child(h)
    }

    /// The `i`-th 64-bit value of the stream.
    pub fn u64_at(self, i: u64) -> u64 {
        mix(self.0.wrapping_add(i.wrapping_mul(GOLDEN)))
    }

    /// The `i`-th value as a uniform `f32` in [0, 1) (24 random bits).
    pub fn f32_at(self, i: u64) -> f32 {
        (self.u64_at(i) >> 40) as f32 * (1.0 / (1u64 << 24) as f32)
    }

    /// The `i`-th value as a uniform integer in [0, n) (multiply-shift, no modulo).
    pub fn below(self, i: u64, n: u64) -> u64 {
        ((u128::from(self.u64_at(i)) * u128::from(n)) >> 64) as u64
    }

    /// A uniformly random permutation of `0..n` (Fisher-Yates over the stream).
    pub fn permutation(self, n: usize) -> Vec<usize> {
        let mut p: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let j = self.below(i as u64, i as u64 + 1) as usize;
            p.swap(i, j);
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_pure_functions_of_their_key() {
        let a = Stream::new(7, Purpose::Dropout).child(3).child(1);
        let b = Stream::new(7, Purpose::Dropout).child(3).child(1);
        assert_eq!(a.u64_at(10), b.u64_at(10));
        assert_ne!(a.u64_at(10), a.u64_at(11));
        assert_ne!(a, Stream::new(7, Purpose::Init).child(3).child(1));
        assert_ne!(a, Stream::new(8, Purpose::Dropout).child(3).child(1));
        assert_ne!(
            Stream::new(7, Purpose::Init).child(1).child(2),
            Stream::new(7, Purpose::Init).child(2).child(1)
        );
        assert_ne!(
            Stream::new(1, Purpose::Init).named("a.weight"),
            Stream::new(1, Purpose::Init).named("a.bias")
        );
    }

    #[test]
    fn uniform_values_cover_the_unit_interval() {
        let s = Stream::new(1, Purpose::Bench);
        let n = 20_000;
        let values: Vec<f32> = (0..n).map(|i| s.f32_at(i)).collect();
        assert!(values.iter().all(|&v| (0.0..1.0).contains(&v)));
        let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64;
        assert!((mean - 0.5).abs() < 0.01, "mean {mean}");
        let below_03 = values.iter().filter(|&&v| v < 0.3).count() as f64 / n as f64;
        assert!((below_03 - 0.3).abs() < 0.01, "P(u < 0.3) = {below_03}");
    }

    #[test]
    fn permutations_are_permutations_and_depend_on_the_key() {
        let p = Stream::new(5, Purpose::Shuffle).child(1).permutation(100);
        let mut sorted = p.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
        assert_ne!(p, (0..100).collect::<Vec<_>>());
        assert_ne!(
            p,
            Stream::new(5, Purpose::Shuffle).child(2).permutation(100)
        );
        assert!(Stream::new(5, Purpose::Shuffle).permutation(0).is_empty());
    }
}
