//! How a [`Gateway`](crate::Gateway) behaves: namespace, CORS, limits, timeouts and which headers
//! become metadata. The `micro api` command sets these from its flags and go-micro's `MICRO_API_*`
//! variables.

use std::time::Duration;

/// The headers passed on to services as call metadata, unless
/// [`GatewayOptions::metadata_headers`] says otherwise: credentials (for services that check
/// them until the gateway does) and W3C trace context. Any other header stays at the gateway, so
/// a browser's cookies or a proxy's headers never reach a service by accident.
pub const DEFAULT_METADATA_HEADERS: &[&str] = &[
    "Authorization",
    "Traceparent",
    "Tracestate",
    "Baggage",
    "X-Request-Id",
];

/// A [`Gateway`](crate::Gateway)'s settings. Build with `GatewayOptions::default()` and the
/// setters.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct GatewayOptions {
    /// Prefixed to every service name resolved from a path (`go.micro.api` makes `/greeter`
    /// call `go.micro.api.greeter`); none by default.
    pub namespace: Option<String>,
    /// Origins allowed to call from a browser (`https://app.example.com`, or `*` for any);
    /// empty, the default, sends no CORS headers and answers no preflight.
    pub cors: Vec<String>,
    /// The largest request body; a larger one is refused with 413. 4 MiB, micro's message limit.
    pub max_body: usize,
    /// How long a request body may take to arrive; a stalled one is refused with 408.
    pub body_timeout: Duration,
    /// The longest a call may take (a `Timeout` header may ask for less); then 504.
    pub timeout: Duration,
    /// Request headers passed on as call metadata (case does not matter).
    pub metadata_headers: Vec<String>,
    /// Whether `/rpc` may send to any `address`, not only to a node the registry lists for the
    /// service. Off by default: it would let anyone who reaches the gateway make it connect
    /// anywhere.
    pub rpc_any_address: bool,
    /// How long a WebSocket client may take to accept each message of a stream; one that stops
    /// reading is then disconnected, rather than have messages queue for it.
    pub stream_send_timeout: Duration,
    /// Connections served at once; more wait in the listen queue.
    pub max_connections: usize,
    /// How long a client may take to send a request's headers.
    pub header_timeout: Duration,
}

impl Default for GatewayOptions {
    fn default() -> Self {
        Self {
            namespace: None,
            cors: Vec::new(),
            max_body: 4 << 20,
            body_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(10),
            metadata_headers: DEFAULT_METADATA_HEADERS
                .iter()
                .map(|h| h.to_string())
                .collect(),
            rpc_any_address: false,
            stream_send_timeout: Duration::from_secs(10),
            max_connections: 1024,
            header_timeout: Duration::from_secs(5),
        }
    }
}

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty),* $(,)?) => {
        impl GatewayOptions {
            $(
                $(#[$doc])*
                pub fn $name(mut self, $name: $ty) -> Self {
                    self.$name = $name;
                    self
                }
            )*
        }
    };
}

setters! {
    /// Sets [`GatewayOptions::namespace`].
    namespace: Option<String>,
    /// Sets [`GatewayOptions::cors`].
    cors: Vec<String>,
    /// Sets [`GatewayOptions::max_body`].
    max_body: usize,
    /// Sets [`GatewayOptions::body_timeout`].
    body_timeout: Duration,
    /// Sets [`GatewayOptions::timeout`].
    timeout: Duration,
    /// Sets [`GatewayOptions::metadata_headers`].
    metadata_headers: Vec<String>,
    /// Sets [`GatewayOptions::rpc_any_address`].
    rpc_any_address: bool,
    /// Sets [`GatewayOptions::stream_send_timeout`].
    stream_send_timeout: Duration,
    /// Sets [`GatewayOptions::max_connections`].
    max_connections: usize,
    /// Sets [`GatewayOptions::header_timeout`].
    header_timeout: Duration,
}
