//! The parent's side of the pub/sub scenario: for every measurement a fresh nats-server (for the
//! NATS systems), a subscriber process and a publisher process; the systems interleaved within
//! each repetition; the median of the repetitions.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use anyhow::Context as _;

use super::nats_server::{self, NatsServer};
use super::{PublisherReport, SubscriberReport, System};
use crate::orchestrate::Plan;
use crate::procstat;
use crate::record::Record;

/// Deliveries have stopped once none has arrived for this long.
const QUIET: Duration = Duration::from_millis(200);

/// A child process of this binary that talks in lines; killed when dropped.
struct Process {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Process {
    fn spawn(subcommand: &str, args: &[String]) -> anyhow::Result<Self> {
        let mut child = Command::new(std::env::current_exe()?)
            .arg(subcommand)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting the {subcommand} process"))?;
        let stdin = child.stdin.take().context("no stdin")?;
        let stdout = BufReader::new(child.stdout.take().context("no stdout")?);
        Ok(Self {
            child,
            stdin,
            stdout,
        })
    }

    /// The next line the process prints.
    fn line(&mut self) -> anyhow::Result<String> {
        let mut line = String::new();
        self.stdout.read_line(&mut line)?;
        anyhow::ensure!(!line.is_empty(), "the process exited without answering");
        Ok(line.trim_end().to_owned())
    }

    fn say(&mut self, line: &str) -> anyhow::Result<()> {
        writeln!(self.stdin, "{line}")?;
        Ok(self.stdin.flush()?)
    }

    fn cpu_seconds(&self) -> anyhow::Result<f64> {
        procstat::cpu_seconds(self.child.id())
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every pub/sub system flat out, then at the plan's paced rate, for every repetition. Without a
/// nats-server the NATS systems are left out, with a warning, rather than failing the whole run.
pub fn run(plan: &Plan) -> anyhow::Result<Vec<Record>> {
    let nats = nats_server::binary();
    if nats.is_none() {
        eprintln!(
            "pubsub: nats-server not found (scripts/install-test-deps.sh installs it); \
             nats and raw_nats are left out"
        );
    }
    let systems: Vec<System> = System::ALL
        .into_iter()
        .filter(|system| nats.is_some() || !system.needs_nats())
        .collect();
    let mut samples: BTreeMap<(usize, Option<u32>), Vec<Record>> = BTreeMap::new();
    for rep in 1..=plan.reps {
        for rate in [None, Some(plan.pubsub_rate)] {
            for &system in &systems {
                let (record, dropped) = measure(system, rate, plan, nats.as_deref())?;
                log(&record, dropped, rep, plan.reps);
                let index = System::ALL.iter().position(|s| *s == system);
                samples
                    .entry((index.unwrap_or(0), rate))
                    .or_default()
                    .push(record);
            }
        }
    }
    Ok(summarize(samples))
}

/// One measurement: a nats-server if needed, a subscriber, a publisher. Returns the record and
/// how many messages the subscription's buffer dropped.
fn measure(
    system: System,
    rate: Option<u32>,
    plan: &Plan,
    nats: Option<&Path>,
) -> anyhow::Result<(Record, u64)> {
    let server = match nats.filter(|_| system.needs_nats()) {
        Some(binary) => Some(NatsServer::start(binary)?),
        None => None,
    };
    let mut common = vec!["--system".to_owned(), system.name().to_owned()];
    if let Some(server) = &server {
        common.extend(["--nats".to_owned(), server.url()]);
    }
    common.extend([
        "--quiet-ms".to_owned(),
        QUIET.as_millis().to_string(),
        "--drain-ms".to_owned(),
        plan.pubsub_drain.as_millis().to_string(),
    ]);

    let mut subscriber = match system {
        System::Memory => None,
        _ => Some(Process::spawn("subscribe", &common)?),
    };
    let mut args = common;
    if let Some(subscriber) = &mut subscriber {
        let line = subscriber.line()?;
        let node = line
            .strip_prefix("READY ")
            .with_context(|| format!("the subscriber said {line:?}"))?;
        if system == System::Http {
            args.extend(["--node".to_owned(), node.to_owned()]);
        }
    }
    args.extend([
        "--warmup-ms".to_owned(),
        plan.warmup.as_millis().to_string(),
        "--seconds-ms".to_owned(),
        plan.seconds.as_millis().to_string(),
        "--rate".to_owned(),
        rate.unwrap_or(0).to_string(),
    ]);
    let mut publisher = Process::spawn("publish", &args)?;
    let mut published: PublisherReport = serde_json::from_str(&publisher.line()?)?;
    let received: SubscriberReport = match &mut subscriber {
        Some(subscriber) => {
            subscriber.say("REPORT")?;
            serde_json::from_str(&subscriber.line()?)?
        }
        None => published
            .subscriber
            .take()
            .context("the memory publisher reported no subscriber")?,
    };
    let mut cpu = publisher.cpu_seconds()?;
    if let Some(subscriber) = &subscriber {
        cpu += subscriber.cpu_seconds()?;
    }
    if let Some(server) = &server {
        cpu += procstat::cpu_seconds(server.pid())?;
    }

    let mut record = Record::new("pubsub", system.name());
    record.rate = rate;
    record.published_per_s = Some(published.measured as f64 / published.seconds);
    // Over the span in which they arrived: a subscriber falling behind takes longer than the
    // publisher to get through the window's messages, and delivers them that much slower.
    record.msgs_per_s = Some(received.measured as f64 / received.span.max(published.seconds));
    record.delivered =
        (published.measured > 0).then(|| received.measured as f64 / published.measured as f64);
    record.p50_us = received.p50_us;
    record.p99_us = received.p99_us;
    if rate.is_none() && received.received > 0 {
        record.cpu_s_per_100k = Some(cpu / received.received as f64 * 1e5);
    }
    Ok((record, received.dropped))
}

fn log(record: &Record, dropped: u64, rep: usize, reps: usize) {
    let us = |value: Option<f64>| value.map_or_else(|| "–".to_owned(), |us| format!("{us:.1}"));
    eprintln!(
        "pubsub {:>8} {:>10} rep {rep}/{reps}: published {:>9.0}/s  delivered {:>9.0}/s ({:>5.1} %, {dropped} dropped by the subscription)  p50 {:>8} us  p99 {:>8} us",
        record.system,
        record
            .rate
            .map_or_else(|| "flat out".to_owned(), |rate| format!("at {rate}/s")),
        record.published_per_s.unwrap_or_default(),
        record.msgs_per_s.unwrap_or_default(),
        record.delivered.unwrap_or_default() * 100.0,
        us(record.p50_us),
        us(record.p99_us),
    );
}

/// The median of each field over the repetitions of one (system, rate).
fn summarize(samples: BTreeMap<(usize, Option<u32>), Vec<Record>>) -> Vec<Record> {
    let mut records = Vec::new();
    for ((system, rate), runs) in samples {
        let mut record = Record::median_of("pubsub", System::ALL[system].name(), &runs);
        record.rate = rate;
        records.push(record);
    }
    records
}
