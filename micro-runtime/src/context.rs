//! The per-call [`Context`]: metadata, deadline and where the call came from.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::metadata::Metadata;

/// What a handler knows about the call it serves, and what a client call carries onward.
///
/// A handler receives the caller's metadata (user headers) and deadline (from the `Timeout`
/// header). Passing the context to a generated client's handler method, or building call options
/// with [`CallOptions::from_context`](crate::client::CallOptions::from_context), propagates both to
/// the next hop.
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
    metadata: Metadata,
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
            metadata,
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
            metadata,
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

    /// Mutable access to the metadata, e.g. for a wrapper that adds a header before the handler runs.
    pub fn metadata_mut(&mut self) -> &mut Metadata {
        &mut self.metadata
    }

    /// Adds one metadata entry.
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key, value);
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
