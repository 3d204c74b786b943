//! The per-call [`Context`]: metadata, deadline and where the call came from, and the context
//! of the call being served, which calls made while serving it inherit.
//!
//! ## Context that flows by itself
//! While a handler (or a subscriber) runs, its context is the task's *current* context
//! ([`Context::current`]). Every call a client makes from inside it inherits the caller's
//! deadline (the call can end no later) and metadata (so `Authorization`, `traceparent` and the
//! rest reach the next hop), with what the call options set winning key by key. Nobody threads a
//! `ctx` by hand, as go-micro requires, and a forgotten `ctx` cannot drop a deadline.
//!
//! Why a task-local rather than a `ctx` parameter on every client method: a parameter can be
//! forgotten or filled with a fresh context (go-micro's `context.Background()` bug), and it makes
//! every call site longer; the task-local is what tracing spans and tokio's own budget use for the
//! same problem. Its limit is the task: work moved to another task with `tokio::spawn` does not
//! inherit unless wrapped, `tokio::spawn(ctx.scope(work))`. To call without inheriting (a
//! background job started by a request), use [`CallOptions::detached`](crate::CallOptions::detached);
//! to pass a context explicitly, give it as the options: `client.hello_with(req, &ctx)`.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::metadata::Metadata;

/// What a handler knows about the call it serves, and what a client call carries onward.
///
/// A handler receives the caller's metadata (user headers) and deadline (from the `Timeout`
/// header). Calls the handler makes carry both to the next hop by themselves (see the module
/// docs); a context can also be given explicitly as a call's options:
/// `client.hello_with(req, &ctx)`.
///
/// ```
/// use std::time::Duration;
/// use micro_runtime::Context;
///
/// let ctx = Context::new()
///     .with_metadata("Trace-Id", "abc")
///     .with_timeout(Duration::from_secs(2));
/// assert_eq!(ctx.metadata().get("trace-id"), Some("abc"));
/// assert!(ctx.deadline().is_some());
/// ```
#[derive(Clone, Debug, Default)]
pub struct Context {
    // Shared, copied on write: the server hands one copy to the handler and one to the task's
    // current context, and a clone per call must cost no allocation.
    metadata: Arc<Metadata>,
    deadline: Option<Instant>,
    call: Option<Arc<CallInfo>>,
}

/// Facts about an incoming call, set by the server.
#[derive(Debug)]
struct CallInfo {
    service: String,
    endpoint: String,
    id: String,
    remote_addr: Option<SocketAddr>,
    topic: String,
}

impl Context {
    /// An empty context: no metadata, no deadline.
    pub fn new() -> Self {
        Self::default()
    }

    /// The context of an incoming call (used by the server).
    pub(crate) fn for_call(
        service: String,
        endpoint: String,
        id: String,
        remote_addr: Option<SocketAddr>,
        metadata: Metadata,
        deadline: Option<Instant>,
    ) -> Self {
        Self {
            metadata: Arc::new(metadata),
            deadline,
            call: Some(Arc::new(CallInfo {
                service,
                endpoint,
                id,
                remote_addr,
                topic: String::new(),
            })),
        }
    }

    /// The context of a message a subscriber receives (used by the server): `id` is the message's
    /// `Micro-Id`, `metadata` its user headers.
    pub(crate) fn for_event(
        service: String,
        topic: String,
        id: String,
        metadata: Metadata,
    ) -> Self {
        Self {
            metadata: Arc::new(metadata),
            deadline: None,
            call: Some(Arc::new(CallInfo {
                service,
                endpoint: String::new(),
                id,
                remote_addr: None,
                topic,
            })),
        }
    }

    /// The call's metadata: user headers, without the framework's own.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// Mutable access to the metadata, e.g. for a layer that adds a header before the handler runs.
    pub fn metadata_mut(&mut self) -> &mut Metadata {
        Arc::make_mut(&mut self.metadata)
    }

    /// Adds one metadata entry.
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata_mut().insert(key, value);
        self
    }

    /// When the call must be done, if it has a deadline.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Sets the deadline.
    pub fn with_deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Sets the deadline to `timeout` from now.
    pub fn with_timeout(self, timeout: Duration) -> Self {
        self.with_deadline(Instant::now() + timeout)
    }

    /// Time left before the deadline (zero once it has passed); `None` without a deadline.
    pub fn time_remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// The service name the caller addressed (`Micro-Service`), empty outside a call.
    pub fn service(&self) -> &str {
        self.call.as_ref().map_or("", |c| c.service.as_str())
    }

    /// The endpoint being served, e.g. `Greeter.Hello`; empty outside a call.
    pub fn endpoint(&self) -> &str {
        self.call.as_ref().map_or("", |c| c.endpoint.as_str())
    }

    /// The topic of the message a subscriber is handling; empty for calls.
    pub fn topic(&self) -> &str {
        self.call.as_ref().map_or("", |c| c.topic.as_str())
    }

    /// The caller's request id, or a message's id (`Micro-Id`); empty when it sent none.
    pub fn request_id(&self) -> &str {
        self.call.as_ref().map_or("", |c| c.id.as_str())
    }

    /// The caller's socket address.
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.call.as_ref().and_then(|c| c.remote_addr)
    }
}

tokio::task_local! {
    /// The context of the call the task is serving.
    static CURRENT: Context;
}

impl Context {
    /// The context of the call the current task is serving: inside a handler or subscriber (and
    /// futures run with [`scope`](Self::scope)), the one it was called with; `None` elsewhere.
    pub fn current() -> Option<Context> {
        CURRENT.try_with(Context::clone).ok()
    }

    /// Runs `future` with this context as the current one, so calls it makes inherit it: for
    /// work a handler moves to another task, `tokio::spawn(ctx.scope(work))`.
    pub fn scope<F: Future>(self, future: F) -> impl Future<Output = F::Output> {
        CURRENT.scope(self, future)
    }

    /// Runs `f` with a reference to the current context, if there is one, without cloning it.
    pub(crate) fn with_current<R>(f: impl FnOnce(Option<&Context>) -> R) -> R {
        let mut f = Some(f);
        match CURRENT.try_with(|ctx| (f.take().expect("called once"))(Some(ctx))) {
            Ok(result) => result,
            Err(_) => (f.take().expect("not called yet"))(None),
        }
    }
}
