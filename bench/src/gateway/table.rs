//! The gateway scenario's Markdown table: direct and through the gateway, side by side.

use std::fmt::Write;

use super::orchestrate::{DIRECT, SCENARIO, THROUGH};
use crate::record::Record;
use crate::report::fmt;

fn find<'a>(records: &'a [Record], system: &str, concurrency: u32) -> Option<&'a Record> {
    records.iter().find(|r| {
        r.scenario == SCENARIO && r.system == system && r.concurrency == Some(concurrency)
    })
}

/// Gateway req/s over direct req/s at `concurrency`.
pub fn throughput_ratio(records: &[Record], concurrency: u32) -> Option<f64> {
    let direct = find(records, DIRECT, concurrency)?.rps?;
    let through = find(records, THROUGH, concurrency)?.rps?;
    (direct > 0.0).then(|| through / direct)
}

/// Microseconds the gateway adds to the median call at `concurrency`.
pub fn added_p50_us(records: &[Record], concurrency: u32) -> Option<f64> {
    Some(find(records, THROUGH, concurrency)?.p50_us? - find(records, DIRECT, concurrency)?.p50_us?)
}

pub fn markdown(records: &[Record]) -> String {
    let mut levels: Vec<u32> = records
        .iter()
        .filter(|r| r.scenario == SCENARIO)
        .filter_map(|r| r.concurrency)
        .collect();
    levels.sort_unstable();
    levels.dedup();
    if levels.is_empty() {
        return String::new();
    }
    let mut md = String::from(
        "### Gateway: a JSON call through `micro api` against the same call made directly\n\n\
         | in flight | direct req/s | gateway req/s | gateway/direct | direct p50 µs | gateway p50 µs | added p50 µs | direct p99 µs | gateway p99 µs | CPU s / 100k direct | CPU s / 100k gateway |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for c in levels {
        let (Some(direct), Some(through)) = (find(records, DIRECT, c), find(records, THROUGH, c))
        else {
            continue;
        };
        let _ = writeln!(
            md,
            "| {c} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            fmt(direct.rps, 0),
            fmt(through.rps, 0),
            fmt(throughput_ratio(records, c), 2),
            fmt(direct.p50_us, 1),
            fmt(through.p50_us, 1),
            fmt(added_p50_us(records, c), 1),
            fmt(direct.p99_us, 1),
            fmt(through.p99_us, 1),
            fmt(direct.cpu_s_per_100k, 2),
            fmt(through.cpu_s_per_100k, 2),
        );
    }
    md.push('\n');
    md
}
