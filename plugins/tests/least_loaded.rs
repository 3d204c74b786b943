//! `LeastLoaded`, from outside micro-runtime: while one node is busy with a slow call, the
//! client's other calls go to the idle node. (Random order would send half of them to the busy
//! one.)

use std::collections::HashMap;
use std::sync::Arc;

use micro_plugins::LeastLoaded;
use micro_runtime::Client;
use micro_runtime::client::ClientOptions;
use micro_runtime::server::Server;
use tests::handlers::Greeter;
use tests::proto::greeter::{GreeterClient, GreeterServer, HelloRequest};
use tests::support;

#[tokio::test]
async fn calls_go_to_the_node_with_fewer_in_flight() {
    let registry = support::registry();
    let mut names = HashMap::new();
    let mut servers = Vec::new();
    for name in ["a", "b"] {
        let server = Server::new("greeter")
            .registry(Arc::clone(&registry))
            .handle(GreeterServer::new(Greeter {
                node: name.to_string(),
                ..Greeter::default()
            }))
            .start()
            .await
            .unwrap();
        names.insert(server.node().id.clone(), name);
        servers.push(server);
    }
    let strategy = Arc::new(LeastLoaded::new());
    let options = ClientOptions::default().strategy(strategy.clone());
    let client = GreeterClient::new(
        "greeter",
        Client::with_options(Arc::clone(&registry), options),
    );

    // A slow call (400 ms) holds one node.
    let slow = {
        let client = client.clone();
        tokio::spawn(async move {
            client
                .hello(HelloRequest {
                    name: "slow".into(),
                })
                .await
        })
    };
    // The slow call is in flight once the strategy has counted it.
    let busy = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            if let Some((_, name)) = names.iter().find(|(id, _)| strategy.in_flight(id) == 1) {
                break *name;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the slow call starts");
    for _ in 0..10 {
        let reply = client
            .hello(HelloRequest {
                name: "which-node".into(),
            })
            .await
            .unwrap();
        assert_ne!(reply.greeting, busy, "a call went to the busy node");
    }
    assert_eq!(slow.await.unwrap().unwrap().greeting, "Hello slow");
    for server in servers {
        server.stop().await.unwrap();
    }
}
