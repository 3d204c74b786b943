//! Watching etcd: one etcd watch (prefix, with previous values) per [`Watcher`], its events turned
//! into registry [`Event`]s as go-micro's `registry/etcd/watcher.go` does.

use tokio::sync::mpsc;

use super::client::Bidi;
use super::connection::Connection;
use super::key::{PREFIX, decode, service_prefix};
use super::pb::etcdserverpb::{WatchRequest, WatchResponse};
use super::pb::mvccpb::event::EventType;
use crate::LocalError;
use crate::registry::{Action, Event, Watcher};

// Events a slow reader may fall behind by; past it the etcd stream waits (nothing is dropped).
const WATCH_BUFFER: usize = 256;

/// Starts watching one service, or every service. Returns once etcd has confirmed the watch, so
/// every change made after this returns is seen.
pub(super) async fn watch(conn: &Connection, service: Option<&str>) -> Result<Watcher, LocalError> {
    let prefix = service.map_or_else(|| PREFIX.to_string(), service_prefix);
    let stream = conn
        .run("starting a watch", |client| {
            let prefix = prefix.clone();
            async move { client.watch_prefix(prefix.as_bytes()).await }
        })
        .await?;
    let (tx, rx) = mpsc::channel(WATCH_BUFFER);
    tokio::spawn(forward(stream, service.map(str::to_string), tx));
    Ok(Watcher::new(rx))
}

/// Forwards events until the [`Watcher`] is dropped or the etcd stream ends. A broken stream ends
/// the watcher (its `next()` returns `None`) rather than silently missing events: the caller
/// re-watches and re-reads, as go-micro's registry cache does.
async fn forward(
    mut stream: Bidi<WatchRequest, WatchResponse>,
    name: Option<String>,
    tx: mpsc::Sender<Event>,
) {
    loop {
        let reply = tokio::select! {
            // Dropping the stream cancels the watch on the server.
            _ = tx.closed() => return,
            reply = stream.replies.message() => reply,
        };
        let reply = match reply {
            Ok(Some(reply)) => reply,
            Ok(None) => {
                tracing::warn!("etcd registry: the watch stream ended");
                return;
            }
            Err(err) => {
                tracing::warn!(%err, "etcd registry: the watch stream failed");
                return;
            }
        };
        if reply.canceled {
            // For example when the revision we were at has been compacted away.
            tracing::warn!(
                reason = reply.cancel_reason,
                "etcd registry: the watch was cancelled"
            );
            return;
        }
        for event in &reply.events {
            let Some(event) = to_event(event) else {
                continue;
            };
            // Escaping `/` to `-` lets different names share a prefix; the decoded name decides.
            if name
                .as_deref()
                .is_some_and(|name| name != event.service.name)
            {
                continue;
            }
            if tx.send(event).await.is_err() {
                return;
            }
        }
    }
}

/// A PUT that created the key is a Create, any other PUT an Update; a DELETE (or an expired lease)
/// is decoded from the previous value, the only place the deleted node is still described.
fn to_event(event: &super::pb::mvccpb::Event) -> Option<Event> {
    // `r#type()` reads an unknown type as PUT, prost's default; etcd has only the two.
    let (action, kv) = match event.r#type() {
        EventType::Put => {
            let kv = event.kv.as_ref()?;
            let action = if kv.create_revision == kv.mod_revision {
                Action::Create
            } else {
                Action::Update
            };
            (action, kv)
        }
        EventType::Delete => match &event.prev_kv {
            Some(prev) => (Action::Delete, prev),
            None => {
                let key = event
                    .kv
                    .as_ref()
                    .map(|kv| String::from_utf8_lossy(&kv.key).into_owned());
                tracing::warn!(?key, "etcd registry: a delete without its previous value");
                return None;
            }
        },
    };
    let service = decode(&kv.key, &kv.value)?;
    Some(Event { action, service })
}
