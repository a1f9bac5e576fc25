//! The bounds on what one client can make this server do, in one place: how much text a
//! request may carry, how much JSON an answer may hold, how many computations run at once
//! (with a short queue; past it, 429), and how long a connection may dawdle.
//!
//! | what | bound |
//! |---|---|
//! | request body | [`crate::MAX_BODY_BYTES`] (1 MiB); a larger `Content-Length` is refused (413) before any byte is read |
//! | text fields of `/api/…` | [`MAX_TEXT_BYTES`]; words of the semantic space [`MAX_WORD_BYTES`] |
//! | tokens | the model's context for what runs the model; [`crate::walkthrough::MAX_TOKENS`] for the walkthrough, a product's receipt and the attention replay; [`MAX_TOKENIZE_TOKENS`] for `/api/tokenize` |
//! | a JSON answer | [`MAX_RESPONSE_BYTES`] |
//! | computations (`/api/tokenize`, walkthrough, product receipts, space, attention, meaning, and reading the prompt of `/v1/completions`) | [`INSPECTIONS`] at once, [`INSPECTION_QUEUE`] more waiting, then 429 |
//! | generations (`/api/generate`, `/v1/completions`) | as many as fit [`GENERATION_MEMORY`] with a full context each (at most [`MAX_GENERATIONS`]), then 429 |
//! | connections | [`MAX_CONNECTIONS`] open; see [`Timeouts`] |

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{ApiError, ApiResult};
use crate::memory::Trimmer;

/// The longest prompt (or sentence) `/api/…` accepts, in bytes, before it is tokenized.
pub const MAX_TEXT_BYTES: usize = 64 << 10;
/// The longest word the semantic space looks up.
pub const MAX_WORD_BYTES: usize = 256;
/// The most tokens `/api/tokenize` shows.
pub const MAX_TOKENIZE_TOKENS: usize = 4096;
/// The largest JSON answer of `/api/…`.
pub const MAX_RESPONSE_BYTES: usize = 16 << 20;

/// Computations that run at once.
pub const INSPECTIONS: usize = 4;
/// Computations that may wait for one of those; more are refused with 429.
pub const INSPECTION_QUEUE: usize = 16;
/// The most generations that run at once; more are refused with 429 until one ends.
pub const MAX_GENERATIONS: usize = 128;
/// The memory the generations' key/value caches may take together, with a full context each.
pub const GENERATION_MEMORY: usize = 1 << 30;

/// The most connections open at once; more wait in the listen backlog.
pub const MAX_CONNECTIONS: usize = 256;

/// How long a connection may wait for its client.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// For the request line and headers of each request, and between requests on a
    /// kept-alive connection; then the connection is closed.
    pub headers: Duration,
    /// For the whole request body; then 408.
    pub body: Duration,
    /// For a client that reads nothing of the answer; then the connection is closed
    /// (and a generation it was streaming stops).
    pub write_stall: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            headers: Duration::from_secs(10),
            body: Duration::from_secs(30),
            write_stall: Duration::from_secs(30),
        }
    }
}

/// Bytes one generation may need: the key/value cache of a full context, its logits and
/// the few vectors of one position.
pub fn generation_bytes(config: &glassbox::GptConfig) -> usize {
    let floats = 2 * config.n_layer * config.n_ctx * config.n_embd + 2 * config.vocab_size + 16 * config.n_embd;
    floats.saturating_mul(4)
}

/// The permits for work: a computation or a generation holds one while it runs.
pub struct Slots {
    inspections: Arc<Semaphore>,
    admitted: Arc<Semaphore>,
    generations: Arc<Semaphore>,
    generation_limit: usize,
    /// Told when work ends (see [`crate::memory`]).
    pub trimmer: Trimmer,
}

/// A running computation or generation; its end is noted for the memory trimmer.
pub struct Permit {
    _permits: Vec<OwnedSemaphorePermit>,
    trimmer: Trimmer,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.trimmer.work_ended();
    }
}

fn too_many(message: String) -> ApiError {
    ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limit_error", message).with_code("server_busy")
}

impl Slots {
    /// Slots sized for a model of this shape (the generation limit is fixed at start), or
    /// for `generation_limit` generations.
    pub fn for_model(config: &glassbox::GptConfig, generation_limit: Option<usize>) -> Slots {
        let generation_limit =
            generation_limit.unwrap_or(GENERATION_MEMORY / generation_bytes(config).max(1)).clamp(1, MAX_GENERATIONS);
        Slots {
            inspections: Arc::new(Semaphore::new(INSPECTIONS)),
            admitted: Arc::new(Semaphore::new(INSPECTIONS + INSPECTION_QUEUE)),
            generations: Arc::new(Semaphore::new(generation_limit)),
            generation_limit,
            trimmer: Trimmer::default(),
        }
    }

    fn permit(&self, permits: Vec<OwnedSemaphorePermit>) -> Permit {
        Permit { _permits: permits, trimmer: self.trimmer.clone() }
    }

    /// A slot for a computation: waits while [`INSPECTIONS`] run, refuses (429) when
    /// [`INSPECTION_QUEUE`] already wait.
    pub async fn inspection(&self) -> ApiResult<Permit> {
        let admitted = self.admitted.clone().try_acquire_owned().map_err(|_| {
            too_many(format!(
                "{} computations are running or waiting, the most this server takes at once; retry shortly",
                INSPECTIONS + INSPECTION_QUEUE
            ))
        })?;
        let running = self
            .inspections
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ApiError::internal("the server is shutting down"))?;
        Ok(self.permit(vec![running, admitted]))
    }

    /// A slot for a generation, or 429 when all are taken.
    pub fn generation(&self) -> ApiResult<Permit> {
        let permit = self.generations.clone().try_acquire_owned().map_err(|_| {
            too_many(format!(
                "{} generations are running, the most this server runs at once; retry shortly",
                self.generation_limit
            ))
        })?;
        Ok(self.permit(vec![permit]))
    }

    /// How many generations may run at once.
    pub fn generation_limit(&self) -> usize {
        self.generation_limit
    }
}
