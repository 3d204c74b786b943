//! [`ServiceBuilder`]: a service's settings from code, the environment filling the gaps.

use std::sync::Arc;
use std::time::Duration;

use crate::broker::{Broker, broker_from_env};
use crate::client::{Attempt, CallRequest, CallResponse, Client, ClientOptions};
use crate::error::LocalError;
use crate::middleware::LayerFor;
use crate::middleware::layers::Layers;
use crate::registry::{Registry, registry_from_env};
use crate::server::{Request, Response, Server};
use crate::transport::{HttpTransport, Transport};

use super::Service;
use super::environment::{Environment, config, duration, seconds};

/// Configures a [`Service`].
#[derive(Debug)]
pub struct ServiceBuilder {
    name: String,
    version: Option<String>,
    address: Option<String>,
    advertise: Option<String>,
    metadata: Vec<(String, String)>,
    registry: Option<Arc<dyn Registry>>,
    broker: Option<Arc<dyn Broker>>,
    register_ttl: Option<Duration>,
    register_interval: Option<Duration>,
    client_options: ClientOptions,
    request_timeout: Option<Duration>,
    retries: Option<u32>,
    environment: Environment,
    handler_layers: Layers<Request, Response>,
    call_layers: Layers<CallRequest, CallResponse>,
    attempt_layers: Layers<Attempt, CallResponse>,
    transport: Option<Arc<dyn Transport>>,
}

impl ServiceBuilder {
    pub(super) fn new(name: String) -> Self {
        Self {
            name,
            version: None,
            address: None,
            advertise: None,
            metadata: Vec::new(),
            registry: None,
            broker: None,
            register_ttl: None,
            register_interval: None,
            client_options: ClientOptions::default(),
            request_timeout: None,
            retries: None,
            environment: Environment::FillsGaps,
            handler_layers: Layers::default(),
            call_layers: Layers::default(),
            attempt_layers: Layers::default(),
            transport: None,
        }
    }

    /// The version registered (default `latest`).
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// The listen address (default `127.0.0.1:0`); `host:min-max` takes the first free port.
    pub fn address(mut self, address: impl Into<String>) -> Self {
        self.address = Some(address.into());
        self
    }

    /// The address registered instead of the listen address.
    pub fn advertise(mut self, address: impl Into<String>) -> Self {
        self.advertise = Some(address.into());
        self
    }

    /// Adds node metadata.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.push((key.into(), value.into()));
        self
    }

    /// The registry (default: the one `MICRO_REGISTRY` names, mDNS when unset; see
    /// [`registry_from_env`]). This wins over `MICRO_REGISTRY` unless the environment
    /// [`Overrides`](Environment::Overrides) code.
    pub fn registry(mut self, registry: Arc<dyn Registry>) -> Self {
        self.registry = Some(registry);
        self
    }

    /// The broker (default: the one `MICRO_BROKER` names, the HTTP broker on the service's
    /// registry when unset; see [`broker_from_env`]). This wins over `MICRO_BROKER` unless the
    /// environment [`Overrides`](Environment::Overrides) code.
    pub fn broker(mut self, broker: Arc<dyn Broker>) -> Self {
        self.broker = Some(broker);
        self
    }

    /// The registration TTL.
    pub fn register_ttl(mut self, ttl: Duration) -> Self {
        self.register_ttl = Some(ttl);
        self
    }

    /// The re-registration interval.
    pub fn register_interval(mut self, interval: Duration) -> Self {
        self.register_interval = Some(interval);
        self
    }

    /// Options of the service's client. Its timeout and retries count as set by code.
    pub fn client_options(mut self, options: ClientOptions) -> Self {
        self.request_timeout = Some(options.request_timeout);
        self.retries = Some(options.retries);
        self.client_options = options;
        self
    }

    /// How the environment combines with what this builder was told (default
    /// [`Environment::FillsGaps`]: code wins, the environment fills what code left unset).
    pub fn environment(mut self, environment: Environment) -> Self {
        self.environment = environment;
        self
    }

    /// Adds a layer around every call the service serves (see [`Server::layer`]); the first
    /// added runs outermost.
    pub fn layer(mut self, layer: impl LayerFor<Request, Response>) -> Self {
        self.handler_layers.push(layer);
        self
    }

    /// Adds a layer around every whole call the service's client makes (see
    /// [`ClientBuilder::layer`](crate::client::ClientBuilder::layer)).
    pub fn client_layer(mut self, layer: impl LayerFor<CallRequest, CallResponse>) -> Self {
        self.call_layers.push(layer);
        self
    }

    /// Adds a layer around every attempt on one node the service's client makes (see
    /// [`ClientBuilder::attempt_layer`](crate::client::ClientBuilder::attempt_layer)): the place
    /// for a [`CircuitBreakerLayer`](crate::client::CircuitBreakerLayer).
    pub fn attempt_layer(mut self, layer: impl LayerFor<Attempt, CallResponse>) -> Self {
        self.attempt_layers.push(layer);
        self
    }

    /// How the service listens and its client dials (default
    /// [`HttpTransport`](crate::transport::HttpTransport), go-micro's HTTP wire; or
    /// `MICRO_TRANSPORT=http`, the only one built in). Both get the same instance.
    pub fn transport(mut self, transport: impl Transport) -> Self {
        self.transport = Some(Arc::new(transport));
        self
    }

    /// The default call timeout of the service's client (default 30 s, or
    /// `MICRO_CLIENT_REQUEST_TIMEOUT`).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = Some(timeout);
        self
    }

    /// The default retries of the service's client (default 5, or `MICRO_CLIENT_RETRIES`).
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = Some(retries);
        self
    }

    /// Applies the environment and builds the service.
    pub fn build(self) -> Result<Service, LocalError> {
        self.build_with_env(|key| std::env::var(key).ok())
    }

    /// Builds with environment lookups from `env` (tests pass a map).
    pub fn build_with_env(
        self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Service, LocalError> {
        let policy = self.environment;
        let read = |key: &str| match policy {
            Environment::Ignored => None,
            _ => env(key).filter(|v| !v.trim().is_empty()),
        };
        // Every variable is read and checked whatever the policy, so a typo is reported even
        // when code sets the value.
        let pick = |code: Option<String>, key: &str| policy.pick(code, read(key));
        let name = pick(
            Some(self.name).filter(|n| !n.is_empty()),
            "MICRO_SERVER_NAME",
        )
        .unwrap_or_default();
        if name.is_empty() {
            return Err(config("a service needs a name".to_string()));
        }
        let version = pick(self.version, "MICRO_SERVER_VERSION");
        let address = pick(self.address, "MICRO_SERVER_ADDRESS");
        let advertise = pick(self.advertise, "MICRO_SERVER_ADVERTISE");
        let env_ttl = read("MICRO_REGISTER_TTL")
            .map(|v| seconds("MICRO_REGISTER_TTL", &v))
            .transpose()?;
        let register_ttl = policy.pick(self.register_ttl, env_ttl);
        let env_interval = read("MICRO_REGISTER_INTERVAL")
            .map(|v| seconds("MICRO_REGISTER_INTERVAL", &v))
            .transpose()?;
        let register_interval = policy.pick(self.register_interval, env_interval);
        let env_timeout = read("MICRO_CLIENT_REQUEST_TIMEOUT")
            .map(|v| duration("MICRO_CLIENT_REQUEST_TIMEOUT", &v))
            .transpose()?;
        let env_retries = read("MICRO_CLIENT_RETRIES")
            .map(|v| {
                v.trim().parse::<u32>().map_err(|_| {
                    config(format!("MICRO_CLIENT_RETRIES={v:?} is not a whole number"))
                })
            })
            .transpose()?;
        let env_transport = read("MICRO_TRANSPORT")
            .map(|name| match name.trim() {
                "http" => Ok(Arc::new(HttpTransport::new()) as Arc<dyn Transport>),
                other => Err(config(format!(
                    "MICRO_TRANSPORT={other:?}: the built-in transport is \"http\"; another one is set in code with ServiceBuilder::transport"
                ))),
            })
            .transpose()?;
        let transport = policy.pick(self.transport, env_transport);
        let mut client_options = self.client_options;
        if let Some(transport) = &transport {
            client_options.transport = Arc::clone(transport);
        }
        if let Some(timeout) = policy.pick(self.request_timeout, env_timeout) {
            client_options.request_timeout = timeout;
        }
        if let Some(retries) = policy.pick(self.retries, env_retries) {
            client_options.retries = retries;
        }

        // A registry or broker named in the environment is built only when it is the one used.
        let env_names_registry = read("MICRO_REGISTRY").is_some();
        let registry = match (self.registry, policy) {
            (Some(registry), Environment::FillsGaps | Environment::Ignored) => registry,
            (Some(registry), Environment::Overrides) if !env_names_registry => registry,
            _ => registry_from_env(read)?,
        };
        let env_names_broker = read("MICRO_BROKER").is_some();
        let (broker, built) = match (self.broker, policy) {
            (Some(broker), Environment::FillsGaps | Environment::Ignored) => (broker, false),
            (Some(broker), Environment::Overrides) if !env_names_broker => (broker, false),
            _ => (broker_from_env(read, Arc::clone(&registry))?, true),
        };

        let mut server = Server::new(name)
            .registry(Arc::clone(&registry))
            .broker(Arc::clone(&broker));
        if built {
            // The service made this broker: its server disconnects it when it stops, so what
            // was published goes out before the process exits.
            server = server.owning_broker();
        }
        if let Some(version) = version {
            server = server.version(version);
        }
        if let Some(address) = address {
            server = server.address(address);
        }
        if let Some(advertise) = advertise {
            server = server.advertise(advertise);
        }
        for (key, value) in self.metadata {
            server = server.metadata(key, value);
        }
        if let Some(ttl) = register_ttl {
            server = server.register_ttl(ttl);
        }
        if let Some(interval) = register_interval {
            server = server.register_interval(interval);
        }
        if let Some(transport) = transport {
            server = server.shared_transport(transport);
        }
        server = server.with_layers(self.handler_layers);
        let client = Client::builder(registry)
            .options(client_options)
            .with_layers(self.call_layers, self.attempt_layers)
            .build();
        Ok(Service {
            server,
            client,
            broker,
        })
    }
}
