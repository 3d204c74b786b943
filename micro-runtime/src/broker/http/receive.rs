//! What the inbox answers to one request: the message handed to the subscription its `?id=`
//! names, or why not.
//!
//! | reply | when |
//! |---|---|
//! | 200, empty body | the message is in the subscription's buffer |
//! | 405 | not a POST |
//! | 404 | no subscription here has that id (it ended) |
//! | 400 | the body is not the envelope, has more headers than [`MAX_HEADERS`](crate::broker::MAX_HEADERS) or [`MAX_HEADER_BYTES`](crate::broker::MAX_HEADER_BYTES) allow, has no `Micro-Topic`, or names another topic |
//! | 503 | the subscription's buffer is full: try later, or another queue member |
//!
//! go-micro answers 200 to anything it can parse, drops messages for unknown ids silently, and
//! says 500 for unreadable ones; Go publishers discard the reply, so they are unaffected by ours.

use super::registration::Subscriptions;
use crate::broker::{TOPIC_HEADER, decode_envelope};

/// What the inbox answers to one request.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Reply {
    pub(super) status: u16,
    pub(super) text: String,
}

impl Reply {
    fn ok() -> Self {
        Self {
            status: 200,
            text: String::new(),
        }
    }

    pub(super) fn error(status: u16, text: impl Into<String>) -> Self {
        let mut text = text.into();
        text.push('\n');
        Self { status, text }
    }
}

/// Hands one POSTed message to the subscription it names.
pub(super) fn receive(
    subscriptions: &Subscriptions,
    method: &str,
    target: &str,
    body: &[u8],
) -> Reply {
    if method != "POST" {
        return Reply::error(
            405,
            format!("method {method} not allowed: the broker inbox takes POST"),
        );
    }
    let id = query_id(target).unwrap_or_default();
    let Some(sender) = subscriptions.sender(&id) else {
        return Reply::error(404, format!("no subscription with id {id:?} here"));
    };
    let message = match decode_envelope(body) {
        Ok(message) => message,
        Err(why) => {
            sender.stats().count_malformed();
            tracing::warn!(node = %id, topic = sender.topic(), error = %why, "HTTP broker inbox: unreadable message");
            return Reply::error(400, why);
        }
    };
    match message.get(TOPIC_HEADER) {
        None | Some("") => {
            tracing::warn!(node = %id, "HTTP broker inbox: message without a Micro-Topic header");
            return Reply::error(
                400,
                "Topic not found: the message has no Micro-Topic header",
            );
        }
        Some(topic) if topic != sender.topic() => {
            tracing::warn!(node = %id, topic, expected = sender.topic(), "HTTP broker inbox: message for another topic");
            return Reply::error(
                400,
                format!(
                    "topic {topic:?} does not match subscription {id}, which is on {:?}",
                    sender.topic()
                ),
            );
        }
        Some(_) => {}
    }
    // A full buffer refuses the message, counted as dropped by the subscription: a Go publisher
    // discards our reply, so for it the message is gone. Ours keep it and retry, so a message may
    // be counted more than once before it gets in.
    if sender.offer(message) {
        return Reply::ok();
    }
    if sender.is_closed() {
        return Reply::error(404, format!("subscription {id} has ended"));
    }
    Reply::error(
        503,
        format!("subscription {id} is busy: its buffer is full, try again later"),
    )
}

/// The `id` query parameter, decoded as Go's `url.Values` does (`+` is a space); the first wins.
fn query_id(target: &str) -> Option<String> {
    let (_, query) = target.split_once('?')?;
    form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == "id")
        .map(|(_, value)| value.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_id_as_go_encodes_it() {
        assert_eq!(query_id("/?id=t-1").as_deref(), Some("t-1"));
        assert_eq!(query_id("/?x=1&id=a+b%2Fc&id=2").as_deref(), Some("a b/c"));
        assert_eq!(query_id("/"), None);
        assert_eq!(query_id("/?ids=1"), None);
    }

    #[test]
    fn unknown_ids_and_other_methods_are_refused() {
        let subscriptions = Subscriptions::default();
        assert_eq!(receive(&subscriptions, "GET", "/?id=a", b"").status, 405);
        assert_eq!(receive(&subscriptions, "POST", "/?id=a", b"{}").status, 404);
        assert_eq!(receive(&subscriptions, "POST", "/", b"{}").status, 404);
    }
}
