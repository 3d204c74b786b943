//! The server answers real `curl`, as go-micro's does.
//!
//! curl is a test requirement: `.ci/run` installs it. Missing, these tests fail loudly rather than
//! skip.

use std::process::Command;

use tests::handlers::Greeter;
use tests::proto::greeter::GreeterServer;
use tests::support;

/// Runs curl against `addr` with the given extra arguments; returns (stdout, stderr with -v).
async fn curl(addr: std::net::SocketAddr, args: &[&str]) -> (String, String) {
    let url = format!("http://{addr}");
    let mut command = Command::new("curl");
    command
        .args(["-sS", "-v", "--max-time", "10", "-XPOST"])
        .args(args)
        .arg(url);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("curl must be installed (.ci/run installs it)");
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

async fn start() -> micro_runtime::server::RunningServer {
    let registry = support::registry();
    support::start("greeter", &registry, GreeterServer::new(Greeter::default())).await
}

#[tokio::test]
async fn curl_gets_the_greeting_as_json() {
    let server = start().await;
    let (body, _) = curl(
        server.local_addr(),
        &[
            "-H",
            "Content-Type: application/json",
            "-H",
            "Micro-Endpoint: Greeter.Hello",
            "-d",
            r#"{"name":"John"}"#,
        ],
    )
    .await;
    assert_eq!(body.trim_end(), r#"{"greeting":"Hello John"}"#);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn curl_with_the_x_micro_alias_and_a_large_body_works() {
    let server = start().await;
    // Clients (older curl, .NET) send `Expect: 100-continue` for large bodies and wait for the
    // server's go-ahead; ask for it explicitly, since curl 8 only does so past 1 MiB.
    let name = "n".repeat(3000);
    let body = format!(r#"{{"name":"{name}"}}"#);
    let (out, verbose) = curl(
        server.local_addr(),
        &[
            "-H",
            "Expect: 100-continue",
            "-H",
            "Content-Type: application/json",
            "-H",
            "X-Micro-Endpoint: Greeter.Hello",
            "-d",
            &body,
        ],
    )
    .await;
    assert!(verbose.contains("100 Continue"), "{verbose}");
    assert_eq!(out.trim_end(), format!(r#"{{"greeting":"Hello {name}"}}"#));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn curl_sees_errors_in_the_micro_error_header() {
    let server = start().await;
    let (_, verbose) = curl(
        server.local_addr(),
        &[
            "-H",
            "Content-Type: application/json",
            "-H",
            "Micro-Endpoint: Greeter.Hello",
            "-d",
            r#"{"name":""}"#,
        ],
    )
    .await;
    assert!(
        verbose.contains(r#"Micro-Error: {"id":"greeter","code":400,"detail":"name must not be empty","status":"Bad Request"}"#),
        "{verbose}"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn every_server_answers_debug_health() {
    let server = start().await;
    let (body, _) = curl(
        server.local_addr(),
        &[
            "-H",
            "Content-Type: application/json",
            "-H",
            "Micro-Endpoint: Debug.Health",
        ],
    )
    .await;
    assert_eq!(body.trim_end(), r#"{"status":"ok"}"#);
    server.stop().await.unwrap();
}
