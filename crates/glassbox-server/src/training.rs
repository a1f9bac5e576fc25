//! The training page's data: the run's `log.jsonl` (read incrementally, by byte offset, so
//! the page can poll while `glassbox train` appends to it), the kept checkpoints
//! (`checkpoints/step-N/model.safetensors`), and the attention patterns of any checkpoint
//! on a prompt, to replay how the model learned to look.
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
use glassbox::model::{forward, Activations};
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

/// Steps of the kept checkpoints, ascending.
fn checkpoint_steps(state: &AppState) -> Vec<u64> {
    let Ok(entries) = std::fs::read_dir(state.dir.join("checkpoints")) else {
        return Vec::new();
    };
    let mut steps: Vec<u64> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_prefix("step-")).and_then(|n| n.parse().ok()))
        .filter(|&s| state.checkpoint_dir(s).join("model.safetensors").is_file())
        .collect();
    steps.sort_unstable();
    steps
}

pub async fn checkpoints(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(json!({"steps": checkpoint_steps(&state), "has_log": state.dir.join("log.jsonl").is_file()}))
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
        attention_json(&loaded, &ids, step)
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
