//! `glassbox heads MODEL`: scores every attention head as a previous-token, duplicate-token
//! and induction head (Olsson et al. 2022) on repeated random token sequences
//! (BOS r₁…rₙ r₁…rₙ), and compares the loss on the first and the second repetition. With
//! `--ablate blocks.1.attn.head.2` (or any intervention) the same numbers are measured with
//! that head knocked out, which shows what it was doing: the loss changes; the ablated
//! head's attention does not (it is marked, and never named the strongest of a kind).

use super::explain::{bar, Style};
use super::trace::{load, InterventionArgs};
use crate::output::say;
use anyhow::Result;
use glassbox::inspect::heads::{detect_heads, HeadOptions, HeadScore};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Model directory (Hugging Face GPT-2 layout or a glassbox run).
    model: PathBuf,
    /// Length n of the random segment (default: min(50, (context − 1) / 2)).
    #[arg(long)]
    n: Option<usize>,
    /// How many random sequences to average over.
    #[arg(long, default_value_t = 16)]
    sequences: usize,
    /// Seed for the random tokens.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The first token (default: the end-of-text token, else id 0).
    #[arg(long)]
    bos: Option<u32>,
    /// Draw each segment's tokens all different (default: uniformly, with replacement, as
    /// Olsson et al.; distinct tokens let a small-vocabulary model predict by elimination).
    #[arg(long)]
    distinct: bool,
    /// Print the scores as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    interventions: InterventionArgs,
}

pub fn run(args: Args) -> Result<()> {
    let (model, tokenizer) = load(&args.model)?;
    let interventions = args.interventions.parse(&model.params, tokenizer.as_ref())?;
    let options = HeadOptions {
        n: args.n,
        sequences: args.sequences,
        seed: args.seed,
        bos: args.bos,
        distinct: args.distinct,
        interventions,
    };
    let report = detect_heads(&model.params, &options)?;
    if args.json {
        say!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    let s = Style::stdout();
    say!(
        "{}  {}  ·  {} random sequences of BOS ({}) + {} tokens, repeated{}",
        s.bold("glassbox heads"),
        args.model.display(),
        report.sequences,
        report.bos,
        report.n,
        if report.distinct { " (distinct tokens)" } else { " (uniform random tokens)" }
    );
    for line in &report.interventions {
        say!("{} {line}", s.yellow("intervention:"));
    }
    let ablated: Vec<String> = report
        .scores
        .iter()
        .filter(|sc| sc.ablated)
        .map(|sc| format!("blocks.{}.attn.head.{}", sc.layer, sc.head))
        .collect();
    if !ablated.is_empty() {
        say!(
            "{} {} — its attention is measured as before, but its output is zeroed: the losses below are without it",
            s.yellow("ablated:"),
            ablated.join(", ")
        );
    }
    say!(
        "  {}",
        s.dim("mean attention: previous-token i → i−1 · duplicate-token i → i−n · induction i → i−n+1 (second half)")
    );
    say!();
    say!(
        "  {}",
        s.dim(&format!(
            "{:<6} {:<5} {:<24} {:<24} {:<24}",
            "layer", "head", "previous-token", "duplicate-token", "induction"
        ))
    );
    let cell = |v: f32| {
        let text = format!("{:.3} {}", v, bar(v, 12));
        let padded = format!("{text:<24}");
        if v >= 0.5 {
            s.green(&padded)
        } else {
            padded
        }
    };
    for sc in &report.scores {
        say!(
            "  {:<6} {:<5} {} {} {}{}",
            sc.layer,
            sc.head,
            cell(sc.previous_token),
            cell(sc.duplicate_token),
            cell(sc.induction),
            if sc.ablated { s.yellow(" ablated") } else { String::new() }
        );
    }
    say!();
    let best = |name: &str, f: &dyn Fn(&glassbox::inspect::heads::HeadScore) -> f32| {
        if let Some(b) = report.best(None, f) {
            say!("  strongest {name:<16} blocks.{}.attn.head.{}  ({:.3})", b.layer, b.head, f(b));
        }
    };
    best("previous-token", &|x| x.previous_token);
    best("duplicate-token", &|x| x.duplicate_token);
    best("induction", &|x| x.induction);
    say!();
    let top = report.loss_uniform.max(report.loss_first).max(report.loss_second).max(1e-6);
    say!("  {}", s.dim("next-token loss (nats), predicting r₂…rₙ:"));
    say!("    first repetition   {:>7.4}  {}", report.loss_first, s.cyan(&bar(report.loss_first / top, 30)));
    say!("    second repetition  {:>7.4}  {}", report.loss_second, s.cyan(&bar(report.loss_second / top, 30)));
    say!("    uniform guess ln V {:>7.4}  {}", report.loss_uniform, s.dim(&bar(report.loss_uniform / top, 30)));
    if report.loss_second < 0.5 * report.loss_first {
        // copying alone does not prove an induction head: a 1-layer model copies a little
        // through other means, so name the head only when one attends like one
        let inducer = report.best(None, |x: &HeadScore| x.induction).filter(|b| b.induction >= 0.5);
        let why = match inducer {
            Some(b) => format!(
                "the model copies from context, and blocks.{}.attn.head.{} attends like an induction head ({:.2})",
                b.layer, b.head, b.induction
            ),
            None => "the model copies from context, but no head attends like an induction head (score ≥ 0.5)".into(),
        };
        say!("  {}", s.green(&format!("the second copy is predicted far better than the first: {why}")));
    }
    Ok(())
}
