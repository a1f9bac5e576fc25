//! The character tokenizer: one token per distinct character of the corpus, in code-point
//! order (nanoGPT's `shakespeare_char`: 65 tokens for tiny shakespeare). The simplest
//! tokenizer there is, and the easiest to watch a model learn with.
//!
//! Pipeline position: text ──here──▶ ids, in place of BPE. Saved in a model directory as
//! `tokenizer_char.json`: `{"type": "char", "chars": ["\n", " ", "!", ...]}`.

use super::files::{read_text, write_atomic};
use super::fx::FxHashMap;
use crate::{Error, Result};
use std::path::Path;

/// The file name of a character vocabulary in a model directory.
pub const CHAR_FILE: &str = "tokenizer_char.json";

/// One id per character; id `i` is `chars[i]`.
#[derive(Clone, Debug)]
pub struct CharTokenizer {
    chars: Vec<char>,
    /// The UTF-8 bytes of every character, back to back, 4-byte slots.
    utf8: Vec<[u8; 4]>,
    /// ASCII characters' ids, for speed; `u32::MAX` where absent.
    ascii: Box<[u32; 128]>,
    /// Every other character's id.
    others: FxHashMap<char, u32>,
}

impl CharTokenizer {
    /// The vocabulary of the characters that occur in `text`, sorted by code point.
    pub fn from_text(text: &str) -> Result<Self> {
        if text.is_empty() {
            return Err(Error::input("the text is empty; a character vocabulary needs at least one character"));
        }
        let mut seen = [false; 128];
        let mut rest: Vec<char> = Vec::new();
        for c in text.chars() {
            if (c as u32) < 128 {
                seen[c as usize] = true;
            } else {
                rest.push(c);
            }
        }
        rest.sort_unstable();
        rest.dedup();
        let mut chars: Vec<char> = (0u8..128).filter(|&b| seen[b as usize]).map(char::from).collect();
        chars.extend(rest);
        Self::from_chars(chars)
    }

    /// A vocabulary from its characters in id order; each must appear once.
    pub fn from_chars(chars: Vec<char>) -> Result<Self> {
        if chars.is_empty() {
            return Err(Error::input("a character vocabulary needs at least one character"));
        }
        let mut sorted = chars.clone();
        sorted.sort_unstable();
        if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return Err(Error::input(format!("the character {:?} is listed twice in the character vocabulary", w[0])));
        }
        let mut ascii = Box::new([u32::MAX; 128]);
        let mut others = FxHashMap::default();
        let mut utf8 = Vec::with_capacity(chars.len());
        for (id, &c) in chars.iter().enumerate() {
            if (c as u32) < 128 {
                ascii[c as usize] = id as u32;
            } else {
                others.insert(c, id as u32);
            }
            let mut slot = [0u8; 4];
            c.encode_utf8(&mut slot);
            utf8.push(slot);
        }
        Ok(CharTokenizer { chars, utf8, ascii, others })
    }

    /// The characters, in id order.
    pub fn chars(&self) -> &[char] {
        &self.chars
    }

    pub fn vocab_size(&self) -> usize {
        self.chars.len()
    }

    /// The id of a character, if it is in the vocabulary.
    #[inline]
    pub fn id_of(&self, c: char) -> Option<u32> {
        if (c as u32) < 128 {
            let id = self.ascii[c as usize];
            return (id != u32::MAX).then_some(id);
        }
        self.others.get(&c).copied()
    }

    /// The ids of `text`; characters outside the vocabulary are skipped. Only for text
    /// already checked with [`check_covers`](Self::check_covers); a user's text goes through
    /// [`encode_checked`](Self::encode_checked), which refuses instead.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        text.chars().filter_map(|c| self.id_of(c)).collect()
    }

    /// The ids of `text`, or an error counting the characters the vocabulary lacks and
    /// naming the first of them.
    pub fn encode_checked(&self, text: &str) -> Result<Vec<u32>> {
        self.check_covers(text)?;
        Ok(self.encode(text))
    }

    /// Fails when `text` has characters outside the vocabulary, saying how many and which.
    pub fn check_covers(&self, text: &str) -> Result<()> {
        let mut unknown = 0usize;
        let mut first: Vec<char> = Vec::new();
        for c in text.chars() {
            if self.id_of(c).is_none() {
                unknown += 1;
                if first.len() < 5 && !first.contains(&c) {
                    first.push(c);
                }
            }
        }
        if unknown == 0 {
            return Ok(());
        }
        let named: Vec<String> = first.iter().map(|c| format!("{c:?} (U+{:04X})", *c as u32)).collect();
        let total = text.chars().count();
        Err(Error::input(format!(
            "{unknown} of the {total} characters are not in this character vocabulary of {} (first: {}); \
             use only characters from its training text, or a vocabulary that covers them (--tokenizer char \
             learns one from this text, bpe:N covers every byte)",
            self.chars.len(),
            named.join(", ")
        )))
    }

    /// The UTF-8 bytes of token `id`.
    pub fn token_bytes(&self, id: u32) -> Option<&[u8]> {
        let c = self.chars.get(id as usize)?;
        Some(&self.utf8[id as usize][..c.len_utf8()])
    }

    pub fn decode_bytes(&self, ids: &[u32]) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            match self.token_bytes(id) {
                Some(b) => out.extend_from_slice(b),
                None => {
                    return Err(Error::input(format!(
                        "token id {id} is out of range: this character vocabulary has {} \
                         tokens (ids 0 to {})",
                        self.chars.len(),
                        self.chars.len() - 1
                    )))
                }
            }
        }
        Ok(out)
    }

    /// Reads `tokenizer_char.json`.
    pub fn load(path: &Path) -> Result<Self> {
        let name = path.display();
        let text = read_text(path)?;
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| Error::input(format!("{name} is not valid JSON ({e})")))?;
        if value.get("type").and_then(|t| t.as_str()) != Some("char") {
            return Err(Error::input(format!("{name} should say \"type\": \"char\" (a character vocabulary)")));
        }
        let Some(list) = value.get("chars").and_then(|c| c.as_array()) else {
            return Err(Error::input(format!("{name} should have \"chars\": a list of one-character strings")));
        };
        let mut chars = Vec::with_capacity(list.len());
        for (i, item) in list.iter().enumerate() {
            let s = item.as_str().unwrap_or("");
            let mut it = s.chars();
            match (it.next(), it.next()) {
                (Some(c), None) => chars.push(c),
                _ => {
                    return Err(Error::input(format!(
                        "{name}: chars[{i}] is {item}, but each entry must be exactly one character"
                    )))
                }
            }
        }
        Self::from_chars(chars).map_err(|e| Error::input(format!("{name}: {e}")))
    }

    /// Writes `tokenizer_char.json` into `dir`.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let strings: Vec<String> = self.chars.iter().map(|c| c.to_string()).collect();
        let list = serde_json::to_string(&strings)
            .map_err(|e| Error::failure(format!("could not serialize the vocabulary: {e}")))?;
        let text = format!("{{\"type\":\"char\",\"chars\":{list}}}\n");
        write_atomic(&dir.join(CHAR_FILE), text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_unique_characters() {
        let t = CharTokenizer::from_text("hello, wörld\n").unwrap();
        assert_eq!(t.chars(), ['\n', ' ', ',', 'd', 'e', 'h', 'l', 'o', 'r', 'w', 'ö']);
        let ids = t.encode("wörld");
        assert_eq!(ids, [9, 10, 8, 6, 3]);
        assert_eq!(t.decode_bytes(&ids).unwrap(), "wörld".as_bytes());
        let err = t.encode_checked("wxyzx").unwrap_err().to_string();
        assert!(err.starts_with("4 of the 5 characters"), "{err}");
        assert!(err.contains("'x' (U+0078), 'y' (U+0079), 'z' (U+007A))"), "{err}");
        assert!(CharTokenizer::from_text("").is_err());
    }
}
