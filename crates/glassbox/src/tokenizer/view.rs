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

/// The unit that starts at `at`: the character there, or its byte alone when no valid
/// character starts there (as `utf8_chunks` reads the stream, one unit per invalid byte).
fn unit_at(bytes: &[u8], at: usize) -> Unit {
    let ahead = &bytes[at..bytes.len().min(at + 4)];
    let first = ahead.utf8_chunks().next().and_then(|chunk| chunk.valid().chars().next());
    match first {
        Some(c) => Unit { start: at, end: at + c.len_utf8(), character: Some(c) },
        None => Unit { start: at, end: at + 1, character: None },
    }
}

/// The views of a sequence of ids, one at a time: memory for the decoded bytes and one
/// view, whatever the length (a 50 MB input is shown without holding 50 MB of views).
pub struct TokenViews<'a> {
    tok: &'a Tokenizer,
    ids: std::slice::Iter<'a, u32>,
    bytes: Vec<u8>,
    /// The unit the next token starts in (it may have begun in an earlier token).
    unit: Option<Unit>,
    /// Where the next token's bytes start.
    start: usize,
}

impl<'a> TokenViews<'a> {
    pub(super) fn new(tok: &'a Tokenizer, ids: &'a [u32]) -> Result<Self> {
        // The characters of the whole stream: a token's partial bytes make sense only with
        // its neighbours'.
        let bytes = tok.decode_bytes(ids)?;
        let unit = (!bytes.is_empty()).then(|| unit_at(&bytes, 0));
        Ok(TokenViews { tok, ids: ids.iter(), bytes, unit, start: 0 })
    }
}

impl Iterator for TokenViews<'_> {
    type Item = TokenView;

    fn next(&mut self) -> Option<TokenView> {
        let id = *self.ids.next()?;
        let token = self.tok.token_bytes(id).unwrap_or_default();
        let (start, end) = (self.start, self.start + token.len());
        let mut parts: Vec<TokenPart> = Vec::new();
        while let Some(unit) = self.unit.as_ref().filter(|u| u.start < end) {
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
                None => parts.push(TokenPart::Invalid(self.bytes[unit.start])),
            }
            if unit.end > end {
                break; // the character goes on into the next token
            }
            let next = unit.end;
            self.unit = (next < self.bytes.len()).then(|| unit_at(&self.bytes, next));
        }
        self.start = end;
        Some(TokenView { id, bytes: token.to_vec(), parts })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.ids.size_hint()
    }
}

pub(super) fn token_views(tok: &Tokenizer, ids: &[u32]) -> Result<Vec<TokenView>> {
    Ok(TokenViews::new(tok, ids)?.collect())
}
