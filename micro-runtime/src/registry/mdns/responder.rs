//! Answering other hosts' questions about our nodes, and announcing them unasked.
//!
//! Answers go out at once (go-micro's server does not delay either), each node's records in a
//! message of their own, with the question repeated as go-micro's client requires. A question
//! with the QU bit or from a port other than 5353 (a "legacy" one-shot querier such as go-micro's
//! client) is answered unicast to the asker, with its query id; others are multicast.

use std::net::SocketAddr;
use std::sync::Weak;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};

use super::engine::{self, Engine};
use super::socket::{Link, MDNS_PORT};

// RFC 6762 §5.1: legacy unicast answers carry TTLs of at most 10 s.
const LEGACY_MAX_TTL: u32 = 10;
// RFC 6762 §8.3: at least two unsolicited announcements, one second apart.
const ANNOUNCE_AGAIN: Duration = Duration::from_secs(1);

/// Answers `query`, heard on `link` from `from`, out of our zone.
pub(super) async fn respond(engine: &Engine, link: &Link, query: &Message, from: SocketAddr) {
    // RFC 6762 §18.3, §18.11: other opcodes and non-zero response codes are silently ignored.
    if query.metadata.op_code != OpCode::Query
        || query.metadata.response_code != ResponseCode::NoError
    {
        return;
    }
    let legacy = from.port() != MDNS_PORT;
    let mut replies = Vec::new();
    {
        let state = engine.lock();
        for question in &query.queries {
            let unicast = legacy || question.mdns_unicast_response;
            for mut group in state.zone.answer(question) {
                let mut reply = Message::new(
                    if unicast { query.metadata.id } else { 0 },
                    MessageType::Response,
                    OpCode::Query,
                );
                reply.metadata.authoritative = true;
                let mut question = question.clone();
                question.set_mdns_unicast_response(false);
                reply.add_query(question);
                if legacy {
                    for record in &mut group {
                        record.ttl = record.ttl.min(LEGACY_MAX_TTL);
                    }
                }
                reply.add_answers(group);
                replies.push((unicast, reply));
            }
        }
    }
    for (unicast, reply) in replies {
        let packet = match engine::encode(&reply) {
            Ok(packet) => packet,
            Err(err) => {
                tracing::warn!(error = %err, "mdns: cannot answer a query");
                continue;
            }
        };
        let sent = if unicast {
            link.unicast(&packet, from).await
        } else {
            link.multicast(&packet).await
        };
        if let Err(err) = sent {
            tracing::debug!(%from, interface = %link.interface.name, error = %err, "mdns: cannot send an answer");
        }
    }
}

/// Announces the named nodes once more after a second, if they are still registered unchanged.
pub(super) fn announce_again(engine: Weak<Engine>, nodes: Vec<(String, String, u64)>) {
    tokio::spawn(async move {
        tokio::time::sleep(ANNOUNCE_AGAIN).await;
        let Some(engine) = engine.upgrade() else {
            return;
        };
        let groups = {
            let state = engine.lock();
            nodes
                .iter()
                .filter_map(|(service, id, serial)| {
                    state
                        .zone
                        .get(service, id)
                        .filter(|l| l.serial == *serial)
                        .map(|l| state.zone.announcement(l, l.ttl))
                })
                .collect::<Vec<_>>()
        };
        if let Err(err) = engine.announce(groups).await {
            tracing::warn!(error = %err, "mdns: cannot announce again");
        }
    });
}
