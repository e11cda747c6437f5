//! Reproducible randomness. Every random number sapipe draws is a function of a seed and a
//! name for what it is for, never of thread count, scheduling or population size. Two kinds of
//! stream serve two access patterns:
//!
//! - [`sequential`]: a ChaCha8 stream per (seed, purpose, index), read in order, with normal
//!   and log-uniform draws: the simulated population and its stimuli, built item by item.
//! - [`counter`]: stateless streams addressed by index (SplitMix64 finaliser): initial weights,
//!   epoch orders and dropout masks, which the trainer reads at arbitrary positions and which
//!   must not depend on the other neurons of a population.

pub mod counter;
pub mod sequential;
