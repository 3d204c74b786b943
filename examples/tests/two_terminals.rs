//! The README's two-terminal flow with the real binaries: `greeter-server`, then
//! `greeter-client --address`, then curl; and the server stops cleanly on SIGTERM and SIGINT.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Generous: the first run may still be linking the binaries' dependents.
const WAIT: Duration = Duration::from_secs(60);

/// A running `greeter-server` and the lines it logs.
struct Server {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Server {
    fn start() -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_greeter-server"))
            .args(["--address", "127.0.0.1:0"])
            .env("NO_COLOR", "1")
            .env_remove("MICRO_SERVER_ADDRESS")
            .stderr(Stdio::piped())
            .spawn()
            .expect("greeter-server starts");
        let stderr = child.stderr.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Server { child, lines }
    }

    /// Waits for a log line containing `text`.
    fn wait_for(&self, text: &str) -> String {
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

    /// The address from the "server started" line (`local_addr=127.0.0.1:PORT`).
    fn address(&self) -> String {
        let line = self.wait_for("server started");
        let at = line.find("local_addr=").expect("the line names local_addr") + "local_addr=".len();
        line[at..]
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
            .collect()
    }

    /// Sends `signal` and waits for the process to exit, returning whether it exited cleanly.
    fn stop_with(mut self, signal: &str) -> bool {
        let status = Command::new("kill")
            .args([format!("-{signal}"), self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        self.wait_for("server stopped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(self.child.wait());
        });
        rx.recv_timeout(WAIT)
            .expect("exits after the signal")
            .expect("wait works")
            .success()
    }
}

fn run(command: &mut Command) -> String {
    let output = command.output().expect("command runs");
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn client_and_curl_call_the_server_and_signals_stop_it() {
    for signal in ["TERM", "INT"] {
        let server = Server::start();
        let address = server.address();

        let greeting =
            run(Command::new(env!("CARGO_BIN_EXE_greeter-client")).args(["--address", &address]));
        assert_eq!(greeting.trim(), "Hello John");

        let body = run(Command::new("curl").args([
            "-sS",
            "--max-time",
            "10",
            "-XPOST",
            "-H",
            "Content-Type: application/json",
            "-H",
            "Micro-Endpoint: Greeter.Hello",
            "-d",
            r#"{"name":"John"}"#,
            &format!("http://{address}"),
        ]));
        assert_eq!(body.trim_end(), r#"{"greeting":"Hello John"}"#);

        assert!(
            server.stop_with(signal),
            "greeter-server exits 0 on SIG{signal}"
        );
    }
}
