//! `glassbox bench trace`: what recording activations costs. Times, on the same prompt and
//! the same activation arena, (1) the plain forward pass, (2) a trace that records nothing
//! (the hooked forward pass with no interventions, then an empty read-out), and (3) a trace
//! that records every hook, copying each into its own tensor as `glassbox trace` does —
//! and prints (2) and (3) as multiples of (1). Also the whole `trace()` call with a fresh
//! arena (what one `glassbox trace` command pays).

use crate::output::say;
use anyhow::Result;
use glassbox::inspect::intervention::forward_with_interventions;
use glassbox::inspect::trace::{record, trace, TraceOptions};
use glassbox::inspect::{all_hooks, Interventions};
use glassbox::model::{forward, Activations, Params};
use glassbox::GptConfig;
use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    /// Model shape (random weights): gpt2, gpt2-medium, baby, sorter.
    #[arg(long, default_value = "gpt2")]
    preset: String,
    /// Or a model directory, with its real weights.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Prompt length.
    #[arg(long, default_value_t = 64)]
    tokens: usize,
    /// Timed rounds; each round runs the four variants once, in turn, and the best of
    /// each is kept.
    #[arg(long, default_value_t = 20)]
    rounds: usize,
}

pub fn run(args: Args) -> Result<()> {
    let params = match &args.model {
        Some(dir) => glassbox::io::load_model(dir)?.params,
        None => Params::init_random(&GptConfig::preset(&args.preset)?, 0),
    };
    let config = params.config.clone();
    let seq = args.tokens.clamp(1, config.n_ctx);
    let ids: Vec<u32> = (0..seq).map(|i| (i * 7919 % config.vocab_size) as u32).collect();
    let hooks = all_hooks(&config);
    let none = Interventions::default();
    let mut acts = Activations::default();
    forward(&params, &ids, 1, seq, &mut acts)?; // warm up: page in the weights, size the arena

    // best[v]: the best time of variant v; each round runs the four in a rotated order so
    // that none always follows the same one
    let mut best = [f64::MAX; 4];
    let mut recorded_floats = 0;
    let options = TraceOptions { hooks: hooks.clone(), ..TraceOptions::default() };
    for round in 0..args.rounds.max(1) {
        for k in 0..4 {
            let variant = (round + k) % 4;
            let start = Instant::now();
            match variant {
                0 => forward(&params, &ids, 1, seq, &mut acts)?,
                1 => {
                    forward_with_interventions(&params, &ids, 1, seq, &mut acts, &none)?;
                    std::hint::black_box(record(&params, &acts, &[]));
                }
                2 => {
                    forward_with_interventions(&params, &ids, 1, seq, &mut acts, &none)?;
                    let tensors = record(&params, &acts, &hooks);
                    recorded_floats = tensors.iter().map(|t| t.values.len()).sum();
                }
                _ => {
                    std::hint::black_box(trace(&params, &ids, 1, seq, &options)?);
                }
            }
            best[variant] = best[variant].min(start.elapsed().as_secs_f64());
        }
    }
    let [plain, nothing, everything, whole] = best;
    say!(
        "model: {} layers, {} heads, {} dims, vocab {} — {:.1}M parameters; {seq} tokens; {} threads; best of {} rounds",
        config.n_layer,
        config.n_head,
        config.n_embd,
        config.vocab_size,
        params.num_elements() as f64 / 1e6,
        rayon::current_num_threads(),
        args.rounds.max(1)
    );
    say!("forward pass, nothing recorded:        {:>8.2} ms", plain * 1e3);
    say!("trace recording nothing:               {:>8.2} ms = {:.3}× the forward pass", nothing * 1e3, nothing / plain);
    say!(
        "trace recording all {} hooks ({:.1} MB): {:>8.2} ms = {:.3}× the forward pass",
        hooks.len(),
        recorded_floats as f64 * 4.0 / 1e6,
        everything * 1e3,
        everything / plain
    );
    say!("  … with a fresh arena (one `glassbox trace`): {:.2} ms = {:.3}×", whole * 1e3, whole / plain);
    say!(
        "{}",
        json!({"what": "trace", "tokens": seq, "hooks": hooks.len(), "recorded_mb": recorded_floats as f64 * 4.0 / 1e6,
            "forward_ms": plain * 1e3, "trace_nothing_ms": nothing * 1e3, "trace_all_ms": everything * 1e3,
            "trace_all_fresh_arena_ms": whole * 1e3, "nothing_ratio": nothing / plain, "all_ratio": everything / plain,
            "threads": rayon::current_num_threads()})
    );
    Ok(())
}
