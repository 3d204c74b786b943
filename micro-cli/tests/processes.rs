//! The real `micro` binary against real service processes (the `services` example) found in a
//! real etcd: as a user runs it, with the services started from other terminals. Each command's
//! output is checked, and so are the errors a crashed or stopped process causes.

mod common;

use std::collections::BTreeSet;

use common::{
    LongRun, Run, ServiceProcess, WAIT, error_json, etcd_env, line, line_starting, run_with,
};
use tests::etcd::EtcdServer;
use tests::nats::NatsServer;
use tokio::io::AsyncWriteExt;

type Env = Vec<(String, String)>;

async fn micro(env: &Env, args: &[&str]) -> Run {
    run_with(env, args, "").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_describe_call_and_health_against_processes() {
    let etcd = EtcdServer::start().await;
    let env = etcd_env(&etcd.client_address());
    let first = ServiceProcess::start(&env, &["greeter"]).await;
    let second = ServiceProcess::start(&env, &["greeter"]).await;
    let streamer = ServiceProcess::start(&env, &["streamer"]).await;

    let services = micro(&env, &["services"]).await;
    assert_eq!(
        services.stdout,
        "NAME      VERSIONS  NODES\ngreeter   latest    2\nstreamer  latest    1\n",
        "{services:?}"
    );
    let described = micro(&env, &["describe", "greeter"]).await;
    for node in [&first, &second] {
        let row = described
            .stdout
            .lines()
            .find(|l| l.starts_with(&node.node_id))
            .unwrap_or_else(|| panic!("a row for {}: {described:?}", node.node_id));
        assert!(row.contains(&node.address), "{row}");
        assert!(row.contains("registry=etcd"), "{row}");
    }
    assert!(
        described.stdout.contains(
            "Endpoint: Greeter.Hello\nRequest: HelloRequest {\n    name string\n}\nResponse: HelloResponse {\n    greeting string\n}\n"
        ),
        "{described:?}"
    );

    // A call: from the argument, from stdin, as field flags, with metadata, at one address.
    let hello = "{\n  \"greeting\": \"Hello John\"\n}\n";
    for (args, stdin) in [
        (
            vec!["call", "greeter", "Greeter.Hello", r#"{"name": "John"}"#],
            "",
        ),
        (
            vec!["call", "greeter", "Greeter.Hello", "-"],
            r#"{"name": "John"}"#,
        ),
        (vec!["call", "greeter", "Greeter.Hello", "--name=John"], ""),
        (
            vec![
                "call",
                "greeter",
                "Greeter.Hello",
                "--address",
                &second.address,
                "--name",
                "John",
            ],
            "",
        ),
    ] {
        let called = run_with(&env, &args, stdin).await;
        assert_eq!(
            (called.code, called.stdout.as_str()),
            (0, hello),
            "{args:?}: {called:?}"
        );
    }
    let traced = micro(
        &env,
        &[
            "call",
            "greeter",
            "Greeter.Hello",
            "--name=echo-metadata",
            "-m",
            "Trace-Id=t-1",
        ],
    )
    .await;
    assert_eq!(
        traced.stdout, "{\n  \"greeting\": \"t-1\"\n}\n",
        "{traced:?}"
    );

    // The service's own error, a timeout and an unknown endpoint, each with its exit code.
    let refused = micro(
        &env,
        &["call", "greeter", "Greeter.Hello", r#"{"name": ""}"#],
    )
    .await;
    assert_eq!(refused.code, 1, "{refused:?}");
    assert_eq!(error_json(&refused)["code"], 400);
    assert_eq!(error_json(&refused)["id"], "greeter");
    let slow = micro(
        &env,
        &[
            "call",
            "greeter",
            "Greeter.Hello",
            "--name=slow",
            "--timeout",
            "100ms",
        ],
    )
    .await;
    assert_eq!(slow.code, 4, "{slow:?}");
    assert_eq!(error_json(&slow)["code"], 408);
    let unknown = micro(&env, &["call", "greeter", "Greeter.Helo"]).await;
    assert_eq!(unknown.code, 3, "{unknown:?}");
    assert!(
        unknown.stderr.contains("did you mean Greeter.Hello?"),
        "{unknown:?}"
    );

    let health = micro(&env, &["health", "greeter"]).await;
    assert_eq!(health.code, 0, "{health:?}");
    assert_eq!(
        health
            .stdout
            .lines()
            .filter(|l| l.ends_with("  ok"))
            .count(),
        2
    );

    // A crashed process stays registered until its TTL: health says which node is down, a call
    // straight to it is unreachable, and calls by name still find the live one.
    let (dead_id, dead_address) = (first.node_id.clone(), first.address.clone());
    first.kill().await;
    let health = micro(&env, &["health", "greeter"]).await;
    assert_eq!(health.code, 1, "{health:?}");
    let row = health
        .stdout
        .lines()
        .find(|l| l.starts_with(&dead_id))
        .expect("its row");
    assert!(row.contains("unhealthy"), "{health:?}");
    let direct = micro(
        &env,
        &[
            "call",
            "greeter",
            "Greeter.Hello",
            "--address",
            &dead_address,
            "--name=John",
        ],
    )
    .await;
    assert_eq!(direct.code, 5, "{direct:?}");
    for _ in 0..4 {
        let called = micro(&env, &["call", "greeter", "Greeter.Hello", "--name=John"]).await;
        assert_eq!(called.stdout, hello, "{called:?}");
    }

    // A stopped process deregisters: its service is gone from the list, and a call says so.
    second.stop().await;
    let services = micro(&env, &["services"]).await;
    assert_eq!(
        services.stdout,
        "NAME      VERSIONS  NODES\ngreeter   latest    1\nstreamer  latest    1\n",
        "the crashed node is still registered: {services:?}"
    );
    streamer.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_against_a_process_and_ctrl_c() {
    let etcd = EtcdServer::start().await;
    let env = etcd_env(&etcd.client_address());
    let streamer = ServiceProcess::start(&env, &["streamer"]).await;

    let countdown = micro(
        &env,
        &["stream", "streamer", "Streamer.Countdown", r#"{"from": 3}"#],
    )
    .await;
    assert_eq!(
        (countdown.code, countdown.stdout.as_str()),
        (0, "{\"value\":3}\n{\"value\":2}\n{\"value\":1}\n"),
        "{countdown:?}"
    );
    let sum = run_with(
        &env,
        &["stream", "streamer", "Streamer.Sum"],
        "{\"value\": 4}\n{\"value\": 5}\n",
    )
    .await;
    let total: serde_json::Value = serde_json::from_str(sum.stdout.trim()).unwrap();
    assert_eq!(
        (total["sum"].as_str(), total["count"].as_u64()),
        (Some("9"), Some(2))
    );

    // Bidirectional, typed line by line: each reply arrives before the next line is written.
    let mut echo = LongRun::start(&env, &["stream", "streamer", "Streamer.Echo"]);
    for text in ["one", "two"] {
        let stdin = echo.child.stdin.as_mut().unwrap();
        let message = format!("{{\"text\": \"{text}\"}}\n");
        stdin.write_all(message.as_bytes()).await.unwrap();
        let reply: serde_json::Value = serde_json::from_str(&line(&mut echo.stdout).await).unwrap();
        assert_eq!(reply["text"], text);
    }
    // Ctrl-C while micro waits for the next line: it exits at once, with nothing printed.
    echo.signal("INT");
    assert_eq!(echo.exit_code().await, 130);
    assert_eq!(echo.stderr.next_line().await.unwrap(), None);
    // Closing stdin instead ends the stream cleanly (EOS), with 0.
    let mut closed = LongRun::start(&env, &["stream", "streamer", "Streamer.Echo"]);
    drop(closed.child.stdin.take());
    assert_eq!(closed.exit_code().await, 0);
    // The service is unharmed by the hang-up.
    let again = micro(
        &env,
        &["stream", "streamer", "Streamer.Countdown", r#"{"from": 1}"#],
    )
    .await;
    assert_eq!(again.stdout, "{\"value\":1}\n", "{again:?}");
    streamer.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_cuts_a_call_short() {
    // A node that accepts the connection and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = silent.local_addr().unwrap().to_string();
    let args = [
        "call",
        "greeter",
        "Greeter.Hello",
        "--address",
        &address,
        "--timeout",
        "60s",
    ];
    let mut call = LongRun::start(&Env::new(), &args);
    let (_held, _) = tokio::time::timeout(WAIT, silent.accept())
        .await
        .expect("micro connects")
        .unwrap();
    call.signal("INT");
    assert_eq!(call.exit_code().await, 130, "interrupted, not timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_sees_processes_start_and_stop() {
    let etcd = EtcdServer::start().await;
    let env = etcd_env(&etcd.client_address());
    let (mut watch, ready) = LongRun::ready(&env, &["watch"]).await;
    assert!(ready.starts_with("watching the etcd registry"), "{ready}");
    let greeter = ServiceProcess::start(&env, &["greeter"]).await;
    let created = line(&mut watch.stdout).await;
    assert_eq!(created, greeter.created_line("greeter"));
    let id = greeter.node_id.clone();
    greeter.stop().await;
    let deleted = line_starting(&mut watch.stdout, "delete").await;
    assert!(deleted.contains(&id), "{deleted}");
    // Ctrl-C is how watch ends: exit 0.
    watch.signal("INT");
    assert_eq!(watch.exit_code().await, 0);
}

/// A listener process, a plain `micro subscribe` and two members of a queue group, all on
/// `broker`; six `micro publish` runs.
async fn publish_and_subscribe_across_processes(env: Env, broker: &str) {
    let listener = ServiceProcess::start(&env, &["listener", "greetings"]).await;
    let subscribe = |queue: Option<&str>| {
        let env = env.clone();
        let queue = queue.map(str::to_string);
        async move {
            let mut args = vec!["subscribe", "greetings", "-o", "json"];
            if let Some(queue) = &queue {
                args.extend(["--queue", queue.as_str()]);
            }
            let (run, ready) = LongRun::ready(&env, &args).await;
            assert_eq!(
                ready,
                format!("subscribed to greetings on the {broker} (Ctrl-C to stop)")
            );
            run
        }
    };
    let mut everything = subscribe(None).await;
    let mut workers = [
        subscribe(Some("workers")).await,
        subscribe(Some("workers")).await,
    ];
    let mut listener = listener;

    let names: Vec<String> = (0..6).map(|i| format!("m{i}")).collect();
    for (i, name) in names.iter().enumerate() {
        let body = format!("{{\"name\": \"{name}\"}}");
        let trace = format!("Trace-Id=t{i}");
        let published = micro(&env, &["publish", "greetings", &body, "-m", &trace]).await;
        assert_eq!(published.code, 0, "{published:?}");
    }
    // The listener decodes each message as a typed HelloRequest, by its Content-Type.
    let mut received = BTreeSet::new();
    for _ in 0..6 {
        received.insert(listener.line().await);
    }
    let expected: BTreeSet<String> = (0..6).map(|i| format!("received m{i} t{i}")).collect();
    assert_eq!(received, expected);
    // micro subscribe prints every message, with go-micro's headers.
    let mut seen = BTreeSet::new();
    for _ in 0..6 {
        let message: serde_json::Value =
            serde_json::from_str(&line(&mut everything.stdout).await).unwrap();
        assert_eq!(message["topic"], "greetings");
        assert_eq!(message["header"]["Content-Type"], "application/json");
        assert_eq!(message["header"]["Micro-Topic"], "greetings");
        seen.insert(message["body"]["name"].as_str().unwrap().to_string());
    }
    assert_eq!(seen, names.iter().cloned().collect::<BTreeSet<_>>());
    // The queue group shares them: each message reaches exactly one member.
    let [first, second] = &mut workers;
    let mut shared = Vec::new();
    while shared.len() < 6 {
        let next = tokio::select! {
            line = line(&mut first.stdout) => line,
            line = line(&mut second.stdout) => line,
        };
        let message: serde_json::Value = serde_json::from_str(&next).unwrap();
        shared.push(message["body"]["name"].as_str().unwrap().to_string());
    }
    shared.sort();
    assert_eq!(shared, names, "each message once, to one member");
    for run in workers.iter_mut().chain([&mut everything]) {
        run.signal("INT");
        assert_eq!(run.exit_code().await, 0, "subscribe ends on Ctrl-C with 0");
    }
    listener.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_and_subscribe_over_the_http_broker() {
    let etcd = EtcdServer::start().await;
    let env = etcd_env(&etcd.client_address());
    publish_and_subscribe_across_processes(env, "http broker").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_and_subscribe_over_nats() {
    let etcd = EtcdServer::start().await;
    let nats = NatsServer::start().await;
    let mut env = etcd_env(&etcd.client_address());
    env.push(("MICRO_BROKER".into(), "nats".into()));
    env.push(("MICRO_BROKER_ADDRESS".into(), nats.url()));
    let broker = format!("nats broker at {}", nats.url());
    publish_and_subscribe_across_processes(env, &broker).await;
}
