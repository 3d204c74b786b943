//! One measured figure, as written to `bench/results/latest.json`.

use serde::Serialize;

/// A benchmark result: one scenario, one system, one concurrency, the median of its repetitions.
/// Fields that do not apply to the scenario are left out of the JSON.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Record {
    /// `unary`, `gateway`, `server_stream`, `bidi`, `idle_conns`, `pubsub`, `codegen_plugin` or
    /// `codegen_build`.
    pub scenario: String,
    /// `micro`, `tonic` or `raw_tcp`; for `gateway`, `direct_json` or `gateway_json`; for
    /// `pubsub`, `memory`, `http`, `nats` or `raw_nats`.
    pub system: String,
    /// Calls (or connections) in flight.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u32>,
    /// The publisher's pace, messages per second; absent for `pubsub` flat out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<u32>,
    /// Requests per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rps: Option<f64>,
    /// Median latency, microseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p50_us: Option<f64>,
    /// 99th percentile latency, microseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p99_us: Option<f64>,
    /// CPU seconds (user + system, client and server together) per 100,000 requests; for
    /// `pubsub`, publisher, subscriber and nats-server per 100,000 messages delivered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_s_per_100k: Option<f64>,
    /// Server memory: peak RSS for load scenarios, RSS per idle connection for `idle_conns`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rss_bytes: Option<f64>,
    /// Messages per second received: stream messages, or pub/sub messages published in the
    /// measured window and delivered, per second of the window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msgs_per_s: Option<f64>,
    /// Pub/sub messages published per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published_per_s: Option<f64>,
    /// The fraction of the pub/sub messages published in the window that were delivered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivered: Option<f64>,
    /// Wall time of a codegen run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
}

impl Record {
    /// An empty record for `scenario` and `system`.
    pub fn new(scenario: &str, system: &str) -> Self {
        Self {
            scenario: scenario.to_owned(),
            system: system.to_owned(),
            ..Self::default()
        }
    }
}

impl Record {
    /// A record for `scenario` and `system` holding the median of each measured field over
    /// `runs` (fields no run measured stay empty); concurrency and rate are the caller's.
    pub fn median_of(scenario: &str, system: &str, runs: &[Record]) -> Self {
        let pick = |f: fn(&Record) -> Option<f64>| {
            let mut values: Vec<f64> = runs.iter().filter_map(f).collect();
            median(&mut values)
        };
        Self {
            rps: pick(|r| r.rps),
            p50_us: pick(|r| r.p50_us),
            p99_us: pick(|r| r.p99_us),
            cpu_s_per_100k: pick(|r| r.cpu_s_per_100k),
            rss_bytes: pick(|r| r.rss_bytes),
            msgs_per_s: pick(|r| r.msgs_per_s),
            published_per_s: pick(|r| r.published_per_s),
            delivered: pick(|r| r.delivered),
            seconds: pick(|r| r.seconds),
            ..Self::new(scenario, system)
        }
    }
}

/// The median of `values` (the mean of the middle two for an even count); `None` when empty.
pub fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), Some(2.5));
    }

    #[test]
    fn fields_that_do_not_apply_are_left_out() {
        let mut record = Record::new("bidi", "micro");
        record.msgs_per_s = Some(10.0);
        let json = serde_json::to_string(&record).unwrap();
        assert_eq!(
            json,
            r#"{"scenario":"bidi","system":"micro","msgs_per_s":10.0}"#
        );
    }
}
