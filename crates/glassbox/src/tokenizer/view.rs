//! How a token reads to a person. A byte-level token can hold part of a character (GPT-2
//! spells 你 as two tokens, `e4 bd` and `a0`); such a token is shown as its bytes and the
//! character it helps to form, never as "�".
//!
//! Pipeline position: beside the tokenizer, for the command line's table and the web page.

use super::Tokenizer;
use crate::Result;

/// One piece of a token's text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenPart {
    /// Whole characters.
    Text(String),
    /// Some bytes of a character that this token shares with its neighbours: bytes
    /// `first..first + len` of the character's `of` UTF-8 bytes.
    PartOf { character: char, first: usize, len: usize, of: usize },
    /// A byte that is not part of any valid UTF-8 character in the decoded stream.
    Invalid(u8),
}

/// A token as shown to a person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenView {
    pub id: u32,
    pub bytes: Vec<u8>,
    pub parts: Vec<TokenPart>,
}

impl TokenView {
    /// Whether the token is whole characters only (its text is exact).
    pub fn is_whole(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, TokenPart::Text(_)))
    }

    /// The token's bytes in hex: `e4 bd`.
    pub fn hex(&self) -> String {
        let mut out = String::with_capacity(self.bytes.len() * 3);
        for (i, b) in self.bytes.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(&format!("{b:02x}"));
        }
        out
    }

    /// One line for a person: `" the"`, `part of "你"`, `" " + part of "😀"`,
    /// `byte ff, not part of a whole character`. Control characters are escaped (`"\n"`).
    pub fn label(&self) -> String {
        let parts: Vec<String> = self
            .parts
            .iter()
            .map(|p| match p {
                TokenPart::Text(s) => format!("\"{}\"", escape_text(s)),
                TokenPart::PartOf { character, .. } => {
                    format!("part of \"{}\"", escape_text(character.encode_utf8(&mut [0; 4])))
                }
                TokenPart::Invalid(b) => format!("byte {b:02x}, not part of a whole character"),
            })
            .collect();
        if parts.is_empty() {
            "\"\"".to_string()
        } else {
            parts.join(" + ")
        }
    }
}

/// Text made safe for one line in quotes: `\n`, `\t`, `\r`, `\"`, `\\` and other control
/// characters escaped; everything else (accents, CJK, emoji) as it is.
pub fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// A stretch of the decoded bytes: one character, or one byte that is not UTF-8.
struct Unit {
    start: usize,
    end: usize,
    character: Option<char>,
}

pub(super) fn token_views(tok: &Tokenizer, ids: &[u32]) -> Result<Vec<TokenView>> {
    let bytes = tok.decode_bytes(ids)?;
    // The characters of the whole stream: a token's partial bytes make sense only with its
    // neighbours'.
    let mut units = Vec::with_capacity(bytes.len());
    let mut at = 0;
    for chunk in bytes.utf8_chunks() {
        for (i, c) in chunk.valid().char_indices() {
            units.push(Unit { start: at + i, end: at + i + c.len_utf8(), character: Some(c) });
        }
        at += chunk.valid().len();
        for _ in chunk.invalid() {
            units.push(Unit { start: at, end: at + 1, character: None });
            at += 1;
        }
    }
    let mut views = Vec::with_capacity(ids.len());
    let mut u = 0;
    let mut start = 0;
    for &id in ids {
        let token = tok.token_bytes(id).unwrap_or_default();
        let end = start + token.len();
        let mut parts: Vec<TokenPart> = Vec::new();
        while u < units.len() && units[u].start < end {
            let unit = &units[u];
            let first = start.max(unit.start);
            let last = end.min(unit.end);
            match unit.character {
                Some(c) if unit.start >= start && unit.end <= end => match parts.last_mut() {
                    Some(TokenPart::Text(s)) => s.push(c),
                    _ => parts.push(TokenPart::Text(c.to_string())),
                },
                Some(c) => parts.push(TokenPart::PartOf {
                    character: c,
                    first: first - unit.start,
                    len: last - first,
                    of: unit.end - unit.start,
                }),
                None => parts.push(TokenPart::Invalid(bytes[unit.start])),
            }
            if unit.end <= end {
                u += 1;
            } else {
                break; // the character goes on into the next token
            }
        }
        views.push(TokenView { id, bytes: token.to_vec(), parts });
        start = end;
    }
    Ok(views)
}
