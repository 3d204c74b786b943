//! [`from_fn`]: a layer from an async closure, in the spirit of axum's `middleware::from_fn`.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tower::{Layer, Service, ServiceExt};

use super::BoxError;
use super::layers::BoxService;

/// Makes a layer from `f(request, next)`: code before `next.run(request)` sees the request,
/// code after it the response; returning early refuses the request.
///
/// ```
/// use micro_runtime::middleware::{Next, from_fn};
/// use micro_runtime::server::{Request, Response};
/// use micro_runtime::Error;
///
/// // Refuses calls without an auth token, and logs how long the others took.
/// let auth = from_fn(|request: Request, next: Next<Request, Response>| async move {
///     if request.ctx().metadata().get("Authorization").is_none() {
///         return Err(Error::unauthorized("missing Authorization").into());
///     }
///     let started = std::time::Instant::now();
///     let endpoint = request.ctx().endpoint().to_string();
///     let response = next.run(request).await;
///     tracing::info!(%endpoint, elapsed = ?started.elapsed(), ok = response.is_ok());
///     response
/// });
/// # let _ = micro_runtime::server::Server::new("greeter").layer(auth);
/// ```
pub fn from_fn<F>(f: F) -> FromFnLayer<F> {
    FromFnLayer { f: Arc::new(f) }
}

/// The layer [`from_fn`] makes.
pub struct FromFnLayer<F> {
    f: Arc<F>,
}

impl<F> Clone for FromFnLayer<F> {
    fn clone(&self) -> Self {
        Self {
            f: Arc::clone(&self.f),
        }
    }
}

impl<F> fmt::Debug for FromFnLayer<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FromFnLayer").finish_non_exhaustive()
    }
}

impl<F, Req, Rsp> Layer<BoxService<Req, Rsp>> for FromFnLayer<F> {
    type Service = FromFn<F, Req, Rsp>;

    fn layer(&self, inner: BoxService<Req, Rsp>) -> Self::Service {
        FromFn {
            f: Arc::clone(&self.f),
            inner,
            _types: PhantomData,
        }
    }
}

/// The service [`FromFnLayer`] makes.
pub struct FromFn<F, Req, Rsp> {
    f: Arc<F>,
    inner: BoxService<Req, Rsp>,
    _types: PhantomData<fn(Req) -> Rsp>,
}

impl<F, Req, Rsp> Clone for FromFn<F, Req, Rsp> {
    fn clone(&self) -> Self {
        Self {
            f: Arc::clone(&self.f),
            inner: self.inner.clone(),
            _types: PhantomData,
        }
    }
}

impl<F, Fut, Req, Rsp> Service<Req> for FromFn<F, Req, Rsp>
where
    F: Fn(Req, Next<Req, Rsp>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Rsp, BoxError>> + Send + 'static,
    Req: Send + 'static,
    Rsp: Send + 'static,
{
    type Response = Rsp;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Rsp, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // The inner service is made ready when `next.run` calls it.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let next = Next {
            inner: self.inner.clone(),
        };
        Box::pin((self.f)(request, next))
    }
}

/// The rest of the stack, for a [`from_fn`] closure to call.
pub struct Next<Req, Rsp> {
    inner: BoxService<Req, Rsp>,
}

impl<Req: Send + 'static, Rsp: Send + 'static> Next<Req, Rsp> {
    /// Runs the rest of the stack: the next layer, or the handler (or call) itself.
    pub async fn run(self, request: Req) -> Result<Rsp, BoxError> {
        self.inner.oneshot(request).await
    }
}

impl<Req, Rsp> fmt::Debug for Next<Req, Rsp> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Next").finish_non_exhaustive()
    }
}
