//! The OpenAI-compatible API: `GET /v1/models`, `POST /v1/completions` (legacy text
//! completions: `prompt`, `max_tokens`, `temperature`, `top_p`, `seed`, `stop`, `echo`,
//! `logprobs`, `stream`). With `stream: true` the tokens go out as server-sent events as
//! they are produced, ending with `data: [DONE]`; a client that disconnects stops the
//! generation. Mistakes get a 400 with OpenAI's error body, naming the parameter.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use glassbox::sample::{SamplingOptions, TokenChoice};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::error::{json_body, kind_of, ApiError, ApiResult, Fields};
use crate::generation::{self, GenEvent, GenRequest};
use crate::request;
use crate::state::{AppState, Loaded};
use crate::text::{self, TextStream};

fn created(state: &AppState) -> u64 {
    state.started.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn model_object(state: &AppState) -> Value {
    json!({"id": state.name, "object": "model", "created": created(state), "owned_by": "glassbox"})
}

pub async fn models(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(json!({"object": "list", "data": [model_object(&state)]}))
}

pub async fn model(State(state): State<Arc<AppState>>, id: Result<Path<String>, PathRejection>) -> Response {
    let Ok(Path(id)) = id else {
        return ApiError::bad_request("the model id in the path is not valid text").into_response();
    };
    if id == state.name {
        Json(model_object(&state)).into_response()
    } else {
        ApiError::not_found(format!("the model '{id}' does not exist; this server serves '{}'", state.name))
            .with_code("model_not_found")
            .into_response()
    }
}

/// A validated completion request.
struct Completion {
    ids: Vec<u32>,
    prompt_text: String,
    max_tokens: usize,
    options: SamplingOptions,
    stream: bool,
    logprobs: Option<usize>,
    stop: Vec<String>,
    echo: bool,
}

fn parse(body: &serde_json::Map<String, Value>, loaded: &Loaded) -> ApiResult<Completion> {
    let f = Fields(body);
    let n_ctx = loaded.config().n_ctx;
    // The prompt: text, one text in a list, token ids, or one list of ids in a list.
    let prompt = f.raw("prompt").ok_or_else(|| {
        ApiError::param("prompt", "the request has no prompt; send {\"prompt\": \"Once upon a time\", …}")
            .with_code("missing_required_parameter")
    })?;
    let single = match prompt {
        Value::Array(items) if items.len() == 1 && (items[0].is_string() || items[0].is_array()) => &items[0],
        Value::Array(items) if items.len() > 1 && items.iter().all(|i| i.is_string() || i.is_array()) => {
            return Err(ApiError::param("prompt", "this server completes one prompt per request; send a single prompt"))
        }
        other => other,
    };
    let ids = match single {
        Value::String(s) => {
            let ids = text::encode(loaded, s, "prompt")?;
            if ids.is_empty() {
                match loaded.end_of_text() {
                    Some(eot) => vec![eot],
                    None => return Err(ApiError::param("prompt", "the prompt is empty; give at least one token")),
                }
            } else {
                ids
            }
        }
        Value::Array(_) => {
            let wrapper = serde_json::Map::from_iter([("prompt".to_string(), single.clone())]);
            let ids = Fields(&wrapper).ids("prompt")?.unwrap_or_default();
            if ids.is_empty() {
                return Err(ApiError::param("prompt", "the prompt is empty; give at least one token"));
            }
            text::check_ids(loaded, &ids, "prompt")?;
            ids
        }
        other => {
            return Err(ApiError::param(
                "prompt",
                format!("prompt must be a string or a list of token ids, not {}", kind_of(other)),
            ))
        }
    };
    let prompt_text = match single {
        Value::String(s) => s.clone(),
        _ => {
            let mut stream = TextStream::new(loaded);
            let mut s: String = ids.iter().map(|&id| stream.push(loaded, id)).collect();
            s.push_str(&stream.finish());
            s
        }
    };
    if ids.len() > n_ctx {
        return Err(ApiError::param(
            "prompt",
            format!(
                "This model's maximum context length is {n_ctx} tokens, however your prompt is {} tokens. Please reduce your prompt.",
                ids.len()
            ),
        )
        .with_code("context_length_exceeded"));
    }
    let max_tokens = f.usize("max_tokens")?.unwrap_or(16);
    if ids.len().saturating_add(max_tokens) > n_ctx {
        return Err(ApiError::param(
            "max_tokens",
            format!(
                "This model's maximum context length is {n_ctx} tokens, however you requested {} tokens ({} in your prompt; {max_tokens} for the completion). Please reduce your prompt; or completion length.",
                ids.len().saturating_add(max_tokens),
                ids.len()
            ),
        )
        .with_code("context_length_exceeded"));
    }
    let options = request::sampling(&f, 1.0)?;
    let stream = f.bool("stream")?.unwrap_or(false);
    let echo = f.bool("echo")?.unwrap_or(false);
    let logprobs = match f.usize("logprobs")? {
        Some(n) if n > 5 => {
            return Err(ApiError::param("logprobs", format!("logprobs is {n}; the most this server returns is 5")))
        }
        other => other,
    };
    if let Some(n) = f.u64("n")? {
        if n != 1 {
            return Err(ApiError::param(
                "n",
                format!("n is {n}; this server makes one completion per request (n = 1)"),
            ));
        }
    }
    if let Some(b) = f.u64("best_of")? {
        if b != 1 {
            return Err(ApiError::param("best_of", "best_of is not supported; leave it out or use 1"));
        }
    }
    for penalty in ["presence_penalty", "frequency_penalty"] {
        if f.f64(penalty)?.unwrap_or(0.0) != 0.0 {
            return Err(ApiError::param(penalty, format!("{penalty} is not supported; leave it out or use 0")));
        }
    }
    if f.raw("logit_bias").is_some_and(|v| v.as_object().is_none_or(|m| !m.is_empty())) {
        return Err(ApiError::param("logit_bias", "logit_bias is not supported; leave it out"));
    }
    if f.str("suffix")?.is_some_and(|s| !s.is_empty()) {
        return Err(ApiError::param("suffix", "suffix (insertion) is not supported; leave it out"));
    }
    let stop = match f.raw("stop") {
        None => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(_) => f.strings("stop", 4)?.unwrap_or_default(),
    };
    if stop.iter().any(|s| s.is_empty()) {
        return Err(ApiError::param("stop", "a stop sequence must not be empty"));
    }
    Ok(Completion { ids, prompt_text, max_tokens, options, stream, logprobs, stop, echo })
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn completion_id() -> String {
    format!("cmpl-{:x}{:06x}", generation::fresh_seed() & 0xffff_ffff, NEXT_ID.fetch_add(1, Ordering::Relaxed))
}

/// Applies stop sequences to the growing text and tells how much may be sent now.
struct Stopper {
    stops: Vec<String>,
    longest: usize,
    text: String,
    sent: usize,
    /// Characters of completion text produced so far (for `text_offset`).
    chars: usize,
}

impl Stopper {
    fn new(stops: Vec<String>) -> Self {
        let longest = stops.iter().map(|s| s.len()).max().unwrap_or(0);
        Stopper { stops, longest, text: String::new(), sent: 0, chars: 0 }
    }

    /// Adds decoded text; returns (text to send now, whether a stop sequence was hit).
    fn push(&mut self, piece: &str) -> (String, bool) {
        self.text.push_str(piece);
        self.chars += piece.chars().count();
        let search_from = self.sent.saturating_sub(self.longest);
        let search_from = floor_char_boundary(&self.text, search_from);
        let hit = self.stops.iter().filter_map(|s| self.text[search_from..].find(s.as_str())).min();
        if let Some(at) = hit {
            let end = search_from + at;
            let out = self.text[self.sent.min(end)..end].to_string();
            self.sent = end;
            self.text.truncate(end);
            return (out, true);
        }
        // Hold back what could still be the start of a stop sequence.
        let safe = floor_char_boundary(&self.text, self.text.len().saturating_sub(self.longest.saturating_sub(1)));
        if safe <= self.sent {
            return (String::new(), false);
        }
        let out = self.text[self.sent..safe].to_string();
        self.sent = safe;
        (out, false)
    }

    fn flush(&mut self) -> String {
        let out = self.text[self.sent..].to_string();
        self.sent = self.text.len();
        out
    }
}

fn floor_char_boundary(s: &str, mut at: usize) -> usize {
    at = at.min(s.len());
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn logprob(p: f32) -> f64 {
    (p.max(f32::MIN_POSITIVE) as f64).ln()
}

/// OpenAI's `logprobs` object for a run of tokens.
#[derive(Default)]
struct Logprobs {
    tokens: Vec<String>,
    token_logprobs: Vec<f64>,
    top: Vec<Value>,
    offsets: Vec<usize>,
}

impl Logprobs {
    fn push(&mut self, loaded: &Loaded, choice: &TokenChoice, n: usize, offset: usize) {
        self.tokens.push(text::token_string(loaded, choice.id));
        self.token_logprobs.push(logprob(choice.probability));
        let mut top = serde_json::Map::new();
        for &(id, p) in choice.top.iter().take(n) {
            top.entry(text::token_string(loaded, id)).or_insert(json!(logprob(p)));
        }
        self.top.push(Value::Object(top));
        self.offsets.push(offset);
    }

    fn json(&self) -> Value {
        json!({"tokens": self.tokens, "token_logprobs": self.token_logprobs, "top_logprobs": self.top, "text_offset": self.offsets})
    }
}

pub async fn completions(State(state): State<Arc<AppState>>, body: Result<Bytes, BytesRejection>) -> Response {
    match completions_inner(state, body).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

async fn completions_inner(state: Arc<AppState>, body: Result<Bytes, BytesRejection>) -> ApiResult<Response> {
    let body = json_body(body)?;
    let st = state.clone();
    // Tokenizing a prompt of up to 1 MiB is a computation like the others: it takes a slot.
    let permit = state.slots.inspection().await?;
    let (loaded, request) = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let loaded = st.model();
        parse(&body, &loaded).map(|r| (loaded, r))
    })
    .await
    .map_err(|e| ApiError::internal(format!("the request failed: {e}")))??;
    let rx = generation::start(
        &state,
        loaded.clone(),
        GenRequest { ids: request.ids.clone(), max_new_tokens: request.max_tokens, options: request.options.clone() },
    )?;
    let id = completion_id();
    let created = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    if request.stream {
        Ok(stream_response(state, loaded, request, rx, id, created))
    } else {
        whole_response(state, loaded, request, rx, id, created).await
    }
}

async fn whole_response(
    state: Arc<AppState>,
    loaded: Arc<Loaded>,
    request: Completion,
    mut rx: mpsc::Receiver<GenEvent>,
    id: String,
    created: u64,
) -> ApiResult<Response> {
    let mut decoder = TextStream::new(&loaded);
    let mut stopper = Stopper::new(request.stop.clone());
    let mut logprobs = Logprobs::default();
    let mut completion_tokens = 0usize;
    let mut finish = "length";
    while let Some(event) = rx.recv().await {
        match event {
            GenEvent::Token(choice) => {
                completion_tokens += 1;
                if let Some(n) = request.logprobs {
                    logprobs.push(&loaded, &choice, n, stopper.chars);
                }
                let piece = decoder.push(&loaded, choice.id);
                if stopper.push(&piece).1 {
                    finish = "stop";
                    break; // dropping rx stops the generation
                }
            }
            GenEvent::Finished(reason) => {
                let rest = decoder.finish();
                stopper.push(&rest);
                finish = reason.finish_reason();
                break;
            }
            GenEvent::Failed(err) => return Err(ApiError::engine(err)),
        }
    }
    drop(rx);
    let mut text = stopper.text.clone();
    if request.echo {
        text.insert_str(0, &request.prompt_text);
    }
    let body = json!({
        "id": id,
        "object": "text_completion",
        "created": created,
        "model": state.name,
        "choices": [{
            "text": text,
            "index": 0,
            "logprobs": request.logprobs.map(|_| logprobs.json()),
            "finish_reason": finish,
        }],
        "usage": {
            "prompt_tokens": request.ids.len(),
            "completion_tokens": completion_tokens,
            "total_tokens": request.ids.len() + completion_tokens,
        },
    });
    Ok(Json(body).into_response())
}

fn stream_response(
    state: Arc<AppState>,
    loaded: Arc<Loaded>,
    request: Completion,
    mut rx: mpsc::Receiver<GenEvent>,
    id: String,
    created: u64,
) -> Response {
    let (tx, events) = mpsc::channel::<Result<Event, Infallible>>(16);
    let name = state.name.clone();
    tokio::spawn(async move {
        let chunk = |text: String, logprobs: Option<Value>, finish: Option<&str>| {
            let body = json!({
                "id": id,
                "object": "text_completion",
                "created": created,
                "model": name,
                "choices": [{"text": text, "index": 0, "logprobs": logprobs, "finish_reason": finish}],
            });
            Ok::<_, Infallible>(Event::default().data(body.to_string()))
        };
        let mut decoder = TextStream::new(&loaded);
        let mut stopper = Stopper::new(request.stop.clone());
        if request.echo && tx.send(chunk(request.prompt_text.clone(), None, None)).await.is_err() {
            return;
        }
        let mut finish: Option<&'static str> = None;
        while let Some(event) = rx.recv().await {
            match event {
                GenEvent::Token(choice) => {
                    let offset = stopper.chars;
                    let piece = decoder.push(&loaded, choice.id);
                    let (out, hit) = stopper.push(&piece);
                    let logprobs = request.logprobs.map(|n| {
                        let mut lp = Logprobs::default();
                        lp.push(&loaded, &choice, n, offset);
                        lp.json()
                    });
                    // The send fails when the client has gone: returning drops `rx`, and
                    // the generation stops at its next token.
                    if tx.send(chunk(out, logprobs, None)).await.is_err() {
                        return;
                    }
                    if hit {
                        finish = Some("stop");
                        break;
                    }
                }
                GenEvent::Finished(reason) => {
                    let rest = decoder.finish();
                    let (mut out, hit) = stopper.push(&rest);
                    if !hit {
                        out.push_str(&stopper.flush());
                    }
                    if !out.is_empty() && tx.send(chunk(out, None, None)).await.is_err() {
                        return;
                    }
                    finish = Some(if hit { "stop" } else { reason.finish_reason() });
                    break;
                }
                GenEvent::Failed(err) => {
                    let e = ApiError::engine(err);
                    let _ = tx.send(Ok(Event::default().data(e.body().to_string()))).await;
                    break;
                }
            }
        }
        drop(rx);
        if let Some(finish) = finish {
            if tx.send(chunk(String::new(), None, Some(finish))).await.is_err() {
                return;
            }
        }
        let _ = tx.send(Ok(Event::default().data("[DONE]"))).await;
    });
    Sse::new(ReceiverStream::new(events)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use glassbox::sample::StopReason;

    #[test]
    fn stop_sequences_cut_the_text_and_hold_back_prefixes() {
        let mut s = Stopper::new(vec!["END".into()]);
        assert_eq!(s.push("abc"), ("a".into(), false));
        assert_eq!(s.push("E"), ("b".into(), false));
        assert_eq!(s.push("NDxyz"), ("c".into(), true));
        assert_eq!(s.text, "abc");
        let mut none = Stopper::new(Vec::new());
        assert_eq!(none.push("héllo"), ("héllo".into(), false));
        let mut multi = Stopper::new(vec!["é!".into()]);
        assert_eq!(multi.push("aé"), ("a".into(), false));
        assert_eq!(multi.flush(), "é");
    }

    #[test]
    fn stop_reason_names_are_openai_s() {
        assert_eq!(StopReason::MaxNewTokens.finish_reason(), "length");
        assert_eq!(StopReason::EndOfText.finish_reason(), "stop");
    }
}
