//! Reading request bodies, for every route, before a handler sees them: a declared
//! `Content-Length` over [`crate::MAX_BODY_BYTES`] is refused at once (413, nothing read),
//! a body that grows past it while arriving likewise, and one that does not arrive whole
//! within [`crate::limits::Timeouts::body`] gets 408. Handlers then get the body in memory.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio_stream::StreamExt;

use crate::error::ApiError;
use crate::state::AppState;
use crate::MAX_BODY_BYTES;

fn too_large(declared: Option<u64>) -> Response {
    let what = match declared {
        Some(n) => format!("the request body is {n} bytes"),
        None => "the request body is larger".to_string(),
    };
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "invalid_request_error",
        format!("{what}, more than the {MAX_BODY_BYTES} bytes this server reads; send a smaller one"),
    )
    .with_code("request_too_large")
    .into_response()
}

/// The middleware: the whole body, within the size cap and the time limit, or a JSON error.
pub async fn read_whole(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let declared = request.headers().get(header::CONTENT_LENGTH);
    if let Some(value) = declared {
        match value.to_str().ok().and_then(|v| v.trim().parse::<u64>().ok()) {
            Some(n) if n > MAX_BODY_BYTES as u64 => return too_large(Some(n)),
            Some(_) => {}
            None => {
                return ApiError::bad_request("the Content-Length header is not a number of bytes")
                    .with_code("bad_content_length")
                    .into_response()
            }
        }
    }
    let (parts, body) = request.into_parts();
    let read = async {
        let mut bytes = Vec::new();
        let mut chunks = body.into_data_stream();
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk
                .map_err(|e| ApiError::bad_request(format!("could not read the request body: {e}")).into_response())?;
            if bytes.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(too_large(None));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    };
    let limit = state.timeouts.body;
    match tokio::time::timeout(limit, read).await {
        Ok(Ok(bytes)) => next.run(Request::from_parts(parts, Body::from(bytes))).await,
        Ok(Err(response)) => response,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "invalid_request_error",
            format!("the request body did not arrive within {} s; send it whole", limit.as_secs_f64()),
        )
        .with_code("request_timeout")
        .into_response(),
    }
}
