//! Serving the routes: CORS as configured, and an accept loop that bounds what clients can hold.
//!
//! The loop is hyper-util's connection builder rather than `axum::serve`, because `axum::serve`
//! has no header timeout and no connection cap: a client that opens connections and never sends
//! would hold them forever. Here each connection waits for a permit (so at most
//! `max_connections` are served, the rest wait in the kernel's listen queue), HTTP/1 headers must
//! arrive within `header_timeout`, and HTTP/1.1 upgrades (WebSocket) are served on the same
//! port. WebSockets outlive their connection's place once upgraded, so they count against their
//! own cap (`stream.rs`) and watch the same shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Method, header};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::options::GatewayOptions;

/// How long requests in flight may take to finish once the gateway is told to stop.
const DRAIN: Duration = Duration::from_secs(10);
/// After a failed accept (out of file descriptors, most likely), a pause before the next.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Adds CORS for `origins` (`*` for any); none when empty.
pub(crate) fn cors(router: Router, origins: &[String], metadata_headers: &[String]) -> Router {
    if origins.is_empty() {
        return router;
    }
    let allow_origin = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    let mut headers = vec![
        header::CONTENT_TYPE,
        header::ACCEPT,
        HeaderName::from_static("micro-endpoint"),
        HeaderName::from_static("timeout"),
    ];
    headers.extend(
        metadata_headers
            .iter()
            .filter_map(|h| HeaderName::try_from(h.as_str()).ok()),
    );
    let layer = CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers(headers)
        .max_age(Duration::from_secs(600));
    router.layer(layer)
}

/// Accepts and serves connections until `shutdown`, then drains for up to [`DRAIN`].
pub(crate) async fn serve(
    router: Router,
    listener: TcpListener,
    options: &GatewayOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let permits = Arc::new(Semaphore::new(options.max_connections.max(1)));
    // HTTP/1.1 only, for now: hyper's HTTP/2 server has no idle timeout, so an idle h2c
    // connection would hold its place for ever. (Upgrades, for WebSockets, are served.)
    let mut builder = auto::Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_timeout);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => permit.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(err) => {
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, "gateway connection ended");
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight after {DRAIN:?}; stopping anyway");
    }
    Ok(())
}
