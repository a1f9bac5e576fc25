//! `glassbox serve`: the web walkthrough, the playground, the semantic map, the training
//! curves, and an OpenAI-compatible API, over one model directory (or a training run).
//!
//! ```text
//! browser ──HTTP──▶ axum router ──▶ pages (HTML/CSS/JS embedded in the binary: assets/)
//!                              ├──▶ /api/…  JSON the pages draw from (the engine's numbers)
//!                              └──▶ /v1/…   OpenAI-compatible completions (SSE streaming)
//!                                   │
//!                                   ▼
//!               spawn_blocking: the engine (forward pass, generation with the KV cache)
//!               ──tokens through a channel──▶ the response; a closed connection stops it
//! ```
//!
//! Every request passes [`access`] (Host, Origin, content type) and [`body`] (size and
//! time limits) first; [`limits`] holds every bound on work and output, [`connections`]
//! those on connections.
//!
//! The CLI calls [`run`]; tests call [`start`], which binds (port 0 for a free one) and
//! returns the address.

mod access;
mod api;
mod assets;
mod body;
mod connections;
mod error;
mod fingerprint;
mod generation;
mod knowledge;
pub mod limits;
mod memory;
mod openai;
mod request;
mod space;
mod state;
mod text;
mod training;
mod walkthrough;
mod why;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;

pub use limits::Timeouts;
pub use state::AppState;

/// The largest request body the server reads (1 MiB); larger ones get 413.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// What `glassbox serve` needs.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// A model directory (config.json + model.safetensors + tokenizer), a run directory, or
    /// a `glassbox compare` folder (its GPT is served; its LSTM joins it on `/why`).
    pub model: PathBuf,
    pub host: String,
    /// 0 picks a free port.
    pub port: u16,
    /// Host names the server answers to besides 127.0.0.1, localhost, [::1] and `host`
    /// (`--allowed-host`; see the `access` module).
    pub allowed_hosts: Vec<String>,
    pub timeouts: Timeouts,
    /// How many generations may run at once; `None`: as many as fit
    /// [`limits::GENERATION_MEMORY`] (see [`limits`]).
    pub generation_limit: Option<usize>,
    /// Test hook: hold each computation's slot this much longer, so that a test can fill
    /// the queue. `None` in real use.
    pub work_delay: Option<Duration>,
    /// Test hook: sleep this long after each generated token, so that a test can close
    /// its connection while a generation is still running. `None` in real use.
    pub token_delay: Option<Duration>,
}

impl ServeOptions {
    pub fn new(model: impl Into<PathBuf>) -> Self {
        ServeOptions {
            model: model.into(),
            host: "127.0.0.1".into(),
            port: 8080,
            allowed_hosts: Vec::new(),
            timeouts: Timeouts::default(),
            generation_limit: None,
            work_delay: None,
            token_delay: None,
        }
    }
}

/// The routes: pages, `/api/…` for the pages, `/v1/…` for OpenAI clients.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(assets::walkthrough_page))
        .route("/playground", get(assets::playground_page))
        .route("/space", get(assets::space_page))
        .route("/training", get(assets::training_page))
        .route("/why", get(assets::why_page))
        .route("/knowledge", get(assets::knowledge_page))
        .route("/api-docs", get(assets::api_page))
        .route("/assets/{*path}", get(assets::asset))
        .route("/favicon.ico", get(assets::favicon))
        .route("/api/model", get(api::model_info))
        .route("/api/stats", get(api::stats))
        .route("/api/tokenize", post(api::tokenize))
        .route("/api/walkthrough", post(api::walkthrough))
        .route("/api/product", post(api::product))
        .route("/api/weight", post(api::weight))
        .route("/api/generate", post(api::generate))
        .route("/api/space/map", post(api::space_map))
        .route("/api/space/neighbors", post(api::space_neighbors))
        .route("/api/space/analogy", post(api::space_analogy))
        .route("/api/space/drift", post(api::space_drift))
        .route("/api/space/categories", post(api::space_categories))
        .route("/api/training/log", get(training::log))
        .route("/api/training/checkpoints", get(training::checkpoints))
        .route("/api/training/attention", post(training::attention))
        .route("/api/training/meaning", get(training::meaning))
        .route("/api/training/learning", get(training::learning))
        .route("/api/why", get(api::why_info))
        .route("/api/why/reach", post(api::why_reach))
        .route("/api/knowledge", get(api::knowledge_info))
        .route("/api/attribute", post(api::attribute))
        .route("/api/causal", post(api::causal))
        .route("/v1/models", get(openai::models))
        .route("/v1/models/{id}", get(openai::model))
        .route("/v1/completions", post(openai::completions))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(state.clone(), body::read_whole))
        .layer(axum::middleware::from_fn_with_state(state.clone(), access::guard))
        .with_state(state)
}

/// A server running on its own thread (for tests and embedding): where it listens, and a
/// handle that stops it when dropped.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub state: Arc<AppState>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RunningServer {
    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting connections and waits for the server thread.
    pub fn stop(mut self) {
        self.shutdown_now();
    }

    fn shutdown_now(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.shutdown_now();
    }
}

fn bind_error(addr: &str, err: std::io::Error) -> glassbox::Error {
    match err.kind() {
        std::io::ErrorKind::AddrInUse => {
            glassbox::Error::input(format!("{addr} is already in use; pick another --port (or stop what runs there)"))
        }
        std::io::ErrorKind::PermissionDenied => glassbox::Error::input(format!(
            "not allowed to listen on {addr}; ports below 1024 need privileges, pick --port 8080 or higher"
        )),
        std::io::ErrorKind::AddrNotAvailable => {
            glassbox::Error::input(format!("{addr} is not an address of this machine; check --host"))
        }
        _ => glassbox::Error::failure(format!("could not listen on {addr}: {err}")),
    }
}

fn runtime() -> glassbox::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("glassbox-serve")
        .thread_keep_alive(memory::THREAD_KEEP_ALIVE)
        .build()
        .map_err(|e| glassbox::Error::failure(format!("could not start the async runtime: {e}")))
}

/// Loads the model, binds, and serves on a background thread; returns once it listens.
pub fn start(options: ServeOptions) -> glassbox::Result<RunningServer> {
    let state = Arc::new(AppState::open(&options)?);
    let addr_text = format!("{}:{}", options.host, options.port);
    let listener = std::net::TcpListener::bind(&addr_text).map_err(|e| bind_error(&addr_text, e))?;
    listener.set_nonblocking(true).map_err(|e| glassbox::Error::failure(format!("socket: {e}")))?;
    let addr = listener.local_addr().map_err(|e| glassbox::Error::failure(format!("socket: {e}")))?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let app = router(state.clone());
    let trimmer = state.slots.trimmer.clone();
    let timeouts = options.timeouts;
    let runtime = runtime()?;
    let thread = std::thread::Builder::new()
        .name("glassbox-serve".into())
        .spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else { return };
                tokio::spawn(trimmer.run());
                connections::serve(listener, app, timeouts, async move {
                    let _ = rx.await;
                })
                .await;
            });
            // Generations still running see their channel close and stop by themselves.
            runtime.shutdown_timeout(Duration::from_secs(2));
        })
        .map_err(|e| glassbox::Error::failure(format!("could not start the server thread: {e}")))?;
    Ok(RunningServer { addr, state, shutdown: Some(tx), thread: Some(thread) })
}

/// Serves until Ctrl-C. `on_ready` is called once the socket listens (the CLI prints the
/// URL there).
pub fn run(options: ServeOptions, on_ready: impl FnOnce(SocketAddr, &AppState)) -> glassbox::Result<()> {
    let state = Arc::new(AppState::open(&options)?);
    let addr_text = format!("{}:{}", options.host, options.port);
    let runtime = runtime()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&addr_text).await.map_err(|e| bind_error(&addr_text, e))?;
        let addr = listener.local_addr().map_err(|e| glassbox::Error::failure(format!("socket: {e}")))?;
        on_ready(addr, &state);
        tokio::spawn(state.slots.trimmer.clone().run());
        connections::serve(listener, router(state), options.timeouts, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
        Ok(())
    })
}
