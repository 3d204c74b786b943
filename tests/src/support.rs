//! Test support: servers on free loopback ports, each test with its own registry.

use std::sync::Arc;

use micro_runtime::Client;
use micro_runtime::registry::Registry;
use micro_runtime::registry::memory::MemoryRegistry;
use micro_runtime::server::{Handler, RunningServer, Server};

/// A fresh registry, so tests running in parallel never see each other's nodes.
pub fn registry() -> Arc<dyn Registry> {
    Arc::new(MemoryRegistry::new())
}

/// Starts `handler` as service `name` on `127.0.0.1:0`, registered in `registry`.
pub async fn start(
    name: &str,
    registry: &Arc<dyn Registry>,
    handler: impl Handler,
) -> RunningServer {
    Server::new(name)
        .address("127.0.0.1:0")
        .registry(Arc::clone(registry))
        .handle(handler)
        .start()
        .await
        .expect("server starts")
}

/// A client on `registry`.
pub fn client(registry: &Arc<dyn Registry>) -> Client {
    Client::new(Arc::clone(registry))
}
