//! What a subscriber counts and times: every message received, those published in the measured
//! window, and their publish-to-receive latency.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::time::Instant;

use super::{SubscriberReport, read_body, unix_nanos};

/// A subscriber's counts, shared with the handler that feeds it.
pub struct Tally {
    counts: Mutex<Counts>,
}

struct Counts {
    received: u64,
    measured: u64,
    /// Nanoseconds from publish to receive, measured messages only.
    latency: Histogram<u64>,
    /// When the first and the last measured message arrived, Unix nanoseconds.
    first_measured: Option<u64>,
    last_measured: u64,
    /// When the last message arrived, Unix nanoseconds: how long deliveries have been quiet.
    last: u64,
}

impl Tally {
    /// Empty counts.
    pub fn new() -> anyhow::Result<Arc<Self>> {
        Ok(Arc::new(Self {
            counts: Mutex::new(Counts {
                received: 0,
                measured: 0,
                latency: Histogram::new_with_bounds(1, 60_000_000_000, 3)?,
                first_measured: None,
                last_measured: 0,
                last: unix_nanos(),
            }),
        }))
    }

    /// Counts one received message body. One handler feeds a tally, so the lock is uncontended.
    pub fn record(&self, body: &[u8]) {
        let now = unix_nanos();
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.received += 1;
        counts.last = now;
        if let Some((sent, true)) = read_body(body) {
            counts.measured += 1;
            counts.first_measured.get_or_insert(now);
            counts.last_measured = now;
            // A clock stepped backwards mid-run would read negative: count it as the minimum.
            counts
                .latency
                .saturating_record(now.saturating_sub(sent).max(1));
        }
    }

    /// Once no message has arrived for `quiet` (or `limit` has passed, for a system still
    /// delivering a backlog), the counts so far; what arrives later counts as lost.
    pub async fn settle(&self, quiet: Duration, limit: Duration) -> SubscriberReport {
        let deadline = Instant::now() + limit;
        loop {
            let idle = Duration::from_nanos(unix_nanos().saturating_sub(self.last()));
            let now = Instant::now();
            if idle >= quiet || now >= deadline {
                break;
            }
            tokio::time::sleep_until((now + (quiet - idle)).min(deadline)).await;
        }
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let percentile = |q| {
            (!counts.latency.is_empty())
                .then(|| counts.latency.value_at_quantile(q) as f64 / 1000.0)
        };
        SubscriberReport {
            received: counts.received,
            measured: counts.measured,
            p50_us: percentile(0.50),
            p99_us: percentile(0.99),
            span: counts.first_measured.map_or(0.0, |first| {
                counts.last_measured.saturating_sub(first) as f64 / 1e9
            }),
            dropped: 0,
        }
    }

    fn last(&self) -> u64 {
        self.counts.lock().unwrap_or_else(|e| e.into_inner()).last
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pubsub::body;

    #[tokio::test]
    async fn counts_measured_messages_and_settles_when_quiet() {
        let tally = Tally::new().unwrap();
        tally.record(&body(false));
        tally.record(&body(true));
        tally.record(&body(true));
        tally.record(b"not a bench body");
        let report = tally
            .settle(Duration::from_millis(10), Duration::from_secs(5))
            .await;
        assert_eq!((report.received, report.measured), (4, 2));
        assert!(report.span >= 0.0 && report.span < 1.0);
        assert!(report.p50_us.is_some_and(|p50| p50 < 1_000_000.0));
    }

    #[tokio::test]
    async fn nothing_received_reports_no_latency() {
        let tally = Tally::new().unwrap();
        let report = tally
            .settle(Duration::from_millis(1), Duration::from_millis(1))
            .await;
        assert_eq!(report.received, 0);
        assert_eq!(report.p99_us, None);
    }
}
