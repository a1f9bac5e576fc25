//! The pages: plain HTML, CSS and JavaScript modules in `assets/`, embedded in the binary
//! (rust-embed), with nothing loaded from outside — no CDN, no web fonts — so the pages
//! work offline.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "assets/"]
struct Assets;

fn serve(path: &str) -> Response {
    match Assets::get(path) {
        Some(file) => {
            let mime = file.metadata.mimetype().to_string();
            let mime = if mime.starts_with("text/") || mime.contains("javascript") || mime.contains("json") {
                format!("{mime}; charset=utf-8")
            } else {
                mime
            };
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, mime), (header::CACHE_CONTROL, "no-cache".to_string())],
                file.data.into_owned(),
            )
                .into_response()
        }
        None => {
            (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], format!("no asset {path}"))
                .into_response()
        }
    }
}

pub async fn walkthrough_page() -> Response {
    serve("walkthrough.html")
}

pub async fn playground_page() -> Response {
    serve("playground.html")
}

pub async fn space_page() -> Response {
    serve("space.html")
}

pub async fn training_page() -> Response {
    serve("training.html")
}

pub async fn why_page() -> Response {
    serve("why.html")
}

pub async fn knowledge_page() -> Response {
    serve("knowledge.html")
}

pub async fn api_page() -> Response {
    serve("api.html")
}

pub async fn favicon() -> Response {
    serve("favicon.svg")
}

pub async fn asset(Path(path): Path<String>) -> Response {
    if path.contains("..") {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    }
    serve(&path)
}
