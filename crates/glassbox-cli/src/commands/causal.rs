//! `glassbox causal MODEL (PROMPT | --ids …) --subject A..B [--corrupt noise|replace:TEXT]
//! [--samples N] [--window W] [--target T] [--versus T] [--json] [--out FILE.svg]`: causal
//! tracing (ROME). Spoil the subject, then put back one hidden state at a time from the
//! clean run and watch how much of the answer's probability returns: three token × layer
//! heatmaps (residual stream, attention output, MLP output) in the terminal, as JSON and
//! as an SVG. The work is in `inspect::causal`.

use super::explain::{quoted, Style};
use super::trace::{load, prompt_ids};
use crate::output::say;
use anyhow::Result;
use glassbox::inspect::causal::{
    causal_trace, parse_corruption, parse_subject, CausalOptions, CausalTrace, Corruption, StateKind,
};
use glassbox::inspect::heatmap::{heatmaps_svg, Panel};
use glassbox::inspect::space::single_token;
use glassbox::inspect::TokenText;
use glassbox::Error;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Model directory (Hugging Face GPT-2 layout or a glassbox run).
    model: PathBuf,
    /// The prompt text (needs the model's tokenizer files).
    prompt: Option<String>,
    /// Token ids instead of text: --ids 464,2068,7586
    #[arg(long, value_delimiter = ',')]
    ids: Option<Vec<String>>,
    /// The subject's token positions, A..B (end exclusive) or A..=B, or its text as it appears in the prompt.
    #[arg(long)]
    subject: String,
    /// How to spoil the subject: noise (Gaussian, --noise × σ of the token embeddings) or replace:TEXT
    /// (other tokens, as many as the subject's).
    #[arg(long, default_value = "noise")]
    corrupt: String,
    /// Noise samples averaged (noise only).
    #[arg(long, default_value_t = 10)]
    samples: usize,
    /// The noise's size in standard deviations of the token embeddings' entries (noise only).
    #[arg(long, default_value_t = 3.0)]
    noise: f32,
    /// The noise's seed (noise only).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Attention and MLP restorations put back this many layers around each layer (ROME uses 10 on 48 layers).
    #[arg(long, default_value_t = 1)]
    window: usize,
    /// The answer: a word (one token) or #ID (default: the clean model's top prediction).
    #[arg(long)]
    target: Option<String>,
    /// Also trace the logit difference answer − this token (a word or #ID).
    #[arg(long)]
    versus: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
    /// Write the three heatmaps as an SVG file.
    #[arg(long, value_name = "FILE.svg")]
    out: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    let (model, tokenizer) = load(&args.model)?;
    let ids = prompt_ids(&model, tokenizer.as_ref(), args.prompt.as_deref(), args.ids.as_deref())?;
    let vocab_size = model.config.vocab_size;
    let subject = parse_subject(&args.subject, &ids, tokenizer.as_ref())?;
    if !(args.noise.is_finite() && args.noise > 0.0) {
        return Err(Error::input("--noise must be a positive number of standard deviations, e.g. 3").into());
    }
    let noise = Corruption::Noise { samples: args.samples, scale: args.noise, seed: args.seed };
    let corruption = parse_corruption(&args.corrupt, noise, &subject, tokenizer.as_ref())?;
    let target =
        args.target.as_deref().map(|w| single_token("--target", w, tokenizer.as_ref(), vocab_size)).transpose()?;
    let versus =
        args.versus.as_deref().map(|w| single_token("--versus", w, tokenizer.as_ref(), vocab_size)).transpose()?;
    if let Some(out) = &args.out {
        glassbox::io::check_file_target(out)?;
    }
    let options = CausalOptions { subject, corruption, window: args.window, target, versus };
    let trace = causal_trace(&model.params, &ids, &options)?;
    let tok = |id: u32| TokenText::new(tokenizer.as_ref(), id).display;
    if let Some(out) = &args.out {
        let svg = trace_svg(&trace, &tok);
        glassbox::io::write_atomic(out, |w| w.write_all(svg.as_bytes()))?;
    }
    if args.json {
        say!("{}", serde_json::to_string(&trace)?);
        return Ok(());
    }
    print_trace(&args, &trace, &tok);
    Ok(())
}

/// The row label of a position: `3 " Tower"`.
fn row_label(trace: &CausalTrace, position: usize, tok: &dyn Fn(u32) -> String) -> String {
    format!("{position} {}", quoted(&tok(trace.ids[position])))
}

/// The three panels, shaded on one scale from the corrupted probability to the highest seen.
/// The range a trace's heatmaps are shaded over: from the corrupted probability (white)
/// to the highest any restoration reached, or the clean one if that is higher.
pub fn shade_range<'a>(grids: impl Iterator<Item = &'a Vec<Vec<f32>>>, clean: f32, corrupted: f32) -> (f32, f32) {
    let high = grids.flat_map(|grid| grid.iter().flatten()).fold(clean, |m, &p| m.max(p));
    (corrupted.min(high), high)
}

/// One heatmap panel per kind of state restored, on one shading range.
pub fn kind_panels<'a>(
    kinds: impl Iterator<Item = (StateKind, &'a [Vec<f32>])>,
    (low, high): (f32, f32),
) -> Vec<Panel<'a>> {
    kinds
        .map(|(kind, values)| {
            let (title, colour) = match kind {
                StateKind::Resid => ("residual stream after the block", "#6a3d9a"),
                StateKind::Attn => ("attention output", "#2ca02c"),
                StateKind::Mlp => ("MLP output", "#d62728"),
            };
            Panel { title: format!("{title} ({})", kind.name()), values, low, high, colour }
        })
        .collect()
}

fn trace_svg(trace: &CausalTrace, tok: &dyn Fn(u32) -> String) -> String {
    let range = shade_range(trace.kinds.iter().map(|k| &k.prob), trace.clean.prob, trace.corrupted.prob);
    let panels = kind_panels(trace.kinds.iter().map(|k| (k.kind, &k.prob[..])), range);
    let labels: Vec<String> = (0..trace.ids.len()).map(|p| row_label(trace, p, tok)).collect();
    let marked: Vec<bool> = (0..trace.ids.len()).map(|p| (trace.subject[0]..trace.subject[1]).contains(&p)).collect();
    let title = format!(
        "causal tracing: P({}) restored, clean {:.3}, corrupted {:.3} ({} × {}, window {})",
        quoted(&tok(trace.target_id)),
        trace.clean.prob,
        trace.corrupted.prob,
        trace.corruption,
        trace.samples,
        trace.window
    );
    heatmaps_svg(&title, &labels, &marked, "layer", &panels)
}

fn print_trace(args: &Args, trace: &CausalTrace, tok: &dyn Fn(u32) -> String) {
    let s = Style::stdout();
    let answer = quoted(&tok(trace.target_id));
    say!("{}  {}", s.bold("glassbox causal"), args.model.display());
    let corruption = match trace.noise_std {
        Some(std) => format!("noise of std {std:.4} on its embeddings, {} samples, seed {}", trace.samples, args.seed),
        None => "its tokens replaced".to_string(),
    };
    say!("  subject: positions {}..{} ({corruption})", trace.subject[0], trace.subject[1]);
    say!(
        "  P({answer}) clean {:.4}   corrupted {:.4}{}",
        trace.clean.prob,
        trace.corrupted.prob,
        match (trace.clean.logit_diff, trace.corrupted.logit_diff, trace.versus_id) {
            (Some(a), Some(b), Some(v)) => format!("   logit({answer}) − logit({}): {a:.3} → {b:.3}", quoted(&tok(v))),
            _ => String::new(),
        }
    );
    let (low, high) = shade_range(trace.kinds.iter().map(|k| &k.prob), trace.clean.prob, trace.corrupted.prob);
    const SHADES: [&str; 6] = ["  ", "··", "░░", "▒▒", "▓▓", "██"];
    let shade = |p: f32| {
        let f = ((p - low) / (high - low).max(1e-12)).clamp(0.0, 1.0);
        SHADES[(f * 5.0).round() as usize]
    };
    let names = ["residual stream after each block", "attention output", "MLP output"];
    for (k, name) in trace.kinds.iter().zip(names) {
        say!();
        say!(
            "  {} {}",
            s.bold(&format!("restoring the {name}")),
            s.dim(&format!("({}, window {})", k.kind.name(), trace.window))
        );
        let layers = k.prob.first().map_or(0, Vec::len);
        let header: String = (0..layers).map(|l| format!("{:<2}", l % 100)).collect();
        say!("  {:<22} {}", s.dim("position \\ layer"), s.dim(&header));
        for (position, row) in k.prob.iter().enumerate() {
            let cells: String = row.iter().map(|&p| shade(p)).collect();
            let label = row_label(trace, position, tok);
            let in_subject = (trace.subject[0]..trace.subject[1]).contains(&position);
            let label = format!("{}{}", super::explain::fit(&label, 20), if in_subject { " *" } else { "  " });
            say!("  {} {}", if in_subject { s.bold(&label) } else { label }, s.cyan(&cells));
        }
        let (best_p, best_l, best) = k
            .prob
            .iter()
            .enumerate()
            .flat_map(|(p, row)| row.iter().enumerate().map(move |(l, &v)| (p, l, v)))
            .fold((0, 0, f32::MIN), |acc, x| if x.2 > acc.2 { x } else { acc });
        say!(
            "  {}",
            s.dim(&format!("strongest: layer {best_l} at {} — P({answer}) {best:.4}", row_label(trace, best_p, tok)))
        );
    }
    say!();
    say!(
        "  {}",
        s.dim(&format!(
            "shades run from the corrupted P {low:.3} (blank) to {high:.3} (█); * marks the subject; {} restorations",
            trace.restorations
        ))
    );
    if let Some(out) = &args.out {
        say!("  {} {}", s.green("wrote"), out.display());
    }
}
