//! Choosing a registry from the environment, as go-micro's flags do.
//!
//! | variable | meaning |
//! |---|---|
//! | `MICRO_REGISTRY` | `mdns` (the default), `etcd` or `memory` |
//! | `MICRO_REGISTRY_ADDRESS` | etcd endpoints, `host:port` comma-separated (default `127.0.0.1:2379`) |
//! | `ETCD_USERNAME`, `ETCD_PASSWORD` | etcd credentials |
//! | `MICRO_MDNS_INTERFACES` | network interfaces mDNS uses, comma-separated (default: every one that can multicast) |
//! | `MICRO_MDNS_TIMEOUT` | how long an mDNS lookup collects answers (default `100ms`) |

use std::sync::{Arc, OnceLock};

use super::{MemoryRegistry, Registry};
use crate::error::{LocalError, LocalErrorKind};

/// The registry the environment names.
///
/// `memory` is the process's one memory registry (see [`shared_memory_registry`]). `mdns` and
/// `etcd` are built afresh on each call, since their sockets, connections and background tasks
/// belong to the tokio runtime that first uses them: a [`Service`](crate::Service) builds one and
/// shares it between its server and client.
///
/// `env` looks variables up (`|k| std::env::var(k).ok()`; tests pass a map). Unknown names and
/// registries this build leaves out (cargo features `mdns`, `etcd`) are clear
/// [`LocalErrorKind::Config`] errors. Nothing touches the network until the registry is used.
pub fn registry_from_env(
    env: impl Fn(&str) -> Option<String>,
) -> Result<Arc<dyn Registry>, LocalError> {
    let var = |key: &str| env(key).filter(|v| !v.trim().is_empty());
    let kind = var("MICRO_REGISTRY").unwrap_or_else(|| default_kind().to_string());
    match kind.trim().to_ascii_lowercase().as_str() {
        "memory" => Ok(shared_memory_registry()),
        "mdns" => backend::mdns(var("MICRO_MDNS_INTERFACES"), var("MICRO_MDNS_TIMEOUT")),
        "etcd" => backend::etcd(
            var("MICRO_REGISTRY_ADDRESS"),
            var("ETCD_USERNAME"),
            var("ETCD_PASSWORD"),
        ),
        other => Err(config(format!(
            "MICRO_REGISTRY={other:?} is not a registry: use mdns, etcd or memory"
        ))),
    }
}

/// The process's memory registry: what [`Server::new`](crate::server::Server::new) registers in
/// until given another, and what `MICRO_REGISTRY=memory` names.
pub fn shared_memory_registry() -> Arc<dyn Registry> {
    // No runtime-bound resources: its expiry sweep is only a courtesy, as every read prunes.
    static SHARED: OnceLock<Arc<dyn Registry>> = OnceLock::new();
    Arc::clone(SHARED.get_or_init(|| Arc::new(MemoryRegistry::new())))
}

/// What `MICRO_REGISTRY` means when unset: mDNS, as go-micro, when this build has it.
fn default_kind() -> &'static str {
    if cfg!(feature = "mdns") {
        "mdns"
    } else {
        "memory"
    }
}

fn config(message: String) -> LocalError {
    LocalError::new(LocalErrorKind::Config, message)
}

/// A comma-separated list, trimmed, without empty items.
#[cfg(any(feature = "mdns", feature = "etcd"))]
fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

// One function per backend, each built with its feature or standing in with a clear error.
mod backend {
    use super::*;

    #[cfg(feature = "mdns")]
    pub(super) fn mdns(
        interfaces: Option<String>,
        timeout: Option<String>,
    ) -> Result<Arc<dyn Registry>, LocalError> {
        use crate::registry::mdns::{MdnsOptions, MdnsRegistry};
        let mut options = MdnsOptions::default();
        if let Some(interfaces) = interfaces {
            options.interfaces = list(&interfaces);
        }
        if let Some(timeout) = timeout {
            options.query_timeout = crate::service::duration("MICRO_MDNS_TIMEOUT", &timeout)?;
        }
        Ok(Arc::new(MdnsRegistry::new(options)))
    }

    #[cfg(not(feature = "mdns"))]
    pub(super) fn mdns(
        _interfaces: Option<String>,
        _timeout: Option<String>,
    ) -> Result<Arc<dyn Registry>, LocalError> {
        Err(config(
            "MICRO_REGISTRY=mdns: this build of micro-runtime leaves out the `mdns` feature".into(),
        ))
    }

    #[cfg(feature = "etcd")]
    pub(super) fn etcd(
        address: Option<String>,
        username: Option<String>,
        password: Option<String>,
    ) -> Result<Arc<dyn Registry>, LocalError> {
        use crate::registry::etcd::{EtcdOptions, EtcdRegistry};
        let mut options = EtcdOptions::default();
        if let Some(address) = address {
            options.endpoints = list(&address);
        }
        options.username = username;
        options.password = password;
        Ok(Arc::new(EtcdRegistry::new(options)?))
    }

    #[cfg(not(feature = "etcd"))]
    pub(super) fn etcd(
        _address: Option<String>,
        _username: Option<String>,
        _password: Option<String>,
    ) -> Result<Arc<dyn Registry>, LocalError> {
        Err(config(
            "MICRO_REGISTRY=etcd: this build of micro-runtime leaves out the `etcd` feature (enable it in Cargo.toml)".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |key| {
            pairs
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn an_unknown_registry_is_a_clear_error() {
        let err = registry_from_env(env(&[("MICRO_REGISTRY", "zookeeper")])).unwrap_err();
        assert_eq!(err.kind(), LocalErrorKind::Config);
        assert!(err.to_string().contains("zookeeper"), "{err}");
    }

    #[test]
    fn memory_is_one_registry_per_process() {
        let a = registry_from_env(env(&[("MICRO_REGISTRY", "memory")])).unwrap();
        let b = registry_from_env(env(&[("MICRO_REGISTRY", " Memory ")])).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert!(Arc::ptr_eq(&a, &shared_memory_registry()));
        assert_eq!(a.name(), "memory");
    }

    #[cfg(feature = "mdns")]
    #[test]
    fn mdns_is_the_default_and_a_bad_timeout_is_a_clear_error() {
        // Building the registry opens no socket: that waits for its first use.
        assert_eq!(registry_from_env(env(&[])).unwrap().name(), "mdns");
        let err = registry_from_env(env(&[("MICRO_MDNS_TIMEOUT", "soon")])).unwrap_err();
        assert!(err.to_string().contains("MICRO_MDNS_TIMEOUT"), "{err}");
    }
}
