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

mod attempt;
mod call;
mod circuit_breaker;
mod open;
mod options;
mod request;
mod sender;
mod service_client;
mod stream;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;

pub use attempt::{AttemptError, AttemptFailure};
pub use circuit_breaker::{CircuitBreaker, CircuitBreakerLayer};
pub use options::CallOptions;
pub use request::{Attempt, CallBody, CallRequest, CallResponse, OpenedStream};
pub use service_client::ServiceClient;
pub use stream::{
    BidiStream, ClientStreaming, forward_bidi_stream, forward_client_stream, forward_server_stream,
};

use crate::codec::{ContentType, Message};
use crate::error::Error;
use crate::middleware::layers::Layers;
use crate::middleware::{BoxService, LayerFor};
use crate::registry::Registry;
use crate::selector::{Random, Selector, Strategy};
use crate::transport::frame::Limits;
use crate::transport::pool::Pool;
use crate::transport::{HttpTransport, Transport};

/// Calls services by name. Cheap to clone: clones share the selector and connection pool.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    selector: Selector,
    pool: Pool,
    options: ClientOptions,
    // The layer stacks, `None` when no layer was added (no boxed service on the hot path).
    call_layers: Option<BoxService<CallRequest, CallResponse>>,
    attempt_layers: Option<BoxService<Attempt, CallResponse>>,
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
#[non_exhaustive]
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
    /// How calls reach a node (default [`HttpTransport`], go-micro's HTTP wire). The nodes called
    /// must serve the same transport.
    pub transport: Arc<dyn Transport>,
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
            transport: Arc::new(HttpTransport::new()),
        }
    }
}

impl Client {
    /// A client finding services in `registry`, with default options.
    pub fn new(registry: Arc<dyn Registry>) -> Self {
        Self::builder(registry).build()
    }

    /// A client with the given options.
    pub fn with_options(registry: Arc<dyn Registry>, options: ClientOptions) -> Self {
        Self::builder(registry).options(options).build()
    }

    /// Configures a client: options and layers.
    pub fn builder(registry: Arc<dyn Registry>) -> ClientBuilder {
        ClientBuilder {
            registry,
            options: ClientOptions::default(),
            call_layers: Layers::default(),
            attempt_layers: Layers::default(),
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

    /// Asks the node of `service` at `address` for `Debug.Health`, once, within `timeout`: its
    /// status (`ok` when it serves), or why it could not answer. For tools that check every node
    /// (`micro health`, the dashboard), so no other node is tried.
    pub async fn node_health(
        &self,
        service: &str,
        address: &str,
        timeout: Duration,
    ) -> Result<String, Error> {
        let options = CallOptions::new()
            .address(address)
            .timeout(timeout)
            .retries(0);
        let body = Bytes::from_static(b"{}");
        let reply = self
            .call_raw(service, "Debug.Health", ContentType::JSON, body, &options)
            .await?;
        serde_json::from_slice::<serde_json::Value>(&reply)
            .ok()
            .and_then(|v| v.get("status")?.as_str().map(str::to_string))
            .ok_or_else(|| Error::internal_server_error("Debug.Health answered without a status"))
    }

    /// Opens a stream to `service`'s `endpoint`, both named at run time: for code that knows
    /// endpoints only from the registry (the gateway, the `micro` command line), usually with
    /// [`JsonValue`](crate::codec::JsonValue) messages and [`ContentType::JSON`]. go-micro's wire
    /// does not tell stream kinds apart, so a server or client stream is opened this way too: it
    /// sends, or answers, one message.
    pub async fn open_stream<Req: Message, Rsp: Message>(
        &self,
        service: &str,
        endpoint: &str,
        options: &CallOptions,
    ) -> Result<BidiStream<Req, Rsp>, Error> {
        let opened = call::open(self, service, endpoint, options).await?;
        Ok(BidiStream::new(opened.both()))
    }
}

impl Inner {
    /// A request id: go-micro sends a per-process sequence number.
    fn next_id(&self) -> String {
        self.next_id.fetch_add(1, Ordering::Relaxed).to_string()
    }
}

/// Configures a [`Client`]: its options, and the layers around its calls and attempts.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use micro_runtime::client::{CallRequest, CallResponse, Client};
/// use micro_runtime::middleware::{Next, from_fn};
/// use micro_runtime::registry::MemoryRegistry;
///
/// let client = Client::builder(Arc::new(MemoryRegistry::new()))
///     // Around the whole call, retries inside: adds a credential to every call and stream.
///     .layer(from_fn(|mut call: CallRequest, next: Next<CallRequest, CallResponse>| async move {
///         call.metadata_mut().insert("Authorization", "Bearer t0ken");
///         next.run(call).await
///     }))
///     // Around each try on one node.
///     .attempt_layer(tower::timeout::TimeoutLayer::new(Duration::from_secs(2)))
///     .build();
/// ```
#[must_use]
pub struct ClientBuilder {
    registry: Arc<dyn Registry>,
    options: ClientOptions,
    call_layers: Layers<CallRequest, CallResponse>,
    attempt_layers: Layers<Attempt, CallResponse>,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// The client's defaults for every call.
    pub fn options(mut self, options: ClientOptions) -> Self {
        self.options = options;
        self
    }

    /// Adds a layer around every whole call (unary, and the opening of every stream), with node
    /// selection and retries inside it; the first added runs outermost.
    pub fn layer(mut self, layer: impl LayerFor<CallRequest, CallResponse>) -> Self {
        self.call_layers.push(layer);
        self
    }

    /// Adds a layer around every attempt on one node (a call makes one per node it tries); the
    /// first added runs outermost. Refuse an attempt with
    /// [`AttemptError::unsent`] to send the call on to the next node.
    pub fn attempt_layer(mut self, layer: impl LayerFor<Attempt, CallResponse>) -> Self {
        self.attempt_layers.push(layer);
        self
    }

    /// Adds stacks of layers inside the ones already added (a service builder hands over its own).
    pub(crate) fn with_layers(
        mut self,
        call: Layers<CallRequest, CallResponse>,
        attempt: Layers<Attempt, CallResponse>,
    ) -> Self {
        self.call_layers.extend(call);
        self.attempt_layers.extend(attempt);
        self
    }

    /// Builds the client.
    pub fn build(self) -> Client {
        let options = self.options;
        let inner = Arc::new_cyclic(|weak| Inner {
            selector: Selector::new(self.registry, Arc::clone(&options.strategy))
                .cache_ttl(options.cache_ttl)
                .cooldown(options.node_cooldown),
            pool: Pool::new(options.pool_size, options.pool_ttl),
            options,
            call_layers: (!self.call_layers.is_empty()).then(|| {
                self.call_layers
                    .apply(BoxService::new(call::Calls(weak.clone())))
            }),
            attempt_layers: (!self.attempt_layers.is_empty()).then(|| {
                self.attempt_layers
                    .apply(BoxService::new(call::Attempts(weak.clone())))
            }),
            next_id: AtomicU64::new(0),
        });
        Client { inner }
    }
}

impl ClientOptions {
    /// Sets [`ClientOptions::strategy`]: [`RoundRobin`](crate::selector::RoundRobin), or any
    /// [`Strategy`] (an `Arc` of one too, to keep a handle on it).
    #[must_use]
    pub fn strategy(mut self, strategy: impl Strategy) -> Self {
        self.strategy = Arc::new(strategy);
        self
    }

    /// Sets [`ClientOptions::transport`] to any [`Transport`]. To share one instance with a
    /// server, assign an `Arc<dyn Transport>` to the field instead.
    #[must_use]
    pub fn transport(mut self, transport: impl Transport) -> Self {
        self.transport = Arc::new(transport);
        self
    }
}

crate::setters!(ClientOptions {
    /// Sets [`ClientOptions::request_timeout`].
    request_timeout: Duration,
    /// Sets [`ClientOptions::dial_timeout`].
    dial_timeout: Duration,
    /// Sets [`ClientOptions::retries`].
    retries: u32,
    /// Sets [`ClientOptions::content_type`].
    content_type: ContentType,
    /// Sets [`ClientOptions::pool_size`].
    pool_size: usize,
    /// Sets [`ClientOptions::pool_ttl`].
    pool_ttl: Duration,
    /// Sets [`ClientOptions::limits`].
    limits: Limits,
    /// Sets [`ClientOptions::cache_ttl`].
    cache_ttl: Duration,
    /// Sets [`ClientOptions::node_cooldown`].
    node_cooldown: Duration,
});
