//! `glassbox lens MODEL PROMPT`: the logit lens. For every layer and position, what the
//! model would predict if the residual stream went straight to the final layer norm and
//! the head: the top tokens, the rank and probability of the token the model finally
//! predicts, and the KL divergence to the final distribution.

use super::explain::{bar, fit, quoted, Style};
use super::trace::{load, prompt_ids, InterventionArgs};
use crate::output::say;
use anyhow::Result;
use glassbox::inspect::lens::lens;
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
    /// Top tokens per cell in the detail table.
    #[arg(long, default_value_t = 3)]
    top: usize,
    /// The position to detail (default: the last).
    #[arg(long)]
    position: Option<usize>,
    /// How many positions the grid shows, the last ones (the detail table can show any).
    #[arg(long, default_value_t = 8)]
    positions: usize,
    /// Print the lens as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    interventions: InterventionArgs,
}

pub fn run(args: Args) -> Result<()> {
    let (model, tokenizer) = load(&args.model)?;
    let ids = prompt_ids(&model, tokenizer.as_ref(), args.prompt.as_deref(), args.ids.as_deref())?;
    let interventions = args.interventions.parse(&model.params, tokenizer.as_ref())?;
    let result = lens(&model.params, &ids, args.top, &interventions)?;
    if args.json {
        say!("{}", serde_json::to_string(&result)?);
        return Ok(());
    }
    if args.positions == 0 {
        return Err(Error::input("--positions 0 shows nothing; use 1 or more").into());
    }
    let focus = args.position.unwrap_or(ids.len() - 1);
    if focus >= ids.len() {
        return Err(Error::input(format!(
            "--position {focus} is past the prompt, which has {} tokens (positions 0 to {})",
            ids.len(),
            ids.len() - 1
        ))
        .into());
    }
    let s = Style::stdout();
    let tok = |id: u32| TokenText::new(tokenizer.as_ref(), id).display;
    say!(
        "{}  {}  ·  softmax(ln_f(x) · wteᵀ) of the residual stream x after each layer",
        s.bold("glassbox lens"),
        args.model.display()
    );
    for line in interventions.describe() {
        say!("{} {line}", s.yellow("intervention:"));
    }

    // the grid: top-1 token and its probability, per reading and position (the last few)
    let seq = ids.len();
    let cols: Vec<usize> = (seq.saturating_sub(args.positions)..seq).collect();
    say!();
    if cols.len() < seq {
        say!("  {}", s.dim(&format!("the last {} of {seq} positions (--positions {seq} shows them all)", cols.len())));
    }
    let header: Vec<String> = cols.iter().map(|&p| fit(&format!("{p}: {}", quoted(&tok(ids[p]))), 16)).collect();
    say!("  {}", s.dim(&format!("{:<28} {}", "reading \\ position", header.join(" "))));
    for (name, cells) in result.layers.iter().zip(&result.cells) {
        let row: Vec<String> = cols
            .iter()
            .map(|&p| {
                let c = &cells[p];
                let text = fit(&format!("{} {:.2}", quoted(&tok(c.top[0].id)), c.top[0].prob), 16);
                if c.top[0].id == result.final_tokens[p] {
                    s.green(&text)
                } else {
                    text
                }
            })
            .collect();
        say!("  {:<28} {}", name, row.join(" "));
    }
    say!("  {}", s.dim("green: already the model's final prediction at that position"));

    // the detail of one position
    let final_token = result.final_tokens[focus];
    say!();
    say!(
        "  {} {}",
        s.bold(&format!("position {focus} {}", quoted(&tok(ids[focus])))),
        s.dim(&format!("→ the model finally predicts {}", quoted(&tok(final_token))))
    );
    say!(
        "  {}",
        s.dim(&format!("{:<28} {:<44} {:>5} {:>8}  {:>8}", "reading", "top tokens", "rank", "p(final)", "KL(final‖·)"))
    );
    let max_kl = result.cells.iter().map(|c| c[focus].kl_to_final).fold(0f32, f32::max).max(1e-6);
    for (name, cells) in result.layers.iter().zip(&result.cells) {
        let c = &cells[focus];
        let tops: Vec<String> = c.top.iter().map(|t| format!("{} {:.2}", quoted(&tok(t.id)), t.prob)).collect();
        say!(
            "  {:<28} {} {:>5} {:>8.4}  {:>8.4} {}",
            name,
            fit(&tops.join("  "), 44),
            c.final_token_rank,
            c.final_token_prob,
            c.kl_to_final,
            s.cyan(&bar(c.kl_to_final / max_kl, 12))
        );
    }
    Ok(())
}
