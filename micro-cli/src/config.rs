//! Options every command shares, as go-micro spells them: `--registry`, `--registry_address` and
//! their `MICRO_*` variables (a flag beats the variable), and the output format.

use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};
use micro_runtime::broker::{Broker, broker_from_env};
use micro_runtime::registry::{Registry, ServiceRecord, registry_from_env};

use crate::failure::Failure;

/// How long the registry may take to answer before it counts as unreachable.
const REGISTRY_TIMEOUT: Duration = Duration::from_secs(5);

/// The global options.
#[derive(Debug, Args)]
pub struct Global {
    /// The registry the services use: mdns, etcd or memory (default mdns).
    #[arg(long, global = true, env = "MICRO_REGISTRY")]
    registry: Option<String>,
    /// The registry's addresses, comma-separated (etcd: host:2379,...).
    #[arg(
        long = "registry_address",
        alias = "registry-address",
        global = true,
        env = "MICRO_REGISTRY_ADDRESS"
    )]
    registry_address: Option<String>,
    /// The broker for publish and subscribe: http or nats (default http).
    #[arg(long, global = true, env = "MICRO_BROKER")]
    broker: Option<String>,
    /// The broker's address: the inbox's listen address (http), or nats://host:4222,... (nats).
    #[arg(
        long = "broker_address",
        alias = "broker-address",
        global = true,
        env = "MICRO_BROKER_ADDRESS"
    )]
    broker_address: Option<String>,
    /// How results are printed.
    #[arg(short, long, global = true, value_enum, default_value_t = Output::Table)]
    pub output: Output,
}

/// How results are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Aligned columns for people.
    Table,
    /// JSON for programs: registry records as go-micro writes them, replies as they came.
    Json,
}

impl Global {
    /// The registry the flags and environment name.
    pub fn registry(&self) -> Result<Arc<dyn Registry>, Failure> {
        let lookup = |key: &str| match key {
            "MICRO_REGISTRY" => self.registry.clone(),
            "MICRO_REGISTRY_ADDRESS" => self.registry_address.clone(),
            other => std::env::var(other).ok(),
        };
        registry_from_env(lookup).map_err(|err| Failure::Usage(err.to_string()))
    }

    /// The broker the flags and environment name, on the registry they name (the HTTP broker
    /// finds subscribers there).
    pub fn broker(&self) -> Result<Arc<dyn Broker>, Failure> {
        let lookup = |key: &str| match key {
            "MICRO_BROKER" => self.broker.clone(),
            "MICRO_BROKER_ADDRESS" => self.broker_address.clone(),
            "MICRO_REGISTRY" => self.registry.clone(),
            "MICRO_REGISTRY_ADDRESS" => self.registry_address.clone(),
            other => std::env::var(other).ok(),
        };
        broker_from_env(lookup, self.registry()?).map_err(|err| Failure::Usage(err.to_string()))
    }

    /// Which broker, for messages.
    pub fn broker_name(&self) -> String {
        let kind = self.broker.as_deref().unwrap_or("http");
        match &self.broker_address {
            Some(address) => format!("{kind} broker at {address}"),
            None => format!("{kind} broker"),
        }
    }

    /// Where the registry is, for messages: its kind and address.
    pub fn registry_name(&self) -> String {
        let kind = self.registry.as_deref().unwrap_or("mdns");
        match &self.registry_address {
            Some(address) => format!("{kind} registry at {address}"),
            None => format!("{kind} registry"),
        }
    }

    /// Runs a registry operation, bounded so that a registry nobody answers for is reported as
    /// unreachable rather than left waiting.
    pub async fn ask<T>(
        &self,
        operation: impl Future<Output = Result<T, micro_runtime::LocalError>>,
    ) -> Result<T, Failure> {
        match tokio::time::timeout(REGISTRY_TIMEOUT, operation).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => Err(Failure::Unreachable(format!(
                "{}: {err}",
                self.registry_name()
            ))),
            Err(_) => Err(Failure::Unreachable(format!(
                "{} did not answer within {REGISTRY_TIMEOUT:?}",
                self.registry_name()
            ))),
        }
    }

    /// Every version of `name`, or a not-found failure naming near matches.
    pub async fn service(
        &self,
        registry: &Arc<dyn Registry>,
        name: &str,
    ) -> Result<Vec<ServiceRecord>, Failure> {
        let records = self.ask(registry.get_service(name)).await?;
        if !records.is_empty() {
            return Ok(records);
        }
        let all = self.ask(registry.list_services()).await?;
        let names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
        Err(Failure::NotFound(crate::lookup::unknown(
            "service",
            name,
            names,
            &self.registry_name(),
        )))
    }
}
