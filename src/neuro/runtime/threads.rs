//! Neurons side by side: a group's neurons are split into contiguous shares, one per core, and
//! each worker thread computes its share one neuron after another with one intra-op thread.
//!
//! Every neuron's network is independent of the others', so nothing needs the fine-grained
//! parallelism of a libtorch kernel: on CPU that parallelism mostly buys synchronisation (small
//! maps, many kernels), while one neuron per core keeps both cores busy with whole networks
//! (README "How training computes" has the measurements). And since each neuron's arithmetic
//! runs on one thread, its bits depend neither on the thread count nor on which neurons share
//! its group.

use std::num::NonZeroUsize;

/// How many neurons compute at once: the cores this process may use.
pub fn workers() -> usize {
    std::thread::available_parallelism().map_or(1, NonZeroUsize::get)
}

#[cfg(feature = "torch")]
/// `f` applied to every item, the items split into contiguous shares computed on [`workers`]
/// threads with one intra-op thread each; the results in the items' order. A panic in `f` is
/// re-raised here.
pub fn each_neuron<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    let n = items.len();
    if n == 0 {
        return Vec::new();
    }
    let share = n.div_ceil(workers().min(n));
    let mut shares: Vec<Vec<T>> = Vec::new();
    let mut items = items.into_iter();
    loop {
        let part: Vec<T> = items.by_ref().take(share).collect();
        if part.is_empty() {
            break;
        }
        shares.push(part);
    }
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = shares
            .into_iter()
            .map(|part| {
                scope.spawn(move || {
                    tch::set_num_threads(1);
                    part.into_iter().map(f).collect::<Vec<R>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

#[cfg(all(test, feature = "torch"))]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_order_computed_with_one_intra_op_thread() {
        let out = each_neuron((0..7).collect(), |i: i32| (i * 10, tch::get_num_threads()));
        assert_eq!(
            out.iter().map(|r| r.0).collect::<Vec<_>>(),
            vec![0, 10, 20, 30, 40, 50, 60]
        );
        assert!(out.iter().all(|r| r.1 == 1), "{out:?}");
        assert!(each_neuron(Vec::<i32>::new(), |i| i).is_empty());
    }
}
