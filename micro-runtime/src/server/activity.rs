//! [`Activity`]: when a stream last moved, for its idle timeout.
//!
//! A stream is idle when no frame has been read from the caller and no write to it has completed
//! for [`Limits::stream_idle_timeout`](crate::transport::Limits::stream_idle_timeout): a caller
//! that went quiet without closing (a half-open stream), or one that stopped reading while the
//! handler writes (its writes never complete). Either would otherwise hold the connection, its
//! buffers and its handler forever.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// When a stream last read or wrote a frame. Cheap to clone: clones share the clock.
#[derive(Clone, Debug)]
pub(crate) struct Activity {
    start: Instant,
    // Milliseconds from `start` to the last read or write: one atomic store per frame.
    last: Arc<AtomicU64>,
}

impl Activity {
    /// Counting from now.
    pub(crate) fn new() -> Self {
        Self {
            start: Instant::now(),
            last: Arc::default(),
        }
    }

    /// Records that the stream moved now.
    pub(crate) fn touch(&self) {
        let since = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(since, Ordering::Relaxed);
    }

    /// Completes once the stream has not moved for `timeout`.
    pub(crate) async fn idle_for(&self, timeout: Duration) {
        loop {
            let last = self.start + Duration::from_millis(self.last.load(Ordering::Relaxed));
            let at = last + timeout;
            if Instant::now() >= at {
                return;
            }
            tokio::time::sleep_until(at).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn fires_only_after_a_whole_timeout_without_moving() {
        let activity = Activity::new();
        let idle = tokio::spawn({
            let activity = activity.clone();
            async move { activity.idle_for(Duration::from_secs(10)).await }
        });
        tokio::time::sleep(Duration::from_secs(6)).await;
        activity.touch();
        tokio::time::sleep(Duration::from_secs(6)).await;
        assert!(!idle.is_finished(), "moved 6 s ago: not idle yet");
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(idle.is_finished(), "10 s without moving");
    }
}
