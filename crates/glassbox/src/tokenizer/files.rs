//! The tokenizer files a model directory carries, read and written: GPT-2's `vocab.json`
//! (token → id, tokens spelled in the byte alphabet of `byte_level.rs`) with `merges.txt`
//! (one merge a line, best first, after a `#version` line), and Hugging Face's
//! `tokenizer.json` (the same two inside one JSON file).
//!
//! Pipeline position: disk ──here──▶ `BpeTokenizer` (bpe.rs) ──here──▶ disk.
//!
//! Every problem is bad input with one sentence naming the file, the line or token, and
//! what is wrong. Writes are atomic: a temporary file, synced, then renamed.

use super::bpe::{BpeParts, BpeTokenizer};
use super::byte_level::{bytes_to_string, string_to_bytes};
use super::fx::FxHashMap;
use super::END_OF_TEXT;
use crate::{Error, Result};
use serde_json::Value;
use std::path::Path;

pub(super) fn read_text(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::reading(path, e))?;
    String::from_utf8(bytes).map_err(|e| {
        Error::input(format!(
            "{} is not UTF-8 text (invalid byte at offset {}); check that it is the right file",
            path.display(),
            e.utf8_error().valid_up_to()
        ))
    })
}

/// Reads a GPT-2 `vocab.json` + `merges.txt` pair.
pub fn read_vocab_and_merges(vocab_path: &Path, merges_path: &Path) -> Result<BpeTokenizer> {
    let vocab_text = read_text(vocab_path)?;
    let merges_text = read_text(merges_path)?;
    parse_vocab_and_merges(
        &vocab_text,
        &merges_text,
        &vocab_path.display().to_string(),
        &merges_path.display().to_string(),
    )
}

/// Builds a tokenizer from the texts of `vocab.json` and `merges.txt`; the names are what
/// messages call the two files.
pub fn parse_vocab_and_merges(
    vocab_text: &str,
    merges_text: &str,
    vocab_name: &str,
    merges_name: &str,
) -> Result<BpeTokenizer> {
    let vocab = parse_vocab(vocab_text, vocab_name)?;
    let merges = parse_merges_txt(merges_text, merges_name)?;
    let special: Vec<(String, u32, bool)> =
        vocab.iter().filter(|(name, _)| name == END_OF_TEXT).map(|(name, id)| (name.clone(), *id, true)).collect();
    build(vocab, merges, special, vocab_name)
}

/// A merge as written: its two parts and where it was written (for messages).
#[derive(Debug)]
struct MergeLine {
    left: String,
    right: String,
    place: String,
}

/// Parses `vocab.json` text: a JSON object from token to id.
fn parse_vocab(text: &str, name: &str) -> Result<Vec<(String, u32)>> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        Error::input(format!("{name} is not valid JSON ({e}); it should map each token to its id, like {{\"!\": 0}}"))
    })?;
    vocab_from_value(&value, name)
}

fn vocab_from_value(value: &Value, name: &str) -> Result<Vec<(String, u32)>> {
    let Some(object) = value.as_object() else {
        return Err(Error::input(format!(
            "{name} should be a JSON object mapping each token to its id, like {{\"!\": 0}}"
        )));
    };
    let mut out = Vec::with_capacity(object.len());
    for (token, id) in object {
        let id = id.as_u64().and_then(|id| u32::try_from(id).ok()).ok_or_else(|| {
            Error::input(format!(
                "{name}: the token {token:?} has the id {id}, but an id must be a whole \
                     number from 0 up"
            ))
        })?;
        out.push((token.clone(), id));
    }
    Ok(out)
}

/// Parses `merges.txt`: an optional `#version` line, then `left right` per line.
fn parse_merges_txt(text: &str, name: &str) -> Result<Vec<MergeLine>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if (i == 0 && line.starts_with("#version")) || line.trim().is_empty() {
            continue;
        }
        let place = format!("{name} line {}", i + 1);
        let mut parts = line.split(' ');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(left), Some(right), None) if !left.is_empty() && !right.is_empty() => {
                out.push(MergeLine { left: left.to_string(), right: right.to_string(), place })
            }
            _ => {
                return Err(Error::input(format!(
                    "{place} should be two tokens separated by one space, like \"Ġ t\", but \
                     is {line:?}"
                )))
            }
        }
    }
    Ok(out)
}

/// Reads a Hugging Face `tokenizer.json` that holds a GPT-2-style byte-level BPE.
pub fn read_tokenizer_json(path: &Path) -> Result<BpeTokenizer> {
    let name = path.display().to_string();
    let text = read_text(path)?;
    let root: Value =
        serde_json::from_str(&text).map_err(|e| Error::input(format!("{name} is not valid JSON ({e})")))?;
    let unsupported = |what: String| {
        Error::input(format!("{name}: {what}; glassbox reads GPT-2-style byte-level BPE tokenizers only"))
    };
    let Some(model) = root.get("model") else {
        return Err(unsupported("there is no \"model\"".into()));
    };
    match model.get("type").and_then(Value::as_str) {
        Some("BPE") | None => {}
        Some(other) => return Err(unsupported(format!("the model is {other}, not BPE"))),
    }
    if !has_byte_level(root.get("pre_tokenizer").unwrap_or(&Value::Null)) {
        return Err(unsupported("its pre-tokenizer is not ByteLevel".into()));
    }
    if find_flag(root.get("pre_tokenizer"), "add_prefix_space") {
        return Err(unsupported("its pre-tokenizer adds a prefix space".into()));
    }
    if !root.get("normalizer").unwrap_or(&Value::Null).is_null() {
        return Err(unsupported("it has a normalizer".into()));
    }
    if model.get("ignore_merges").and_then(Value::as_bool) == Some(true) {
        return Err(unsupported("its model sets ignore_merges".into()));
    }
    for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
        if let Some(s) = model.get(key).and_then(Value::as_str) {
            if !s.is_empty() {
                return Err(unsupported(format!("its model sets {key} to {s:?}")));
            }
        }
    }
    let vocab = vocab_from_value(model.get("vocab").unwrap_or(&Value::Null), &format!("{name} (model.vocab)"))?;
    let Some(merge_values) = model.get("merges").and_then(Value::as_array) else {
        return Err(Error::input(format!("{name}: model.merges should be a list of merges")));
    };
    let mut merges = Vec::with_capacity(merge_values.len());
    for (i, m) in merge_values.iter().enumerate() {
        let place = format!("{name} merge {i}");
        let pair = match m {
            Value::String(s) => {
                let mut parts = s.split(' ');
                match (parts.next(), parts.next(), parts.next()) {
                    (Some(a), Some(b), None) if !a.is_empty() && !b.is_empty() => Some((a.to_string(), b.to_string())),
                    _ => None,
                }
            }
            Value::Array(parts) => match parts.as_slice() {
                [Value::String(a), Value::String(b)] => Some((a.clone(), b.clone())),
                _ => None,
            },
            _ => None,
        };
        let Some((left, right)) = pair else {
            return Err(Error::input(format!("{place} should be \"left right\" or [\"left\", \"right\"], but is {m}")));
        };
        merges.push(MergeLine { left, right, place });
    }
    let mut special = Vec::new();
    if let Some(added) = root.get("added_tokens").and_then(Value::as_array) {
        for token in added {
            let content = token.get("content").and_then(Value::as_str);
            let id = token.get("id").and_then(Value::as_u64).and_then(|id| u32::try_from(id).ok());
            let (Some(content), Some(id)) = (content, id) else {
                return Err(Error::input(format!(
                    "{name}: an added token should have a \"content\" and an \"id\", but is {token}"
                )));
            };
            let is_special = token.get("special").and_then(Value::as_bool).unwrap_or(false);
            special.push((content.to_string(), id, is_special));
        }
    }
    build(vocab, merges, special, &name)
}

/// Whether a pre-tokenizer (or a sequence of them) includes ByteLevel.
fn has_byte_level(v: &Value) -> bool {
    match v.get("type").and_then(Value::as_str) {
        Some("ByteLevel") => true,
        Some("Sequence") => {
            v.get("pretokenizers").and_then(Value::as_array).is_some_and(|list| list.iter().any(has_byte_level))
        }
        _ => false,
    }
}

/// Whether `key` is `true` anywhere in a pre-tokenizer (or a sequence of them).
fn find_flag(v: Option<&Value>, key: &str) -> bool {
    let Some(v) = v else { return false };
    if v.get(key).and_then(Value::as_bool) == Some(true) {
        return true;
    }
    v.get("pretokenizers").and_then(Value::as_array).is_some_and(|list| list.iter().any(|p| find_flag(Some(p), key)))
}

/// Tokens from names, merges from names, with messages that say where a name came from.
/// `added` are tokens matched as raw text (Hugging Face's added tokens and GPT-2's
/// `<|endoftext|>`), with whether each is special.
fn build(
    vocab: Vec<(String, u32)>,
    merges: Vec<MergeLine>,
    added: Vec<(String, u32, bool)>,
    vocab_name: &str,
) -> Result<BpeTokenizer> {
    let entries = vocab.len() + added.len();
    let limit = 2 * entries as u64 + 1024;
    let mut tokens: Vec<Option<Vec<u8>>> = Vec::new();
    let mut names: Vec<Option<&str>> = Vec::new();
    let mut by_name: FxHashMap<&str, u32> = FxHashMap::default();
    let put = |tokens: &mut Vec<Option<Vec<u8>>>,
               names: &mut Vec<Option<&str>>,
               name: &str,
               id: u32,
               bytes: Vec<u8>|
     -> Result<()> {
        if id as u64 >= limit {
            return Err(Error::input(format!(
                "{vocab_name}: the token {name:?} has the id {id}, far beyond the {entries} \
                 tokens listed; ids should run from 0 to {}",
                entries.saturating_sub(1)
            )));
        }
        let i = id as usize;
        if tokens.len() <= i {
            tokens.resize(i + 1, None);
            names.resize(i + 1, None);
        }
        if let (Some(old), Some(old_name)) = (&tokens[i], names[i]) {
            if *old != bytes && old_name != name {
                return Err(Error::input(format!(
                    "{vocab_name} gives the id {id} to both {old_name:?} and {name:?}; each \
                     id must belong to one token"
                )));
            }
        }
        tokens[i] = Some(bytes);
        Ok(())
    };
    let added_names: Vec<&str> = added.iter().map(|(n, _, _)| n.as_str()).collect();
    for (name, id) in &vocab {
        let bytes = if added_names.contains(&name.as_str()) {
            name.as_bytes().to_vec()
        } else {
            string_to_bytes(name).map_err(|c| {
                Error::input(format!(
                    "{vocab_name}: the token {name:?} (id {id}) has the character {c:?}, which \
                     is not in GPT-2's byte alphabet; this is not a byte-level BPE vocabulary"
                ))
            })?
        };
        put(&mut tokens, &mut names, name, *id, bytes)?;
        names[*id as usize] = Some(name.as_str());
        by_name.insert(name.as_str(), *id);
    }
    let mut special = Vec::new();
    for (name, id, is_special) in &added {
        put(&mut tokens, &mut names, name, *id, name.as_bytes().to_vec())?;
        names[*id as usize] = Some(name.as_str());
        if *is_special {
            special.push((name.clone(), *id));
        }
    }
    let mut pairs = Vec::with_capacity(merges.len());
    for m in &merges {
        let id_of = |part: &str| {
            by_name.get(part).copied().ok_or_else(|| {
                Error::input(format!(
                    "{}: {part:?} is not in {vocab_name}; the merges and the vocabulary do not \
                     belong together",
                    m.place
                ))
            })
        };
        let (left, right) = (id_of(&m.left)?, id_of(&m.right)?);
        let joined = format!("{}{}", m.left, m.right);
        if !by_name.contains_key(joined.as_str()) {
            return Err(Error::input(format!(
                "{}: merging {:?} and {:?} makes {joined:?}, which is not in {vocab_name}",
                m.place, m.left, m.right
            )));
        }
        pairs.push((left, right));
    }
    BpeTokenizer::new(BpeParts { tokens, merges: pairs, special }).map_err(|e| match e {
        Error::Input(msg) => Error::input(format!("{vocab_name}: {msg}")),
        other => other,
    })
}

/// The text of `vocab.json`: every token by id, compact, one line (as Hugging Face writes).
pub fn vocab_json(tok: &BpeTokenizer) -> String {
    let special: Vec<u32> = tok.special_tokens().iter().map(|(_, id)| *id).collect();
    let mut out = String::with_capacity(tok.vocab_size() * 12);
    out.push('{');
    let mut first = true;
    for id in 0..tok.vocab_size() as u32 {
        let Some(bytes) = tok.token_bytes(id) else {
            continue;
        };
        let name = match (special.contains(&id), std::str::from_utf8(bytes)) {
            (true, Ok(raw)) => raw.to_string(),
            _ => bytes_to_string(bytes),
        };
        if !first {
            out.push(',');
        }
        first = false;
        // Serializing a string cannot fail.
        out.push_str(&serde_json::to_string(&name).unwrap_or_default());
        out.push(':');
        out.push_str(&id.to_string());
    }
    out.push_str("}\n");
    out
}

/// The text of `merges.txt`.
pub fn merges_txt(tok: &BpeTokenizer) -> String {
    let mut out = String::from("#version: 0.2\n");
    for m in tok.merges() {
        for (k, id) in [m.left, m.right].into_iter().enumerate() {
            if k == 1 {
                out.push(' ');
            }
            out.push_str(&bytes_to_string(tok.token_bytes(id).unwrap_or_default()));
        }
        out.push('\n');
    }
    out
}

/// Writes `data` to `path` atomically (see [`crate::io::write_atomic`]), creating its
/// folder if needed.
pub(super) fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::writing(dir, e))?;
    }
    crate::io::write_atomic(path, |w| w.write_all(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_lines_are_checked() {
        assert!(parse_merges_txt("#version: 0.2\na b\n\nab c\n", "m").is_ok());
        let err = parse_merges_txt("#version: 0.2\na b\nabc\n", "m").unwrap_err();
        assert!(err.to_string().contains("m line 3"), "{err}");
        let err = parse_merges_txt("a  b\n", "m").unwrap_err();
        assert!(err.to_string().contains("m line 1"), "{err}");
    }
}
