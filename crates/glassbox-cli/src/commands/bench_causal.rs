//! `glassbox bench causal`: the speed of a causal-tracing sweep against `torch_peer.py
//! causal` (ROME's method with Hugging Face forward hooks). Same shape, random weights,
//! random prompt, noise on the first `--subject` tokens, `--samples` noisy copies; every
//! layer × position × kind (residual stream, attention output, MLP output) restored once.
//! Times the corrupted run plus the sweep, as the peer does, and prints the ratio.

use crate::output::say;
use anyhow::Result;
use glassbox::inspect::causal::{CausalOptions, Corruption, Tracer};
use glassbox::model::Params;
use glassbox::rng::Rng;
use glassbox::GptConfig;
use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    /// Model shape (random weights): gpt2, gpt2-medium, baby, sorter.
    #[arg(long, default_value = "gpt2")]
    preset: String,
    /// Prompt length.
    #[arg(long, default_value_t = 10)]
    tokens: usize,
    /// The subject: the first this many tokens.
    #[arg(long, default_value_t = 4)]
    subject: usize,
    /// Noise samples per restoration.
    #[arg(long, default_value_t = 10)]
    samples: usize,
    /// Timed sweeps after a warm-up; the median is reported.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// A Python with torch and transformers: also run the PyTorch peer on the same shape.
    #[arg(long)]
    peer: Option<PathBuf>,
    /// The peer script. [default: $GLASSBOX_SHARED/bench/torch_peer.py or ../shared/bench/torch_peer.py]
    #[arg(long)]
    peer_script: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    let config = GptConfig::preset(&args.preset)?;
    let params = Params::init_random(&config, 0);
    let seq = args.tokens.clamp(1, config.n_ctx);
    let mut rng = Rng::new(0);
    let ids: Vec<u32> = (0..seq).map(|_| rng.below(config.vocab_size) as u32).collect();
    let options = CausalOptions {
        subject: 0..args.subject.clamp(1, seq),
        corruption: Corruption::Noise { samples: args.samples, scale: 3.0, seed: 0 },
        window: 1,
        target: None,
        versus: None,
    };
    let threads = rayon::current_num_threads();
    let sweep = || -> Result<(f64, f32)> {
        let start = Instant::now();
        let tracer = Tracer::new(&params, &ids, &options)?;
        let traced = tracer.sweep()?;
        let seconds = start.elapsed().as_secs_f64();
        Ok((seconds, traced[0].prob[0][0]))
    };
    sweep()?; // warm up: page in the weights
    let mut times: Vec<f64> = (0..args.rounds.max(1)).map(|_| sweep().map(|t| t.0)).collect::<Result<_>>()?;
    times.sort_by(f64::total_cmp);
    let ours = times[times.len() / 2];
    let restorations = 3 * config.n_layer * seq;
    say!(
        "causal tracing: {} layers, {} heads, {} dims, vocab {}; {seq} tokens, subject {}, {} samples; {restorations} \
         restorations; {threads} threads",
        config.n_layer,
        config.n_head,
        config.n_embd,
        config.vocab_size,
        options.subject.len(),
        args.samples
    );
    say!("glassbox: {:.3} s (median of {})", ours, times.len());
    let mut line = json!({"what": "causal_trace", "preset": args.preset, "tokens": seq, "samples": args.samples,
        "restorations": restorations, "seconds": ours, "threads": threads});
    if let Some(python) = &args.peer {
        let peer_args: Vec<String> = [
            ("--layers", config.n_layer),
            ("--heads", config.n_head),
            ("--embd", config.n_embd),
            ("--vocab", config.vocab_size),
            ("--block", config.n_ctx),
            ("--tokens", seq),
            ("--subject", options.subject.len()),
            ("--samples", args.samples),
            ("--threads", threads),
        ]
        .iter()
        .flat_map(|(flag, value)| [flag.to_string(), value.to_string()])
        .chain(std::iter::once("causal".to_string()))
        .collect();
        let peer = super::bench_train::run_peer_script(python, args.peer_script.clone(), &peer_args)?;
        say!("{peer}");
        let theirs = peer.get("seconds").and_then(serde_json::Value::as_f64).unwrap_or(f64::NAN);
        say!("PyTorch + hooks: {theirs:.3} s   →   glassbox is {:.2}× faster", theirs / ours);
        line["peer_seconds"] = json!(theirs);
        line["ratio"] = json!(theirs / ours);
    }
    say!("{line}");
    Ok(())
}
