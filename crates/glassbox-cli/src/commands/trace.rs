//! `glassbox trace MODEL [PROMPT | --ids …] --out FILE.safetensors [--hooks GLOB] [--grads]`:
//! runs one forward pass (with interventions, if any) and writes the activations under
//! their TransformerLens names — and with `--grads` the gradients of the next-token loss —
//! to a safetensors file that numpy and PyTorch open directly.
//!
//! Also home to what the inspection commands share: loading a model with its tokenizer,
//! turning a prompt or `--ids` into ids, and the intervention flags.

use super::explain::Style;
use crate::output::say;
use anyhow::Result;
use glassbox::inspect::hooks::{all_hooks, select_hooks, Hook};
use glassbox::inspect::intervention::Interventions;
use glassbox::inspect::trace::{trace, TraceOptions};
use glassbox::io::Model;
use glassbox::tokenizer::Tokenizer;
use glassbox::Error;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `--ablate`, `--scale`, `--patch`: change a hook while the model runs.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct InterventionArgs {
    /// Zero a hook, or one head's part of it: blocks.1.attn.head.3 (head 3 of blocks.1.attn.hook_z),
    /// blocks.0.mlp (hook_mlp_out), blocks.2.hook_resid_mid. Repeatable.
    #[arg(long, value_name = "HOOK[.head.N]")]
    pub ablate: Vec<String>,
    /// Multiply a hook by a factor: blocks.0.hook_mlp_out=0.5. Repeatable.
    #[arg(long, value_name = "HOOK[.head.N]=F")]
    pub scale: Vec<String>,
    /// Replace a hook with a tensor from a safetensors file (e.g. a trace of another prompt of the
    /// same length): blocks.1.hook_resid_mid=clean.safetensors[:TENSOR]. Repeatable.
    #[arg(long, value_name = "HOOK=FILE")]
    pub patch: Vec<String>,
    /// Replace a hook (or one head's part) at every position by its mean over --reference:
    /// blocks.3.mlp, blocks.1.attn.head.0. Repeatable. Zeroing overstates effects; this does not.
    #[arg(long = "mean-ablate", value_name = "HOOK[.head.N]")]
    pub mean_ablate: Vec<String>,
    /// The text file whose average activations --mean-ablate puts in.
    #[arg(long, value_name = "FILE.txt")]
    pub reference: Option<PathBuf>,
}

impl InterventionArgs {
    /// No intervention was asked for.
    pub fn is_empty(&self) -> bool {
        self.ablate.is_empty() && self.scale.is_empty() && self.patch.is_empty() && self.mean_ablate.is_empty()
    }

    pub fn parse(
        &self,
        params: &glassbox::model::Params,
        tokenizer: Option<&Tokenizer>,
    ) -> Result<Interventions, Error> {
        let mut interventions = Interventions::parse(&params.config, &self.ablate, &self.scale, &self.patch)?;
        match (&self.reference, self.mean_ablate.is_empty()) {
            (None, true) => {}
            (Some(_), true) => {
                return Err(Error::input(
                    "--reference is the text --mean-ablate averages over; add --mean-ablate HOOK, or drop --reference",
                ))
            }
            (None, false) => {
                return Err(Error::input(
                    "--mean-ablate needs --reference FILE.txt: the text whose average activation replaces the hook",
                ))
            }
            (Some(file), false) => {
                let text = std::fs::read_to_string(file).map_err(|e| Error::reading(file, e))?;
                let tokenizer = tokenizer.ok_or_else(|| {
                    Error::input("this model has no tokenizer files, so the --reference text cannot be encoded")
                })?;
                let ids = tokenizer.encode_checked(&text)?;
                let name = file.display().to_string();
                interventions.add_mean_ablations(params, &self.mean_ablate, &ids, &name)?;
            }
        }
        Ok(interventions)
    }
}

/// A model directory and its tokenizer (if it has one), checked to belong together.
/// A recurrent model is refused with a sentence saying what works on it instead: these
/// commands read a GPT's hooks (attention, MLP, residual stream), which it does not have.
pub fn load(dir: &Path) -> Result<(Model, Option<Tokenizer>), Error> {
    if let Some(cell) = glassbox::recurrent::files::recurrent_cell_of(dir) {
        return Err(Error::input(format!(
            "{} is an {} — no attention heads, MLP or residual stream, which this command reads; for a recurrent \
             model use `glassbox explain` (its gates and states, step by step) or `glassbox generate`",
            dir.display(),
            cell.title()
        )));
    }
    glassbox::io::load_model_with_tokenizer(dir)
}

/// Parses `--ids 1,2,3` (already split at commas by clap).
pub fn parse_ids(raw: &[String]) -> Result<Vec<u32>, Error> {
    raw.iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<u32>().map_err(|_| {
                Error::input(format!("--ids: '{s}' is not a token id; give non-negative integers like --ids 464,2068"))
            })
        })
        .collect()
}

/// The ids of one sequence: from `--ids`, or the prompt through the tokenizer. Checked
/// against the vocabulary and the context.
pub fn prompt_ids(
    model: &Model,
    tokenizer: Option<&Tokenizer>,
    prompt: Option<&str>,
    ids: Option<&[String]>,
) -> Result<Vec<u32>, Error> {
    let ids = match (prompt, ids) {
        (Some(_), Some(_)) => return Err(Error::input("give either a PROMPT or --ids, not both")),
        (None, Some(raw)) => parse_ids(raw)?,
        (Some(text), None) => match tokenizer {
            Some(t) => t.encode_checked(text)?,
            None => {
                return Err(Error::input(format!(
                    "{} has no tokenizer files, so a text prompt cannot be encoded; pass token ids with --ids 1,2,3",
                    model.dir.display()
                )))
            }
        },
        (None, None) => return Err(Error::input("give a PROMPT (text) or --ids 1,2,3")),
    };
    glassbox::model::forward::check_ids(&model.params, &ids, 1, ids.len())?;
    Ok(ids)
}

#[derive(clap::Args)]
pub struct Args {
    /// Model directory (Hugging Face GPT-2 layout or a glassbox run).
    model: PathBuf,
    /// The prompt text (needs the model's tokenizer files).
    prompt: Option<String>,
    /// Token ids instead of text: --ids 464,2068,7586. Repeat for a batch of equal-length rows.
    #[arg(long, value_name = "ID,ID,…")]
    ids: Vec<String>,
    /// Where to write the activations (safetensors).
    #[arg(long, value_name = "FILE.safetensors", required_unless_present = "list")]
    out: Option<PathBuf>,
    /// Which hooks to record: comma-separated globs ('*' any characters, '?' one).
    #[arg(long, value_name = "GLOB", default_value = "*")]
    hooks: String,
    /// Also record the gradients of the next-token loss, as grad.<parameter name>.
    #[arg(long)]
    grads: bool,
    /// List the hooks of this model (and their shapes for this input) instead of tracing.
    #[arg(long)]
    list: bool,
    #[command(flatten)]
    interventions: InterventionArgs,
}

pub fn run(args: Args) -> Result<()> {
    let style = Style::stdout();
    let (model, tokenizer) = load(&args.model)?;
    let config = &model.config;
    let (ids, batch, seq) = if args.ids.is_empty() {
        let ids = prompt_ids(&model, tokenizer.as_ref(), args.prompt.as_deref(), None)?;
        let seq = ids.len();
        (ids, 1, seq)
    } else {
        if args.prompt.is_some() {
            return Err(Error::input("give either a PROMPT or --ids, not both").into());
        }
        let rows: Vec<Vec<u32>> = args
            .ids
            .iter()
            .map(|r| parse_ids(&r.split(',').map(str::to_string).collect::<Vec<_>>()))
            .collect::<Result<_, _>>()?;
        let seq = rows[0].len();
        if let Some((i, row)) = rows.iter().enumerate().find(|(_, r)| r.len() != seq) {
            return Err(Error::input(format!(
                "--ids row {} has {} tokens but row 1 has {seq}; a batch needs rows of equal length",
                i + 1,
                row.len()
            ))
            .into());
        }
        let batch = rows.len();
        let ids: Vec<u32> = rows.concat();
        glassbox::model::forward::check_ids(&model.params, &ids, batch, seq)?;
        (ids, batch, seq)
    };
    if args.list {
        say!("{}", style.bold(&format!("hooks of {} for {batch}×{seq} tokens", args.model.display())));
        for hook in all_hooks(config) {
            say!("  {:<36} {:?}", hook.name(), hook.shape(config, batch, seq));
        }
        return Ok(());
    }
    let out = args.out.expect("clap requires --out without --list");
    let hooks = select_hooks(&args.hooks, config)?;
    let interventions = args.interventions.parse(&model.params, tokenizer.as_ref())?;
    let options = TraceOptions { hooks, grads: args.grads, interventions };
    let traced = trace(&model.params, &ids, batch, seq, &options)?;
    let mut metadata = BTreeMap::new();
    metadata.insert("model".to_string(), args.model.display().to_string());
    metadata.insert("hooks".to_string(), args.hooks.clone());
    if !options.interventions.is_empty() {
        metadata.insert("interventions".to_string(), options.interventions.describe().join("; "));
    }
    traced.write(&out, &metadata)?;

    let bytes: usize = traced.tensors.iter().map(|t| t.values.len() * 4).sum();
    say!(
        "{} {} tensors ({}) for {} to {}",
        style.bold("wrote"),
        traced.tensors.len(),
        human_bytes(bytes),
        if batch == 1 { format!("{seq} tokens") } else { format!("{batch}×{seq} tokens") },
        out.display()
    );
    for line in options.interventions.describe() {
        say!("  {} {line}", style.yellow("intervention:"));
    }
    if let Some(loss) = traced.loss {
        say!("  next-token loss {loss:.4} (gradients as grad.transformer.<parameter>)");
    }
    // one line per hook kind, the layers collapsed: blocks.{0..11}.attn.hook_pattern [12, 5, 5]
    let mut groups: Vec<(String, Vec<usize>, Vec<usize>)> = Vec::new();
    for t in traced.tensors.iter().filter(|t| !t.name.starts_with("grad.")) {
        let (key, layer) = match Hook::parse(&t.name, config) {
            Ok(Hook::Block(layer, hook)) => (format!("blocks.{{L}}.{}", hook.suffix()), Some(layer)),
            _ => (t.name.clone(), None),
        };
        match groups.iter_mut().find(|g| g.0 == key) {
            Some(g) => g.2.extend(layer),
            None => groups.push((key, t.shape.clone(), layer.into_iter().collect())),
        }
    }
    for (key, shape, layers) in &groups {
        let name = match (layers.first(), layers.last()) {
            (Some(a), Some(b)) if a == b => key.replace("{L}", &a.to_string()),
            (Some(a), Some(b)) => key.replace("{L}", &format!("{{{a}..{b}}}")),
            _ => key.clone(),
        };
        say!("  {:<44} {}", name, style.dim(&format!("{shape:?}")));
    }
    say!(
        "{}",
        style.dim(&format!(
            "open it with: from safetensors.numpy import load_file; t = load_file(\"{}\")",
            out.display()
        ))
    );
    Ok(())
}

pub fn human_bytes(bytes: usize) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} bytes"),
    }
}
