//! Tokenization: text ↔ ids, the first stage of the pipeline.
//!
//! ```text
//! text ──pretokenize──▶ pieces ──BPE merges──▶ ids ──embedding──▶ …      (byte-level BPE)
//! text ──one id per character──▶ ids ──embedding──▶ …                   (characters)
//! ```
//!
//! - [`Tokenizer`]: the tokenizer of a model directory, byte-level BPE (GPT-2's, or one
//!   trained here) or characters; found by [`Tokenizer::from_model_dir`].
//! - `pretokenize.rs`: GPT-2's split of text into pieces (a hand-written scanner equal to
//!   its regex). `byte_level.rs`: bytes ↔ the printable characters of `vocab.json`.
//!   `bpe.rs`: encode, decode, explain merges. `train.rs`: learn merges from a corpus.
//!   `chars.rs`: the character tokenizer. `files.rs`: `vocab.json`, `merges.txt`,
//!   `tokenizer.json`. `view.rs`: how a token reads to a person (bytes, and the character a
//!   partial token helps to form).

mod bpe;
mod byte_level;
mod chars;
mod files;
mod fx;
mod pretokenize;
mod train;
mod unicode_tables;
mod view;

pub use self::bpe::{BpeTokenizer, Merge, MergeStep, PieceExplanation};
pub use self::byte_level::{byte_to_char, bytes_to_string, char_to_byte};
pub use self::chars::{CharTokenizer, CHAR_FILE};
pub use self::files::{merges_txt, parse_vocab_and_merges, read_tokenizer_json, read_vocab_and_merges, vocab_json};
pub use self::pretokenize::{
    char_class, pretokenize, pretokenize_reference, split_for_parallel, CharClass, Pieces, GPT2_PATTERN,
};
pub use self::train::{train_bpe, MIN_BPE_VOCAB};
pub use self::view::{escape_text, TokenPart, TokenView};

use crate::{Error, Result};
use rayon::prelude::*;
use std::path::Path;

/// GPT-2's one special token: the boundary between documents (id 50256 in GPT-2).
pub const END_OF_TEXT: &str = "<|endoftext|>";

/// File names in a model directory.
pub const VOCAB_FILE: &str = "vocab.json";
pub const MERGES_FILE: &str = "merges.txt";
pub const HF_TOKENIZER_FILE: &str = "tokenizer.json";

/// A model's tokenizer.
#[derive(Clone, Debug)]
pub enum Tokenizer {
    /// Byte-level BPE, as GPT-2: any text (any bytes) encodes, nothing is unknown.
    Bpe(BpeTokenizer),
    /// One token per character seen in the training text.
    Char(CharTokenizer),
}

impl Tokenizer {
    /// The tokenizer in a model directory: `vocab.json` + `merges.txt`, else
    /// `tokenizer.json`, else `tokenizer_char.json`; `None` if it has none of them.
    pub fn from_model_dir(dir: &Path) -> Result<Option<Tokenizer>> {
        if !dir.exists() {
            return Err(Error::input(format!("{} does not exist; check the path", dir.display())));
        }
        if !dir.is_dir() {
            return Err(Error::input(format!(
                "{} is a file, not a directory; give the model directory that holds it",
                dir.display()
            )));
        }
        let vocab = dir.join(VOCAB_FILE);
        let merges = dir.join(MERGES_FILE);
        let hf = dir.join(HF_TOKENIZER_FILE);
        let chars = dir.join(CHAR_FILE);
        let has_bpe = vocab.is_file() || merges.is_file() || hf.is_file();
        if has_bpe && chars.is_file() {
            return Err(Error::input(format!(
                "{} has both a BPE vocabulary and {CHAR_FILE}; remove the one the model was \
                 not trained with",
                dir.display()
            )));
        }
        match (vocab.is_file(), merges.is_file()) {
            (true, true) => return read_vocab_and_merges(&vocab, &merges).map(|t| Some(t.into())),
            (true, false) | (false, true) if !hf.is_file() => {
                let (has, lacks) = if vocab.is_file() { (VOCAB_FILE, MERGES_FILE) } else { (MERGES_FILE, VOCAB_FILE) };
                return Err(Error::input(format!(
                    "{} has {has} but no {lacks}; a GPT-2 vocabulary needs both files",
                    dir.display()
                )));
            }
            _ => {}
        }
        if hf.is_file() {
            return read_tokenizer_json(&hf).map(|t| Some(t.into()));
        }
        if chars.is_file() {
            return CharTokenizer::load(&chars).map(|t| Some(t.into()));
        }
        Ok(None)
    }

    /// Like [`from_model_dir`](Self::from_model_dir), but a directory without a tokenizer
    /// is an error that says what was looked for.
    pub fn load(dir: &Path) -> Result<Tokenizer> {
        Self::from_model_dir(dir)?.ok_or_else(|| {
            Error::input(format!(
                "{} has no tokenizer: expected {VOCAB_FILE} + {MERGES_FILE}, \
                 {HF_TOKENIZER_FILE}, or {CHAR_FILE}",
                dir.display()
            ))
        })
    }

    /// Writes the tokenizer's files into `dir` (created if needed): `vocab.json` +
    /// `merges.txt`, or `tokenizer_char.json`. Each file is written atomically.
    pub fn save(&self, dir: &Path) -> Result<()> {
        match self {
            Tokenizer::Bpe(t) => {
                files::write_atomic(&dir.join(VOCAB_FILE), vocab_json(t).as_bytes())?;
                files::write_atomic(&dir.join(MERGES_FILE), merges_txt(t).as_bytes())
            }
            Tokenizer::Char(t) => t.save(dir),
        }
    }

    /// Encodes text; `<|endoftext|>` is ordinary text here. A character tokenizer skips
    /// characters it does not know: only for text passed through
    /// [`check_covers`](Self::check_covers); a user's text goes through
    /// [`encode_checked`](Self::encode_checked).
    pub fn encode(&self, text: &str) -> Vec<u32> {
        match self {
            Tokenizer::Bpe(t) => t.encode(text),
            Tokenizer::Char(t) => t.encode(text),
        }
    }

    /// Encodes text with `<|endoftext|>` (and any other special token) as its own id. A
    /// character vocabulary has no special tokens: its text is checked as by
    /// [`encode_checked`](Self::encode_checked).
    pub fn encode_allow_special(&self, text: &str) -> Result<Vec<u32>> {
        match self {
            Tokenizer::Bpe(t) => Ok(t.encode_allow_special(text)),
            Tokenizer::Char(t) => t.encode_checked(text),
        }
    }

    /// Fails when this tokenizer cannot represent all of `text` (a character vocabulary
    /// lacking some of its characters), saying how many and which; BPE covers every byte.
    pub fn check_covers(&self, text: &str) -> Result<()> {
        match self {
            Tokenizer::Bpe(_) => Ok(()),
            Tokenizer::Char(t) => t.check_covers(text),
        }
    }

    /// Encodes text, failing (bad input) on a character a character tokenizer lacks. BPE
    /// never fails: every byte has a token. Prefer this for a user's prompt.
    pub fn encode_checked(&self, text: &str) -> Result<Vec<u32>> {
        match self {
            Tokenizer::Bpe(t) => Ok(t.encode(text)),
            Tokenizer::Char(t) => t.encode_checked(text),
        }
    }

    /// Encodes any bytes, UTF-8 or not (BPE only; a character tokenizer needs valid text
    /// made of its characters).
    pub fn encode_bytes(&self, bytes: &[u8]) -> Result<Vec<u32>> {
        match self {
            Tokenizer::Bpe(t) => Ok(t.encode_bytes(bytes)),
            Tokenizer::Char(t) => match std::str::from_utf8(bytes) {
                Ok(text) => t.encode_checked(text),
                Err(e) => Err(Error::input(format!(
                    "the input is not UTF-8 (at byte {}), and a character tokenizer encodes \
                     text only",
                    e.valid_up_to()
                ))),
            },
        }
    }

    /// Encodes a large text on every core (split where pre-tokenization cannot see across,
    /// so the ids are exactly [`encode`](Self::encode)'s).
    pub fn encode_parallel(&self, text: &str) -> Vec<u32> {
        let parts = split_for_parallel(text, rayon::current_num_threads().max(1) * 4);
        if parts.len() < 2 {
            return self.encode(text);
        }
        self.encode_batch(&parts).concat()
    }

    /// Encodes many texts (documents, lines) on every core; `encode_batch(texts)[i]` is
    /// `encode(texts[i])`. Each worker keeps its piece cache across the texts it takes.
    pub fn encode_batch(&self, texts: &[&str]) -> Vec<Vec<u32>> {
        match self {
            Tokenizer::Bpe(t) => texts
                .par_iter()
                .map_init(
                    || bpe::Encoder::new(t),
                    |encoder, text| {
                        let mut out = Vec::with_capacity(text.len() / 4 + 1);
                        encoder.text(text, &mut out);
                        out
                    },
                )
                .collect(),
            Tokenizer::Char(t) => texts.par_iter().map(|text| t.encode(text)).collect(),
        }
    }

    /// The bytes of `ids`; an id out of range is bad input.
    pub fn decode_bytes(&self, ids: &[u32]) -> Result<Vec<u8>> {
        match self {
            Tokenizer::Bpe(t) => t.decode_bytes(ids),
            Tokenizer::Char(t) => t.decode_bytes(ids),
        }
    }

    /// The text of `ids`. Byte-level tokens can end inside a character; bytes that do not
    /// form UTF-8 become U+FFFD (use [`decode_text`](Self::decode_text) to know whether).
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        Ok(self.decode_text(ids)?.text)
    }

    /// The text of `ids`, and how many stretches of bytes were not UTF-8 and became U+FFFD.
    pub fn decode_text(&self, ids: &[u32]) -> Result<DecodedText> {
        let bytes = self.decode_bytes(ids)?;
        let n_bytes = bytes.len();
        let replaced = bytes.utf8_chunks().filter(|c| !c.invalid().is_empty()).count();
        let text = match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        Ok(DecodedText { text, replaced, bytes: n_bytes })
    }

    pub fn token_bytes(&self, id: u32) -> Option<&[u8]> {
        match self {
            Tokenizer::Bpe(t) => t.token_bytes(id),
            Tokenizer::Char(t) => t.token_bytes(id),
        }
    }

    pub fn vocab_size(&self) -> usize {
        match self {
            Tokenizer::Bpe(t) => t.vocab_size(),
            Tokenizer::Char(t) => t.vocab_size(),
        }
    }

    /// The id of `<|endoftext|>` (BPE vocabularies that have it).
    pub fn end_of_text(&self) -> Option<u32> {
        match self {
            Tokenizer::Bpe(t) => t.end_of_text(),
            Tokenizer::Char(_) => None,
        }
    }

    /// A short description: "byte-level BPE, 50257 tokens (50000 merges)".
    pub fn describe(&self) -> String {
        match self {
            Tokenizer::Bpe(t) => format!("byte-level BPE, {} tokens ({} merges)", t.vocab_size(), t.merges().len()),
            Tokenizer::Char(t) => format!("characters, {} tokens", t.vocab_size()),
        }
    }

    /// How each pre-token of `text` becomes tokens, merge by merge (BPE only).
    pub fn explain(&self, text: &str, allow_special: bool) -> Result<Vec<PieceExplanation>> {
        match self {
            Tokenizer::Bpe(t) => Ok(t.explain(text, allow_special)),
            Tokenizer::Char(_) => {
                Err(Error::input("a character tokenizer has no merges to explain: each character is one token"))
            }
        }
    }

    /// How each token of `ids` reads: its bytes, its text, and for a token that holds part
    /// of a multi-byte character, which character it helps to form.
    pub fn views(&self, ids: &[u32]) -> Result<Vec<TokenView>> {
        view::token_views(self, ids)
    }
}

impl From<BpeTokenizer> for Tokenizer {
    fn from(t: BpeTokenizer) -> Self {
        Tokenizer::Bpe(t)
    }
}

impl From<CharTokenizer> for Tokenizer {
    fn from(t: CharTokenizer) -> Self {
        Tokenizer::Char(t)
    }
}

/// Decoded text, and whether it had to be repaired.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodedText {
    pub text: String,
    /// How many stretches of bytes were not valid UTF-8 (each became U+FFFD); 0 means the
    /// text is exact.
    pub replaced: usize,
    /// How many bytes the ids decode to.
    pub bytes: usize,
}

/// Streams text for generated ids without splitting a multi-byte character: push an id,
/// get the complete UTF-8 text available so far. Bytes that can never become UTF-8 come out
/// as U+FFFD; an unfinished character waits for the next id (or [`finish`](Self::finish)).
#[derive(Clone, Debug, Default)]
pub struct StreamDecoder {
    pending: Vec<u8>,
}

impl StreamDecoder {
    pub fn new() -> Self {
        StreamDecoder::default()
    }

    /// Adds one token; returns the text that is now complete (maybe empty).
    pub fn push(&mut self, tok: &Tokenizer, id: u32) -> Result<String> {
        let bytes = tok.token_bytes(id).ok_or_else(|| match tok {
            Tokenizer::Bpe(t) => t.no_such_id(id),
            Tokenizer::Char(t) => Error::input(format!(
                "token id {id} is out of range: this character vocabulary has {} tokens",
                t.vocab_size()
            )),
        })?;
        self.pending.extend_from_slice(bytes);
        let mut out = String::new();
        loop {
            match std::str::from_utf8(&self.pending) {
                Ok(s) => {
                    out.push_str(s);
                    self.pending.clear();
                    break;
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    out.push_str(&String::from_utf8_lossy(&self.pending[..valid]));
                    match e.error_len() {
                        // An unfinished character at the end: wait for more bytes.
                        None => {
                            self.pending.drain(..valid);
                            break;
                        }
                        Some(n) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            self.pending.drain(..valid + n);
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// The rest: an unfinished character at the end becomes U+FFFD.
    pub fn finish(&mut self) -> String {
        let out = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        out
    }
}
