//! `glassbox generate MODEL [PROMPT] [--ids 1,2,3]`: continues a prompt with the KV cache,
//! streaming each token as it is chosen, as text, ids, or JSON lines (id, text, bytes,
//! probability and the top-5 alternatives), and says why it stopped. Text output never
//! splits a multi-byte character: a token holding part of one waits for the rest.

use super::trace::InterventionArgs;
use anyhow::Result;
use glassbox::inspect::intervention::generate_with_edits;
use glassbox::sample::{generate, Sampler, SamplingOptions, TokenChoice};
use glassbox::tokenizer::{StreamDecoder, Tokenizer};
use glassbox::Error;
use std::io::Write;
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
    /// Output: text (streamed), ids, or jsonl (one JSON object per token).
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Read `<|endoftext|>` in the prompt as the special token, not as text.
    #[arg(long)]
    allow_special: bool,
    // --ablate / --scale / --patch: generate with a hook changed (a full forward pass per token)
    #[command(flatten)]
    interventions: InterventionArgs,
}

pub fn parse_ids(raw: &[String]) -> Result<Vec<u32>, Error> {
    raw.iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            s.trim().parse::<u32>().map_err(|_| {
                Error::input(format!("--ids: '{s}' is not a token id; give non-negative integers like --ids 464,2068"))
            })
        })
        .collect()
}

pub fn run(args: Args) -> Result<()> {
    let (model, tokenizer) = glassbox::io::load_model_with_tokenizer(&args.model)?;
    let interventions = args.interventions.parse(&model.config)?;
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
        (None, None) => match model.config.eos_token_id.or(tokenizer.as_ref().and_then(Tokenizer::end_of_text)) {
            Some(eos) => vec![eos],
            None => return Err(Error::input("give a PROMPT or --ids (this model has no end-of-text token to start from)").into()),
        },
    };
    glassbox::model::forward::check_ids(&model.params, &prompt, 1, prompt.len())?;
    if args.max_new_tokens == 0 {
        return Err(Error::input("--max-new-tokens must be at least 1").into());
    }
    let end_of_text = model.config.eos_token_id.or(tokenizer.as_ref().and_then(Tokenizer::end_of_text));
    let text_of = |id: u32| -> Option<String> {
        tokenizer.as_ref().and_then(|t| t.decode_bytes(&[id]).ok()).map(|b| String::from_utf8_lossy(&b).into_owned())
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut broken_pipe = false;
    let mut stream = StreamDecoder::new();
    match (args.format, &tokenizer) {
        (Format::Text, Some(t)) => {
            let _ = write!(out, "{}", t.decode(&prompt)?);
        }
        (Format::Text, None) | (Format::Ids, _) => {
            let _ = write!(out, "{}", prompt.iter().map(u32::to_string).collect::<Vec<_>>().join(" "));
        }
        (Format::Jsonl, _) => {}
    }
    let _ = out.flush();
    let mut emit = |choice: &TokenChoice| -> bool {
        let written = match (args.format, &tokenizer) {
            (Format::Text, Some(t)) => match stream.push(t, choice.id) {
                Ok(piece) => write!(out, "{piece}").and_then(|_| out.flush()),
                Err(_) => Ok(()),
            },
            (Format::Text, None) | (Format::Ids, _) => write!(out, " {}", choice.id).and_then(|_| out.flush()),
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
                writeln!(out, "{line}").and_then(|_| out.flush())
            }
        };
        if written.is_err() {
            broken_pipe = true; // the reader went away (e.g. `| head`): stop quietly
        }
        !broken_pipe
    };
    let start = std::time::Instant::now();
    let (produced, reason) = if interventions.is_empty() {
        generate(&model.params, &prompt, args.max_new_tokens, end_of_text, &mut sampler, &mut emit)?
    } else {
        // the KV cache cannot apply edits: recompute the whole sequence for each token
        generate_with_edits(
            &model.params,
            &prompt,
            args.max_new_tokens,
            end_of_text,
            &mut sampler,
            &interventions,
            &mut emit,
        )?
    };
    let rest = stream.finish();
    if broken_pipe {
        return Ok(());
    }
    let seconds = start.elapsed().as_secs_f64();
    match args.format {
        Format::Jsonl => {
            let _ = writeln!(
                std::io::stdout(),
                "{}",
                serde_json::json!({"stop": reason.finish_reason(), "reason": reason.describe(), "new_tokens": produced.len()})
            );
        }
        _ => {
            let _ = writeln!(std::io::stdout(), "{rest}");
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
