//! Typed subscribers: a topic, an async handler taking a decoded message, and how the server
//! subscribes them when it starts.
//!
//! Each message is decoded by its `Content-Type` (protobuf when it has none, as go-micro's
//! subscribers assume), then handed to the subscriber layers and the handler with a [`Context`]
//! holding the message's user headers, its topic and its `Micro-Id`. A message that does not
//! decode, and a handler error, are logged with the topic and message id; the subscription goes
//! on with the next message.

use std::collections::HashMap;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use bytes::Bytes;

use crate::broker::{Broker, CONTENT_TYPE_HEADER, EventHandler, SubscribeOptions, Subscription};
use crate::codec::{Codecs, ContentType, Message};
use crate::context::Context;
use crate::descriptor::Described;
use crate::error::{Error, LocalError, SERVER_ID};
use crate::metadata::{Metadata, is_reserved};
use crate::middleware::layers::Layers;
use crate::middleware::{BoxService, into_error};
use crate::registry::{BoxFuture, Endpoint, Value};
use tower::ServiceExt;

use super::dispatch::Deliver;
use super::request::SubscriberRequest;

/// A subscriber waiting for its server to start.
pub(crate) struct SubscriberSpec {
    topic: String,
    options: SubscribeOptions,
    // The message's shape, advertised as the endpoint's request.
    request: Value,
    route: Arc<dyn EventRoute>,
}

/// A typed handler with its message type erased.
pub(crate) trait EventRoute: Send + Sync {
    fn call(
        &self,
        ctx: Context,
        content_type: ContentType,
        body: Bytes,
    ) -> BoxFuture<'static, Result<(), Error>>;
}

struct Typed<M, F> {
    handler: Arc<F>,
    message: PhantomData<fn(M)>,
}

impl<M, F, Fut> EventRoute for Typed<M, F>
where
    M: Message,
    F: Fn(Context, M) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), Error>> + Send + 'static,
{
    fn call(
        &self,
        ctx: Context,
        content_type: ContentType,
        body: Bytes,
    ) -> BoxFuture<'static, Result<(), Error>> {
        let message = content_type.decode::<M>(body);
        let handler = Arc::clone(&self.handler);
        Box::pin(async move {
            let message = message.map_err(|err| {
                Error::bad_request(format!(
                    "cannot decode the {content_type} message as {}: {}",
                    short_type_name::<M>(),
                    err.detail
                ))
                .with_id(SERVER_ID)
            })?;
            // The handler's context is the task's current one: calls it makes inherit it.
            ctx.clone().scope(handler(ctx, message)).await
        })
    }
}

impl SubscriberSpec {
    /// A subscriber of `topic` running `handler` for each message.
    pub(crate) fn new<M, F, Fut>(topic: String, options: SubscribeOptions, handler: F) -> Self
    where
        M: Message + Described,
        F: Fn(Context, M) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), Error>> + Send + 'static,
    {
        Self {
            topic,
            options,
            request: M::VALUE.to_registry(),
            route: Arc::new(Typed {
                handler: Arc::new(handler),
                message: PhantomData,
            }),
        }
    }

    /// The registry form, as go-micro advertises a function subscriber: endpoint `Func`, the
    /// message's value tree as the request (fields included, as go-micro's extractor lists them),
    /// no response, metadata `topic` and `subscriber: "true"`.
    pub(crate) fn endpoint(&self) -> Endpoint {
        let mut metadata = HashMap::new();
        metadata.insert("topic".to_string(), self.topic.clone());
        metadata.insert("subscriber".to_string(), "true".to_string());
        if let Some(queue) = &self.options.queue {
            metadata.insert("queue".to_string(), queue.clone());
        }
        Endpoint {
            name: "Func".to_string(),
            request: Some(self.request.clone()),
            response: None,
            metadata,
        }
    }

    /// Subscribes on `broker`, the handler running inside `layers`.
    pub(crate) async fn subscribe(
        &self,
        broker: &Arc<dyn Broker>,
        service: &str,
        layers: &Layers<SubscriberRequest, ()>,
        codecs: Arc<Codecs>,
    ) -> Result<Subscription, LocalError> {
        let layered = (!layers.is_empty())
            .then(|| layers.apply(BoxService::new(Deliver(Arc::clone(&self.route)))));
        let handler = event_handler(Arc::from(service), Arc::clone(&self.route), layered, codecs);
        broker
            .subscribe(&self.topic, handler, self.options.clone())
            .await
            .map_err(|err| {
                LocalError::new(
                    err.kind(),
                    format!(
                        "cannot subscribe to {} on the {} broker",
                        self.topic,
                        broker.name()
                    ),
                )
                .with_source(err)
            })
    }
}

/// The broker-level handler: the message's context and codec, then the typed route.
fn event_handler(
    service: Arc<str>,
    route: Arc<dyn EventRoute>,
    layered: Option<BoxService<SubscriberRequest, ()>>,
    codecs: Arc<Codecs>,
) -> EventHandler {
    Arc::new(move |event| {
        let message = event.message();
        let mut metadata = Metadata::new();
        for (key, value) in &message.header {
            if !is_reserved(key) {
                metadata.insert(key.clone(), value.clone());
            }
        }
        let ctx = Context::for_event(
            service.to_string(),
            event.topic().to_string(),
            message.id().to_string(),
            metadata,
        );
        // An empty Content-Type is none at all: protobuf, as go-micro's subscribers read it.
        let content_type = message
            .get(CONTENT_TYPE_HEADER)
            .filter(|v| !v.trim().is_empty());
        let content_type = match codecs.from_header(content_type) {
            Ok(content_type) => content_type,
            Err(err) => return Box::pin(std::future::ready(Err(err))),
        };
        match &layered {
            None => route.call(ctx, content_type, message.body.clone()),
            Some(service) => {
                let request = SubscriberRequest {
                    ctx,
                    content_type,
                    message: message.clone(),
                };
                let service = service.clone();
                Box::pin(async move {
                    service
                        .oneshot(request)
                        .await
                        .map_err(|err| into_error(err, SERVER_ID))
                })
            }
        }
    })
}

/// `Event` for `my_crate::events::Event`: the name go-micro advertises for a message type.
fn short_type_name<M>() -> &'static str {
    let full = std::any::type_name::<M>();
    // Generic arguments would hold `::` too; messages have none.
    full.rsplit("::").next().unwrap_or(full)
}
