//! `glassbox generate MODEL [PROMPT] [--ids 1,2,3]`: continues a prompt with the KV cache,
//! streaming each token as it is chosen, as text, ids, or JSON lines (id, text, bytes,
//! probability and the top-5 alternatives), and says why it stopped. Text output never
//! splits a multi-byte character: a token holding part of one waits for the rest. Past a
//! full context it keeps going on the last n_ctx tokens (`--stop-at-context` stops there).

use super::trace::InterventionArgs;
use crate::output::{say, say_part};
use anyhow::Result;
use glassbox::inspect::intervention::generate_with_edits;
use glassbox::sample::{
    generate_recurrent, generate_within, FullContext, Limits, Sampler, SamplingOptions, TokenChoice,
};
use glassbox::tokenizer::{StreamDecoder, Tokenizer};
use glassbox::Error;
use std::path::PathBuf;

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Text,
    Ids,
    Jsonl,
}

#[derive(clap::Args)]
pub struct Args {
    /// Model directory (Hugging Face GPT-2 layout or a glassbox run).
    model: PathBuf,
    /// The prompt text (needs the model's tokenizer files).
    prompt: Option<String>,
    /// The prompt as token ids instead of text: --ids 464,2068,7586
    #[arg(long, value_delimiter = ',')]
    ids: Option<Vec<String>>,
    /// How many tokens to generate at most.
    #[arg(long, default_value_t = 64)]
    max_new_tokens: usize,
    /// Sampling temperature; 0 is greedy.
    #[arg(long, default_value_t = 0.8, allow_negative_numbers = true)]
    temperature: f32,
    /// Sample only among the k most probable tokens.
    #[arg(long)]
    top_k: Option<usize>,
    /// Sample only among the most probable tokens whose probabilities sum to p.
    #[arg(long, allow_negative_numbers = true)]
    top_p: Option<f32>,
    /// Random seed: the same seed gives the same text.
    #[arg(long, default_value_t = 1337)]
    seed: u64,
    /// Output: text (streamed), ids (comma-separated, as --ids takes them), or jsonl (one
    /// JSON object per token).
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Read `<|endoftext|>` in the prompt as the special token, not as text.
    #[arg(long)]
    allow_special: bool,
    /// Stop when the context (n_positions) is full, instead of going on with the last
    /// n_ctx tokens as the context.
    #[arg(long)]
    stop_at_context: bool,
    /// Keep going after the end-of-text token (it is printed like any other token).
    #[arg(long)]
    ignore_eos: bool,
    // --ablate / --scale / --patch: generate with a hook changed (a full forward pass per token)
    #[command(flatten)]
    interventions: InterventionArgs,
}

pub fn parse_ids(raw: &[String]) -> Result<Vec<u32>, Error> {
    raw.iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            s.trim().parse::<u32>().map_err(|_| {
                Error::input(format!(
                    "--ids: '{}' is not a token id; give non-negative integers like --ids 464,2068",
                    glassbox::error::excerpt(s)
                ))
            })
        })
        .collect()
}

/// The model `generate` runs: a GPT, or a recurrent network (no context, no hooks).
enum Loaded {
    Gpt(glassbox::io::Model),
    Recurrent(glassbox::recurrent::files::RecurrentModel),
}

pub fn run(args: Args) -> Result<()> {
    let (model, tokenizer) = match glassbox::recurrent::files::recurrent_cell_of(&args.model) {
        Some(_) => {
            let (model, tokenizer) = glassbox::recurrent::files::load_recurrent_with_tokenizer(&args.model)?;
            (Loaded::Recurrent(model), tokenizer)
        }
        None => {
            let (model, tokenizer) = glassbox::io::load_model_with_tokenizer(&args.model)?;
            (Loaded::Gpt(model), tokenizer)
        }
    };
    let (model_eos, n_ctx) = match &model {
        Loaded::Gpt(m) => (m.config.eos_token_id, Some(m.config.n_ctx)),
        // a recurrent model has a state, not a context: nothing fills up
        Loaded::Recurrent(m) => (m.config.eos_token_id, None),
    };
    let interventions = match &model {
        Loaded::Gpt(m) => args.interventions.parse(&m.params, tokenizer.as_ref())?,
        Loaded::Recurrent(m) if !args.interventions.is_empty() => {
            return Err(Error::input(format!(
                "--ablate, --scale and --patch change a GPT's hooks, and {} is a recurrent model ({}), which has none; \
                 drop them",
                args.model.display(),
                m.config.describe()
            ))
            .into())
        }
        Loaded::Recurrent(_) => Default::default(),
    };
    let options =
        SamplingOptions { temperature: args.temperature, top_k: args.top_k, top_p: args.top_p, seed: args.seed };
    let mut sampler = Sampler::new(options)?;
    let prompt = match (&args.ids, &args.prompt) {
        (Some(_), Some(_)) => return Err(Error::input("give either a PROMPT or --ids, not both").into()),
        (Some(raw), None) => parse_ids(raw)?,
        (None, Some(text)) => match &tokenizer {
            Some(tokenizer) if args.allow_special => tokenizer.encode_allow_special(text)?,
            Some(tokenizer) => tokenizer.encode_checked(text)?,
            None => {
                return Err(Error::input(format!(
                    "{} has no tokenizer files (vocab.json + merges.txt), so text cannot be encoded; pass token ids with --ids 1,2,3",
                    args.model.display()
                ))
                .into())
            }
        },
        (None, None) => match model_eos.or(tokenizer.as_ref().and_then(Tokenizer::end_of_text)) {
            Some(eos) => vec![eos],
            None => return Err(Error::input("give a PROMPT or --ids (this model has no end-of-text token to start from)").into()),
        },
    };
    match &model {
        Loaded::Gpt(m) => glassbox::model::forward::check_ids(&m.params, &prompt, 1, prompt.len())?,
        Loaded::Recurrent(m) => glassbox::recurrent::network::check_recurrent_ids(&m.config, &prompt, 1, prompt.len())?,
    }
    if args.max_new_tokens == 0 {
        return Err(Error::input("--max-new-tokens must be at least 1").into());
    }
    let end_of_text = model_eos.or(tokenizer.as_ref().and_then(Tokenizer::end_of_text));
    let limits = Limits {
        max_new_tokens: args.max_new_tokens,
        end_of_text: if args.ignore_eos { None } else { end_of_text },
        full_context: if args.stop_at_context { FullContext::Stop } else { FullContext::Slide },
    };
    let text_of = |id: u32| -> Option<String> {
        tokenizer.as_ref().and_then(|t| t.decode_bytes(&[id]).ok()).map(|b| String::from_utf8_lossy(&b).into_owned())
    };
    let mut stream = StreamDecoder::new();
    match (args.format, &tokenizer) {
        (Format::Text, Some(t)) => say_part!("{}", t.decode(&prompt)?),
        (Format::Text, None) | (Format::Ids, _) => {
            say_part!("{}", prompt.iter().map(u32::to_string).collect::<Vec<_>>().join(","))
        }
        (Format::Jsonl, _) => {}
    }
    // Every write either succeeds or ends the process (crate::output), so this never stops early.
    let mut emit = |choice: &TokenChoice| -> bool {
        match (args.format, &tokenizer) {
            (Format::Text, Some(t)) => {
                if let Ok(piece) = stream.push(t, choice.id) {
                    say_part!("{piece}");
                }
            }
            (Format::Text, None) | (Format::Ids, _) => say_part!(",{}", choice.id),
            (Format::Jsonl, _) => {
                let top: Vec<_> = choice
                    .top
                    .iter()
                    .map(|&(id, p)| serde_json::json!({"id": id, "text": text_of(id), "probability": p}))
                    .collect();
                let bytes = tokenizer
                    .as_ref()
                    .and_then(|t| t.token_bytes(choice.id))
                    .map(|b| b.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(" "));
                let line = serde_json::json!({"id": choice.id, "text": text_of(choice.id), "bytes": bytes,
                    "probability": choice.probability, "top": top});
                say!("{line}");
            }
        }
        true
    };
    let start = std::time::Instant::now();
    let (produced, reason) = match &model {
        Loaded::Recurrent(m) => generate_recurrent(&m.params, &prompt, &limits, &mut sampler, &mut emit)?,
        Loaded::Gpt(m) if interventions.is_empty() => {
            generate_within(&m.params, &prompt, &limits, &mut sampler, &mut emit)?
        }
        // the KV cache cannot apply edits: recompute the whole sequence for each token
        Loaded::Gpt(m) => generate_with_edits(&m.params, &prompt, &limits, &mut sampler, &interventions, &mut emit)?,
    };
    let rest = stream.finish();
    let seconds = start.elapsed().as_secs_f64();
    // the first token predicted from a window that no longer holds the whole sequence
    let slid_at = n_ctx.and_then(|n| (prompt.len() + produced.len() > n + 1).then(|| n + 2 - prompt.len()));
    match args.format {
        Format::Jsonl => {
            say!(
                "{}",
                serde_json::json!({"stop": reason.finish_reason(), "reason": reason.describe(), "new_tokens": produced.len(),
                    "context_slid_at_token": slid_at})
            );
        }
        _ => {
            say!("{rest}");
            if let (Some(k), Some(n_ctx)) = (slid_at, n_ctx) {
                eprintln!(
                    "[the context holds {n_ctx} tokens: from new token {k} on, each was predicted from the last {n_ctx} only (--stop-at-context stops when it is full)]"
                );
            }
            eprintln!(
                "[stopped: {} — {} tokens, {:.1} tokens/s]",
                reason.describe(),
                produced.len(),
                produced.len() as f64 / seconds
            );
        }
    }
    Ok(())
}
