//! `glassbox attribute MODEL (PROMPT | --ids …) [--position P] [--target TOKEN] [--versus TOKEN] [--json]`:
//! direct logit attribution. The target's logit (or the difference target − versus) split
//! exactly into what the embedding, every attention head, every attention bias, every MLP
//! and the final layer norm's β wrote into the residual stream (`inspect::attribution`).

use super::explain::{bar, fit, quoted, Style};
use super::trace::{load, prompt_ids};
use crate::output::say;
use anyhow::Result;
use glassbox::inspect::attribution::{attribute, Component};
use glassbox::inspect::space::single_token;
use glassbox::inspect::TokenText;
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
    /// The position whose next-token logit is attributed (default: the last).
    #[arg(long)]
    position: Option<usize>,
    /// The token whose logit is attributed: a word (one token) or #ID (default: the model's top prediction).
    #[arg(long)]
    target: Option<String>,
    /// Attribute the logit difference target − this token instead (a word or #ID).
    #[arg(long)]
    versus: Option<String>,
    /// How many components the terminal lists from each end (all with --top 0).
    #[arg(long, default_value_t = 12)]
    top: usize,
    /// Print the attribution as JSON: {"position", "target_id", "logit", "components": [{"name", "value"}…]}.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<()> {
    let (model, tokenizer) = load(&args.model)?;
    let ids = prompt_ids(&model, tokenizer.as_ref(), args.prompt.as_deref(), args.ids.as_deref())?;
    let vocab_size = model.config.vocab_size;
    let position = args.position.unwrap_or(ids.len() - 1);
    let versus =
        args.versus.as_deref().map(|w| single_token("--versus", w, tokenizer.as_ref(), vocab_size)).transpose()?;
    let target =
        args.target.as_deref().map(|w| single_token("--target", w, tokenizer.as_ref(), vocab_size)).transpose()?;
    let result = attribute(&model.params, &ids, position, target, versus)?;
    if args.json {
        say!("{}", serde_json::to_string(&result)?);
        return Ok(());
    }
    let target = result.target_id;

    let s = Style::stdout();
    let tok = |id: u32| quoted(&TokenText::new(tokenizer.as_ref(), id).display);
    let what = match versus {
        Some(other) => format!("logit({}) − logit({})", tok(target), tok(other)),
        None => format!("logit({})", tok(target)),
    };
    say!("{}  {}", s.bold("glassbox attribute"), args.model.display());
    say!(
        "  {} after position {position} {} = {:.4}   {}",
        s.bold(&what),
        tok(ids[position]),
        result.logit,
        s.dim(&format!("(components sum to {:.4})", result.total()))
    );
    say!(
        "  {}",
        s.dim(&format!(
            "x = embed + Σ heads + Σ attention biases + Σ MLPs; each part's share is rstd·((part − mean)⊙γ)·direction, \
             the final layer norm's scale held at 1/rstd = {:.4}",
            1.0 / result.ln_final_rstd
        ))
    );

    // totals by kind: how much the embedding, the heads, the biases and the MLPs wrote
    let kind_of = |c: &Component| {
        if c.name.contains(".attn.head.") {
            "attention heads"
        } else if c.name.ends_with(".mlp") {
            "MLPs"
        } else if c.name == "embed" {
            "embedding"
        } else {
            "biases (attention, ln_final β)"
        }
    };
    say!();
    for kind in ["embedding", "attention heads", "MLPs", "biases (attention, ln_final β)"] {
        let total: f32 = result.components.iter().filter(|c| kind_of(c) == kind).map(|c| c.value).sum();
        say!("  {:<32} {:>+10.4}", kind, total);
    }

    let sorted = result.sorted();
    let largest = sorted.iter().map(|c| c.value.abs()).fold(1e-12f32, f32::max);
    let shown: Vec<&Component> = if args.top == 0 || sorted.len() <= 2 * args.top {
        sorted.clone()
    } else {
        sorted[..args.top].iter().chain(&sorted[sorted.len() - args.top..]).copied().collect()
    };
    say!();
    say!("  {}", s.dim(&format!("{:<28} {:>10}", "component (largest first)", "adds")));
    for (i, c) in shown.iter().enumerate() {
        if args.top != 0 && sorted.len() > 2 * args.top && i == args.top {
            say!(
                "  {}",
                s.dim(&format!("… {} components in between (--top 0 lists all)", sorted.len() - 2 * args.top))
            );
        }
        let bar_text = bar(c.value.abs() / largest, 24);
        let bar_text = if c.value >= 0.0 { s.green(&bar_text) } else { s.magenta(&bar_text) };
        say!("  {:<28} {:>+10.4} {}", fit(&c.name, 28), c.value, bar_text);
    }
    say!("  {}", s.dim("green adds to the logit, magenta takes away"));
    Ok(())
}
