//! Topics from the dashboard: publish a JSON message with go-micro's headers, and watch a topic's
//! messages as Server-Sent Events. A watcher that reads too slowly is cut off rather than
//! buffered for: its subscription holds [`WATCH_BUFFER`] messages at most.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use micro_runtime::broker::{Message, SubscribeOptions, Subscription, event_handler};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::Web;
use crate::errors::ApiError;

/// Messages waiting for one watcher before it is cut off.
const WATCH_BUFFER: usize = 64;

/// `POST /web/publish`'s body.
#[derive(Debug, Deserialize)]
pub(crate) struct Publish {
    topic: String,
    /// The message: a JSON object (or a string holding one).
    message: Value,
}

/// `POST /web/publish`.
pub(crate) async fn publish(State(web): State<Arc<Web>>, Json(publish): Json<Publish>) -> Response {
    let Some(broker) = &web.broker else {
        return ApiError::new(503, "no broker is configured").into_response();
    };
    let text = match &publish.message {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    if let Err(err) = serde_json::from_str::<Value>(&text) {
        return ApiError::new(400, format!("the message is not JSON: {err}")).into_response();
    }
    let message = Message::json(&publish.topic, text);
    let id = message.id().to_string();
    match broker.publish(&publish.topic, message).await {
        Ok(()) => Json(json!({ "id": id, "topic": publish.topic })).into_response(),
        Err(err) => ApiError::new(503, format!("cannot publish: {err}")).into_response(),
    }
}

/// `GET /web/subscribe?topic=`'s query.
#[derive(Debug, Deserialize)]
pub(crate) struct Watch {
    topic: String,
}

/// `GET /web/subscribe?topic=`: each message as an event, `{"header", "body"}`.
pub(crate) async fn subscribe(State(web): State<Arc<Web>>, Query(watch): Query<Watch>) -> Response {
    let Some(broker) = web.broker.clone() else {
        return ApiError::new(503, "no broker is configured").into_response();
    };
    let (tx, rx) = mpsc::channel::<Value>(WATCH_BUFFER);
    let handler = event_handler(move |event| {
        let tx = tx.clone();
        async move {
            let message = event.message();
            let body = serde_json::from_slice::<Value>(&message.body)
                .unwrap_or_else(|_| String::from_utf8_lossy(&message.body).into_owned().into());
            // A full buffer: the watcher is not reading. It is dropped (below) rather than fed.
            let _ = tx.try_send(json!({ "header": message.header, "body": body }));
            Ok(())
        }
    });
    let subscription = match broker
        .subscribe(&watch.topic, handler, SubscribeOptions::default())
        .await
    {
        Ok(subscription) => subscription,
        Err(err) => {
            return ApiError::new(503, format!("cannot subscribe: {err}")).into_response();
        }
    };
    let state = (rx, Unsubscribe(Some(subscription)));
    let events = futures_util::stream::unfold(state, |(mut rx, guard)| async move {
        if rx.len() == WATCH_BUFFER {
            return None;
        }
        let message = rx.recv().await?;
        let event = Event::default().data(message.to_string());
        Some((Ok::<_, Infallible>(event), (rx, guard)))
    });
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// Unsubscribes when the watcher goes (its event stream is dropped).
struct Unsubscribe(Option<Subscription>);

impl Drop for Unsubscribe {
    fn drop(&mut self) {
        if let Some(subscription) = self.0.take() {
            tokio::spawn(async move {
                let _ = subscription.unsubscribe().await;
            });
        }
    }
}
