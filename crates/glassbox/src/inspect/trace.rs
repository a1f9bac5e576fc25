//! Trace: one forward pass (with interventions, if any) and the activations it left in the
//! arena, read out under their TransformerLens names; optionally the gradients of the
//! next-token loss, `grad.<parameter name>`. Written as a safetensors file that numpy
//! (`safetensors.numpy.load_file`) and PyTorch (`safetensors.torch.load_file`) open
//! directly, with the input ids, the model and the interventions in its metadata.

use super::hooks::Hook;
use super::intervention::{forward_with_interventions, Interventions};
use crate::error::Result;
use crate::model::{backward, loss, Activations, Gradients, Params};
use std::collections::BTreeMap;
use std::path::Path;

/// A named tensor (float32, row-major).
#[derive(Clone, Debug, PartialEq)]
pub struct NamedTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// What to record.
#[derive(Clone, Debug, Default)]
pub struct TraceOptions {
    /// The hooks to record (see [`super::hooks::select_hooks`]).
    pub hooks: Vec<Hook>,
    /// Also the gradients of the mean next-token cross-entropy over the input.
    pub grads: bool,
    pub interventions: Interventions,
}

/// The recorded tensors, in forward order (then `loss` and the gradients).
#[derive(Clone, Debug, Default)]
pub struct Trace {
    pub batch: usize,
    pub seq: usize,
    pub ids: Vec<u32>,
    pub tensors: Vec<NamedTensor>,
    /// The next-token loss, when gradients were asked for.
    pub loss: Option<f32>,
}

/// Reads `hooks` out of the arena of a finished forward pass.
pub fn record(params: &Params, acts: &Activations, hooks: &[Hook]) -> Vec<NamedTensor> {
    hooks
        .iter()
        .map(|hook| NamedTensor {
            name: hook.name(),
            shape: hook.shape(&params.config, acts.batch, acts.seq),
            values: hook.read(params, acts).into_owned(),
        })
        .collect()
}

/// The next-token targets of `ids` [batch, seq]: each row shifted left by one, the last
/// position of each row ignored (−1), as Hugging Face's `labels`.
pub fn next_token_targets(ids: &[u32], seq: usize) -> Vec<i32> {
    let mut targets = vec![-1i32; ids.len()];
    for (row_ids, row_targets) in ids.chunks_exact(seq).zip(targets.chunks_exact_mut(seq)) {
        for t in 0..seq - 1 {
            row_targets[t] = row_ids[t + 1] as i32;
        }
    }
    targets
}

/// Runs the model on `ids` [batch, seq] and records what `options` asks for.
pub fn trace(params: &Params, ids: &[u32], batch: usize, seq: usize, options: &TraceOptions) -> Result<Trace> {
    let mut acts = Activations::default();
    forward_with_interventions(params, ids, batch, seq, &mut acts, &options.interventions)?;
    let mut tensors = record(params, &acts, &options.hooks);
    let mut recorded_loss = None;
    if options.grads {
        let targets = next_token_targets(ids, seq);
        let value = loss(&mut acts, &targets, params.config.vocab_size);
        let mut grads = Gradients::new(&params.config);
        backward(params, &acts, &targets, &mut grads, 1.0);
        tensors.push(NamedTensor { name: "loss".into(), shape: vec![1], values: vec![value] });
        for (i, spec) in grads.params.specs().iter().enumerate() {
            tensors.push(NamedTensor {
                name: format!("grad.transformer.{}", spec.name),
                shape: spec.shape.clone(),
                values: grads.params.tensor(i).to_vec(),
            });
        }
        recorded_loss = Some(value);
    }
    Ok(Trace { batch, seq, ids: ids.to_vec(), tensors, loss: recorded_loss })
}

impl Trace {
    /// Writes the trace as safetensors (atomically). Metadata: `input_ids` (rows of ids as
    /// JSON), `format` `glassbox-trace`, and whatever `extra` adds (model, interventions).
    pub fn write(&self, path: &Path, extra: &BTreeMap<String, String>) -> Result<()> {
        let rows: Vec<&[u32]> = self.ids.chunks_exact(self.seq.max(1)).collect();
        let mut metadata = extra.clone();
        metadata.insert("format".into(), "glassbox-trace".into());
        metadata.insert("input_ids".into(), serde_json::to_string(&rows).expect("ids"));
        let tensors: Vec<(String, Vec<usize>, &[f32])> =
            self.tensors.iter().map(|t| (t.name.clone(), t.shape.clone(), t.values.as_slice())).collect();
        crate::io::safetensors::write_f32(path, &tensors, &metadata)
    }

    pub fn get(&self, name: &str) -> Option<&NamedTensor> {
        self.tensors.iter().find(|t| t.name == name)
    }
}
