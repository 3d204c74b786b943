//! Context that flows by itself: a handler's calls to other services inherit its deadline and
//! metadata without the handler passing anything, unless it opts out.

use std::time::Duration;

use micro_runtime::{CallOptions, Context, Error};
use tests::proto::greeter::{
    GreeterClient, GreeterHandler, GreeterServer, HelloRequest, HelloResponse,
};
use tests::proto::streaming::{StreamerClient, StreamerServer};
use tests::support;

/// The backend: answers with the `Trace-Id` it received and the time it was given, in whole
/// seconds (`none` without a deadline).
struct Backend;

impl GreeterHandler for Backend {
    async fn hello(&self, ctx: Context, _req: HelloRequest) -> Result<HelloResponse, Error> {
        let trace = ctx.metadata().get("Trace-Id").unwrap_or("none").to_string();
        let left = ctx
            .time_remaining()
            .map_or("none".to_string(), |left| left.as_secs().to_string());
        Ok(HelloResponse {
            greeting: format!("{trace}|{left}"),
        })
    }
}

/// The front: calls the backend in the way its request names, never passing its context.
struct Front {
    backend: GreeterClient,
}

impl GreeterHandler for Front {
    async fn hello(&self, ctx: Context, req: HelloRequest) -> Result<HelloResponse, Error> {
        let ask = HelloRequest::default();
        let reply = match req.name.as_str() {
            "plain" => self.backend.hello(ask).await?,
            "override" => {
                let options = CallOptions::new().metadata("Trace-Id", "mine");
                self.backend.hello_with(ask, options).await?
            }
            "detached" => {
                let options = CallOptions::new().detached();
                self.backend.hello_with(ask, options).await?
            }
            "spawned" => {
                let backend = self.backend.clone();
                tokio::spawn(async move { backend.hello(ask).await }).await??
            }
            "scoped" => {
                let backend = self.backend.clone();
                tokio::spawn(ctx.scope(async move { backend.hello(ask).await })).await??
            }
            other => return Err(Error::bad_request(format!("unknown mode {other}"))),
        };
        Ok(reply)
    }
}

async fn ask_front(mode: &str) -> String {
    let registry = support::registry();
    let backend = support::start("backend", &registry, GreeterServer::new(Backend)).await;
    let backend_client = GreeterClient::new("backend", support::client(&registry));
    let front = Front {
        backend: backend_client,
    };
    let front_server = support::start("front", &registry, GreeterServer::new(front)).await;
    let client = GreeterClient::new("front", support::client(&registry));
    let options = CallOptions::new()
        .metadata("Trace-Id", "abc")
        .timeout(Duration::from_secs(7));
    let reply = client
        .hello_with(HelloRequest { name: mode.into() }, options)
        .await
        .unwrap();
    front_server.stop().await.unwrap();
    backend.stop().await.unwrap();
    reply.greeting
}

#[tokio::test]
async fn a_handlers_calls_inherit_its_deadline_and_metadata() {
    // The deadline left is under the caller's 7 s, not the client's default 30 s.
    assert_eq!(ask_front("plain").await, "abc|6");
}

#[tokio::test]
async fn call_options_win_over_inherited_metadata() {
    assert_eq!(ask_front("override").await, "mine|6");
}

#[tokio::test]
async fn a_detached_call_inherits_nothing() {
    assert_eq!(ask_front("detached").await, "none|29");
}

#[tokio::test]
async fn a_spawned_task_inherits_only_when_scoped() {
    assert_eq!(ask_front("spawned").await, "none|29");
    assert_eq!(ask_front("scoped").await, "abc|6");
}

#[tokio::test]
async fn outside_a_handler_there_is_no_current_context() {
    assert!(Context::current().is_none());
    let ctx = Context::new().with_metadata("k", "v");
    let seen = ctx.scope(async { Context::current() }).await.unwrap();
    assert_eq!(seen.metadata().get("k"), Some("v"));
}

#[tokio::test]
async fn a_context_passed_as_options_is_carried() {
    let registry = support::registry();
    let backend = support::start("backend", &registry, GreeterServer::new(Backend)).await;
    let client = GreeterClient::new("backend", support::client(&registry));
    let ctx = Context::new()
        .with_metadata("Trace-Id", "given")
        .with_timeout(Duration::from_secs(5));
    let reply = client
        .hello_with(HelloRequest::default(), &ctx)
        .await
        .unwrap();
    assert_eq!(reply.greeting, "given|4");
    backend.stop().await.unwrap();
}

#[tokio::test]
async fn a_stream_opened_under_a_context_inherits_its_deadline() {
    // A bidi stream nobody writes to: its receive fails at the inherited deadline, locally.
    let registry = support::registry();
    let server = support::start(
        "streamer",
        &registry,
        StreamerServer::new(tests::handlers::Streamer),
    )
    .await;
    let client = StreamerClient::new("streamer", support::client(&registry));
    let ctx = Context::new().with_timeout(Duration::from_millis(300));
    let started = std::time::Instant::now();
    let err = ctx
        .scope(async {
            let mut echo = client.echo().await?;
            echo.recv().await
        })
        .await
        .unwrap_err();
    assert_eq!(err.code, 408, "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    server.stop().await.unwrap();
}
