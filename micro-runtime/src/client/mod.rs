//! The client: calls a service by name, through the selector, pooled connections and retries.
//!
//! Generated clients (`GreeterClient::new("greeter", client)`) sit on a [`Client`]; it can also
//! call any endpoint with raw bytes ([`Client::call_raw`]), as a proxy or gateway would.
//!
//! A call: ask the selector for the service's nodes (or take the addresses in the call options),
//! then try them in the selector's order. A node that cannot be reached is skipped and the next is
//! tried, since nothing was sent; after a timeout, or a connection lost mid-call, the request may
//! have run, so only calls marked [`idempotent`](CallOptions::idempotent) go on to another node.
//! go-micro retries only timeouts, and retries them whatever the call does, to the same node as
//! often as not.

mod call;
mod options;
mod sender;
mod service_client;
mod stream;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;

pub use options::CallOptions;
pub use service_client::ServiceClient;
pub use stream::{
    BidiStream, ClientStreaming, forward_bidi_stream, forward_client_stream, forward_server_stream,
};

use crate::codec::ContentType;
use crate::error::Error;
use crate::registry::Registry;
use crate::selector::{Random, Selector, Strategy};
use crate::transport::frame::Limits;
use crate::transport::pool::Pool;
use crate::wrapper::Wrapper;

/// Calls services by name. Cheap to clone: clones share the selector and connection pool.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    selector: Selector,
    pool: Pool,
    options: ClientOptions,
    wrappers: Vec<Arc<dyn Wrapper>>,
    next_id: AtomicU64,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

/// The client's defaults for every call.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// Time a call may take, retries included (default 30 s, as go-micro's `RequestTimeout`).
    pub request_timeout: Duration,
    /// Time to open a connection (default 5 s).
    pub dial_timeout: Duration,
    /// More nodes to try after the first fails (default 5, as go-micro).
    pub retries: u32,
    /// How requests are encoded (default protobuf; go-micro's client defaults to JSON, but every
    /// go-micro server speaks both, and protobuf is smaller and faster).
    pub content_type: ContentType,
    /// Idle connections kept per address (default 100).
    pub pool_size: usize,
    /// Connections older than this are not reused (default 60 s).
    pub pool_ttl: Duration,
    /// How the selector orders nodes (default [`Random`]; [`RoundRobin`](crate::selector::RoundRobin),
    /// or any [`Strategy`] of your own).
    pub strategy: Arc<dyn Strategy>,
    /// Limits on what the client reads (the same defaults as the server's).
    pub limits: Limits,
    /// How long a registry lookup is cached before it is fetched again behind the next call;
    /// a registry watch keeps it current in between (default 60 s, as go-micro's; zero: no cache).
    pub cache_ttl: Duration,
    /// How long a node that refused a connection or timed out is offered last (default 5 s).
    pub node_cooldown: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(30),
            dial_timeout: Duration::from_secs(5),
            retries: 5,
            content_type: ContentType::PROTOBUF,
            pool_size: 100,
            pool_ttl: Duration::from_secs(60),
            strategy: Arc::new(Random),
            limits: Limits::default(),
            cache_ttl: crate::selector::DEFAULT_CACHE_TTL,
            node_cooldown: crate::selector::DEFAULT_COOLDOWN,
        }
    }
}

impl Client {
    /// A client finding services in `registry`, with default options.
    pub fn new(registry: Arc<dyn Registry>) -> Self {
        Self::with_options(registry, ClientOptions::default(), Vec::new())
    }

    /// A client with the given options and wrappers (outermost first).
    pub fn with_options(
        registry: Arc<dyn Registry>,
        options: ClientOptions,
        wrappers: Vec<Arc<dyn Wrapper>>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                selector: Selector::new(registry, Arc::clone(&options.strategy))
                    .cache_ttl(options.cache_ttl)
                    .cooldown(options.node_cooldown),
                pool: Pool::new(options.pool_size, options.pool_ttl),
                options,
                wrappers,
                next_id: AtomicU64::new(0),
            }),
        }
    }

    /// The client's options.
    pub fn options(&self) -> &ClientOptions {
        &self.inner.options
    }

    /// The registry the client looks services up in.
    pub fn registry(&self) -> &Arc<dyn Registry> {
        self.inner.selector.registry()
    }

    /// Calls `endpoint` of `service` with an already-encoded body, returning the encoded reply.
    pub async fn call_raw(
        &self,
        service: &str,
        endpoint: &str,
        content_type: ContentType,
        body: Bytes,
        options: &CallOptions,
    ) -> Result<Bytes, Error> {
        call::unary(self, service, endpoint, content_type, body, options).await
    }

    /// A request id: go-micro sends a per-process sequence number.
    fn next_id(&self) -> String {
        self.inner
            .next_id
            .fetch_add(1, Ordering::Relaxed)
            .to_string()
    }
}
