//! The learning-rate schedule: a linear warmup, then a cosine decay to a minimum — what
//! nanoGPT (and `torch_peer.py shakespeare`) use. Pipeline position: the training loop asks
//! it for the learning rate of each step before the AdamW update.
//!
//! ```text
//! lr(it) = max_lr · (it + 1) / warmup                                      it < warmup
//!        = min_lr + ½ (1 + cos(π · min(1, (it − warmup) / (total − warmup)))) (max_lr − min_lr)
//! ```

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LrSchedule {
    /// The peak learning rate, reached at the end of warmup.
    pub max_lr: f64,
    /// Where the cosine ends.
    pub min_lr: f64,
    /// Steps of linear warmup.
    pub warmup: usize,
    /// Steps over which the cosine decays (the length of the run).
    pub total: usize,
}

impl LrSchedule {
    /// The learning rate of iteration `it` (0-based: the first update is `it = 0`).
    pub fn at(&self, it: usize) -> f64 {
        if it < self.warmup {
            return self.max_lr * (it + 1) as f64 / self.warmup as f64;
        }
        let span = self.total.saturating_sub(self.warmup).max(1);
        let ratio = ((it - self.warmup) as f64 / span as f64).min(1.0);
        self.min_lr + 0.5 * (1.0 + (std::f64::consts::PI * ratio).cos()) * (self.max_lr - self.min_lr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warms_up_linearly_then_decays_to_the_minimum() {
        let s = LrSchedule { max_lr: 1e-3, min_lr: 1e-4, warmup: 100, total: 2000 };
        assert!((s.at(0) - 1e-5).abs() < 1e-12);
        assert!((s.at(49) - 5e-4).abs() < 1e-12);
        assert!((s.at(99) - 1e-3).abs() < 1e-12);
        assert!((s.at(100) - 1e-3).abs() < 1e-12);
        // halfway through the cosine: the mean of the two
        assert!((s.at(1050) - 5.5e-4).abs() < 1e-9);
        assert!((s.at(2000) - 1e-4).abs() < 1e-12);
        assert!((s.at(5000) - 1e-4).abs() < 1e-12);
        assert!((1..2000).all(|i| i < 100 || s.at(i) <= s.at(i - 1)));
        // no warmup, a one-step run: defined, no division by zero
        let flat = LrSchedule { max_lr: 3e-3, min_lr: 3e-3, warmup: 0, total: 1 };
        assert_eq!(flat.at(0), 3e-3);
    }
}
