//! `glassbox bench`: speed on this machine. `bench generate` measures prefill and decode
//! tokens/s with the KV cache, the memory-bandwidth bound decoding cannot beat, and peak
//! memory; `bench tokenize` times encoding and BPE training; `bench train` (in
//! `bench_train.rs`) measures training throughput; `bench trace` and `bench causal` the
//! inspection tools.

use crate::output::say;
use anyhow::Result;
use glassbox::model::{Decoder, Params};
use glassbox::sample::argmax;
use glassbox::tokenizer::Tokenizer;
use glassbox::GptConfig;
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Subcommand)]
pub enum Bench {
    /// Generation speed: prefill and decode tokens/s, against the memory-bandwidth bound.
    Generate(GenerateArgs),
    /// Training speed: tokens/s, ms/step, model FLOPs utilisation, peak memory.
    Train(super::bench_train::Args),
    /// Tokenizer speed: encoding MB/s on one thread and on all, and BPE training time.
    Tokenize(TokenizeArgs),
    /// What tracing costs: the forward pass against traces recording nothing and everything.
    Trace(super::bench_trace::Args),
    /// Causal tracing: one sweep (every layer × position × kind restored) against PyTorch with hooks.
    Causal(super::bench_causal::Args),
}

#[derive(clap::Args)]
pub struct TokenizeArgs {
    /// A model directory (or tokenizer folder) whose vocabulary to encode with.
    #[arg(long)]
    tokenizer: PathBuf,
    /// The text file to encode.
    #[arg(long)]
    file: PathBuf,
    /// Also train a byte-level BPE vocabulary of this size on the file and time it.
    #[arg(long)]
    train_vocab: Option<usize>,
}

#[derive(clap::Args)]
pub struct GenerateArgs {
    /// Model shape (random weights): gpt2, gpt2-medium, baby, sorter.
    #[arg(long, default_value = "gpt2")]
    preset: String,
    /// Or a model directory to benchmark with its real weights.
    #[arg(long)]
    model: Option<std::path::PathBuf>,
    /// Prompt length for the prefill measurement.
    #[arg(long, default_value_t = 128)]
    prompt_tokens: usize,
    /// Tokens to decode (greedy, one at a time through the KV cache).
    #[arg(long, default_value_t = 64)]
    new: usize,
}

pub fn run(bench: Bench) -> Result<()> {
    match bench {
        Bench::Generate(args) => generate(args),
        Bench::Train(args) => super::bench_train::run(args),
        Bench::Tokenize(args) => tokenize(args),
        Bench::Trace(args) => super::bench_trace::run(args),
        Bench::Causal(args) => super::bench_causal::run(args),
    }
}

/// Best wall time of five runs after a warm-up.
fn best_of<T>(mut f: impl FnMut() -> T) -> (f64, T) {
    let mut out = f();
    let mut best = f64::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        out = f();
        best = best.min(start.elapsed().as_secs_f64());
    }
    (best, out)
}

fn tokenize(args: TokenizeArgs) -> Result<()> {
    let tokenizer = Tokenizer::load(&args.tokenizer)?;
    let text = std::fs::read_to_string(&args.file).map_err(|e| glassbox::Error::reading(&args.file, e))?;
    let megabytes = text.len() as f64 / 1e6;
    say!(
        "{}; {} ({:.1} MB); {} threads",
        tokenizer.describe(),
        args.file.display(),
        megabytes,
        rayon::current_num_threads()
    );
    let (single, ids) = best_of(|| tokenizer.encode(&text));
    say!("encode, one thread:  {:>7.1} MB/s ({} tokens in {:.0} ms)", megabytes / single, ids.len(), single * 1e3);
    let (parallel, parallel_ids) = best_of(|| tokenizer.encode_parallel(&text));
    if parallel_ids != ids {
        return Err(glassbox::Error::failure("parallel encoding gave different ids from one-thread encoding").into());
    }
    say!("encode, all threads: {:>7.1} MB/s ({:.0} ms)", megabytes / parallel, parallel * 1e3);
    if let Some(vocab_size) = args.train_vocab {
        let start = Instant::now();
        let trained = glassbox::tokenizer::train_bpe(&text, vocab_size, &mut |_, _| {})?;
        say!(
            "train a {vocab_size}-token BPE vocabulary: {:.2} s ({} merges)",
            start.elapsed().as_secs_f64(),
            trained.merges().len()
        );
    }
    Ok(())
}

fn generate(args: GenerateArgs) -> Result<()> {
    let params = match &args.model {
        Some(dir) => glassbox::io::load_model(dir)?.params,
        None => Params::init_random(&GptConfig::preset(&args.preset)?, 0),
    };
    let config = params.config.clone();
    let loaded_rss = peak_rss_bytes();
    let weight_bytes = params.num_elements() * 4;
    let threads = rayon::current_num_threads();
    say!(
        "model: {} layers, {} heads, {} dims, vocab {}, context {} — {:.1}M parameters, {:.0} MB of float32 weights; {threads} threads",
        config.n_layer,
        config.n_head,
        config.n_embd,
        config.vocab_size,
        config.n_ctx,
        params.num_elements() as f64 / 1e6,
        weight_bytes as f64 / 1e6
    );
    let prompt_len = args.prompt_tokens.clamp(1, config.n_ctx.saturating_sub(args.new).max(1));
    let prompt: Vec<u32> = (0..prompt_len).map(|i| (i * 7919 % config.vocab_size) as u32).collect();
    let mut decoder = Decoder::new(&params);

    // warm up: page in the weights, let the allocator settle
    decoder.prefill(&params, &prompt[..1])?;
    decoder.step(&params, 0)?;

    let start = Instant::now();
    decoder.reset();
    decoder.prefill(&params, &prompt)?;
    let prefill_s = start.elapsed().as_secs_f64();

    // decode: as the PyTorch peer does, from a one-token prompt, greedy, `new` tokens
    decoder.reset();
    let start = Instant::now();
    let mut next = argmax(decoder.prefill(&params, &prompt[..1])?);
    let mut step_times = Vec::with_capacity(args.new);
    for _ in 1..args.new.min(config.n_ctx - 1) {
        let t = Instant::now();
        next = argmax(decoder.step(&params, next)?);
        step_times.push(t.elapsed().as_secs_f64());
    }
    let decode_s = start.elapsed().as_secs_f64();
    let produced = step_times.len() + 1;
    step_times.sort_by(f64::total_cmp);
    let median_step = step_times.get(step_times.len() / 2).copied().unwrap_or(decode_s);

    // peak memory of loading and generating, before the bandwidth probe allocates its buffers
    let peak_rss = peak_rss_bytes();
    let bandwidth = measure_copy_bandwidth();
    let bound = bandwidth / weight_bytes as f64;
    let read_bandwidth = measure_read_bandwidth();
    let decode_rate = produced as f64 / decode_s;
    say!("prefill: {prompt_len} tokens in {:.1} ms = {:.0} tokens/s", prefill_s * 1e3, prompt_len as f64 / prefill_s);
    say!(
        "decode:  {produced} tokens in {:.2} s = {decode_rate:.1} tokens/s (median step {:.1} ms = {:.1} tokens/s)",
        decode_s,
        median_step * 1e3,
        1.0 / median_step
    );
    say!(
        "memory-bandwidth bound: {:.1} GB/s copy bandwidth (STREAM: read + written) / {:.0} MB of weights per token = {bound:.1} tokens/s; decode reaches {:.0}% of it",
        bandwidth / 1e9,
        weight_bytes as f64 / 1e6,
        100.0 * (1.0 / median_step) / bound
    );
    say!(
        "               (read-only bandwidth {:.1} GB/s would allow {:.1} tokens/s; decode reaches {:.0}% of that)",
        read_bandwidth / 1e9,
        read_bandwidth / weight_bytes as f64,
        100.0 * (1.0 / median_step) / (read_bandwidth / weight_bytes as f64)
    );
    say!(
        "peak memory after loading: {:.0} MB ({:.2}× the weight bytes)",
        loaded_rss as f64 / 1e6,
        loaded_rss as f64 / weight_bytes as f64
    );
    say!(
        "peak memory after generating: {:.0} MB ({:.2}× the weight bytes; weights read into memory)",
        peak_rss as f64 / 1e6,
        peak_rss as f64 / weight_bytes as f64,
    );
    say!(
        "{}",
        serde_json::json!({"what": "generate", "new_tokens": produced, "seconds": decode_s, "tokens_per_s": decode_rate,
            "median_step_tokens_per_s": 1.0 / median_step, "prefill_tokens_per_s": prompt_len as f64 / prefill_s,
            "bound_tokens_per_s": bound, "copy_gb_per_s": bandwidth / 1e9, "read_gb_per_s": read_bandwidth / 1e9, "threads": threads,
            "peak_rss_mb": peak_rss as f64 / 1e6})
    );
    Ok(())
}

/// Copy bandwidth in bytes/s as STREAM counts it (bytes read + bytes written per second):
/// the best of five copies of a 256 MiB buffer, split over the worker threads.
pub fn measure_copy_bandwidth() -> f64 {
    use rayon::prelude::*;
    let len = 64 << 20; // floats
    let source = vec![1f32; len];
    let mut target = vec![2f32; len];
    let mut best = f64::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        target.par_chunks_mut(1 << 18).zip(source.par_chunks(1 << 18)).for_each(|(t, s)| t.copy_from_slice(s));
        best = best.min(start.elapsed().as_secs_f64());
    }
    std::hint::black_box(&target);
    (2 * len * 4) as f64 / best
}

/// Read bandwidth in bytes/s: the best of five vectorized sums over a 512 MiB buffer (what
/// decoding does with the weights; the 1 MiB vector of ones stays in cache).
pub fn measure_read_bandwidth() -> f64 {
    use rayon::prelude::*;
    let len = 128 << 20;
    let source = vec![1f32; len];
    let mut best = f64::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        let ones = vec![1f32; 1 << 18];
        let total: f32 = source.par_chunks(1 << 18).map(|c| glassbox::kernels::dot(c, &ones)).sum();
        std::hint::black_box(total);
        best = best.min(start.elapsed().as_secs_f64());
    }
    (len * 4) as f64 / best
}

/// Peak resident memory of this process (VmHWM), in bytes; 0 where /proc is unavailable.
pub fn peak_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}
