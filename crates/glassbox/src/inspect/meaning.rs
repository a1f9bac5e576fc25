//! Meaning over training: the semantic space's two scores — analogy accuracy beside its
//! baseline ([`analogy_eval`](super::analogy_eval)), and how well k-means clusters of word
//! vectors match word categories ([`categories`](super::categories)) — measured on every
//! model snapshot a run kept (`train --keep-checkpoints` writes `checkpoints/step-N/`), so
//! that a learner watches the space form as the loss falls.
//! Pipeline position: after training, on each snapshot's token embeddings (`wte`); used
//! by `glassbox space RUN eval --checkpoints` and the training page's meaning chart.

use super::analogy_eval::{evaluate, QuestionSection, SectionScore};
use super::categories::{cover, score, Category};
use crate::error::{Error, Result};
use crate::io::{load_model, load_model_with_tokenizer};
use crate::model::Params;
use crate::tokenizer::Tokenizer;
use crate::train::checkpoint::saved_step;
use crate::train::run_dir::{kept_checkpoint_dir, kept_checkpoint_steps, logged_val_losses};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// How well the word vectors group the covered category words.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClusterScore {
    pub words: usize,
    pub categories: usize,
    /// Share of words in their k-means cluster's most common category, and the same with
    /// the categories shuffled.
    pub purity: f64,
    pub purity_chance: f64,
    /// Share of words whose nearest other word is of their category, and a random word's.
    pub neighbour_agreement: f64,
    pub neighbour_chance: f64,
}

/// The semantic space's scores on one model.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SpaceScore {
    /// The analogy questions, all sections together.
    pub analogy: SectionScore,
    /// None when fewer than two categories have two single-token words in this vocabulary.
    pub clusters: Option<ClusterScore>,
}

/// Scores `params`' embeddings on `questions` and `categories`.
pub fn score_space(
    params: &Params,
    tokenizer: Option<&Tokenizer>,
    questions: &[QuestionSection],
    categories: &[Category],
) -> Result<SpaceScore> {
    let analogy = evaluate(params, tokenizer, questions)?.overall;
    let coverage = cover(categories, tokenizer, params.config.vocab_size)?;
    let clusters = if coverage.categories.len() >= 2 {
        let s = score(params, &coverage)?;
        Some(ClusterScore {
            words: s.words,
            categories: s.categories,
            purity: s.purity,
            purity_chance: s.purity_chance,
            neighbour_agreement: s.neighbour_agreement,
            neighbour_chance: s.neighbour_chance,
        })
    } else {
        None
    };
    Ok(SpaceScore { analogy, clusters })
}

/// One snapshot of a run, scored.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MeaningAtStep {
    pub step: usize,
    /// The snapshot's folder inside the run (`checkpoints/step-N`, or `.` for the run's
    /// own model when no snapshot was kept at its last step).
    pub model: String,
    /// The validation loss `log.jsonl` holds for this step, if one was measured.
    pub val_loss: Option<f64>,
    #[serde(flatten)]
    pub score: SpaceScore,
}

/// The models of `run` to score, oldest first: each kept snapshot, then the run's own
/// model if it is further along than the last snapshot. Refused (with the fix) when the
/// run kept none.
pub fn snapshots(run: &Path) -> Result<Vec<(usize, PathBuf)>> {
    let steps = kept_checkpoint_steps(run);
    if steps.is_empty() {
        return Err(Error::input(format!(
            "{} has no kept checkpoints (checkpoints/step-N/ with a model.safetensors), so there is no training to \
             replay; train with --keep-checkpoints (a snapshot every --checkpoint-every steps)",
            run.display()
        )));
    }
    let mut models: Vec<(usize, PathBuf)> = steps.iter().map(|&s| (s, kept_checkpoint_dir(run, s))).collect();
    if let Some(last) = saved_step(run).filter(|&s| Some(&s) > steps.last() && run.join("model.safetensors").is_file())
    {
        models.push((last, run.to_path_buf()));
    }
    Ok(models)
}

/// Scores every snapshot of `run` (see [`snapshots`]) with the run's tokenizer, calling
/// `each` as each is done (the CLI prints rows as they come).
pub fn meaning_over_training(
    run: &Path,
    questions: &[QuestionSection],
    categories: &[Category],
    mut each: impl FnMut(&MeaningAtStep),
) -> Result<Vec<MeaningAtStep>> {
    let models = snapshots(run)?;
    let (_, tokenizer) = load_model_with_tokenizer(run)?;
    let val_losses = logged_val_losses(run);
    let mut rows = Vec::with_capacity(models.len());
    for (step, dir) in models {
        let row =
            score_snapshot(run, step, &dir, tokenizer.as_ref(), val_losses.get(&step).copied(), questions, categories)?;
        each(&row);
        rows.push(row);
    }
    Ok(rows)
}

/// Loads the snapshot of `step` in `dir` (inside `run`) and scores it with `tokenizer`.
pub fn score_snapshot(
    run: &Path,
    step: usize,
    dir: &Path,
    tokenizer: Option<&Tokenizer>,
    val_loss: Option<f64>,
    questions: &[QuestionSection],
    categories: &[Category],
) -> Result<MeaningAtStep> {
    let model = load_model(dir)?;
    if let Some(tokenizer) = tokenizer {
        if tokenizer.vocab_size() != model.config.vocab_size {
            return Err(Error::input(format!(
                "the snapshot {} has {} tokens but the run's tokenizer {}; it belongs to another run — remove it",
                dir.display(),
                model.config.vocab_size,
                tokenizer.vocab_size()
            )));
        }
    }
    let score = score_space(&model.params, tokenizer, questions, categories)?;
    let name = dir.strip_prefix(run).ok().map(|p| p.display().to_string()).filter(|p| !p.is_empty());
    Ok(MeaningAtStep { step, model: name.unwrap_or_else(|| ".".into()), val_loss, score })
}
