//! The gateway scenario: a JSON `Greeter.Hello` through micro's HTTP gateway against the same JSON
//! call made straight to the service, over HTTP/1.1 keep-alive connections, one per call in
//! flight, in one run.
//!
//! The service is micro's bench server (its own process). For the gateway measurement a gateway
//! process stands in front of it, with the service's node in an in-process registry, as a
//! gateway finds it in etcd or over mDNS; so a gateway call crosses two processes and two
//! connections where a direct call crosses one.
//!
//! ## Layout
//! - `orchestrate.rs`: the parent: service, gateway and load processes for every measurement.
//! - `client.rs`: the load process's HTTP client.
//! - `table.rs`: the Markdown table and the targets.

pub mod client;
pub mod orchestrate;
pub mod table;

use std::net::SocketAddr;
use std::sync::Arc;

use micro_gateway::{Gateway, GatewayOptions};
use micro_runtime::registry::{Endpoint, MemoryRegistry, Node, Registry, ServiceRecord};
use tokio::net::TcpListener;

/// The gateway in front of the bench service at `upstream`, until the process is killed.
pub async fn serve(listener: TcpListener, upstream: SocketAddr) -> anyhow::Result<()> {
    let registry = Arc::new(MemoryRegistry::new());
    let record = ServiceRecord {
        name: crate::systems::micro::SERVICE.to_owned(),
        version: "latest".to_owned(),
        nodes: vec![Node {
            id: "bench-1".to_owned(),
            address: upstream.to_string(),
            ..Node::default()
        }],
        endpoints: vec![Endpoint {
            name: "Greeter.Hello".to_owned(),
            ..Endpoint::default()
        }],
        ..ServiceRecord::default()
    };
    registry.register(&record, None).await?;
    Gateway::new(registry, GatewayOptions::default())
        .serve(listener, std::future::pending())
        .await?;
    Ok(())
}
