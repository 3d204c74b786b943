//! `micro api`, the real binary, in front of real service processes found in a real etcd, called
//! with real curl: go-micro's path rules, `/rpc`, the error mapping, CORS and metadata.

mod common;

use common::{LongRun, ServiceProcess, WAIT, etcd_env};
use tests::etcd::EtcdServer;

type Env = Vec<(String, String)>;

/// A running `micro api` and its base URL.
struct Api {
    run: LongRun,
    url: String,
}

impl Api {
    async fn start(env: &Env, flags: &[&str]) -> Self {
        let mut args = vec!["api", "--address", "127.0.0.1:0"];
        args.extend(flags);
        Self::launch(env, &args).await
    }

    /// `micro ARGS` (api or web), once it says where it listens.
    async fn launch(env: &Env, args: &[&str]) -> Self {
        let (run, ready) = LongRun::ready(env, args).await;
        let url = ready
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in {ready:?}"))
            .to_string();
        Self { run, url }
    }

    /// Stops it as Ctrl-C does; it exits with 0.
    async fn stop(mut self) {
        self.run.signal("INT");
        assert_eq!(self.run.exit_code().await, 0, "micro api stops cleanly");
    }
}

/// What curl got: the status, the headers (names lowercased) and the body.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {self:?}"))
    }
}

/// Runs `curl -s -i ARGS URL`.
async fn curl(url: &str, args: &[&str]) -> Reply {
    let output = tokio::time::timeout(
        WAIT,
        tokio::process::Command::new("curl")
            .args(["-s", "-S", "-i"])
            .args(args)
            .arg(url)
            .output(),
    )
    .await
    .expect("curl finishes")
    .expect("curl runs");
    assert!(output.status.success(), "curl {args:?} {url}: {output:?}");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("headers, then a body");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Reply {
        status,
        headers,
        body: body.to_string(),
    }
}

/// POSTs `json` as JSON to `url`.
async fn post(url: &str, json: &str) -> Reply {
    curl(url, &["-H", "Content-Type: application/json", "-d", json]).await
}

/// The greeting of a 200 reply.
fn greeting(reply: &Reply) -> String {
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.json()["greeting"]
        .as_str()
        .expect("a greeting")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_resolve_as_go_micro_gateways_do() {
    let etcd = EtcdServer::start().await;
    let env = etcd_env(&etcd.client_address());
    let mut services = Vec::new();
    for name in ["greeter", "v1.greeter", "go.micro.srv.greeter"] {
        services.push(ServiceProcess::start(&env, &["greeter", name]).await);
    }
    let api = Api::start(&env, &[]).await;
    let url = |path: &str| format!("{}{path}", api.url);

    let hello = post(&url("/greeter/hello"), r#"{"name": "John"}"#).await;
    assert_eq!(greeting(&hello), "Hello John");
    assert_eq!(hello.header("content-type"), Some("application/json"));
    // Each rule, told apart by which service answers.
    let which = r#"{"name": "which-node"}"#;
    for (path, service) in [
        ("/greeter/hello", "greeter"),
        ("/greeter/Greeter.Hello", "greeter"),
        ("/greeter/Greeter/Hello", "greeter"),
        ("/v1/greeter/hello", "v1.greeter"),
        (
            "/go/micro/srv/greeter/greeter/hello",
            "go.micro.srv.greeter",
        ),
    ] {
        assert_eq!(greeting(&post(&url(path), which).await), service, "{path}");
    }
    let by_header = curl(
        &url("/go.micro.srv.greeter"),
        &["-H", "Micro-Endpoint: Greeter.Hello", "-d", which],
    )
    .await;
    assert_eq!(greeting(&by_header), "go.micro.srv.greeter");
    // `/foo` is `Foo.Call`, which the greeter lacks: the 404 says what the path resolved to.
    let call = post(&url("/greeter"), "{}").await;
    assert_eq!(call.status, 404, "{call:?}");
    let detail = call.json()["detail"].as_str().unwrap().to_string();
    assert!(
        detail.contains("resolved to service greeter, endpoint Greeter.Call"),
        "{detail}"
    );
    // The request from a query string, a form, or JSON sent the way `curl -d` labels it.
    let query = curl(&url("/greeter/hello?name=Query"), &[]).await;
    assert_eq!(greeting(&query), "Hello Query");
    let form = curl(&url("/greeter/hello"), &["-d", "name=Form"]).await;
    assert_eq!(greeting(&form), "Hello Form");
    let plain = curl(&url("/greeter/hello"), &["-d", r#"{"name": "Plain"}"#]).await;
    assert_eq!(greeting(&plain), "Hello Plain");
    // Protobuf goes through as it is: HelloRequest{name: "John"} in, HelloResponse out.
    let proto = tokio::process::Command::new("curl")
        .args([
            "-s",
            "-H",
            "Content-Type: application/protobuf",
            "--data-binary",
            "@-",
        ])
        .arg(url("/greeter/hello"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let proto = {
        use tokio::io::AsyncWriteExt;
        let mut proto = proto;
        let mut stdin = proto.stdin.take().unwrap();
        stdin.write_all(b"\x0a\x04John").await.unwrap();
        drop(stdin);
        proto.wait_with_output().await.unwrap()
    };
    assert_eq!(proto.stdout, b"\x0a\x0aHello John");

    let index = curl(&url("/"), &[]).await;
    let listed = index.json();
    let names: Vec<&str> = listed
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["go.micro.srv.greeter", "greeter", "v1.greeter"],
        "{index:?}"
    );
    let health = curl(&url("/health"), &[]).await;
    assert_eq!(
        (health.status, health.json()),
        (200, serde_json::json!({"status": "ok"}))
    );
    api.stop().await;

    // A namespace prefixes every resolved name; an allowed header becomes metadata.
    let api = Api::start(
        &env,
        &["--namespace", "go.micro.srv", "--header", "Trace-Id"],
    )
    .await;
    let named = post(&format!("{}/greeter/hello", api.url), which).await;
    assert_eq!(greeting(&named), "go.micro.srv.greeter");
    let traced = curl(
        &format!("{}/greeter/hello", api.url),
        &["-H", "Trace-Id: t-1", "-d", r#"{"name": "echo-metadata"}"#],
    )
    .await;
    assert_eq!(greeting(&traced), "t-1");
    api.stop().await;
    // Without --header, that header stays at the gateway.
    let api = Api::start(&env, &[]).await;
    let untraced = curl(
        &format!("{}/greeter/hello", api.url),
        &["-H", "Trace-Id: t-1", "-d", r#"{"name": "echo-metadata"}"#],
    )
    .await;
    assert_eq!(greeting(&untraced), "none");
    api.stop().await;
    for service in services {
        service.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_map_to_http_statuses() {
    let etcd = EtcdServer::start().await;
    let env = etcd_env(&etcd.client_address());
    let greeter = ServiceProcess::start(&env, &["greeter"]).await;
    let lonely = ServiceProcess::start(&env, &["greeter", "lonely"]).await;
    let api = Api::start(&env, &["--max-body", "1024"]).await;
    let url = |path: &str| format!("{}{path}", api.url);
    let error = |reply: &Reply, status: u16, id: &str| {
        assert_eq!(reply.status, status, "{reply:?}");
        assert_eq!(reply.header("content-type"), Some("application/json"));
        let json = reply.json();
        assert_eq!(
            (json["code"].as_u64(), json["id"].as_str()),
            (Some(status.into()), Some(id)),
            "{reply:?}"
        );
        json["detail"].as_str().unwrap().to_string()
    };

    // The service's own error: its code and its id.
    let empty = post(&url("/greeter/hello"), r#"{"name": ""}"#).await;
    assert_eq!(error(&empty, 400, "greeter"), "name must not be empty");
    // What the gateway could not resolve, with what it tried.
    let nobody = post(&url("/nosuch/hello"), "{}").await;
    let detail = error(&nobody, 404, "go.micro.api");
    assert!(
        detail.contains("resolved to service nosuch, endpoint Nosuch.Hello"),
        "{detail}"
    );
    let misspelt = post(&url("/greeter/helo"), "{}").await;
    let detail = error(&misspelt, 404, "go.micro.api");
    assert!(detail.contains("its endpoints: Greeter.Hello"), "{detail}");
    // Bad requests, refused before anything is sent.
    let malformed = post(&url("/greeter/hello"), r#"{"name": }"#).await;
    assert!(error(&malformed, 400, "go.micro.api").contains("line 1, column 10"));
    let text = curl(
        &url("/greeter/hello"),
        &["-H", "Content-Type: text/plain", "-d", "hi"],
    )
    .await;
    error(&text, 415, "go.micro.api");
    let big = format!(r#"{{"name": "{}"}}"#, "x".repeat(2000));
    error(
        &post(&url("/greeter/hello"), &big).await,
        413,
        "go.micro.api",
    );
    // Too slow for the caller's Timeout: 504.
    let slow = curl(
        &url("/greeter/hello"),
        &["-H", "Timeout: 100ms", "-d", r#"{"name": "slow"}"#],
    )
    .await;
    error(&slow, 504, "go.micro.api");
    // A crashed process's node is still registered, and nothing answers there: 503.
    lonely.kill().await;
    let down = post(&url("/lonely/Greeter.Hello"), r#"{"name": "John"}"#).await;
    assert!(error(&down, 503, "go.micro.api").contains("lonely is unreachable"));

    // /rpc: the envelope, with the request as an object or a string, in JSON or as a form.
    let rpc = url("/rpc");
    let ok = post(
        &rpc,
        r#"{"service": "greeter", "endpoint": "Greeter.Hello", "request": {"name": "John"}}"#,
    )
    .await;
    assert_eq!(greeting(&ok), "Hello John");
    let as_string = post(
        &rpc,
        r#"{"service": "greeter", "method": "Greeter.Hello", "request": "{\"name\": \"S\"}"}"#,
    )
    .await;
    assert_eq!(greeting(&as_string), "Hello S");
    let form = curl(&rpc, &["-d", "service=greeter&endpoint=Greeter.Hello"]).await;
    error(&form, 400, "greeter");
    let at_node = post(&rpc, &format!(r#"{{"service": "greeter", "endpoint": "Greeter.Hello", "address": "{}", "request": {{"name": "N"}}}}"#, greeter.address)).await;
    assert_eq!(greeting(&at_node), "Hello N");
    let elsewhere = post(
        &rpc,
        r#"{"service": "greeter", "endpoint": "Greeter.Hello", "address": "127.0.0.1:1"}"#,
    )
    .await;
    assert!(error(&elsewhere, 403, "go.micro.rpc").contains("not a registered node"));
    let missing = post(&rpc, r#"{"endpoint": "Greeter.Hello"}"#).await;
    assert!(error(&missing, 400, "go.micro.rpc").contains("\"service\" is missing"));
    let unknown = post(&rpc, r#"{"service": "nosuch", "endpoint": "X.Y"}"#).await;
    error(&unknown, 404, "go.micro.api");

    api.stop().await;
    greeter.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_answers_only_allowed_origins() {
    let etcd = EtcdServer::start().await;
    let env = etcd_env(&etcd.client_address());
    let greeter = ServiceProcess::start(&env, &["greeter"]).await;
    let api = Api::start(&env, &["--cors", "http://app.example,http://other.example"]).await;
    let url = format!("{}/greeter/hello", api.url);
    let preflight = curl(
        &url,
        &[
            "-X",
            "OPTIONS",
            "-H",
            "Origin: http://app.example",
            "-H",
            "Access-Control-Request-Method: POST",
            "-H",
            "Access-Control-Request-Headers: content-type, micro-endpoint",
        ],
    )
    .await;
    assert_eq!(preflight.status, 200, "{preflight:?}");
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some("http://app.example")
    );
    let methods = preflight
        .header("access-control-allow-methods")
        .unwrap_or("");
    assert!(methods.contains("POST"), "{preflight:?}");
    let allowed = preflight
        .header("access-control-allow-headers")
        .unwrap_or("");
    assert!(allowed.contains("micro-endpoint"), "{preflight:?}");
    let call = |origin: &'static str| {
        let url = url.clone();
        async move {
            let origin = format!("Origin: {origin}");
            curl(
                &url,
                &[
                    "-H",
                    &origin,
                    "-H",
                    "Content-Type: application/json",
                    "-d",
                    r#"{"name": "C"}"#,
                ],
            )
            .await
        }
    };
    let from_app = call("http://app.example").await;
    assert_eq!(greeting(&from_app), "Hello C");
    assert_eq!(
        from_app.header("access-control-allow-origin"),
        Some("http://app.example")
    );
    // Another page's post is refused outright: a browser sends some without asking first.
    let from_elsewhere = call("http://evil.example").await;
    assert_eq!(from_elsewhere.status, 403, "{from_elsewhere:?}");
    assert_eq!(
        from_elsewhere.header("access-control-allow-origin"),
        None,
        "{from_elsewhere:?}"
    );
    api.stop().await;

    // Off by default: no CORS headers at all, and another page's post refused.
    let api = Api::start(&env, &[]).await;
    let plain = curl(
        &format!("{}/greeter/hello", api.url),
        &["-H", "Origin: http://app.example", "-d", r#"{"name": "C"}"#],
    )
    .await;
    assert_eq!(plain.status, 403, "{plain:?}");
    let read = curl(
        &format!("{}/greeter/hello?name=C", api.url),
        &["-H", "Origin: http://app.example"],
    )
    .await;
    assert_eq!(
        greeting(&read),
        "Hello C",
        "a GET is answered, without CORS headers"
    );
    assert!(
        !read
            .headers
            .iter()
            .any(|(n, _)| n.starts_with("access-control")),
        "{read:?}"
    );
    api.stop().await;
    // A value that is not an origin is refused before the gateway starts.
    let bad = common::run_with(
        &env,
        &["api", "--address", "127.0.0.1:0", "--cors", "app.example/x"],
        "",
    )
    .await;
    assert_eq!(bad.code, 2, "{bad:?}");
    assert!(bad.stderr.contains("is not an origin"), "{bad:?}");
    greeter.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_as_json_lines_and_server_sent_events() {
    let etcd = EtcdServer::start().await;
    let env = etcd_env(&etcd.client_address());
    let streamer = ServiceProcess::start(&env, &["streamer"]).await;
    let api = Api::start(&env, &[]).await;
    let url = |path: &str| format!("{}{path}", api.url);

    // A server stream as JSON lines: the body is the request.
    let countdown = post(&url("/streamer/countdown"), r#"{"from": 3}"#).await;
    assert_eq!(countdown.status, 200, "{countdown:?}");
    assert_eq!(
        countdown.header("content-type"),
        Some("application/x-ndjson")
    );
    assert_eq!(
        countdown.body,
        "{\"value\":3}\n{\"value\":2}\n{\"value\":1}\n"
    );
    // A client stream: the body's messages, one reply.
    let sum = post(&url("/streamer/sum"), "{\"value\": 4}\n{\"value\": 5}\n").await;
    let total: serde_json::Value = serde_json::from_str(sum.body.trim()).unwrap();
    assert_eq!(
        (total["sum"].as_str(), total["count"].as_u64()),
        (Some("9"), Some(2))
    );
    // A stream that fails: the messages before, then the error as the last line.
    let unlucky = post(&url("/streamer/countdown"), r#"{"from": 20}"#).await;
    let last: serde_json::Value =
        serde_json::from_str(unlucky.body.lines().last().unwrap()).unwrap();
    assert_eq!(unlucky.body.lines().count(), 9, "{unlucky:?}");
    assert_eq!(last["error"]["code"], 500, "{unlucky:?}");
    // A bad message is refused before the stream opens.
    let bad = post(&url("/streamer/sum"), "{\"value\": 1}\n[2]\n").await;
    assert_eq!(bad.status, 400, "{bad:?}");
    assert!(
        bad.body.contains("message 2: must be a JSON object"),
        "{bad:?}"
    );

    // Server-Sent Events, the request from the query string.
    let events = curl(
        &url("/streamer/countdown?from=2"),
        &["-N", "-H", "Accept: text/event-stream"],
    )
    .await;
    assert_eq!(
        events.header("content-type"),
        Some("text/event-stream"),
        "{events:?}"
    );
    assert_eq!(
        events.body,
        "data: {\"value\":2}\n\ndata: {\"value\":1}\n\nevent: end\ndata: {}\n\n"
    );
    let failing = curl(
        &url("/streamer/countdown?from=20"),
        &["-N", "-H", "Accept: text/event-stream"],
    )
    .await;
    assert!(failing.body.ends_with("}\n\n"), "{failing:?}");
    let error = failing.body.rsplit("event: error\ndata: ").next().unwrap();
    let error: serde_json::Value = serde_json::from_str(error.trim()).unwrap();
    assert_eq!(error["code"], 500, "{failing:?}");
    api.stop().await;
    streamer.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_over_websockets() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    let etcd = EtcdServer::start().await;
    let env = etcd_env(&etcd.client_address());
    let streamer = ServiceProcess::start(&env, &["streamer"]).await;
    let api = Api::start(&env, &[]).await;
    let ws = |path: &str| format!("{}{path}", api.url.replace("http://", "ws://"));
    let connect = |url: String| async move {
        tokio_tungstenite::connect_async(url)
            .await
            .expect("the WebSocket opens")
            .0
    };

    // Bidirectional: each message echoed as it is sent.
    let mut echo = connect(ws("/streamer/echo")).await;
    for text in ["one", "two"] {
        let message = format!(r#"{{"text": "{text}"}}"#);
        echo.send(Message::text(message)).await.unwrap();
        let reply = next(&mut echo).await.unwrap().unwrap();
        let reply: serde_json::Value = serde_json::from_str(reply.to_text().unwrap()).unwrap();
        assert_eq!(reply["text"], text);
    }
    // An empty frame ends the client's side; the service ends the stream: close 1000.
    echo.send(Message::text("")).await.unwrap();
    match next(&mut echo).await {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(u16::from(frame.code), 1000),
        other => panic!("expected a close: {other:?}"),
    }

    // A server stream: the query string is the request.
    let mut countdown = connect(ws("/streamer/countdown?from=2")).await;
    let mut values = Vec::new();
    loop {
        match next(&mut countdown).await {
            Some(Ok(Message::Text(text))) => values.push(text.to_string()),
            Some(Ok(Message::Close(Some(frame)))) => {
                assert_eq!(u16::from(frame.code), 1000);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(values, [r#"{"value":2}"#, r#"{"value":1}"#]);

    // A client stream: messages, the empty frame, then the one reply.
    let mut sum = connect(ws("/streamer/sum")).await;
    for value in [2, 3] {
        sum.send(Message::text(format!(r#"{{"value": {value}}}"#)))
            .await
            .unwrap();
    }
    sum.send(Message::text("")).await.unwrap();
    let reply = next(&mut sum).await.unwrap().unwrap();
    let reply: serde_json::Value = serde_json::from_str(reply.to_text().unwrap()).unwrap();
    assert_eq!(reply["sum"], "5");

    // The service's error closes with 4000 + its code.
    let mut unlucky = connect(ws("/streamer/countdown?from=20")).await;
    let code = loop {
        match next(&mut unlucky).await {
            Some(Ok(Message::Text(_))) => continue,
            Some(Ok(Message::Close(Some(frame)))) => break u16::from(frame.code),
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(code, 4500);
    // A frame that is not a JSON object closes with 1007.
    let mut bad = connect(ws("/streamer/echo")).await;
    bad.send(Message::text("[1, 2]")).await.unwrap();
    match next(&mut bad).await {
        Some(Ok(Message::Close(Some(frame)))) => {
            assert_eq!(u16::from(frame.code), 1007);
            assert!(frame.reason.contains("JSON object"), "{frame:?}");
        }
        other => panic!("expected a close: {other:?}"),
    }
    api.stop().await;
    streamer.stop().await;
}

/// The next WebSocket message, within [`WAIT`].
async fn next<S>(socket: &mut S) -> Option<S::Item>
where
    S: futures_util::Stream + Unpin,
{
    use futures_util::StreamExt;
    tokio::time::timeout(WAIT, socket.next())
        .await
        .expect("a message in time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_declared_in_the_proto_are_served_first() {
    let etcd = EtcdServer::start().await;
    let env = etcd_env(&etcd.client_address());
    let api = Api::start(&env, &[]).await;
    let url = |path: &str| format!("{}{path}", api.url);
    // Before the catalog runs, the path rules apply: no service v1.
    let before = curl(&url("/v1/items/7"), &[]).await;
    assert_eq!(before.status, 404, "{before:?}");
    // The gateway watches the registry: the catalog's routes appear with it.
    let catalog = ServiceProcess::start(&env, &["catalog"]).await;
    let item = tokio::time::timeout(WAIT, async {
        loop {
            let reply = curl(&url("/v1/items/7"), &[]).await;
            if reply.status == 200 {
                break reply;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the catalog's routes appear");
    assert_eq!(item.json()["id"], "7", "{item:?}");
    assert_eq!(item.json()["title"], "Item 7");
    // A query parameter typed by the schema: `detailed` is a bool.
    let detailed = curl(&url("/v1/items/7?detailed=true"), &[]).await;
    assert_eq!(
        detailed.json()["detail"]["note"],
        "detail of 7",
        "{detailed:?}"
    );
    let mistyped = curl(&url("/v1/items/7?detailed=yes"), &[]).await;
    assert_eq!(mistyped.status, 400, "{mistyped:?}");
    assert!(
        mistyped.json()["detail"]
            .as_str()
            .unwrap()
            .contains("detailed=yes: expected true or false")
    );
    // The additional binding, with the whole body as the request; percent-decoded variables.
    let posted = post(&url("/v1/items:get"), r#"{"id": "8"}"#).await;
    assert_eq!(posted.json()["id"], "8", "{posted:?}");
    let spaced = curl(&url("/v1/items/a%20b"), &[]).await;
    assert_eq!(spaced.json()["id"], "a b", "{spaced:?}");
    // A server stream on a declared route; DELETE; the service's own 404.
    let listed = curl(&url("/v1/items"), &[]).await;
    assert_eq!(listed.body.lines().count(), 3, "{listed:?}");
    let cleared = curl(&url("/v1/items"), &["-X", "DELETE"]).await;
    assert_eq!(
        (cleared.status, cleared.json()),
        (200, serde_json::json!({}))
    );
    let missing = curl(&url("/v1/items/missing"), &[]).await;
    assert_eq!(
        (missing.status, missing.json()["id"].as_str()),
        (404, Some("catalog"))
    );
    // A declared path with another method: 405 naming the methods it takes.
    let put = curl(&url("/v1/items/7"), &["-X", "PUT", "-d", "{}"]).await;
    assert_eq!(put.status, 405, "{put:?}");
    assert_eq!(put.header("allow"), Some("GET"));
    // The path rules still reach the same endpoint.
    let by_rule = post(&url("/catalog/Catalog.GetItem"), r#"{"id": "9"}"#).await;
    assert_eq!(by_rule.json()["id"], "9", "{by_rule:?}");
    api.stop().await;
    catalog.stop().await;
}

/// The Python of the project's test tools (scripts/install-test-deps.sh makes it).
fn test_python(tool: &str) -> std::path::PathBuf {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/test-python/bin")
        .join(tool);
    assert!(
        path.exists(),
        "{} is missing: run ./scripts/install-test-deps.sh",
        path.display()
    );
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_validates_and_fuzzing_finds_no_server_error() {
    use micro_runtime::registry::{Endpoint, EtcdRegistry, Node, Registry, ServiceRecord};
    let etcd = EtcdServer::start().await;
    let env = etcd_env(&etcd.client_address());
    let greeter = ServiceProcess::start(&env, &["greeter"]).await;
    let catalog = ServiceProcess::start(&env, &["catalog"]).await;
    let streamer = ServiceProcess::start(&env, &["streamer"]).await;
    // A record whose name is markup: the docs page shows it as text.
    let registry = EtcdRegistry::new(etcd.options()).unwrap();
    let hostile = ServiceRecord {
        name: "<script>alert(1)</script>".into(),
        version: "latest".into(),
        nodes: vec![Node {
            id: "x-1".into(),
            address: "127.0.0.1:1".into(),
            ..Node::default()
        }],
        endpoints: vec![Endpoint {
            name: "Evil.<img src=x onerror=alert(2)>".into(),
            ..Endpoint::default()
        }],
        ..ServiceRecord::default()
    };
    registry.register(&hostile, None).await.unwrap();
    let api = Api::start(&env, &[]).await;

    let document = curl(&format!("{}/openapi.json", api.url), &[]).await;
    assert_eq!(document.status, 200, "{document:?}");
    let json = document.json();
    assert_eq!(json["openapi"], "3.1.0");
    let paths = json["paths"].as_object().unwrap();
    for path in [
        "/greeter/Greeter.Hello",
        "/v1/items/{id}",
        "/v1/items:get",
        "/rpc",
        "/health",
    ] {
        assert!(
            paths.contains_key(path),
            "{path} missing from {:?}",
            paths.keys()
        );
    }
    let get_item = &json["paths"]["/v1/items/{id}"]["get"];
    let parameters: Vec<(&str, &str)> = get_item["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["in"].as_str().unwrap()))
        .collect();
    assert_eq!(parameters, [("id", "path"), ("detailed", "query")]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, &document.body).unwrap();
    // The OpenAPI 3.1 schema, checked by a real validator.
    let validated = tokio::process::Command::new(test_python("python"))
        .args([
            "-c",
            "import json, sys\nfrom openapi_spec_validator import validate\nvalidate(json.load(open(sys.argv[1])))\nprint('valid')",
        ])
        .arg(&file)
        .output()
        .await
        .unwrap();
    assert!(
        validated.status.success(),
        "{}",
        String::from_utf8_lossy(&validated.stderr)
    );
    // schemathesis generates requests from the document (valid ones and invalid ones) against
    // the gateway: none may get a 5xx. The streamer's countdown could run for billions of
    // messages, so its tag is left out.
    let fuzzed = tokio::time::timeout(
        std::time::Duration::from_secs(300),
        tokio::process::Command::new(test_python("st"))
            .args(["run", &format!("{}/openapi.json", api.url)])
            .args(["--url", &api.url])
            .args(["--checks", "not_a_server_error"])
            .args(["--max-examples", "15"])
            .args(["--exclude-tag", "streamer"])
            .args(["--exclude-tag", "<script>alert(1)</script>"])
            .args(["--seed", "1"])
            .args(["--no-color"])
            .env("SCHEMATHESIS_HOOKS", "")
            // Its caches (.schemathesis/, .hypothesis/) go to the temporary directory.
            .current_dir(dir.path())
            .output(),
    )
    .await
    .expect("schemathesis finishes")
    .unwrap();
    let report = String::from_utf8_lossy(&fuzzed.stdout);
    assert!(
        fuzzed.status.success(),
        "schemathesis found failures:\n{report}\n{}",
        String::from_utf8_lossy(&fuzzed.stderr)
    );

    let page = curl(&format!("{}/docs", api.url), &[]).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("<code>GET /v1/items/{id}</code>"),
        "{page:?}"
    );
    assert!(
        page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{page:?}"
    );
    assert!(
        page.body
            .contains("Evil.&lt;img src=x onerror=alert(2)&gt;"),
        "{page:?}"
    );
    assert!(
        !page.body.contains("<script>alert") && !page.body.contains("<img"),
        "unescaped markup"
    );
    api.stop().await;
    for service in [greeter, catalog, streamer] {
        service.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_micro_toolkits_variables_set_addresses_and_cors() {
    let etcd = EtcdServer::start().await;
    let greeter = ServiceProcess::start(&etcd_env(&etcd.client_address()), &["greeter"]).await;
    let mut env = etcd_env(&etcd.client_address());
    env.push(("MICRO_API_ADDRESS".into(), "127.0.0.2:0".into()));
    env.push(("MICRO_API_CORS".into(), "http://app.example".into()));
    env.push(("MICRO_WEB_ADDRESS".into(), "127.0.0.3:0".into()));
    // No --address: the variables choose (the defaults are 127.0.0.1:8080 and :8082).
    let api = Api::launch(&env, &["api"]).await;
    assert!(api.url.starts_with("http://127.0.0.2:"), "{}", api.url);
    let allowed = curl(
        &format!("{}/greeter/hello", api.url),
        &["-H", "Origin: http://app.example", "-d", r#"{"name": "V"}"#],
    )
    .await;
    assert_eq!(greeting(&allowed), "Hello V");
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some("http://app.example")
    );
    api.stop().await;
    let web = Api::launch(&env, &["web"]).await;
    assert!(web.url.starts_with("http://127.0.0.3:"), "{}", web.url);
    let page = curl(&format!("{}/", web.url), &[]).await;
    assert_eq!(page.status, 200, "{page:?}");
    assert!(page.body.contains("<h1>Services</h1>"), "{page:?}");
    web.stop().await;
    greeter.stop().await;
}
