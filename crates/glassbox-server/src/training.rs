//! The training page's data: the run's `log.jsonl` (read incrementally, by byte offset, so
//! the page can poll while `glassbox train` appends to it), the kept checkpoints
//! (`checkpoints/step-N/model.safetensors`), the attention patterns of any checkpoint
//! on a prompt, to replay how the model learned to look, and each checkpoint's semantic
//! space scored (analogies, cluster purity), to watch meaning form; and each checkpoint's
//! heads and embedding map with a sample of its text, to watch the model learn.
//!
//! `log.jsonl` lines are JSON objects: `{"step", "loss", "lr", "grad_norm", "tokens", "ms"}`
//! per step and `{"step", "val_loss", "accuracy"?}` per evaluation. They are passed through
//! as they are; the page picks the fields it knows.

use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use glassbox::inspect::analogy_eval::builtin_questions;
use glassbox::inspect::categories::builtin_categories;
use glassbox::inspect::heads::HeadReport;
use glassbox::inspect::learning::{align_maps, head_scores, map_words, own_map};
use glassbox::inspect::meaning::{score_snapshot, snapshots, MeaningAtStep};
use glassbox::io::load_model;
use glassbox::model::{forward, Activations};
use glassbox::sample::{context_window, generate_within, FullContext, Limits, Sampler, SamplingOptions};
use glassbox::train::run_dir::{kept_checkpoint_steps, logged_val_losses};
use glassbox::train::tasks::Task;
use serde_json::{json, Value};

use crate::api::{blocking, inspect};
use crate::error::{json_body, ApiError, ApiResult, Fields};
use crate::request::{self, only};
use crate::state::AppState;
use crate::text;

/// The most bytes of log one request returns (the page asks again for the rest).
const LOG_CHUNK: u64 = 4 << 20;

fn read_log(state: &AppState, from: u64) -> ApiResult<Value> {
    let path = state.dir.join("log.jsonl");
    let Ok(mut file) = std::fs::File::open(&path) else {
        return Ok(json!({"is_run": false, "rows": [], "next": 0, "size": 0, "reset": false}));
    };
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    // A log shorter than where we were is a new run in the same folder: start over.
    let (from, reset) = if from > size { (0, true) } else { (from, false) };
    file.seek(SeekFrom::Start(from))
        .map_err(|e| ApiError::internal(format!("could not read {}: {e}", path.display())))?;
    let mut bytes = Vec::new();
    file.take(LOG_CHUNK)
        .read_to_end(&mut bytes)
        .map_err(|e| ApiError::internal(format!("could not read {}: {e}", path.display())))?;
    // Only whole lines: the last one may still be being written.
    let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let mut rows = Vec::new();
    let mut skipped = 0;
    for line in bytes[..complete].split(|&b| b == b'\n') {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Value>(line) {
            Ok(v @ Value::Object(_)) => rows.push(v),
            _ => skipped += 1,
        }
    }
    Ok(json!({
        "is_run": true,
        "rows": rows,
        "skipped": skipped,
        "next": from + complete as u64,
        "size": size,
        "reset": reset,
    }))
}

/// `?from=N`: the byte offset to read from (what the previous answer called `next`).
pub async fn log(State(state): State<Arc<AppState>>, RawQuery(query): RawQuery) -> Response {
    let from = match request::query(query.as_deref(), &["from"])
        .and_then(|pairs| pairs.last().map(|(name, value)| request::query_u64(name, value)).transpose())
    {
        Ok(from) => from.unwrap_or(0),
        Err(e) => return e.into_response(),
    };
    let st = state.clone();
    match blocking(&state, move |_| read_log(&st, from)).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

pub async fn checkpoints(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(json!({"steps": kept_checkpoint_steps(&state.dir), "has_log": state.dir.join("log.jsonl").is_file()}))
}

/// Snapshots scored by one request at most; the page asks again for the rest (`pending`),
/// so a long run's first visit answers in seconds, not all at once.
const MEANING_PER_REQUEST: usize = 4;

/// The semantic space of each kept snapshot: the built-in analogies (all sections) and the
/// built-in categories' cluster purity, with the validation loss logged at that step.
pub async fn meaning(State(state): State<Arc<AppState>>, RawQuery(query): RawQuery) -> Response {
    if let Err(e) = request::query(query.as_deref(), &[]) {
        return e.into_response();
    }
    let st = state.clone();
    inspect(&state, move |current| meaning_json(&st, &current)).await
}

fn meaning_json(state: &AppState, current: &crate::state::Loaded) -> ApiResult<Value> {
    let Ok(models) = snapshots(&state.dir) else {
        return Ok(json!({"rows": [], "pending": 0, "has_checkpoints": false}));
    };
    let tokenizer = current.tokenizer.as_ref();
    if tokenizer.is_none() {
        return Ok(json!({"rows": [], "pending": 0, "has_checkpoints": true,
            "unavailable": "this model has no tokenizer, so the words of the analogies and categories cannot be looked up"}));
    }
    let val_losses = logged_val_losses(&state.dir);
    let (questions, categories) = (builtin_questions(), builtin_categories());
    let mut cache = state.meaning.lock().unwrap_or_else(|e| e.into_inner());
    cache.serving(&current.fingerprint);
    let measured = cache.measure_each(models, MEANING_PER_REQUEST, |step, dir| {
        score_snapshot(&state.dir, step, dir, tokenizer, None, &questions, &categories)
            .map(|row| row.score)
            .map_err(|e| e.to_string())
    });
    let rows: Vec<MeaningAtStep> = measured
        .done
        .into_iter()
        .map(|(step, dir, score)| {
            let model = dir.strip_prefix(&state.dir).ok().map(|p| p.display().to_string()).filter(|p| !p.is_empty());
            MeaningAtStep {
                step,
                model: model.unwrap_or_else(|| ".".into()),
                val_loss: val_losses.get(&step).copied(),
                score,
            }
        })
        .collect();
    let (pending, errors) = (measured.pending, measured.errors);
    Ok(json!({
        "rows": rows,
        "pending": pending,
        "errors": errors,
        "has_checkpoints": true,
        "questions": questions.iter().map(|s| s.questions.len()).sum::<usize>(),
        "category_words": categories.iter().map(|c| c.words.len()).sum::<usize>(),
    }))
}

/// What one snapshot does at its step: every head's scores on repeated random sequences,
/// and its own map of the embeddings (before alignment with the other snapshots').
#[derive(Clone)]
pub struct SnapshotLearning {
    heads: Result<HeadReport, String>,
    map: Option<(Vec<[f32; 2]>, [f32; 2])>,
}

/// Snapshots measured by one request at most; the page asks again for the rest.
const LEARNING_PER_REQUEST: usize = 4;

/// Every snapshot's heads (previous-token and induction scores, the losses on the two
/// copies of a repeated sequence) and its embedding map, the maps aligned so that points
/// move smoothly from one snapshot to the next (`glassbox::inspect::learning`).
pub async fn learning(State(state): State<Arc<AppState>>, RawQuery(query): RawQuery) -> Response {
    if let Err(e) = request::query(query.as_deref(), &[]) {
        return e.into_response();
    }
    let st = state.clone();
    inspect(&state, move |current| learning_json(&st, &current)).await
}

fn learning_json(state: &AppState, current: &crate::state::Loaded) -> ApiResult<Value> {
    let Ok(models) = snapshots(&state.dir) else {
        return Ok(json!({"rows": [], "pending": 0, "has_checkpoints": false}));
    };
    let config = current.config();
    let words = map_words(current.tokenizer.as_ref(), config.vocab_size);
    let mut cache = state.learning.lock().unwrap_or_else(|e| e.into_inner());
    cache.serving(&current.fingerprint);
    let measured = cache.measure_each(models, LEARNING_PER_REQUEST, |_, dir| {
        let model = load_model(dir).map_err(|e| e.to_string())?;
        Ok(SnapshotLearning {
            heads: head_scores(&model.params).map_err(|e| e.to_string()),
            map: words.as_ref().ok().map(|w| own_map(&model.params, w)),
        })
    });
    let (pending, errors) = (measured.pending, measured.errors);
    let measured: Vec<(usize, bool, SnapshotLearning)> =
        measured.done.into_iter().map(|(step, dir, learned)| (step, dir == state.dir, learned)).collect();
    // the maps measured so far, each turned onto the next
    let mut maps: Vec<Vec<[f32; 2]>> =
        measured.iter().filter_map(|(_, _, l)| l.map.as_ref().map(|m| m.0.clone())).collect();
    align_maps(&mut maps);
    let mut aligned = maps.into_iter();
    let rows: Vec<Value> = measured
        .iter()
        .map(|(step, own, learned)| {
            let (heads, heads_error) = match &learned.heads {
                Ok(report) => (Some(report), None),
                Err(e) => (None, Some(e)),
            };
            json!({
                "step": step,
                "model": if *own { "." } else { "checkpoint" },
                "heads": heads,
                "heads_error": heads_error,
                "map": learned.map.as_ref().and_then(|_| aligned.next()),
                "explained": learned.map.as_ref().map(|m| m.1),
            })
        })
        .collect();
    let (words_json, map_unavailable) = match &words {
        Ok(w) => (json!(w), None),
        Err(e) => (Value::Null, Some(e.to_string())),
    };
    let mut answer = json!({
        "rows": rows,
        "pending": pending,
        "errors": errors,
        "has_checkpoints": true,
        "map_words": words_json,
        "map_unavailable": map_unavailable,
    });
    crate::walkthrough::compact_f32(&mut answer);
    Ok(answer)
}

/// Tokens a text model's sample at each checkpoint runs to.
const SAMPLE_TOKENS: usize = 64;
/// The sample's temperature and seed: the same draw at every checkpoint, so what differs
/// between two samples is the model.
const SAMPLE_TEMPERATURE: f32 = 0.8;
const SAMPLE_SEED: u64 = 1337;

/// What the model writes at this checkpoint: for a built-in task its example problem
/// answered greedily, beside the right answer; for text, a continuation of the prompt
/// sampled at τ = 0.8 with a fixed seed.
fn sample_json(loaded: &crate::state::Loaded, task: Option<&Task>, prompt: &[u32]) -> ApiResult<Value> {
    let (prompt, expected, temperature, max_new) = match task {
        Some(task) => {
            let problem = task.example_prompt();
            let answer = task.answer(&problem);
            let max_new = answer.len();
            (problem, Some(answer), 0.0, max_new)
        }
        None => (prompt.to_vec(), None, SAMPLE_TEMPERATURE, SAMPLE_TOKENS),
    };
    let limits =
        Limits { max_new_tokens: max_new, end_of_text: loaded.end_of_text(), full_context: FullContext::Slide };
    let mut sampler = Sampler::new(SamplingOptions { temperature, seed: SAMPLE_SEED, ..SamplingOptions::default() })
        .map_err(ApiError::engine)?;
    let (ids, _) = generate_within(
        loaded.params(),
        context_window(&prompt, loaded.config().n_ctx),
        &limits,
        &mut sampler,
        &mut |_| true,
    )
    .map_err(ApiError::engine)?;
    Ok(json!({
        "prompt": text::views(loaded, &prompt),
        "tokens": text::views(loaded, &ids),
        "expected": expected.map(|e| text::views(loaded, &e)),
        "temperature": temperature,
        "seed": SAMPLE_SEED,
    }))
}

/// Attention patterns of every layer and head of checkpoint `step` (or of the current
/// model when `step` is absent) on a prompt.
pub async fn attention(State(state): State<Arc<AppState>>, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match json_body(body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let st = state.clone();
    inspect(&state, move |current| {
        let f = Fields(&body);
        only(&f, &["step", "prompt", "ids"])?;
        let step = f.u64("step")?;
        let loaded = match step {
            Some(s) => st.checkpoint(s).map_err(|e| ApiError::engine_param("step", e))?,
            None => current,
        };
        let limit = crate::walkthrough::MAX_TOKENS.min(loaded.config().n_ctx);
        let ids = request::prompt_ids(&loaded, &f, limit, "the attention replay")?;
        let mut answer = attention_json(&loaded, &ids, step)?;
        answer["sample"] = sample_json(&loaded, Task::of_run(&st.dir).as_ref(), &ids)?;
        Ok(answer)
    })
    .await
}

fn attention_json(loaded: &crate::state::Loaded, ids: &[u32], step: Option<u64>) -> ApiResult<Value> {
    let config = loaded.config();
    let (t, h, v) = (ids.len(), config.n_head, config.vocab_size);
    let mut acts = Activations::default();
    forward(loaded.params(), ids, 1, t, &mut acts).map_err(ApiError::engine)?;
    let layers: Vec<Value> = acts
        .blocks
        .iter()
        .enumerate()
        .map(|(l, b)| {
            let heads: Vec<Value> = (0..h)
                .map(|head| {
                    json!({"name": format!("blocks.{l}.attn.hook_pattern[{head}]"), "shape": [t, t], "data": &b.attn_pattern[head * t * t..(head + 1) * t * t]})
                })
                .collect();
            json!({"layer": l, "heads": heads})
        })
        .collect();
    // What the model predicts after each position, and its loss on the prompt itself.
    let predictions: Vec<u32> = acts.logits.chunks_exact(v).map(glassbox::sample::argmax).collect();
    let mut targets: Vec<i32> = ids[1..].iter().map(|&i| i as i32).collect();
    targets.push(-1);
    let loss = if t > 1 { Some(glassbox::model::loss(&mut acts, &targets, v)) } else { None };
    Ok(json!({
        "step": step,
        "ids": ids,
        "tokens": text::views(loaded, ids),
        "attention": layers,
        "predictions": predictions.iter().map(|&id| text::view_one(loaded, id)).collect::<Vec<_>>(),
        "prompt_loss": loss,
    }))
}
