//! Pre-tokenization: GPT-2 cuts text into pieces (words with their leading space, runs of
//! digits, runs of punctuation, whitespace) before BPE runs inside each piece, so that no
//! token ever spans two words.
//!
//! Pipeline position: text ──pre-tokenize──▶ pieces ──BPE (bpe.rs)──▶ ids.
//!
//! GPT-2 defines the pieces with one regex:
//!
//! ```text
//! 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//! ```
//!
//! [`pretokenize`] is a hand-written scanner that gives exactly the same pieces, ten times
//! faster than the regex; [`pretokenize_reference`] runs the regex itself (fancy-regex) and
//! is kept for tests. The rules, at each position:
//!
//! 1. an apostrophe followed by `s t m d re ve ll` is a piece (`'s`);
//! 2. an optional single space, then a run of letters, or of numbers, or of "other"
//!    characters (not whitespace, letter or number) is a piece (` world`, ` 2024`, ` ...`);
//! 3. a run of whitespace that reaches the end of the text is one piece; a run followed by
//!    something else gives up its last character, which starts the next piece (so the space
//!    before a word stays with the word: `"a   b"` → `a`, `  `, ` b`).

use super::unicode_tables::CLASS_RANGES;

/// A character's class in the GPT-2 pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum CharClass {
    /// Not whitespace, not a letter, not a number: punctuation, symbols, emoji.
    Other = 0,
    /// `\p{L}`
    Letter = 1,
    /// `\p{N}`
    Number = 2,
    /// `\s` (Unicode White_Space)
    Space = 3,
}

const CLASSES: [CharClass; 4] = [CharClass::Other, CharClass::Letter, CharClass::Number, CharClass::Space];

/// Classes of the 128 ASCII characters, from the same tables: `\t \n \v \f \r` and space
/// are whitespace; `0-9` numbers; `A-Z a-z` letters; the rest other.
const ASCII_CLASS: [CharClass; 128] = {
    let mut out = [CharClass::Other; 128];
    let mut b = 0usize;
    while b < 128 {
        out[b] = match b as u8 {
            b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | b' ' => CharClass::Space,
            b'0'..=b'9' => CharClass::Number,
            b'A'..=b'Z' | b'a'..=b'z' => CharClass::Letter,
            _ => CharClass::Other,
        };
        b += 1;
    }
    out
};

/// The class of any character.
#[inline]
pub fn char_class(code: u32) -> CharClass {
    if code < 128 {
        return ASCII_CLASS[code as usize];
    }
    // The ranges are sorted and disjoint: find the last one that starts at or before `code`.
    let index = CLASS_RANGES.partition_point(|&(start, _, _)| start <= code);
    if index == 0 {
        return CharClass::Other;
    }
    let (_, end, class) = CLASS_RANGES[index - 1];
    if code <= end {
        CLASSES[class as usize]
    } else {
        CharClass::Other
    }
}

/// Decodes the character starting at `bytes[i]` (a character boundary of valid UTF-8):
/// its code point and its length in bytes.
#[inline]
fn decode_at(bytes: &[u8], i: usize) -> (u32, usize) {
    let b0 = bytes[i] as u32;
    if b0 < 0x80 {
        return (b0, 1);
    }
    let cont = |k: usize| (bytes.get(i + k).copied().unwrap_or(0x80) & 0x3F) as u32;
    if b0 < 0xE0 {
        (((b0 & 0x1F) << 6) | cont(1), 2)
    } else if b0 < 0xF0 {
        (((b0 & 0x0F) << 12) | (cont(1) << 6) | cont(2), 3)
    } else {
        (((b0 & 0x07) << 18) | (cont(1) << 12) | (cont(2) << 6) | cont(3), 4)
    }
}

#[inline]
fn class_at(bytes: &[u8], i: usize) -> (CharClass, usize) {
    let b = bytes[i];
    if b < 0x80 {
        return (ASCII_CLASS[b as usize], 1);
    }
    let (code, len) = decode_at(bytes, i);
    (char_class(code), len)
}

/// The end of the run of `class` characters that starts at `i`.
#[inline]
fn run_end(bytes: &[u8], mut i: usize, class: CharClass) -> usize {
    while i < bytes.len() {
        let b = bytes[i];
        if b < 0x80 {
            if ASCII_CLASS[b as usize] != class {
                break;
            }
            i += 1;
        } else {
            let (c, len) = class_at(bytes, i);
            if c != class {
                break;
            }
            i += len;
        }
    }
    i
}

/// The length of a contraction suffix (`s t m d re ve ll`) at the start of `rest`.
#[inline]
fn contraction_len(rest: &[u8]) -> Option<usize> {
    match rest {
        [b's' | b't' | b'm' | b'd', ..] => Some(1),
        [b'r', b'e', ..] | [b'v', b'e', ..] | [b'l', b'l', ..] => Some(2),
        _ => None,
    }
}

/// Where the piece that starts at `i` ends (`i < bytes.len()`, a character boundary).
#[inline]
fn piece_end(bytes: &[u8], i: usize) -> usize {
    let b = bytes[i];
    if b == b'\'' {
        if let Some(n) = contraction_len(&bytes[i + 1..]) {
            return i + 1 + n;
        }
    }
    let (class, len) = class_at(bytes, i);
    if class != CharClass::Space {
        return run_end(bytes, i + len, class);
    }
    // A single space joins the letters, numbers or symbols that follow it.
    if b == b' ' && i + 1 < bytes.len() {
        let (next, next_len) = class_at(bytes, i + 1);
        if next != CharClass::Space {
            return run_end(bytes, i + 1 + next_len, next);
        }
    }
    // A whitespace run: `\s+(?!\S)` takes all of it but the last character when something
    // follows, all of it at the end of the text; a lone whitespace character before
    // something else is `\s+`'s.
    let mut j = i + len;
    let mut last = i;
    while j < bytes.len() {
        let (c, l) = class_at(bytes, j);
        if c != CharClass::Space {
            break;
        }
        last = j;
        j += l;
    }
    if j == bytes.len() || last == i {
        j
    } else {
        last
    }
}

/// The GPT-2 pieces of `text`, in order; they concatenate back to `text`.
pub fn pretokenize(text: &str) -> Pieces<'_> {
    Pieces { text, pos: 0 }
}

/// Iterator over the pieces of a text (see [`pretokenize`]).
#[derive(Clone, Debug)]
pub struct Pieces<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Iterator for Pieces<'a> {
    type Item = &'a str;

    #[inline]
    fn next(&mut self) -> Option<&'a str> {
        let start = self.pos;
        if start >= self.text.len() {
            return None;
        }
        let end = piece_end(self.text.as_bytes(), start);
        self.pos = end;
        // `end` is a character boundary: every step above moves by whole characters.
        self.text.get(start..end)
    }
}

/// The GPT-2 regex, as published.
pub const GPT2_PATTERN: &str = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

/// The pieces as the GPT-2 regex itself finds them (fancy-regex): slow, and kept as the
/// reference the hand-written scanner is tested against.
pub fn pretokenize_reference(text: &str) -> crate::Result<Vec<&str>> {
    static REGEX: std::sync::OnceLock<std::result::Result<fancy_regex::Regex, String>> = std::sync::OnceLock::new();
    let regex = REGEX
        .get_or_init(|| fancy_regex::Regex::new(GPT2_PATTERN).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| crate::Error::failure(format!("the GPT-2 regex did not compile: {e}")))?;
    regex
        .find_iter(text)
        .map(|m| m.map(|m| m.as_str()).map_err(|e| crate::Error::failure(format!("the GPT-2 regex failed: {e}"))))
        .collect()
}

/// Cuts `text` into about `parts` slices at places where pre-tokenization cannot see across
/// (after a newline that follows a visible character and precedes another), so that
/// pre-tokenizing the slices one by one gives exactly the pieces of the whole text. Used to
/// encode and to count words on several threads.
pub fn split_for_parallel(text: &str, parts: usize) -> Vec<&str> {
    let bytes = text.as_bytes();
    let parts = parts.max(1);
    let target = bytes.len() / parts;
    let mut out = Vec::with_capacity(parts);
    let mut start = 0;
    while out.len() + 1 < parts && target > 0 {
        let mut p = (start + target).max(start + 2);
        let mut cut = None;
        while p < bytes.len() {
            if bytes[p - 1] == b'\n' && is_visible_ascii(bytes[p - 2]) && is_visible_ascii(bytes[p]) {
                cut = Some(p);
                break;
            }
            p += 1;
        }
        let Some(cut) = cut else { break };
        out.push(&text[start..cut]);
        start = cut;
    }
    out.push(&text[start..]);
    out
}

/// An ASCII byte that is not whitespace (and so a whole character of its own).
#[inline]
fn is_visible_ascii(b: u8) -> bool {
    b < 0x80 && ASCII_CLASS[b as usize] != CharClass::Space
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(text: &str) -> Vec<&str> {
        pretokenize(text).collect()
    }

    #[test]
    fn the_rules_by_example() {
        assert_eq!(pieces("Hello, world!"), ["Hello", ",", " world", "!"]);
        assert_eq!(pieces("a   b"), ["a", "  ", " b"]);
        assert_eq!(pieces("hello\n\nworld"), ["hello", "\n", "\n", "world"]);
        assert_eq!(pieces("x  "), ["x", "  "]);
        assert_eq!(pieces("I'm you're"), ["I", "'m", " you", "'re"]);
        assert_eq!(pieces("DON'T"), ["DON", "'", "T"]);
        assert_eq!(pieces(" 's ?'s"), [" '", "s", " ?'", "s"]);
        assert_eq!(pieces("x1 22"), ["x", "1", " 22"]);
        assert_eq!(pieces("中文 text"), ["中文", " text"]);
        assert_eq!(pieces(""), Vec::<&str>::new());
    }

    #[test]
    fn scanner_matches_the_regex() {
        let samples = [
            "Hello, world! I'm here.\n\n  Indented\tline\r\nend   ",
            "$100.00 + 50% = ??? 'tis ''s 'S 'll'd",
            "naïve café 中文 😀👍🏽 ok\u{a0}nbsp\u{2003}em\u{85}nel",
            " \t\n \n\n\nx \u{3000}y ０１２ Ⅻ ½",
            "   ",
            "'",
        ];
        for s in samples {
            assert_eq!(pieces(s), pretokenize_reference(s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn parallel_split_keeps_the_pieces() {
        let text = "First line.\nSecond  \n line\n\n  third\nx\ny\nz\nend of it\n";
        let whole: Vec<&str> = pieces(text);
        for parts in 1..8 {
            let slices = split_for_parallel(text, parts);
            assert_eq!(slices.concat(), text);
            let joined: Vec<&str> = slices.iter().flat_map(|s| pretokenize(s)).collect();
            assert_eq!(joined, whole, "parts {parts}");
        }
    }
}
