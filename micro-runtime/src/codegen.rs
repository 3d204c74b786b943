//! Everything generated code uses, in one place: micro-build's output names the runtime only
//! through `::micro_runtime::codegen`, so the runtime's layout can change without breaking it.
//! Not for use by hand.

pub use crate::client::{
    BidiStream, CallOptions, Client, ClientStreaming, ServiceClient, forward_bidi_stream,
    forward_client_stream, forward_server_stream,
};
pub use crate::context::Context;
pub use crate::descriptor::{
    Described, EndpointDescriptor, EndpointKind, ServiceDescriptor, ValueDescriptor,
};
pub use crate::error::Error;
pub use crate::server::{Handler, Router};
pub use crate::stream::{Receiver, Sender};

pub use pbjson;
pub use pbjson_types as well_known;
pub use prost;
pub use serde;
