//! Middleware is tower: tower's own layers and micro's circuit breaker on real servers and
//! clients, streams included. Each test would fail with its layer left out.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use micro_runtime::client::{
    CallRequest, CallResponse, CircuitBreakerLayer, Client, ClientOptions,
};
use micro_runtime::middleware::{Next, from_fn};
use micro_runtime::selector::RoundRobin;
use micro_runtime::server::{Request, Response, Server};
use micro_runtime::{CallOptions, Context, Error};
use tests::handlers::Streamer;
use tests::proto::greeter::{
    GreeterClient, GreeterHandler, GreeterServer, HelloRequest, HelloResponse,
};
use tests::proto::streaming::{CountdownRequest, StreamerClient, StreamerServer};
use tests::support;
use tokio::sync::{Notify, Semaphore};

fn hello(name: &str) -> HelloRequest {
    HelloRequest { name: name.into() }
}

/// Greets; `hold` waits until the test releases it, and tells the test it has started. Counts how
/// many calls run at once.
#[derive(Clone)]
struct Gate {
    entered: Arc<Notify>,
    release: Arc<Semaphore>,
    running: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
    /// Fails every call with a 503.
    broken: bool,
    /// Holds every call until released.
    stall: bool,
}

impl Default for Gate {
    fn default() -> Self {
        Self {
            entered: Arc::default(),
            release: Arc::new(Semaphore::new(0)),
            running: Arc::default(),
            most: Arc::default(),
            broken: false,
            stall: false,
        }
    }
}

impl GreeterHandler for Gate {
    async fn hello(&self, _ctx: Context, req: HelloRequest) -> Result<HelloResponse, Error> {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        if req.name == "hold" || self.stall {
            self.entered.notify_one();
            let _ = self.release.acquire().await.map(|p| p.forget());
        } else if req.name == "brief" {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.running.fetch_sub(1, Ordering::SeqCst);
        if self.broken {
            return Err(Error::unavailable("this node is broken"));
        }
        Ok(HelloResponse {
            greeting: format!("Hello {}", req.name),
        })
    }
}

async fn serve(
    server: Server,
    gate: Gate,
) -> (micro_runtime::server::RunningServer, GreeterClient) {
    let registry = support::registry();
    let running = server
        .registry(Arc::clone(&registry))
        .handle(GreeterServer::new(gate))
        .start()
        .await
        .unwrap();
    (
        running,
        GreeterClient::new("greeter", support::client(&registry)),
    )
}

#[tokio::test]
async fn towers_timeout_answers_408() {
    let gate = Gate::default();
    let server = Server::new("greeter").layer(tower::timeout::TimeoutLayer::new(
        Duration::from_millis(100),
    ));
    let (running, client) = serve(server, gate.clone()).await;
    let err = client.hello(hello("hold")).await.unwrap_err();
    assert_eq!(
        (err.code, err.id.as_str()),
        (408, "go.micro.server"),
        "{err}"
    );
    assert!(err.detail.contains("timeout layer"), "{err}");
    gate.release.add_permits(1);
    running.stop().await.unwrap();
}

#[tokio::test]
async fn towers_concurrency_limit_serialises_calls() {
    let gate = Gate::default();
    let server = Server::new("greeter").layer(tower::limit::ConcurrencyLimitLayer::new(1));
    let (running, client) = serve(server, gate.clone()).await;
    let calls: Vec<_> = (0..4)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.hello(hello("brief")).await })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    assert_eq!(gate.most.load(Ordering::SeqCst), 1, "one call at a time");
    running.stop().await.unwrap();
}

#[tokio::test]
async fn towers_load_shed_refuses_what_the_limit_cannot_take_with_503() {
    let gate = Gate::default();
    let limit = tower::ServiceBuilder::new()
        .load_shed()
        .concurrency_limit(1);
    let (running, client) = serve(Server::new("greeter").layer(limit), gate.clone()).await;
    let held = {
        let client = client.clone();
        tokio::spawn(async move { client.hello(hello("hold")).await })
    };
    gate.entered.notified().await;
    let err = client.hello(hello("x")).await.unwrap_err();
    assert_eq!(err.code, 503, "{err}");
    gate.release.add_permits(1);
    assert_eq!(held.await.unwrap().unwrap().greeting, "Hello hold");
    running.stop().await.unwrap();
}

#[tokio::test]
async fn towers_rate_limit_behind_a_buffer_holds_calls_over_the_rate() {
    let gate = Gate::default();
    let rate = tower::ServiceBuilder::new()
        .buffer(16)
        .rate_limit(1, Duration::from_secs(60));
    let (running, client) = serve(Server::new("greeter").layer(rate), gate).await;
    assert_eq!(
        client.hello(hello("one")).await.unwrap().greeting,
        "Hello one"
    );
    // The second call of the minute waits for the rate: the caller's timeout ends it.
    let options = CallOptions::new().timeout(Duration::from_millis(300));
    let err = client.hello_with(hello("two"), options).await.unwrap_err();
    assert_eq!(err.code, 408, "{err}");
    running.stop().await.unwrap();
}

#[tokio::test]
async fn a_layer_sees_typed_requests_and_responses() {
    let layer = from_fn(
        |request: Request, next: Next<Request, Response>| async move {
            let greeting: HelloRequest = request.message()?;
            if greeting.name == "forbidden" {
                return Err(Error::forbidden("not that name").into());
            }
            let content_type = request.content_type();
            let response = next.run(request).await?;
            let mut reply: HelloResponse = response.message()?;
            reply.greeting = reply.greeting.to_uppercase();
            Ok(Response::from_message(content_type, &reply)?)
        },
    );
    let (running, client) = serve(Server::new("greeter").layer(layer), Gate::default()).await;
    assert_eq!(
        client.hello(hello("ann")).await.unwrap().greeting,
        "HELLO ANN"
    );
    let json = CallOptions::new().content_type(micro_runtime::codec::ContentType::JSON);
    assert_eq!(
        client.hello_with(hello("bo"), json).await.unwrap().greeting,
        "HELLO BO"
    );
    let err = client.hello(hello("forbidden")).await.unwrap_err();
    assert_eq!((err.code, err.id.as_str()), (403, "greeter"));
    running.stop().await.unwrap();
}

#[tokio::test]
async fn server_and_client_layers_run_for_streams() {
    // The server refuses streams without a token and records how each stream ended.
    let ended = Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = Arc::clone(&ended);
    let guard = from_fn(move |request: Request, next: Next<Request, Response>| {
        let record = Arc::clone(&record);
        async move {
            if request.ctx().metadata().get("Authorization") != Some("token") {
                return Err(Error::unauthorized("no token").into());
            }
            let stream = request.is_stream();
            let endpoint = request.endpoint().to_string();
            let result = next.run(request).await;
            record
                .lock()
                .unwrap()
                .push((endpoint, stream, result.is_ok()));
            result
        }
    });
    let registry = support::registry();
    let running = Server::new("streamer")
        .registry(Arc::clone(&registry))
        .layer(guard)
        .handle(StreamerServer::new(Streamer))
        .start()
        .await
        .unwrap();

    let plain = StreamerClient::new("streamer", support::client(&registry));
    let mut refused = plain.countdown(CountdownRequest { from: 2 }).await.unwrap();
    assert_eq!(refused.recv().await.unwrap_err().code, 401);

    // The client layer adds the token to every call, streams included.
    let with_token = Client::builder(Arc::clone(&registry))
        .layer(from_fn(
            |mut call: CallRequest, next: Next<CallRequest, CallResponse>| async move {
                call.metadata_mut().insert("Authorization", "token");
                next.run(call).await
            },
        ))
        .build();
    let client = StreamerClient::new("streamer", with_token);
    let mut ticks = client
        .countdown(CountdownRequest { from: 3 })
        .await
        .unwrap();
    let mut values = Vec::new();
    while let Some(tick) = ticks.recv().await.unwrap() {
        values.push(tick.value);
    }
    assert_eq!(values, [3, 2, 1]);
    let sum = client.sum().await.unwrap();
    sum.send(tests::proto::streaming::Number { value: 5 })
        .await
        .unwrap();
    assert_eq!(sum.close_and_recv().await.unwrap().sum, 5);
    running.stop().await.unwrap();
    let ended = ended.lock().unwrap().clone();
    assert_eq!(
        ended,
        [
            ("Streamer.Countdown".to_string(), true, true),
            ("Streamer.Sum".to_string(), true, true)
        ]
    );
}

#[tokio::test]
async fn the_circuit_breaker_takes_a_failing_node_out_of_the_rotation() {
    let registry = support::registry();
    let mut servers = Vec::new();
    let mut bad = String::new();
    for name in ["good", "bad"] {
        let server = Server::new("greeter")
            .registry(Arc::clone(&registry))
            .handle(GreeterServer::new(Gate {
                broken: name == "bad",
                ..Gate::default()
            }))
            .metadata("role", name)
            .start()
            .await
            .unwrap();
        if name == "bad" {
            bad = server.node().address.clone();
        }
        servers.push(server);
    }
    let breaker = CircuitBreakerLayer::new()
        .failure_threshold(2)
        .open_for(Duration::from_secs(60));
    let options = ClientOptions::default().strategy(RoundRobin::new());
    let client = Client::builder(Arc::clone(&registry))
        .options(options)
        .attempt_layer(breaker.clone())
        .build();
    // The bad node fails every call with a 503; two calls sent to it open its circuit.
    let bad_filter = micro_runtime::selector::Filter::label("role", "bad");
    let greeter = GreeterClient::new("greeter", client.clone());
    for _ in 0..2 {
        let on_bad = CallOptions::new().filter(bad_filter.clone());
        let err = greeter.hello_with(hello("x"), on_bad).await.unwrap_err();
        assert_eq!(err.code, 503, "{err}");
    }
    assert!(
        breaker.is_open(&bad),
        "two failures in a row open the circuit"
    );
    // Round robin alternates, but the bad node is refused before anything is sent, so every call
    // lands on the good node.
    for _ in 0..6 {
        let reply = greeter.hello(hello("x")).await.unwrap();
        assert_eq!(reply.greeting, "Hello x");
    }
    for server in servers {
        server.stop().await.unwrap();
    }
}

/// Offers the node labelled `role: stuck` first.
#[derive(Debug)]
struct StuckFirst;

impl micro_runtime::selector::Strategy for StuckFirst {
    fn arrange(&self, _service: &str, candidates: &mut micro_runtime::selector::Candidates<'_>) {
        candidates
            .sort_by_key(|node| node.metadata.get("role").map(String::as_str) != Some("stuck"));
    }
}

#[tokio::test]
async fn towers_timeout_as_an_attempt_layer_moves_an_idempotent_call_on() {
    let registry = support::registry();
    let stuck = Gate {
        stall: true,
        ..Gate::default()
    };
    let mut servers = Vec::new();
    for (name, gate) in [("stuck", stuck.clone()), ("fine", Gate::default())] {
        let server = Server::new("greeter")
            .registry(Arc::clone(&registry))
            .handle(GreeterServer::new(gate))
            .metadata("role", name)
            .start()
            .await
            .unwrap();
        servers.push(server);
    }
    let options = ClientOptions::default().strategy(StuckFirst);
    let client = Client::builder(Arc::clone(&registry))
        .options(options)
        .attempt_layer(tower::timeout::TimeoutLayer::new(Duration::from_millis(
            100,
        )))
        .build();
    let greeter = GreeterClient::new("greeter", client);
    // The stuck node's attempt times out after 100 ms, and the idempotent call goes on to the
    // other node, well within the call's own 5 s.
    let options = CallOptions::new()
        .idempotent(true)
        .timeout(Duration::from_secs(5));
    let reply = greeter.hello_with(hello("x"), options).await;
    stuck.release.add_permits(1);
    assert_eq!(reply.unwrap().greeting, "Hello x");
    for server in servers {
        server.stop().await.unwrap();
    }
}
