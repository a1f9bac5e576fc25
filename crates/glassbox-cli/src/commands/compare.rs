//! `glassbox compare`: the transformer beside its predecessors, measured on this machine —
//! a GPT and an LSTM (and with `--rnn` an Elman RNN) with matched parameter counts,
//! trained the same way on the same data:
//!
//! - **speed**: training tokens/s of each, and the wall time of one forward pass as the
//!   sequence grows (the recurrent model's step t waits for step t − 1; the GPT's positions
//!   are computed together);
//! - **quality**: validation loss against seconds of training on a text (each model gets
//!   the same time);
//! - **reach**: accuracy on `--task copy:N` as N grows (the letter to copy lies N + 1
//!   tokens back).
//!
//! Writes `compare.json`, `speed.svg`, `quality.svg` and `reach.svg` into `--out`, and the
//! runs it trained under `--out/runs/`. The engine does the training (`train::Trainer`) and
//! the measuring; this file chooses the settings and reports.

use crate::output::say;
use anyhow::Result;
use glassbox::inspect::line_chart::{line_chart_svg, Scale, Series};
use glassbox::net::{matched_recurrent, NetConfig, Network, Passes};
use glassbox::recurrent::Cell;
use glassbox::rng::Rng;
use glassbox::train::{
    accuracy_prompts, Batch, DataSource, Event, NewRun, OptionChanges, ShapeRequest, StepWorkspace, Task, Trainer,
};
use glassbox::{Error, GptConfig};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    /// The text of the quality race. [default: the first 1.1 MB of the Shakespeare built
    /// into glassbox, tiny shakespeare's size]
    #[arg(long, value_name = "FILE")]
    data: Option<PathBuf>,
    /// Seconds of training each model gets in the quality race.
    #[arg(long, default_value_t = 60.0)]
    seconds: f64,
    /// String lengths N of the reach sweep (`--task copy:N`).
    #[arg(long, value_delimiter = ',', default_values_t = [8, 16, 32, 64, 128, 256])]
    lengths: Vec<usize>,
    /// Training steps per model and length in the reach sweep.
    #[arg(long, default_value_t = 600)]
    reach_steps: usize,
    /// Sequence lengths whose forward pass is timed.
    #[arg(long, value_delimiter = ',', default_values_t = [16, 32, 64, 128, 256, 512, 1024])]
    forward_lengths: Vec<usize>,
    /// Also train and time an Elman RNN (tanh).
    #[arg(long)]
    rnn: bool,
    /// Only these parts: speed, quality, reach (comma-separated). [default: all three]
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Seeds the weights and the data of every run.
    #[arg(long, default_value_t = 1337)]
    seed: u64,
    /// Where the charts, compare.json and the runs go.
    #[arg(long, default_value = "runs/compare", value_name = "DIR")]
    out: PathBuf,
    /// Replace what --out holds.
    #[arg(long)]
    force: bool,
}

/// The architectures compared, GPT first.
fn archs(rnn: bool) -> Vec<&'static str> {
    if rnn {
        vec!["gpt", "lstm", "rnn"]
    } else {
        vec!["gpt", "lstm"]
    }
}

fn title(arch: &str) -> &'static str {
    match arch {
        "gpt" => "GPT",
        "lstm" => "LSTM",
        _ => "RNN",
    }
}

/// `base` (a GPT) or the recurrent model of `arch` with its parameter count.
fn shape_for(arch: &str, base: &GptConfig) -> NetConfig {
    match Cell::from_name(arch) {
        None => NetConfig::Gpt(base.clone()),
        Some(cell) => NetConfig::Recurrent(matched_recurrent(
            base.param_count(),
            cell,
            2,
            base.n_embd,
            base.vocab_size,
            base.n_ctx,
        )),
    }
}

/// The shape flags that make a `Trainer` build `config`.
fn shape_request(config: &NetConfig) -> ShapeRequest {
    match config {
        NetConfig::Gpt(c) => ShapeRequest {
            arch: Some("gpt".into()),
            layers: Some(c.n_layer),
            heads: Some(c.n_head),
            embd: Some(c.n_embd),
            block: Some(c.n_ctx),
            ..ShapeRequest::default()
        },
        NetConfig::Recurrent(c) => ShapeRequest {
            arch: Some(c.cell.name().into()),
            layers: Some(c.num_layers),
            embd: Some(c.embedding_size),
            hidden: Some(c.hidden_size),
            block: Some(c.block_size),
            ..ShapeRequest::default()
        },
    }
}

pub fn run(args: Args) -> Result<()> {
    let parts: Vec<&str> = if args.only.is_empty() {
        vec!["speed", "quality", "reach"]
    } else {
        args.only.iter().map(String::as_str).collect()
    };
    if let Some(bad) = parts.iter().find(|p| !matches!(**p, "speed" | "quality" | "reach")) {
        return Err(Error::input(format!(
            "--only {}: the parts are speed, quality and reach",
            glassbox::error::excerpt(bad)
        ))
        .into());
    }
    if !(args.seconds.is_finite() && args.seconds > 0.0) {
        return Err(Error::input(format!("--seconds {} must be a positive number of seconds", args.seconds)).into());
    }
    if let Some(bad) = args.lengths.iter().find(|&&n| !(1..=512).contains(&n)) {
        return Err(Error::input(format!("--lengths {bad}: a copy length is from 1 to 512")).into());
    }
    if let Some(bad) = args.forward_lengths.iter().find(|&&n| !(1..=65_536).contains(&n)) {
        return Err(Error::input(format!("--forward-lengths {bad}: a timed length is from 1 to 65536")).into());
    }
    if args.reach_steps == 0 {
        return Err(Error::input("--reach-steps must be at least 1").into());
    }
    if args.out.join("compare.json").exists() && !args.force {
        return Err(Error::input(format!(
            "{} already holds a comparison; pass --force to replace it, or choose another --out",
            args.out.display()
        ))
        .into());
    }
    let text = match &args.data {
        _ if !parts.contains(&"quality") => PathBuf::new(),
        Some(path) => path.clone(),
        None => {
            let path = args.out.join("shakespeare.txt");
            let corpus = crate::corpus::text()?;
            let mut end = TINY_SHAKESPEARE_BYTES.min(corpus.len());
            while !corpus.is_char_boundary(end) {
                end -= 1;
            }
            std::fs::create_dir_all(&args.out).map_err(|e| Error::writing(&args.out, e))?;
            glassbox::io::write_atomic(&path, |w| w.write_all(&corpus.as_bytes()[..end]))?;
            path
        }
    };
    let archs = archs(args.rnn);
    let threads = rayon::current_num_threads();
    let mut report = json!({"seed": args.seed, "threads": threads});
    if parts.contains(&"speed") {
        report["speed"] = speed(&args, &archs)?;
    }
    if parts.contains(&"quality") {
        report["quality"] = quality(&args, &archs, &text)?;
    }
    if parts.contains(&"reach") {
        report["reach"] = reach(&args, &archs)?;
    }
    let path = args.out.join("compare.json");
    let body = serde_json::to_string_pretty(&report)?;
    glassbox::io::write_atomic(&path, |w| w.write_all(body.as_bytes()))?;
    say!("\nwrote {} and the charts beside it", path.display());
    Ok(())
}

/// Tiny shakespeare's size: the default text's length.
const TINY_SHAKESPEARE_BYTES: usize = 1_115_394;

/// The baby GPT (nanoGPT's shakespeare model) for a character vocabulary of `vocab`.
fn baby(vocab: usize, n_ctx: usize) -> Result<GptConfig> {
    let mut config = GptConfig::preset("baby")?;
    config.vocab_size = vocab;
    config.n_ctx = n_ctx;
    Ok(config)
}

fn write_chart(dir: &Path, name: &str, svg: &str) -> Result<()> {
    glassbox::io::write_atomic(&dir.join(name), |w| w.write_all(svg.as_bytes()))?;
    Ok(())
}

/// Forward-pass wall time against sequence length (one sequence, random weights), and
/// training tokens/s on the baby shape's batches.
fn speed(args: &Args, archs: &[&str]) -> Result<Value> {
    say!("speed — one forward pass of one sequence, as it grows (median of 3, after one untimed):");
    let longest = args.forward_lengths.iter().copied().max().unwrap_or(64);
    let base = baby(65, longest.max(64))?;
    let mut forward = serde_json::Map::new();
    let mut series = Vec::new();
    let mut rng = Rng::new(args.seed);
    for &arch in archs {
        let config = shape_for(arch, &base);
        let net = Network::init_random(&config, args.seed);
        let mut passes = Passes::new(&config, false);
        let mut points = Vec::new();
        for &t in &args.forward_lengths {
            let ids: Vec<u32> = (0..t).map(|_| rng.below(65) as u32).collect();
            passes.logits(&net, &ids, 1, t)?;
            let mut times: Vec<f64> = (0..3)
                .map(|_| {
                    let start = Instant::now();
                    let _ = passes.logits(&net, &ids, 1, t);
                    start.elapsed().as_secs_f64() * 1e3
                })
                .collect();
            times.sort_by(f64::total_cmp);
            points.push((t as f64, times[1]));
        }
        let shown: Vec<String> = points.iter().map(|(t, ms)| format!("T={t} {ms:.2} ms")).collect();
        say!("  {:<5} {} parameters: {}", title(arch), config.num_params(), shown.join(", "));
        forward.insert(arch.into(), json!(points.iter().map(|(t, ms)| json!({"T": t, "ms": ms})).collect::<Vec<_>>()));
        series.push(Series { name: title(arch).into(), points });
    }
    say!("speed — training steps on batches of 12 × 64 tokens (median of 10, after 3 untimed):");
    let mut training = serde_json::Map::new();
    for &arch in archs {
        let config = shape_for(arch, &baby(65, 64)?);
        let tokens_per_s = train_speed(&config, 12, 64, args.seed)?;
        say!("  {:<5} {:>8.0} tokens/s", title(arch), tokens_per_s);
        training.insert(arch.into(), json!(tokens_per_s));
    }
    let svg = line_chart_svg(
        "One forward pass as the sequence grows",
        "tokens in the sequence (T)",
        "milliseconds",
        &series,
        Scale::Log,
        None,
    );
    std::fs::create_dir_all(&args.out).map_err(|e| Error::writing(&args.out, e))?;
    write_chart(&args.out, "speed.svg", &svg)?;
    Ok(json!({"forward_ms": forward, "train_tokens_per_s": training}))
}

/// Median tokens/s of whole training steps (forward, backward, clip, AdamW) on a fixed
/// random batch.
fn train_speed(config: &NetConfig, rows: usize, seq: usize, seed: u64) -> Result<f64> {
    let mut net = Network::init_random(config, seed);
    let mut optimizer = glassbox::train::AdamW::new(glassbox::train::AdamWConfig::default(), net.specs());
    let mut work = StepWorkspace::new(config, rows);
    let mut rng = Rng::new(seed);
    let mut batch = Batch::new(rows, seq);
    batch.ids.iter_mut().for_each(|id| *id = rng.below(config.vocab_size()) as u32);
    batch.targets.iter_mut().for_each(|t| *t = rng.below(config.vocab_size()) as i32);
    let mut times = Vec::new();
    for step in 0..13 {
        let start = Instant::now();
        work.begin();
        work.accumulate(&net, &batch, 1.0)?;
        let norm = work.grad_norm();
        work.apply(&mut net, &mut optimizer, norm, 1e-3, 1.0);
        if step >= 3 {
            times.push(start.elapsed().as_secs_f64());
        }
    }
    times.sort_by(f64::total_cmp);
    Ok((rows * seq) as f64 / times[times.len() / 2])
}

/// What one training run measured.
struct RunResult {
    trainer: Trainer,
    /// (training seconds so far, validation loss) at each evaluation.
    curve: Vec<(f64, f64)>,
    tokens_per_s: f64,
}

fn train_run(spec: NewRun) -> Result<RunResult> {
    let mut trainer = Trainer::create(spec, &mut |_, _, _| {})?;
    let (mut seconds, mut tokens) = (0f64, 0usize);
    let mut curve = Vec::new();
    trainer.run(&mut |event| match event {
        Event::Step(s) => {
            seconds += s.seconds;
            tokens += s.tokens;
        }
        Event::Eval(e) => curve.push((seconds, e.val_loss as f64)),
        Event::Checkpoint { .. } => {}
    })?;
    Ok(RunResult { trainer, curve, tokens_per_s: tokens as f64 / seconds.max(1e-9) })
}

/// Validation loss against seconds of training on the text, each model given the same time.
fn quality(args: &Args, archs: &[&str], text: &Path) -> Result<Value> {
    say!("quality — validation loss against seconds of training on {}, {:.0} s each:", text.display(), args.seconds);
    let mut curves = serde_json::Map::new();
    let mut series = Vec::new();
    // the vocabulary is the text's characters: read it once to size the models
    let content = std::fs::read_to_string(text).map_err(|e| Error::reading(text, e))?;
    let vocab = {
        let mut chars: Vec<char> = content.chars().collect();
        chars.sort_unstable();
        chars.dedup();
        chars.len()
    };
    for &arch in archs {
        let config = shape_for(arch, &baby(vocab, 64)?);
        // as many steps as fit in the time, so that every schedule runs to its end
        let step_seconds = 12.0 * 64.0 / train_speed(&config, 12, 64, args.seed)?;
        let steps = ((args.seconds / step_seconds) as usize).max(10);
        let spec = NewRun {
            dir: args.out.join("runs").join(format!("quality-{arch}")),
            data: DataSource::Text { path: text.to_path_buf(), tokenizer: "char".into() },
            shape: shape_request(&config),
            options: OptionChanges {
                steps: Some(steps),
                eval_every: Some((steps / 12).max(1)),
                checkpoint_every: Some(0),
                seed: Some(args.seed),
                ..OptionChanges::default()
            },
            overwrite: true,
        };
        let run = train_run(spec)?;
        let last = run.curve.last().map_or(f64::NAN, |p| p.1);
        say!(
            "  {:<5} {} parameters, {steps} steps in {:.0} s ({:.0} tokens/s): validation loss {last:.3}",
            title(arch),
            config.num_params(),
            run.curve.last().map_or(0.0, |p| p.0),
            run.tokens_per_s
        );
        curves.insert(
            arch.into(),
            json!({"params": config.num_params(), "steps": steps, "tokens_per_s": run.tokens_per_s,
                   "curve": run.curve.iter().map(|(s, l)| json!({"seconds": s, "val_loss": l})).collect::<Vec<_>>()}),
        );
        series.push(Series { name: title(arch).into(), points: run.curve });
    }
    let svg = line_chart_svg(
        "Validation loss against training time",
        "seconds of training",
        "validation loss (nats per character)",
        &series,
        Scale::Linear,
        None,
    );
    write_chart(&args.out, "quality.svg", &svg)?;
    Ok(Value::Object(curves))
}

/// Accuracy on `copy:N` against N: each model trained `--reach-steps` steps per length.
fn reach(args: &Args, archs: &[&str]) -> Result<Value> {
    say!(
        "reach — copy a random string of N letters after a separator ({} steps each; accuracy per letter on 500 \
         held-out strings):",
        args.reach_steps
    );
    let mut results = serde_json::Map::new();
    let mut series = Vec::new();
    for &arch in archs {
        let mut rows = Vec::new();
        let mut points = Vec::new();
        let mut below = None;
        for &n in &args.lengths {
            let task = Task::from_name(&format!("copy:{n}"))?;
            let config = shape_for(arch, &task.default_config());
            let spec = NewRun {
                dir: args.out.join("runs").join(format!("reach-{arch}-copy{n}")),
                data: DataSource::Task { name: task.spec() },
                shape: shape_request(&config),
                options: OptionChanges {
                    steps: Some(args.reach_steps),
                    eval_every: Some(0),
                    checkpoint_every: Some(0),
                    accuracy_examples: Some(500),
                    seed: Some(args.seed),
                    ..OptionChanges::default()
                },
                overwrite: true,
            };
            let run = train_run(spec)?;
            let prompts = accuracy_prompts(&task, 500);
            let mut passes = Passes::new(&config, false);
            let hits = task.answer_hits(&run.trainer.params, &prompts, &mut passes)?;
            let letters = hits.iter().flatten().filter(|&&h| h).count() as f64 / (500 * n) as f64;
            let strings = hits.iter().filter(|h| h.iter().all(|&x| x)).count() as f64 / 500.0;
            if letters < 0.9 && below.is_none() {
                below = Some(n);
            }
            say!(
                "  {:<5} N = {n:>3} (distance {:>3}): {:>5.1}% of letters, {:>5.1}% of strings ({} parameters, {:.0} \
                 tokens/s)",
                title(arch),
                n + 1,
                100.0 * letters,
                100.0 * strings,
                config.num_params(),
                run.tokens_per_s
            );
            points.push(((n + 1) as f64, letters));
            rows.push(json!({"length": n, "distance": n + 1, "letter_accuracy": letters, "string_accuracy": strings,
                             "params": config.num_params(), "tokens_per_s": run.tokens_per_s}));
        }
        match below {
            Some(n) => say!("  {}: below 90% of letters from N = {n}", title(arch)),
            None => say!("  {}: at least 90% of letters at every length tried", title(arch)),
        }
        results.insert(arch.into(), json!({"runs": rows, "first_length_below_90": below}));
        series.push(Series { name: title(arch).into(), points });
    }
    let svg = line_chart_svg(
        "Reach: copying a string N letters back",
        "distance from a letter to where it is copied (N + 1 tokens)",
        "letters copied right",
        &series,
        Scale::Log,
        Some((0.0, 1.0)),
    );
    std::fs::create_dir_all(&args.out).map_err(|e| Error::writing(&args.out, e))?;
    write_chart(&args.out, "reach.svg", &svg)?;
    Ok(Value::Object(results))
}
