//! Typed publishing: [`Publisher`] encodes a generated message and publishes it on a topic, with
//! the headers go-micro's `client.Publish` sends.
//!
//! ```no_run
//! # #[derive(Clone, PartialEq, prost::Message, serde::Serialize, serde::Deserialize)]
//! # pub struct Event { #[prost(string, tag = "1")] pub name: String }
//! # async fn run() -> Result<(), micro_runtime::LocalError> {
//! use micro_runtime::{Context, Service};
//!
//! let service = Service::builder("orders").build()?;
//! let events = service.publisher::<Event>("events");
//! events.publish(&Context::new(), &Event { name: "created".into() }).await?;
//! # Ok(()) }
//! ```

use std::marker::PhantomData;
use std::sync::Arc;

use crate::broker::{
    Broker, CONTENT_TYPE_HEADER, ID_HEADER, Message as BrokerMessage, TOPIC_HEADER,
};
use crate::codec::{ContentType, Message};
use crate::context::Context;
use crate::error::{LocalError, LocalErrorKind};
use crate::metadata::is_reserved;

/// Publishes messages of type `M` on one topic. Cheap to clone.
pub struct Publisher<M> {
    broker: Arc<dyn Broker>,
    topic: Arc<str>,
    content_type: ContentType,
    message: PhantomData<fn(M)>,
}

impl<M> Clone for Publisher<M> {
    fn clone(&self) -> Self {
        Self {
            broker: Arc::clone(&self.broker),
            topic: Arc::clone(&self.topic),
            content_type: self.content_type,
            message: PhantomData,
        }
    }
}

impl<M> std::fmt::Debug for Publisher<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("topic", &self.topic)
            .field("broker", &self.broker.name())
            .field("content_type", &self.content_type)
            .finish()
    }
}

impl<M: Message> Publisher<M> {
    /// A publisher of `M` on `topic` through `broker`, encoding protobuf.
    pub fn new(broker: Arc<dyn Broker>, topic: impl Into<String>) -> Self {
        Self {
            broker,
            topic: Arc::from(topic.into()),
            content_type: ContentType::PROTOBUF,
            message: PhantomData,
        }
    }

    /// Encodes messages with `content_type` (protobuf by default; go-micro's client publishes
    /// JSON by default, and its subscribers decode either by the `Content-Type` header).
    pub fn content_type(mut self, content_type: ContentType) -> Self {
        self.content_type = content_type;
        self
    }

    /// The topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Publishes `message` with headers `Content-Type`, `Micro-Topic`, a fresh `Micro-Id` (a
    /// UUID) and the metadata of `ctx` (so a handler that publishes passes its caller's metadata
    /// on). Returns once the broker has taken the message; delivery is at-most-once.
    pub async fn publish(&self, ctx: &Context, message: &M) -> Result<(), LocalError> {
        let body = self.content_type.encode(message).map_err(|err| {
            LocalError::new(
                LocalErrorKind::Broker,
                format!(
                    "cannot encode a message for topic {}: {}",
                    self.topic, err.detail
                ),
            )
        })?;
        let mut out = BrokerMessage::new(body);
        for (key, value) in ctx.metadata().iter() {
            // The framework's own headers are set below, once, in their canonical case.
            if !is_reserved(key) {
                out.header.insert(key.to_string(), value.to_string());
            }
        }
        out.header.insert(
            CONTENT_TYPE_HEADER.to_string(),
            self.content_type.as_str().to_string(),
        );
        out.header
            .insert(TOPIC_HEADER.to_string(), self.topic.to_string());
        out.header
            .insert(ID_HEADER.to_string(), uuid::Uuid::new_v4().to_string());
        self.broker.publish(&self.topic, out).await
    }
}
