//! `Function`: a service that stops after its first call.

use futures_util::FutureExt;
use micro_runtime::codec::ContentType;
use micro_runtime::server::HealthRequest;
use micro_runtime::{CallOptions, Function, Service};
use tests::handlers::Greeter;
use tests::proto::greeter::{GreeterClient, GreeterServer, HelloRequest};
use tests::support;

#[tokio::test]
async fn the_first_call_finishes_a_function_but_a_health_probe_does_not() {
    let registry = support::registry();
    let service = Service::builder("greeter")
        .registry(registry.clone())
        .build()
        .unwrap();
    let running = Function::new(service)
        .handle(GreeterServer::new(Greeter::default()))
        .start()
        .await
        .unwrap();
    let client = support::client(&registry);

    let probe = ContentType::PROTOBUF
        .encode(&HealthRequest::default())
        .unwrap();
    client
        .call_raw(
            "greeter",
            "Debug.Health",
            ContentType::PROTOBUF,
            probe,
            &CallOptions::new(),
        )
        .await
        .unwrap();
    // The function counts a call when its handler returns, before the reply is written.
    assert!(
        running.done().now_or_never().is_none(),
        "a probe is not the call"
    );

    let greeter = GreeterClient::new("greeter", client.clone());
    let reply = greeter
        .hello(HelloRequest { name: "Ann".into() })
        .await
        .unwrap();
    assert_eq!(reply.greeting, "Hello Ann");
    running.done().await;
    running.stop().await.unwrap();
    assert!(
        registry.get_service("greeter").await.unwrap().is_empty(),
        "deregistered"
    );
}
