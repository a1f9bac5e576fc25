//! Tokenization against GPT-2's real vocabulary and ids, round trips of arbitrary bytes,
//! training, the character tokenizer, and the errors bad files and values give.

mod common;

use glassbox::tokenizer::{
    char_class, pretokenize, pretokenize_reference, train_bpe, BpeTokenizer, CharClass, CharTokenizer, StreamDecoder,
    TokenPart, Tokenizer,
};
use glassbox::Error;
use std::path::{Path, PathBuf};

/// A small seeded RNG (xorshift64*), so the property tests are reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn gpt2_dir() -> Option<PathBuf> {
    common::shared_dir().map(|s| s.join("conformance/gpt2vocab"))
}

fn gpt2() -> Option<Tokenizer> {
    let dir = gpt2_dir()?;
    let tok = Tokenizer::from_model_dir(&dir)
        .expect("GPT-2's vocab.json + merges.txt load")
        .expect("the gpt2vocab folder has a tokenizer");
    assert!(matches!(tok, Tokenizer::Bpe(_)));
    Some(tok)
}

fn bpe(tok: &Tokenizer) -> &BpeTokenizer {
    match tok {
        Tokenizer::Bpe(t) => t,
        Tokenizer::Char(_) => panic!("expected a BPE tokenizer"),
    }
}

/// A small vocabulary trained on a fixed text (no fixtures needed).
fn trained_small() -> Tokenizer {
    let text = "The quick brown fox jumps over the lazy dog. 你好，世界！\n\
                Numbers 12345 and 3.14159; don't stop, won't stop. naïve café\n"
        .repeat(20);
    Tokenizer::Bpe(train_bpe(&text, 400, &mut |_, _| {}).expect("training works"))
}

fn assert_input_error<T: std::fmt::Debug>(result: glassbox::Result<T>, needle: &str) -> String {
    match result {
        Err(Error::Input(msg)) => {
            assert!(msg.contains(needle), "message {msg:?} should mention {needle:?}");
            assert!(!msg.contains('\n'), "one sentence, one line: {msg:?}");
            msg
        }
        other => panic!("expected Error::Input mentioning {needle:?}, got {other:?}"),
    }
}

#[test]
fn gpt2_cases_give_exact_ids_and_round_trip() {
    let Some(tok) = gpt2() else { return };
    assert_eq!(tok.vocab_size(), 50257);
    assert_eq!(tok.end_of_text(), Some(50256));
    let cases = std::fs::read_to_string(common::shared_dir().unwrap().join("tokenizer/gpt2-cases.jsonl"))
        .expect("read gpt2-cases.jsonl");
    let mut n = 0;
    let mut special_cases = 0;
    for line in cases.lines().filter(|l| !l.trim().is_empty()) {
        let case: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        let text = case["text"].as_str().expect("text");
        let want: Vec<u32> = case["ids"].as_array().expect("ids").iter().map(|v| v.as_u64().unwrap() as u32).collect();
        let allowed = case["allowed_special"].as_bool().unwrap_or(false);
        let got = if allowed {
            special_cases += 1;
            tok.encode_allow_special(text).unwrap()
        } else {
            tok.encode(text)
        };
        assert_eq!(got, want, "ids of {text:?}");
        assert_eq!(tok.decode(&got).unwrap(), text, "decode(encode({text:?}))");
        // The explain path merges with a heap, encode with a scan: the same ids.
        let explained: Vec<u32> = tok.explain(text, allowed).unwrap().iter().flat_map(|p| p.ids.clone()).collect();
        assert_eq!(explained, want, "explained ids of {text:?}");
        assert_eq!(bpe(&tok).encode_bytes(text.as_bytes()), tok.encode(text));
        n += 1;
    }
    assert!(n >= 40, "expected the whole case file, read {n} lines");
    assert_eq!(special_cases, 1);
    // As ordinary text, <|endoftext|> is several tokens.
    assert!(tok.encode("<|endoftext|>").len() > 1);
}

#[test]
fn tinyshakespeare_encodes_to_the_reference_ids() {
    let Some(tok) = gpt2() else { return };
    let shared = common::shared_dir().unwrap();
    let text = std::fs::read_to_string(shared.join("data/tinyshakespeare.txt")).unwrap();
    let raw = std::fs::read(shared.join("tokenizer/tinyshakespeare.gpt2.u32")).unwrap();
    let want: Vec<u32> = raw.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    assert_eq!(want.len(), 338_025);
    let got = tok.encode(&text);
    assert_eq!(got.len(), want.len());
    if let Some(i) = got.iter().zip(&want).position(|(a, b)| a != b) {
        panic!("first difference at token {i}: ours {} reference {}", got[i], want[i]);
    }
    assert_eq!(tok.encode_parallel(&text), want, "the parallel encoder agrees");
    let explained: Vec<u32> = tok.explain(&text, false).unwrap().into_iter().flat_map(|p| p.ids).collect();
    assert_eq!(explained, want, "the heap-based merge (explain) agrees");
    assert_eq!(tok.decode(&got).unwrap(), text);
}

#[test]
fn hand_written_pre_tokenizer_matches_the_gpt2_regex() {
    let alphabet: Vec<&str> = vec![
        " ",
        " ",
        " ",
        "  ",
        "\t",
        "\n",
        "\r\n",
        "\u{a0}",
        "\u{3000}",
        "\u{85}",
        "\u{2003}",
        "a",
        "Z",
        "é",
        "ß",
        "中",
        "文",
        "ñ",
        "Ω",
        "й",
        "ت",
        "1",
        "9",
        "½",
        "Ⅻ",
        "٣",
        "０",
        "'",
        "'s",
        "'t",
        "'re",
        "'ve",
        "'m",
        "'ll",
        "'d",
        "'S",
        "''",
        ".",
        "!",
        "?",
        "-",
        "$",
        "😀",
        "👍🏽",
        "\u{301}",
        "\u{200b}",
        "\u{1c}",
        "\u{0}",
        "<|endoftext|>",
        "_",
        "@",
    ];
    let mut rng = Rng(0x9E3779B97F4A7C15);
    for _ in 0..4000 {
        let len = rng.below(24);
        let text: String = (0..len).map(|_| alphabet[rng.below(alphabet.len())]).collect();
        let ours: Vec<&str> = pretokenize(&text).collect();
        let reference = pretokenize_reference(&text).unwrap();
        assert_eq!(ours, reference, "pieces of {text:?}");
        assert_eq!(ours.concat(), text);
    }
}

#[test]
fn character_classes_match_the_regex_for_every_code_point() {
    let all: String = (0u32..=0x10FFFF).filter_map(char::from_u32).collect();
    for (pattern, class) in [(r"\p{L}", CharClass::Letter), (r"\p{N}", CharClass::Number), (r"\s", CharClass::Space)] {
        let regex = fancy_regex::Regex::new(pattern).unwrap();
        let matched: std::collections::HashSet<u32> =
            regex.find_iter(&all).map(|m| m.unwrap().as_str().chars().next().unwrap() as u32).collect();
        for c in all.chars() {
            let code = c as u32;
            assert_eq!(char_class(code) == class, matched.contains(&code), "U+{code:04X} and {pattern}");
        }
    }
}

/// Random bytes: ASCII, UTF-8 characters, their fragments, and bytes that are never UTF-8.
fn random_bytes(rng: &mut Rng) -> Vec<u8> {
    let pieces: [&[u8]; 12] = [
        b" ",
        b"the",
        b"\n",
        b"'s",
        "你".as_bytes(),
        &"你".as_bytes()[..2],
        "😀".as_bytes(),
        &"😀".as_bytes()[1..],
        b"\xff",
        b"\xc0\x80",
        b"\xed\xa0\x80",
        b"  ",
    ];
    let len = rng.below(40);
    let mut out = Vec::new();
    for _ in 0..len {
        match rng.below(3) {
            0 => out.push(rng.next() as u8),
            1 => out.push(b"abc xyz.,'0123\t"[rng.below(15)]),
            _ => out.extend_from_slice(pieces[rng.below(pieces.len())]),
        }
    }
    out
}

#[test]
fn arbitrary_bytes_round_trip() {
    let mut vocabularies = vec![trained_small()];
    vocabularies.extend(gpt2());
    for tok in &vocabularies {
        let mut rng = Rng(42);
        for _ in 0..3000 {
            let bytes = random_bytes(&mut rng);
            let ids = tok.encode_bytes(&bytes).unwrap();
            assert_eq!(tok.decode_bytes(&ids).unwrap(), bytes, "round trip of {bytes:?}");
            if let Ok(text) = std::str::from_utf8(&bytes) {
                assert_eq!(ids, tok.encode(text), "encode_bytes = encode on UTF-8");
            } else {
                let decoded = tok.decode_text(&ids).unwrap();
                assert!(decoded.replaced > 0, "lossy decoding says so");
            }
        }
    }
}

#[test]
fn stream_decoder_never_splits_a_character() {
    let tok = trained_small();
    let text = "我是一名学生 emoji 😀👍🏽 ok, naïve";
    let ids = tok.encode(text);
    let mut stream = StreamDecoder::new();
    let mut out = String::new();
    for &id in &ids {
        let chunk = stream.push(&tok, id).unwrap();
        assert!(!chunk.contains('\u{FFFD}'), "chunk {chunk:?}");
        out.push_str(&chunk);
    }
    out.push_str(&stream.finish());
    assert_eq!(out, text);
    assert_input_error(stream.push(&tok, 1_000_000), "out of range");
}

#[test]
fn views_show_partial_characters_honestly() {
    let Some(tok) = gpt2() else { return };
    // GPT-2 spells 我 as two tokens: e6 88 and 91.
    let ids = tok.encode("我是");
    let views = tok.views(&ids).unwrap();
    assert_eq!(views[0].hex(), "e6 88");
    assert_eq!(views[0].label(), "part of \"我\"");
    assert_eq!(views[0].parts, [TokenPart::PartOf { character: '我', first: 0, len: 2, of: 3 }]);
    assert_eq!(views[1].label(), "part of \"我\"");
    assert_eq!(views[2].label(), "\"是\"");
    let emoji = tok.views(&tok.encode("emoji 😀")).unwrap();
    assert!(emoji.iter().any(|v| v.label() == "\" \" + part of \"😀\""), "{emoji:?}");
    for v in tok.views(&tok.encode("안녕하세요 ＦＵＬＬ")).unwrap() {
        assert!(!v.label().contains('\u{FFFD}'), "{v:?}");
    }
}

#[test]
fn explain_shows_merges_from_bytes_to_tokens() {
    let Some(tok) = gpt2() else { return };
    let pieces = tok.explain("Hello world", false).unwrap();
    assert_eq!(pieces.len(), 2);
    assert_eq!(pieces[0].piece, b"Hello");
    assert_eq!(pieces[0].ids, [15496]);
    assert_eq!(pieces[1].ids, [995]);
    for p in &pieces {
        assert_eq!(p.start.len(), p.piece.len());
        assert_eq!(p.steps.len(), p.start.len() - p.ids.len());
        assert_eq!(p.states().last(), Some(&p.ids));
        for s in &p.steps {
            assert_eq!(bpe(&tok).merge_of(s.left, s.right), Some((s.rank, s.merged)));
        }
    }
    let special = tok.explain("a<|endoftext|>", true).unwrap();
    assert!(special.last().unwrap().special);
    assert_eq!(special.last().unwrap().ids, [50256]);
}

#[test]
fn training_saves_reloads_and_reproduces() {
    let text = match common::shared_dir() {
        Some(s) => std::fs::read_to_string(s.join("data/tinyshakespeare.txt")).unwrap()[..200_000].to_string(),
        None => "To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n".repeat(200),
    };
    let mut calls = 0;
    let mut last = (0, 0);
    let trained = train_bpe(&text, 420, &mut |done, total| {
        calls += 1;
        last = (done, total);
    })
    .unwrap();
    assert_eq!(trained.vocab_size(), 420);
    assert_eq!(trained.end_of_text(), Some(419));
    assert_eq!(last, (163, 163), "progress reaches its total");
    assert!(calls > 100);
    // The first merges of English text.
    let first = trained.merges()[0];
    let spelled = |id| String::from_utf8_lossy(trained.token_bytes(id).unwrap()).into_owned();
    assert_eq!(spelled(first.merged), format!("{}{}", spelled(first.left), spelled(first.right)));

    let dir = tempfile::tempdir().unwrap();
    let tok = Tokenizer::Bpe(trained.clone());
    tok.save(dir.path()).unwrap();
    let names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names.len(), 2, "vocab.json and merges.txt, no temporary files: {names:?}");
    let loaded = Tokenizer::from_model_dir(dir.path()).unwrap().unwrap();
    assert_eq!(loaded.vocab_size(), 420);
    assert_eq!(bpe(&loaded).merges(), trained.merges());
    assert_eq!(loaded.end_of_text(), Some(419));
    let ids = loaded.encode(&text);
    assert_eq!(ids, tok.encode(&text));
    assert!(
        ids.len() * 3 < text.len() * 2,
        "420 tokens compress English by over 1.5×: {} ids for {} bytes",
        ids.len(),
        text.len()
    );
    assert_eq!(loaded.decode(&ids).unwrap(), text);
    assert_eq!(
        loaded.encode_allow_special("a<|endoftext|>b").unwrap(),
        [loaded.encode("a")[0], 419, loaded.encode("b")[0]]
    );

    // Same corpus, same merges: training is deterministic, and saving is byte-stable.
    let again = train_bpe(&text, 420, &mut |_, _| {}).unwrap();
    assert_eq!(again.merges(), trained.merges());
    let dir2 = tempfile::tempdir().unwrap();
    Tokenizer::Bpe(again).save(dir2.path()).unwrap();
    for f in ["vocab.json", "merges.txt"] {
        assert_eq!(std::fs::read(dir.path().join(f)).unwrap(), std::fs::read(dir2.path().join(f)).unwrap(), "{f}");
    }
}

#[test]
fn training_on_a_tiny_corpus_stops_when_pairs_run_out() {
    let tok = train_bpe("abab", 1000, &mut |_, _| {}).unwrap();
    // "abab" → ab, then abab: two merges, then nothing left to merge.
    assert_eq!(tok.merges().len(), 2);
    assert_eq!(tok.vocab_size(), 259);
    assert_eq!(tok.encode("abab"), [257]);
}

#[test]
fn tokenizer_json_gives_the_same_ids() {
    let Some(dir) = gpt2_dir() else { return };
    let vocab: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("vocab.json")).unwrap()).unwrap();
    let merges: Vec<String> =
        std::fs::read_to_string(dir.join("merges.txt")).unwrap().lines().skip(1).map(String::from).collect();
    let json = serde_json::json!({
        "version": "1.0",
        "added_tokens": [{"id": 50256, "content": "<|endoftext|>", "special": true}],
        "normalizer": null,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
        "decoder": {"type": "ByteLevel"},
        "model": {"type": "BPE", "vocab": vocab, "merges": merges},
    });
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("tokenizer.json"), json.to_string()).unwrap();
    let from_json = Tokenizer::from_model_dir(tmp.path()).unwrap().unwrap();
    let from_files = gpt2().unwrap();
    for text in ["Hello world", "naïve café 我是一名学生", "<|endoftext|> and more"] {
        assert_eq!(from_json.encode(text), from_files.encode(text));
        assert_eq!(from_json.encode_allow_special(text).unwrap(), from_files.encode_allow_special(text).unwrap());
    }
    assert_eq!(from_json.end_of_text(), Some(50256));
}

#[test]
fn character_tokenizer_as_nanogpt() {
    let text = match common::shared_dir() {
        Some(s) => std::fs::read_to_string(s.join("data/tinyshakespeare.txt")).unwrap(),
        None => "First Citizen:\nBefore we proceed any further, hear me speak.\n".to_string(),
    };
    let chars = CharTokenizer::from_text(&text).unwrap();
    if common::shared_dir().is_some() {
        assert_eq!(chars.vocab_size(), 65, "tiny shakespeare has 65 characters");
        assert_eq!(chars.chars()[0], '\n');
        assert_eq!(chars.chars()[1], ' ');
    }
    let tok = Tokenizer::Char(chars);
    let dir = tempfile::tempdir().unwrap();
    tok.save(dir.path()).unwrap();
    let saved = std::fs::read_to_string(dir.path().join("tokenizer_char.json")).unwrap();
    assert!(saved.starts_with(r#"{"type":"char","chars":["#), "{saved}");
    let loaded = Tokenizer::from_model_dir(dir.path()).unwrap().unwrap();
    let ids = loaded.encode(&text);
    assert_eq!(ids.len(), text.chars().count());
    assert_eq!(loaded.decode(&ids).unwrap(), text);
    assert_input_error(loaded.encode_checked("€"), "not in this character vocabulary");
    assert_eq!(loaded.end_of_text(), None);
    assert_input_error(CharTokenizer::from_text(""), "empty");
}

// ---- bad input: each a clear one-sentence `Error::Input` ----

fn write_dir(vocab: &str, merges: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("vocab.json"), vocab).unwrap();
    std::fs::write(dir.path().join("merges.txt"), merges).unwrap();
    dir
}

/// A valid byte-level vocab.json with 256 bytes plus `extra` tokens.
fn byte_vocab(extra: &[&str]) -> String {
    let mut map = serde_json::Map::new();
    for b in 0..=255u8 {
        let id = map.len();
        map.insert(glassbox::tokenizer::byte_to_char(b).to_string(), id.into());
    }
    for e in extra {
        let id = map.len();
        map.insert(e.to_string(), id.into());
    }
    serde_json::Value::Object(map).to_string()
}

fn load(dir: &Path) -> glassbox::Result<Option<Tokenizer>> {
    Tokenizer::from_model_dir(dir)
}

#[test]
fn a_small_valid_vocabulary_loads() {
    let dir = write_dir(&byte_vocab(&["ab", "abc"]), "#version: 0.2\na b\nab c\n");
    let tok = load(dir.path()).unwrap().unwrap();
    assert_eq!(tok.encode("abc"), [257]);
}

#[test]
fn malformed_vocab_json_is_bad_input() {
    let dir = write_dir("{\"a\": 0,,}", "#version: 0.2\n");
    let msg = assert_input_error(load(dir.path()), "vocab.json is not valid JSON");
    assert!(msg.contains("line 1"), "{msg}");
    let dir = write_dir("{\"a\": \"zero\"}", "#version: 0.2\n");
    assert_input_error(load(dir.path()), "whole number");
    let dir = write_dir("[1, 2]", "#version: 0.2\n");
    assert_input_error(load(dir.path()), "should be a JSON object");
    let dir = write_dir("{\"中\": 0}", "#version: 0.2\n");
    assert_input_error(load(dir.path()), "byte alphabet");
    let dir = write_dir("{\"a\": 0}", "#version: 0.2\n");
    assert_input_error(load(dir.path()), "no token for the byte");
}

#[test]
fn malformed_merges_txt_names_the_line() {
    let dir = write_dir(&byte_vocab(&["ab"]), "#version: 0.2\na b\nabc\n");
    assert_input_error(load(dir.path()), "merges.txt line 3");
}

#[test]
fn a_merge_outside_the_vocabulary_is_bad_input() {
    let dir = write_dir(&byte_vocab(&["ab"]), "#version: 0.2\na b\nxy z\n");
    let msg = assert_input_error(load(dir.path()), "merges.txt line 3");
    assert!(msg.contains("\"xy\" is not in"), "{msg}");
    let dir = write_dir(&byte_vocab(&[]), "#version: 0.2\na b\n");
    assert_input_error(load(dir.path()), "makes \"ab\", which is not in");
}

#[test]
fn half_a_vocabulary_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("vocab.json"), byte_vocab(&[])).unwrap();
    assert_input_error(load(dir.path()), "no merges.txt");
    let empty = tempfile::tempdir().unwrap();
    assert!(load(empty.path()).unwrap().is_none());
    assert_input_error(Tokenizer::load(empty.path()), "has no tokenizer");
    assert_input_error(load(&empty.path().join("missing")), "does not exist");
}

#[test]
fn an_id_out_of_range_is_bad_input() {
    let tok = trained_small();
    assert_input_error(tok.decode_bytes(&[1, 2, 400]), "token id 400 is out of range");
    assert_input_error(tok.decode(&[u32::MAX]), "out of range");
    let chars = Tokenizer::Char(CharTokenizer::from_text("abc").unwrap());
    assert_input_error(chars.decode(&[3]), "token id 3 is out of range");
}

#[test]
fn training_rejects_a_tiny_vocabulary_and_an_empty_corpus() {
    assert_input_error(train_bpe("some text", 200, &mut |_, _| {}), "at least 257");
    assert_input_error(train_bpe("some text", 256, &mut |_, _| {}), "at least 257");
    assert_input_error(train_bpe("", 1000, &mut |_, _| {}), "empty");
}
