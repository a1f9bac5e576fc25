//! What a request may ask for, checked in one place for every route: the fields a route
//! knows (anything else is a 400 naming it, so a typo is not silently ignored), prompts
//! (text or token ids, never both, within the route's byte and token bounds), sampling
//! settings (shared by `/api/generate` and `/v1/completions`), counts and query strings.
//! Every mistake is an [`ApiError`] naming the field.

use glassbox::sample::SamplingOptions;
use serde_json::Value;

use crate::error::{kind_of, ApiError, ApiResult, Fields};
use crate::generation;
use crate::limits::MAX_TEXT_BYTES;
use crate::state::Loaded;
use crate::text;

/// Refuses fields the route does not know.
pub fn only(f: &Fields, known: &[&str]) -> ApiResult<()> {
    match f.0.keys().find(|k| !known.contains(&k.as_str())) {
        Some(unknown) => Err(ApiError::param(
            &cut(unknown, 40),
            format!("unknown field {:?}; this route takes {}", cut(unknown, 40), known.join(", ")),
        )
        .with_code("unknown_parameter")),
        None => Ok(()),
    }
}

/// At most `max` characters of `s`, for echoing input in a message.
pub fn cut(s: &str, max: usize) -> String {
    let mut out: String = s.chars().take(max).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

/// A text field of at most `max_bytes`.
pub fn text<'a>(f: &'a Fields, name: &str, max_bytes: usize) -> ApiResult<Option<&'a str>> {
    match f.str(name)? {
        Some(s) if s.len() > max_bytes => {
            Err(ApiError::param(name, format!("{name} is {} bytes; this route takes at most {max_bytes}", s.len()))
                .with_code("too_long"))
        }
        other => Ok(other),
    }
}

/// A required text field of at most `max_bytes`.
pub fn required_text<'a>(f: &'a Fields, name: &str, max_bytes: usize) -> ApiResult<&'a str> {
    text(f, name, max_bytes)?.ok_or_else(|| ApiError::param(name, format!("{name} is missing")))
}

/// The tokens of a request: `ids`, or `prompt` encoded; one of them, not both, not empty,
/// at most `max_tokens` (`what` names the route in the message).
pub fn prompt_ids(loaded: &Loaded, f: &Fields, max_tokens: usize, what: &str) -> ApiResult<Vec<u32>> {
    let ids = match (f.ids("ids")?, text(f, "prompt", MAX_TEXT_BYTES)?) {
        (Some(_), Some(_)) => {
            return Err(ApiError::param("ids", "send either prompt (text) or ids (token ids), not both"))
        }
        (Some(ids), None) => {
            text::check_ids(loaded, &ids, "ids")?;
            ids
        }
        (None, Some(prompt)) => text::encode(loaded, prompt, "prompt")?,
        (None, None) => return Err(ApiError::param("prompt", "send a prompt (text) or ids (token ids)")),
    };
    let param = if f.raw("ids").is_some() { "ids" } else { "prompt" };
    if ids.is_empty() {
        return Err(ApiError::param(param, "the prompt is empty; type a few words"));
    }
    if ids.len() > max_tokens {
        return Err(ApiError::param(
            param,
            format!("the prompt is {} tokens; {what} takes at most {max_tokens}, so shorten it", ids.len()),
        )
        .with_code("too_many_tokens"));
    }
    Ok(ids)
}

/// A count in `1..=max`, or `default` when absent.
pub fn count(f: &Fields, name: &str, default: usize, max: usize) -> ApiResult<usize> {
    match f.usize(name)?.unwrap_or(default) {
        n if (1..=max).contains(&n) => Ok(n),
        n => Err(ApiError::param(name, format!("{name} is {n}; use 1 to {max}")).with_code("invalid_value")),
    }
}

/// An index in `0..len` (`what` says what it counts), or `default` when absent.
pub fn index(f: &Fields, name: &str, default: usize, len: usize, what: &str) -> ApiResult<usize> {
    match f.usize(name)?.unwrap_or(default) {
        i if i < len => Ok(i),
        i => {
            Err(ApiError::param(name, format!("{name} {i} does not exist; {what} are 0 to {}", len.saturating_sub(1)))
                .with_code("invalid_value"))
        }
    }
}

/// Sampling settings, as OpenAI defines them: `temperature` 0 (greedy) to 2, `top_p` 0 to 1
/// (0: the single most probable token, 1: off), `top_k` 1 or more, `seed` any integer
/// (absent: a fresh one).
pub fn sampling(f: &Fields, default_temperature: f64) -> ApiResult<SamplingOptions> {
    let temperature = f.f64("temperature")?.unwrap_or(default_temperature);
    if !(0.0..=2.0).contains(&temperature) {
        return Err(ApiError::param(
            "temperature",
            format!("{temperature} is not a valid temperature; use a number from 0 (greedy) to 2"),
        )
        .with_code("invalid_value"));
    }
    let mut top_p = match f.f64("top_p")? {
        None => None,
        Some(p) if (0.0..=1.0).contains(&p) => Some(p as f32),
        Some(p) => {
            return Err(ApiError::param("top_p", format!("{p} is not a valid top_p; use a number from 0 to 1"))
                .with_code("invalid_value"))
        }
    };
    let mut top_k = match f.usize("top_k")? {
        Some(0) => {
            return Err(ApiError::param("top_k", "top_k 0 keeps no token; use 1 or more, or leave it out")
                .with_code("invalid_value"))
        }
        k => k,
    };
    if top_p == Some(0.0) {
        // OpenAI allows 0: the smallest nucleus, the single most probable token.
        top_p = None;
        top_k = Some(1);
    } else if top_p == Some(1.0) {
        top_p = None;
    }
    let seed = match f.raw("seed") {
        None => generation::fresh_seed(),
        Some(Value::Number(n)) if n.as_i64().is_some() || n.as_u64().is_some() => {
            n.as_u64().unwrap_or_else(|| n.as_i64().unwrap_or(0) as u64)
        }
        Some(other) => return Err(ApiError::param("seed", format!("seed must be an integer, not {}", kind_of(other)))),
    };
    let options = SamplingOptions { temperature: temperature as f32, top_k, top_p, seed };
    options.validate().map_err(|e| ApiError::engine_param("temperature", e))?;
    Ok(options)
}

/// A query string's `name=value` pairs, each name one of `known` (else a 400).
pub fn query<'a>(raw: Option<&'a str>, known: &[&str]) -> ApiResult<Vec<(&'a str, &'a str)>> {
    let mut pairs = Vec::new();
    for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if !known.contains(&name) {
            return Err(ApiError::param(
                &cut(name, 40),
                match known {
                    [] => format!("unknown query parameter {:?}; this route takes none", cut(name, 40)),
                    _ => format!("unknown query parameter {:?}; this route takes {}", cut(name, 40), known.join(", ")),
                },
            )
            .with_code("unknown_parameter"));
        }
        pairs.push((name, value));
    }
    Ok(pairs)
}

/// A whole number ≥ 0 from a query string.
pub fn query_u64(name: &str, value: &str) -> ApiResult<u64> {
    value.parse::<u64>().map_err(|_| {
        ApiError::param(name, format!("{name} must be a whole number ≥ 0, not {:?}", cut(value, 40)))
            .with_code("invalid_value")
    })
}
