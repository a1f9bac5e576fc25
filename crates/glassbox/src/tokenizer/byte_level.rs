//! Bytes ↔ printable characters: GPT-2's reversible map that lets a byte-level vocabulary
//! be written as text. Every byte 0–255 gets one visible character (a space becomes `Ġ`,
//! a newline `Ċ`); `vocab.json` and `merges.txt` spell tokens in these characters.
//!
//! Pipeline position: used only at the file boundary (reading and writing the vocabulary);
//! encoding itself works on raw bytes.

/// The character that stands for `byte` in `vocab.json` / `merges.txt`.
///
/// Printable Latin-1 bytes (`!`..`~`, `¡`..`¬`, `®`..`ÿ`) stand for themselves; the other 68
/// bytes (controls, space, DEL, NBSP, soft hyphen) are moved to U+0100 and up, in order.
pub fn byte_to_char(byte: u8) -> char {
    BYTE_TO_CHAR[byte as usize]
}

/// The byte a vocabulary character stands for, or `None` for a character outside the map.
pub fn char_to_byte(c: char) -> Option<u8> {
    let code = c as u32;
    if code < 0x100 {
        let b = code as u8;
        if is_printable(b) {
            return Some(b);
        }
        return None;
    }
    let index = (code - 0x100) as usize;
    SHIFTED.get(index).copied()
}

/// The vocabulary spelling of a token's bytes.
pub fn bytes_to_string(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| byte_to_char(b)).collect()
}

/// The bytes a vocabulary spelling stands for; `Err(c)` names the first character outside
/// the byte map.
pub fn string_to_bytes(s: &str) -> std::result::Result<Vec<u8>, char> {
    s.chars().map(|c| char_to_byte(c).ok_or(c)).collect()
}

/// The order GPT-2 gives the 256 single-byte tokens (ids 0–255 in its `vocab.json`, and in
/// any vocabulary glassbox trains): the byte whose character has the smallest code point
/// first. Printable bytes come first (`!` is id 0), then the shifted ones.
pub fn byte_order() -> [u8; 256] {
    let mut order = [0u8; 256];
    let mut n = 0;
    for b in 0..=255u8 {
        if is_printable(b) {
            order[n] = b;
            n += 1;
        }
    }
    for &b in SHIFTED.iter() {
        order[n] = b;
        n += 1;
    }
    order
}

const fn is_printable(b: u8) -> bool {
    matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF)
}

/// The bytes that are not printable, in increasing order: `SHIFTED[i]` is written as the
/// character U+0100 + i.
const SHIFTED: [u8; 68] = {
    let mut out = [0u8; 68];
    let mut n = 0;
    let mut b = 0usize;
    while b < 256 {
        if !is_printable(b as u8) {
            out[n] = b as u8;
            n += 1;
        }
        b += 1;
    }
    out
};

const BYTE_TO_CHAR: [char; 256] = {
    let mut out = ['\0'; 256];
    let mut b = 0usize;
    let mut shifted = 0u32;
    while b < 256 {
        if is_printable(b as u8) {
            out[b] = match char::from_u32(b as u32) {
                Some(c) => c,
                None => '\0',
            };
        } else {
            out[b] = match char::from_u32(0x100 + shifted) {
                Some(c) => c,
                None => '\0',
            };
            shifted += 1;
        }
        b += 1;
    }
    out
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_map_is_a_bijection_with_gpt2_landmarks() {
        assert_eq!(byte_to_char(b' '), 'Ġ');
        assert_eq!(byte_to_char(b'\n'), 'Ċ');
        assert_eq!(byte_to_char(b'!'), '!');
        assert_eq!(byte_to_char(0), 'Ā');
        for b in 0..=255u8 {
            assert_eq!(char_to_byte(byte_to_char(b)), Some(b));
        }
        assert_eq!(char_to_byte('中'), None);
        let order = byte_order();
        assert_eq!(order[0], b'!');
        assert_eq!(order[188], 0);
        let mut sorted = order.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..=255u8).collect::<Vec<_>>());
    }
}
