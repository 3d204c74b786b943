//! The parent process: starts a fresh server process and a client process for every
//! measurement, interleaving the systems so a noisy neighbour hurts all of them alike, and keeps
//! the median of the repetitions.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use anyhow::Context as _;

use crate::load::LoadReport;
use crate::procstat;
use crate::record::Record;
use crate::systems::System;

/// Sizes of one run.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Repetitions of every measurement.
    pub reps: usize,
    /// Unwatched time before a unary or pub/sub measurement starts.
    pub warmup: Duration,
    /// Measured time of a unary or pub/sub run.
    pub seconds: Duration,
    /// Calls in flight for the unary scenario.
    pub concurrency: Vec<u32>,
    /// Messages per stream.
    pub stream_messages: u32,
    /// Idle connections held open.
    pub idle_connections: u32,
    /// The paced pub/sub publisher's rate, messages per second: light load, for latency.
    pub pubsub_rate: u32,
    /// How long a pub/sub subscriber may go on receiving after the publisher stops; a system
    /// still delivering then has its late messages counted as lost.
    pub pubsub_drain: Duration,
}

impl Plan {
    /// The full run, or the smoke-test sizes with `quick`.
    pub fn new(quick: bool) -> Self {
        if quick {
            Plan {
                reps: 1,
                warmup: Duration::from_millis(100),
                seconds: Duration::from_millis(400),
                concurrency: vec![1, 16, 64, 256],
                stream_messages: 100_000,
                idle_connections: 500,
                pubsub_rate: 1_000,
                pubsub_drain: Duration::from_secs(1),
            }
        } else {
            Plan {
                reps: 5,
                warmup: Duration::from_secs(1),
                seconds: Duration::from_secs(4),
                concurrency: vec![1, 16, 64, 256],
                stream_messages: 1_000_000,
                idle_connections: 5_000,
                pubsub_rate: 1_000,
                pubsub_drain: Duration::from_secs(5),
            }
        }
    }
}

/// A server process, killed when dropped.
pub(crate) struct ServerProcess {
    child: Child,
    /// Where it listens.
    pub(crate) addr: String,
}

impl ServerProcess {
    fn start(system: System) -> anyhow::Result<Self> {
        Self::start_with(&["--system", system.name()])
    }

    /// `micro-bench serve ARGS`, once it says where it listens.
    pub(crate) fn start_with(args: &[&str]) -> anyhow::Result<Self> {
        let mut child = Command::new(std::env::current_exe()?)
            .arg("serve")
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .context("starting the server process")?;
        let mut line = String::new();
        let stdout = child.stdout.take().context("no stdout")?;
        BufReader::new(stdout).read_line(&mut line)?;
        let addr = line
            .strip_prefix("READY ")
            .context("the server process did not start")?
            .trim()
            .to_owned();
        Ok(Self { child, addr })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `micro-bench load ARGS` and reads its report.
pub(crate) fn load(args: &[String]) -> anyhow::Result<LoadReport> {
    let output = Command::new(std::env::current_exe()?)
        .arg("load")
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .context("running the load process")?;
    anyhow::ensure!(output.status.success(), "load process failed: {args:?}");
    let text = String::from_utf8(output.stdout)?;
    let line = text
        .lines()
        .last()
        .context("the load process printed nothing")?;
    Ok(serde_json::from_str(line)?)
}

/// One measurement of one system: a fresh server, one load process.
fn measure(system: System, load_args: &[String]) -> anyhow::Result<(LoadReport, f64, u64)> {
    let server = ServerProcess::start(system)?;
    let cpu_before = procstat::cpu_seconds(server.pid())?;
    let mut args = vec![
        "--system".to_owned(),
        system.name().to_owned(),
        "--addr".to_owned(),
        server.addr.clone(),
    ];
    args.extend_from_slice(load_args);
    let report = load(&args)?;
    let server_cpu = procstat::cpu_seconds(server.pid())? - cpu_before;
    let (_, peak) = procstat::rss_bytes(server.pid())?;
    Ok((report, server_cpu, peak))
}

/// Median of each field over the samples of one (system, concurrency).
fn summarize(scenario: &str, samples: BTreeMap<(usize, u32), Vec<Record>>) -> Vec<Record> {
    let mut records = Vec::new();
    for ((system, concurrency), runs) in samples {
        let mut record = Record::median_of(scenario, System::ALL[system].name(), &runs);
        record.concurrency = Some(concurrency);
        records.push(record);
    }
    records
}

fn system_index(system: System) -> usize {
    System::ALL.iter().position(|s| *s == system).unwrap_or(0)
}

/// Unary `Greeter.Hello` at every concurrency of the plan.
pub fn unary(plan: &Plan) -> anyhow::Result<Vec<Record>> {
    let mut samples: BTreeMap<(usize, u32), Vec<Record>> = BTreeMap::new();
    for rep in 1..=plan.reps {
        for &concurrency in &plan.concurrency {
            for system in System::ALL {
                let args = [
                    "--scenario".to_owned(),
                    "unary".to_owned(),
                    "--concurrency".to_owned(),
                    concurrency.to_string(),
                    "--warmup-ms".to_owned(),
                    plan.warmup.as_millis().to_string(),
                    "--seconds-ms".to_owned(),
                    plan.seconds.as_millis().to_string(),
                ];
                let (report, server_cpu, peak) = measure(system, &args)?;
                let mut record = Record::new("unary", system.name());
                record.rps = Some(report.measured as f64 / report.seconds);
                record.p50_us = Some(report.p50_us);
                record.p99_us = Some(report.p99_us);
                record.cpu_s_per_100k =
                    Some((report.cpu_s + server_cpu) / report.requests.max(1) as f64 * 1e5);
                record.rss_bytes = Some(peak as f64);
                eprintln!(
                    "unary {:>7} c={concurrency:<3} rep {rep}/{}: {:>9.0} req/s  p50 {:>7.1} us  p99 {:>8.1} us",
                    system.name(),
                    plan.reps,
                    record.rps.unwrap_or_default(),
                    report.p50_us,
                    report.p99_us,
                );
                samples
                    .entry((system_index(system), concurrency))
                    .or_default()
                    .push(record);
            }
        }
    }
    Ok(summarize("unary", samples))
}

/// A server stream (`bidi == false`) or a bidi echo of the plan's message count.
pub fn stream(plan: &Plan, bidi: bool) -> anyhow::Result<Vec<Record>> {
    let scenario = if bidi { "bidi" } else { "server_stream" };
    let mut samples: BTreeMap<(usize, u32), Vec<Record>> = BTreeMap::new();
    for rep in 1..=plan.reps {
        for system in System::ALL {
            let args = [
                "--scenario".to_owned(),
                scenario.to_owned(),
                "--messages".to_owned(),
                plan.stream_messages.to_string(),
            ];
            let (report, _, peak) = measure(system, &args)?;
            let mut record = Record::new(scenario, system.name());
            record.msgs_per_s = Some(report.messages as f64 / report.seconds);
            record.rss_bytes = Some(peak as f64);
            eprintln!(
                "{scenario} {:>7} rep {rep}/{}: {:>10.0} msgs/s",
                system.name(),
                plan.reps,
                record.msgs_per_s.unwrap_or_default()
            );
            samples
                .entry((system_index(system), 1))
                .or_default()
                .push(record);
        }
    }
    Ok(summarize(scenario, samples))
}

fn expect_line(reader: &mut BufReader<ChildStdout>, want: &str) -> anyhow::Result<()> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    anyhow::ensure!(
        line.trim() == want,
        "expected {want}, the load process said {line:?}"
    );
    Ok(())
}

/// Server memory per idle connection: RSS with the plan's connections open, less RSS with one.
pub fn idle(plan: &Plan) -> anyhow::Result<Vec<Record>> {
    let count = plan.idle_connections;
    let mut samples: BTreeMap<(usize, u32), Vec<Record>> = BTreeMap::new();
    for rep in 1..=plan.reps {
        for system in System::ALL {
            let server = ServerProcess::start(system)?;
            let mut client = Command::new(std::env::current_exe()?)
                .args(["load", "--system", system.name(), "--addr", &server.addr])
                .args(["--scenario", "idle", "--concurrency", &count.to_string()])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()?;
            let mut stdout = BufReader::new(client.stdout.take().context("no stdout")?);
            let mut stdin = client.stdin.take().context("no stdin")?;
            expect_line(&mut stdout, "ONE")?;
            let (one, _) = procstat::rss_bytes(server.pid())?;
            writeln!(stdin, "GO")?;
            expect_line(&mut stdout, "HELD")?;
            let (held, _) = procstat::rss_bytes(server.pid())?;
            drop(stdin);
            client.wait()?;
            let per_connection = held.saturating_sub(one) as f64 / f64::from(count);
            eprintln!(
                "idle_conns {:>7} rep {rep}/{}: {per_connection:>8.0} bytes per connection",
                system.name(),
                plan.reps
            );
            let mut record = Record::new("idle_conns", system.name());
            record.rss_bytes = Some(per_connection);
            samples
                .entry((system_index(system), count))
                .or_default()
                .push(record);
        }
    }
    Ok(summarize("idle_conns", samples))
}
