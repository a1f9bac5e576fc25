//! One training step, apart from where its batches come from: zero the gradients, run each
//! micro-batch forward and backward (adding its gradient), then measure the global norm,
//! clip, and take an AdamW step. Pipeline position: the inside of the training loop (and of
//! `bench train`).
//!
//! The model is a GPT or a recurrent network ([`crate::net`]); the step does not care.
//!
//! Small models are trained data-parallel: with N worker threads the batch is cut into N
//! shards, each runs forward and backward on one thread with its own activations and
//! gradients (tiny matrix products split across threads cost more in synchronisation than
//! they gain), and the shards' gradients are summed in a fixed order. Large models run one
//! shard whose matrix products use every thread. Either way the result depends only on the
//! seed and the thread count.

use super::adamw::{clip_factor, global_norm, AdamW};
use super::data::Batch;
use crate::error::Result;
use crate::net::{NetConfig, Network, Passes};
use rayon::prelude::*;

/// Models up to this many parameters train data-parallel (one shard per thread).
const DATA_PARALLEL_MAX_PARAMS: usize = 16_000_000;

/// One shard's buffers, and the one-thread pool it runs in (data-parallel only).
struct Shard {
    passes: Passes,
    pool: Option<rayon::ThreadPool>,
}

/// The buffers of a training step, allocated once and reused.
pub struct StepWorkspace {
    shards: Vec<Shard>,
}

impl StepWorkspace {
    /// Buffers for micro-batches of `rows` sequences (sized on the first pass).
    pub fn new(config: &NetConfig, rows: usize) -> Self {
        let threads = rayon::current_num_threads();
        let count = if config.num_params() <= DATA_PARALLEL_MAX_PARAMS { threads.min(rows).max(1) } else { 1 };
        let pools: Option<Vec<rayon::ThreadPool>> = (count > 1)
            .then(|| (0..count).map(|_| rayon::ThreadPoolBuilder::new().num_threads(1).build().ok()).collect())
            .flatten();
        let shards = match pools {
            Some(pools) => {
                pools.into_iter().map(|pool| Shard { passes: Passes::new(config, true), pool: Some(pool) }).collect()
            }
            None => vec![Shard { passes: Passes::new(config, true), pool: None }],
        };
        StepWorkspace { shards }
    }

    /// Fails with a sentence when a step's buffers for micro-batches of `rows` × `seq`, with
    /// the parameters and AdamW's two moments beside them, would not fit in free memory.
    pub fn check_fits(config: &NetConfig, rows: usize, seq: usize) -> Result<()> {
        let params = config.param_count();
        // activations, and the backward pass's buffers of the same rows
        let activations = config.pass_floats(rows, seq);
        let shards = rayon::current_num_threads().clamp(1, rows.max(1)) as u128;
        // weights + AdamW moments, and one gradient per shard
        let floats = 3 * params + shards * params + activations;
        let bytes = u64::try_from(floats.saturating_mul(4)).unwrap_or(u64::MAX);
        crate::memory::check_fits(
            bytes,
            &format!("training {} parameters on batches of {rows} × {seq} tokens", crate::memory::count_words(params)),
        )
    }

    /// How many shards a step is cut into.
    pub fn shards(&self) -> usize {
        self.shards.len()
    }

    /// Starts a step: zeroes the gradients.
    pub fn begin(&mut self) {
        self.shards.par_iter_mut().for_each(|s| s.passes.gradients_mut().fill(0.0));
    }

    /// Forward pass over `batch`; where the loss is finite, the backward pass adds
    /// `loss_scale` × its gradient. Returns the mean loss over the batch's counted targets.
    pub fn accumulate(&mut self, params: &Network, batch: &Batch, loss_scale: f32) -> Result<f32> {
        self.pass(params, batch, Some(loss_scale))
    }

    /// The mean loss over `batch` (forward passes only, sharded like a step): evaluation.
    pub fn loss(&mut self, params: &Network, batch: &Batch) -> Result<f32> {
        self.pass(params, batch, None)
    }

    /// Forward over every shard and, with a loss scale, backward.
    fn pass(&mut self, params: &Network, batch: &Batch, loss_scale: Option<f32>) -> Result<f32> {
        let seq = batch.seq;
        let count = self.shards.len();
        let counted_total = batch.targets.iter().filter(|&&t| t >= 0).count().max(1);
        let results: Vec<Result<(f32, usize)>> = self
            .shards
            .par_iter_mut()
            .enumerate()
            .map(|(i, shard)| {
                let rows = shard_rows(batch.rows, count, i);
                let ids = &batch.ids[rows.start * seq..rows.end * seq];
                let targets = &batch.targets[rows.start * seq..rows.end * seq];
                let counted = targets.iter().filter(|&&t| t >= 0).count();
                let Shard { passes, pool } = shard;
                let mut work = || -> Result<(f32, usize)> {
                    let shard_loss = passes.forward_loss(params, ids, targets, rows.len(), seq)?;
                    if let Some(loss_scale) = loss_scale.filter(|_| shard_loss.is_finite() && counted > 0) {
                        // each shard's mean is over its own targets: weigh it by its share
                        passes.backward(params, targets, loss_scale * counted as f32 / counted_total as f32);
                    }
                    Ok((shard_loss, counted))
                };
                match pool {
                    Some(pool) => pool.install(work),
                    None => work(),
                }
            })
            .collect();
        let mut total = 0f64;
        for result in results {
            let (shard_loss, counted) = result?;
            if counted > 0 {
                total += shard_loss as f64 * counted as f64;
            }
        }
        Ok((total / counted_total as f64) as f32)
    }

    /// Sums the shards' gradients into the first and returns their global L2 norm.
    pub fn grad_norm(&mut self) -> f32 {
        let (first, rest) = self.shards.split_first_mut().expect("at least one shard");
        if !rest.is_empty() {
            let sum = first.passes.gradients_mut();
            let parts: Vec<&[f32]> = rest.iter().map(|s| s.passes.gradients()).collect();
            sum.par_chunks_mut(1 << 14).enumerate().for_each(|(block, out)| {
                let start = block * (1 << 14);
                for part in &parts {
                    crate::kernels::axpy(out, 1.0, &part[start..start + out.len()]);
                }
            });
        }
        global_norm(first.passes.gradients())
    }

    /// The summed gradients, flat (after [`grad_norm`](Self::grad_norm)).
    pub fn gradients(&self) -> &[f32] {
        self.shards[0].passes.gradients()
    }

    /// Clips the gradients (whose norm is `norm`) to `max_norm` and takes one AdamW step.
    pub fn apply(&self, params: &mut Network, optimizer: &mut AdamW, norm: f32, lr: f64, max_norm: f32) {
        optimizer.step(params.flat_mut(), self.gradients(), lr, clip_factor(norm, max_norm));
    }
}

/// The rows of shard `i` of `count`.
fn shard_rows(rows: usize, count: usize, i: usize) -> std::ops::Range<usize> {
    rows * i / count..rows * (i + 1) / count
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn shards_add_up_to_the_whole_batch() {
        let config = NetConfig::Gpt(crate::GptConfig::new(2, 2, 16, 11, 8));
        let params = Network::init_random(&config, 3);
        let mut rng = Rng::new(4);
        let mut batch = Batch::new(5, 8);
        batch.ids.iter_mut().for_each(|id| *id = rng.below(11) as u32);
        // some ignored targets, unevenly spread over the shards
        batch.targets.iter_mut().enumerate().for_each(|(i, t)| *t = if i % 7 < 2 { -1 } else { rng.below(11) as i32 });
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| {
                let mut work = StepWorkspace::new(&config, 5);
                work.begin();
                let loss = work.accumulate(&params, &batch, 1.0).unwrap();
                let norm = work.grad_norm();
                (work.shards(), loss, norm, work.gradients().to_vec())
            })
        };
        let (one, loss1, norm1, grads1) = run(1);
        let (three, loss3, norm3, grads3) = run(3);
        assert_eq!((one, three), (1, 3));
        assert!((loss1 - loss3).abs() < 1e-6, "{loss1} vs {loss3}");
        assert!((norm1 - norm3).abs() < 1e-5 * norm1, "{norm1} vs {norm3}");
        for (a, b) in grads1.iter().zip(&grads3) {
            assert!((a - b).abs() < 1e-6 + 1e-4 * b.abs(), "{a} vs {b}");
        }
        assert_eq!(run(3).3, grads3, "the same thread count gives the same bits");
    }
}
