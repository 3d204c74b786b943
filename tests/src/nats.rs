//! A real `nats-server` for tests: [`NatsServer`], on a free loopback port, SIGKILLed when
//! dropped; [`kill`](NatsServer::kill) and [`restart`](NatsServer::restart) stage outages.
//!
//! The `nats-server` binary must be installed (`scripts/install-test-deps.sh`); without it this
//! panics rather than let the tests pass without NATS.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::Instant;

// nats-server is ready in tens of milliseconds; a loaded machine may need much longer.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
// The port is chosen free and then released, so another process may take it first; the server
// then exits at once, and the start is retried on a new port.
const START_ATTEMPTS: usize = 5;

/// One nats-server on `127.0.0.1`.
#[derive(Debug)]
pub struct NatsServer {
    port: u16,
    // `None` while killed.
    process: Option<Child>,
    // The server's log, appended to across restarts; shown when it fails to start.
    log: PathBuf,
    _dir: TempDir,
}

impl NatsServer {
    /// Starts a server on a free loopback port and waits until it greets clients.
    pub async fn start() -> Self {
        let binary = nats_server_binary();
        for attempt in 1..=START_ATTEMPTS {
            let dir = tempfile::tempdir().expect("temp dir for nats-server");
            let mut server = Self {
                port: crate::ports::free_port(),
                process: None,
                log: dir.path().join("nats-server.log"),
                _dir: dir,
            };
            server.launch(&binary);
            match server.wait_ready().await {
                Ok(()) => return server,
                Err(Exited) if attempt < START_ATTEMPTS => {
                    eprintln!("nats-server exited while starting (port clash?); retrying");
                }
                Err(Exited) => panic!(
                    "nats-server kept exiting while starting:\n{}",
                    server.log_tail()
                ),
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The port it listens on, kept across restarts.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// SIGKILLs the server: no lame-duck mode, no flushing, as a crash.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.process.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the killed server again on the same port and waits until it greets clients.
    pub async fn restart(&mut self) {
        assert!(self.process.is_none(), "nats-server is running");
        self.launch(&nats_server_binary());
        if self.wait_ready().await.is_err() {
            panic!(
                "nats-server exited on restart (port {} taken?):\n{}",
                self.port,
                self.log_tail()
            );
        }
    }

    fn launch(&mut self, binary: &Path) {
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("nats-server log file");
        let child = Command::new(binary)
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("nats-server log file"))
            .stderr(log)
            .spawn()
            .expect("spawn nats-server");
        self.process = Some(child);
    }

    /// Waits until a client connecting gets the server's `INFO` line.
    async fn wait_ready(&mut self) -> Result<(), Exited> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let child = self.process.as_mut().expect("launched");
            if child.try_wait().ok().flatten().is_some() {
                self.process = None;
                return Err(Exited);
            }
            if greets(self.port).await {
                return Ok(());
            }
            if Instant::now() > deadline {
                panic!(
                    "nats-server not ready within {READY_TIMEOUT:?}:\n{}",
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

struct Exited;

/// The `nats-server` binary on `PATH` (Debian installs it in `/usr/sbin`, which a user's `PATH`
/// may lack), or a panic saying how to install it.
fn nats_server_binary() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into()])
        .map(|dir| dir.join("nats-server"))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("nats-server not found: run scripts/install-test-deps.sh"))
}

/// Whether the server on `port` accepts a connection and sends its `INFO {...}` line.
async fn greets(port: u16) -> bool {
    let check = async {
        let stream = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).await.ok()?;
        Some(line.starts_with("INFO "))
    };
    tokio::time::timeout(Duration::from_secs(1), check)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}
