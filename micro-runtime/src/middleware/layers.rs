//! [`Layers`]: the layers added to one place (handlers, calls, attempts, subscribers), applied
//! when the server or client is built.

use std::fmt;
use std::sync::Arc;

use tower::util::BoxCloneSyncService;
use tower::{Layer, Service, ServiceExt};

use super::BoxError;

/// A type-erased service of one kind of request: what every layer wraps and returns.
pub type BoxService<Req, Rsp> = BoxCloneSyncService<Req, Rsp, BoxError>;

type Apply<Req, Rsp> = dyn Fn(BoxService<Req, Rsp>) -> BoxService<Req, Rsp> + Send + Sync;

/// Layers to put around one kind of service, the first added outermost (tower's
/// `ServiceBuilder` order, and go-micro's `WrapHandler` order).
pub(crate) struct Layers<Req, Rsp> {
    list: Vec<Arc<Apply<Req, Rsp>>>,
}

impl<Req, Rsp> Clone for Layers<Req, Rsp> {
    fn clone(&self) -> Self {
        Self {
            list: self.list.clone(),
        }
    }
}

impl<Req, Rsp> Default for Layers<Req, Rsp> {
    fn default() -> Self {
        Self { list: Vec::new() }
    }
}

impl<Req, Rsp> fmt::Debug for Layers<Req, Rsp> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} layers", self.list.len())
    }
}

impl<Req: Send + 'static, Rsp: Send + 'static> Layers<Req, Rsp> {
    /// Adds a layer inside the ones already added.
    pub(crate) fn push<L>(&mut self, layer: L)
    where
        L: Layer<BoxService<Req, Rsp>> + Send + Sync + 'static,
        L::Service: Service<Req, Response = Rsp> + Clone + Send + Sync + 'static,
        <L::Service as Service<Req>>::Error: Into<BoxError>,
        <L::Service as Service<Req>>::Future: Send + 'static,
    {
        self.list.push(Arc::new(move |inner| {
            BoxCloneSyncService::new(layer.layer(inner).map_err(Into::into))
        }));
    }

    /// Adds `other`'s layers inside these.
    pub(crate) fn extend(&mut self, other: Layers<Req, Rsp>) {
        self.list.extend(other.list);
    }

    /// Whether no layer was added: callers skip the boxed stack entirely then.
    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// `inner` inside every layer, the first added outermost.
    pub(crate) fn apply(&self, inner: BoxService<Req, Rsp>) -> BoxService<Req, Rsp> {
        self.list
            .iter()
            .rev()
            .fold(inner, |service, apply| apply(service))
    }
}
