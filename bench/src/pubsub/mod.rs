//! The pub/sub scenario: micro's brokers against NATS, one publisher and one subscriber, each in
//! its own process, 64-byte messages.
//!
//! Every message carries its publish time, so the subscriber times each delivery (both processes
//! read the same clock), and whether it was published inside the measured window, so the
//! subscriber counts exactly the messages the publisher counted.
//!
//! ## Layout
//! - `orchestrate.rs`: the parent: a nats-server, a subscriber and a publisher process for every
//!   measurement, and the median of the repetitions.
//! - `nats_server.rs`: the nats-server the parent starts for the NATS systems.
//! - `subscriber.rs` and `publisher.rs`: the two child processes (hidden subcommands).
//! - `micro.rs`: micro's brokers (memory, HTTP, NATS) through the `Broker` trait.
//! - `raw_nats.rs`: async-nats on its own, the ceiling for NATS.
//! - `tally.rs`: what the subscriber counts and times.
//! - `table.rs`: the Markdown table.

pub mod micro;
pub mod nats_server;
pub mod orchestrate;
pub mod publisher;
pub mod raw_nats;
pub mod subscriber;
pub mod table;
pub mod tally;

use std::future::Future;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// The topic (and NATS subject) every system publishes on.
pub const TOPIC: &str = "bench.pubsub";
/// The size of every message body.
pub const BODY_SIZE: usize = 64;

/// A pub/sub system under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum System {
    /// micro's memory broker, publisher and subscriber in one process: the framework's own cost.
    Memory,
    /// micro's HTTP broker (go-micro's default): a POST from the publisher to the subscriber's
    /// inbox for every message.
    Http,
    /// micro's NATS broker on a nats-server.
    Nats,
    /// async-nats alone on the same nats-server, the bare body with no envelope: the ceiling.
    RawNats,
}

impl System {
    /// Every system, in the order they are run and reported.
    pub const ALL: [System; 4] = [System::Memory, System::Http, System::Nats, System::RawNats];

    /// The name used on the command line and in the JSON.
    pub fn name(self) -> &'static str {
        match self {
            System::Memory => "memory",
            System::Http => "http",
            System::Nats => "nats",
            System::RawNats => "raw_nats",
        }
    }

    /// Parses [`System::name`].
    pub fn parse(name: &str) -> anyhow::Result<Self> {
        Self::ALL
            .into_iter()
            .find(|system| system.name() == name)
            .ok_or_else(|| {
                anyhow::anyhow!("unknown pub/sub system {name:?}: memory, http, nats or raw_nats")
            })
    }

    /// Whether it needs a nats-server.
    pub fn needs_nats(self) -> bool {
        matches!(self, System::Nats | System::RawNats)
    }
}

/// Publishes one message body on [`TOPIC`]; the publisher process drives one.
pub trait Publish: Send + 'static {
    /// Hands `body` to the broker; returns when the broker has taken it.
    fn publish(&mut self, body: Bytes) -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// What the publisher process reports.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct PublisherReport {
    /// Messages published, warm-up included.
    pub published: u64,
    /// Messages published inside the measured window.
    pub measured: u64,
    /// Length of the measured window.
    pub seconds: f64,
    /// The subscriber's report, when it ran in the same process (the memory broker).
    pub subscriber: Option<SubscriberReport>,
}

/// What the subscriber reports once deliveries have stopped.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SubscriberReport {
    /// Messages received, warm-up included.
    pub received: u64,
    /// Messages received that were published inside the measured window.
    pub measured: u64,
    /// Publish-to-receive latency percentiles over the measured messages, microseconds.
    pub p50_us: Option<f64>,
    /// See `p50_us`.
    pub p99_us: Option<f64>,
    /// Seconds from the first measured message's arrival to the last's: the window as the
    /// subscriber saw it, longer than the publisher's when a backlog built up.
    pub span: f64,
    /// Messages the subscription dropped because its buffer was full (micro's brokers).
    pub dropped: u64,
}

/// A message body: the publish time (Unix nanoseconds, little-endian), a byte saying whether it
/// was published in the measured window, zeros up to [`BODY_SIZE`].
pub fn body(measured: bool) -> Bytes {
    let mut body = [0u8; BODY_SIZE];
    body[..8].copy_from_slice(&unix_nanos().to_le_bytes());
    body[8] = u8::from(measured);
    Bytes::copy_from_slice(&body)
}

/// The publish time and the measured flag of a [`body`]; `None` for anything else.
pub fn read_body(body: &[u8]) -> Option<(u64, bool)> {
    if body.len() != BODY_SIZE {
        return None;
    }
    let sent = u64::from_le_bytes(body[..8].try_into().ok()?);
    Some((sent, body[8] == 1))
}

/// The wall clock in nanoseconds. Publisher and subscriber are on one machine and read the same
/// clock; `Instant` would be steadier but cannot cross a process boundary.
pub fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_reads_back() {
        let before = unix_nanos();
        let (sent, measured) = read_body(&body(true)).unwrap();
        assert!(measured && sent >= before && sent <= unix_nanos());
        assert_eq!(read_body(&body(false)).map(|(_, m)| m), Some(false));
        assert_eq!(read_body(b"short"), None);
    }

    #[test]
    fn names_round_trip() {
        for system in System::ALL {
            assert_eq!(System::parse(system.name()).unwrap(), system);
        }
        assert!(System::parse("kafka").is_err());
    }
}
