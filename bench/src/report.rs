//! Writes a run's results: the JSON records, Markdown tables with the ratios and the issue's
//! targets (the pub/sub table comes from `pubsub::table`), and an SVG chart of unary throughput
//! and p99 against calls in flight.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context as _;

use crate::orchestrate::Plan;
use crate::record::Record;

/// Reads one figure out of a record.
pub type Field = fn(&Record) -> Option<f64>;

/// Writes `out` (JSON), and beside it `<stem>.md` and, when the unary scenario ran,
/// `<stem>-unary.svg`.
pub fn write(out: &Path, records: &[Record], plan: &Plan) -> anyhow::Result<()> {
    if let Some(dir) = out.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(out, serde_json::to_string_pretty(records)? + "\n")?;
    let stem = out.file_stem().context("--out needs a file name")?;
    let stem = stem.to_string_lossy();
    let table = out.with_file_name(format!("{stem}.md"));
    let chart = out.with_file_name(format!("{stem}-unary.svg"));
    std::fs::write(&table, markdown(records, plan))?;
    if records.iter().any(|r| r.scenario == "unary") {
        crate::chart::draw(&chart, records)?;
        eprintln!(
            "wrote {}, {} and {}",
            out.display(),
            table.display(),
            chart.display()
        );
    } else {
        eprintln!("wrote {} and {}", out.display(), table.display());
    }
    Ok(())
}

fn find<'a>(
    records: &'a [Record],
    scenario: &str,
    system: &str,
    c: Option<u32>,
) -> Option<&'a Record> {
    records.iter().find(|r| {
        r.scenario == scenario && r.system == system && (c.is_none() || r.concurrency == c)
    })
}

fn value(
    records: &[Record],
    scenario: &str,
    system: &str,
    c: Option<u32>,
    field: fn(&Record) -> Option<f64>,
) -> Option<f64> {
    find(records, scenario, system, c).and_then(field)
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

/// `value` with `digits` decimals, or `–` when it is missing.
pub fn fmt(value: Option<f64>, digits: usize) -> String {
    value.map_or_else(|| "–".to_owned(), |v| format!("{v:.digits$}"))
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{model}, {cores} cores, Linux {}", kernel.trim())
}

fn markdown(records: &[Record], plan: &Plan) -> String {
    let mut md = String::new();
    let systems = ["micro", "tonic", "raw_tcp"];
    let _ = writeln!(
        md,
        "Machine: {}. Clients, servers and every system share it; every figure is the median of {} repetition(s).\n",
        machine(),
        plan.reps
    );

    if records.iter().any(|r| r.scenario == "unary") {
        md += "### Unary `Greeter.Hello`\n\n";
        md += "| in flight | system | req/s | p50 µs | p99 µs | CPU s / 100k calls | server peak RSS MiB |\n|---:|---|---:|---:|---:|---:|---:|\n";
        for &c in &plan.concurrency {
            for system in systems {
                if let Some(r) = find(records, "unary", system, Some(c)) {
                    let _ = writeln!(
                        md,
                        "| {c} | {system} | {} | {} | {} | {} | {} |",
                        fmt(r.rps, 0),
                        fmt(r.p50_us, 1),
                        fmt(r.p99_us, 1),
                        fmt(r.cpu_s_per_100k, 2),
                        fmt(r.rss_bytes.map(|b| b / 1048576.0), 1)
                    );
                }
            }
        }
        md += "\n| in flight | req/s micro/tonic | req/s micro/raw | p50 micro/tonic | p50 micro/raw | p99 micro/tonic | p99 micro/raw |\n|---:|---:|---:|---:|---:|---:|---:|\n";
        for &c in &plan.concurrency {
            let get = |system, field| value(records, "unary", system, Some(c), field);
            let rps = |r: &Record| r.rps;
            let p50 = |r: &Record| r.p50_us;
            let p99 = |r: &Record| r.p99_us;
            let _ = writeln!(
                md,
                "| {c} | {} | {} | {} | {} | {} | {} |",
                fmt(ratio(get("micro", rps), get("tonic", rps)), 2),
                fmt(ratio(get("micro", rps), get("raw_tcp", rps)), 2),
                fmt(ratio(get("micro", p50), get("tonic", p50)), 2),
                fmt(ratio(get("micro", p50), get("raw_tcp", p50)), 2),
                fmt(ratio(get("micro", p99), get("tonic", p99)), 2),
                fmt(ratio(get("micro", p99), get("raw_tcp", p99)), 2),
            );
        }
        md += "\n";
    }

    let other = [
        (
            "server_stream",
            "Server stream, messages/s",
            (|r: &Record| r.msgs_per_s) as Field,
            0,
        ),
        (
            "bidi",
            "Bidi echo, messages/s",
            |r: &Record| r.msgs_per_s,
            0,
        ),
        (
            "idle_conns",
            "Server RSS per idle connection, bytes",
            |r: &Record| r.rss_bytes,
            0,
        ),
        (
            "codegen_plugin",
            "protoc-gen-micro on 100 services × 10 methods, seconds",
            |r: &Record| r.seconds,
            3,
        ),
        (
            "codegen_build",
            "Clean build of the generated crate, seconds",
            |r: &Record| r.seconds,
            1,
        ),
    ];
    let present: Vec<_> = other
        .iter()
        .filter(|(s, ..)| records.iter().any(|r| r.scenario == *s))
        .collect();
    if !present.is_empty() {
        md += "### Streams, memory and codegen\n\n| scenario | micro | tonic | raw TCP | micro/tonic | micro/raw |\n|---|---:|---:|---:|---:|---:|\n";
        for (scenario, title, field, digits) in present {
            let get = |system| value(records, scenario, system, None, *field);
            let _ = writeln!(
                md,
                "| {title} | {} | {} | {} | {} | {} |",
                fmt(get("micro"), *digits),
                fmt(get("tonic"), *digits),
                fmt(get("raw_tcp"), *digits),
                fmt(ratio(get("micro"), get("tonic")), 2),
                fmt(ratio(get("micro"), get("raw_tcp")), 2),
            );
        }
        md += "\n";
    }

    md += &crate::gateway::table::markdown(records);
    md += &crate::pubsub::table::markdown(records, plan);

    md += "### Targets\n\n| target | measured | met |\n|---|---:|:---:|\n";
    for (name, measured, goal, at_least) in targets(records) {
        let met = match measured {
            Some(m) if at_least => {
                if m >= goal {
                    "yes"
                } else {
                    "**no**"
                }
            }
            Some(m) => {
                if m <= goal {
                    "yes"
                } else {
                    "**no**"
                }
            }
            None => "not run",
        };
        let _ = writeln!(md, "| {name} | {} | {met} |", fmt(measured, 2));
    }
    md
}

/// The targets: (description, measured ratio, goal, whether the ratio must be at least the goal).
fn targets(records: &[Record]) -> Vec<(&'static str, Option<f64>, f64, bool)> {
    let get = |scenario, system, c, field| value(records, scenario, system, c, field);
    let rps = |r: &Record| r.rps;
    let p50 = |r: &Record| r.p50_us;
    let p99 = |r: &Record| r.p99_us;
    let msgs = |r: &Record| r.msgs_per_s;
    let rss = |r: &Record| r.rss_bytes;
    let secs = |r: &Record| r.seconds;
    vec![
        (
            "unary req/s at 64 in flight, micro/tonic ≥ 1.5",
            ratio(
                get("unary", "micro", Some(64), rps),
                get("unary", "tonic", Some(64), rps),
            ),
            1.5,
            true,
        ),
        (
            "unary req/s at 64 in flight, micro/raw ≥ 0.6",
            ratio(
                get("unary", "micro", Some(64), rps),
                get("unary", "raw_tcp", Some(64), rps),
            ),
            0.6,
            true,
        ),
        (
            "unary p50 at 1 in flight, micro/tonic ≤ 0.7",
            ratio(
                get("unary", "micro", Some(1), p50),
                get("unary", "tonic", Some(1), p50),
            ),
            0.7,
            false,
        ),
        (
            "unary p50 at 1 in flight, micro/raw ≤ 1.3",
            ratio(
                get("unary", "micro", Some(1), p50),
                get("unary", "raw_tcp", Some(1), p50),
            ),
            1.3,
            false,
        ),
        (
            "unary p99 at 256 in flight, micro/tonic ≤ 1",
            ratio(
                get("unary", "micro", Some(256), p99),
                get("unary", "tonic", Some(256), p99),
            ),
            1.0,
            false,
        ),
        (
            "gateway req/s at 64 in flight, gateway/direct ≥ 0.7",
            crate::gateway::table::throughput_ratio(records, 64),
            0.7,
            true,
        ),
        (
            "gateway p50 at 1 in flight, µs added ≤ 100",
            crate::gateway::table::added_p50_us(records, 1),
            100.0,
            false,
        ),
        (
            "server stream msgs/s, micro/tonic ≥ 1.5",
            ratio(
                get("server_stream", "micro", None, msgs),
                get("server_stream", "tonic", None, msgs),
            ),
            1.5,
            true,
        ),
        (
            "idle RSS per connection, micro/tonic ≤ 1",
            ratio(
                get("idle_conns", "micro", None, rss),
                get("idle_conns", "tonic", None, rss),
            ),
            1.0,
            false,
        ),
        (
            "generated crate build, micro/tonic ≤ 0.8",
            ratio(
                get("codegen_build", "micro", None, secs),
                get("codegen_build", "tonic", None, secs),
            ),
            0.8,
            false,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unary(system: &str, concurrency: u32, rps: f64, p50: f64) -> Record {
        let mut record = Record::new("unary", system);
        record.concurrency = Some(concurrency);
        record.rps = Some(rps);
        record.p50_us = Some(p50);
        record
    }

    #[test]
    fn targets_are_judged_in_the_right_direction() {
        let records = [
            unary("micro", 64, 150.0, 10.0),
            unary("tonic", 64, 100.0, 10.0),
            unary("raw_tcp", 64, 300.0, 10.0),
            unary("micro", 1, 1.0, 14.0),
            unary("tonic", 1, 1.0, 20.0),
            unary("raw_tcp", 1, 1.0, 10.0),
        ];
        let md = markdown(&records, &Plan::new(true));
        // 150/100 meets "at least 1.5"; 150/300 misses "at least 0.6".
        assert!(md.contains("| unary req/s at 64 in flight, micro/tonic ≥ 1.5 | 1.50 | yes |"));
        assert!(md.contains("| unary req/s at 64 in flight, micro/raw ≥ 0.6 | 0.50 | **no** |"));
        // 14/20 meets "at most 0.7"; 14/10 misses "at most 1.3".
        assert!(md.contains("| unary p50 at 1 in flight, micro/tonic ≤ 0.7 | 0.70 | yes |"));
        assert!(md.contains("| unary p50 at 1 in flight, micro/raw ≤ 1.3 | 1.40 | **no** |"));
        assert!(md.contains("| server stream msgs/s, micro/tonic ≥ 1.5 | – | not run |"));
    }
}
