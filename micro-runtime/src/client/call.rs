//! One call: through the call layers (if any), pick nodes, try them (each try through the attempt
//! layers, if any), retry where it is safe. Unary calls and stream openings take the same path.

use std::sync::{Arc, Weak};
use std::task::{Context as TaskContext, Poll};

use bytes::Bytes;
use tokio::time::Instant;
use tower::{Service, ServiceExt};

use super::attempt::{AttemptError, AttemptFailure, AttemptInfo, attempt_once, request_headers};
use super::open::open_on;
use super::request::{Attempt, CallBody, CallRequest, CallResponse, Opened, OpenedStream};
use super::{CallOptions, Client, Inner};
use crate::codec::ContentType;
use crate::error::{CLIENT_ID, Error};
use crate::middleware::{BoxError, into_error};
use crate::registry::{BoxFuture, Node};
use crate::selector::{NodeRef, Outcome};

/// A unary call: the encoded reply.
pub(super) async fn unary(
    client: &Client,
    service: &str,
    endpoint: &str,
    content_type: ContentType,
    body: Bytes,
    options: &CallOptions,
) -> Result<Bytes, Error> {
    let body = CallBody::Message(body);
    match call(client, service, endpoint, content_type, body, options).await? {
        CallResponse::Message(reply) => Ok(reply),
        CallResponse::Stream(_) => Err(mismatch()),
    }
}

/// Opens a stream on the first node that takes it.
pub(super) async fn open(
    client: &Client,
    service: &str,
    endpoint: &str,
    options: &CallOptions,
) -> Result<Opened, Error> {
    let content_type = options
        .content_type
        .unwrap_or(client.inner.options.content_type);
    match call(
        client,
        service,
        endpoint,
        content_type,
        CallBody::Stream,
        options,
    )
    .await?
    {
        CallResponse::Stream(OpenedStream(opened)) => Ok(*opened),
        CallResponse::Message(_) => Err(mismatch()),
    }
}

fn mismatch() -> Error {
    Error::internal_server_error("a layer answered a call of one kind with the other kind")
        .with_id(CLIENT_ID)
}

async fn call(
    client: &Client,
    service: &str,
    endpoint: &str,
    content_type: ContentType,
    body: CallBody,
    options: &CallOptions,
) -> Result<CallResponse, Error> {
    // Inside a handler: the handler's deadline and metadata, under what the options set.
    let inherited = options.inherited();
    let options = &*inherited;
    let Some(layers) = &client.inner.call_layers else {
        return attempts(
            &client.inner,
            service,
            endpoint,
            content_type,
            body,
            options,
        )
        .await;
    };
    let request = CallRequest {
        service: service.to_string(),
        endpoint: endpoint.to_string(),
        content_type,
        body,
        options: options.clone(),
    };
    layers
        .clone()
        .oneshot(request)
        .await
        .map_err(|err| into_error(err, CLIENT_ID))
}

/// Tries the nodes in the selector's order: a node that could not take the call gives way to the
/// next, and one that may have run it only for idempotent calls.
async fn attempts(
    inner: &Arc<Inner>,
    service: &str,
    endpoint: &str,
    content_type: ContentType,
    body: CallBody,
    options: &CallOptions,
) -> Result<CallResponse, Error> {
    let deadline = match body {
        CallBody::Message(_) => Some(options.effective_deadline(inner.options.request_timeout)),
        // Streams may live long: only an explicit deadline.
        CallBody::Stream => options.stream_deadline(),
    };
    // A lookup can be slow (the first one of a service waits for the registry), and it counts
    // against the call's deadline like everything else.
    let lookup = nodes(inner, service, options);
    let nodes = match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, lookup)
            .await
            .map_err(|_| call_timeout(service))??,
        None => lookup.await?,
    };
    let retries = options.retries.unwrap_or(inner.options.retries);
    let strategy = inner.selector.strategy();
    let mut last = None;
    for node in nodes.into_iter().take(retries as usize + 1) {
        let info = AttemptInfo {
            service,
            endpoint,
            content_type,
            body: &body,
            metadata: &options.metadata,
            deadline,
        };
        strategy.started(&node);
        let tried = match &inner.attempt_layers {
            // No layers: everything borrowed, nothing copied per attempt.
            None => run_attempt(inner, &node, &info).await,
            Some(layers) => layers
                .clone()
                .oneshot(info.to_attempt(&node))
                .await
                .map_err(attempt_error),
        };
        let outcome = match &tried {
            Ok(_) => Outcome::Answered,
            Err(err) if err.kind == AttemptFailure::Final => Outcome::Answered,
            Err(_) => Outcome::Failed,
        };
        strategy.finished(&node, outcome);
        let failure = match tried {
            Ok(response) => return Ok(response),
            Err(failure) if failure.kind == AttemptFailure::Final => return Err(failure.error),
            Err(failure) => failure,
        };
        // Unreachable or timed out: whether or not this call may go on, later calls should
        // prefer other nodes for a while.
        inner.selector.mark_failed(&node);
        if failure.kind == AttemptFailure::MaybeSent && !options.idempotent {
            return Err(failure.error);
        }
        tracing::debug!(%service, node = %node.address, error = %failure.error, "attempt failed, trying another node");
        last = Some(failure.error);
        if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            return Err(call_timeout(service));
        }
    }
    Err(last.unwrap_or_else(|| {
        Error::unavailable(format!("error selecting {service} node: none available"))
            .with_id(CLIENT_ID)
    }))
}

/// An attempt layer's error as the retry loop reads it: its own [`AttemptError`], a micro error
/// (final), or another layer's error (a tower timeout: the request may have been sent).
fn attempt_error(error: BoxError) -> AttemptError {
    match error.downcast::<AttemptError>() {
        Ok(failure) => *failure,
        Err(error) if error.is::<tower::timeout::error::Elapsed>() => {
            AttemptError::maybe_sent(into_error(error, CLIENT_ID))
        }
        Err(error) => AttemptError::answered(into_error(error, CLIENT_ID)),
    }
}

/// One attempt on `node`: the attempt layers' innermost service.
async fn run_attempt(
    inner: &Inner,
    node: &Node,
    info: &AttemptInfo<'_>,
) -> Result<CallResponse, AttemptError> {
    match info.body {
        CallBody::Message(body) => {
            let deadline = info.deadline.unwrap_or_else(Instant::now);
            let headers = request_headers(
                inner,
                info.service,
                info.endpoint,
                info.content_type,
                info.metadata,
                Some(deadline),
            )
            .map_err(AttemptError::answered)?;
            let reply = attempt_once(inner, node, headers, body, deadline).await?;
            Ok(CallResponse::Message(reply))
        }
        CallBody::Stream => {
            let opened = open_on(inner, node, info).await?;
            Ok(CallResponse::Stream(OpenedStream(Box::new(opened))))
        }
    }
}

/// The nodes to try, in order: the call's addresses, or the selector's choice. Shared with the
/// selection, not copied: a node carries a metadata map.
async fn nodes(inner: &Inner, service: &str, options: &CallOptions) -> Result<Vec<NodeRef>, Error> {
    if !options.addresses.is_empty() {
        return Ok(options
            .addresses
            .iter()
            .map(|address| {
                NodeRef::owned(Node {
                    id: address.clone(),
                    address: address.clone(),
                    ..Node::default()
                })
            })
            .collect());
    }
    let mut next = inner.selector.select(service, &options.filters).await?;
    Ok(std::iter::from_fn(|| next.next_shared()).collect())
}

fn call_timeout(service: &str) -> Error {
    Error::timeout(format!("call to {service} timed out")).with_id(CLIENT_ID)
}

/// The call layers' innermost service: the call's attempts. Holds the client weakly: the client
/// holds the layers.
#[derive(Clone)]
pub(super) struct Calls(pub(super) Weak<Inner>);

impl Service<CallRequest> for Calls {
    type Response = CallResponse;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<CallResponse, BoxError>>;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: CallRequest) -> Self::Future {
        let inner = self.0.upgrade();
        Box::pin(async move {
            let inner = inner.ok_or_else(dropped)?;
            let CallRequest {
                service,
                endpoint,
                content_type,
                body,
                options,
            } = request;
            Ok(attempts(&inner, &service, &endpoint, content_type, body, &options).await?)
        })
    }
}

/// The attempt layers' innermost service: one attempt.
#[derive(Clone)]
pub(super) struct Attempts(pub(super) Weak<Inner>);

impl Service<Attempt> for Attempts {
    type Response = CallResponse;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<CallResponse, BoxError>>;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, attempt: Attempt) -> Self::Future {
        let inner = self.0.upgrade();
        Box::pin(async move {
            let inner = inner.ok_or_else(dropped)?;
            let info = AttemptInfo {
                service: &attempt.service,
                endpoint: &attempt.endpoint,
                content_type: attempt.content_type,
                body: &attempt.body,
                metadata: &attempt.metadata,
                deadline: attempt.deadline,
            };
            Ok(run_attempt(&inner, &attempt.node, &info).await?)
        })
    }
}

fn dropped() -> Error {
    Error::internal_server_error("the client was dropped").with_id(CLIENT_ID)
}
