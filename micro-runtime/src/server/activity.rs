//! [`Activity`]: whether a stream is still moving, for its idle timeout.
//!
//! A stream is idle when no frame has been read from the caller and no write to it has completed
//! for [`Limits::stream_idle_timeout`](crate::transport::Limits::stream_idle_timeout): a caller
//! that went quiet without closing (a half-open stream), or one that stopped reading while the
//! handler writes (its writes never complete). Either would otherwise hold the connection, its
//! buffers and its handler forever.
//!
//! Reading the clock for every frame costs as much as a small message's parsing, so frames only
//! bump a counter, and the watchdog ticks four times per timeout: a stream is idle after four
//! ticks in a row without progress, that is between one and one and a quarter timeouts after it
//! last moved.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Ticks of the watchdog per timeout.
const TICKS: u32 = 4;

/// A stream's progress. Cheap to clone: clones share the count.
#[derive(Clone, Debug, Default)]
pub(crate) struct Activity {
    progress: Arc<AtomicU64>,
}

impl Activity {
    /// No progress yet.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Records that the stream moved.
    pub(crate) fn touch(&self) {
        self.progress.fetch_add(1, Ordering::Relaxed);
    }

    /// Completes once the stream has not moved for `timeout` (at most a quarter more).
    pub(crate) async fn idle_for(&self, timeout: Duration) {
        let tick = timeout / TICKS;
        let mut seen = self.progress.load(Ordering::Relaxed);
        let mut quiet = 0;
        loop {
            tokio::time::sleep(tick).await;
            let now = self.progress.load(Ordering::Relaxed);
            if now == seen {
                quiet += 1;
                if quiet >= TICKS {
                    return;
                }
            } else {
                (seen, quiet) = (now, 0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn fires_after_a_whole_timeout_without_moving_and_not_before() {
        let activity = Activity::new();
        let idle = tokio::spawn({
            let activity = activity.clone();
            async move { activity.idle_for(Duration::from_secs(10)).await }
        });
        tokio::time::sleep(Duration::from_secs(6)).await;
        activity.touch();
        // 10 s after the last move, less a moment: not idle.
        tokio::time::sleep(Duration::from_millis(9_900)).await;
        assert!(!idle.is_finished(), "moved under 10 s ago: not idle yet");
        // A quarter of a timeout later at the most, it is.
        tokio::time::sleep(Duration::from_millis(2_600)).await;
        assert!(idle.is_finished(), "10 s without moving");
    }
}
