//! Where knowledge lives, on a model trained on `--task facts`: three experiments over the
//! whole knowledge base, ROME's questions asked of a model the learner trained.
//!
//! 1. **Recall**: whole-answer accuracy (teacher-forced, as training measures it) on the
//!    templates each fact was trained in, and on the one held out for it.
//! 2. **Causal tracing, averaged** (ROME's Figure 1): for every fact the model recalls, noise
//!    on the name's embeddings, then each state restored in turn ([`super::causal`]); the
//!    restored P(first letter of the answer) averaged over facts, with positions grouped by
//!    their role — first, middle, last subject token, first token after it, further tokens,
//!    last token.
//! 3. **Ablation**: each MLP replaced by zero or by its mean over the training sentences
//!    (mean ablation), alone and in groups: the half of the layers where tracing finds the
//!    MLPs' effect largest (at the token role where it peaks — the last subject token in
//!    ROME's GPT-2), against the other half. If the memory sits in those MLPs, removing
//!    them costs more recall.
//!
//! Plus direct logit attribution ([`super::attribution`]) of the answer's first letter,
//! averaged: how much each layer's attention and MLP write the answer directly.

use super::attribution::attribute_pass;
use super::causal::{CausalOptions, Corruption, StateKind, Tracer};
use super::intervention::{forward_with_interventions, Interventions};
use crate::error::{Error, Result};
use crate::model::{forward, Activations, Params};
use crate::sample::argmax;
use crate::train::facts::{all_facts, Fact};
use crate::train::{Task, TaskKind};
use serde::Serialize;

/// The roles of positions ROME averages over.
pub const ROLES: [&str; 6] = [
    "first subject token",
    "middle subject tokens",
    "last subject token",
    "first subsequent token",
    "further tokens",
    "last token",
];

/// How to run the experiments.
#[derive(Clone, Debug)]
pub struct KnowledgeOptions {
    /// Noise samples per traced fact.
    pub samples: usize,
    /// Noise size in standard deviations of the token embeddings.
    pub noise: f32,
    pub seed: u64,
    /// Trace at most this many recalled facts (every fact when larger than the base).
    pub max_traced: usize,
}

impl Default for KnowledgeOptions {
    fn default() -> Self {
        KnowledgeOptions { samples: 10, noise: 3.0, seed: 0, max_traced: 96 }
    }
}

/// Whole-answer accuracy on the trained and on the held-out templates.
#[derive(Clone, Copy, Debug, Serialize, PartialEq)]
pub struct Recall {
    pub trained: f32,
    pub held_out: f32,
}

/// One kind's averaged trace: `prob[role][layer]` and `effect` = prob − corrupted.
#[derive(Clone, Debug, Serialize)]
pub struct RoleTrace {
    pub kind: StateKind,
    pub prob: Vec<Vec<f32>>,
    pub effect: Vec<Vec<f32>>,
}

/// Mean direct contribution of each part to the answer's first-letter logit.
#[derive(Clone, Debug, Serialize)]
pub struct AttributionByLayer {
    pub embed: f32,
    /// Every head of the layer plus its output bias.
    pub attn: Vec<f32>,
    pub mlp: Vec<f32>,
    pub ln_final_bias: f32,
    pub logit: f32,
}

/// Recall with some MLPs removed.
#[derive(Clone, Debug, Serialize)]
pub struct Ablation {
    /// `traced`, `other`, or `layer L`.
    pub what: String,
    pub layers: Vec<usize>,
    /// `zero` or `mean`.
    pub how: &'static str,
    pub recall: Recall,
}

#[derive(Clone, Debug, Serialize)]
pub struct KnowledgeReport {
    pub people: usize,
    pub facts: usize,
    pub recall: Recall,
    /// Facts traced (recalled by the clean model, trained templates, up to `max_traced`).
    pub traced: usize,
    pub samples: usize,
    pub seed: u64,
    pub clean_prob: f32,
    pub corrupted_prob: f32,
    pub roles: Vec<&'static str>,
    pub tracing: Vec<RoleTrace>,
    pub attribution: AttributionByLayer,
    /// The role (index into `roles`) where restoring an MLP brings the most back.
    pub traced_role: usize,
    /// The half of the layers whose MLP effect at that role is largest, and the others.
    pub traced_layers: Vec<usize>,
    pub other_layers: Vec<usize>,
    pub ablations: Vec<Ablation>,
}

/// The role of position `p` for a fact whose subject is `subject` in a prompt of `len`
/// tokens (`None` before the subject: noise there is never restored).
fn role_of(p: usize, subject: &std::ops::Range<usize>, len: usize) -> Option<usize> {
    Some(match p {
        _ if p == len - 1 => 5,
        _ if p < subject.start => return None,
        _ if p == subject.start => 0,
        _ if p + 1 == subject.end => 2,
        _ if p < subject.end => 1,
        _ if p == subject.end => 3,
        _ => 4,
    })
}

/// The examples of these facts as model input (prompt and answer but its last letter),
/// and each fact's answer.
fn examples(task: &Task, facts: &[Fact]) -> (Vec<u32>, Vec<Vec<u32>>) {
    let mut ids = Vec::with_capacity(facts.len() * task.seq_len());
    let mut answers = Vec::with_capacity(facts.len());
    for fact in facts {
        let prompt = task.fact_prompt(fact);
        let answer = task.answer(&prompt);
        ids.extend(prompt.iter().chain(&answer).take(task.seq_len()));
        answers.push(answer);
    }
    (ids, answers)
}

/// Whole-answer accuracy on `facts` under `interventions`, teacher-forced in one pass.
fn recall_of(params: &Params, task: &Task, facts: &[Fact], interventions: &Interventions) -> Result<f32> {
    if facts.is_empty() {
        return Ok(0.0);
    }
    let (seq, v) = (task.seq_len(), params.config.vocab_size);
    let (ids, answers) = examples(task, facts);
    let mut acts = Activations::default();
    let mut right = 0;
    for (chunk, chunk_ids) in answers.chunks(256).zip(ids.chunks(256 * seq)) {
        forward_with_interventions(params, chunk_ids, chunk.len(), seq, &mut acts, interventions)?;
        for (row, answer) in chunk.iter().enumerate() {
            let all = answer.iter().enumerate().all(|(j, &want)| {
                let at = row * seq + task.prompt_len - 1 + j;
                argmax(&acts.logits[at * v..(at + 1) * v]) == want
            });
            right += all as usize;
        }
    }
    Ok(right as f32 / facts.len() as f32)
}

fn recall(params: &Params, task: &Task, interventions: &Interventions) -> Result<Recall> {
    Ok(Recall {
        trained: recall_of(params, task, &all_facts(task.size, false), interventions)?,
        held_out: recall_of(params, task, &all_facts(task.size, true), interventions)?,
    })
}

/// Runs the three experiments on a model trained on `task` (which must be `facts`).
pub fn knowledge(params: &Params, task: &Task, options: &KnowledgeOptions) -> Result<KnowledgeReport> {
    if task.kind != TaskKind::Facts {
        return Err(Error::input(format!(
            "this model was trained on the {} task; the knowledge experiments need a model trained on --task facts",
            task.name()
        )));
    }
    if params.config.vocab_size != task.vocab_size() || params.config.n_ctx < task.seq_len() {
        return Err(Error::input(
            "this model's vocabulary or context does not fit the facts task it names; train it again with --task facts",
        ));
    }
    let config = &params.config;
    let (n_layer, v) = (config.n_layer, config.vocab_size);
    let none = Interventions::default();
    let base_recall = recall(params, task, &none)?;

    // trace the facts the model recalls (its top first letter is right), trained templates;
    // the same pass gives the first letter's direct logit attribution
    let mut traced = Vec::new();
    let mut acts = Activations::default();
    for fact in all_facts(task.size, false) {
        if traced.len() >= options.max_traced {
            break;
        }
        let prompt = task.fact_prompt(&fact);
        forward(params, &prompt, 1, prompt.len(), &mut acts)?;
        let first = task.answer(&prompt)[0];
        if argmax(&acts.logits[(prompt.len() - 1) * v..prompt.len() * v]) == first {
            let parts = attribute_pass(params, &acts, prompt.len() - 1, first, None);
            traced.push((fact, prompt, first, parts));
        }
    }
    let mut prob_sum = vec![vec![vec![0f64; n_layer]; ROLES.len()]; 3];
    let mut role_facts = [0usize; ROLES.len()];
    let (mut clean_sum, mut corrupted_sum) = (0f64, 0f64);
    let mut attribution = AttributionByLayer {
        embed: 0.0,
        attn: vec![0.0; n_layer],
        mlp: vec![0.0; n_layer],
        ln_final_bias: 0.0,
        logit: 0.0,
    };
    for (fact, prompt, first, parts) in &traced {
        let subject = fact.subject();
        let causal = CausalOptions {
            subject: subject.clone(),
            corruption: Corruption::Noise { samples: options.samples, scale: options.noise, seed: options.seed },
            window: 1,
            target: Some(*first),
            versus: None,
        };
        let tracer = Tracer::new(params, prompt, &causal)?;
        let corrupted = tracer.corrupted().prob as f64;
        clean_sum += tracer.clean().prob as f64;
        corrupted_sum += corrupted;
        let kinds = tracer.sweep()?;
        // per role: the mean over the role's positions of this fact, then summed over facts
        let mut members = vec![Vec::new(); ROLES.len()];
        for p in 0..prompt.len() {
            if let Some(role) = role_of(p, &subject, prompt.len()) {
                members[role].push(p);
            }
        }
        for (role, positions) in members.iter().enumerate() {
            if positions.is_empty() {
                continue;
            }
            role_facts[role] += 1;
            for (sums, kind) in prob_sum.iter_mut().zip(&kinds) {
                for (layer, sum) in sums[role].iter_mut().enumerate() {
                    let total: f64 = positions.iter().map(|&p| kind.prob[p][layer] as f64).sum();
                    *sum += total / positions.len() as f64;
                }
            }
        }
        attribution.logit += parts.logit / traced.len() as f32;
        for part in &parts.components {
            let share = part.value / traced.len() as f32;
            let layer_of = |name: &str| name.split('.').nth(1).and_then(|l| l.parse::<usize>().ok());
            match (part.name.as_str(), layer_of(&part.name)) {
                ("embed", _) => attribution.embed += share,
                ("ln_final.bias", _) => attribution.ln_final_bias += share,
                (name, Some(layer)) if name.ends_with(".mlp") => attribution.mlp[layer] += share,
                (_, Some(layer)) => attribution.attn[layer] += share,
                _ => {}
            }
        }
    }
    let n = traced.len().max(1) as f64;
    let corrupted_prob = (corrupted_sum / n) as f32;
    let tracing: Vec<RoleTrace> = StateKind::ALL
        .iter()
        .zip(&prob_sum)
        .map(|(&kind, roles)| {
            let prob: Vec<Vec<f32>> = roles
                .iter()
                .zip(&role_facts)
                .map(|(layers, &count)| layers.iter().map(|s| (s / count.max(1) as f64) as f32).collect())
                .collect();
            let effect = prob.iter().map(|row| row.iter().map(|p| p - corrupted_prob).collect()).collect();
            RoleTrace { kind, prob, effect }
        })
        .collect();

    // the MLP layers tracing points to: at the role where restoring an MLP brings the most
    // back (ROME finds the last subject token in GPT-2; a small model may keep it elsewhere),
    // the layers with the largest effect
    let mlp = &tracing[2].effect;
    let peak = |row: &Vec<f32>| row.iter().copied().fold(f32::MIN, f32::max);
    let traced_role =
        (0..ROLES.len()).max_by(|&a, &b| peak(&mlp[a]).total_cmp(&peak(&mlp[b])).then(b.cmp(&a))).unwrap_or(2);
    let mut by_effect: Vec<usize> = (0..n_layer).collect();
    by_effect.sort_by(|&a, &b| mlp[traced_role][b].total_cmp(&mlp[traced_role][a]).then(a.cmp(&b)));
    let half = (n_layer / 2).max(1);
    let mut traced_layers = by_effect[..half].to_vec();
    let mut other_layers = by_effect[n_layer - half..].to_vec();
    traced_layers.sort_unstable();
    other_layers.sort_unstable();

    // ablations: each MLP alone, then the traced half against the other half
    let (reference, _) = examples(task, &all_facts(task.size, false));
    let mut ablations = Vec::new();
    let mut ablate = |what: String, layers: &[usize], how: &'static str| -> Result<()> {
        let targets: Vec<String> = layers.iter().map(|l| format!("blocks.{l}.mlp")).collect();
        let interventions = match how {
            "zero" => Interventions::parse(config, &targets, &[], &[])?,
            _ => {
                let mut mean = Interventions::default();
                mean.add_mean_ablations(params, &targets, &reference, "the training sentences")?;
                mean
            }
        };
        let recall = recall(params, task, &interventions)?;
        ablations.push(Ablation { what, layers: layers.to_vec(), how, recall });
        Ok(())
    };
    for how in ["zero", "mean"] {
        for layer in 0..n_layer {
            ablate(format!("layer {layer}"), &[layer], how)?;
        }
        if n_layer >= 2 {
            ablate("traced".into(), &traced_layers, how)?;
            ablate("other".into(), &other_layers, how)?;
        }
    }

    Ok(KnowledgeReport {
        people: task.size,
        facts: task.size * 3,
        recall: base_recall,
        traced: traced.len(),
        samples: options.samples,
        seed: options.seed,
        clean_prob: (clean_sum / n) as f32,
        corrupted_prob,
        roles: ROLES.to_vec(),
        tracing,
        attribution,
        traced_role,
        traced_layers,
        other_layers,
        ablations,
    })
}
