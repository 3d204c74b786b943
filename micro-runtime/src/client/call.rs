//! One unary call: pick nodes, try them, retry where it is safe.

use bytes::Bytes;
use tokio::time::Instant;

use super::{CallOptions, Client};
use crate::codec::ContentType;
use crate::context::Context;
use crate::error::{CLIENT_ID, Error};
use crate::metadata::{Metadata, is_reserved, valid_header};
use crate::registry::Node;
use crate::selector::Outcome;
use crate::stream::remote::reply_body;
use crate::transport::pool::ClientConn;
use crate::transport::{Frame, Headers, StartLine};
use crate::wrapper::run_wrapped_returning;

/// Why one attempt failed, which decides whether another node may be tried.
pub(super) enum Failure {
    /// Nothing was sent: always safe to try another node.
    Unsent(Error),
    /// The request may have reached the server: another try only for idempotent calls.
    MaybeSent(Error),
    /// The server answered (an application error, or the deadline passed): final.
    Final(Error),
}

pub(super) async fn unary(
    client: &Client,
    service: &str,
    endpoint: &str,
    content_type: ContentType,
    body: Bytes,
    options: &CallOptions,
) -> Result<Bytes, Error> {
    // Inside a handler: the handler's deadline and metadata, under what the options set.
    let inherited = options.inherited();
    let options = &*inherited;
    let deadline = options.effective_deadline(client.inner.options.request_timeout);
    if client.inner.wrappers.is_empty() {
        return attempts(
            client,
            service,
            endpoint,
            content_type,
            body,
            options.metadata.clone(),
            options,
            deadline,
        )
        .await;
    }
    // Wrappers see (and may change) the outgoing metadata through the context.
    let ctx = Context::for_call(
        service.into(),
        endpoint.into(),
        String::new(),
        None,
        options.metadata.clone(),
        Some(deadline),
    );
    let wrappers = &client.inner.wrappers;
    let (client, service, endpoint, options) = (
        client.clone(),
        service.to_string(),
        endpoint.to_string(),
        options.clone(),
    );
    let call = move |ctx: Context| -> crate::registry::BoxFuture<'static, Result<Bytes, Error>> {
        Box::pin(async move {
            let metadata = ctx.metadata().clone();
            attempts(
                &client,
                &service,
                &endpoint,
                content_type,
                body,
                metadata,
                &options,
                deadline,
            )
            .await
        })
    };
    run_wrapped_returning(CLIENT_ID, wrappers, ctx, call).await
}

#[allow(clippy::too_many_arguments)]
async fn attempts(
    client: &Client,
    service: &str,
    endpoint: &str,
    content_type: ContentType,
    body: Bytes,
    metadata: Metadata,
    options: &CallOptions,
    deadline: Instant,
) -> Result<Bytes, Error> {
    // A lookup can be slow (the first one of a service waits for the registry), and it counts
    // against the call's deadline like everything else.
    let nodes = tokio::time::timeout_at(deadline, nodes(client, service, options))
        .await
        .map_err(|_| call_timeout(service))??;
    let retries = options.retries.unwrap_or(client.inner.options.retries);
    let mut last = None;
    for (attempt, node) in nodes.into_iter().enumerate() {
        if attempt as u64 > u64::from(retries) {
            break;
        }
        let headers = request_headers(
            client,
            service,
            endpoint,
            content_type,
            &metadata,
            Some(deadline),
        )?;
        let strategy = client.inner.selector.strategy();
        strategy.started(&node);
        let attempt = attempt_once(client, &node, headers, &body, deadline).await;
        let outcome = match &attempt {
            Ok(_) | Err(Failure::Final(_)) => Outcome::Answered,
            Err(_) => Outcome::Failed,
        };
        strategy.finished(&node, outcome);
        let failure = match attempt {
            Ok(reply) => return Ok(reply),
            Err(Failure::Final(err)) => return Err(err),
            Err(failure) => failure,
        };
        // Unreachable or timed out: whether or not this call may go on, later calls should
        // prefer other nodes for a while.
        client.inner.selector.mark_failed(&node);
        match failure {
            Failure::MaybeSent(err) if !options.idempotent => return Err(err),
            Failure::Unsent(err) | Failure::MaybeSent(err) | Failure::Final(err) => {
                tracing::debug!(%service, node = %node.address, error = %err, "attempt failed, trying another node");
                last = Some(err);
            }
        }
        if Instant::now() >= deadline {
            return Err(call_timeout(service));
        }
    }
    Err(last.unwrap_or_else(|| {
        Error::unavailable(format!("error selecting {service} node: none available"))
            .with_id(CLIENT_ID)
    }))
}

/// The nodes to try, in order: the call's addresses, or the selector's choice.
pub(super) async fn nodes(
    client: &Client,
    service: &str,
    options: &CallOptions,
) -> Result<Vec<Node>, Error> {
    if !options.addresses.is_empty() {
        return Ok(options
            .addresses
            .iter()
            .map(|address| Node {
                id: address.clone(),
                address: address.clone(),
                ..Node::default()
            })
            .collect());
    }
    Ok(client
        .inner
        .selector
        .select(service, &options.filters)
        .await?
        .collect())
}

fn call_timeout(service: &str) -> Error {
    Error::timeout(format!("call to {service} timed out")).with_id(CLIENT_ID)
}

/// The headers go-micro's client sends, plus the caller's metadata.
pub(super) fn request_headers(
    client: &Client,
    service: &str,
    endpoint: &str,
    content_type: ContentType,
    metadata: &Metadata,
    deadline: Option<Instant>,
) -> Result<Headers, Error> {
    let mut headers = Headers::with_capacity(8 + metadata.len());
    for (name, value) in metadata.iter() {
        if is_reserved(name) {
            continue;
        }
        if !valid_header(name, value) {
            return Err(Error::bad_request(format!(
                "metadata {name:?} cannot be sent as a header"
            ))
            .with_id(CLIENT_ID));
        }
        headers.insert(name, value);
    }
    headers.insert("Content-Type", content_type.as_str());
    headers.insert("Micro-Service", service);
    headers.insert("Micro-Endpoint", endpoint);
    headers.insert("Micro-Method", endpoint);
    headers.insert("Micro-Id", client.next_id());
    if let Some(deadline) = deadline {
        let left = deadline.saturating_duration_since(Instant::now());
        headers.insert("Timeout", left.as_nanos().max(1).to_string());
    }
    Ok(headers)
}

async fn attempt_once(
    client: &Client,
    node: &Node,
    headers: Headers,
    body: &[u8],
    deadline: Instant,
) -> Result<Bytes, Failure> {
    let inner = &client.inner;
    let address = node.address.as_str();
    let mut conn = match inner.pool.take(address) {
        Some(conn) => conn,
        None => {
            let left = deadline.saturating_duration_since(Instant::now());
            ClientConn::dial(
                address,
                inner.options.dial_timeout.min(left),
                &inner.options.limits,
            )
            .await
            .map_err(|e| {
                Failure::Unsent(
                    Error::internal_server_error(format!("connection error: {address}: {e}"))
                        .with_id(CLIENT_ID),
                )
            })?
        }
    };
    conn.writer.queue_request(address, &headers, body);
    let exchange = async {
        conn.writer.flush().await.map_err(|e| e.to_string())?;
        conn.reader.read_response().await.map_err(|e| e.to_string())
    };
    let frame = match tokio::time::timeout_at(deadline, exchange).await {
        Err(_) => {
            return Err(Failure::MaybeSent(
                Error::timeout(format!("call to {address} timed out")).with_id(CLIENT_ID),
            ));
        }
        Ok(Err(e)) => return Err(Failure::MaybeSent(transport_error(address, &e))),
        Ok(Ok(None)) => {
            return Err(Failure::MaybeSent(transport_error(
                address,
                "connection closed before the reply",
            )));
        }
        Ok(Ok(Some(frame))) => frame,
    };
    // A server that is shutting down (or any HTTP peer) closes after `Connection: close`.
    let closing = frame
        .headers
        .get("Connection")
        .is_some_and(|v| v.eq_ignore_ascii_case("close"));
    let reply = read_reply(frame);
    // The frame was read whole, so the connection is clean whatever the answer was.
    if !closing {
        inner.pool.put(address, conn);
    }
    reply.map_err(Failure::Final)
}

/// Turns a response frame into the reply body or the server's error.
fn read_reply(frame: Frame) -> Result<Bytes, Error> {
    match frame.start {
        StartLine::Response { status, .. } => {
            reply_body(status, frame.headers.get_micro("Micro-Error"), frame.body)
        }
        StartLine::Request { .. } => Err(transport_error("peer", "answered with a request")),
    }
}

fn transport_error(address: &str, detail: &str) -> Error {
    Error::internal_server_error(format!("{address}: {detail}"))
        .with_id("go.micro.client.transport")
}
