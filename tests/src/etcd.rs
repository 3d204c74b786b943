//! Real etcd servers for tests: [`EtcdServer`] (one member) and [`EtcdCluster`] (several), on free
//! loopback ports with throwaway data directories, SIGKILLed and removed when dropped.
//!
//! The `etcd` binary must be installed (`scripts/install-test-deps.sh`); without it these panic
//! rather than let the tests pass without etcd.

use std::fs::File;
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
        Self::start_with(&[]).await
    }

    /// As [`start`](Self::start), with more command-line flags for etcd (`--auth-token-ttl 1`).
    pub async fn start_with(flags: &[&str]) -> Self {
        Self {
            cluster: EtcdCluster::start_with(1, flags).await,
        }
    }

    /// `127.0.0.1:<client port>`.
    pub fn client_address(&self) -> String {
        self.cluster.endpoints().remove(0)
    }

    /// SIGKILLs the server; [`restart`](Self::restart) brings it back with its data.
    pub fn kill(&mut self) {
        self.cluster.kill(0);
    }

    /// Starts the killed server again, on the same port and data, and waits until it is healthy.
    pub async fn restart(&mut self) {
        self.cluster.restart(0).await;
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
    // How it was started, to start it again on the same ports and data.
    command: Vec<std::ffi::OsString>,
    log: PathBuf,
}

impl Drop for Member {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Member {
    fn launch(binary: &Path, command: &[std::ffi::OsString], log: &Path) -> Child {
        let out = File::options()
            .create(true)
            .append(true)
            .open(log)
            .expect("etcd log file");
        Command::new(binary)
            .args(command)
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("etcd log file"))
            .stderr(out)
            .spawn()
            .expect("spawn etcd")
    }

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
        Self::start_with(size, &[]).await
    }

    /// As [`start`](Self::start), with more command-line flags for every member.
    pub async fn start_with(size: usize, flags: &[&str]) -> Self {
        assert!(size > 0, "a cluster needs at least one member");
        let binary = etcd_binary();
        for attempt in 1..=START_ATTEMPTS {
            let dir = tempfile::tempdir().expect("temp dir for etcd");
            let mut cluster = Self {
                members: spawn(&binary, dir.path(), size, flags),
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
        EtcdOptions::default().endpoints(self.endpoints())
    }

    /// SIGKILLs member `index`.
    pub fn kill(&mut self, index: usize) {
        self.members[index].kill();
    }

    /// Starts killed member `index` again, on its ports and data, and waits until the cluster
    /// reports itself healthy again.
    pub async fn restart(&mut self, index: usize) {
        let member = &mut self.members[index];
        assert!(member.process.is_none(), "member {index} is running");
        member.process = Some(Member::launch(&etcd_binary(), &member.command, &member.log));
        if let Err(Exited(name)) = self.wait_ready().await {
            panic!(
                "etcd member {name} exited on restart:\n{}",
                self.log_tail(&name)
            );
        }
    }

    async fn wait_ready(&mut self) -> Result<(), Exited> {
        let deadline = Instant::now() + READY_TIMEOUT;
        for index in 0..self.members.len() {
            loop {
                // Members killed on purpose are not waited for.
                if self.members[index].process.is_none() {
                    break;
                }
                // A member that failed to start (its port taken) keeps the others from a quorum:
                // notice it while waiting on any of them.
                if let Some(gone) = self.exited() {
                    return Err(Exited(gone));
                }
                if healthy(self.members[index].client_port).await {
                    break;
                }
                if Instant::now() > deadline {
                    let name = self.members[index].name.clone();
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

    /// The first running member whose process has exited.
    fn exited(&mut self) -> Option<String> {
        self.members.iter_mut().find_map(|m| {
            let child = m.process.as_mut()?;
            child.try_wait().ok().flatten().map(|_| m.name.clone())
        })
    }

    fn log_tail(&self, name: &str) -> String {
        let log = std::fs::read_to_string(self._dir.path().join(format!("{name}.log")))
            .unwrap_or_default();
        // A restarted member appends to its log, so the tail is its latest run.
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

/// Starts `size` members: the command line from environment.md plus `flags`, one data dir and log
/// each.
fn spawn(binary: &Path, dir: &Path, size: usize, flags: &[&str]) -> Vec<Member> {
    let ports = crate::ports::free_ports(size * 2);
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
            let command: Vec<std::ffi::OsString> = [
                "--name",
                name,
                "--data-dir",
                &dir.join(name).to_string_lossy(),
                "--listen-client-urls",
                &client_url,
                "--advertise-client-urls",
                &client_url,
                "--listen-peer-urls",
                &peer_url(i),
                "--initial-advertise-peer-urls",
                &peer_url(i),
                "--initial-cluster",
                &initial_cluster,
                "--initial-cluster-token",
                &token,
                "--initial-cluster-state",
                "new",
            ]
            .into_iter()
            .chain(flags.iter().copied())
            .map(Into::into)
            .collect();
            let log = dir.join(format!("{name}.log"));
            Member {
                name: name.clone(),
                client_port: ports[i],
                process: Some(Member::launch(binary, &command, &log)),
                command,
                log,
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
