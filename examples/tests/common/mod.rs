//! Running the real example binaries from tests: a `greeter-server` process and the lines it logs.

#![allow(dead_code)] // each test file uses its own part of this

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Generous: the first run may still be linking the binaries' dependents.
pub const WAIT: Duration = Duration::from_secs(60);

/// A running `greeter-server` and the lines it logs.
pub struct GreeterServer {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl GreeterServer {
    /// Starts `greeter-server` on a free loopback port with `env` set (and no other `MICRO_*`
    /// variable from the test's environment).
    pub fn start(env: &[(&str, &str)]) -> Self {
        Self::spawn(Command::new(env!("CARGO_BIN_EXE_greeter-server")), env)
    }

    /// Starts another example binary that serves the greeter the same way (`--address`, logs).
    pub fn start_binary(binary: &str, env: &[(&str, &str)]) -> Self {
        Self::spawn(Command::new(binary), env)
    }

    /// As [`Self::start`], with the process's address space limited to `bytes` (`prlimit --as`,
    /// which execs the server, so [`Self::pid`] is the server's).
    pub fn start_limited(env: &[(&str, &str)], bytes: u64) -> Self {
        let mut command = Command::new("prlimit");
        command
            .arg(format!("--as={bytes}"))
            .arg("--")
            .arg(env!("CARGO_BIN_EXE_greeter-server"));
        Self::spawn(command, env)
    }

    fn spawn(mut command: Command, env: &[(&str, &str)]) -> Self {
        command
            .args(["--address", "127.0.0.1:0"])
            .env("NO_COLOR", "1")
            .stderr(Stdio::piped());
        clear_micro_env(&mut command);
        command.envs(env.iter().copied());
        let mut child = command.spawn().expect("greeter-server starts");
        let stderr = child.stderr.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        GreeterServer { child, lines }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for a log line containing `text`.
    pub fn wait_for(&self, text: &str) -> String {
        loop {
            let line = self
                .lines
                .recv_timeout(WAIT)
                .unwrap_or_else(|e| panic!("no log line with {text:?}: {e}"));
            if line.contains(text) {
                return line;
            }
        }
    }

    /// Waits for the "server started" line and returns its (`node id`, `host:port`).
    pub fn started(&self) -> (String, String) {
        let line = self.wait_for("server started");
        (field(&line, "node="), field(&line, "local_addr="))
    }

    /// Sends `signal` (`TERM`, `INT`, `KILL`).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([format!("-{signal}"), self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal} {}", self.child.id());
    }

    /// Waits for the process to exit, returning whether it exited with status 0.
    pub fn wait_exit(mut self) -> bool {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(self.child.wait());
        });
        rx.recv_timeout(WAIT)
            .expect("the server exits")
            .expect("wait works")
            .success()
    }

    /// Sends `signal`, waits for "server stopped", and returns whether the process exited with 0.
    pub fn stop_with(self, signal: &str) -> bool {
        self.signal(signal);
        self.wait_for("server stopped");
        self.wait_exit()
    }
}

impl Drop for GreeterServer {
    fn drop(&mut self) {
        // A test that failed half-way must not leave servers behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Removes every `MICRO_*` and `ETCD_*` variable, so the test alone decides the configuration.
pub fn clear_micro_env(command: &mut Command) {
    for (key, _) in std::env::vars() {
        if key.starts_with("MICRO_") || key.starts_with("ETCD_") {
            command.env_remove(key);
        }
    }
}

/// Runs `command` to success and returns its standard output.
pub fn run(command: &mut Command) -> String {
    let output = command.output().expect("command runs");
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `greeter-client` with `env` set and no other `MICRO_*` variable.
pub fn greeter_client(env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_greeter-client"));
    clear_micro_env(&mut command);
    command.envs(env.iter().copied());
    command
}

// The value after `name` in a tracing line (`node=greeter-… address=…`).
fn field(line: &str, name: &str) -> String {
    let at = line
        .find(name)
        .unwrap_or_else(|| panic!("{line:?} has no {name}"))
        + name.len();
    line[at..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect()
}
