//! The publisher process (`micro-bench publish`): publishes for the warm-up and the measured
//! window, prints what it published as JSON, then stays up until the parent closes its stdin, so
//! what its broker still queues (the HTTP broker's outbox, async-nats's write buffer) goes out.
//! For the memory broker it runs the subscriber too, and reports for both.

use std::sync::Arc;
use std::time::Duration;

use micro_runtime::broker::{Broker, MemoryBroker};
use tokio::io::AsyncBufReadExt;
use tokio::time::Instant;

use super::micro::{self, MicroPublisher};
use super::raw_nats::RawNatsPublisher;
use super::subscriber::Settle;
use super::tally::Tally;
use super::{Publish, PublisherReport, System, body};

/// When and how fast to publish.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    /// Published but not counted.
    pub warmup: Duration,
    /// The measured window after the warm-up.
    pub seconds: Duration,
    /// Messages per second; `None`: each publish as soon as the last returns.
    pub rate: Option<u32>,
}

/// Runs the publisher for `system` (`node`: the HTTP subscriber's records) until stdin closes.
pub async fn run(
    system: System,
    nats: Option<&str>,
    node: Option<&str>,
    window: Window,
    settle: Settle,
) -> anyhow::Result<()> {
    let url = || nats.ok_or_else(|| anyhow::anyhow!("--nats is required"));
    // Held until stdin closes, so the broker goes on delivering after the report.
    let (report, _held): (PublisherReport, crate::systems::Held) = match system {
        System::Memory => {
            let tally = Tally::new()?;
            let broker: Arc<dyn Broker> = Arc::new(MemoryBroker::new());
            let subscribed = micro::subscribe_on(Arc::clone(&broker), tally.clone()).await?;
            let mut report = drive(&mut MicroPublisher::new(broker), window).await?;
            let mut subscriber = tally.settle(settle.quiet, settle.limit).await;
            subscriber.dropped = subscribed.stats.dropped();
            report.subscriber = Some(subscriber);
            (report, Box::new(subscribed))
        }
        System::Http | System::Nats => {
            let mut publisher = MicroPublisher::connect(system, nats, node).await?;
            (drive(&mut publisher, window).await?, Box::new(publisher))
        }
        System::RawNats => {
            let mut publisher = RawNatsPublisher::connect(url()?).await?;
            (drive(&mut publisher, window).await?, Box::new(publisher))
        }
    };
    println!("{}", serde_json::to_string(&report)?);
    let mut stdin = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while stdin.next_line().await?.is_some() {}
    Ok(())
}

/// Publishes through `publisher` for the warm-up and the window, at the window's rate or flat
/// out.
async fn drive<P: Publish>(publisher: &mut P, window: Window) -> anyhow::Result<PublisherReport> {
    let began = Instant::now();
    let start = began + window.warmup;
    let end = start + window.seconds;
    let mut report = PublisherReport {
        seconds: window.seconds.as_secs_f64(),
        ..PublisherReport::default()
    };
    loop {
        match window.rate {
            Some(rate) => {
                let due = report.published * 1_000_000_000 / u64::from(rate.max(1));
                tokio::time::sleep_until(began + Duration::from_nanos(due)).await;
            }
            // Flat out, but giving the thread up when the task's budget is spent, as a loop that
            // may never wait should: the broker's own tasks (the HTTP outbox, the memory
            // subscriber's handler) may be queued behind it on this thread.
            None => tokio::task::coop::consume_budget().await,
        }
        let now = Instant::now();
        if now >= end {
            break;
        }
        let measured = now >= start;
        publisher.publish(body(measured)).await?;
        report.published += 1;
        report.measured += u64::from(measured);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[derive(Default)]
    struct Count(u64);

    impl Publish for Count {
        async fn publish(&mut self, _body: Bytes) -> anyhow::Result<()> {
            self.0 += 1;
            Ok(())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_paced_publisher_keeps_its_rate_and_counts_only_the_window() {
        let window = Window {
            warmup: Duration::from_millis(100),
            seconds: Duration::from_millis(500),
            rate: Some(1000),
        };
        let mut count = Count::default();
        let report = drive(&mut count, window).await.unwrap();
        assert_eq!(report.published, 600);
        assert_eq!(report.measured, 500);
        assert_eq!(count.0, 600);
    }
}
