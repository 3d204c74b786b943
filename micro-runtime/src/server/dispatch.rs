//! The innermost services of a server's layer stacks: [`Dispatch`] runs the route a call was
//! dispatched to, [`Deliver`] a subscriber's handler. Layers added with
//! [`Server::layer`](super::Server::layer) and [`Server::subscriber_layer`](super::Server::subscriber_layer)
//! wrap them.

use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use tower::Service;

use super::request::{Body, Request, Response, SubscriberRequest};
use super::router::Route;
use super::subscriber::EventRoute;
use crate::error::{Error, SERVER_ID};
use crate::middleware::BoxError;
use crate::registry::BoxFuture;

/// Runs the handler a [`Request`] was dispatched to.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Dispatch;

impl Service<Request> for Dispatch {
    type Response = Response;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Response, BoxError>>;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let Request {
            ctx,
            content_type,
            body,
            route,
        } = request;
        match (route, body) {
            (Route::Unary(route), Body::Message(bytes)) => {
                let reply = route.call(ctx, content_type, bytes);
                Box::pin(async move {
                    let body = reply.await?;
                    Ok(Response {
                        content_type,
                        body: Some(body),
                    })
                })
            }
            (Route::Stream(route), Body::Stream(handle)) => Box::pin(async move {
                let io = handle.0.lock().unwrap_or_else(|e| e.into_inner()).take();
                let Some(io) = io else {
                    return Err(internal("stream handler called twice"));
                };
                let (result, io) = route.call(ctx, io).await;
                // Handed back for the stream's final frame, whatever the layers do with the result.
                *handle.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(io);
                result?;
                Ok(Response {
                    content_type,
                    body: None,
                })
            }),
            _ => Box::pin(async { Err(internal("a request's body does not fit its endpoint")) }),
        }
    }
}

fn internal(detail: &str) -> BoxError {
    Error::internal_server_error(detail)
        .with_id(SERVER_ID)
        .into()
}

/// Runs a subscriber's typed handler on a [`SubscriberRequest`].
#[derive(Clone)]
pub(crate) struct Deliver(pub(crate) Arc<dyn EventRoute>);

impl Service<SubscriberRequest> for Deliver {
    type Response = ();
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<(), BoxError>>;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: SubscriberRequest) -> Self::Future {
        let handled = self
            .0
            .call(request.ctx, request.content_type, request.message.body);
        Box::pin(async move { handled.await.map_err(Into::into) })
    }
}
