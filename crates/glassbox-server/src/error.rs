//! Errors as HTTP responses, in OpenAI's shape on every JSON route:
//! `{"error": {"message", "type", "param", "code"}}`. Bad input is a 4xx that names the
//! field at fault; an engine failure is a 500. Nothing a client sends can panic the server:
//! bodies are read as bytes and parsed here, so a body that is not JSON is a 400 like any
//! other mistake.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// OpenAI's `type`: `invalid_request_error`, `not_found_error`, `server_error`.
    pub kind: &'static str,
    pub param: Option<String>,
    pub code: Option<&'static str>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, message: message.into(), kind, param: None, code: None }
    }

    /// 400, naming nothing in particular.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
    }

    /// 400 about one field of the request.
    pub fn param(param: &str, message: impl Into<String>) -> Self {
        ApiError { param: Some(param.to_string()), ..Self::bad_request(message) }
    }

    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found_error", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", message)
    }

    /// The engine's error: its `Input` is the client's mistake (400), `Failure` ours (500).
    pub fn engine(err: glassbox::Error) -> Self {
        match err {
            glassbox::Error::Input(message) => Self::bad_request(message),
            glassbox::Error::Failure(message) => Self::internal(message),
        }
    }

    /// The engine's input error about one field.
    pub fn engine_param(param: &str, err: glassbox::Error) -> Self {
        let mut e = Self::engine(err);
        if e.status == StatusCode::BAD_REQUEST {
            e.param = Some(param.to_string());
        }
        e
    }

    pub fn body(&self) -> Value {
        json!({"error": {
            "message": self.message,
            "type": self.kind,
            "param": self.param,
            "code": self.code,
        }})
    }
}

impl From<glassbox::Error> for ApiError {
    fn from(err: glassbox::Error) -> Self {
        ApiError::engine(err)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

/// Reads a JSON object body: too large → 413, not JSON → 400, not an object → 400.
pub fn json_body(body: Result<Bytes, BytesRejection>) -> ApiResult<serde_json::Map<String, Value>> {
    let bytes = body.map_err(|rejection| {
        let status = rejection.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                status,
                "invalid_request_error",
                format!("the request body is larger than {} bytes; send a smaller one", crate::MAX_BODY_BYTES),
            )
            .with_code("request_too_large")
        } else {
            ApiError::new(status, "invalid_request_error", format!("could not read the request body: {rejection}"))
        }
    })?;
    if bytes.is_empty() {
        return Err(ApiError::bad_request(
            "the request body is empty; send a JSON object such as {\"prompt\": \"Hello\"}",
        ));
    }
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::bad_request(format!(
            "the request body is not valid JSON ({e}); send a JSON object such as {{\"prompt\": \"Hello\"}}"
        ))
        .with_code("invalid_json")
    })?;
    match value {
        Value::Object(map) => Ok(map),
        other => Err(ApiError::bad_request(format!(
            "the request body is JSON {}, but it must be an object such as {{\"prompt\": \"Hello\"}}",
            kind_of(&other)
        ))),
    }
}

pub fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Typed access to the fields of a request body, each mistake a 400 naming the field.
pub struct Fields<'a>(pub &'a serde_json::Map<String, Value>);

impl Fields<'_> {
    fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name).filter(|v| !v.is_null())
    }

    pub fn raw(&self, name: &str) -> Option<&Value> {
        self.get(name)
    }

    pub fn f64(&self, name: &str) -> ApiResult<Option<f64>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_f64()
                .filter(|v| v.is_finite())
                .map(Some)
                .ok_or_else(|| ApiError::param(name, format!("{name} must be a finite number"))),
            Some(other) => Err(ApiError::param(name, format!("{name} must be a number, not {}", kind_of(other)))),
        }
    }

    pub fn u64(&self, name: &str) -> ApiResult<Option<u64>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
                (Some(v), _, _) => Ok(Some(v)),
                (None, Some(_), _) => Err(ApiError::param(name, format!("{name} must not be negative (got {n})"))),
                (None, None, Some(f)) if f.fract() == 0.0 && (0.0..1e18).contains(&f) => Ok(Some(f as u64)),
                _ => Err(ApiError::param(name, format!("{name} must be a whole number (got {n})"))),
            },
            Some(other) => Err(ApiError::param(name, format!("{name} must be a whole number, not {}", kind_of(other)))),
        }
    }

    pub fn usize(&self, name: &str) -> ApiResult<Option<usize>> {
        Ok(self.u64(name)?.map(|v| v.min(usize::MAX as u64) as usize))
    }

    pub fn bool(&self, name: &str) -> ApiResult<Option<bool>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(ApiError::param(name, format!("{name} must be true or false, not {}", kind_of(other)))),
        }
    }

    pub fn str(&self, name: &str) -> ApiResult<Option<&str>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(ApiError::param(name, format!("{name} must be a string, not {}", kind_of(other)))),
        }
    }

    pub fn strings(&self, name: &str, max: usize) -> ApiResult<Option<Vec<String>>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Array(items)) => {
                if items.len() > max {
                    return Err(ApiError::param(name, format!("{name} has {} entries; at most {max}", items.len())));
                }
                items
                    .iter()
                    .map(|item| match item {
                        Value::String(s) => Ok(s.clone()),
                        other => Err(ApiError::param(
                            name,
                            format!("{name} must be a list of strings, but has {}", kind_of(other)),
                        )),
                    })
                    .collect::<ApiResult<Vec<String>>>()
                    .map(Some)
            }
            Some(other) => {
                Err(ApiError::param(name, format!("{name} must be a list of strings, not {}", kind_of(other))))
            }
        }
    }

    /// A list of token ids.
    pub fn ids(&self, name: &str) -> ApiResult<Option<Vec<u32>>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| {
                    item.as_u64().filter(|&v| v <= u32::MAX as u64).map(|v| v as u32).ok_or_else(|| {
                        ApiError::param(name, format!("{name} must be a list of token ids (whole numbers ≥ 0)"))
                    })
                })
                .collect::<ApiResult<Vec<u32>>>()
                .map(Some),
            Some(other) => {
                Err(ApiError::param(name, format!("{name} must be a list of token ids, not {}", kind_of(other))))
            }
        }
    }
}

/// Unknown paths: an OpenAI-style 404 for the APIs, a small page for people.
pub async fn not_found(uri: Uri) -> Response {
    let path = uri.path();
    if path.starts_with("/api/") || path.starts_with("/v1/") || path == "/v1" || path == "/api" {
        return ApiError::not_found(format!("there is no {path} here; see /api-docs for the routes"))
            .with_code("unknown_url")
            .into_response();
    }
    let page = format!(
        "<!doctype html><meta charset=utf-8><title>404 · glassbox</title>\
         <style>body{{font:16px system-ui,sans-serif;margin:4rem auto;max-width:36rem;color:#222}}</style>\
         <h1>Nothing at {}</h1><p><a href=\"/\">The walkthrough</a> · <a href=\"/playground\">Playground</a> · \
         <a href=\"/space\">Semantic space</a> · <a href=\"/training\">Training</a> · <a href=\"/api-docs\">API</a></p>",
        html_escape(path)
    );
    (StatusCode::NOT_FOUND, [("content-type", "text/html; charset=utf-8")], page).into_response()
}

pub async fn method_not_allowed(method: axum::http::Method, uri: Uri) -> Response {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request_error",
        format!("{} does not accept {method}; see /api-docs for the routes", uri.path()),
    )
    .with_code("method_not_allowed")
    .into_response()
}

pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
