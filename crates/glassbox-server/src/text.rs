//! Text ↔ ids for the pages and the API, through the engine's tokenizer. A model directory
//! without tokenizer files still works: its prompts are token ids (`12 7 3`), and its
//! tokens are shown as `#12`.

use glassbox::tokenizer::{TokenPart, TokenView};
use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::state::Loaded;

/// Encodes a prompt typed by a person (or sent by a client).
pub fn encode(loaded: &Loaded, text: &str, param: &str) -> ApiResult<Vec<u32>> {
    match &loaded.tokenizer {
        Some(tok) => tok.encode_checked(text).map_err(|e| ApiError::engine_param(param, e)),
        None => parse_ids(text, loaded.config().vocab_size).map_err(|m| ApiError::param(param, m)),
    }
}

/// "12 7 3" or "12, 7, 3" → ids, for a model without a tokenizer.
pub fn parse_ids(text: &str, vocab_size: usize) -> Result<Vec<u32>, String> {
    let mut ids = Vec::new();
    for word in text.split(|c: char| c.is_whitespace() || c == ',').filter(|w| !w.is_empty()) {
        let id: u32 = word.parse().map_err(|_| {
            format!(
                "this model has no tokenizer files (vocab.json + merges.txt, tokenizer.json or tokenizer_char.json), \
                 so a prompt is token ids separated by spaces, like \"1 2 3\"; \"{}\" is not a token id",
                word.chars().take(20).collect::<String>()
            )
        })?;
        if id as usize >= vocab_size {
            return Err(format!(
                "token id {id} is out of range: this model's vocabulary has ids 0..{}",
                vocab_size - 1
            ));
        }
        ids.push(id);
    }
    Ok(ids)
}

/// Checks ids given directly against the vocabulary.
pub fn check_ids(loaded: &Loaded, ids: &[u32], param: &str) -> ApiResult<()> {
    let v = loaded.config().vocab_size;
    match ids.iter().find(|&&id| id as usize >= v) {
        Some(bad) => Err(ApiError::param(
            param,
            format!("token id {bad} is out of range: this model's vocabulary has ids 0..{}", v - 1),
        )),
        None => Ok(()),
    }
}

/// How each token of `ids` reads, as JSON for the pages:
/// `{id, bytes, hex, text, parts: [{text} | {part_of, first, len, of} | {invalid}], whole}`.
/// `text` is exact for whole tokens; a partial token's `text` is empty and its `parts`
/// say which character it helps to form.
pub fn views(loaded: &Loaded, ids: &[u32]) -> Vec<Value> {
    match &loaded.tokenizer {
        Some(tok) => match tok.views(ids) {
            Ok(views) => views.iter().map(view_json).collect(),
            Err(_) => ids.iter().map(|&id| bare_view(id)).collect(),
        },
        None => ids.iter().map(|&id| bare_view(id)).collect(),
    }
}

/// The view of one token on its own (outside a sequence).
pub fn view_one(loaded: &Loaded, id: u32) -> Value {
    views(loaded, &[id]).pop().unwrap_or_else(|| bare_view(id))
}

fn bare_view(id: u32) -> Value {
    json!({"id": id, "bytes": [], "hex": "", "text": format!("#{id}"), "parts": [{"text": format!("#{id}")}], "whole": true, "bare": true})
}

fn view_json(view: &TokenView) -> Value {
    let parts: Vec<Value> = view
        .parts
        .iter()
        .map(|p| match p {
            TokenPart::Text(s) => json!({"text": s}),
            TokenPart::PartOf { character, first, len, of } => {
                json!({"part_of": character.to_string(), "first": first, "len": len, "of": of})
            }
            TokenPart::Invalid(b) => json!({"invalid": b}),
        })
        .collect();
    let text: String =
        view.parts.iter().filter_map(|p| if let TokenPart::Text(s) = p { Some(s.as_str()) } else { None }).collect();
    json!({
        "id": view.id,
        "bytes": view.bytes,
        "hex": view.hex(),
        "text": text,
        "parts": parts,
        "whole": view.is_whole(),
    })
}

/// The text of one token for OpenAI's `logprobs.tokens` (lossy where a token is part of a
/// character, as OpenAI's own byte-level tokens are).
pub fn token_string(loaded: &Loaded, id: u32) -> String {
    match &loaded.tokenizer {
        Some(tok) => tok.token_bytes(id).map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default(),
        None => format!("#{id}"),
    }
}

/// Turns generated ids into text without splitting a character; for a model without a
/// tokenizer, each id becomes `#id ` (the only honest text it has).
pub enum TextStream {
    Tokens(glassbox::tokenizer::StreamDecoder),
    Ids,
}

impl TextStream {
    pub fn new(loaded: &Loaded) -> Self {
        match loaded.tokenizer {
            Some(_) => TextStream::Tokens(glassbox::tokenizer::StreamDecoder::new()),
            None => TextStream::Ids,
        }
    }

    pub fn push(&mut self, loaded: &Loaded, id: u32) -> String {
        match (self, &loaded.tokenizer) {
            (TextStream::Tokens(decoder), Some(tok)) => decoder.push(tok, id).unwrap_or_default(),
            _ => format!("#{id} "),
        }
    }

    pub fn finish(&mut self) -> String {
        match self {
            TextStream::Tokens(decoder) => decoder.finish(),
            TextStream::Ids => String::new(),
        }
    }
}
