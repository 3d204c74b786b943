//! The parent side of the gateway scenario: for each repetition and number of calls in flight,
//! a direct measurement (service and load processes) then a gateway one (service, gateway and
//! load processes), the median of the repetitions kept.

use std::collections::BTreeMap;

use crate::orchestrate::{Plan, ServerProcess, load};
use crate::procstat;
use crate::record::Record;

/// The scenario's name in the records.
pub const SCENARIO: &str = "gateway";
/// The two ways of calling, as record systems.
pub const DIRECT: &str = "direct_json";
/// See [`DIRECT`].
pub const THROUGH: &str = "gateway_json";

/// Calls in flight measured: the unary scenario's, without 256 (the gateway then holds 512
/// connections on two cores, which measures the kernel).
fn concurrency(plan: &Plan) -> Vec<u32> {
    plan.concurrency
        .iter()
        .copied()
        .filter(|c| *c <= 64)
        .collect()
}

pub fn run(plan: &Plan) -> anyhow::Result<Vec<Record>> {
    let mut samples: BTreeMap<(u32, &'static str), Vec<Record>> = BTreeMap::new();
    for rep in 1..=plan.reps {
        for concurrency in concurrency(plan) {
            for system in [DIRECT, THROUGH] {
                let service = ServerProcess::start_with(&["--system", "micro"])?;
                let gateway = match system {
                    THROUGH => Some(ServerProcess::start_with(&[
                        "--system",
                        "gateway",
                        "--upstream",
                        &service.addr,
                    ])?),
                    _ => None,
                };
                let pids: Vec<u32> = std::iter::once(service.pid())
                    .chain(gateway.as_ref().map(ServerProcess::pid))
                    .collect();
                let cpu_before: f64 = pids
                    .iter()
                    .map(|p| procstat::cpu_seconds(*p))
                    .sum::<anyhow::Result<f64>>()?;
                let addr = gateway.as_ref().map_or(&service.addr, |g| &g.addr);
                let args: Vec<String> = [
                    "--system",
                    "micro",
                    "--addr",
                    addr,
                    "--scenario",
                    system,
                    "--concurrency",
                    &concurrency.to_string(),
                    "--warmup-ms",
                    &plan.warmup.as_millis().to_string(),
                    "--seconds-ms",
                    &plan.seconds.as_millis().to_string(),
                ]
                .iter()
                .map(|a| a.to_string())
                .collect();
                let report = load(&args)?;
                let cpu_after: f64 = pids
                    .iter()
                    .map(|p| procstat::cpu_seconds(*p))
                    .sum::<anyhow::Result<f64>>()?;
                let (_, peak) = procstat::rss_bytes(*pids.last().expect("a server"))?;
                let mut record = Record::new(SCENARIO, system);
                record.concurrency = Some(concurrency);
                record.rps = Some(report.measured as f64 / report.seconds);
                record.p50_us = Some(report.p50_us);
                record.p99_us = Some(report.p99_us);
                record.cpu_s_per_100k = Some(
                    (report.cpu_s + cpu_after - cpu_before) / report.requests.max(1) as f64 * 1e5,
                );
                record.rss_bytes = Some(peak as f64);
                eprintln!(
                    "gateway {system:>12} c={concurrency:<3} rep {rep}/{}: {:>9.0} req/s  p50 {:>7.1} us  p99 {:>8.1} us",
                    plan.reps,
                    record.rps.unwrap_or_default(),
                    report.p50_us,
                    report.p99_us,
                );
                samples
                    .entry((concurrency, system))
                    .or_default()
                    .push(record);
            }
        }
    }
    Ok(samples
        .into_iter()
        .map(|((concurrency, system), runs)| {
            let mut record = Record::median_of(SCENARIO, system, &runs);
            record.concurrency = Some(concurrency);
            record
        })
        .collect())
}
