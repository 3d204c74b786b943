//! Wrappers: middleware around every call, on the server (around handlers) and on the client
//! (around outgoing calls).
//!
//! A wrapper sees the call's [`Context`] (service, endpoint, metadata, deadline; on the server also
//! the caller's address) before the call runs, may change the context (add metadata), refuse the
//! call with an error, or observe how it ended. For a stream, "the call" is the whole stream on the
//! server and opening it on the client. Wrappers run in the order they were added: the first added
//! is the outermost, as go-micro's `WrapHandler` and `WrapCall`.
//!
//! ```
//! use micro_runtime::wrapper::Next;
//! use micro_runtime::{Context, Error};
//!
//! // Refuses calls without an auth token, and logs how long the others took.
//! async fn auth_and_timing(ctx: Context, next: Next) -> Result<(), Error> {
//!     if ctx.metadata().get("Authorization").is_none() {
//!         return Err(Error::unauthorized("missing Authorization"));
//!     }
//!     let started = std::time::Instant::now();
//!     let endpoint = ctx.endpoint().to_string();
//!     let result = next.run(ctx).await;
//!     tracing::info!(%endpoint, elapsed = ?started.elapsed(), ok = result.is_ok());
//!     result
//! }
//! # let _ = micro_runtime::server::Server::new("greeter").wrap(auth_and_timing);
//! ```

use std::future::Future;
use std::sync::{Arc, Mutex};

use crate::context::Context;
use crate::error::Error;
use crate::registry::BoxFuture;

/// The rest of the chain: the next wrapper, or the handler itself.
pub struct Next {
    run: Box<dyn FnOnce(Context) -> BoxFuture<'static, Result<(), Error>> + Send>,
}

impl Next {
    pub(crate) fn new(
        run: impl FnOnce(Context) -> BoxFuture<'static, Result<(), Error>> + Send + 'static,
    ) -> Self {
        Self { run: Box::new(run) }
    }

    /// Runs the rest of the chain with `ctx`.
    pub async fn run(self, ctx: Context) -> Result<(), Error> {
        (self.run)(ctx).await
    }
}

impl std::fmt::Debug for Next {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Next").finish_non_exhaustive()
    }
}

/// Middleware around every call; any `Fn(Context, Next) -> impl Future<Output = Result<(), Error>>`
/// is one.
pub trait Wrapper: Send + Sync + 'static {
    /// Handles one call: call `next.run(ctx)` to go on.
    fn call(&self, ctx: Context, next: Next) -> BoxFuture<'static, Result<(), Error>>;
}

impl<F, Fut> Wrapper for F
where
    F: Fn(Context, Next) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), Error>> + Send + 'static,
{
    fn call(&self, ctx: Context, next: Next) -> BoxFuture<'static, Result<(), Error>> {
        Box::pin(self(ctx, next))
    }
}

/// Runs `inner` inside every wrapper, the first wrapper outermost.
pub(crate) async fn run_wrapped(
    wrappers: &[Arc<dyn Wrapper>],
    ctx: Context,
    inner: Next,
) -> Result<(), Error> {
    let mut next = inner;
    for wrapper in wrappers.iter().rev() {
        let wrapper = Arc::clone(wrapper);
        let inner = next;
        next = Next::new(move |ctx| wrapper.call(ctx, inner));
    }
    next.run(ctx).await
}

/// Runs `call` inside every wrapper and returns what it produced.
///
/// Wrappers only pass a `Result<(), Error>` along, so the value travels beside the chain. A wrapper
/// that returns `Ok` without calling `next` is a bug in the wrapper, reported as a 500 from `id`.
pub(crate) async fn run_wrapped_returning<T, F>(
    id: &'static str,
    wrappers: &[Arc<dyn Wrapper>],
    ctx: Context,
    call: F,
) -> Result<T, Error>
where
    T: Send + 'static,
    F: FnOnce(Context) -> BoxFuture<'static, Result<T, Error>> + Send + 'static,
{
    let output = Arc::new(Mutex::new(None));
    let slot = Arc::clone(&output);
    let inner = Next::new(move |ctx| {
        Box::pin(async move {
            let value = call(ctx).await?;
            *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(value);
            Ok(())
        })
    });
    run_wrapped(wrappers, ctx, inner).await?;
    let value = output.lock().unwrap_or_else(|e| e.into_inner()).take();
    value.ok_or_else(|| {
        Error::internal_server_error("a wrapper returned Ok without calling next").with_id(id)
    })
}
