//! Byte-level BPE: encode text to ids, decode ids to bytes, and explain the merges.
//!
//! Pipeline position: text ──pre-tokenize (pretokenize.rs)──▶ pieces ──BPE (here)──▶ ids.
//!
//! A piece starts as its bytes, one token each (every byte has a token, so nothing is ever
//! unknown). Then, again and again, the adjacent pair with the best (lowest) merge rank is
//! replaced by the token it merges into; the leftmost wins a tie. When no adjacent pair has
//! a merge, the piece is done. This is GPT-2's algorithm, as in `encoder.py` and Hugging
//! Face `tokenizers`.
//!
//! Speed: the same pieces recur (" the", ","), so each encode call keeps a cache from piece
//! to ids; merges are looked up in a hash map keyed by the pair of ids; a short piece is
//! merged by a linear scan for the lowest rank, a long one with a heap over a linked list,
//! so that a megabyte without a space is not quadratic.

use super::fx::FxHashMap;
use super::pretokenize::pretokenize;
use crate::{Error, Result};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// One line of `merges.txt`: `left` and `right` side by side become `merged`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Merge {
    pub left: u32,
    pub right: u32,
    pub merged: u32,
}

/// A byte-level BPE vocabulary: tokens (byte strings), merges by rank, special tokens.
#[derive(Clone, Debug)]
pub struct BpeTokenizer {
    /// The bytes of every token, back to back; token `id` is
    /// `token_bytes[offsets[id]..offsets[id + 1]]`.
    token_bytes: Vec<u8>,
    offsets: Vec<u32>,
    /// The token of each single byte.
    byte_ids: Box<[u32; 256]>,
    /// (left, right) packed as `left << 32 | right` → `rank << 32 | merged`.
    merge_map: FxHashMap<u64, u64>,
    /// The merges in rank order, as `merges.txt` lists them.
    merges: Vec<Merge>,
    /// Bytes → id for ordinary tokens.
    ids: FxHashMap<Vec<u8>, u32>,
    /// Special tokens (`<|endoftext|>`): matched in raw text when allowed, never by merges.
    special: Vec<(String, u32)>,
}

/// What `BpeTokenizer::new` is built from: token bytes by id (`None` for a hole), merges in
/// rank order as (left id, right id), and the special tokens.
pub(super) struct BpeParts {
    pub tokens: Vec<Option<Vec<u8>>>,
    pub merges: Vec<(u32, u32)>,
    pub special: Vec<(String, u32)>,
}

#[inline]
fn pair_key(left: u32, right: u32) -> u64 {
    ((left as u64) << 32) | right as u64
}

/// No merge: larger than any packed `rank << 32 | merged`.
const NO_MERGE: u64 = u64::MAX;

/// Pieces longer than this (in bytes) are merged with the heap, shorter ones by scanning.
const LONG_PIECE: usize = 96;

/// The most pieces one encode call remembers.
const CACHE_LIMIT: usize = 1 << 20;

impl BpeTokenizer {
    /// Builds and checks a vocabulary. The file readers check names and lines first, so
    /// what fails here is what only shows once the whole vocabulary is known.
    pub(super) fn new(parts: BpeParts) -> Result<Self> {
        let BpeParts { tokens, merges: merge_pairs, special } = parts;
        if tokens.len() > u32::MAX as usize {
            return Err(Error::input("the vocabulary has more than 2^32 tokens"));
        }
        let mut token_bytes = Vec::new();
        let mut offsets = Vec::with_capacity(tokens.len() + 1);
        let mut ids: FxHashMap<Vec<u8>, u32> = FxHashMap::default();
        offsets.push(0u32);
        let special_ids: Vec<u32> = special.iter().map(|(_, id)| *id).collect();
        // Every id from 0 up has a token: a gap would be an output no text can show.
        if let Some(gap) = tokens.iter().position(Option::is_none) {
            return Err(Error::input(format!(
                "no token has the id {gap}, yet ids run up to {}; a vocabulary's ids must run from 0 without gaps \
                 (a gap is an output the model can sample but no text can show)",
                tokens.len() - 1
            )));
        }
        for (id, token) in tokens.iter().enumerate() {
            if let Some(bytes) = token {
                token_bytes.extend_from_slice(bytes);
                if !special_ids.contains(&(id as u32)) {
                    ids.entry(bytes.clone()).or_insert(id as u32);
                }
            }
            let end = u32::try_from(token_bytes.len())
                .map_err(|_| Error::input("the vocabulary's tokens add up to more than 4 GiB"))?;
            offsets.push(end);
        }
        let mut byte_ids = Box::new([0u32; 256]);
        for b in 0..=255u8 {
            match ids.get(&[b][..]) {
                Some(&id) => byte_ids[b as usize] = id,
                None => {
                    return Err(Error::input(format!(
                        "the vocabulary has no token for the byte 0x{b:02x} (written {:?} in \
                         vocab.json); a byte-level BPE vocabulary needs all 256 bytes",
                        super::byte_level::byte_to_char(b).to_string()
                    )))
                }
            }
        }
        let mut merge_map = FxHashMap::default();
        merge_map.reserve(merge_pairs.len());
        let mut merges = Vec::with_capacity(merge_pairs.len());
        for (rank, &(left, right)) in merge_pairs.iter().enumerate() {
            let part = |id: u32| -> Result<&[u8]> {
                tokens
                    .get(id as usize)
                    .and_then(|t| t.as_deref())
                    .ok_or_else(|| Error::input(format!("merge {rank} uses id {id}, which has no token")))
            };
            let mut joined = part(left)?.to_vec();
            joined.extend_from_slice(part(right)?);
            let Some(&merged) = ids.get(&joined) else {
                return Err(Error::input(format!(
                    "merge {rank} ({:?} + {:?}) makes {:?}, which is not in the vocabulary",
                    crate::error::excerpt(&super::byte_level::bytes_to_string(part(left)?)),
                    crate::error::excerpt(&super::byte_level::bytes_to_string(part(right)?)),
                    crate::error::excerpt(&super::byte_level::bytes_to_string(&joined)),
                )));
            };
            // As in Hugging Face `tokenizers`, a pair listed twice takes its later rank.
            merge_map.insert(pair_key(left, right), ((rank as u64) << 32) | merged as u64);
            merges.push(Merge { left, right, merged });
        }
        for (name, id) in &special {
            if *id as usize >= tokens.len() {
                return Err(Error::input(format!(
                    "the special token {name:?} has id {id}, which is not in the vocabulary"
                )));
            }
        }
        Ok(BpeTokenizer { token_bytes, offsets, byte_ids, merge_map, merges, ids, special })
    }

    /// How many ids there are (the largest id + 1).
    pub fn vocab_size(&self) -> usize {
        self.offsets.len() - 1
    }

    /// The bytes of token `id`, or `None` if there is no such token.
    #[inline]
    pub fn token_bytes(&self, id: u32) -> Option<&[u8]> {
        let i = id as usize;
        let end = *self.offsets.get(i + 1)?;
        Some(&self.token_bytes[self.offsets[i] as usize..end as usize])
    }

    /// The id of the ordinary token with exactly these bytes.
    pub fn token_id(&self, bytes: &[u8]) -> Option<u32> {
        self.ids.get(bytes).copied()
    }

    /// The token of a single byte.
    pub fn byte_token(&self, byte: u8) -> u32 {
        self.byte_ids[byte as usize]
    }

    /// The merges in rank order (rank 0 first), as `merges.txt` lists them.
    pub fn merges(&self) -> &[Merge] {
        &self.merges
    }

    /// The rank and result of merging `left` with `right`, if that pair merges.
    #[inline]
    pub fn merge_of(&self, left: u32, right: u32) -> Option<(u32, u32)> {
        self.merge_map.get(&pair_key(left, right)).map(|&packed| ((packed >> 32) as u32, packed as u32))
    }

    /// The special tokens and their ids.
    pub fn special_tokens(&self) -> &[(String, u32)] {
        &self.special
    }

    /// The id of `<|endoftext|>`, where the vocabulary has it.
    pub fn end_of_text(&self) -> Option<u32> {
        self.special
            .iter()
            .find(|(name, _)| name == super::END_OF_TEXT)
            .map(|(_, id)| *id)
            .or_else(|| self.token_id(super::END_OF_TEXT.as_bytes()))
    }

    /// Encodes text; special tokens are ordinary text here (`<|endoftext|>` is seven tokens).
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut out = Vec::with_capacity(text.len() / 4 + 1);
        let mut encoder = Encoder::new(self);
        encoder.text(text, &mut out);
        out
    }

    /// Encodes text, turning each special token (`<|endoftext|>`) into its own id.
    pub fn encode_allow_special(&self, text: &str) -> Vec<u32> {
        let mut out = Vec::with_capacity(text.len() / 4 + 1);
        let mut encoder = Encoder::new(self);
        let mut rest = text;
        while let Some((at, name, id)) = self.next_special(rest) {
            encoder.text(&rest[..at], &mut out);
            out.push(id);
            rest = &rest[at + name.len()..];
        }
        encoder.text(rest, &mut out);
        out
    }

    /// The first special token in `text`: where it starts, its text and id (the longest if
    /// two start at the same place).
    fn next_special<'s>(&'s self, text: &str) -> Option<(usize, &'s str, u32)> {
        let mut best: Option<(usize, &str, u32)> = None;
        for (name, id) in &self.special {
            if name.is_empty() {
                continue;
            }
            if let Some(at) = text.find(name.as_str()) {
                let better = match best {
                    None => true,
                    Some((b, bname, _)) => at < b || (at == b && name.len() > bname.len()),
                };
                if better {
                    best = Some((at, name.as_str(), *id));
                }
            }
        }
        best
    }

    /// Encodes any bytes, valid UTF-8 or not: the valid stretches are pre-tokenized as text,
    /// and each stretch of bytes that is not UTF-8 is a piece of its own. Decoding gives the
    /// same bytes back. For valid UTF-8 this is exactly [`encode`](Self::encode).
    pub fn encode_bytes(&self, bytes: &[u8]) -> Vec<u32> {
        let mut out = Vec::with_capacity(bytes.len() / 4 + 1);
        let mut encoder = Encoder::new(self);
        for chunk in bytes.utf8_chunks() {
            encoder.text(chunk.valid(), &mut out);
            if !chunk.invalid().is_empty() {
                encoder.piece(chunk.invalid(), &mut out);
            }
        }
        out
    }

    /// The bytes of `ids`, back to back. An id with no token is bad input.
    pub fn decode_bytes(&self, ids: &[u32]) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(ids.len() * 4);
        for &id in ids {
            match self.token_bytes(id) {
                Some(bytes) => out.extend_from_slice(bytes),
                None => return Err(self.no_such_id(id)),
            }
        }
        Ok(out)
    }

    pub(super) fn no_such_id(&self, id: u32) -> Error {
        if (id as usize) < self.vocab_size() {
            Error::input(format!("token id {id} is not in this vocabulary (its vocab.json skips it)"))
        } else {
            Error::input(format!(
                "token id {id} is out of range: this vocabulary has {} tokens (ids 0 to {})",
                self.vocab_size(),
                self.vocab_size().saturating_sub(1)
            ))
        }
    }

    /// BPE on one piece, appending its ids to `out`.
    fn bpe_into(&self, piece: &[u8], scratch: &mut Scratch, out: &mut Vec<u32>) {
        if piece.len() > LONG_PIECE {
            self.bpe_linked(piece, out, |_| {});
        } else {
            self.bpe_scan(piece, scratch, out);
        }
    }

    /// BPE by scanning for the lowest rank after every merge: quadratic, and the fastest
    /// for the short pieces that make up ordinary text.
    fn bpe_scan(&self, piece: &[u8], scratch: &mut Scratch, out: &mut Vec<u32>) {
        let ids = &mut scratch.ids;
        let pairs = &mut scratch.pairs;
        ids.clear();
        ids.extend(piece.iter().map(|&b| self.byte_ids[b as usize]));
        pairs.clear();
        pairs.extend(ids.windows(2).map(|w| self.packed_merge(w[0], w[1])));
        loop {
            // The lowest rank; the strict `<` keeps the leftmost of equal ranks.
            let mut best = NO_MERGE;
            let mut at = 0;
            for (i, &p) in pairs.iter().enumerate() {
                if p < best {
                    best = p;
                    at = i;
                }
            }
            if best == NO_MERGE {
                break;
            }
            ids[at] = best as u32;
            ids.remove(at + 1);
            pairs.remove(at);
            if at > 0 {
                pairs[at - 1] = self.packed_merge(ids[at - 1], ids[at]);
            }
            if at < pairs.len() {
                pairs[at] = self.packed_merge(ids[at], ids[at + 1]);
            }
        }
        out.extend_from_slice(ids);
    }

    #[inline]
    fn packed_merge(&self, left: u32, right: u32) -> u64 {
        self.merge_map.get(&pair_key(left, right)).copied().unwrap_or(NO_MERGE)
    }

    /// BPE with a heap of candidate merges over a linked list of symbols: the same result as
    /// the scan, in O(n log n). `on_merge` sees every merge as it happens.
    fn bpe_linked(&self, piece: &[u8], out: &mut Vec<u32>, mut on_merge: impl FnMut(MergeStep)) {
        const NONE: u32 = u32::MAX;
        #[derive(Clone, Copy)]
        struct Symbol {
            id: u32,
            prev: u32,
            next: u32,
            alive: bool,
        }
        let n = piece.len();
        let mut symbols: Vec<Symbol> = piece
            .iter()
            .enumerate()
            .map(|(i, &b)| Symbol {
                id: self.byte_ids[b as usize],
                prev: if i == 0 { NONE } else { i as u32 - 1 },
                next: if i + 1 == n { NONE } else { i as u32 + 1 },
                alive: true,
            })
            .collect();
        // Min-heap on (rank, position): the best rank first, then the leftmost.
        let mut heap: BinaryHeap<Reverse<(u32, u32)>> = BinaryHeap::with_capacity(n);
        for i in 0..n.saturating_sub(1) {
            if let Some((rank, _)) = self.merge_of(symbols[i].id, symbols[i + 1].id) {
                heap.push(Reverse((rank, i as u32)));
            }
        }
        while let Some(Reverse((rank, pos))) = heap.pop() {
            let left = symbols[pos as usize];
            if !left.alive || left.next == NONE {
                continue;
            }
            let right = symbols[left.next as usize];
            // A stale entry: this place has changed since the entry was pushed.
            let Some((now_rank, merged)) = self.merge_of(left.id, right.id) else {
                continue;
            };
            if now_rank != rank {
                continue;
            }
            on_merge(MergeStep { rank, left: left.id, right: right.id, merged, byte_offset: pos as usize });
            symbols[pos as usize].id = merged;
            symbols[pos as usize].next = right.next;
            symbols[left.next as usize].alive = false;
            if right.next != NONE {
                symbols[right.next as usize].prev = pos;
                if let Some((r, _)) = self.merge_of(merged, symbols[right.next as usize].id) {
                    heap.push(Reverse((r, pos)));
                }
            }
            if left.prev != NONE {
                if let Some((r, _)) = self.merge_of(symbols[left.prev as usize].id, merged) {
                    heap.push(Reverse((r, left.prev)));
                }
            }
        }
        let mut i = 0u32;
        while i != NONE && (i as usize) < n {
            out.push(symbols[i as usize].id);
            i = symbols[i as usize].next;
        }
    }

    /// The merge path of every pre-token of `text`, from bytes to final tokens. With
    /// `allow_special`, special tokens are pieces of their own with no merges.
    pub fn explain(&self, text: &str, allow_special: bool) -> Vec<PieceExplanation> {
        let mut out = Vec::new();
        let mut rest = text;
        if allow_special {
            while let Some((at, name, id)) = self.next_special(rest) {
                self.explain_text(&rest[..at], &mut out);
                out.push(PieceExplanation {
                    piece: name.as_bytes().to_vec(),
                    start: vec![id],
                    steps: Vec::new(),
                    ids: vec![id],
                    special: true,
                });
                rest = &rest[at + name.len()..];
            }
        }
        self.explain_text(rest, &mut out);
        out
    }

    fn explain_text(&self, text: &str, out: &mut Vec<PieceExplanation>) {
        for piece in pretokenize(text) {
            out.push(self.explain_piece(piece.as_bytes()));
        }
    }

    /// The merge path of one piece (bytes as they are; no pre-tokenization).
    pub fn explain_piece(&self, piece: &[u8]) -> PieceExplanation {
        let start = piece.iter().map(|&b| self.byte_ids[b as usize]).collect();
        let mut steps = Vec::new();
        let mut ids = Vec::new();
        self.bpe_linked(piece, &mut ids, |step| steps.push(step));
        PieceExplanation { piece: piece.to_vec(), start, steps, ids, special: false }
    }
}

/// One merge as it happened inside a piece.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MergeStep {
    /// The merge's rank: its line in `merges.txt`, counting from 0 (lower merges first).
    pub rank: u32,
    pub left: u32,
    pub right: u32,
    pub merged: u32,
    /// Where the merged token starts, in bytes from the start of the piece.
    pub byte_offset: usize,
}

/// How one pre-token became tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PieceExplanation {
    /// The pre-token's bytes.
    pub piece: Vec<u8>,
    /// One token per byte: where BPE starts.
    pub start: Vec<u32>,
    /// The merges, in the order they were applied.
    pub steps: Vec<MergeStep>,
    /// The final tokens.
    pub ids: Vec<u32>,
    /// A special token matched as a whole (no merges).
    pub special: bool,
}

impl PieceExplanation {
    /// The tokens after each step: `states()[k]` is the sequence once `steps[k]` is applied.
    pub fn states(&self) -> Vec<Vec<u32>> {
        // (byte offset, id) of each current token.
        let mut current: Vec<(usize, u32)> = self.start.iter().copied().enumerate().collect();
        let mut states = Vec::with_capacity(self.steps.len());
        for step in &self.steps {
            if let Some(k) = current.iter().position(|&(off, _)| off == step.byte_offset) {
                current[k].1 = step.merged;
                if k + 1 < current.len() {
                    current.remove(k + 1);
                }
            }
            states.push(current.iter().map(|&(_, id)| id).collect());
        }
        states
    }
}

/// Reusable buffers for the scan.
#[derive(Default)]
struct Scratch {
    ids: Vec<u32>,
    pairs: Vec<u64>,
}

/// One encode call's state: the piece cache (keys borrow the text being encoded) and
/// buffers.
pub(super) struct Encoder<'t, 'a> {
    tok: &'t BpeTokenizer,
    cache: FxHashMap<&'a [u8], (u32, u32)>,
    arena: Vec<u32>,
    scratch: Scratch,
}

impl<'t, 'a> Encoder<'t, 'a> {
    pub(super) fn new(tok: &'t BpeTokenizer) -> Self {
        Encoder { tok, cache: FxHashMap::default(), arena: Vec::new(), scratch: Scratch::default() }
    }

    /// Pre-tokenizes and encodes `text`.
    #[inline]
    pub(super) fn text(&mut self, text: &'a str, out: &mut Vec<u32>) {
        for piece in pretokenize(text) {
            self.piece(piece.as_bytes(), out);
        }
    }

    /// Encodes one piece, through the cache.
    #[inline]
    pub(super) fn piece(&mut self, piece: &'a [u8], out: &mut Vec<u32>) {
        if piece.len() == 1 {
            out.push(self.tok.byte_ids[piece[0] as usize]);
            return;
        }
        if let Some(&(start, len)) = self.cache.get(piece) {
            out.extend_from_slice(&self.arena[start as usize..(start + len) as usize]);
            return;
        }
        let start = self.arena.len();
        self.tok.bpe_into(piece, &mut self.scratch, &mut self.arena);
        out.extend_from_slice(&self.arena[start..]);
        if self.cache.len() < CACHE_LIMIT && self.arena.len() <= u32::MAX as usize {
            self.cache.insert(piece, (start as u32, (self.arena.len() - start) as u32));
        } else {
            self.arena.truncate(start);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A toy vocabulary: the 256 bytes (id = byte) and merges over "aaab".
    fn toy() -> BpeTokenizer {
        let mut tokens: Vec<Option<Vec<u8>>> = (0..=255u8).map(|b| Some(vec![b])).collect();
        tokens.push(Some(b"aa".to_vec())); // 256
        tokens.push(Some(b"ab".to_vec())); // 257
        tokens.push(Some(b"aaab".to_vec())); // 258
        tokens.push(Some(b"<|endoftext|>".to_vec())); // 259
        let merges = vec![(97, 97), (97, 98), (256, 257)];
        BpeTokenizer::new(BpeParts { tokens, merges, special: vec![("<|endoftext|>".into(), 259)] }).unwrap()
    }

    #[test]
    fn merges_by_rank_leftmost_first() {
        let t = toy();
        assert_eq!(t.encode("aaab"), [258]);
        assert_eq!(t.encode("aaa"), [256, 97]);
        assert_eq!(t.encode("aaaab"), [256, 256, 98]);
        assert_eq!(t.encode_allow_special("a<|endoftext|>b"), [97, 259, 98]);
        assert_eq!(t.encode("<|endoftext|>").len(), 13);
    }

    #[test]
    fn ids_with_a_gap_are_refused() {
        let mut tokens: Vec<Option<Vec<u8>>> = (0..=255u8).map(|b| Some(vec![b])).collect();
        tokens.push(None); // 256: no token
        tokens.push(Some(b"ab".to_vec())); // 257
        let err = BpeTokenizer::new(BpeParts { tokens, merges: vec![(97, 98)], special: vec![] }).err().unwrap();
        assert!(err.to_string().contains("no token has the id 256"), "{err}");
    }

    #[test]
    fn scan_and_heap_agree() {
        let t = toy();
        let mut rng = 0x2545F4914F6CDD1Du64;
        for len in 0..300 {
            let piece: Vec<u8> = (0..len)
                .map(|_| {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    if rng.is_multiple_of(3) {
                        b'b'
                    } else {
                        b'a'
                    }
                })
                .collect();
            let mut scan = Vec::new();
            t.bpe_scan(&piece, &mut Scratch::default(), &mut scan);
            let mut linked = Vec::new();
            t.bpe_linked(&piece, &mut linked, |_| {});
            assert_eq!(scan, linked, "piece of {len}");
            let explained = t.explain_piece(&piece);
            assert_eq!(explained.states().last().unwrap_or(&explained.start), &explained.ids);
        }
    }
}
