//! Choosing a broker from the environment, as go-micro's flags do.
//!
//! | variable | meaning |
//! |---|---|
//! | `MICRO_BROKER` | `http` (the default), `nats` or `memory` |
//! | `MICRO_BROKER_ADDRESS` | HTTP: the inbox's listen address (default `127.0.0.1:0`; a port range `host:min-max` takes the first free port). NATS: server URLs, comma-separated (default `nats://127.0.0.1:4222`) |

use std::sync::{Arc, OnceLock};

use super::http::HttpBroker;
use super::{Broker, MemoryBroker};
use crate::error::{LocalError, LocalErrorKind};
use crate::registry::Registry;

/// The broker the environment names; the HTTP broker finds subscribers in `registry`.
///
/// `memory` is the process's one memory broker (see [`shared_memory_broker`]); `http` and `nats`
/// are built afresh on each call, since their sockets and tasks belong to the tokio runtime that
/// first uses them. `env` looks variables up (`|k| std::env::var(k).ok()`; tests pass a map).
/// Unknown names, and `nats` in a build without the `nats` feature, are clear
/// [`LocalErrorKind::Config`] errors. Nothing touches the network until the broker is used.
pub fn broker_from_env(
    env: impl Fn(&str) -> Option<String>,
    registry: Arc<dyn Registry>,
) -> Result<Arc<dyn Broker>, LocalError> {
    let var = |key: &str| env(key).filter(|v| !v.trim().is_empty());
    let kind = var("MICRO_BROKER").unwrap_or_else(|| "http".to_string());
    let address = var("MICRO_BROKER_ADDRESS");
    match kind.trim().to_ascii_lowercase().as_str() {
        "memory" => Ok(shared_memory_broker()),
        "http" => {
            let mut broker = HttpBroker::new(registry);
            if let Some(address) = address {
                broker = broker.address(address.trim());
            }
            Ok(Arc::new(broker))
        }
        "nats" => nats(address),
        other => Err(LocalError::new(
            LocalErrorKind::Config,
            format!("MICRO_BROKER={other:?} is not a broker: use http, nats or memory"),
        )),
    }
}

/// The process's memory broker: what [`Server::new`](crate::server::Server::new) uses until given
/// another, and what `MICRO_BROKER=memory` names.
pub fn shared_memory_broker() -> Arc<dyn Broker> {
    static SHARED: OnceLock<Arc<dyn Broker>> = OnceLock::new();
    Arc::clone(SHARED.get_or_init(|| Arc::new(MemoryBroker::new())))
}

#[cfg(feature = "nats")]
fn nats(address: Option<String>) -> Result<Arc<dyn Broker>, LocalError> {
    let servers = address.unwrap_or_else(|| super::nats::DEFAULT_ADDRESS.to_string());
    Ok(Arc::new(super::nats::NatsBroker::new(servers)?))
}

#[cfg(not(feature = "nats"))]
fn nats(_address: Option<String>) -> Result<Arc<dyn Broker>, LocalError> {
    Err(LocalError::new(
        LocalErrorKind::Config,
        "MICRO_BROKER=nats, but this build has no NATS broker: enable micro-runtime's `nats` feature",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::shared_memory_registry;

    fn with(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |key| {
            pairs
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn picks_the_named_broker() {
        let registry = shared_memory_registry();
        assert_eq!(
            broker_from_env(with(&[]), registry.clone()).unwrap().name(),
            "http"
        );
        let memory = broker_from_env(with(&[("MICRO_BROKER", "memory")]), registry.clone());
        assert_eq!(memory.unwrap().name(), "memory");
        let err = broker_from_env(with(&[("MICRO_BROKER", "kafka")]), registry).unwrap_err();
        assert_eq!(err.kind(), LocalErrorKind::Config);
        assert!(err.to_string().contains("kafka"), "{err}");
    }
}
