//! A WebSocket bridged to a service's stream: each text frame from the client is one JSON message
//! to the service, each message from the service one text frame back (see `stream.rs` for the
//! three ways a stream is served).
//!
//! The bridge reads the client to the end, even after its empty frame (its end of input), so a
//! client that leaves a quiet stream still hangs up on the service. A client that stops reading
//! is dropped after the send timeout rather than buffered for. The end is a close frame (1000, or
//! 4000 + the service's error code, 1001 when the gateway stops), followed by RFC 6455's closing
//! handshake: the client's answer is awaited before the connection closes.

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::{SinkExt, StreamExt};
use micro_runtime::Error;
use micro_runtime::codec::JsonValue;
use serde_json::{Map, Value};
use tokio::sync::{OwnedSemaphorePermit, watch};

use crate::request;
use crate::stream::Stream;

/// What one WebSocket's bridge holds besides the two ends.
pub(crate) struct Bridge {
    /// How long the client may take to accept each message.
    send_timeout: std::time::Duration,
    /// Turns true when the gateway stops.
    closing: watch::Receiver<bool>,
    /// Its place among the open WebSockets, given back when the bridge ends.
    _place: OwnedSemaphorePermit,
}

/// How the client's side of a WebSocket ended.
enum Inbound {
    /// The socket closed or failed: hang up.
    HungUp,
    /// A frame that is not a JSON object: the close code and reason.
    Refused(u16, String),
}

impl Bridge {
    pub(crate) fn new(
        send_timeout: std::time::Duration,
        closing: watch::Receiver<bool>,
        place: OwnedSemaphorePermit,
    ) -> Self {
        Self {
            send_timeout,
            closing,
            _place: place,
        }
    }

    /// Carries messages both ways until the service ends the stream, the client hangs up, or the
    /// gateway stops.
    pub(crate) async fn run(
        mut self,
        socket: WebSocket,
        stream: Stream,
        first: Option<Map<String, Value>>,
    ) {
        let (sender, mut receiver) = stream.split();
        let (mut socket_tx, mut socket_rx) = socket.split();
        if let Some(first) = first
            && sender.send(JsonValue(Value::Object(first))).await.is_err()
        {
            return;
        }
        // The halves borrow the socket's writer; the block ends them before the close is sent.
        let end = {
            // Read until the client hangs up, even after its end of input (an empty frame):
            // a client that leaves a quiet stream must still cancel it.
            let inbound = async {
                let mut ended = false;
                while let Some(Ok(frame)) = socket_rx.next().await {
                    match frame {
                        Message::Text(text) if text.is_empty() => {
                            if !ended {
                                ended = true;
                                let _ = sender.close().await;
                            }
                        }
                        Message::Text(_) if ended => {
                            return Inbound::Refused(
                                1008,
                                "the stream takes no more messages".into(),
                            );
                        }
                        Message::Text(text) => match request::json_object(text.as_bytes()) {
                            Ok(message) => {
                                if sender
                                    .send(JsonValue(Value::Object(message)))
                                    .await
                                    .is_err()
                                {
                                    // The service has ended its side; its replies still come.
                                    ended = true;
                                }
                            }
                            Err(err) => return Inbound::Refused(1007, err.0.detail),
                        },
                        Message::Binary(_) => {
                            return Inbound::Refused(
                                1003,
                                "send JSON messages as text frames".into(),
                            );
                        }
                        Message::Close(_) => return Inbound::HungUp,
                        Message::Ping(_) | Message::Pong(_) => {}
                    }
                }
                Inbound::HungUp
            };
            let send_timeout = self.send_timeout;
            let outbound = async {
                loop {
                    match receiver.recv().await {
                        Ok(Some(JsonValue(message))) => {
                            let frame = Message::Text(message.to_string().into());
                            let sent = tokio::time::timeout(send_timeout, socket_tx.send(frame));
                            if !matches!(sent.await, Ok(Ok(()))) {
                                // Gone, or not reading: drop it rather than queue for it.
                                return End::Gone;
                            }
                        }
                        Ok(None) => return End::Close(close_frame(1000, "")),
                        Err(err) => return End::Close(close_frame(close_code(&err), &err.detail)),
                    }
                }
            };
            let closing = self.closing.wait_for(|closing| *closing);
            tokio::select! {
                inbound = inbound => match inbound {
                    Inbound::HungUp => End::HungUp,
                    Inbound::Refused(code, why) => End::Close(close_frame(code, &why)),
                },
                end = outbound => end,
                _ = closing => End::Close(close_frame(1001, "the gateway is stopping")),
            }
        };
        // The service's side first: a stream that has not ended hangs up at once.
        drop((sender, receiver));
        match end {
            End::Gone => {}
            // The client closed, or its socket failed: send the answer to its close frame, if any.
            End::HungUp => {
                let _ = tokio::time::timeout(self.send_timeout, socket_tx.flush()).await;
            }
            End::Close(close) => {
                let close = socket_tx.send(Message::Close(Some(close)));
                if let Ok(Ok(())) = tokio::time::timeout(self.send_timeout, close).await {
                    // The closing handshake (RFC 6455, 7.1.1): wait for the client's answering
                    // close before the connection closes. Closed at once, the client's answer
                    // would meet a closed socket and be answered with a reset, which can reach the
                    // browser before it has read our close frame: it then reports 1006.
                    let answer = async { while let Some(Ok(_)) = socket_rx.next().await {} };
                    let _ = tokio::time::timeout(CLOSE_ANSWER_TIME, answer).await;
                }
            }
        }
    }
}

/// How long a WebSocket's client may take to answer our close frame before the connection is
/// dropped anyway: a browser answers at once, and a gateway that stops waits for this at most.
const CLOSE_ANSWER_TIME: std::time::Duration = std::time::Duration::from_secs(2);

/// How a WebSocket's bridge ended.
enum End {
    /// Send this close frame, then wait for the client's.
    Close(CloseFrame),
    /// The client closed or its socket failed.
    HungUp,
    /// The client stopped reading or went away while a message was sent to it.
    Gone,
}

/// 4000 + a go-micro error's code, the WebSocket range for applications.
fn close_code(err: &Error) -> u16 {
    u16::try_from(err.code)
        .ok()
        .filter(|code| (100..1000).contains(code))
        .map_or(4500, |code| 4000 + code)
}

/// A close frame; the reason cut to the protocol's 123 bytes, on a character boundary.
fn close_frame(code: u16, reason: &str) -> CloseFrame {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    CloseFrame {
        code,
        reason: reason[..end].into(),
    }
}
