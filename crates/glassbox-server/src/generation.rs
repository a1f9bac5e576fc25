//! Generation off the async threads: the engine's `generate` runs in `spawn_blocking` and
//! sends each token through a bounded channel as soon as it is chosen. When the client goes
//! away, the response (and with it the receiver) is dropped, the next send fails, the
//! callback returns `false`, and the engine stops with `StopReason::Cancelled`.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use glassbox::sample::{generate, Sampler, SamplingOptions, StopReason, TokenChoice};
use tokio::sync::mpsc;

use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, Loaded};

pub enum GenEvent {
    Token(TokenChoice),
    Finished(StopReason),
    Failed(glassbox::Error),
}

pub struct GenRequest {
    pub ids: Vec<u32>,
    pub max_new_tokens: usize,
    pub options: SamplingOptions,
}

/// Starts a generation; events arrive on the returned receiver. Refused (429) when as
/// many generations run as the server takes (see [`crate::limits`]).
pub fn start(state: &Arc<AppState>, loaded: Arc<Loaded>, request: GenRequest) -> ApiResult<mpsc::Receiver<GenEvent>> {
    let permit = state.slots.generation()?;
    let mut sampler = Sampler::new(request.options).map_err(ApiError::engine)?;
    let (tx, rx) = mpsc::channel::<GenEvent>(16);
    let state = state.clone();
    state.stats.generations_started.fetch_add(1, Ordering::SeqCst);
    state.stats.generations_active.fetch_add(1, Ordering::SeqCst);
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let delay = state.token_delay;
        let mut on_token = |choice: &TokenChoice| {
            state.stats.tokens_generated.fetch_add(1, Ordering::SeqCst);
            if let Some(d) = delay {
                std::thread::sleep(d);
            }
            tx.blocking_send(GenEvent::Token(choice.clone())).is_ok()
        };
        let result = generate(
            loaded.params(),
            &request.ids,
            request.max_new_tokens,
            loaded.end_of_text(),
            &mut sampler,
            &mut on_token,
        );
        match result {
            Ok((_, reason)) => {
                if reason == StopReason::Cancelled {
                    state.stats.generations_cancelled.fetch_add(1, Ordering::SeqCst);
                }
                let _ = tx.blocking_send(GenEvent::Finished(reason));
            }
            Err(err) => {
                let _ = tx.blocking_send(GenEvent::Failed(err));
            }
        }
        state.stats.generations_finished.fetch_add(1, Ordering::SeqCst);
        state.stats.generations_active.fetch_sub(1, Ordering::SeqCst);
    });
    Ok(rx)
}

/// A seed for requests that give none: different each time, as OpenAI's sampling is.
pub fn fresh_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    h.finish()
}
