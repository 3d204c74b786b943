//! The pub/sub table of the Markdown report: each system flat out, then at the paced rate.

use std::fmt::Write as _;

use super::System;
use crate::orchestrate::Plan;
use crate::record::Record;
use crate::report::fmt;

/// The pub/sub section, or nothing when the scenario did not run.
pub fn markdown(records: &[Record], plan: &Plan) -> String {
    let find = |system: System, paced: bool| {
        records.iter().find(|r| {
            r.scenario == "pubsub" && r.system == system.name() && r.rate.is_some() == paced
        })
    };
    let rate = plan.pubsub_rate;
    let mut md = String::new();
    md += "### Pub/sub: one publisher, one subscriber, 64-byte messages\n\n";
    let _ = writeln!(
        md,
        "| system | published msgs/s | delivered msgs/s | delivered | CPU s / 100k delivered | p50 µs at {rate}/s | p99 µs at {rate}/s | delivered at {rate}/s |"
    );
    md += "|---|---:|---:|---:|---:|---:|---:|---:|\n";
    let percent = |r: Option<&Record>| {
        r.and_then(|r| r.delivered)
            .map_or_else(|| "–".to_owned(), |d| format!("{:.1} %", d * 100.0))
    };
    let mut rows = 0;
    for system in System::ALL {
        let (flat_out, paced) = (find(system, false), find(system, true));
        if flat_out.is_none() && paced.is_none() {
            continue;
        }
        rows += 1;
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            system.name(),
            fmt(flat_out.and_then(|r| r.published_per_s), 0),
            fmt(flat_out.and_then(|r| r.msgs_per_s), 0),
            percent(flat_out),
            fmt(flat_out.and_then(|r| r.cpu_s_per_100k), 2),
            fmt(paced.and_then(|r| r.p50_us), 1),
            fmt(paced.and_then(|r| r.p99_us), 1),
            percent(paced),
        );
    }
    if rows == 0 {
        return String::new();
    }
    md + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_row_per_system_that_ran() {
        let mut flat_out = Record::new("pubsub", "nats");
        flat_out.published_per_s = Some(1000.0);
        flat_out.msgs_per_s = Some(990.0);
        flat_out.delivered = Some(0.99);
        let mut paced = Record::new("pubsub", "nats");
        paced.rate = Some(1000);
        paced.p50_us = Some(50.0);
        paced.delivered = Some(1.0);
        let md = markdown(&[flat_out, paced], &Plan::new(true));
        assert!(md.contains("| nats | 1000 | 990 | 99.0 % | – | 50.0 | – | 100.0 % |"));
        assert!(!md.contains("| http |"));
        assert_eq!(markdown(&[], &Plan::new(true)), "");
    }
}
