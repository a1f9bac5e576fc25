//! The "Where knowledge lives" chapter: direct logit attribution and causal tracing on the
//! served model, for a prompt the learner types.
//!
//! - `GET /api/knowledge`: what the page offers first — on a run trained on `--task facts`,
//!   one of its facts (prompt and subject), else nothing.
//! - `POST /api/attribute {prompt|ids, position?, target?, versus?}`: the logit split into
//!   every part's share (`inspect::attribution`), with the tokens' texts.
//! - `POST /api/causal {prompt|ids, subject, corrupt?, samples?, seed?, window?, target?,
//!   versus?}`: the three token × layer heatmaps (`inspect::causal`). A sweep costs about
//!   samples · T² · n_layer² row-passes through a block, so a request whose estimate is
//!   past [`MAX_CAUSAL_WORK`] is refused with the numbers, before any work.

use glassbox::inspect::attribution::attribute;
use glassbox::inspect::causal::{causal_trace, parse_corruption, parse_subject, CausalOptions, Corruption};
use glassbox::inspect::space::single_token;
use glassbox::train::facts::Fact;
use glassbox::train::tasks::{Task, TaskKind};
use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult, Fields};
use crate::limits::MAX_WORD_BYTES;
use crate::request::{self, only};
use crate::state::Loaded;
use crate::text;

/// The most tokens a causal trace reads.
pub const MAX_CAUSAL_TOKENS: usize = 64;
/// The most noise samples.
pub const MAX_SAMPLES: usize = 50;
/// The most multiply-adds one sweep may cost (about half a minute on two cores: the
/// GPT-2 124M shape with 10 tokens and 10 samples is 0.9 × 10¹²).
pub const MAX_CAUSAL_WORK: f64 = 1.5e12;

/// What the page offers first: a fact of the served facts run, else nothing.
pub fn example(task: Option<&Task>) -> Value {
    match task {
        Some(task) if task.kind == TaskKind::Facts => {
            let fact = Fact { person: 0, relation: 2, template: 0 };
            let fact = if fact.is_held_out() { Fact { template: 1, ..fact } } else { fact };
            let subject = fact.subject();
            json!({
                "facts": true,
                "prompt": task.render(&task.fact_prompt(&fact)),
                "subject": format!("{}..{}", subject.start, subject.end),
            })
        }
        _ => json!({"facts": false}),
    }
}

fn token_of(loaded: &Loaded, f: &Fields, name: &str) -> ApiResult<Option<u32>> {
    request::text(f, name, MAX_WORD_BYTES)?
        .map(|word| {
            single_token(name, word, loaded.tokenizer.as_ref(), loaded.config().vocab_size)
                .map_err(|e| ApiError::engine_param(name, e))
        })
        .transpose()
}

pub fn attribution(loaded: &Loaded, f: &Fields) -> ApiResult<Value> {
    only(f, &["prompt", "ids", "position", "target", "versus"])?;
    let ids = request::prompt_ids(loaded, f, loaded.config().n_ctx, "attribution")?;
    let position = request::index(f, "position", ids.len() - 1, ids.len(), "the prompt's positions")?;
    let versus = token_of(loaded, f, "versus")?;
    let target = token_of(loaded, f, "target")?;
    let result = attribute(loaded.params(), &ids, position, target, versus)?;
    let mut out = serde_json::to_value(&result).map_err(|e| ApiError::internal(e.to_string()))?;
    out["tokens"] = json!(text::views(loaded, &ids));
    out["target"] = text::view_one(loaded, result.target_id);
    if let Some(other) = versus {
        out["versus"] = text::view_one(loaded, other);
    }
    Ok(out)
}

/// About how many multiply-adds a sweep costs: for each kind, copy, restored position t
/// and layer l, the rows from t on pass through the blocks from l up (12·C² each).
pub fn causal_work(tokens: usize, layers: usize, dims: usize, copies: usize) -> f64 {
    let (t, l, c) = (tokens as f64, layers as f64, dims as f64);
    3.0 * copies as f64 * (t * (t + 1.0) / 2.0) * (l * (l + 1.0) / 2.0) * 12.0 * c * c
}

pub fn causal(loaded: &Loaded, f: &Fields) -> ApiResult<Value> {
    only(f, &["prompt", "ids", "subject", "corrupt", "samples", "seed", "window", "target", "versus"])?;
    let config = loaded.config();
    let ids = request::prompt_ids(loaded, f, MAX_CAUSAL_TOKENS.min(config.n_ctx), "causal tracing")?;
    let subject_text = request::required_text(f, "subject", MAX_WORD_BYTES)?;
    let subject = parse_subject(subject_text, &ids, loaded.tokenizer.as_ref())
        .map_err(|e| ApiError::engine_param("subject", e))?;
    let samples = request::count(f, "samples", 10, MAX_SAMPLES)?;
    let window = request::count(f, "window", 1, config.n_layer)?;
    let seed = f.u64("seed")?.unwrap_or(0);
    let noise = Corruption::Noise { samples, scale: 3.0, seed };
    let spec = request::text(f, "corrupt", MAX_WORD_BYTES)?.unwrap_or("noise");
    let corruption = parse_corruption(spec, noise, &subject, loaded.tokenizer.as_ref())
        .map_err(|e| ApiError::engine_param("corrupt", e))?;
    let copies = match &corruption {
        Corruption::Noise { samples, .. } => *samples,
        Corruption::Replace { .. } => 1,
    };
    let work = causal_work(ids.len(), config.n_layer, config.n_embd, copies);
    if work > MAX_CAUSAL_WORK {
        return Err(ApiError::param(
            "samples",
            format!(
                "tracing {} tokens with {copies} corrupted copies through {} layers is about {:.1} × 10¹² \
                 multiply-adds, more than the {:.1} × 10¹² this server does for one request; use fewer samples or a \
                 shorter prompt (or glassbox causal on the command line)",
                ids.len(),
                config.n_layer,
                work / 1e12,
                MAX_CAUSAL_WORK / 1e12
            ),
        )
        .with_code("too_much_work"));
    }
    let target = token_of(loaded, f, "target")?;
    let versus = token_of(loaded, f, "versus")?;
    let options = CausalOptions { subject, corruption, window, target, versus };
    let trace = causal_trace(loaded.params(), &ids, &options)?;
    let mut out = serde_json::to_value(&trace).map_err(|e| ApiError::internal(e.to_string()))?;
    out["tokens"] = json!(text::views(loaded, &ids));
    out["target"] = text::view_one(loaded, trace.target_id);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_work_bound_admits_the_benchmark_sweep_and_refuses_a_long_one() {
        // the GPT-2 124M shape, 10 tokens, 10 samples: what `bench causal` times (~14 s)
        assert!(causal_work(10, 12, 768, 10) < MAX_CAUSAL_WORK);
        assert!(causal_work(64, 12, 768, 10) > MAX_CAUSAL_WORK);
        // a small model traces its whole context with the most samples
        assert!(causal_work(MAX_CAUSAL_TOKENS, 4, 128, MAX_SAMPLES) < MAX_CAUSAL_WORK);
    }
}
