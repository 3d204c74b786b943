//! Requests from web pages the gateway does not serve.
//!
//! A gateway on loopback is still within reach of every page a developer's browser opens. A page
//! can POST to `http://127.0.0.1:8080` without a CORS preflight (a form post, or `fetch` in
//! `no-cors` mode) and can open a WebSocket to it (browsers apply no CORS to WebSockets); and by
//! DNS rebinding, a page whose own name is made to resolve to 127.0.0.1 can read the answers.
//! So, as Jupyter and similar local servers do:
//! - a request that can change something (any method but GET, HEAD and OPTIONS) or opens a
//!   WebSocket, and that carries an `Origin`, must come from the gateway's own origin or one
//!   `cors` allows; others get 403. Requests without an `Origin` (curl, services, scripts) are not
//!   from a page and pass.
//! - served on loopback, the `Host` must name loopback (`localhost`, `127.x.y.z`, `[::1]`), so a
//!   rebound name is refused.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::errors::ApiError;

/// The origins allowed besides the gateway's own.
#[derive(Debug)]
pub(crate) struct Origins(pub Vec<String>);

/// Refuses a cross-origin request that could change something, unless `cors` allows its origin.
pub(crate) async fn check_origin(
    State(allowed): State<Arc<Origins>>,
    request: Request,
    next: Next,
) -> Response {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let upgrade = request.headers().contains_key(header::UPGRADE);
    if let Some(origin) = request.headers().get(header::ORIGIN)
        && (!safe || upgrade)
    {
        let origin = origin.to_str().unwrap_or("");
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let own = origin
            .split_once("://")
            .is_some_and(|(scheme, rest)| matches!(scheme, "http" | "https") && rest == host);
        let listed = allowed.0.iter().any(|o| o == "*" || o == origin);
        if !own && !listed {
            return ApiError::new(
                403,
                format!(
                    "a request from the page at {origin} is refused: allow that origin with \
                     --cors (MICRO_API_CORS)"
                ),
            )
            .into_response();
        }
    }
    next.run(request).await
}

/// On a loopback listener: refuses a `Host` that does not name loopback (DNS rebinding).
pub(crate) async fn check_host(request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| request.uri().host())
        .unwrap_or("");
    if !is_loopback_host(host) {
        return ApiError::new(
            403,
            format!(
                "Host {host:?} is not this machine's loopback: a gateway on loopback answers \
                 only to localhost, 127.0.0.1 and [::1]"
            ),
        )
        .into_response();
    }
    next.run(request).await
}

/// `localhost`, `127.x.y.z` or `[::1]`, with or without a port.
fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for host in [
            "localhost",
            "localhost:8080",
            "127.0.0.1:80",
            "127.9.9.9",
            "[::1]:8080",
            "[::1]",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:8080",
            "10.0.0.1:80",
            "",
            "localhost.evil.example",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }
}
