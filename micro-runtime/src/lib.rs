//! # micro-runtime
//!
//! The tokio runtime behind micro: services that find each other by name, call each other over
//! go-micro's HTTP wire protocol (so `curl` and Go services can call them too), and stream.
//!
//! ```no_run
//! # mod greeter {
//! #     #[derive(Clone, PartialEq, prost::Message, serde::Serialize, serde::Deserialize)]
//! #     pub struct HelloRequest { #[prost(string, tag = "1")] pub name: String }
//! # }
//! // In a real crate: `micro_runtime::include_proto!("greeter");` mounts the code micro-build
//! // generated from greeter.proto: messages, `GreeterHandler`, `GreeterClient`, `GreeterServer`.
//! use micro_runtime::{Context, Error, Service};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let service = Service::builder("greeter").address("127.0.0.1:8080").build()?;
//! // let service = service.handle(GreeterServer::new(MyGreeter));
//! service.run().await?;
//! # Ok(()) }
//! ```
//!
//! ## Layout
//! | module | what it holds |
//! |---|---|
//! | [`error`] | [`Error`], the wire error (go-micro's `{id, code, detail, status}`), and [`LocalError`] |
//! | [`context`], [`metadata`] | what a call carries: metadata, deadline, caller |
//! | [`codec`] | the [`Codec`](codec::Codec) trait; protobuf, proto3 JSON and raw bytes, chosen by `Content-Type`; yours registered beside them |
//! | [`transport`] | the [`Transport`](transport::Transport) trait (listen, dial, sockets of messages); go-micro's HTTP/1.1 framing on raw sockets as its default; limits, port-range listeners |
//! | [`broker`] | pub/sub: the [`Broker`](broker::Broker) trait, go-micro's message; memory, HTTP (the default) and NATS brokers; the one `MICRO_BROKER` names |
//! | [`publisher`] | [`Publisher`]: typed publishing with go-micro's headers |
//! | [`registry`] | the [`Registry`](registry::Registry) trait, go-micro's data model; memory, mDNS and etcd registries; the one `MICRO_REGISTRY` names |
//! | [`selector`] | node selection: a lookup cache kept fresh by a registry watch, the [`Strategy`](selector::Strategy) trait (random, round-robin, yours), a cool-down for failed nodes, filters, an iterator so retries move on |
//! | [`server`] | serving handlers and typed subscribers, registration, graceful shutdown, `Debug.Health` |
//! | [`client`] | calls by name: pooled connections, deadlines, safe retries, streams, call and attempt layers, a circuit breaker |
//! | [`stream`] | the typed streams handlers use |
//! | [`middleware`] | tower layers around handlers, subscribers, calls and attempts; [`from_fn`](middleware::from_fn) |
//! | [`service`] | [`Service`]: a server and client configured together, from code and environment |
//! | [`function`] | [`Function`]: a service that serves one call, then deregisters and exits |
//!
//! ## Features
//! | feature | what it adds | default |
//! |---|---|---|
//! | `mdns` | the mDNS registry, go-micro's default and ours: `registry::mdns` | yes |
//! | `etcd` | the etcd registry: `registry::etcd`, on a gRPC client generated at build time with a vendored protoc (nothing to install, no `PROTOC` to set) | no |
//! | `nats` | the NATS broker: `broker::nats` | no |
//!
//! The memory registry, and the memory and HTTP brokers, are always built.

pub mod broker;
pub mod client;
pub mod codec;
#[doc(hidden)]
pub mod codegen;
pub mod context;
pub mod descriptor;
pub mod error;
pub mod function;
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing;
pub mod metadata;
pub mod middleware;
pub mod publisher;
pub mod registry;
pub mod selector;
pub mod server;
pub mod service;
pub mod stream;
pub mod transport;

pub use client::{CallOptions, Client};
pub use context::Context;
pub use error::{Error, LocalError, LocalErrorKind};
pub use function::Function;
pub use metadata::Metadata;
/// The proto well-known types (`Timestamp`, `Duration`, `Empty`, ...) with their JSON mapping, as
/// generated code uses them.
pub use pbjson_types as well_known;
pub use publisher::Publisher;
pub use service::{Environment, Service};

/// Mounts the code micro-build generated for one proto package:
/// `micro_runtime::include_proto!("greeter");` includes `$OUT_DIR/greeter.rs`.
///
/// For packages that import each other, mount them all at once with [`include_protos!`], which
/// nests modules as the packages nest so that cross-package paths resolve.
#[macro_export]
macro_rules! include_proto {
    ($package:literal) => {
        include!(concat!(env!("OUT_DIR"), "/", $package, ".rs"));
    };
}

/// Mounts every package micro-build generated, nested as the packages are
/// (`nested.api.v1` becomes `nested::api::v1`).
#[macro_export]
macro_rules! include_protos {
    () => {
        include!(concat!(env!("OUT_DIR"), "/_micro_includes.rs"));
    };
}

/// Chainable setters named after an options struct's fields, so the struct can be
/// `#[non_exhaustive]` (fields can be added without breaking anyone) and still be filled in one
/// expression: `ClientOptions::default().retries(2)`.
macro_rules! setters {
    ($ty:ty { $($(#[$doc:meta])* $field:ident: $value:ty,)* }) => {
        impl $ty {
            $(
                $(#[$doc])*
                #[must_use]
                pub fn $field(mut self, value: $value) -> Self {
                    self.$field = value;
                    self
                }
            )*
        }
    };
}
pub(crate) use setters;
