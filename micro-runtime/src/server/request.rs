//! What handler and subscriber layers see: [`Request`] and [`Response`] of a call, and
//! [`SubscriberRequest`]: a message reaching a subscriber.
//!
//! Bodies stay encoded as they came (`Bytes` and a content type), so a layer costs nothing unless
//! it looks; one that wants the typed message decodes it with [`Request::message`] (the endpoint
//! names the type).

use std::sync::{Arc, Mutex};

use bytes::Bytes;

use super::router::Route;
use super::stream::StreamIo;
use crate::broker;
use crate::codec::{ContentType, Message};
use crate::context::Context;
use crate::error::{Error, SERVER_ID};

/// A call reaching the handlers, as handler layers see it.
pub struct Request {
    pub(crate) ctx: Context,
    pub(crate) content_type: ContentType,
    pub(crate) body: Body,
    pub(crate) route: Route,
}

/// What a call carries.
#[derive(Debug)]
#[non_exhaustive]
pub enum Body {
    /// A unary call's encoded request.
    Message(Bytes),
    /// A stream: the messages flow between the caller and the handler, not through layers; a
    /// layer sees the stream open and, through its response, end.
    Stream(StreamHandle),
}

/// A stream's connection while its call passes through the layers (opaque).
pub struct StreamHandle(pub(crate) Arc<Mutex<Option<StreamIo>>>);

impl std::fmt::Debug for StreamHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StreamHandle")
    }
}

impl Request {
    /// The call's context: metadata, deadline, endpoint, caller.
    pub fn ctx(&self) -> &Context {
        &self.ctx
    }

    /// The context, to change before the handler sees it (add metadata, shorten the deadline).
    pub fn ctx_mut(&mut self) -> &mut Context {
        &mut self.ctx
    }

    /// The endpoint called, e.g. `Greeter.Hello`.
    pub fn endpoint(&self) -> &str {
        self.ctx.endpoint()
    }

    /// How the body is encoded.
    pub fn content_type(&self) -> ContentType {
        self.content_type
    }

    /// The body.
    pub fn body(&self) -> &Body {
        &self.body
    }

    /// Whether the call is a stream.
    pub fn is_stream(&self) -> bool {
        matches!(self.body, Body::Stream(_))
    }

    /// The unary request decoded as `T` (a 400 if it does not decode, or for a stream).
    pub fn message<T: Message>(&self) -> Result<T, Error> {
        match &self.body {
            Body::Message(bytes) => self.content_type.decode(bytes.clone()),
            Body::Stream(_) => Err(Error::bad_request(
                "a stream's messages do not pass through layers",
            )
            .with_id(SERVER_ID)),
        }
    }

    /// Replaces a unary request's body with `message`, encoded in the call's content type.
    pub fn set_message<T: Message>(&mut self, message: &T) -> Result<(), Error> {
        if let Body::Message(bytes) = &mut self.body {
            *bytes = self.content_type.encode(message)?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("endpoint", &self.endpoint())
            .field("content_type", &self.content_type)
            .field("body", &self.body)
            .finish_non_exhaustive()
    }
}

/// A handler's answer, as handler layers see it: the encoded reply of a unary call, nothing for a
/// stream that ended well.
#[derive(Clone, Debug)]
pub struct Response {
    pub(crate) content_type: ContentType,
    pub(crate) body: Option<Bytes>,
}

impl Response {
    /// A unary reply of `message`, for a layer that answers without calling the handler (a
    /// cache, say).
    pub fn from_message<T: Message>(content_type: ContentType, message: &T) -> Result<Self, Error> {
        Ok(Self {
            content_type,
            body: Some(content_type.encode(message)?),
        })
    }

    /// A unary reply's encoded body; `None` for a stream.
    pub fn body(&self) -> Option<&Bytes> {
        self.body.as_ref()
    }

    /// The unary reply decoded as `T`.
    pub fn message<T: Message>(&self) -> Result<T, Error> {
        match &self.body {
            Some(bytes) => self.content_type.decode(bytes.clone()),
            None => Err(Error::bad_request("a stream has no reply message").with_id(SERVER_ID)),
        }
    }
}

/// A message reaching a subscriber, as subscriber layers see it.
#[derive(Debug)]
pub struct SubscriberRequest {
    pub(crate) ctx: Context,
    pub(crate) content_type: ContentType,
    pub(crate) message: broker::Message,
}

impl SubscriberRequest {
    /// The message's context: its metadata, [`topic`](Context::topic) and id.
    pub fn ctx(&self) -> &Context {
        &self.ctx
    }

    /// The context, to change before the subscriber sees it.
    pub fn ctx_mut(&mut self) -> &mut Context {
        &mut self.ctx
    }

    /// The message as the broker delivered it: headers and encoded body.
    pub fn message(&self) -> &broker::Message {
        &self.message
    }

    /// The body decoded as `T` by its Content-Type.
    pub fn decode<T: Message>(&self) -> Result<T, Error> {
        self.content_type.decode(self.message.body.clone())
    }
}
