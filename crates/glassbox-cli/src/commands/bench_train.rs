//! `glassbox bench train`: training speed on this machine. Times full optimizer steps
//! (forward, backward, clipping, AdamW) of a preset shape on a fixed random batch, as
//! `torch_peer.py train` does, and reports tokens/s, ms/step, model FLOPs utilisation
//! against the sgemm rate measured at startup, and peak memory. With `--peer PYTHON`, runs
//! the PyTorch peer on the same shape and thread count and prints the ratio. With `--arch
//! lstm|rnn` it times the recurrent model instead, against `torch_peer.py recurrent`
//! (`nn.LSTM` / `nn.RNN`).

use crate::output::say;
use anyhow::Result;
use glassbox::kernels::matmul::{matmul_forward, WeightLayout};
use glassbox::net::{NetConfig, Network};
use glassbox::recurrent::{Cell, RecurrentConfig};
use glassbox::rng::Rng;
use glassbox::train::{AdamW, AdamWConfig, Batch, StepWorkspace};
use glassbox::{Error, GptConfig};
use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    /// Model shape: baby (nanoGPT's shakespeare model), gpt2 (124M), gpt2-medium, sorter.
    #[arg(long, default_value = "baby")]
    preset: String,
    /// gpt, or a recurrent model: lstm or rnn (shape from --layers, --embd, --hidden, --vocab).
    #[arg(long, default_value = "gpt", value_name = "gpt|lstm|rnn")]
    arch: String,
    /// Recurrent layers (--arch lstm|rnn).
    #[arg(long, default_value_t = 2)]
    layers: usize,
    /// Token vector width (--arch lstm|rnn).
    #[arg(long, default_value_t = 128)]
    embd: usize,
    /// State width (--arch lstm|rnn).
    #[arg(long, default_value_t = 256)]
    hidden: usize,
    /// Vocabulary (--arch lstm|rnn; tiny shakespeare's characters).
    #[arg(long, default_value_t = 65)]
    vocab: usize,
    /// Sequences per step. [default: 12 for baby, 4 otherwise]
    #[arg(long)]
    batch: Option<usize>,
    /// Tokens per sequence. [default: 64]
    #[arg(long)]
    block: Option<usize>,
    /// Timed steps (after 3 untimed ones).
    #[arg(long, default_value_t = 20)]
    steps: usize,
    /// A Python with torch and transformers: also run the PyTorch peer on the same shape.
    #[arg(long, value_name = "PYTHON")]
    peer: Option<PathBuf>,
    /// The peer script. [default: $GLASSBOX_SHARED/bench/torch_peer.py or ../shared/bench/torch_peer.py]
    #[arg(long, value_name = "FILE")]
    peer_script: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    let mut config = GptConfig::preset(&args.preset)?;
    let recurrent = match args.arch.as_str() {
        "gpt" => None,
        name => Some(Cell::from_name(name).ok_or_else(|| {
            Error::input(format!("--arch {} is unknown; choose gpt, lstm or rnn", glassbox::error::excerpt(name)))
        })?),
    };
    let batch = args.batch.unwrap_or(if args.preset == "baby" || recurrent.is_some() { 12 } else { 4 });
    let seq = args.block.unwrap_or(64.min(config.n_ctx));
    if batch == 0 || seq == 0 || args.steps == 0 {
        return Err(Error::input("--batch, --block and --steps must be at least 1").into());
    }
    if seq > config.n_ctx {
        config.n_ctx = seq;
        config.validate()?;
    }
    let net = match recurrent {
        None => NetConfig::Gpt(config.clone()),
        Some(cell) => {
            let mut c = RecurrentConfig::new(cell, args.vocab, args.embd, args.hidden, args.layers);
            c.block_size = seq;
            c.validate()?;
            NetConfig::Recurrent(c)
        }
    };
    StepWorkspace::check_fits(&net, batch, seq)?;
    let threads = rayon::current_num_threads();
    let peak = measure_sgemm();
    say!("sgemm 1024×1024×1024 (matmul_forward): {:.1} GFLOP/s on {threads} threads", peak / 1e9);

    let mut params = Network::init_random(&net, 0);
    let mut optimizer = AdamW::new(AdamWConfig { beta2: 0.99, ..AdamWConfig::default() }, params.specs());
    let mut work = StepWorkspace::new(&net, batch);
    // a fixed random batch, as the peer uses
    let mut rng = Rng::new(0);
    let mut data = Batch::new(batch, seq);
    data.ids.iter_mut().for_each(|id| *id = rng.below(net.vocab_size()) as u32);
    data.targets.iter_mut().for_each(|t| *t = rng.below(net.vocab_size()) as i32);
    let n_params = params.num_params();
    let name = if recurrent.is_some() { args.arch.clone() } else { args.preset.clone() };
    say!("model: {name} — {} — {:.2}M parameters; batch {batch} × {seq} tokens", net.describe(), n_params as f64 / 1e6);
    let mut times = Vec::with_capacity(args.steps);
    let mut last_loss = 0f32;
    for step in 0..args.steps + 3 {
        let start = Instant::now();
        work.begin();
        last_loss = work.accumulate(&params, &data, 1.0)?;
        let norm = work.grad_norm();
        work.apply(&mut params, &mut optimizer, norm, 1e-3, 1.0);
        if step >= 3 {
            times.push(start.elapsed().as_secs_f64());
        }
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let tokens = batch * seq;
    let tokens_per_s = tokens as f64 / median;
    // model FLOPs (PaLM's count): 6 per parameter in a matrix product per token, plus
    // attention's 12·layers·C·T; position embeddings are a lookup, not a product
    let flops_per_token = match &net {
        NetConfig::Gpt(c) => {
            let matmul_params = (n_params - c.n_ctx * c.n_embd) as f64;
            6.0 * matmul_params + 12.0 * (c.n_layer * c.n_embd * seq) as f64
        }
        // every parameter but the embedding (a lookup) is in a product, once per token
        NetConfig::Recurrent(c) => 6.0 * (n_params - c.vocab_size * c.embedding_size) as f64,
    };
    let achieved = flops_per_token * tokens_per_s;
    let peak_rss = super::bench::peak_rss_bytes();
    say!(
        "train step (forward, backward, clip, AdamW): median {:.1} ms over {} steps = {tokens_per_s:.0} tokens/s (loss {last_loss:.3})",
        median * 1e3,
        args.steps
    );
    say!(
        "model FLOPs: {:.2} GFLOP/step → {:.1} GFLOP/s = {:.0}% of the measured sgemm rate",
        flops_per_token * tokens as f64 / 1e9,
        achieved / 1e9,
        100.0 * achieved / peak
    );
    say!("peak memory: {:.0} MB", peak_rss as f64 / 1e6);
    let ours = json!({"engine": "glassbox", "what": "train_step", "model": name, "params": n_params,
        "batch": batch, "block": seq, "tokens": tokens, "median_s": median, "tokens_per_s": tokens_per_s,
        "mfu": achieved / peak, "sgemm_gflops": peak / 1e9, "peak_rss_mb": peak_rss as f64 / 1e6, "threads": threads});
    say!("{ours}");
    if let Some(python) = &args.peer {
        let peer = run_peer(python, args.peer_script.clone(), &net, batch, seq, args.steps, threads)?;
        let theirs = peer.get("tokens_per_s").and_then(serde_json::Value::as_f64).unwrap_or(f64::NAN);
        say!("{peer}");
        say!(
            "glassbox {tokens_per_s:.0} tokens/s vs PyTorch {theirs:.0} tokens/s: {:.2}× on {threads} threads",
            tokens_per_s / theirs
        );
    }
    Ok(())
}

/// The sgemm rate of `matmul_forward` on 1024³ (best of ten after a warm-up: the peak this
/// machine gives now), in FLOP/s.
fn measure_sgemm() -> f64 {
    let n = 1024;
    let a: Vec<f32> = (0..n * n).map(|i| (i % 17) as f32 * 0.01).collect();
    let w: Vec<f32> = (0..n * n).map(|i| (i % 13) as f32 * 0.01).collect();
    let mut out = vec![0f32; n * n];
    matmul_forward(&mut out, &a, &w, None, n, n, n, WeightLayout::InOut);
    let mut best = f64::MAX;
    for _ in 0..10 {
        let start = Instant::now();
        matmul_forward(&mut out, &a, &w, None, n, n, n, WeightLayout::InOut);
        best = best.min(start.elapsed().as_secs_f64());
    }
    std::hint::black_box(&out);
    2.0 * (n * n * n) as f64 / best
}

/// Runs `torch_peer.py train` (or `recurrent`) on the same shape; its JSON line.
fn run_peer(
    python: &PathBuf,
    script: Option<PathBuf>,
    config: &NetConfig,
    batch: usize,
    seq: usize,
    steps: usize,
    threads: usize,
) -> Result<serde_json::Value> {
    let mut args: Vec<String> = match config {
        NetConfig::Gpt(c) => vec![
            "train".into(),
            "--layers".into(),
            c.n_layer.to_string(),
            "--heads".into(),
            c.n_head.to_string(),
            "--embd".into(),
            c.n_embd.to_string(),
            "--vocab".into(),
            c.vocab_size.to_string(),
        ],
        NetConfig::Recurrent(c) => vec![
            "recurrent".into(),
            "--cell".into(),
            c.cell.name().into(),
            "--layers".into(),
            c.num_layers.to_string(),
            "--embd".into(),
            c.embedding_size.to_string(),
            "--hidden".into(),
            c.hidden_size.to_string(),
            "--vocab".into(),
            c.vocab_size.to_string(),
        ],
    };
    for (flag, value) in [("--block", seq), ("--batch", batch), ("--steps", steps), ("--threads", threads)] {
        args.extend([flag.to_string(), value.to_string()]);
    }
    run_peer_script(python, script, &args)
}

/// Runs the PyTorch peer script (`--peer-script`, else `$GLASSBOX_SHARED/bench/torch_peer.py`,
/// else `../shared/bench/torch_peer.py`) with these arguments; the JSON line it prints last.
pub fn run_peer_script(python: &PathBuf, script: Option<PathBuf>, args: &[String]) -> Result<serde_json::Value> {
    let script = script
        .or_else(|| std::env::var_os("GLASSBOX_SHARED").map(|d| PathBuf::from(d).join("bench/torch_peer.py")))
        .unwrap_or_else(|| PathBuf::from("../shared/bench/torch_peer.py"));
    if !script.is_file() {
        return Err(Error::input(format!(
            "the PyTorch peer script {} does not exist; pass --peer-script FILE",
            script.display()
        ))
        .into());
    }
    let output = std::process::Command::new(python).arg(&script).args(args).output().map_err(|e| {
        Error::input(format!("could not run {}: {e}; pass a Python with torch as --peer", python.display()))
    })?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().rev().find(|l| l.starts_with('{'));
    match (output.status.success(), line) {
        (true, Some(line)) => Ok(serde_json::from_str(line)?),
        _ => Err(Error::failure(format!(
            "the PyTorch peer failed: {}",
            String::from_utf8_lossy(&output.stderr).lines().last().unwrap_or("no output")
        ))
        .into()),
    }
}
