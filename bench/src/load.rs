//! The client process: drives one scenario against a running server and prints its figures as
//! one JSON line on stdout.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncBufReadExt;

use crate::procstat;
use crate::systems::{Caller, System, micro, raw, tonic};

/// What a load process reports.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct LoadReport {
    /// Requests made, warm-up included (CPU is charged against these).
    pub requests: u64,
    /// Requests started inside the measured window.
    pub measured: u64,
    /// Length of the measured window.
    pub seconds: f64,
    /// Latency percentiles over the measured requests, microseconds.
    pub p50_us: f64,
    /// See `p50_us`.
    pub p99_us: f64,
    /// Stream messages received.
    pub messages: u64,
    /// The client process's CPU seconds for the whole run.
    pub cpu_s: f64,
}

/// Runs `calls in flight` workers for `warmup + seconds`, timing each call.
pub async fn unary(
    system: System,
    addr: SocketAddr,
    in_flight: usize,
    warmup: Duration,
    seconds: Duration,
) -> anyhow::Result<LoadReport> {
    match system {
        System::Micro => drive(micro::callers(addr, in_flight).await?, warmup, seconds).await,
        System::Tonic => drive(tonic::callers(addr, in_flight).await?, warmup, seconds).await,
        System::RawTcp => drive(raw::callers(addr, in_flight).await?, warmup, seconds).await,
    }
}

/// Runs one worker per caller for `warmup + seconds`, timing each call.
pub(crate) async fn drive<C: Caller>(
    callers: Vec<C>,
    warmup: Duration,
    seconds: Duration,
) -> anyhow::Result<LoadReport> {
    let cpu_before = procstat::cpu_seconds(std::process::id())?;
    let start = Instant::now() + warmup;
    let end = start + seconds;
    let workers = callers.into_iter().map(|mut caller| {
        tokio::spawn(async move {
            let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)?;
            let mut requests = 0u64;
            loop {
                let began = Instant::now();
                if began >= end {
                    break;
                }
                caller.call().await?;
                requests += 1;
                if began >= start {
                    histogram.record(began.elapsed().as_nanos() as u64)?;
                }
            }
            anyhow::Ok((requests, histogram))
        })
    });
    let mut report = LoadReport::default();
    let mut all = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)?;
    for worker in workers.collect::<Vec<_>>() {
        let (requests, histogram) = worker.await??;
        report.requests += requests;
        all.add(&histogram)?;
    }
    report.measured = all.len();
    report.seconds = seconds.as_secs_f64();
    report.p50_us = all.value_at_quantile(0.50) as f64 / 1000.0;
    report.p99_us = all.value_at_quantile(0.99) as f64 / 1000.0;
    report.cpu_s = procstat::cpu_seconds(std::process::id())? - cpu_before;
    Ok(report)
}

/// Times one server stream (`bidi == false`) or bidi echo of `count` messages.
pub async fn stream(
    system: System,
    addr: SocketAddr,
    bidi: bool,
    count: u32,
) -> anyhow::Result<LoadReport> {
    let cpu_before = procstat::cpu_seconds(std::process::id())?;
    let began = Instant::now();
    let messages = match (system, bidi) {
        (System::Micro, false) => micro::server_stream(addr, count).await?,
        (System::Micro, true) => micro::bidi(addr, count.into()).await?,
        (System::Tonic, false) => tonic::server_stream(addr, count).await?,
        (System::Tonic, true) => tonic::bidi(addr, count.into()).await?,
        (System::RawTcp, false) => raw::server_stream(addr, count).await?,
        (System::RawTcp, true) => raw::bidi(addr, count.into()).await?,
    };
    anyhow::ensure!(
        messages == u64::from(count),
        "{messages} of {count} messages"
    );
    Ok(LoadReport {
        messages,
        seconds: began.elapsed().as_secs_f64(),
        cpu_s: procstat::cpu_seconds(std::process::id())? - cpu_before,
        ..LoadReport::default()
    })
}

/// Connections opened at once by [`idle`].
const IDLE_WAVE: usize = 250;

/// Opens one connection, says `ONE`, waits for a line on stdin, opens `count` more, says `HELD`,
/// and keeps them all open until stdin closes.
pub async fn idle(system: System, addr: SocketAddr, count: usize) -> anyhow::Result<()> {
    let open = |n| async move {
        match system {
            System::Micro => micro::idle(addr, n).await,
            System::Tonic => tonic::idle(addr, n).await,
            System::RawTcp => raw::idle(addr, n).await,
        }
    };
    let mut stdin = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let first = open(1).await?;
    println!("ONE");
    stdin.next_line().await?;
    // Connect in waves, as a fleet of clients would, rather than 5,000 SYNs at once: a burst
    // beyond the listen backlog makes the kernel drop handshakes, which measures nothing useful.
    let mut rest = Vec::new();
    let mut left = count;
    while left > 0 {
        let wave = left.min(IDLE_WAVE);
        rest.push(open(wave).await?);
        left -= wave;
    }
    println!("HELD");
    while stdin.next_line().await?.is_some() {}
    drop((first, rest));
    Ok(())
}
