//! Training: data, AdamW, the learning-rate schedule, the loop, checkpoints, tasks. (Being written.)
