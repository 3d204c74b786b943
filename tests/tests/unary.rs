//! Unary calls end to end: generated client → registry → selector → pooled connection → server →
//! generated handler, over real sockets.

use std::sync::atomic::Ordering;
use std::time::Duration;

use micro_runtime::codec::ContentType;
use micro_runtime::{CallOptions, Context};
use tests::handlers::{Catalog, Greeter};
use tests::proto::greeter::{GreeterClient, GreeterHandler, GreeterServer, HelloRequest};
use tests::proto::nested::api::v1::{CatalogClient, CatalogServer, GetItemRequest};
use tests::support;

fn hello(name: &str) -> HelloRequest {
    HelloRequest { name: name.into() }
}

#[tokio::test]
async fn calls_a_service_by_name() {
    let registry = support::registry();
    let server = support::start("greeter", &registry, GreeterServer::new(Greeter::default())).await;
    let client = GreeterClient::new("greeter", support::client(&registry));
    let reply = client.hello(hello("John")).await.unwrap();
    assert_eq!(reply.greeting, "Hello John");
    // Many calls on the pooled connection.
    for i in 0..50 {
        let reply = client.hello(hello(&format!("n{i}"))).await.unwrap();
        assert_eq!(reply.greeting, format!("Hello n{i}"));
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn json_and_protobuf_both_work() {
    let registry = support::registry();
    let server = support::start("greeter", &registry, GreeterServer::new(Greeter::default())).await;
    let client = GreeterClient::new("greeter", support::client(&registry));
    for ct in [
        ContentType::JSON,
        ContentType::PROTOBUF,
        ContentType::OCTET_STREAM,
    ] {
        let reply = client
            .hello_with(hello("Ann"), CallOptions::new().content_type(ct))
            .await
            .unwrap();
        assert_eq!(reply.greeting, "Hello Ann", "{ct}");
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_handler_error_reaches_the_caller_unchanged() {
    let registry = support::registry();
    let server = support::start("greeter", &registry, GreeterServer::new(Greeter::default())).await;
    let client = GreeterClient::new("greeter", support::client(&registry));
    let err = client.hello(hello("")).await.unwrap_err();
    assert_eq!(
        err,
        micro_runtime::Error::bad_request("name must not be empty").with_id("greeter")
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_huge_error_detail_is_cut_short_but_still_arrives() {
    use micro_runtime::middleware::{Next, from_fn};
    use micro_runtime::server::{Request, Response, Server};
    let registry = support::registry();
    let server = Server::new("greeter")
        .registry(registry.clone())
        .layer(from_fn(|_: Request, _: Next<Request, Response>| async {
            Err(micro_runtime::Error::internal_server_error("x".repeat(100_000)).into())
        }))
        .handle(GreeterServer::new(Greeter::default()))
        .start()
        .await
        .unwrap();
    let client = GreeterClient::new("greeter", support::client(&registry));
    let err = client.hello(hello("x")).await.unwrap_err();
    assert_eq!((err.id.as_str(), err.code), ("greeter", 500), "{err}");
    assert!(err.detail.starts_with("xxxx") && err.detail.ends_with("bytes cut)"));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn metadata_travels_as_headers() {
    let registry = support::registry();
    let server = support::start("greeter", &registry, GreeterServer::new(Greeter::default())).await;
    let client = GreeterClient::new("greeter", support::client(&registry));
    let options = CallOptions::new().metadata("Trace-Id", "t-42");
    let reply = client
        .hello_with(hello("echo-metadata"), options)
        .await
        .unwrap();
    assert_eq!(reply.greeting, "t-42");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_client_stands_in_for_a_handler_and_propagates_metadata() {
    let registry = support::registry();
    let server = support::start("greeter", &registry, GreeterServer::new(Greeter::default())).await;
    let client = GreeterClient::new("greeter", support::client(&registry));
    // Code written against the trait works with the remote service.
    async fn greet(handler: &impl GreeterHandler, ctx: Context) -> String {
        handler
            .hello(
                ctx,
                HelloRequest {
                    name: "echo-metadata".into(),
                },
            )
            .await
            .unwrap()
            .greeting
    }
    let ctx = Context::new().with_metadata("Trace-Id", "from-ctx");
    assert_eq!(greet(&client, ctx).await, "from-ctx");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn the_server_deadline_comes_from_the_timeout_header() {
    let registry = support::registry();
    let greeter = Greeter::default();
    let server = support::start("greeter", &registry, GreeterServer::new(greeter.clone())).await;
    let client = GreeterClient::new("greeter", support::client(&registry));
    let err = client
        .hello_with(
            hello("slow"),
            CallOptions::new().timeout(Duration::from_millis(100)),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, 408, "{err}");
    // A timeout is not retried for a call not marked idempotent: the handler ran once.
    assert_eq!(greeter.calls.load(Ordering::SeqCst), 1);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_panicking_handler_is_a_500_and_the_server_goes_on() {
    let registry = support::registry();
    let server = support::start("greeter", &registry, GreeterServer::new(Greeter::default())).await;
    let client = GreeterClient::new("greeter", support::client(&registry));
    let err = client.hello(hello("panic")).await.unwrap_err();
    assert_eq!(err.code, 500);
    assert!(err.detail.contains("panicked"), "{err}");
    assert_eq!(
        client.hello(hello("after")).await.unwrap().greeting,
        "Hello after"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn nested_packages_imports_and_well_known_types_work() {
    let registry = support::registry();
    let server = support::start("catalog", &registry, CatalogServer::new(Catalog)).await;
    let client = CatalogClient::new("catalog", support::client(&registry));
    for ct in [ContentType::PROTOBUF, ContentType::JSON] {
        let item = client
            .get_item_with(
                GetItemRequest {
                    id: "7".into(),
                    ..GetItemRequest::default()
                },
                CallOptions::new().content_type(ct),
            )
            .await
            .unwrap();
        assert_eq!(item.title, "Item 7");
        assert_eq!(item.created_at.unwrap().seconds, 1_700_000_000);
        assert_eq!(item.price_cents, Some(1999));
    }
    client
        .clear(micro_runtime::well_known::Empty {})
        .await
        .unwrap();
    let mut items = client
        .list_items(micro_runtime::well_known::Empty {})
        .await
        .unwrap();
    let mut ids = Vec::new();
    while let Some(item) = items.recv().await.unwrap() {
        ids.push(item.id);
    }
    assert_eq!(ids, ["1", "2", "3"]);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn snake_case_rpcs_get_go_style_endpoint_names() {
    let names: Vec<_> = tests::proto::nested::api::v1::CATALOG_SERVICE
        .endpoints
        .iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(
        names,
        ["Catalog.GetItem", "Catalog.ListItems", "Catalog.Clear"]
    );
}

#[tokio::test]
async fn endpoints_are_registered_with_their_types() {
    let registry = support::registry();
    let server = support::start("catalog", &registry, CatalogServer::new(Catalog)).await;
    let services = registry.get_service("catalog").await.unwrap();
    let service = &services[0];
    let node = &service.nodes[0];
    assert!(node.id.starts_with("catalog-"), "{}", node.id);
    assert_eq!(node.metadata["protocol"], "mucp");
    assert_eq!(node.address, server.local_addr().to_string());
    let get = service
        .endpoints
        .iter()
        .find(|e| e.name == "Catalog.GetItem")
        .unwrap();
    let response = get.response.as_ref().unwrap();
    assert_eq!(response.name, "Item");
    let created = response
        .values
        .iter()
        .find(|v| v.name == "created_at")
        .unwrap();
    assert_eq!(created.type_name, "Timestamp");
    // Its google.api.http routes, as go-micro's API endpoint metadata.
    let routes: Vec<(&str, &str)> = ["endpoint", "handler", "method", "path", "body"]
        .into_iter()
        .map(|key| (key, get.metadata[key].as_str()))
        .collect();
    assert_eq!(
        routes,
        [
            ("endpoint", "Catalog.GetItem"),
            ("handler", "rpc"),
            ("method", "GET,POST"),
            ("path", "/v1/items/{id},/v1/items:get"),
            ("body", ",*"),
        ]
    );
    let list = service
        .endpoints
        .iter()
        .find(|e| e.name == "Catalog.ListItems")
        .unwrap();
    assert_eq!(list.metadata["stream"], "true");
    assert!(
        !service.endpoints.iter().any(|e| e.name == "Debug.Health"),
        "Debug.Health is not advertised"
    );
    server.stop().await.unwrap();
    assert!(
        registry.get_service("catalog").await.unwrap().is_empty(),
        "deregistered on stop"
    );
}
