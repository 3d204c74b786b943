//! The real `micro` binary finding real service processes over mDNS, go-micro's default registry,
//! inside a private network namespace whose only interface is `lo` (nothing multicasts outside
//! it; the processes the test starts inherit the namespace).

mod common;

use std::time::Duration;

use common::{LongRun, Run, ServiceProcess, line, line_starting, run_with};
use tests::netns;

fn mdns_env() -> Vec<(String, String)> {
    vec![("MICRO_REGISTRY".into(), "mdns".into())]
}

async fn micro(args: &[&str]) -> Run {
    run_with(&mdns_env(), args, "").await
}

#[test]
fn every_lookup_command_over_mdns() {
    netns::isolated("every_lookup_command_over_mdns", || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(every_lookup_command());
    });
}

async fn every_lookup_command() {
    let env = mdns_env();
    let (mut watch, ready) = LongRun::ready(&env, &["watch", "greeter"]).await;
    assert!(ready.starts_with("watching the mdns registry"), "{ready}");
    let greeter = ServiceProcess::start(&env, &["greeter"]).await;
    let streamer = ServiceProcess::start(&env, &["streamer"]).await;
    let created = line(&mut watch.stdout).await;
    assert_eq!(created, greeter.created_line("greeter"));

    // The first answers may take a query round: ask until both are seen.
    let listed = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let run = micro(&["services"]).await;
            if run.stdout.contains("greeter") && run.stdout.contains("streamer") {
                break run;
            }
        }
    })
    .await
    .expect("micro services finds both over mDNS");
    assert_eq!(
        listed.stdout, "NAME      VERSIONS  NODES\ngreeter   latest    1\nstreamer  latest    1\n",
        "{listed:?}"
    );
    let described = micro(&["describe", "greeter"]).await;
    let row = described
        .stdout
        .lines()
        .find(|l| l.starts_with(&greeter.node_id))
        .unwrap_or_else(|| panic!("a row for the node: {described:?}"));
    assert!(
        row.contains(&greeter.address) && row.contains("registry=mdns"),
        "{row}"
    );
    assert!(
        described
            .stdout
            .contains("Request: HelloRequest {\n    name string\n}"),
        "{described:?}"
    );
    let called = micro(&["call", "greeter", "Greeter.Hello", "--name=mDNS"]).await;
    assert_eq!(called.code, 0, "{called:?}");
    assert_eq!(called.stdout, "{\n  \"greeting\": \"Hello mDNS\"\n}\n");
    let countdown = micro(&["stream", "streamer", "Streamer.Countdown", r#"{"from": 2}"#]).await;
    assert_eq!(
        countdown.stdout, "{\"value\":2}\n{\"value\":1}\n",
        "{countdown:?}"
    );
    let health = micro(&["health", "greeter"]).await;
    assert_eq!(health.code, 0, "{health:?}");
    let missing = micro(&["describe", "greter"]).await;
    assert_eq!(missing.code, 3, "{missing:?}");
    assert!(
        missing.stderr.contains("did you mean greeter?"),
        "{missing:?}"
    );

    // A stopped process says goodbye: watch sees it go.
    let id = greeter.node_id.clone();
    greeter.stop().await;
    let deleted = line_starting(&mut watch.stdout, "delete").await;
    assert!(deleted.contains(&id), "{deleted}");
    watch.signal("INT");
    assert_eq!(watch.exit_code().await, 0);
    streamer.stop().await;
}
