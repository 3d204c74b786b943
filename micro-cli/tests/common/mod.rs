//! Running the real `micro` binary, and the `services` example as real service processes, from
//! tests: what each run printed, the lines a long-running one prints, and signals.

#![allow(dead_code)] // each test file uses its own part of this

use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};

/// How long a test waits for one line, or for a process to exit.
pub const WAIT: Duration = Duration::from_secs(20);

/// What one run of the binary printed, and how it exited.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// The environment that points `micro` (or a service) at the etcd at `address`.
pub fn etcd_env(address: &str) -> Vec<(String, String)> {
    vec![
        ("MICRO_REGISTRY".into(), "etcd".into()),
        ("MICRO_REGISTRY_ADDRESS".into(), address.into()),
    ]
}

/// `program` with `env` set and no other `MICRO_*` or `ETCD_*` variable from the test's own
/// environment, so the test alone decides the configuration.
fn command(program: impl Into<PathBuf>, env: &[(String, String)]) -> Command {
    let mut command = Command::new(program.into());
    for (key, _) in std::env::vars() {
        if key.starts_with("MICRO_") || key.starts_with("ETCD_") {
            command.env_remove(key);
        }
    }
    command
        .envs(env.iter().map(|(k, v)| (k, v)))
        .kill_on_drop(true);
    command
}

/// Runs `micro ARGS` against the etcd at `registry_address`, with `stdin` as its input.
pub async fn run(registry_address: &str, args: &[&str], stdin: &str) -> Run {
    run_with(&etcd_env(registry_address), args, stdin).await
}

/// `micro ARGS` with `env`, started with stdin, stdout and stderr piped.
fn spawn_micro(env: &[(String, String)], args: &[&str]) -> Child {
    command(env!("CARGO_BIN_EXE_micro"), env)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the micro binary runs")
}

/// Runs `micro ARGS` with `env`, with `stdin` as its input, to its exit (within [`WAIT`]).
pub async fn run_with(env: &[(String, String)], args: &[&str], stdin: &str) -> Run {
    use tokio::io::AsyncWriteExt;
    let mut child = spawn_micro(env, args);
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    let Output {
        status,
        stdout,
        stderr,
    } = tokio::time::timeout(WAIT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("micro {args:?} exits within {WAIT:?}"))
        .unwrap();
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8(stdout).unwrap(),
        stderr: String::from_utf8(stderr).unwrap(),
    }
}

/// The go-micro error JSON a failed run printed on stderr.
pub fn error_json(run: &Run) -> serde_json::Value {
    serde_json::from_str(run.stderr.trim()).unwrap_or_else(|_| panic!("not an error JSON: {run:?}"))
}

/// Lines of a child's output.
pub type Lines<R> = tokio::io::Lines<BufReader<R>>;

/// A `micro` command that runs until stopped (watch, subscribe, stream), with its stdin and
/// stdout piped.
pub struct LongRun {
    pub child: Child,
    pub stdout: Lines<ChildStdout>,
    pub stderr: Lines<tokio::process::ChildStderr>,
}

impl LongRun {
    /// Starts `micro ARGS` with `env`.
    pub fn start(env: &[(String, String)], args: &[&str]) -> Self {
        let mut child = spawn_micro(env, args);
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let stderr = BufReader::new(child.stderr.take().unwrap()).lines();
        Self {
            child,
            stdout,
            stderr,
        }
    }

    /// Starts `micro ARGS` with `env` and returns it once it wrote its first line on stderr
    /// (watch and subscribe say there that they are ready), with that line.
    pub async fn ready(env: &[(String, String)], args: &[&str]) -> (Self, String) {
        let mut run = Self::start(env, args);
        let ready = line(&mut run.stderr).await;
        (run, ready)
    }

    /// Sends `signal` (`INT`, `TERM`, `KILL`).
    pub fn signal(&self, signal: &str) {
        send_signal(self.child.id().expect("still running"), signal);
    }

    /// Waits for the exit (within [`WAIT`]) and returns its code. Its stdin stays open until then:
    /// tokio's `wait` would close it first, and that end of input, racing a signal, could end a
    /// `micro stream` cleanly (with `EOS`) before the signal is handled.
    pub async fn exit_code(&mut self) -> i32 {
        let stdin = self.child.stdin.take();
        let status = tokio::time::timeout(WAIT, self.child.wait())
            .await
            .expect("micro exits promptly")
            .unwrap();
        drop(stdin);
        status.code().unwrap_or(-1)
    }
}

/// The next line of a child's output, within [`WAIT`].
pub async fn line<R: tokio::io::AsyncBufRead + Unpin>(lines: &mut tokio::io::Lines<R>) -> String {
    tokio::time::timeout(WAIT, lines.next_line())
        .await
        .expect("a line in time")
        .unwrap()
        .expect("the output goes on")
}

/// The next line of `lines` that starts with `prefix`, skipping others (within [`WAIT`] each).
pub async fn line_starting<R: tokio::io::AsyncBufRead + Unpin>(
    lines: &mut tokio::io::Lines<R>,
    prefix: &str,
) -> String {
    loop {
        let next = line(lines).await;
        if next.starts_with(prefix) {
            return next;
        }
    }
}

/// Sends `signal` to process `pid` with kill(1).
pub fn send_signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{signal} {pid}");
}

/// A service process of the `services` example (`micro-cli/examples/services.rs`).
pub struct ServiceProcess {
    child: Child,
    stdout: Lines<ChildStdout>,
    /// The node id it registered.
    pub node_id: String,
    /// The address it serves on.
    pub address: String,
}

impl ServiceProcess {
    /// Starts `services ARGS` with `env` and waits until it says it registered.
    pub async fn start(env: &[(String, String)], args: &[&str]) -> Self {
        let mut child = command(example("services"), env)
            .args(args)
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .spawn()
            .expect("the services example runs");
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let started = line(&mut stdout).await;
        let words: Vec<&str> = started.split(' ').collect();
        let [_, _, node_id, address] = words[..] else {
            panic!("not a start line: {started}");
        };
        Self {
            node_id: node_id.to_string(),
            address: address.to_string(),
            child,
            stdout,
        }
    }

    /// The line `micro watch` prints when this node of `service` registers.
    pub fn created_line(&self, service: &str) -> String {
        format!(
            "create  {service}  latest  {} {}",
            self.node_id, self.address
        )
    }

    /// The next line it printed.
    pub async fn line(&mut self) -> String {
        line(&mut self.stdout).await
    }

    /// SIGTERM: it deregisters and stops gracefully; waits for a clean exit.
    pub async fn stop(mut self) {
        send_signal(self.child.id().expect("running"), "TERM");
        let status = tokio::time::timeout(WAIT, self.child.wait())
            .await
            .expect("the service stops")
            .unwrap();
        assert!(status.success(), "the service exits with 0: {status}");
    }

    /// SIGKILL: it dies without deregistering, as a crashed node does.
    pub async fn kill(mut self) {
        self.child.kill().await.unwrap();
    }
}

/// An example binary of this package. `cargo test` builds the examples with the tests, but not
/// when one test target is picked (`--test NAME`); then build them first.
fn example(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_BIN_EXE_micro"))
        .parent()
        .expect("the binary's directory")
        .join("examples")
        .join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build -p micro-cli --examples` (or plain `cargo test`)",
        path.display()
    );
    path
}
