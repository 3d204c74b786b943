//! The real `micro` binary against real services registered in a real etcd: every command's
//! output, and its errors with their exit codes. The servers here run in the test's process, so
//! a test can see what reached a handler (nothing, for a refused request); `processes.rs` runs
//! the same commands against service processes.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::{LongRun, Run, WAIT, error_json, etcd_env, line, run};
use micro_runtime::registry::{EtcdRegistry, Node, Registry, ServiceRecord};
use micro_runtime::server::{RunningServer, Server};
use tests::etcd::EtcdServer;
use tests::handlers::{Greeter, Probe, Streamer};
use tests::proto::greeter::GreeterServer;
use tests::proto::streaming::StreamerServer;

/// etcd with two greeter nodes and a streamer node registered in it.
struct System {
    etcd: EtcdServer,
    registry: Arc<dyn Registry>,
    greeter: Greeter,
    servers: Vec<RunningServer>,
}

impl System {
    async fn start() -> Self {
        let etcd = EtcdServer::start().await;
        let registry: Arc<dyn Registry> =
            Arc::new(EtcdRegistry::new(etcd.options()).expect("valid options"));
        let greeter = Greeter::default();
        let mut servers = Vec::new();
        for _ in 0..2 {
            let server = Server::new("greeter")
                .registry(Arc::clone(&registry))
                .handle(GreeterServer::new(greeter.clone()))
                .start()
                .await
                .unwrap();
            servers.push(server);
        }
        let streamer = Server::new("streamer")
            .registry(Arc::clone(&registry))
            .handle(StreamerServer::new(Streamer))
            .start()
            .await
            .unwrap();
        servers.push(streamer);
        Self {
            etcd,
            registry,
            greeter,
            servers,
        }
    }

    /// Runs `micro ARGS` against this system's etcd, with `stdin` as its input.
    async fn micro_with(&self, args: &[&str], stdin: &str) -> Run {
        run(&self.etcd.client_address(), args, stdin).await
    }

    async fn micro(&self, args: &[&str]) -> Run {
        self.micro_with(args, "").await
    }

    async fn stop(self) {
        for server in self.servers {
            server.stop().await.unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_lists_each_with_its_versions_and_nodes() {
    let system = System::start().await;
    let run = system.micro(&["services"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.stdout,
        "NAME      VERSIONS  NODES\ngreeter   latest    2\nstreamer  latest    1\n"
    );
    let run = system.micro(&["services", "-o", "json"]).await;
    let records: Vec<ServiceRecord> = serde_json::from_str(&run.stdout).expect("records");
    let names: Vec<&str> = records.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["greeter", "streamer"]);
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_shows_nodes_and_every_endpoints_schema() {
    let system = System::start().await;
    let run = system.micro(&["describe", "greeter"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout
            .starts_with("service  greeter\nversion  latest\n\nID"),
        "{run:?}"
    );
    for server in &system.servers[..2] {
        let node = server.node();
        assert!(
            run.stdout.contains(&node.id) && run.stdout.contains(&node.address),
            "{run:?}"
        );
    }
    let endpoint = "Endpoint: Greeter.Hello\nRequest: HelloRequest {\n    name string\n}\nResponse: HelloResponse {\n    greeting string\n}\n";
    assert!(run.stdout.contains(endpoint), "{run:?}");
    // The Micro toolkit's spelling prints the same.
    let get = system.micro(&["get", "service", "greeter"]).await;
    assert_eq!(get.stdout, run.stdout);
    let streams = system.micro(&["describe", "streamer"]).await;
    assert!(
        streams
            .stdout
            .contains("Endpoint: Streamer.Countdown\nMetadata: stream=true\n"),
        "{streams:?}"
    );
    let json = system.micro(&["describe", "greeter", "-o", "json"]).await;
    let records: Vec<ServiceRecord> = serde_json::from_str(&json.stdout).expect("records");
    assert_eq!(records[0].nodes.len(), 2);
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_prints_the_reply_as_indented_json() {
    let system = System::start().await;
    let run = system
        .micro(&["call", "greeter", "Greeter.Hello", r#"{"name": "John"}"#])
        .await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "{\n  \"greeting\": \"Hello John\"\n}\n");
    let stdin = system
        .micro_with(
            &["call", "greeter", "Greeter.Hello", "-"],
            r#"{"name": "Ann"}"#,
        )
        .await;
    assert_eq!(
        stdin.stdout, "{\n  \"greeting\": \"Hello Ann\"\n}\n",
        "{stdin:?}"
    );
    let traced = system
        .micro(&[
            "call",
            "greeter",
            "Greeter.Hello",
            r#"{"name": "echo-metadata"}"#,
            "-m",
            "Trace-Id=t-42",
        ])
        .await;
    assert!(traced.stdout.contains("t-42"), "{traced:?}");
    let address = system.servers[0].node().address.clone();
    let direct = system
        .micro(&[
            "call",
            "greeter",
            "Greeter.Hello",
            r#"{"name":"Bo"}"#,
            "--address",
            &address,
        ])
        .await;
    assert!(direct.stdout.contains("Hello Bo"), "{direct:?}");
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused_before_sending() {
    let system = System::start().await;
    let calls = || system.greeter.calls.load(Ordering::SeqCst);
    let before = calls();
    let cases: [(&str, &str); 4] = [
        (
            r#"{"name": "John",}"#,
            "not valid JSON: trailing comma at line 1, column 17",
        ),
        (
            r#"{"nmae": "John"}"#,
            "HelloRequest has no field \"nmae\"; did you mean name?",
        ),
        (
            r#"{"name": 42}"#,
            "field name: expected string, got a number 42",
        ),
        (
            "[1, 2]",
            "the request: expected a JSON object for HelloRequest",
        ),
    ];
    for (body, why) in cases {
        let run = system
            .micro(&["call", "greeter", "Greeter.Hello", body])
            .await;
        assert_eq!(run.code, 2, "{body}: {run:?}");
        assert!(run.stderr.contains(why), "{body}: {run:?}");
    }
    let stream = system
        .micro(&["call", "streamer", "Streamer.Countdown", "{}"])
        .await;
    assert_eq!(stream.code, 2, "{stream:?}");
    assert!(stream.stderr.contains("use micro stream"), "{stream:?}");
    let unary = system
        .micro(&["stream", "greeter", "Greeter.Hello", "{}"])
        .await;
    assert_eq!(unary.code, 2, "{unary:?}");
    assert!(unary.stderr.contains("use micro call"), "{unary:?}");
    assert_eq!(calls(), before, "a refused request reached the handler");
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_names_say_so_with_near_matches() {
    let system = System::start().await;
    let service = system.micro(&["call", "gretter", "Greeter.Hello"]).await;
    assert_eq!(service.code, 3, "{service:?}");
    assert!(
        service.stderr.contains("did you mean greeter?"),
        "{service:?}"
    );
    let endpoint = system.micro(&["call", "greeter", "Greeter.Helo"]).await;
    assert_eq!(endpoint.code, 3, "{endpoint:?}");
    assert!(
        endpoint.stderr.contains("did you mean Greeter.Hello?"),
        "{endpoint:?}"
    );
    let describe = system.micro(&["describe", "payments"]).await;
    assert_eq!(describe.code, 3, "{describe:?}");
    assert!(
        describe.stderr.contains("it has: greeter, streamer"),
        "{describe:?}"
    );
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_print_go_micro_json_with_distinct_exit_codes() {
    let system = System::start().await;
    let app = system
        .micro(&["call", "greeter", "Greeter.Hello", r#"{"name": ""}"#])
        .await;
    assert_eq!(app.code, 1, "{app:?}");
    let error = error_json(&app);
    assert_eq!(
        (error["code"].as_i64(), error["id"].as_str()),
        (Some(400), Some("greeter"))
    );
    let slow = system
        .micro(&[
            "call",
            "greeter",
            "Greeter.Hello",
            r#"{"name": "slow"}"#,
            "--timeout",
            "100ms",
        ])
        .await;
    assert_eq!(slow.code, 4, "{slow:?}");
    assert_eq!(error_json(&slow)["code"], 408);
    // A node that is gone: nothing listens on a port that was just freed.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let gone = closed.local_addr().unwrap().to_string();
    drop(closed);
    let unreachable = system
        .micro(&["call", "greeter", "Greeter.Hello", "{}", "--address", &gone])
        .await;
    assert_eq!(unreachable.code, 5, "{unreachable:?}");
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_registry_is_reported_with_its_address_promptly() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = closed.local_addr().unwrap().to_string();
    drop(closed);
    let started = Instant::now();
    let run = run(&address, &["services"], "").await;
    assert_eq!(run.code, 5, "{run:?}");
    assert!(run.stderr.contains(&address), "{run:?}");
    assert!(!run.stderr.contains("timed out"), "{run:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_checks_every_node() {
    let system = System::start().await;
    let run = system.micro(&["health", "greeter"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.stdout.lines().filter(|l| l.ends_with("  ok")).count(),
        2,
        "{run:?}"
    );
    // A third node whose process is gone: registered, but nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let gone = closed.local_addr().unwrap().to_string();
    drop(closed);
    let mut record = system
        .registry
        .get_service("greeter")
        .await
        .unwrap()
        .remove(0);
    record.nodes = vec![Node {
        id: "greeter-gone".into(),
        address: gone.clone(),
        ..Node::default()
    }];
    system.registry.register(&record, None).await.unwrap();
    let run = system.micro(&["health", "greeter"]).await;
    assert_eq!(run.code, 1, "{run:?}");
    let row = run
        .stdout
        .lines()
        .find(|l| l.contains("greeter-gone"))
        .expect("a row");
    assert!(row.contains("unhealthy") && row.contains(&gone), "{run:?}");
    assert!(
        run.stderr
            .contains("1 of 3 nodes of greeter are not healthy"),
        "{run:?}"
    );
    system.stop().await;
}

/// go-micro's own etcd record of a greeter node, as the corpus holds it.
fn go_micro_record() -> String {
    tests::wire::dir()
        .join("registry-etcd/greeter-value.json")
        .to_string_lossy()
        .into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_go_micro_record_registers_describes_and_deregisters() {
    let etcd = EtcdServer::start().await;
    let address = etcd.client_address();
    let file = go_micro_record();
    let run1 = run(&address, &["register", &file, "--ttl", "60s"], "").await;
    assert_eq!(run1.code, 0, "{run1:?}");
    assert!(
        run1.stderr.contains("registered greeter latest (1 nodes)"),
        "{run1:?}"
    );
    // Read back through micro's own registry: go-micro's key and record, byte for byte.
    let registry = EtcdRegistry::new(etcd.options()).unwrap();
    let records = registry.get_service("greeter").await.unwrap();
    let expected: ServiceRecord = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(records, [expected]);
    let describe = run(&address, &["describe", "greeter"], "").await;
    assert!(
        describe
            .stdout
            .contains("greeter-ac8cf5f5-eb7a-456a-aef3-3b48204aef16  127.0.0.1:18120"),
        "{describe:?}"
    );
    assert!(
        describe
            .stdout
            .contains("Request: HelloRequest {\n    name string\n}"),
        "{describe:?}"
    );
    let run2 = run(&address, &["deregister", &file], "").await;
    assert_eq!(run2.code, 0, "{run2:?}");
    assert!(registry.get_service("greeter").await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_record_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, r#"{"name": "x", "nodes": [}"#).unwrap();
    let nodeless = dir.path().join("nodeless.json");
    std::fs::write(&nodeless, r#"{"name": "x", "version": "1"}"#).unwrap();
    for (file, why) in [
        (&broken, "is not a service record"),
        (&nodeless, "has no nodes"),
    ] {
        let run = run("127.0.0.1:1", &["register", file.to_str().unwrap()], "").await;
        assert_eq!(run.code, 2, "{run:?}");
        assert!(run.stderr.contains(why), "{run:?}");
    }
}

#[tokio::test]
async fn completions_for_every_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let run = run("127.0.0.1:1", &["completions", shell], "").await;
        assert_eq!(run.code, 0, "{run:?}");
        for command in [
            "services", "describe", "call", "health", "watch", "register",
        ] {
            assert!(run.stdout.contains(command), "{shell} lacks {command}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_carries_every_kind_as_json_lines() {
    let system = System::start().await;
    // Server stream: the argument is the request.
    let countdown = system
        .micro(&["stream", "streamer", "Streamer.Countdown", r#"{"from": 3}"#])
        .await;
    assert_eq!(countdown.code, 0, "{countdown:?}");
    assert_eq!(
        countdown.stdout,
        "{\"value\":3}\n{\"value\":2}\n{\"value\":1}\n"
    );
    // Client stream: newline-delimited JSON on stdin, one reply.
    let sum = system
        .micro_with(
            &["stream", "streamer", "Streamer.Sum"],
            "{\"value\": 1}\n\n{\"value\": 2}\n{\"value\": \"3\"}\n",
        )
        .await;
    assert_eq!(sum.code, 0, "{sum:?}");
    let total: serde_json::Value = serde_json::from_str(sum.stdout.trim()).unwrap();
    assert_eq!(
        (total["sum"].as_str(), total["count"].as_u64()),
        (Some("6"), Some(3))
    );
    // Bidirectional: every line echoed, in order, then a clean end at EOF.
    let echo = system
        .micro_with(
            &["stream", "streamer", "Streamer.Echo"],
            "{\"text\": \"a\"}\n{\"text\": \"b\"}\n",
        )
        .await;
    assert_eq!(echo.code, 0, "{echo:?}");
    let texts: Vec<String> = echo
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["text"].to_string())
        .collect();
    assert_eq!(texts, ["\"a\"", "\"b\""]);
    // A stream that ends in an error: the messages before it, then the error JSON.
    let unlucky = system
        .micro(&[
            "stream",
            "streamer",
            "Streamer.Countdown",
            r#"{"from": 20}"#,
        ])
        .await;
    assert_eq!(unlucky.code, 1, "{unlucky:?}");
    assert_eq!(unlucky.stdout.lines().count(), 8, "{unlucky:?}");
    assert_eq!(error_json(&unlucky)["code"], 500);
    // A bad line is refused with its number.
    let bad = system
        .micro_with(
            &["stream", "streamer", "Streamer.Echo"],
            "{\"text\": \"a\"}\n{\"txet\": \"b\"}\n",
        )
        .await;
    assert_eq!(bad.code, 2, "{bad:?}");
    assert!(bad.stderr.contains("line 2: field txet"), "{bad:?}");
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fields_as_flags_are_typed_by_the_schema() {
    let system = System::start().await;
    let flags = system
        .micro(&[
            "call",
            "greeter",
            "Greeter.Hello",
            "--name=John",
            "--timeout",
            "2s",
        ])
        .await;
    assert_eq!(flags.code, 0, "{flags:?}");
    assert_eq!(flags.stdout, "{\n  \"greeting\": \"Hello John\"\n}\n");
    let spaced = system
        .micro(&[
            "call",
            "greeter",
            "Greeter.Hello",
            "--name",
            "echo-metadata",
            "-m",
            "Trace-Id=f",
        ])
        .await;
    assert!(spaced.stdout.contains("\"f\""), "{spaced:?}");
    let typo = system
        .micro(&["call", "greeter", "Greeter.Hello", "--nmae=John"])
        .await;
    assert_eq!(typo.code, 2, "{typo:?}");
    assert!(typo.stderr.contains("did you mean name?"), "{typo:?}");
    let both = system
        .micro(&["call", "greeter", "Greeter.Hello", "{}", "--name=John"])
        .await;
    assert_eq!(both.code, 2, "{both:?}");
    system.stop().await;
}

/// Registers go-micro's own greeter record from the corpus, its node moved to `address`.
async fn register_go_micro_greeter(registry: &EtcdRegistry, address: &str) {
    let mut record: ServiceRecord =
        serde_json::from_slice(&std::fs::read(go_micro_record()).unwrap()).unwrap();
    record.nodes[0].address = address.to_string();
    registry.register(&record, None).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_a_go_micro_service_from_its_record_and_its_bytes() {
    use tests::go_server::{End, GoServer, Step};
    use tests::wire;
    let etcd = EtcdServer::start().await;
    let registry = EtcdRegistry::new(etcd.options()).unwrap();
    // Stand-ins that answer with the bytes go-micro v6.10.0's server sent: a reply, and an
    // application error. Each `micro` run is a new connection, so each gets its own.
    let mut server = GoServer::start(
        vec![Step::new(1, wire::read("unary-json/s2c.bin"))],
        End::Hold,
        true,
    )
    .await;
    register_go_micro_greeter(&registry, &server.address.to_string()).await;
    let reply = run(
        &etcd.client_address(),
        &["call", "greeter", "Greeter.Hello", "--name=John"],
        "",
    )
    .await;
    assert_eq!(reply.code, 0, "{reply:?}");
    assert_eq!(reply.stdout, "{\n  \"greeting\": \"Hello John\"\n}\n");

    let failing = GoServer::start(
        vec![Step::new(1, wire::read("unary-error-json/s2c.bin"))],
        End::Hold,
        true,
    )
    .await;
    register_go_micro_greeter(&registry, &failing.address.to_string()).await;
    let error = run(
        &etcd.client_address(),
        &["call", "greeter", "Greeter.Hello", r#"{"name": ""}"#],
        "",
    )
    .await;
    assert_eq!(error.code, 1, "{error:?}");
    assert_eq!(error_json(&error)["detail"], "name must not be empty");
    // What the command sent is what a go-micro server reads: its routing headers and the JSON.
    let request = server.requests.recv().await.expect("a request");
    assert_eq!(request.headers.get("Micro-Endpoint"), Some("Greeter.Hello"));
    assert_eq!(
        request.headers.get("Content-Type"),
        Some("application/json")
    );
    assert_eq!(&request.body[..], br#"{"name":"John"}"#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_hangs_up_a_stream_and_its_handler_stops() {
    use tokio::io::AsyncWriteExt;
    let etcd = EtcdServer::start().await;
    let registry: Arc<dyn Registry> = Arc::new(EtcdRegistry::new(etcd.options()).unwrap());
    let (ended_tx, mut ended) = tokio::sync::mpsc::unbounded_channel();
    let server = Server::new("streamer")
        .registry(registry)
        .handle(StreamerServer::new(Probe { ended: ended_tx }))
        .start()
        .await
        .unwrap();
    let env = etcd_env(&etcd.client_address());
    let mut stream = LongRun::start(&env, &["stream", "streamer", "Streamer.Echo"]);
    let stdin = stream.child.stdin.as_mut().unwrap();
    stdin.write_all(b"{\"text\": \"hi\"}\n").await.unwrap();
    let echoed: serde_json::Value = serde_json::from_str(&line(&mut stream.stdout).await).unwrap();
    assert_eq!(echoed["text"], "hi");
    // The stream is open, and micro is reading a stdin that stays open: Ctrl-C.
    stream.signal("INT");
    assert_eq!(stream.exit_code().await, 130);
    assert_eq!(
        stream.stderr.next_line().await.unwrap(),
        None,
        "nothing printed"
    );
    let how = tokio::time::timeout(WAIT, ended.recv()).await.unwrap();
    assert_eq!(how, Some("cancelled"), "the hang-up stopped the handler");

    // A quiet stream whose input has ended (stdin closed, so micro sent its EOS; Probe's sum
    // reports it and then answers nothing): Ctrl-C still hangs up, and the handler stops.
    let mut quiet = LongRun::start(&env, &["stream", "streamer", "Streamer.Sum"]);
    let mut stdin = quiet.child.stdin.take().unwrap();
    stdin.write_all(b"{\"value\": 1}\n").await.unwrap();
    drop(stdin);
    let how = tokio::time::timeout(WAIT, ended.recv()).await.unwrap();
    assert_eq!(how, Some("eos"));
    quiet.signal("INT");
    assert_eq!(quiet.exit_code().await, 130);
    let how = tokio::time::timeout(WAIT, ended.recv()).await.unwrap();
    assert_eq!(how, Some("cancelled"), "the hang-up stopped the handler");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn help_lists_every_command_and_each_has_examples() {
    let help = run("127.0.0.1:1", &["--help"], "").await;
    assert_eq!(help.code, 0, "{help:?}");
    let commands = [
        "services",
        "describe",
        "get",
        "call",
        "stream",
        "health",
        "publish",
        "subscribe",
        "watch",
        "register",
        "deregister",
        "api",
        "web",
        "new",
        "completions",
    ];
    for command in commands {
        let listed = help
            .stdout
            .lines()
            .any(|line| line.trim_start().starts_with(&format!("{command} ")));
        assert!(listed, "--help does not list {command}:\n{}", help.stdout);
        let own = run("127.0.0.1:1", &[command, "--help"], "").await;
        assert_eq!(own.code, 0, "{command} --help: {own:?}");
        assert!(
            own.stdout.contains("Example"),
            "{command} --help has no example:\n{}",
            own.stdout
        );
    }
    assert!(help.stdout.contains("Exit codes:"), "{}", help.stdout);
}
