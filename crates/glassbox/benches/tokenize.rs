//! Tokenizer throughput: glassbox's GPT-2 encoder against tiktoken-rs (`r50k_base`, GPT-2's
//! encoding) on the complete works of Shakespeare, one thread and all cores; and the time to
//! train an 8,192-token BPE vocabulary on the same text.
//!
//! `cargo bench -p glassbox --bench tokenize` (the fixtures come from `../shared` or
//! `$GLASSBOX_SHARED`). Plain `std::time` timing: the best of several runs after a warm-up,
//! glassbox and tiktoken in alternation so that the machine's load touches both alike.

use glassbox::tokenizer::{split_for_parallel, train_bpe, Tokenizer};
use rayon::prelude::*;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn shared_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("GLASSBOX_SHARED") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    };
    dir.join("data/shakespeare-complete.txt").is_file().then_some(dir)
}

/// The best wall time of `runs` runs of `f`, after one warm-up run.
fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut out = f();
    let mut best = Duration::MAX;
    for _ in 0..runs {
        let start = Instant::now();
        out = f();
        best = best.min(start.elapsed());
    }
    (best, out)
}

/// The best wall times of `a` and `b`, run in alternation (after a warm-up of each), so that
/// a change in the machine's load affects both alike and the ratio stays fair.
fn best_of_pair<A, B>(
    rounds: usize,
    mut a: impl FnMut() -> A,
    mut b: impl FnMut() -> B,
) -> ((Duration, A), (Duration, B)) {
    let (mut out_a, mut out_b) = (a(), b());
    let (mut best_a, mut best_b) = (Duration::MAX, Duration::MAX);
    for _ in 0..rounds {
        let start = Instant::now();
        out_a = a();
        best_a = best_a.min(start.elapsed());
        let start = Instant::now();
        out_b = b();
        best_b = best_b.min(start.elapsed());
    }
    ((best_a, out_a), (best_b, out_b))
}

fn mb_per_s(bytes: usize, t: Duration) -> f64 {
    bytes as f64 / 1e6 / t.as_secs_f64()
}

fn main() {
    let Some(shared) = shared_dir() else {
        eprintln!("skipping: shared/data/shakespeare-complete.txt not found (set GLASSBOX_SHARED)");
        return;
    };
    let text =
        std::fs::read_to_string(shared.join("data/shakespeare-complete.txt")).expect("read shakespeare-complete.txt");
    let tok = Tokenizer::load(&shared.join("conformance/gpt2vocab")).expect("GPT-2 vocabulary");
    let tiktoken = tiktoken_rs::r50k_base().expect("tiktoken r50k_base");
    let threads = rayon::current_num_threads();
    let n = text.len();
    println!(
        "tokenize: shakespeare-complete.txt, {:.2} MB, GPT-2 vocabulary, {threads} threads available",
        n as f64 / 1e6
    );

    // One thread.
    let ((t_ours, ours), (t_tik, theirs)) = best_of_pair(5, || tok.encode(&text), || tiktoken.encode_ordinary(&text));
    assert_eq!(ours, theirs, "glassbox and tiktoken disagree on the ids");
    println!("  ids identical to tiktoken: yes ({} tokens)", ours.len());
    let (ours_mbs, tik_mbs) = (mb_per_s(n, t_ours), mb_per_s(n, t_tik));
    println!(
        "  1 thread    glassbox {ours_mbs:8.1} MB/s   tiktoken-rs {tik_mbs:6.1} MB/s   ratio {:.1}×",
        ours_mbs / tik_mbs
    );

    // Every core: the text split at line boundaries where pre-tokenization cannot see
    // across, each slice encoded on its own thread (as a batch of documents would be).
    let parts = split_for_parallel(&text, threads * 4);
    let ((t_ours_mt, ours_mt), (t_tik_mt, tik_mt)) = best_of_pair(
        5,
        || tok.encode_batch(&parts).concat(),
        || parts.par_iter().map(|p| tiktoken.encode_ordinary(p)).collect::<Vec<_>>().concat(),
    );
    assert_eq!(ours_mt, ours, "the batch encode gives the same ids");
    assert_eq!(tik_mt, ours);
    let (ours_mt_mbs, tik_mt_mbs) = (mb_per_s(n, t_ours_mt), mb_per_s(n, t_tik_mt));
    println!(
        "  {threads} threads   glassbox {ours_mt_mbs:8.1} MB/s   tiktoken-rs {tik_mt_mbs:6.1} MB/s   ratio {:.1}×   ({} slices)",
        ours_mt_mbs / tik_mt_mbs,
        parts.len()
    );

    // Decoding.
    let (t_dec, decoded) = best_of(5, || tok.decode_bytes(&ours).expect("decode"));
    assert_eq!(decoded, text.as_bytes());
    println!("  decode      glassbox {:8.1} MB/s", mb_per_s(n, t_dec));

    // Training an 8,192-token vocabulary.
    let (t_train, trained) = best_of(2, || train_bpe(&text, 8192, &mut |_, _| {}).expect("train"));
    let trained = Tokenizer::Bpe(trained);
    let ids = trained.encode(&text);
    println!(
        "  train BPE 8192 tokens: {:.2} s ({threads} threads); {} tokens for the text, {:.2} bytes/token",
        t_train.as_secs_f64(),
        ids.len(),
        n as f64 / ids.len() as f64
    );
}
