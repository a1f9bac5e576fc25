//! `/api/…`: the JSON the pages draw from. Every number is the engine's: a forward pass
//! (`glassbox::model::forward`) over the user's prompt, generation with the KV cache
//! (`glassbox::sample::generate`), the parameters themselves. Work runs on blocking threads.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use glassbox::model::params::BLOCK_TENSORS;
use glassbox::sample::SamplingOptions;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::error::{json_body, ApiError, ApiResult, Fields};
use crate::generation::{self, GenEvent, GenRequest};
use crate::space;
use crate::state::{AppState, Loaded};
use crate::text;
use crate::walkthrough;

/// Runs `work` on a blocking thread with the current model.
pub async fn blocking<T: Send + 'static>(
    state: &Arc<AppState>,
    work: impl FnOnce(Arc<Loaded>) -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    let st = state.clone();
    tokio::task::spawn_blocking(move || work(st.model()))
        .await
        .map_err(|e| ApiError::internal(format!("the computation failed: {e}")))?
}

fn respond(result: ApiResult<Value>) -> Response {
    match result {
        Ok(value) => Json(value).into_response(),
        Err(err) => err.into_response(),
    }
}

/// The model's shape, parameter counts per component, tokenizer and run facts.
pub fn info_json(state: &AppState, loaded: &Loaded) -> Value {
    let config = loaded.config();
    let (c, v, t, l) = (config.n_embd, config.vocab_size, config.n_ctx, config.n_layer);
    let specs = loaded.params().specs();
    let count = |name: &str| specs.iter().find(|s| s.name == name).map_or(0, |s| s.len());
    let block: Vec<Value> = BLOCK_TENSORS
        .iter()
        .map(|name| {
            let spec = specs.iter().find(|s| s.name == format!("h.0.{name}"));
            json!({"name": format!("h.L.{name}"), "shape": spec.map(|s| s.shape.clone()), "count": spec.map_or(0, |s| s.len())})
        })
        .collect();
    let per_block: usize = block.iter().map(|b| b["count"].as_u64().unwrap_or(0) as usize).sum();
    let tokenizer = match &loaded.tokenizer {
        Some(tok) => {
            json!({"kind": match tok { glassbox::tokenizer::Tokenizer::Bpe(_) => "bpe", glassbox::tokenizer::Tokenizer::Char(_) => "char" }, "describe": tok.describe(), "size": tok.vocab_size()})
        }
        None => json!({"kind": "ids", "describe": "no tokenizer files: prompts are token ids", "size": v}),
    };
    let run = state.dir.join("log.jsonl").is_file();
    json!({
        "name": state.name,
        "dir": state.dir.display().to_string(),
        "n_layer": l,
        "n_head": config.n_head,
        "n_embd": c,
        "d_head": config.head_size(),
        "vocab_size": v,
        "n_ctx": t,
        "layer_norm_epsilon": config.layer_norm_epsilon,
        "eos_token_id": loaded.end_of_text(),
        "params": {
            "total": config.num_params(),
            "wte": count("wte.weight"),
            "wpe": count("wpe.weight"),
            "block": per_block,
            "blocks": per_block * l,
            "ln_f": count("ln_f.weight") + count("ln_f.bias"),
            "block_tensors": block,
        },
        "tokenizer": tokenizer,
        "is_run": run,
        "max_walkthrough_tokens": walkthrough::MAX_TOKENS.min(t),
        "default_prompt": default_prompt(loaded),
    })
}

/// A prompt the walkthrough starts with: plain English where the vocabulary can spell it,
/// else a few of the vocabulary's own characters, else token ids.
fn default_prompt(loaded: &Loaded) -> String {
    let v = loaded.config().vocab_size;
    let limit = walkthrough::MAX_TOKENS.min(loaded.config().n_ctx);
    let Some(tok) = &loaded.tokenizer else {
        return (0..v.min(6)).map(|i| i.to_string()).collect::<Vec<_>>().join(" ");
    };
    for candidate in ["The quick brown fox jumps over the", "To be, or not to be", "hello world"] {
        if tok.encode_checked(candidate).is_ok_and(|ids| !ids.is_empty() && ids.len() <= limit) {
            return candidate.to_string();
        }
    }
    let chars: String = (0..v as u32)
        .filter_map(|id| tok.token_bytes(id).and_then(|b| std::str::from_utf8(b).ok()).map(str::to_string))
        .filter(|s| !s.chars().any(char::is_control))
        .take(limit.min(8))
        .collect();
    if chars.is_empty() {
        "0".to_string()
    } else {
        chars
    }
}

pub async fn model_info(State(state): State<Arc<AppState>>) -> Response {
    let st = state.clone();
    respond(blocking(&state, move |loaded| Ok(info_json(&st, &loaded))).await)
}

pub async fn stats(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(state.stats.snapshot())
}

/// The ids of a request: `ids` if given, else `prompt` encoded.
fn request_ids(loaded: &Loaded, f: &Fields) -> ApiResult<Vec<u32>> {
    let ids = match f.ids("ids")? {
        Some(ids) => {
            text::check_ids(loaded, &ids, "ids")?;
            ids
        }
        None => match f.str("prompt")? {
            Some(prompt) => text::encode(loaded, prompt, "prompt")?,
            None => return Err(ApiError::param("prompt", "send a prompt (text) or ids (token ids)")),
        },
    };
    Ok(ids)
}

pub async fn tokenize(State(state): State<Arc<AppState>>, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match json_body(body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    respond(
        blocking(&state, move |loaded| {
            let ids = request_ids(&loaded, &Fields(&body))?;
            Ok(json!({"ids": ids, "tokens": text::views(&loaded, &ids)}))
        })
        .await,
    )
}

pub async fn walkthrough(State(state): State<Arc<AppState>>, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match json_body(body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let st = state.clone();
    respond(
        blocking(&state, move |loaded| {
            let f = Fields(&body);
            let ids = request_ids(&loaded, &f)?;
            let limit = walkthrough::MAX_TOKENS.min(loaded.config().n_ctx);
            if ids.is_empty() {
                return Err(ApiError::param("prompt", "the prompt is empty; type a few words"));
            }
            if ids.len() > limit {
                return Err(ApiError::param(
                    "prompt",
                    format!("the prompt is {} tokens; the walkthrough shows at most {limit}, so shorten it", ids.len()),
                ));
            }
            let layer = f.usize("layer")?.unwrap_or(0);
            if layer >= loaded.config().n_layer {
                return Err(ApiError::param(
                    "layer",
                    format!("layer {layer} does not exist; this model has blocks 0..{}", loaded.config().n_layer - 1),
                ));
            }
            let position = f.usize("position")?.unwrap_or(ids.len() - 1).min(ids.len() - 1);
            let mut out = walkthrough::walkthrough(&loaded, &ids, layer, position).map_err(ApiError::engine)?;
            out["model"] = info_json(&st, &loaded);
            Ok(out)
        })
        .await,
    )
}

/// The playground's generation, as server-sent events: `start` (the prompt's tokens),
/// one `token` per generated token (its bytes, probability and the top 5 alternatives),
/// then `done` (why it stopped) or `error`.
pub async fn generate(State(state): State<Arc<AppState>>, body: Result<Bytes, BytesRejection>) -> Response {
    match generate_inner(state, body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn generate_inner(state: Arc<AppState>, body: Result<Bytes, BytesRejection>) -> ApiResult<Response> {
    let body = json_body(body)?;
    let (loaded, ids, max_new, options) = blocking(&state, move |loaded| {
        let f = Fields(&body);
        let ids = request_ids(&loaded, &f)?;
        let n_ctx = loaded.config().n_ctx;
        if ids.is_empty() {
            return Err(ApiError::param("prompt", "the prompt is empty; type a few words"));
        }
        if ids.len() >= n_ctx {
            return Err(ApiError::param(
                "prompt",
                format!(
                    "the prompt is {} tokens and the context holds {n_ctx}; no room is left to generate",
                    ids.len()
                ),
            ));
        }
        let max_new = f.usize("max_tokens")?.unwrap_or(64).min(n_ctx - ids.len());
        let temperature = f.f64("temperature")?.unwrap_or(0.8);
        if temperature < 0.0 {
            return Err(ApiError::param("temperature", "temperature must be 0 (greedy) or more"));
        }
        let top_p = f.f64("top_p")?.map(|p| p as f32).filter(|&p| p < 1.0);
        let options = SamplingOptions {
            temperature: temperature as f32,
            top_k: f.usize("top_k")?.filter(|&k| k > 0),
            top_p,
            seed: f.u64("seed")?.unwrap_or_else(generation::fresh_seed),
        };
        options.validate().map_err(ApiError::engine)?;
        Ok((loaded, ids, max_new, options))
    })
    .await?;
    let start = json!({"ids": ids, "tokens": text::views(&loaded, &ids), "max_tokens": max_new, "seed": options.seed});
    let mut rx = generation::start(&state, loaded.clone(), GenRequest { ids, max_new_tokens: max_new, options })?;
    let (tx, events) = mpsc::channel::<Result<Event, Infallible>>(16);
    tokio::spawn(async move {
        let event = |name: &str, data: Value| Ok::<_, Infallible>(Event::default().event(name).data(data.to_string()));
        if tx.send(event("start", start)).await.is_err() {
            return;
        }
        let mut index = 0usize;
        while let Some(ev) = rx.recv().await {
            let out = match ev {
                GenEvent::Token(choice) => {
                    let top: Vec<Value> = choice
                        .top
                        .iter()
                        .map(|&(id, p)| json!({"id": id, "p": p, "token": text::view_one(&loaded, id)}))
                        .collect();
                    index += 1;
                    event(
                        "token",
                        json!({"index": index - 1, "id": choice.id, "token": text::view_one(&loaded, choice.id), "p": choice.probability, "top": top}),
                    )
                }
                GenEvent::Finished(reason) => event(
                    "done",
                    json!({"finish_reason": reason.finish_reason(), "stop": format!("{reason:?}"), "reason": reason.describe(), "tokens": index}),
                ),
                GenEvent::Failed(err) => event("error", ApiError::engine(err).body()),
            };
            if tx.send(out).await.is_err() {
                return; // the page went away: dropping rx stops the generation
            }
        }
    });
    Ok(Sse::new(ReceiverStream::new(events)).into_response())
}

async fn space_call(
    state: Arc<AppState>,
    body: Result<Bytes, BytesRejection>,
    work: impl FnOnce(&Loaded, &Fields) -> ApiResult<Value> + Send + 'static,
) -> Response {
    let body = match json_body(body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    respond(blocking(&state, move |loaded| work(&loaded, &Fields(&body))).await)
}

fn required<'a>(f: &'a Fields, name: &str) -> ApiResult<&'a str> {
    f.str(name)?.ok_or_else(|| ApiError::param(name, format!("{name} is missing")))
}

pub async fn space_map(State(state): State<Arc<AppState>>, body: Result<Bytes, BytesRejection>) -> Response {
    space_call(state, body, |loaded, f| {
        let words = f
            .strings("words", 400)?
            .ok_or_else(|| ApiError::param("words", "words is missing: a list of tokens to map"))?;
        space::map(loaded, &words)
    })
    .await
}

pub async fn space_neighbors(State(state): State<Arc<AppState>>, body: Result<Bytes, BytesRejection>) -> Response {
    space_call(state, body, |loaded, f| {
        let k = f.usize("k")?.unwrap_or(10).clamp(1, 100);
        space::neighbors(loaded, required(f, "word")?, k)
    })
    .await
}

pub async fn space_analogy(State(state): State<Arc<AppState>>, body: Result<Bytes, BytesRejection>) -> Response {
    space_call(state, body, |loaded, f| {
        let k = f.usize("k")?.unwrap_or(8).clamp(1, 100);
        space::analogy(loaded, required(f, "a")?, required(f, "b")?, required(f, "c")?, k)
    })
    .await
}

pub async fn space_drift(State(state): State<Arc<AppState>>, body: Result<Bytes, BytesRejection>) -> Response {
    space_call(state, body, |loaded, f| {
        let sentences =
            f.strings("sentences", 12)?.ok_or_else(|| ApiError::param("sentences", "sentences is missing"))?;
        space::drift(loaded, required(f, "word")?, &sentences)
    })
    .await
}
