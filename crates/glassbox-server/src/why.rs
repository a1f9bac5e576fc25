//! The "Why transformers" chapter: a GPT and an LSTM that `glassbox compare` trained on the
//! same text with the same parameter count, side by side. `glassbox serve DIR` on a
//! comparison serves its GPT (`DIR/runs/quality-gpt`) as the model of every page and keeps
//! its LSTM (`DIR/runs/quality-lstm`) here, with `compare.json` for the charts.
//!
//! `/api/why` returns the measurements; `/api/why/reach` reads one text with both models:
//! how much each earlier token moves the last prediction (the gradient norm,
//! `inspect::influence`), the GPT's attention from the last token (per layer, averaged
//! over heads), and the LSTM's steps (`inspect::recurrent_steps`): how strongly each h_t
//! depends on h_{t−1}.

use std::path::{Path, PathBuf};

use glassbox::inspect::influence::{gpt_influence_with, recurrent_influence_with};
use glassbox::inspect::recurrent_steps::steps_of;
use glassbox::model::Activations;
use glassbox::recurrent::files::{load_recurrent, RecurrentModel};
use glassbox::recurrent::RecurrentActivations;
use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::state::Loaded;

/// A comparison's recurrent model and its measurements.
pub struct Why {
    pub dir: PathBuf,
    pub report: Value,
    pub lstm: RecurrentModel,
}

/// Where a comparison keeps the two models of its quality race.
pub fn quality_run(dir: &Path, arch: &str) -> PathBuf {
    dir.join("runs").join(format!("quality-{arch}"))
}

/// Whether `dir` holds a `glassbox compare` output.
pub fn is_comparison(dir: &Path) -> bool {
    dir.join("compare.json").is_file()
}

impl Why {
    pub fn load(dir: &Path) -> glassbox::Result<Why> {
        let path = dir.join("compare.json");
        let text = std::fs::read_to_string(&path).map_err(|e| glassbox::Error::reading(&path, e))?;
        let report: Value = serde_json::from_str(&text).map_err(|e| {
            glassbox::Error::input(format!("{}: not valid JSON ({e}); run glassbox compare again", path.display()))
        })?;
        let lstm = load_recurrent(&quality_run(dir, "lstm"))?;
        Ok(Why { dir: dir.to_path_buf(), report, lstm })
    }
}

/// Both models on `ids`.
pub fn reach(loaded: &Loaded, why: &Why, ids: &[u32]) -> ApiResult<Value> {
    let lstm = &why.lstm;
    if lstm.config.vocab_size != loaded.config().vocab_size {
        return Err(ApiError::internal(format!(
            "the LSTM in {} has {} tokens and the GPT {}: they were not trained on the same text",
            why.dir.display(),
            lstm.config.vocab_size,
            loaded.config().vocab_size
        )));
    }
    // one forward pass of each model serves both its influence and what is drawn beside it
    let mut acts = Activations::default();
    let gpt = gpt_influence_with(loaded.params(), ids, &mut acts).map_err(ApiError::engine)?;
    let mut recurrent_acts = RecurrentActivations::default();
    let recurrent = recurrent_influence_with(&lstm.params, ids, &mut recurrent_acts).map_err(ApiError::engine)?;
    let steps = steps_of(&lstm.params, &recurrent_acts, ids, 0, 1);
    let (seq, heads) = (ids.len(), loaded.config().n_head);
    let attention: Vec<Vec<f32>> = acts
        .blocks
        .iter()
        .map(|block| {
            (0..seq)
                .map(|s| {
                    let sum: f32 = (0..heads).map(|h| block.attn_pattern[(h * seq + seq - 1) * seq + s]).sum();
                    sum / heads as f32
                })
                .collect()
        })
        .collect();
    let dependence: Vec<Vec<f32>> =
        steps.iter().map(|step| step.layers.iter().map(|l| l.dependence).collect()).collect();
    let forget: Vec<Vec<f32>> =
        steps.iter().map(|step| step.layers.iter().filter_map(|l| l.gates.map(|g| g[1])).collect()).collect();
    Ok(json!({
        "gpt": {"influence": gpt.per_token, "next": gpt.next, "probability": gpt.probability,
                "attention": attention},
        "lstm": {"influence": recurrent.per_token, "next": recurrent.next, "probability": recurrent.probability,
                 "dependence": dependence, "forget": forget},
    }))
}

/// The opening of the text the comparison trained on (its first two non-empty lines, at
/// most 60 characters and the GPT's context): a prompt both models know every character of.
fn sample(loaded: &Loaded, why: &Why) -> Option<String> {
    let run = glassbox::train::checkpoint::saved_run(&quality_run(&why.dir, "gpt"))?;
    let path = PathBuf::from(run["data"]["path"].as_str()?);
    let path = if path.is_relative() && !path.exists() { why.dir.join(path) } else { path };
    let mut head = Vec::new();
    use std::io::Read;
    std::fs::File::open(path).ok()?.take(4096).read_to_end(&mut head).ok()?;
    let text = head.utf8_chunks().next()?.valid().to_string();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).take(2).collect();
    // one line: the page's prompt box holds no line breaks
    let mut sample: String = lines.join(" ").chars().take(60).collect();
    let fits = |text: &str| loaded.tokenizer.as_ref().is_some_and(|t| t.encode(text).len() <= loaded.config().n_ctx);
    while !sample.is_empty() && !fits(&sample) {
        sample.pop();
    }
    Some(sample).filter(|s| !s.is_empty())
}

/// The page's summary of the comparison: the report, the two models' shapes, and a
/// sample of the text they read.
pub fn info(loaded: &Loaded, why: &Why) -> Value {
    let c = loaded.config();
    json!({
        "available": true,
        "sample": sample(loaded, why),
        "report": why.report,
        "gpt": {"layers": c.n_layer, "heads": c.n_head, "dims": c.n_embd, "params": c.num_params()},
        "lstm": {"describe": why.lstm.config.describe(), "params": why.lstm.config.num_params(),
                 "layers": why.lstm.config.num_layers, "embedding": why.lstm.config.embedding_size,
                 "hidden": why.lstm.config.hidden_size},
    })
}
