//! What client layers see. Two places take layers, and the difference is what one request is:
//!
//! - [`CallRequest`] (`ClientBuilder::layer`): **the whole call**, node selection and retries
//!   inside it. For a stream, the call is opening it; its messages do not pass through layers.
//! - [`Attempt`] (`ClientBuilder::attempt_layer`): **one try on one node**; a call makes one
//!   per node it tries. A per-node circuit breaker, per-attempt timeouts and metrics go here.
//!
//! Bodies stay encoded; [`CallRequest::message`] decodes one on demand.

use bytes::Bytes;
use tokio::time::Instant;

use super::CallOptions;
use super::sender::{Frames, Writer};
use crate::codec::{ContentType, Message};
use crate::error::{CLIENT_ID, Error};
use crate::metadata::Metadata;
use crate::registry::Node;
use crate::selector::NodeRef;

/// What a call or attempt carries.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum CallBody {
    /// A unary call's encoded request.
    Message(Bytes),
    /// Opening a stream (its messages flow outside the layers).
    Stream,
}

/// One call through the client, as call layers see it.
#[derive(Clone, Debug)]
pub struct CallRequest {
    pub(crate) service: String,
    pub(crate) endpoint: String,
    pub(crate) content_type: ContentType,
    pub(crate) body: CallBody,
    pub(crate) options: CallOptions,
}

impl CallRequest {
    /// The service called, by name.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The endpoint called, e.g. `Greeter.Hello`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// How the body is encoded.
    pub fn content_type(&self) -> ContentType {
        self.content_type
    }

    /// The body.
    pub fn body(&self) -> &CallBody {
        &self.body
    }

    /// The call's options (with the current context's deadline and metadata already in them).
    pub fn options(&self) -> &CallOptions {
        &self.options
    }

    /// The options, to change before the call is made: add metadata, set a timeout, a filter.
    pub fn options_mut(&mut self) -> &mut CallOptions {
        &mut self.options
    }

    /// The metadata sent as headers, to add to or change.
    pub fn metadata_mut(&mut self) -> &mut Metadata {
        &mut self.options.metadata
    }

    /// The unary request decoded as `T`.
    pub fn message<T: Message>(&self) -> Result<T, Error> {
        match &self.body {
            CallBody::Message(bytes) => self.content_type.decode(bytes.clone()),
            CallBody::Stream => Err(no_message()),
        }
    }
}

/// What a call or attempt gave back: a unary reply, or an opened stream (opaque).
#[non_exhaustive]
pub enum CallResponse {
    /// The encoded reply.
    Message(Bytes),
    /// The stream, ready for its messages.
    Stream(OpenedStream),
}

/// A stream's connection once the init frame is sent (`open.rs` opens it and hands out its halves).
pub(crate) struct Opened {
    pub(super) writer: Writer,
    pub(super) reader: crate::transport::halves::ReadHalf,
    pub(super) frames: Frames,
    pub(super) host: String,
    pub(super) deadline: Option<Instant>,
}

/// An opened stream on its way out of the layers.
pub struct OpenedStream(pub(crate) Box<Opened>);

impl CallResponse {
    /// The unary reply's encoded body; `None` for a stream.
    pub fn body(&self) -> Option<&Bytes> {
        match self {
            CallResponse::Message(bytes) => Some(bytes),
            CallResponse::Stream(_) => None,
        }
    }
}

impl std::fmt::Debug for CallResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallResponse::Message(bytes) => write!(f, "Message({} bytes)", bytes.len()),
            CallResponse::Stream(_) => f.write_str("Stream"),
        }
    }
}

/// One try of a call on one node, as attempt layers see it.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub(crate) node: NodeRef,
    pub(crate) service: String,
    pub(crate) endpoint: String,
    pub(crate) content_type: ContentType,
    pub(crate) body: CallBody,
    pub(crate) metadata: Metadata,
    pub(crate) deadline: Option<Instant>,
}

impl Attempt {
    /// The node tried.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// The service called, by name.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The endpoint called.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The body.
    pub fn body(&self) -> &CallBody {
        &self.body
    }

    /// The metadata sent as headers, to add to or change for this attempt.
    pub fn metadata_mut(&mut self) -> &mut Metadata {
        &mut self.metadata
    }

    /// When the whole call must be done (the attempt is cut off then).
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }
}

fn no_message() -> Error {
    Error::bad_request("a stream's messages do not pass through layers").with_id(CLIENT_ID)
}
