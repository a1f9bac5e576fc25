//! Fuzzing the parsers of files a user hands us: the safetensors header, `config.json`,
//! `vocab.json` + `merges.txt`, analogy questions and category lists. Each starts from valid inputs and mutates them (bytes
//! flipped, cut, repeated; JSON fields given other types and absurd numbers; merge lines
//! dropped, swapped and invented), then checks that the parser answers with a value or an
//! error sentence, never a panic, and that what it accepts is sound (tensor ranges inside
//! the file, a shape that validates, a tokenizer that decodes what it encodes).
//!
//! `cargo test` runs a few thousand cases per parser; a long run sets the count:
//! `GLASSBOX_FUZZ_CASES=100000 cargo test --release -p glassbox --test fuzz_parsers`
//! (TESTING.md records the counts). Seeds are fixed, so a failure reproduces.

use glassbox::io::safetensors::{write_f32_to, SafetensorsFile};
use glassbox::rng::Rng;
use glassbox::tokenizer::{merges_txt, parse_vocab_and_merges, train_bpe, vocab_json};
use glassbox::{Error, GptConfig};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;

fn cases() -> usize {
    std::env::var("GLASSBOX_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(3000)
}

/// An error is one sentence of reasonable length (inputs are echoed cut, never whole).
fn check_error(err: &Error, input: &str) {
    let message = err.to_string();
    assert!(!message.is_empty() && !message.contains('\n'), "{input}: {message:?}");
    assert!(message.len() < 1500, "{input}: an error of {} bytes", message.len());
}

/// Byte-level mutations: flip, overwrite, cut, insert, repeat a stretch.
fn mutate_bytes(rng: &mut Rng, bytes: &mut Vec<u8>) {
    let edits = 1 + rng.below(4);
    for _ in 0..edits {
        let len = bytes.len().max(1);
        match rng.below(6) {
            0 if !bytes.is_empty() => {
                let i = rng.below(bytes.len());
                bytes[i] ^= 1 << rng.below(8);
            }
            1 if !bytes.is_empty() => {
                let i = rng.below(bytes.len());
                bytes[i] = rng.next_u64() as u8;
            }
            2 => bytes.truncate(rng.below(len)),
            3 => {
                let i = rng.below(len).min(bytes.len());
                let junk: Vec<u8> = (0..1 + rng.below(16)).map(|_| rng.next_u64() as u8).collect();
                bytes.splice(i..i, junk);
            }
            4 if !bytes.is_empty() => {
                let start = rng.below(bytes.len());
                let end = (start + 1 + rng.below(64)).min(bytes.len());
                let stretch = bytes[start..end].to_vec();
                bytes.splice(end..end, stretch);
            }
            _ => {
                let interesting =
                    ["0", "-1", "1e999", "18446744073709551615", "99999999999999999999", "null", "\"", "{", "]"];
                let token = interesting[rng.below(interesting.len())].as_bytes();
                let i = rng.below(len).min(bytes.len());
                bytes.splice(i..i, token.iter().copied());
            }
        }
    }
}

/// A JSON value of a random kind, with the numbers that break careless code.
fn odd_value(rng: &mut Rng) -> Value {
    match rng.below(11) {
        0 => json!(0),
        1 => json!(-1),
        2 => json!(u64::MAX),
        3 => json!(1u64 << 40),
        4 => json!(1.5),
        5 => json!("12"),
        6 => Value::Null,
        7 => json!([1, 2]),
        8 => json!({"a": 1}),
        9 => json!(true),
        _ => json!(rng.below(100)),
    }
}

// ---------------------------------------------------------------- safetensors

fn safetensors_seed(rng: &mut Rng) -> Vec<u8> {
    let count = 1 + rng.below(4);
    let tensors: Vec<(String, Vec<usize>, Vec<f32>)> = (0..count)
        .map(|i| {
            let shape: Vec<usize> = (0..rng.below(3)).map(|_| 1 + rng.below(5)).collect();
            let n = shape.iter().product();
            (format!("t{i}"), shape, (0..n).map(|_| rng.normal() as f32).collect())
        })
        .collect();
    let views: Vec<(String, Vec<usize>, &[f32])> =
        tensors.iter().map(|(n, s, v)| (n.clone(), s.clone(), v.as_slice())).collect();
    let metadata = BTreeMap::from([("format".to_string(), "pt".to_string())]);
    let mut bytes = Vec::new();
    write_f32_to(&mut bytes, &views, &metadata).unwrap();
    bytes
}

/// Rewrites the header as JSON with one entry changed (a field given an odd value, an
/// entry repeated or removed), keeping the data.
fn mutate_header(rng: &mut Rng, bytes: &[u8]) -> Vec<u8> {
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Map<String, Value> = serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
    let mut entries: Vec<(String, Value)> = header.into_iter().collect();
    let i = rng.below(entries.len());
    match rng.below(5) {
        0 => {
            let field = ["dtype", "shape", "data_offsets"][rng.below(3)];
            if let Some(object) = entries[i].1.as_object_mut() {
                object.insert(field.into(), odd_value(rng));
            }
        }
        1 => {
            if let Some(offsets) = entries[i].1.get_mut("data_offsets").and_then(Value::as_array_mut) {
                let k = rng.below(2);
                offsets[k] = json!(offsets[k].as_u64().unwrap_or(0).wrapping_add(rng.below(9) as u64).wrapping_sub(4));
            }
        }
        2 => {
            let repeated = entries[i].clone();
            entries.push(repeated);
        }
        3 => {
            entries.remove(i);
        }
        _ => {
            if let Some(shape) = entries[i].1.get_mut("shape").and_then(Value::as_array_mut) {
                shape.push(odd_value(rng));
            }
        }
    }
    let text: Vec<String> = entries.iter().map(|(k, v)| format!("{}: {v}", Value::String(k.clone()))).collect();
    let header = format!("{{{}}}", text.join(", ")).into_bytes();
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend(header);
    out.extend_from_slice(&bytes[8 + header_len..]);
    out
}

#[test]
fn safetensors_header_fuzz() {
    let mut rng = Rng::new(0x5afe);
    let (mut accepted, mut refused) = (0usize, 0usize);
    for case in 0..cases() {
        let seed = safetensors_seed(&mut rng);
        let bytes = if rng.below(2) == 0 {
            let mut b = seed;
            mutate_bytes(&mut rng, &mut b);
            b
        } else {
            mutate_header(&mut rng, &seed)
        };
        match SafetensorsFile::from_bytes(Path::new("fuzz.safetensors"), bytes.clone()) {
            Ok(file) => {
                accepted += 1;
                for (name, info) in &file.tensors {
                    assert!(info.start <= info.end && info.end <= bytes.len(), "case {case}: {name} outside the file");
                    let _ = file.read_f32(name);
                }
            }
            Err(err) => {
                refused += 1;
                check_error(&err, &format!("case {case}"));
            }
        }
    }
    eprintln!("safetensors header: {} cases, {accepted} accepted, {refused} refused", cases());
    assert!(accepted > 0 && refused > 0, "the mutations should produce both");
}

// ---------------------------------------------------------------- config.json

fn config_seed(rng: &mut Rng) -> Value {
    let heads = 1 + rng.below(4);
    let config =
        GptConfig::new(1 + rng.below(3), heads, heads * (1 + rng.below(8)), 2 + rng.below(100), 1 + rng.below(64));
    config.to_json()
}

#[test]
fn config_json_fuzz() {
    let mut rng = Rng::new(0xc0f1);
    let (mut accepted, mut refused) = (0usize, 0usize);
    let fields = [
        "n_layer",
        "n_head",
        "n_embd",
        "vocab_size",
        "n_positions",
        "n_ctx",
        "layer_norm_epsilon",
        "eos_token_id",
        "model_type",
        "activation_function",
        "tie_word_embeddings",
        "n_inner",
        "scale_attn_weights",
        "scale_attn_by_inverse_layer_idx",
        "add_cross_attention",
        "hidden_size",
    ];
    for case in 0..cases() {
        let mut value = config_seed(&mut rng);
        for _ in 0..1 + rng.below(3) {
            let field = fields[rng.below(fields.len())];
            match rng.below(3) {
                0 => {
                    value.as_object_mut().unwrap().remove(field);
                }
                _ => {
                    value[field] = odd_value(&mut rng);
                }
            }
        }
        let mut text = value.to_string().into_bytes();
        if rng.below(3) == 0 {
            mutate_bytes(&mut rng, &mut text);
        }
        let text = String::from_utf8_lossy(&text).into_owned();
        match GptConfig::from_json_str(&text) {
            Ok(config) => {
                accepted += 1;
                assert!(config.validate().is_ok(), "case {case}: accepted a config that does not validate");
                assert!(config.n_embd.is_multiple_of(config.n_head));
                // sizes derived from an accepted config never overflow
                let _ = config.param_count();
            }
            Err(err) => {
                refused += 1;
                check_error(&err, &format!("case {case}"));
            }
        }
    }
    eprintln!("config.json: {} cases, {accepted} accepted, {refused} refused", cases());
    assert!(accepted > 0 && refused > 0);
}

// ---------------------------------------------------------------- vocab.json + merges.txt

#[test]
fn vocab_and_merges_fuzz() {
    let corpus = "the quick brown fox jumps over the lazy dog; the dog sleeps, the fox runs. \
                  Ünïcödé 文字 and numbers 12345 too\n"
        .repeat(20);
    let base = train_bpe(&corpus, 300, &mut |_, _| {}).unwrap();
    let (vocab_seed, merges_seed) = (vocab_json(&base), merges_txt(&base));
    let mut rng = Rng::new(0xb9e);
    let (mut accepted, mut refused) = (0usize, 0usize);
    for case in 0..cases() {
        let mut vocab = vocab_seed.clone();
        let mut merges = merges_seed.clone();
        match rng.below(4) {
            0 => {
                let mut b = vocab.into_bytes();
                mutate_bytes(&mut rng, &mut b);
                vocab = String::from_utf8_lossy(&b).into_owned();
            }
            1 => {
                let mut object: serde_json::Map<String, Value> = serde_json::from_str(&vocab).unwrap();
                let keys: Vec<String> = object.keys().cloned().collect();
                for _ in 0..1 + rng.below(3) {
                    let key = &keys[rng.below(keys.len())];
                    match rng.below(3) {
                        0 => {
                            object.remove(key);
                        }
                        1 => {
                            object.insert(key.clone(), odd_value(&mut rng));
                        }
                        _ => {
                            object.insert(format!("Ġnew{}", rng.below(1000)), json!(rng.below(400)));
                        }
                    }
                }
                vocab = Value::Object(object).to_string();
            }
            2 => {
                let mut lines: Vec<String> = merges.lines().map(str::to_string).collect();
                for _ in 0..1 + rng.below(3) {
                    let i = 1 + rng.below(lines.len() - 1);
                    match rng.below(4) {
                        0 => {
                            lines.remove(i);
                        }
                        1 => {
                            let j = 1 + rng.below(lines.len() - 1);
                            lines.swap(i, j);
                        }
                        2 => lines.insert(i, "x".repeat(rng.below(3))),
                        _ => lines.insert(i, format!("{} {} {}", lines[i], "q", "r")),
                    }
                }
                merges = lines.join("\n");
            }
            _ => {
                let mut b = merges.into_bytes();
                mutate_bytes(&mut rng, &mut b);
                merges = String::from_utf8_lossy(&b).into_owned();
            }
        }
        match parse_vocab_and_merges(&vocab, &merges, "vocab.json", "merges.txt") {
            Ok(tokenizer) => {
                accepted += 1;
                // what it accepts is a working tokenizer: it decodes what it encodes
                for text in ["the lazy fox", "Ünïcödé 文字 123", "\u{0}\u{7f} odd bytes"] {
                    let ids = tokenizer.encode(text);
                    assert_eq!(tokenizer.decode_bytes(&ids).unwrap(), text.as_bytes(), "case {case}");
                }
            }
            Err(err) => {
                refused += 1;
                check_error(&err, &format!("case {case}"));
            }
        }
    }
    eprintln!("vocab.json + merges.txt: {} cases, {accepted} accepted, {refused} refused", cases());
    assert!(accepted > 0 && refused > 0);
}

// ---------------------------------------------------------------- questions-words.txt and category files

/// A valid file of `: section` lines and word lines, mutated by bytes or by lines (a line
/// dropped, repeated, cut or given a stray word); the parser accepts what is well formed
/// (every section named, every question four words, every category with words) and refuses
/// the rest with one sentence naming a line.
fn line_format_fuzz(name: &str, seed_text: &str, salt: u64, parse: &dyn Fn(&[u8]) -> Result<usize, Error>) {
    let mut rng = Rng::new(salt);
    let (mut accepted, mut refused) = (0usize, 0usize);
    for case in 0..cases() {
        let mut bytes = seed_text.as_bytes().to_vec();
        if rng.below(2) == 0 {
            mutate_bytes(&mut rng, &mut bytes);
        } else {
            let mut lines: Vec<String> = seed_text.lines().map(str::to_string).collect();
            for _ in 0..1 + rng.below(3) {
                let i = rng.below(lines.len());
                match rng.below(5) {
                    0 => {
                        lines.remove(i);
                    }
                    1 => lines.insert(i, lines[i].clone()),
                    2 => lines[i] = lines[i].chars().take(rng.below(6)).collect(),
                    3 => lines[i] = format!("{} stray", lines[i]),
                    _ => lines.insert(i, ":".repeat(rng.below(3))),
                }
                if lines.is_empty() {
                    break;
                }
            }
            bytes = lines.join("\n").into_bytes();
        }
        match parse(&bytes) {
            Ok(count) => {
                accepted += 1;
                assert!(count > 0, "case {case}: accepted a file with nothing in it");
            }
            Err(err) => {
                refused += 1;
                check_error(&err, &format!("{name} case {case}"));
                let message = err.to_string();
                assert!(message.contains("line") || message.contains("no "), "{name} case {case}: {message}");
            }
        }
    }
    eprintln!("{name}: {} cases, {accepted} accepted, {refused} refused", cases());
    assert!(accepted > 0 && refused > 0);
}

#[test]
fn analogy_questions_fuzz() {
    use glassbox::inspect::analogy_eval::parse_questions;
    let seed = ": family\nking queen man woman\nlord lady father mother\n: numbers\none two three four\n\
                two three four five\n: places\nFrance Paris England London\n";
    line_format_fuzz("questions-words.txt", seed, 0x9e5, &|bytes| {
        let text = std::str::from_utf8(bytes).map_err(|_| Error::input("not UTF-8 (no line)"))?;
        let sections = parse_questions(text, "questions.txt")?;
        Ok(sections.iter().map(|s| s.questions.len()).sum())
    });
}

#[test]
fn category_file_fuzz() {
    use glassbox::inspect::categories::parse_categories;
    let seed = ": royalty\nking queen prince\nduke\n: animals\nhorse dog lion wolf\n: numbers\none two three\n";
    line_format_fuzz("categories file", seed, 0xca7, &|bytes| {
        let categories = parse_categories(bytes, "categories.txt")?;
        for c in &categories {
            assert!(!c.name.is_empty() && !c.words.is_empty(), "{c:?}");
        }
        Ok(categories.len())
    });
}
