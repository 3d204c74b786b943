//! Real etcd servers for tests: [`EtcdServer`] (one member) and [`EtcdCluster`] (several), on free
//! loopback ports with throwaway data directories, SIGKILLed and removed when dropped.
//!
//! The `etcd` binary must be installed (`scripts/install-test-deps.sh`); without it these panic
//! rather than let the tests pass without etcd.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use micro_runtime::registry::EtcdOptions;
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

// etcd answers /health about a second after it starts; a loaded machine may need much longer.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
// Ports are chosen free and then released, so another process may take one first; etcd then
// exits at once, and the start is retried on new ports.
const START_ATTEMPTS: usize = 5;

/// A single-member etcd on loopback.
#[derive(Debug)]
pub struct EtcdServer {
    cluster: EtcdCluster,
}

impl EtcdServer {
    /// Starts etcd and waits until it answers `/health`.
    pub async fn start() -> Self {
        Self {
            cluster: EtcdCluster::start(1).await,
        }
    }

    /// `127.0.0.1:<client port>`.
    pub fn client_address(&self) -> String {
        self.cluster.endpoints().remove(0)
    }

    /// Registry options pointing at this server.
    pub fn options(&self) -> EtcdOptions {
        self.cluster.options()
    }
}

/// An etcd cluster on loopback, one process per member.
#[derive(Debug)]
pub struct EtcdCluster {
    members: Vec<Member>,
    // Dropped after the members (field order), so no etcd writes into a removed directory.
    _dir: TempDir,
}

#[derive(Debug)]
struct Member {
    name: String,
    client_port: u16,
    // `None` once killed.
    process: Option<Child>,
}

impl Drop for Member {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Member {
    fn kill(&mut self) {
        if let Some(mut child) = self.process.take() {
            // `Child::kill` is SIGKILL on Unix: no graceful shutdown, as a crash.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl EtcdCluster {
    /// Starts a cluster of `size` members and waits until every one reports itself healthy
    /// (which, for etcd, means a leader has been elected).
    pub async fn start(size: usize) -> Self {
        assert!(size > 0, "a cluster needs at least one member");
        let binary = etcd_binary();
        for attempt in 1..=START_ATTEMPTS {
            let dir = tempfile::tempdir().expect("temp dir for etcd");
            let mut cluster = Self {
                members: spawn(&binary, dir.path(), size),
                _dir: dir,
            };
            match cluster.wait_ready().await {
                Ok(()) => return cluster,
                Err(Exited(name)) if attempt < START_ATTEMPTS => {
                    eprintln!("etcd member {name} exited while starting (port clash?); retrying");
                }
                Err(Exited(name)) => panic!(
                    "etcd member {name} kept exiting while starting:\n{}",
                    cluster.log_tail(&name)
                ),
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    /// Each member's client address, `127.0.0.1:<port>`, killed members included.
    pub fn endpoints(&self) -> Vec<String> {
        self.members
            .iter()
            .map(|m| format!("127.0.0.1:{}", m.client_port))
            .collect()
    }

    /// Registry options listing every member.
    pub fn options(&self) -> EtcdOptions {
        EtcdOptions {
            endpoints: self.endpoints(),
            ..EtcdOptions::default()
        }
    }

    /// SIGKILLs member `index`.
    pub fn kill(&mut self, index: usize) {
        self.members[index].kill();
    }

    async fn wait_ready(&mut self) -> Result<(), Exited> {
        let deadline = Instant::now() + READY_TIMEOUT;
        for index in 0..self.members.len() {
            loop {
                let member = &mut self.members[index];
                let exited = member
                    .process
                    .as_mut()
                    .is_none_or(|child| child.try_wait().ok().flatten().is_some());
                if exited {
                    return Err(Exited(member.name.clone()));
                }
                if healthy(member.client_port).await {
                    break;
                }
                if Instant::now() > deadline {
                    let name = member.name.clone();
                    panic!(
                        "etcd member {name} not healthy within {READY_TIMEOUT:?}:\n{}",
                        self.log_tail(&name)
                    );
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Ok(())
    }

    fn log_tail(&self, name: &str) -> String {
        let log = std::fs::read_to_string(self._dir.path().join(format!("{name}.log")))
            .unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

struct Exited(String);

/// The `etcd` binary on `PATH`, or a panic saying how to install it.
fn etcd_binary() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("etcd"))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("etcd not found: run scripts/install-test-deps.sh"))
}

/// Free loopback ports, all held at once so none is handed out twice, then released for etcd.
fn free_ports(count: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..count)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind a free port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("local addr").port())
        .collect()
}

/// Starts `size` members: the command line from environment.md, one data dir and log each.
fn spawn(binary: &Path, dir: &Path, size: usize) -> Vec<Member> {
    let ports = free_ports(size * 2);
    let names: Vec<String> = (1..=size).map(|i| format!("n{i}")).collect();
    let peer_url = |i: usize| format!("http://127.0.0.1:{}", ports[size + i]);
    let initial_cluster = names
        .iter()
        .enumerate()
        .map(|(i, name)| format!("{name}={}", peer_url(i)))
        .collect::<Vec<_>>()
        .join(",");
    // One token per start, so members of an earlier attempt can never join this cluster.
    let token = format!("micro-test-{}-{}", std::process::id(), ports[0]);
    names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let client_url = format!("http://127.0.0.1:{}", ports[i]);
            let log = File::create(dir.join(format!("{name}.log"))).expect("etcd log file");
            let process = Command::new(binary)
                .args(["--name", name])
                .arg("--data-dir")
                .arg(dir.join(name))
                .args(["--listen-client-urls", &client_url])
                .args(["--advertise-client-urls", &client_url])
                .args(["--listen-peer-urls", &peer_url(i)])
                .args(["--initial-advertise-peer-urls", &peer_url(i)])
                .args(["--initial-cluster", &initial_cluster])
                .args(["--initial-cluster-token", &token])
                .args(["--initial-cluster-state", "new"])
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("etcd log file"))
                .stderr(log)
                .spawn()
                .expect("spawn etcd");
            Member {
                name: name.clone(),
                client_port: ports[i],
                process: Some(process),
            }
        })
        .collect()
}

/// Whether the member answers `GET /health` with `{"health":"true"}`.
async fn healthy(port: u16) -> bool {
    let check = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        stream
            .write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .await
            .ok()?;
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).await.ok()?;
        let reply = String::from_utf8_lossy(&reply);
        Some(reply.contains(r#""health":"true""#))
    };
    tokio::time::timeout(Duration::from_secs(1), check)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}
