//! The README's two-terminal flow with the real binaries: `greeter-server`, then `greeter-client`
//! and curl; the server stops cleanly on SIGTERM and SIGINT.
//!
//! Three ways to find the server: by address (memory registry, nothing on the network), with no
//! configuration at all (mDNS, inside a private network namespace so no multicast leaves the
//! machine), and with `MICRO_REGISTRY=etcd` against a real etcd.

mod common;

use std::process::Command;

use common::{GreeterServer, greeter_client, run};

fn curl_hello(address: &str) -> String {
    run(Command::new("curl").args([
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
    ]))
}

#[test]
fn client_and_curl_call_the_server_by_address_and_signals_stop_it() {
    let memory = [("MICRO_REGISTRY", "memory")];
    for signal in ["TERM", "INT"] {
        let server = GreeterServer::start(&memory);
        let (_, address) = server.started();

        let greeting = run(greeter_client(&memory).args(["--address", &address]));
        assert_eq!(greeting.trim(), "Hello John");
        assert_eq!(
            curl_hello(&address).trim_end(),
            r#"{"greeting":"Hello John"}"#
        );
        assert!(
            server.stop_with(signal),
            "greeter-server exits 0 on SIG{signal}"
        );
    }
}

#[test]
fn with_no_configuration_the_client_finds_the_server_over_mdns() {
    tests::netns::isolated(
        "with_no_configuration_the_client_finds_the_server_over_mdns",
        || {
            let server = GreeterServer::start(&[]);
            server.started();
            let greeting = run(&mut greeter_client(&[]));
            assert_eq!(greeting.trim(), "Hello John");
            let greeting = run(greeter_client(&[]).args(["--name", "Ann"]));
            assert_eq!(greeting.trim(), "Hello Ann");
            assert!(server.stop_with("TERM"));
        },
    );
}

#[test]
fn one_variable_points_both_at_etcd() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let etcd = runtime.block_on(tests::etcd::EtcdServer::start());
    let address = etcd.client_address();
    let env = [
        ("MICRO_REGISTRY", "etcd"),
        ("MICRO_REGISTRY_ADDRESS", address.as_str()),
    ];
    let server = GreeterServer::start(&env);
    server.started();
    let greeting = run(&mut greeter_client(&env));
    assert_eq!(greeting.trim(), "Hello John");
    assert!(server.stop_with("TERM"));
    // Deregistered on the way out: a client now finds nothing.
    let output = greeter_client(&env).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not found"), "{stderr}");
}

#[test]
fn an_unreachable_etcd_fails_the_server_within_the_dial_timeout() {
    // Accepts connections (the kernel completes the handshake) and never answers: a hung etcd.
    let black_hole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = black_hole.local_addr().unwrap().to_string();
    let started = std::time::Instant::now();
    let server = GreeterServer::start(&[
        ("MICRO_REGISTRY", "etcd"),
        ("MICRO_REGISTRY_ADDRESS", address.as_str()),
    ]);
    let error = server.wait_for("etcd");
    assert!(!server.wait_exit(), "greeter-server fails");
    // The etcd dial timeout is 5 s; building and starting the binary takes a moment more.
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(9), "took {took:?}");
    assert!(
        error.contains("cannot register greeter in the etcd registry"),
        "{error}"
    );
    drop(black_hole);
}
