//! The ceiling for NATS: async-nats on its own, as its documentation has a user write it. The
//! subject carries the bare 64-byte body, with no envelope and no headers.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;

use super::tally::Tally;
use super::{Publish, TOPIC};

/// Subscribes to [`TOPIC`] at `url`, each message counted by `tally`; the subscription lasts as
/// long as the returned client.
pub async fn subscribe(url: &str, tally: Arc<Tally>) -> anyhow::Result<async_nats::Client> {
    let client = async_nats::connect(url).await?;
    let mut subscriber = client.subscribe(TOPIC).await?;
    client.flush().await?;
    tokio::spawn(async move {
        while let Some(message) = subscriber.next().await {
            tally.record(&message.payload);
        }
    });
    Ok(client)
}

/// Publishes with async-nats.
pub struct RawNatsPublisher(async_nats::Client);

impl RawNatsPublisher {
    /// Connects to `url`.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        Ok(Self(async_nats::connect(url).await?))
    }
}

impl Publish for RawNatsPublisher {
    async fn publish(&mut self, body: Bytes) -> anyhow::Result<()> {
        self.0.publish(TOPIC, body).await?;
        Ok(())
    }
}
