//! The router: endpoint name → handler, filled by generated code through [`Handler::register`].

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;

use super::stream::{StreamIo, bidi, client_stream, server_stream};
use crate::codec::{ContentType, Message};
use crate::context::Context;
use crate::descriptor::{EndpointDescriptor, EndpointKind, ServiceDescriptor};
use crate::error::Error;
use crate::registry::BoxFuture;
use crate::stream::{Receiver, Sender};

/// A set of endpoints served together: what micro-build generates for each proto service
/// (`GreeterServer::new(handler)`), handed to [`Server::handle`](super::Server::handle).
pub trait Handler: Send + 'static {
    /// The service's description, advertised in the registry.
    fn descriptor(&self) -> &'static ServiceDescriptor;
    /// Adds every endpoint of the service to the router.
    fn register(self, router: &mut Router);
}

/// A unary endpoint with the types erased: bytes in, bytes out.
pub(crate) trait UnaryRoute: Send + Sync {
    fn call(
        &self,
        ctx: Context,
        ct: ContentType,
        body: Bytes,
    ) -> BoxFuture<'static, Result<Bytes, Error>>;
}

/// A streaming endpoint with the types erased: it drives the connection itself.
pub(crate) trait StreamRoute: Send + Sync {
    fn call(&self, ctx: Context, io: StreamIo)
    -> BoxFuture<'static, (Result<(), Error>, StreamIo)>;
}

/// A registered endpoint.
#[derive(Clone)]
pub(crate) enum Route {
    Unary(Arc<dyn UnaryRoute>),
    Stream(Arc<dyn StreamRoute>),
}

/// Endpoint name → handler.
///
/// Generated code fills it; hand-written endpoints can be added too, with a static
/// [`EndpointDescriptor`] describing them.
#[derive(Default)]
pub struct Router {
    routes: HashMap<&'static str, Route>,
    advertised: Vec<&'static EndpointDescriptor>,
    duplicates: Vec<&'static str>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<_> = self.routes.keys().collect();
        names.sort();
        f.debug_struct("Router").field("endpoints", &names).finish()
    }
}

impl Router {
    /// An empty router.
    pub fn new() -> Self {
        Self::default()
    }

    fn add(&mut self, endpoint: &'static EndpointDescriptor, route: Route, advertise: bool) {
        if self.routes.insert(endpoint.name, route).is_some() {
            self.duplicates.push(endpoint.name);
        } else if advertise {
            self.advertised.push(endpoint);
        }
    }

    /// Adds a unary endpoint.
    pub fn unary<Req, Rsp, F, Fut>(&mut self, endpoint: &'static EndpointDescriptor, handler: F)
    where
        Req: Message,
        Rsp: Message,
        F: Fn(Context, Req) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Rsp, Error>> + Send + 'static,
    {
        debug_assert_eq!(endpoint.kind, EndpointKind::Unary);
        self.add(
            endpoint,
            Route::Unary(Arc::new(Unary(handler, std::marker::PhantomData))),
            true,
        );
    }

    /// Adds a unary endpoint that is served but not advertised in the registry (like `Debug.Health`).
    pub(crate) fn unary_hidden<Req, Rsp, F, Fut>(
        &mut self,
        endpoint: &'static EndpointDescriptor,
        handler: F,
    ) where
        Req: Message,
        Rsp: Message,
        F: Fn(Context, Req) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Rsp, Error>> + Send + 'static,
    {
        self.add(
            endpoint,
            Route::Unary(Arc::new(Unary(handler, std::marker::PhantomData))),
            false,
        );
    }

    /// Adds a server-streaming endpoint: one request, a stream of responses.
    pub fn server_stream<Req, Rsp, F, Fut>(
        &mut self,
        endpoint: &'static EndpointDescriptor,
        handler: F,
    ) where
        Req: Message,
        Rsp: Message,
        F: Fn(Context, Req, Sender<Rsp>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), Error>> + Send + 'static,
    {
        self.add(
            endpoint,
            Route::Stream(Arc::new(server_stream::<Req, Rsp, F>(handler))),
            true,
        );
    }

    /// Adds a client-streaming endpoint: a stream of requests, one response.
    pub fn client_stream<Req, Rsp, F, Fut>(
        &mut self,
        endpoint: &'static EndpointDescriptor,
        handler: F,
    ) where
        Req: Message,
        Rsp: Message,
        F: Fn(Context, Receiver<Req>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Rsp, Error>> + Send + 'static,
    {
        self.add(
            endpoint,
            Route::Stream(Arc::new(client_stream::<Req, Rsp, F>(handler))),
            true,
        );
    }

    /// Adds a bidirectional-streaming endpoint.
    pub fn bidi_stream<Req, Rsp, F, Fut>(
        &mut self,
        endpoint: &'static EndpointDescriptor,
        handler: F,
    ) where
        Req: Message,
        Rsp: Message,
        F: Fn(Context, Receiver<Req>, Sender<Rsp>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), Error>> + Send + 'static,
    {
        self.add(
            endpoint,
            Route::Stream(Arc::new(bidi::<Req, Rsp, F>(handler))),
            true,
        );
    }

    /// The handler of an endpoint.
    pub(crate) fn route(&self, endpoint: &str) -> Option<&Route> {
        self.routes.get(endpoint)
    }

    /// Whether an endpoint exists under the service part of `endpoint` (`Greeter` of `Greeter.Hello`),
    /// to tell "unknown service" from "unknown method" as go-micro's router does.
    pub(crate) fn knows_service(&self, service: &str) -> bool {
        self.routes
            .keys()
            .any(|name| name.split_once('.').is_some_and(|(s, _)| s == service))
    }

    /// The advertised endpoints, sorted by name (go-micro sorts by handler name).
    pub(crate) fn advertised(&self) -> Vec<&'static EndpointDescriptor> {
        let mut endpoints = self.advertised.clone();
        endpoints.sort_by_key(|e| e.name);
        endpoints
    }

    /// Endpoints registered more than once.
    pub(crate) fn duplicates(&self) -> &[&'static str] {
        &self.duplicates
    }
}

struct Unary<F, Req, Rsp>(F, std::marker::PhantomData<fn(Req) -> Rsp>);

impl<Req, Rsp, F, Fut> UnaryRoute for Unary<F, Req, Rsp>
where
    Req: Message,
    Rsp: Message,
    F: Fn(Context, Req) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Rsp, Error>> + Send + 'static,
{
    fn call(
        &self,
        ctx: Context,
        ct: ContentType,
        body: Bytes,
    ) -> BoxFuture<'static, Result<Bytes, Error>> {
        let request = ct.decode::<Req>(body);
        // The handler's context is the task's current one: calls it makes inherit it.
        let current = ctx.clone();
        let response = request.map(|req| (self.0)(ctx, req));
        Box::pin(current.scope(async move { ct.encode(&response?.await?) }))
    }
}
