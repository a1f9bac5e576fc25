//! Learning a byte-level BPE vocabulary from a corpus: which pairs to merge, in which order.
//!
//! Pipeline position: corpus ──pre-tokenize (pretokenize.rs)──▶ word counts ──here──▶
//! merges ──▶ `BpeTokenizer` (bpe.rs) ──files.rs──▶ `vocab.json` + `merges.txt`.
//!
//! The classic algorithm: start from the 256 bytes; count every adjacent pair of tokens
//! over the corpus; merge the most frequent pair into a new token; repeat until the
//! vocabulary is full. Done naively that recounts the whole corpus per merge. Here:
//!
//! - the corpus is pre-tokenized once (on every core) into unique words with their counts;
//! - `pair → count` and `pair → words that contain it` are kept up to date: a merge touches
//!   only the words that contain its pair, and each reports the pairs it lost and gained;
//! - a max-heap holds candidate pairs with lazy invalidation: an entry whose count went
//!   stale is pushed back with the true count when it reaches the top.
//!
//! The choice of pair is the one Hugging Face `tokenizers`' `BpeTrainer` makes: the highest
//! count, ties broken by the smallest (left id, right id), with the same ids (bytes in
//! GPT-2's order, then each new token in turn), so the same corpus gives the same merges.
//! `<|endoftext|>` is added as the last token, as in GPT-2.

use super::bpe::{BpeParts, BpeTokenizer};
use super::byte_level::byte_order;
use super::fx::FxHashMap;
use super::pretokenize::{pretokenize, split_for_parallel};
use super::END_OF_TEXT;
use crate::{Error, Result};
use rayon::prelude::*;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// The smallest vocabulary a byte-level BPE can have: 256 bytes and `<|endoftext|>`.
pub const MIN_BPE_VOCAB: usize = 257;

#[inline]
fn pair_key(left: u32, right: u32) -> u64 {
    ((left as u64) << 32) | right as u64
}

/// A candidate merge in the heap: its count when pushed, and the words that had the pair.
struct Candidate {
    count: u64,
    pair: u64,
    words: Vec<u32>,
}

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.count == other.count && self.pair == other.pair
    }
}
impl Eq for Candidate {}
impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Candidate {
    /// The highest count first; among equal counts the smallest pair first.
    fn cmp(&self, other: &Self) -> Ordering {
        self.count.cmp(&other.count).then_with(|| other.pair.cmp(&self.pair))
    }
}

/// Learns a byte-level BPE vocabulary of `vocab_size` tokens (256 bytes, the merges, and
/// `<|endoftext|>` last) from `text`, pre-tokenized as GPT-2 does. `progress(done, total)`
/// is called after each merge. If the corpus runs out of pairs first, the vocabulary is
/// smaller than asked (every word is then a single token).
pub fn train_bpe(text: &str, vocab_size: usize, progress: &mut dyn FnMut(usize, usize)) -> Result<BpeTokenizer> {
    if vocab_size < MIN_BPE_VOCAB {
        return Err(Error::input(format!(
            "a byte-level BPE vocabulary needs at least {MIN_BPE_VOCAB} tokens (256 bytes and \
             {END_OF_TEXT}), but the size asked for is {vocab_size}"
        )));
    }
    if vocab_size > u32::MAX as usize / 2 {
        return Err(Error::input(format!("a vocabulary of {vocab_size} tokens is too large; GPT-2's has 50257")));
    }
    if text.is_empty() {
        return Err(Error::input("the training text is empty; BPE needs a corpus to learn merges from"));
    }

    // 1. Unique words and their counts, on every core.
    let (words, counts) = count_words(text);

    // 2. The starting vocabulary: the 256 bytes in GPT-2's order.
    let mut tokens: Vec<Vec<u8>> = byte_order().iter().map(|&b| vec![b]).collect();
    let mut byte_id = [0u32; 256];
    for (id, t) in tokens.iter().enumerate() {
        byte_id[t[0] as usize] = id as u32;
    }
    let mut token_ids: FxHashMap<Vec<u8>, u32> =
        tokens.iter().enumerate().map(|(id, t)| (t.clone(), id as u32)).collect();
    let mut words: Vec<Vec<u32>> = words.iter().map(|w| w.iter().map(|&b| byte_id[b as usize]).collect()).collect();

    // 3. Count pairs, and note which words hold each.
    let mut pair_counts: FxHashMap<u64, i64> = FxHashMap::default();
    let mut where_: FxHashMap<u64, Vec<u32>> = FxHashMap::default();
    for (w, word) in words.iter().enumerate() {
        for pair in word.windows(2) {
            let key = pair_key(pair[0], pair[1]);
            *pair_counts.entry(key).or_default() += counts[w] as i64;
            let list = where_.entry(key).or_default();
            if list.last() != Some(&(w as u32)) {
                list.push(w as u32);
            }
        }
    }
    let mut heap: BinaryHeap<Candidate> = where_
        .drain()
        .filter_map(|(pair, words)| {
            let count = pair_counts.get(&pair).copied().unwrap_or(0);
            (count > 0).then_some(Candidate { count: count as u64, pair, words })
        })
        .collect();

    // 4. Merge, most frequent pair first, until the vocabulary is full.
    let wanted = vocab_size - 1; // the last id is <|endoftext|>
    let total = wanted - tokens.len();
    let mut merges: Vec<(u32, u32)> = Vec::new();
    let mut changes: Vec<(u64, i32, u32)> = Vec::new();
    let mut fresh: FxHashMap<u64, Vec<u32>> = FxHashMap::default();
    progress(0, total);
    while tokens.len() < wanted {
        let Some(mut top) = heap.pop() else { break };
        let now = pair_counts.get(&top.pair).copied().unwrap_or(0).max(0) as u64;
        if top.count != now {
            top.count = now;
            heap.push(top);
            continue;
        }
        if top.count < 1 {
            break;
        }
        let (left, right) = ((top.pair >> 32) as u32, top.pair as u32);
        let mut joined = tokens[left as usize].clone();
        joined.extend_from_slice(&tokens[right as usize]);
        // A string reached by a second route keeps its first id (as Hugging Face does).
        let merged = match token_ids.get(&joined) {
            Some(&id) => id,
            None => {
                let id = tokens.len() as u32;
                token_ids.insert(joined.clone(), id);
                tokens.push(joined);
                id
            }
        };
        merges.push((left, right));

        merge_words(&mut words, &top.words, left, right, merged, &mut changes);
        for &(pair, delta, w) in &changes {
            *pair_counts.entry(pair).or_default() += delta as i64 * counts[w as usize] as i64;
            if delta > 0 {
                let list = fresh.entry(pair).or_default();
                if list.last() != Some(&w) {
                    list.push(w);
                }
            }
        }
        // New pairs enter the heap in a fixed order, so training is deterministic.
        let mut born: Vec<(u64, Vec<u32>)> = fresh.drain().collect();
        born.sort_unstable_by_key(|(pair, _)| *pair);
        for (pair, words) in born {
            let count = pair_counts.get(&pair).copied().unwrap_or(0);
            if count > 0 {
                heap.push(Candidate { count: count as u64, pair, words });
            }
        }
        progress(tokens.len() - 256, total);
    }

    let end_of_text = tokens.len() as u32;
    let mut all: Vec<Option<Vec<u8>>> = tokens.into_iter().map(Some).collect();
    all.push(Some(END_OF_TEXT.as_bytes().to_vec()));
    BpeTokenizer::new(BpeParts { tokens: all, merges, special: vec![(END_OF_TEXT.to_string(), end_of_text)] })
}

/// Applies a merge to the listed words and reports, per word, the pairs it lost (-1) and
/// gained (+1), as Hugging Face's `Word::merge` does. Large batches run on every core.
fn merge_words(
    words: &mut [Vec<u32>],
    which: &[u32],
    left: u32,
    right: u32,
    merged: u32,
    changes: &mut Vec<(u64, i32, u32)>,
) {
    changes.clear();
    if which.len() < 2048 {
        for &w in which {
            merge_word(&mut words[w as usize], w, left, right, merged, changes);
        }
        return;
    }
    // Take the listed words out, merge them in parallel, put them back. `which` lists each
    // word once, in increasing order.
    let mut taken: Vec<(u32, Vec<u32>)> = which.iter().map(|&w| (w, std::mem::take(&mut words[w as usize]))).collect();
    let parts: Vec<Vec<(u64, i32, u32)>> = taken
        .par_chunks_mut(512)
        .map(|chunk| {
            let mut local = Vec::new();
            for (w, word) in chunk.iter_mut() {
                merge_word(word, *w, left, right, merged, &mut local);
            }
            local
        })
        .collect();
    for (w, word) in taken {
        words[w as usize] = word;
    }
    for part in parts {
        changes.extend(part);
    }
}

/// Merges every `left right` in one word, left to right, in place.
#[inline]
fn merge_word(word: &mut Vec<u32>, w: u32, left: u32, right: u32, merged: u32, changes: &mut Vec<(u64, i32, u32)>) {
    let n = word.len();
    let mut out = 0;
    let mut i = 0;
    while i < n {
        if i + 1 < n && word[i] == left && word[i + 1] == right {
            if out > 0 {
                let before = word[out - 1];
                changes.push((pair_key(before, left), -1, w));
                changes.push((pair_key(before, merged), 1, w));
            }
            if i + 2 < n {
                let after = word[i + 2];
                changes.push((pair_key(right, after), -1, w));
                changes.push((pair_key(merged, after), 1, w));
            }
            word[out] = merged;
            out += 1;
            i += 2;
        } else {
            word[out] = word[i];
            out += 1;
            i += 1;
        }
    }
    word.truncate(out);
}

/// The corpus's unique pre-tokenized words (as bytes, sorted) and how often each occurs.
fn count_words(text: &str) -> (Vec<&[u8]>, Vec<u64>) {
    let parts = split_for_parallel(text, rayon::current_num_threads().max(1) * 4);
    let maps: Vec<FxHashMap<&str, u64>> = parts
        .par_iter()
        .map(|part| {
            let mut map: FxHashMap<&str, u64> = FxHashMap::default();
            for piece in pretokenize(part) {
                *map.entry(piece).or_default() += 1;
            }
            map
        })
        .collect();
    let mut total: FxHashMap<&str, u64> = FxHashMap::default();
    for map in maps {
        if total.is_empty() {
            total = map;
            continue;
        }
        for (word, count) in map {
            *total.entry(word).or_default() += count;
        }
    }
    let mut pairs: Vec<(&[u8], u64)> = total.into_iter().map(|(w, c)| (w.as_bytes(), c)).collect();
    pairs.sort_unstable();
    pairs.into_iter().unzip()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_word_reports_changes_like_hugging_face() {
        // h e l l o, merge (l, l) → 9: (e,l)-1 (e,9)+1 (l,o)-1 (9,o)+1
        let mut word = vec![0, 1, 2, 2, 3];
        let mut changes = Vec::new();
        merge_word(&mut word, 0, 2, 2, 9, &mut changes);
        assert_eq!(word, [0, 1, 9, 3]);
        let got: Vec<(u64, i32)> = changes.iter().map(|&(p, d, _)| (p, d)).collect();
        assert_eq!(got, [(pair_key(1, 2), -1), (pair_key(1, 9), 1), (pair_key(2, 3), -1), (pair_key(9, 3), 1)]);
        let mut word = vec![5, 5, 5];
        merge_word(&mut word, 0, 5, 5, 7, &mut changes);
        assert_eq!(word, [7, 5]);
    }

    #[test]
    fn most_frequent_pair_first_ties_to_the_smallest_pair() {
        let tok = train_bpe("ab ab ab cd cd cd", 259, &mut |_, _| {}).unwrap();
        // " a b" occurs twice as " ab" and once as "ab"; the first merge is the most
        // frequent pair: ("a", "b") occurs 3 times, (" ", "a") twice, ("c","d") 3 times,
        // so the tie between (a, b) and (c, d) goes to the smaller ids: (a, b).
        let m = tok.merges()[0];
        assert_eq!(tok.token_bytes(m.merged), Some(&b"ab"[..]));
        assert_eq!(tok.vocab_size(), 259);
        assert_eq!(tok.end_of_text(), Some(258));
    }
}
