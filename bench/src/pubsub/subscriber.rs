//! The subscriber process (`micro-bench subscribe`): subscribes, says `READY <node>`, and on a
//! `REPORT` line from the parent waits for deliveries to stop, then prints its counts as JSON.

use std::time::Duration;

use tokio::io::AsyncBufReadExt;

use super::tally::Tally;
use super::{System, micro, raw_nats};

/// How a subscriber decides deliveries have stopped; see [`Tally::settle`].
#[derive(Clone, Copy, Debug)]
pub struct Settle {
    /// Stopped once nothing has arrived for this long.
    pub quiet: Duration,
    /// Stop counting after this long regardless.
    pub limit: Duration,
}

/// Runs the subscriber for `system` until it has reported.
pub async fn run(system: System, nats: Option<&str>, settle: Settle) -> anyhow::Result<()> {
    let tally = Tally::new()?;
    let url = || nats.ok_or_else(|| anyhow::anyhow!("--nats is required"));
    // Held until the report is out, so the subscription outlives the measurement.
    let (node, stats, _held): (String, _, crate::systems::Held) = match system {
        System::RawNats => {
            let client = raw_nats::subscribe(url()?, tally.clone()).await?;
            ("-".to_owned(), None, Box::new(client))
        }
        System::Http | System::Nats => {
            let subscribed = micro::subscribe(system, nats, tally.clone()).await?;
            let node = subscribed.node.clone();
            let stats = Some(subscribed.stats.clone());
            (node, stats, Box::new(subscribed))
        }
        System::Memory => anyhow::bail!("the memory broker's subscriber runs in the publisher"),
    };
    println!("READY {node}");
    let mut stdin = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    loop {
        match stdin.next_line().await? {
            Some(line) if line.trim() == "REPORT" => break,
            Some(_) => {}
            None => anyhow::bail!("the parent closed stdin before asking for the report"),
        }
    }
    let mut report = tally.settle(settle.quiet, settle.limit).await;
    report.dropped = stats.map_or(0, |stats| stats.dropped());
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}
