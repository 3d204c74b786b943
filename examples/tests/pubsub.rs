//! The README's pubsub example, run as the real binary: with the default broker (HTTP), with
//! `MICRO_BROKER=nats` against a real nats-server, and with the HTTP broker finding subscribers in
//! a real etcd.

mod common;

use std::process::Command;

use common::{clear_micro_env, run};

/// `pubsub` with `env` and no other `MICRO_*` variable.
fn pubsub(env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pubsub"));
    clear_micro_env(&mut command);
    command.envs(env.iter().copied());
    command
}

/// Checks the example's summary: the group billed each event once, audit saw all.
fn assert_all_delivered(output: &str, events: u64) {
    let summary = output
        .lines()
        .find(|l| l.starts_with("billing group:"))
        .unwrap_or_else(|| panic!("no summary in:\n{output}"));
    assert!(
        summary.starts_with(&format!("billing group: {events} of {events} events"))
            && summary.ends_with(&format!("audit: {events} of {events}")),
        "{summary}"
    );
    let billed = output
        .lines()
        .filter(|l| l.contains(": billed order-"))
        .count();
    let audited = output.lines().filter(|l| l.starts_with("audit:")).count();
    assert_eq!(
        (billed, audited),
        (events as usize, events as usize),
        "{output}"
    );
}

#[test]
fn runs_with_the_default_broker() {
    let output = run(&mut pubsub(&[]));
    assert!(output.contains("through the http broker"), "{output}");
    assert_all_delivered(&output, 10);
}

#[test]
fn runs_with_nats_by_one_variable() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let nats = runtime.block_on(tests::nats::NatsServer::start());
    let url = nats.url();
    let output = run(
        pubsub(&[("MICRO_BROKER", "nats"), ("MICRO_BROKER_ADDRESS", &url)])
            .args(["--events", "200"]),
    );
    assert!(output.contains("through the nats broker"), "{output}");
    assert_all_delivered(&output, 200);
}

#[test]
fn the_http_broker_finds_subscribers_in_etcd() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let etcd = runtime.block_on(tests::etcd::EtcdServer::start());
    let address = etcd.client_address();
    let output = run(&mut pubsub(&[
        ("MICRO_REGISTRY", "etcd"),
        ("MICRO_REGISTRY_ADDRESS", &address),
    ]));
    assert_all_delivered(&output, 10);
}

#[test]
fn an_unreachable_nats_is_a_clear_error() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let output = pubsub(&[
        ("MICRO_BROKER", "nats"),
        ("MICRO_BROKER_ADDRESS", &format!("nats://127.0.0.1:{port}")),
    ])
    .output()
    .expect("pubsub runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("127.0.0.1:{port}")), "{stderr}");
}

#[test]
fn the_http_broker_finds_subscribers_over_mdns() {
    // In a private network namespace: no multicast leaves the machine.
    tests::netns::isolated("the_http_broker_finds_subscribers_over_mdns", || {
        let output = run(&mut pubsub(&[("MICRO_REGISTRY", "mdns")]));
        assert_all_delivered(&output, 10);
    });
}
