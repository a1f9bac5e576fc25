//! `/api/…`: the JSON the pages draw from. Every number is the engine's: a forward pass
//! (`glassbox::model::forward`) over the user's prompt, generation with the KV cache
//! (`glassbox::sample::generate`), the parameters themselves. Work runs on blocking threads.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::header;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use glassbox::inspect::products::{cell_receipt, weight_picture, Product};
use glassbox::model::params::BLOCK_TENSORS;
use glassbox::train::tasks::Task;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::error::{json_body, ApiError, ApiResult, Fields};
use crate::generation::{self, GenEvent, GenRequest};
use crate::limits::{MAX_RESPONSE_BYTES, MAX_TEXT_BYTES, MAX_TOKENIZE_TOKENS, MAX_WORD_BYTES};
use crate::request::{self, only};
use crate::space;
use crate::state::{AppState, Loaded};
use crate::text;
use crate::walkthrough;

/// A computation: waits for a slot (or 429, see [`crate::limits`]), runs `work` on a
/// blocking thread with the current model, and answers its JSON, refused when it would be
/// larger than [`MAX_RESPONSE_BYTES`].
pub async fn inspect(
    state: &Arc<AppState>,
    work: impl FnOnce(Arc<Loaded>) -> ApiResult<Value> + Send + 'static,
) -> Response {
    let permit = match state.slots.inspection().await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let st = state.clone();
    let answer = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        if let Some(delay) = st.work_delay {
            std::thread::sleep(delay);
        }
        let value = work(st.model())?;
        let bytes = serde_json::to_vec(&value).map_err(|e| ApiError::internal(format!("could not write JSON: {e}")))?;
        if bytes.len() > MAX_RESPONSE_BYTES {
            return Err(ApiError::bad_request(format!(
                "the answer would be {:.1} MB, more than the {} MB this server sends at once; ask for less (a shorter prompt, fewer words)",
                bytes.len() as f64 / 1e6,
                MAX_RESPONSE_BYTES >> 20
            ))
            .with_code("response_too_large"));
        }
        Ok(bytes)
    })
    .await
    .map_err(|e| ApiError::internal(format!("the computation failed: {e}")));
    match answer.and_then(|a| a) {
        Ok(bytes) => ([(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Runs `work` on a blocking thread with the current model (for light work: no slot).
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
            json!({"kind": match tok { glassbox::tokenizer::Tokenizer::Bpe(_) => "bpe", glassbox::tokenizer::Tokenizer::Char(_) => "char" }, "describe": tok.describe(), "size": tok.vocab_size(), "merges": match tok { glassbox::tokenizer::Tokenizer::Bpe(t) => Some(t.merges().len()), glassbox::tokenizer::Tokenizer::Char(_) => None }})
        }
        None => json!({"kind": "ids", "describe": "no tokenizer files: prompts are token ids", "size": v}),
    };
    let run = state.dir.join("log.jsonl").is_file();
    let task = Task::of_run(&state.dir).filter(|task| task.vocab_size() == v && task.seq_len() <= t);
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
        "default_prompt": default_prompt(loaded, task.as_ref()),
        "task": task.as_ref().map(task_json),
        "vocabulary": small_vocabulary(loaded),
        "reload_error": state.reload_error(),
    })
}

/// The largest vocabulary whose tokens `/api/model` lists (a character or task model's).
const LISTED_VOCABULARY: usize = 300;

/// Every token's text, in id order (`null` where it is not whole UTF-8), for vocabularies
/// of at most [`LISTED_VOCABULARY`] tokens: the pages pick their examples from it.
fn small_vocabulary(loaded: &Loaded) -> Option<Vec<Option<String>>> {
    let tok = loaded.tokenizer.as_ref()?;
    let v = loaded.config().vocab_size;
    (v <= LISTED_VOCABULARY).then(|| {
        (0..v as u32)
            .map(|id| tok.token_bytes(id).and_then(|b| std::str::from_utf8(b).ok()).map(str::to_string))
            .collect()
    })
}

/// A built-in task's facts for the pages: its example problem and answer, and how many
/// tokens each takes (the positions from `prompt_tokens − 1` on write the answer).
fn task_json(task: &Task) -> Value {
    let prompt = task.example_prompt();
    json!({
        "name": task.name(),
        "describe": task.describe(),
        "prompt_tokens": task.prompt_len,
        "answer_tokens": task.answer_len,
        "prompt": task.render(&prompt),
        "answer": task.render(&task.answer(&prompt)),
    })
}

/// A prompt the walkthrough starts with: for a model of a built-in task, its example
/// problem with the answer written after it (as in training: every answer position is
/// read at once); else plain English where the vocabulary can spell it, else a few of the
/// vocabulary's own characters, else token ids.
fn default_prompt(loaded: &Loaded, task: Option<&Task>) -> String {
    if let Some(task) = task {
        let prompt = task.example_prompt();
        let answer = task.answer(&prompt);
        let full: Vec<u32> = prompt.iter().chain(&answer).copied().take(task.seq_len()).collect();
        return task.render(&full);
    }
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
    let mut stats = state.stats.snapshot();
    stats["reload_error"] = json!(state.reload_error());
    stats["generation_limit"] = json!(state.slots.generation_limit());
    Json(stats)
}

/// The "Why transformers" chapter's measurements, or `available: false` where the server
/// was not started on a `glassbox compare` folder.
pub async fn why_info(State(state): State<Arc<AppState>>) -> Response {
    let st = state.clone();
    inspect(&state, move |loaded| {
        Ok(match &st.why {
            Some(why) => crate::why::info(&loaded, why),
            None => json!({"available": false}),
        })
    })
    .await
}

/// One text through both models of a comparison: each token's influence on the last
/// prediction, the GPT's attention from the last token, the LSTM's step dependences.
pub async fn why_reach(State(state): State<Arc<AppState>>, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match json_body(body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let st = state.clone();
    inspect(&state, move |loaded| {
        let Some(why) = &st.why else {
            return Err(ApiError::not_found(
                "this server shows one model; start it on a comparison (glassbox compare --out DIR, then glassbox \
                 serve DIR) to read a text with a GPT and an LSTM side by side",
            ));
        };
        let f = Fields(&body);
        only(&f, &["prompt", "ids"])?;
        let limit = walkthrough::MAX_TOKENS.min(loaded.config().n_ctx);
        let ids = request::prompt_ids(&loaded, &f, limit, "the comparison")?;
        let mut out = crate::why::reach(&loaded, why, &ids)?;
        out["tokens"] = json!(text::views(&loaded, &ids));
        for side in ["gpt", "lstm"] {
            let next = out[side]["next"].as_u64().unwrap_or(0) as u32;
            out[side]["next_token"] = json!(text::views(&loaded, &[next])[0]);
        }
        Ok(out)
    })
    .await
}

/// What the knowledge page offers first (a fact, on a `--task facts` run).
pub async fn knowledge_info(State(state): State<Arc<AppState>>) -> Response {
    let task = Task::of_run(&state.dir);
    Json(crate::knowledge::example(task.as_ref())).into_response()
}

pub async fn attribute(State(state): State<Arc<AppState>>, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match json_body(body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    inspect(&state, move |loaded| crate::knowledge::attribution(&loaded, &Fields(&body))).await
}

pub async fn causal(State(state): State<Arc<AppState>>, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match json_body(body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    inspect(&state, move |loaded| crate::knowledge::causal(&loaded, &Fields(&body))).await
}

pub async fn tokenize(State(state): State<Arc<AppState>>, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match json_body(body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    inspect(&state, move |loaded| {
        let f = Fields(&body);
        only(&f, &["prompt", "ids"])?;
        let ids = request::prompt_ids(&loaded, &f, MAX_TOKENIZE_TOKENS, "/api/tokenize")?;
        Ok(json!({"ids": ids, "tokens": text::views(&loaded, &ids)}))
    })
    .await
}

pub async fn walkthrough(State(state): State<Arc<AppState>>, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match json_body(body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let st = state.clone();
    inspect(&state, move |loaded| {
        let f = Fields(&body);
        only(&f, &["prompt", "ids", "layer", "position", "parts"])?;
        let limit = walkthrough::MAX_TOKENS.min(loaded.config().n_ctx);
        let ids = request::prompt_ids(&loaded, &f, limit, "the walkthrough")?;
        let layer = request::index(&f, "layer", 0, loaded.config().n_layer, "this model's blocks")?;
        let position = request::index(&f, "position", ids.len() - 1, ids.len(), "the prompt's positions")?;
        let parts = match f.strings("parts", walkthrough::Parts::NAMES.len())? {
            None => walkthrough::Parts::ALL,
            Some(names) => walkthrough::Parts::from_names(&names).map_err(|why| ApiError::param("parts", why))?,
        };
        let mut out = walkthrough::walkthrough(&loaded, &ids, layer, position, parts).map_err(ApiError::engine)?;
        if parts.summary {
            if let Some(merges) = f.str("prompt")?.and_then(|text| walkthrough::merges(&loaded, text, &ids)) {
                out["walkthrough"]["merges"] = merges;
            }
        }
        out["model"] = info_json(&st, &loaded);
        Ok(out)
    })
    .await
}

/// The receipt of one number of a matrix product (`inspect::products`): for cell (`row`,
/// `col`) of `product` (`c_attn`, `attn.c_proj`, `c_fc`, `mlp.c_proj`, `head`) in block
/// `layer`, the largest terms of its dot product, the bias, their sum and the cell itself.
pub async fn product(State(state): State<Arc<AppState>>, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match json_body(body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    inspect(&state, move |loaded| {
        let f = Fields(&body);
        only(&f, &["prompt", "ids", "product", "layer", "row", "col", "top"])?;
        let limit = walkthrough::MAX_TOKENS.min(loaded.config().n_ctx);
        let ids = request::prompt_ids(&loaded, &f, limit, "a product's receipt")?;
        let product = product_named(&f)?;
        let layer = request::index(&f, "layer", 0, loaded.config().n_layer, "this model's blocks")?;
        let row = request::index(&f, "row", ids.len() - 1, ids.len(), "the prompt's positions")?;
        let col = f.usize("col")?.ok_or_else(|| ApiError::param("col", "col is missing: the output column"))?;
        let top = request::count(&f, "top", 8, 64)?;
        let mut acts = glassbox::model::Activations::default();
        glassbox::model::forward(loaded.params(), &ids, 1, ids.len(), &mut acts).map_err(ApiError::engine)?;
        let receipt = cell_receipt(loaded.params(), &acts, product, layer, row, col, top)
            .map_err(|e| ApiError::engine_param("col", e))?;
        Ok(json!(receipt))
    })
    .await
}

fn product_named(f: &Fields) -> ApiResult<Product> {
    let name = request::required_text(f, "product", 64)?;
    Product::from_name(name).ok_or_else(|| {
        ApiError::param(
            "product",
            format!("product {:?} is not one of {}", request::cut(name, 40), Product::NAMES.join(", ")),
        )
    })
}

/// The largest side of a weight picture.
const WEIGHT_PICTURE_SIDE: usize = 256;

/// The weight matrix of `product` in block `layer`, drawn small (`inspect::products`): at
/// most `side` rows and columns (default 64), each the strongest entry of its block.
pub async fn weight(State(state): State<Arc<AppState>>, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match json_body(body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    inspect(&state, move |loaded| {
        let f = Fields(&body);
        only(&f, &["product", "layer", "side"])?;
        let product = product_named(&f)?;
        let layer = request::index(&f, "layer", 0, loaded.config().n_layer, "this model's blocks")?;
        let side = request::count(&f, "side", 64, WEIGHT_PICTURE_SIDE)?;
        let picture = weight_picture(loaded.params(), product, layer, side).map_err(ApiError::engine)?;
        Ok(json!({
            "weight": picture.weight,
            "shape": picture.shape,
            "rows": picture.rows,
            "cols": picture.cols,
            "row_step": picture.row_step,
            "col_step": picture.col_step,
            "data": crate::walkthrough::f32_array(&picture.data),
        }))
    })
    .await
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
        only(&f, &["prompt", "ids", "max_tokens", "temperature", "top_k", "top_p", "seed"])?;
        let n_ctx = loaded.config().n_ctx;
        let what = format!("generation (the context holds {n_ctx} tokens)");
        let ids = request::prompt_ids(&loaded, &f, n_ctx, &what)?;
        // At most what the context has room for: the last new token is chosen from the
        // logits of a full context and never read back, so n_ctx − prompt + 1 of them.
        let max_new = request::count(&f, "max_tokens", 64, usize::MAX)?.min(n_ctx + 1 - ids.len());
        let options = request::sampling(&f, 0.8)?;
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
    known: &'static [&'static str],
    work: impl FnOnce(&Loaded, &Fields) -> ApiResult<Value> + Send + 'static,
) -> Response {
    let body = match json_body(body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    inspect(&state, move |loaded| {
        let f = Fields(&body);
        only(&f, known)?;
        work(&loaded, &f)
    })
    .await
}

fn word<'a>(f: &'a Fields, name: &str) -> ApiResult<&'a str> {
    request::required_text(f, name, MAX_WORD_BYTES)
}

/// A list of at most `max` texts of at most `max_bytes` each.
fn texts(f: &Fields, name: &str, max: usize, max_bytes: usize) -> ApiResult<Vec<String>> {
    let list = f.strings(name, max)?.ok_or_else(|| ApiError::param(name, format!("{name} is missing")))?;
    match list.iter().position(|s| s.len() > max_bytes) {
        Some(i) => {
            Err(ApiError::param(name, format!("{name}[{i}] is {} bytes; at most {max_bytes} each", list[i].len()))
                .with_code("too_long"))
        }
        None => Ok(list),
    }
}

pub async fn space_map(State(state): State<Arc<AppState>>, body: Result<Bytes, BytesRejection>) -> Response {
    space_call(state, body, &["words"], |loaded, f| {
        let words = texts(f, "words", 400, MAX_WORD_BYTES)?;
        space::map(loaded, &words)
    })
    .await
}

pub async fn space_neighbors(State(state): State<Arc<AppState>>, body: Result<Bytes, BytesRejection>) -> Response {
    space_call(state, body, &["word", "k"], |loaded, f| {
        let k = request::count(f, "k", 10, 100)?;
        space::neighbors(loaded, word(f, "word")?, k)
    })
    .await
}

pub async fn space_analogy(State(state): State<Arc<AppState>>, body: Result<Bytes, BytesRejection>) -> Response {
    space_call(state, body, &["a", "b", "c", "k"], |loaded, f| {
        let k = request::count(f, "k", 8, 100)?;
        space::analogy(loaded, word(f, "a")?, word(f, "b")?, word(f, "c")?, k)
    })
    .await
}

pub async fn space_drift(State(state): State<Arc<AppState>>, body: Result<Bytes, BytesRejection>) -> Response {
    space_call(state, body, &["word", "sentences"], |loaded, f| {
        let sentences = texts(f, "sentences", 12, MAX_TEXT_BYTES)?;
        space::drift(loaded, word(f, "word")?, &sentences)
    })
    .await
}

/// The built-in category words this vocabulary holds, mapped, with purity and agreement.
pub async fn space_categories(State(state): State<Arc<AppState>>, body: Result<Bytes, BytesRejection>) -> Response {
    space_call(state, body, &[], |loaded, _| space::categories(loaded)).await
}
