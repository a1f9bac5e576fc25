//! Support for the project's own test suites, not for users: reporting tests that did not
//! run because an optional fixture (`../shared`) or program (a browser) is missing, and
//! [`write_category_model`], a hand-built model whose embeddings group the built-in
//! category words (for the command line's and the server's tests of the category map).
//!
//! libtest has no "skipped" outcome decided at run time, so a test that returns early
//! counts as passed. [`skip`] makes that visible twice: a line where the test runs, and,
//! when the test binary exits, one line after libtest's own summary that counts the tests
//! skipped and names them.

use std::io::Write;
use std::sync::Mutex;

/// The tests skipped in this process, with the first reason given for each.
static SKIPPED: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

extern "C" {
    fn atexit(callback: extern "C" fn()) -> std::ffi::c_int;
}

/// Says that the running test is skipped (`test NAME ... SKIPPED (reason)`, straight to
/// stderr, which the harness does not capture), and counts it for the line printed when
/// the test binary exits.
pub fn skip(reason: &str) {
    let test = std::thread::current().name().unwrap_or("(unnamed)").to_string();
    let _ = writeln!(std::io::stderr().lock(), "test {test} ... SKIPPED ({reason})");
    let mut skipped = SKIPPED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if skipped.is_empty() {
        // SAFETY: `report` is a plain function that stays valid for the whole process.
        unsafe {
            atexit(report);
        }
    }
    if !skipped.iter().any(|(name, _)| *name == test) {
        skipped.push((test, reason.to_string()));
    }
}

/// Runs when the test binary exits, after libtest's "test result" line.
extern "C" fn report() {
    let skipped = SKIPPED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if skipped.is_empty() {
        return;
    }
    let names: Vec<&str> = skipped.iter().map(|(name, _)| name.as_str()).collect();
    let _ = writeln!(
        std::io::stderr().lock(),
        "SKIPPED: {} test{} of this suite did not run and {} counted as passed above: {} ({})",
        skipped.len(),
        if skipped.len() == 1 { "" } else { "s" },
        if skipped.len() == 1 { "is" } else { "are" },
        names.join(", "),
        skipped[0].1
    );
}

/// Words per built-in category that [`write_category_model`] trains its vocabulary on.
pub const CATEGORY_MODEL_LEARNED: usize = 6;

/// Writes into `dir` a model with a byte-level BPE vocabulary trained on the first
/// [`CATEGORY_MODEL_LEARNED`] words of each built-in category (so they are single tokens
/// and most of the rest are not; a few, like "ear" inside "heart", come whole as a part
/// of them), and token embeddings that point each category's single-token words along one
/// axis of their own (with a small wobble each), every other token elsewhere: clusters
/// must find the categories exactly. Returns the vocabulary size and, per category, its
/// words that are single tokens. Panics on failure (it is for tests).
pub fn write_category_model(dir: &std::path::Path) -> (usize, Vec<Vec<String>>) {
    use crate::inspect::categories::builtin_categories;
    use crate::inspect::space::resolve_word;
    use crate::tokenizer::{train_bpe, Tokenizer};
    const N_EMBD: usize = 16;
    let builtin = builtin_categories();
    let learned: Vec<&str> =
        builtin.iter().flat_map(|c| c.words.iter().take(CATEGORY_MODEL_LEARNED).map(String::as_str)).collect();
    // every word after a space, as the map looks it up (" king")
    let corpus = format!(" {}", learned.join(" ")).repeat(30);
    let tokenizer = Tokenizer::Bpe(train_bpe(&corpus, 4000, &mut |_, _| {}).expect("train the vocabulary"));
    let vocab = tokenizer.vocab_size();
    let config = crate::GptConfig::new(1, 1, N_EMBD, vocab, 8);
    let mut params = crate::model::Params::zeros(&config);
    let wte = params.tensors_mut().wte;
    // every token a little off in the second half of the dimensions ...
    for id in 0..vocab {
        wte[id * N_EMBD + 8 + id % 8] = 0.2;
    }
    // ... and category c's single-token words along axis c
    let mut single = Vec::new();
    for (category, list) in builtin.iter().enumerate() {
        let mut words = Vec::new();
        for (j, word) in list.words.iter().enumerate() {
            let ids = resolve_word(word, Some(&tokenizer), vocab, false).expect("a word of the vocabulary").ids;
            assert!(j >= CATEGORY_MODEL_LEARNED || ids.len() == 1, "'{word}' should be one token");
            if ids.len() == 1 {
                let row = &mut wte[ids[0] as usize * N_EMBD..][..N_EMBD];
                row.fill(0.0);
                row[category] = 1.0;
                row[8 + j % 8] = 0.1;
                words.push(word.clone());
            }
        }
        single.push(words);
    }
    crate::io::save_model(dir, &config, &params).expect("save the model");
    tokenizer.save(dir).expect("save the tokenizer");
    (vocab, single)
}
