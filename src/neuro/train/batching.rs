//! The order training images are visited in: reshuffled every epoch from the stage seed, the
//! same order for every neuron (so a neuron sees the same batches alone or in a population),
//! and cut into consecutive batches (the last one may be smaller).

use crate::neuro::random::counter::{Purpose, Stream};

/// The permutation of `0..n` used in `epoch` (1-based).
pub fn epoch_order(seed: u64, epoch: usize, n: usize) -> Vec<usize> {
    Stream::new(seed, Purpose::Shuffle)
        .child(epoch as u64)
        .permutation(n)
}

/// The batches of one epoch: consecutive runs of `batch` indices of `order`.
pub fn batches(order: &[usize], batch: usize) -> std::slice::Chunks<'_, usize> {
    order.chunks(batch.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_image_appears_once_per_epoch_in_batches_of_the_requested_size() {
        let order = epoch_order(11, 1, 120);
        let sizes: Vec<usize> = batches(&order, 50).map(<[usize]>::len).collect();
        assert_eq!(sizes, vec![50, 50, 20]);
        let mut seen: Vec<usize> = batches(&order, 50).flatten().copied().collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..120).collect::<Vec<_>>());
    }

    #[test]
    fn orders_change_between_epochs_and_repeat_for_the_same_seed() {
        assert_eq!(epoch_order(3, 2, 64), epoch_order(3, 2, 64));
        assert_ne!(epoch_order(3, 1, 64), epoch_order(3, 2, 64));
        assert_ne!(epoch_order(3, 1, 64), epoch_order(4, 1, 64));
    }
}
