//! The model: parameters, the named activations one forward pass fills, the forward and
//! backward passes over them, and the KV cache for generation.

pub mod activations;
pub mod backward;
pub mod forward;
pub mod kv_cache;
pub mod params;

pub use activations::{Activations, BlockActivations};
pub use backward::{backward, Gradients};
pub use forward::{forward, forward_with_edits, loss, Edit};
pub use kv_cache::Decoder;
pub use params::{param_specs, ParamSpec, Params};
