//! Options of one call.

use std::borrow::Cow;
use std::time::Duration;

use tokio::time::Instant;

use crate::codec::ContentType;
use crate::context::Context;
use crate::metadata::Metadata;
use crate::selector::Filter;

/// How to make one call: timeout, where to send it, metadata, retries, node filters.
///
/// ```
/// use std::time::Duration;
/// use micro_runtime::CallOptions;
///
/// let options = CallOptions::new()
///     .timeout(Duration::from_millis(500))
///     .metadata("Trace-Id", "abc")
///     .idempotent(true)
///     .retries(2);
/// ```
#[derive(Clone, Debug, Default)]
pub struct CallOptions {
    pub(crate) timeout: Option<Duration>,
    pub(crate) deadline: Option<Instant>,
    pub(crate) addresses: Vec<String>,
    pub(crate) metadata: Metadata,
    pub(crate) retries: Option<u32>,
    pub(crate) filters: Vec<Filter>,
    pub(crate) idempotent: bool,
    pub(crate) content_type: Option<ContentType>,
    pub(crate) detached: bool,
}

impl CallOptions {
    /// The client's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Options that carry a context onward: its metadata and deadline. Inside a handler the
    /// handler's own context is carried by default (see [`Context::current`]); this is for
    /// another one.
    pub fn from_context(ctx: &Context) -> Self {
        Self {
            metadata: ctx.metadata().clone(),
            deadline: ctx.deadline(),
            ..Self::default()
        }
    }

    /// The time the whole call may take, retries included (the client's default is 30 s). The
    /// server receives what is left of it in the `Timeout` header.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// A deadline for the whole call; the earlier of this and [`timeout`](Self::timeout) wins.
    pub fn deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Sends the call to this address (`host:port`) instead of asking the registry; give it more
    /// than once for a list to try in order.
    pub fn address(mut self, address: impl Into<String>) -> Self {
        self.addresses.push(address.into());
        self
    }

    /// Adds a metadata entry, sent as a header.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key, value);
        self
    }

    /// How many more nodes to try after the first fails (the client's default is 5).
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = Some(retries);
        self
    }

    /// Keeps only the nodes a filter accepts (version, metadata label, endpoint, custom).
    pub fn filter(mut self, filter: Filter) -> Self {
        self.filters.push(filter);
        self
    }

    /// Marks the call safe to run twice. Only such calls are retried after a timeout or a
    /// connection lost mid-call, when the server may already have run them; a call that could not
    /// connect at all is always retried.
    pub fn idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = idempotent;
        self
    }

    /// Encodes this call's messages with `content_type` instead of the client's default.
    pub fn content_type(mut self, content_type: ContentType) -> Self {
        self.content_type = Some(content_type);
        self
    }

    /// Does not inherit the current context (the one of the call being served, see
    /// [`Context::current`]): neither its deadline nor its metadata. For work that outlives the
    /// request that started it.
    pub fn detached(mut self) -> Self {
        self.detached = true;
        self
    }

    /// These options over the current context's deadline and metadata, unless
    /// [`detached`](Self::detached): the deadline is the earlier of the two, and the options'
    /// metadata wins key by key. Borrowed when there is nothing to inherit (outside a handler).
    pub(crate) fn inherited(&self) -> Cow<'_, CallOptions> {
        if self.detached {
            return Cow::Borrowed(self);
        }
        Context::with_current(|current| {
            let Some(ctx) = current else {
                return Cow::Borrowed(self);
            };
            if ctx.deadline().is_none() && ctx.metadata().is_empty() {
                return Cow::Borrowed(self);
            }
            let mut options = self.clone();
            if let Some(inherited) = ctx.deadline() {
                options.deadline =
                    Some(options.deadline.map_or(inherited, |own| own.min(inherited)));
            }
            if !ctx.metadata().is_empty() {
                let mut metadata = ctx.metadata().clone();
                for (key, value) in self.metadata.iter() {
                    metadata.insert(key, value);
                }
                options.metadata = metadata;
            }
            Cow::Owned(options)
        })
    }

    /// The deadline of the call given the client's default timeout.
    pub(crate) fn effective_deadline(&self, default_timeout: Duration) -> Instant {
        let from_timeout = Instant::now() + self.timeout.unwrap_or(default_timeout);
        match self.deadline {
            Some(deadline) if self.timeout.is_none() => deadline,
            Some(deadline) => deadline.min(from_timeout),
            None => from_timeout,
        }
    }

    /// The deadline of a stream: only an explicit one (streams may live long).
    pub(crate) fn stream_deadline(&self) -> Option<Instant> {
        let from_timeout = self.timeout.map(|t| Instant::now() + t);
        match (self.deadline, from_timeout) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

impl From<&Context> for CallOptions {
    /// [`CallOptions::from_context`]: `client.hello_with(req, &ctx)`.
    fn from(ctx: &Context) -> Self {
        Self::from_context(ctx)
    }
}

impl From<Context> for CallOptions {
    /// [`CallOptions::from_context`]: `client.hello_with(req, ctx)`.
    fn from(ctx: Context) -> Self {
        Self::from_context(&ctx)
    }
}
