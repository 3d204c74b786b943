//! Capturing the process's log, so tests can check that something was reported.
//!
//! The first call installs a global `tracing` subscriber that writes every event at INFO and above
//! into a buffer (tests in one binary share it; look for something unique to your test, such as
//! its topic name).

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// The captured log.
#[derive(Clone, Default)]
pub struct Logs {
    text: Arc<Mutex<Vec<u8>>>,
}

struct Writer(Arc<Mutex<Vec<u8>>>);

impl Write for Writer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The process's captured log, capturing from the first call on.
pub fn capture() -> Logs {
    static LOGS: OnceLock<Logs> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Logs::default();
        let text = Arc::clone(&logs.text);
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(move || Writer(Arc::clone(&text)))
            .try_init()
            .expect("no other tracing subscriber is installed");
        logs
    })
    .clone()
}

impl Logs {
    /// The log lines containing every one of `needles`.
    pub fn lines_with(&self, needles: &[&str]) -> Vec<String> {
        let text = self.text.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&text)
            .lines()
            .filter(|line| needles.iter().all(|n| line.contains(n)))
            .map(str::to_string)
            .collect()
    }

    /// Waits up to `timeout` for a line containing every one of `needles`, and returns it.
    pub async fn wait_for(&self, needles: &[&str], timeout: Duration) -> String {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(line) = self.lines_with(needles).into_iter().next() {
                return line;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no log line with {needles:?} within {timeout:?}"
            );
            // Log lines have no event to await; polling a buffer is the only way to see them.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}
