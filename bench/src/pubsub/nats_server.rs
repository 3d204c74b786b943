//! The nats-server the parent starts for each NATS measurement: a fresh one on a free loopback
//! port, killed when dropped.

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;

/// nats-server is ready in tens of milliseconds; a loaded machine may need much longer.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// The port is found free and released before the server binds it, so another process may take
/// it first; the server then exits at once, and starts again on another port.
const START_ATTEMPTS: usize = 5;

/// The `nats-server` binary on `PATH`, or in the sbin directories Debian installs it in and a
/// user's `PATH` may lack.
pub fn binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into()])
        .map(|dir| dir.join("nats-server"))
        .find(|candidate| candidate.is_file())
}

/// One running nats-server.
pub struct NatsServer {
    child: Child,
    port: u16,
}

impl NatsServer {
    /// Starts `binary` on a free loopback port and waits until it greets clients.
    pub fn start(binary: &Path) -> anyhow::Result<Self> {
        for _ in 0..START_ATTEMPTS {
            let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
            let child = Command::new(binary)
                .args(["-a", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .with_context(|| format!("starting {}", binary.display()))?;
            let mut server = Self { child, port };
            if server.wait_ready()? {
                return Ok(server);
            }
        }
        anyhow::bail!("nats-server kept exiting as it started ({START_ATTEMPTS} ports tried)")
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `true` once the server greets a client; `false` if it exited first.
    fn wait_ready(&mut self) -> anyhow::Result<bool> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if self.child.try_wait()?.is_some() {
                return Ok(false);
            }
            if greets(self.port) {
                return Ok(true);
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "nats-server not ready within {READY_TIMEOUT:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether the server on `port` accepts a connection and sends its `INFO {...}` line.
fn greets(port: u16) -> bool {
    let timeout = Duration::from_secs(1);
    let Ok(stream) = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), timeout) else {
        return false;
    };
    if stream.set_read_timeout(Some(timeout)).is_err() {
        return false;
    }
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).is_ok() && line.starts_with("INFO ")
}
