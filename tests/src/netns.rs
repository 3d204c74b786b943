//! Running a test inside a private network namespace whose only interface is `lo`, so mDNS
//! tests never multicast out of a real interface and never hear anyone else.
//!
//! [`isolated`] re-executes the current test binary for just that test under
//! `unshare -n sh -c 'ip link set lo up && ip link set lo multicast on && exec ...'` (as root;
//! otherwise `unshare -rn`, a user namespace), with a marker variable set. The child checks it
//! really is isolated before running the body; the parent passes only if the child exited 0 *and*
//! reported that it ran the test, so a test can never pass without running. If no namespace can
//! be made, the test fails with the reason. Processes the child starts (see [`peer_command`])
//! inherit its namespace.
//!
//! ```no_run
//! #[test]
//! fn finds_a_node() {
//!     tests::netns::isolated("finds_a_node", || {
//!         // Only `lo` exists here; multicast stays in this namespace.
//!     });
//! }
//! ```

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// Set, to the test's name, in the re-executed child.
pub const CHILD_MARKER: &str = "MICRO_NETNS_TEST";
// Printed by the child once it has checked it is isolated.
const ENTERED: &str = "micro-netns: isolated in a private network namespace";
// The longest a child may run before the parent kills it and fails.
const CHILD_TIMEOUT: Duration = Duration::from_secs(120);
// Brings up `lo` with multicast, then becomes the test binary ("$0" "$@").
const SETUP: &str = r#"ip link set lo up && ip link set lo multicast on && exec "$0" "$@""#;

/// Runs `body` in a fresh network namespace. Call it from a plain `#[test]` fn named `test`.
pub fn isolated(test: &str, body: impl FnOnce()) {
    match std::env::var(CHILD_MARKER) {
        Ok(name) if name == test => {
            assert_isolated();
            println!("{ENTERED}");
            body();
        }
        Ok(other) => panic!("netns: running {test} but the namespace was made for {other}"),
        Err(_) => run_in_namespace(test),
    }
}

/// Panics unless this process's network namespace has `lo` as its only interface.
pub fn assert_isolated() {
    // /proc/self/net is per network namespace (unlike /sys/class/net, which shows the namespace
    // sysfs was mounted in).
    let dev = std::fs::read_to_string("/proc/self/net/dev").expect("read /proc/self/net/dev");
    let interfaces: Vec<&str> = dev
        .lines()
        .skip(2)
        .filter_map(|line| line.split(':').next())
        .map(str::trim)
        .collect();
    assert_eq!(
        interfaces,
        ["lo"],
        "netns: not isolated; refusing to run mDNS here"
    );
}

/// A command running `test` (an `#[ignore]`d helper) from this test binary, as a separate process
/// in this same namespace. Panics outside an [`isolated`] test, so helpers never multicast on
/// the host.
pub fn peer_command(test: &str) -> Command {
    assert!(
        std::env::var_os(CHILD_MARKER).is_some(),
        "netns: peers may only be started from inside an isolated test"
    );
    assert_isolated();
    let exe = std::env::current_exe().expect("current test binary");
    let mut command = Command::new(exe);
    command.args([
        "--exact",
        test,
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    command
}

/// A child process killed when dropped, so a failing test leaves no peer behind.
#[derive(Debug)]
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run_in_namespace(test: &str) {
    let exe = std::env::current_exe().expect("current test binary");
    let mut failures = Vec::new();
    // As root `-n` is enough; otherwise a user namespace grants what `ip` needs inside.
    for flags in ["-n", "-rn"] {
        let mut command = Command::new("unshare");
        command
            .args([flags, "sh", "-c", SETUP])
            .arg(&exe)
            .args(["--exact", test, "--nocapture", "--test-threads=1"])
            .env(CHILD_MARKER, test);
        let (status, stdout, stderr) = match run(command) {
            Ok(output) => output,
            Err(err) => panic!("netns: cannot run `unshare` (util-linux) for {test}: {err}"),
        };
        if !stdout.contains(ENTERED) {
            failures.push(format!("unshare {flags}: {status}: {}", stderr.trim()));
            continue;
        }
        print!("{stdout}");
        eprint!("{stderr}");
        assert!(
            status.success(),
            "netns: {test} failed in its namespace ({status})"
        );
        assert!(
            stdout.contains("1 passed"),
            "netns: {test} did not run in its namespace (no \"1 passed\")"
        );
        return;
    }
    panic!(
        "netns: cannot create a network namespace for {test}; mDNS tests need one so they never \
         multicast on a real interface. Tried:\n{}",
        failures.join("\n")
    );
}

// Runs `command` to completion with its output captured, killing it after CHILD_TIMEOUT.
fn run(mut command: Command) -> std::io::Result<(ExitStatus, String, String)> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let stdout = drain(child.stdout.take().expect("piped stdout"));
    let stderr = drain(child.stderr.take().expect("piped stderr"));
    let (done_tx, done_rx) = mpsc::channel();
    let id = child.id();
    let waiter = thread::spawn(move || {
        let status = child.wait();
        let _ = done_tx.send(());
        status
    });
    if done_rx.recv_timeout(CHILD_TIMEOUT).is_err() {
        // The test binary itself (unshare and sh exec into it), by its pid; only our own child.
        let _ = Command::new("kill").args(["-9", &id.to_string()]).status();
        panic!("netns: the namespaced test ran over {CHILD_TIMEOUT:?} and was killed");
    }
    let status = waiter.join().expect("waiter thread")?;
    Ok((
        status,
        stdout.join().expect("stdout reader"),
        stderr.join().expect("stderr reader"),
    ))
}

fn drain(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut out = Vec::new();
        let _ = pipe.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    })
}
