//! [`HttpBroker`]'s settings: the builder methods and their defaults.
//!
//! Options live behind an `Arc` and change copy-on-write, so the builder needs no `&mut` access
//! to anything shared, and each task keeps the settings it started with.

use std::sync::Arc;
use std::time::Duration;

use super::HttpBroker;
use crate::broker::DEFAULT_FLUSH_TIMEOUT;
use crate::transport::Limits;

/// Where the inbox listens by default: loopback, as go-micro's since 2020.
pub const DEFAULT_ADDRESS: &str = "127.0.0.1:0";
/// How long a subscription's registry record lives unless re-registered (go-micro's).
pub const DEFAULT_REGISTER_TTL: Duration = Duration::from_secs(60);
/// How often subscriptions are re-registered (go-micro's).
pub const DEFAULT_REGISTER_INTERVAL: Duration = Duration::from_secs(30);
/// How many messages wait for one subscriber node by default before `publish` waits for room
/// (or, for a failing node, drops the newest).
pub const DEFAULT_BACKLOG: usize = 1024;
/// How many messages may be in flight to one subscriber node at once by default.
pub const DEFAULT_PIPELINE: usize = 16;
/// How long a message is retried before it is dropped, by default: the register TTL, after which
/// a subscriber that stopped answering has left the registry anyway.
pub const DEFAULT_MAX_MESSAGE_AGE: Duration = Duration::from_secs(60);
/// How long dialing a subscriber may take by default (go-micro's dial timeout).
pub const DEFAULT_DIAL_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a subscriber may take to answer a delivery by default. go-micro's inbox answers only
/// after its handler returns, and Go's publisher waits without limit, so this is generous.
pub const DEFAULT_REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// The broker's settings; see the builder methods of [`HttpBroker`].
#[derive(Clone, Debug)]
pub(super) struct Options {
    pub(super) address: String,
    pub(super) register_ttl: Duration,
    pub(super) register_interval: Duration,
    pub(super) backlog: usize,
    pub(super) pipeline: usize,
    pub(super) max_message_age: Duration,
    pub(super) dial_timeout: Duration,
    pub(super) reply_timeout: Duration,
    pub(super) retry_first: Duration,
    pub(super) retry_max: Duration,
    pub(super) limits: Limits,
    pub(super) flush_timeout: Duration,
}

impl Options {
    /// The TTL to register with; `None` when zero (no expiry).
    pub(super) fn ttl(&self) -> Option<Duration> {
        (!self.register_ttl.is_zero()).then_some(self.register_ttl)
    }
}

impl Default for Options {
    fn default() -> Self {
        Self {
            address: DEFAULT_ADDRESS.to_string(),
            register_ttl: DEFAULT_REGISTER_TTL,
            register_interval: DEFAULT_REGISTER_INTERVAL,
            backlog: DEFAULT_BACKLOG,
            pipeline: DEFAULT_PIPELINE,
            max_message_age: DEFAULT_MAX_MESSAGE_AGE,
            dial_timeout: DEFAULT_DIAL_TIMEOUT,
            reply_timeout: DEFAULT_REPLY_TIMEOUT,
            retry_first: Duration::from_millis(100),
            retry_max: Duration::from_secs(5),
            limits: Limits::default(),
            flush_timeout: DEFAULT_FLUSH_TIMEOUT,
        }
    }
}

impl HttpBroker {
    /// The inbox's listen address: `host:port`, or `host:min-max` for the first free port of a
    /// range (see [`listen`](crate::transport::listen)). An unspecified host (`0.0.0.0`, `:0`)
    /// registers the machine's first private IP. Other processes must be able to reach it, so set
    /// a non-loopback address for pub/sub across hosts. Once connected, read the registered
    /// address back with [`Broker::address`](crate::broker::Broker::address).
    pub fn address(mut self, address: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.options).address = address.into();
        self
    }

    /// How long each subscription's registry record lives unless re-registered (default
    /// [`DEFAULT_REGISTER_TTL`]; zero: until deregistered).
    pub fn register_ttl(mut self, ttl: Duration) -> Self {
        Arc::make_mut(&mut self.options).register_ttl = ttl;
        self
    }

    /// How often subscriptions are re-registered (default [`DEFAULT_REGISTER_INTERVAL`]; zero:
    /// never). Keep it well under the TTL.
    pub fn register_interval(mut self, interval: Duration) -> Self {
        Arc::make_mut(&mut self.options).register_interval = interval;
        self
    }

    /// How many messages may wait for one subscriber node (default [`DEFAULT_BACKLOG`], at least
    /// 1). Beyond it `publish` waits for room while the node is healthy, and drops the newest
    /// message for it, with a warning, while it is failing.
    pub fn backlog(mut self, messages: usize) -> Self {
        Arc::make_mut(&mut self.options).backlog = messages.max(1);
        self
    }

    /// How many messages may be in flight to one subscriber node at once (default
    /// [`DEFAULT_PIPELINE`], at least 1): they are written back to back on one kept-alive
    /// connection and their replies read in order (HTTP/1.1 pipelining), so delivery is not bound
    /// by one round trip per message. Order per node is kept. A node that is failing gets one at
    /// a time. The price: when a reply never comes (see [`reply_timeout`](Self::reply_timeout)),
    /// the messages sent behind it on that connection may have been handled too, so they are
    /// dropped with it rather than sent again. 1 sends each message only once the previous one is
    /// answered, as Go does.
    pub fn pipeline(mut self, messages: usize) -> Self {
        Arc::make_mut(&mut self.options).pipeline = messages.max(1);
        self
    }

    /// How long a message is retried before it is given up (default
    /// [`DEFAULT_MAX_MESSAGE_AGE`]), counted from `publish`. Every message is tried at least once.
    pub fn max_message_age(mut self, age: Duration) -> Self {
        Arc::make_mut(&mut self.options).max_message_age = age;
        self
    }

    /// How long dialing a subscriber may take (default [`DEFAULT_DIAL_TIMEOUT`]). A failed dial
    /// proves the message was not delivered, so it is retried.
    pub fn dial_timeout(mut self, timeout: Duration) -> Self {
        Arc::make_mut(&mut self.options).dial_timeout = timeout;
        self
    }

    /// How long sending a message and reading the subscriber's answer may take (default
    /// [`DEFAULT_REPLY_TIMEOUT`]). A subscriber that got the whole message but did not answer in
    /// time may be handling it (go-micro's inbox answers after its handler), so the message is
    /// dropped, not sent again: delivery stays at-most-once.
    pub fn reply_timeout(mut self, timeout: Duration) -> Self {
        Arc::make_mut(&mut self.options).reply_timeout = timeout;
        self
    }

    /// The pause before retrying a failed delivery: `first`, doubling after each failure up to
    /// `max`, and back to `first` after a success (default 100 ms to 5 s; at least 1 ms, so a
    /// target that stays down is never retried in a busy loop).
    pub fn retry_backoff(mut self, first: Duration, max: Duration) -> Self {
        let options = Arc::make_mut(&mut self.options);
        let first = first.max(Duration::from_millis(1));
        options.retry_first = first;
        options.retry_max = max.max(first);
        self
    }

    /// The inbox's limits, the same [`Limits`] as the RPC server's (default [`Limits::default`]:
    /// 4 MiB messages, as go-micro's): message and header sizes, header, body and idle timeouts,
    /// connection caps in all and per peer, and the budget of bytes held by incomplete bodies.
    /// Publishing a message whose envelope is over `max_message_bytes` fails. Replaces what
    /// [`max_connections`](Self::max_connections), [`idle_timeout`](Self::idle_timeout) and
    /// [`body_timeout`](Self::body_timeout) set before it.
    pub fn limits(mut self, limits: Limits) -> Self {
        Arc::make_mut(&mut self.options).limits = limits;
        self
    }

    /// How many publisher connections the inbox serves at once ([`Limits::max_connections`], at
    /// least 1); further ones are answered 503 and closed, and micro's publishers retry them.
    pub fn max_connections(mut self, connections: usize) -> Self {
        Arc::make_mut(&mut self.options).limits.max_connections = connections.max(1);
        self
    }

    /// How long the inbox keeps a kept-alive connection open with no request on it
    /// ([`Limits::idle_timeout`]). Publishers redial a connection closed while idle.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        Arc::make_mut(&mut self.options).limits.idle_timeout = timeout;
        self
    }

    /// How long a request's body may go without a new byte ([`Limits::body_progress_timeout`]);
    /// a slower one is answered 408 and its connection closed.
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        Arc::make_mut(&mut self.options)
            .limits
            .body_progress_timeout = timeout;
        self
    }

    /// How long [`disconnect`](crate::broker::Broker::disconnect) waits for messages still on
    /// their way before it drops them (default [`DEFAULT_FLUSH_TIMEOUT`]); see
    /// [`Broker::flush`](crate::broker::Broker::flush). Zero: drop at once what is not delivered.
    pub fn flush_timeout(mut self, timeout: Duration) -> Self {
        Arc::make_mut(&mut self.options).flush_timeout = timeout;
        self
    }
}
