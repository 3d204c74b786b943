//! # micro-plugins
//!
//! Components for micro written the way another crate would write them: on micro-runtime's
//! public API alone, with nothing private. Each passes the same tests as micro's own component
//! of its kind (`plugins/tests/`), which is the proof that the component is pluggable.
//!
//! ## Layout
//! | module | what it adds | plugs into |
//! |---|---|---|
//! | [`msgpack`] | [`MSGPACK`]: `application/msgpack` bodies through rmp-serde | `Server::codec`, `CallOptions::content_type`, `Publisher::content_type` |
//! | [`least_loaded`] | [`LeastLoaded`]: the node with the fewest calls in flight first | `ClientOptions::strategy` |
//! | [`broadcast`] | [`BroadcastBroker`]: in-process pub/sub on tokio broadcast channels | `Server::broker`, `ServiceBuilder::broker` |
//! | [`in_process`] | [`InProcess`]: calls and streams over tokio channels, no sockets | `ServiceBuilder::transport`, `Server::transport`, `ClientOptions::transport` |

pub mod broadcast;
pub mod in_process;
pub mod least_loaded;
pub mod msgpack;

pub use broadcast::BroadcastBroker;
pub use in_process::InProcess;
pub use least_loaded::LeastLoaded;
pub use msgpack::MSGPACK;
