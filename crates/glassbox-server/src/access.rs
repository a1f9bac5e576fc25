//! Who may drive this server: a defence against DNS rebinding and cross-site requests.
//! A page on any website can make the visitor's browser send requests to
//! `http://127.0.0.1:8080`; these rules keep such requests from running anything.
//!
//! - `Host` must name this server: `127.0.0.1`, `localhost`, `[::1]`, the `--host` it
//!   listens on, or a name given with `--allowed-host`. When it listens on every address
//!   (`0.0.0.0`, `::`), any IP address is accepted too: an address cannot be rebound, only
//!   a name can. A rebinding attack's requests carry the attacker's name, and are refused.
//! - `Origin`, when a browser sends one, must be this server's own (`http://` + `Host`).
//! - A `POST` must say `Content-Type: application/json`: the types a cross-site form or a
//!   "simple" fetch may send without asking first (text/plain, forms) are refused.
//!
//! Refusals are JSON errors: 403 for host and origin, 415 for the content type.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::AppState;

/// The host names this server answers to.
#[derive(Clone, Debug)]
pub struct AccessPolicy {
    hosts: Vec<String>,
    any_address: bool,
}

/// `Host`'s name without the port, lower case, without a final dot; `[…]` kept for IPv6.
fn host_name(authority: &str) -> Option<String> {
    let authority: axum::http::uri::Authority = authority.parse().ok()?;
    if authority.as_str().contains('@') {
        return None; // user info has no place in Host
    }
    Some(authority.host().trim_end_matches('.').to_ascii_lowercase())
}

fn is_address(host: &str) -> bool {
    host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().is_ok()
}

impl AccessPolicy {
    /// The policy for a server listening on `listen_host`, plus the `--allowed-host` names.
    pub fn new(listen_host: &str, allowed: &[String]) -> glassbox::Result<AccessPolicy> {
        let mut hosts: Vec<String> = ["127.0.0.1", "localhost", "[::1]"].map(String::from).to_vec();
        let listen = match listen_host.parse::<IpAddr>() {
            Ok(IpAddr::V6(v6)) => format!("[{v6}]"),
            _ => listen_host.to_ascii_lowercase(),
        };
        let any_address = listen_host.parse::<IpAddr>().is_ok_and(|ip| ip.is_unspecified());
        hosts.push(listen);
        for name in allowed {
            let bare = name.parse::<IpAddr>().map(|ip| if ip.is_ipv6() { format!("[{ip}]") } else { ip.to_string() });
            let host = match bare {
                Ok(h) => Some(h),
                Err(_) => host_name(name).filter(|h| !h.is_empty() && h.len() == name.trim_end_matches('.').len()),
            };
            let Some(host) = host else {
                return Err(glassbox::Error::input(format!(
                    "--allowed-host {:?} is not a host name; give a name or address without scheme, port or path, such as --allowed-host glassbox.local",
                    name.chars().take(80).collect::<String>()
                )));
            };
            hosts.push(host);
        }
        Ok(AccessPolicy { hosts, any_address })
    }

    fn allows_host(&self, host: &str) -> bool {
        self.hosts.iter().any(|h| h == host) || (self.any_address && is_address(host))
    }

    /// Why a request may not run, or `None` when it may.
    pub fn check(&self, method: &Method, headers: &axum::http::HeaderMap, uri: &axum::http::Uri) -> Option<ApiError> {
        let forbidden = |code, message: String| {
            Some(ApiError::new(StatusCode::FORBIDDEN, "permission_error", message).with_code(code))
        };
        let host_header = headers.get(header::HOST).and_then(|v| v.to_str().ok());
        let Some(host_header) = host_header.or(uri.authority().map(|a| a.as_str())) else {
            return Some(
                ApiError::bad_request(
                    "the request has no Host header; send one naming this server, such as Host: 127.0.0.1:8080",
                )
                .with_code("missing_host"),
            );
        };
        let names = std::iter::once(host_header).chain(uri.authority().map(|a| a.as_str()));
        for name in names {
            match host_name(name) {
                Some(host) if self.allows_host(&host) => {}
                _ => {
                    return forbidden(
                        "host_not_allowed",
                        format!(
                            "this server does not answer to the host {:?} (a defence against DNS rebinding); use http://127.0.0.1 or http://localhost, or start it with --allowed-host NAME",
                            name.chars().take(80).collect::<String>()
                        ),
                    )
                }
            }
        }
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or("");
            let own =
                origin.strip_prefix("http://").is_some_and(|authority| authority.eq_ignore_ascii_case(host_header));
            if !own {
                return forbidden(
                    "cross_origin",
                    format!(
                        "requests from other sites are refused: Origin {:?} is not this server (http://{host_header})",
                        origin.chars().take(80).collect::<String>()
                    ),
                );
            }
        }
        if *method != Method::GET && *method != Method::HEAD && *method != Method::OPTIONS {
            let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
            let media = content_type.split(';').next().unwrap_or("").trim();
            if !media.eq_ignore_ascii_case("application/json") {
                let sent = if content_type.is_empty() {
                    "none".to_string()
                } else {
                    format!("{:?}", content_type.chars().take(80).collect::<String>())
                };
                return Some(
                    ApiError::new(
                        StatusCode::UNSUPPORTED_MEDIA_TYPE,
                        "invalid_request_error",
                        format!("a {method} must have Content-Type: application/json (this one has {sent}); send the body as JSON"),
                    )
                    .with_code("unsupported_media_type"),
                );
            }
        }
        None
    }
}

/// The middleware: refuses what the policy does not allow, before anything else runs.
pub async fn guard(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    match state.access.check(request.method(), request.headers(), request.uri()) {
        Some(refusal) => refusal.into_response(),
        None => next.run(request).await,
    }
}
