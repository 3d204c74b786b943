//! [`Layers`]: the layers added to one place (handlers, calls, attempts, subscribers), applied
//! when the server or client is built.

use std::fmt;
use std::sync::Arc;

use tower::util::BoxCloneSyncService;
use tower::{Layer, Service, ServiceExt};

use super::BoxError;

/// A type-erased service of one kind of request: what every layer wraps and returns.
pub type BoxService<Req, Rsp> = BoxCloneSyncService<Req, Rsp, BoxError>;

/// Any tower layer that can wrap a stack of `Req` → `Rsp`: what every `layer` method takes.
///
/// Implemented for every [`Layer`] whose service takes `Req`, answers `Rsp`, can be cloned and
/// sent, and fails with anything that converts into a [`BoxError`]. Not for implementing by hand:
/// it only spells those bounds once.
pub trait LayerFor<Req, Rsp>: Send + Sync + 'static {
    /// Wraps `inner`, boxed again.
    fn wrap(&self, inner: BoxService<Req, Rsp>) -> BoxService<Req, Rsp>;
}

impl<L, Req, Rsp> LayerFor<Req, Rsp> for L
where
    L: Layer<BoxService<Req, Rsp>> + Send + Sync + 'static,
    L::Service: Service<Req, Response = Rsp> + Clone + Send + Sync + 'static,
    <L::Service as Service<Req>>::Error: Into<BoxError>,
    <L::Service as Service<Req>>::Future: Send + 'static,
    Req: 'static,
    Rsp: 'static,
{
    fn wrap(&self, inner: BoxService<Req, Rsp>) -> BoxService<Req, Rsp> {
        BoxCloneSyncService::new(self.layer(inner).map_err(Into::into))
    }
}

/// Layers to put around one kind of service, the first added outermost (tower's
/// `ServiceBuilder` order, and go-micro's `WrapHandler` order).
pub(crate) struct Layers<Req, Rsp> {
    list: Vec<Arc<dyn LayerFor<Req, Rsp>>>,
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
    pub(crate) fn push(&mut self, layer: impl LayerFor<Req, Rsp>) {
        self.list.push(Arc::new(layer));
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
            .fold(inner, |service, layer| layer.wrap(service))
    }
}
