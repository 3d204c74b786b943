//! [`Filter`]: narrowing the services and nodes a selection may use, as go-micro's selector filters.

use std::fmt;
use std::sync::Arc;

use crate::registry::ServiceRecord;

/// Narrows the services and nodes of one selection. Several filters all apply, in order.
#[derive(Clone)]
#[non_exhaustive]
pub enum Filter {
    /// Keeps the services of this version (go-micro's `FilterVersion`).
    Version(String),
    /// Keeps the nodes whose metadata has `key` = `value` (go-micro's `FilterLabel`).
    Label {
        /// The metadata key.
        key: String,
        /// The required value.
        value: String,
    },
    /// Keeps the services that list this endpoint, e.g. `Greeter.Hello` (go-micro's `FilterEndpoint`).
    Endpoint(String),
    /// Any other rule.
    Custom(Arc<dyn Fn(Vec<ServiceRecord>) -> Vec<ServiceRecord> + Send + Sync>),
}

impl Filter {
    /// [`Filter::Version`].
    pub fn version(version: impl Into<String>) -> Self {
        Filter::Version(version.into())
    }

    /// [`Filter::Label`].
    pub fn label(key: impl Into<String>, value: impl Into<String>) -> Self {
        Filter::Label {
            key: key.into(),
            value: value.into(),
        }
    }

    /// [`Filter::Endpoint`].
    pub fn endpoint(name: impl Into<String>) -> Self {
        Filter::Endpoint(name.into())
    }

    /// [`Filter::Custom`].
    pub fn custom(
        f: impl Fn(Vec<ServiceRecord>) -> Vec<ServiceRecord> + Send + Sync + 'static,
    ) -> Self {
        Filter::Custom(Arc::new(f))
    }

    /// Applies the filter.
    pub fn apply(&self, mut services: Vec<ServiceRecord>) -> Vec<ServiceRecord> {
        match self {
            Filter::Version(version) => services.retain(|s| &s.version == version),
            Filter::Label { key, value } => {
                for service in &mut services {
                    service
                        .nodes
                        .retain(|n| n.metadata.get(key).is_some_and(|v| v == value));
                }
                // As go-micro's FilterLabel: a service left without nodes is dropped.
                services.retain(|s| !s.nodes.is_empty());
            }
            Filter::Endpoint(name) => {
                services.retain(|s| s.endpoints.iter().any(|e| &e.name == name));
            }
            Filter::Custom(f) => return f(services),
        }
        services
    }
}

impl fmt::Debug for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Version(v) => f.debug_tuple("Version").field(v).finish(),
            Filter::Label { key, value } => f
                .debug_struct("Label")
                .field("key", key)
                .field("value", value)
                .finish(),
            Filter::Endpoint(e) => f.debug_tuple("Endpoint").field(e).finish(),
            Filter::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}
