//! The NATS broker. (Being written: see issue 5.)

use super::{Broker, EventHandler, Message, SubscribeOptions, Subscription, broker_error};
use crate::error::LocalError;
use crate::registry::BoxFuture;

/// Where the NATS broker connects when `MICRO_BROKER_ADDRESS` is unset (go-micro's default).
pub const DEFAULT_ADDRESS: &str = "nats://127.0.0.1:4222";

/// A broker on NATS.
pub struct NatsBroker {
    servers: String,
}

impl NatsBroker {
    /// A broker for the NATS servers in `servers` (URLs, comma-separated); connects on first use.
    pub fn new(servers: impl Into<String>) -> Result<Self, LocalError> {
        Ok(Self {
            servers: servers.into(),
        })
    }
}

impl Broker for NatsBroker {
    fn name(&self) -> &'static str {
        "nats"
    }
    fn address(&self) -> String {
        self.servers.clone()
    }
    fn connect(&self) -> BoxFuture<'_, Result<(), LocalError>> {
        Box::pin(async { Err(broker_error("the NATS broker is not written yet")) })
    }
    fn disconnect(&self) -> BoxFuture<'_, Result<(), LocalError>> {
        Box::pin(async { Ok(()) })
    }
    fn publish<'a>(&'a self, _: &'a str, _: Message) -> BoxFuture<'a, Result<(), LocalError>> {
        Box::pin(async { Err(broker_error("the NATS broker is not written yet")) })
    }
    fn subscribe<'a>(
        &'a self,
        _: &'a str,
        _: EventHandler,
        _: SubscribeOptions,
    ) -> BoxFuture<'a, Result<Subscription, LocalError>> {
        Box::pin(async { Err(broker_error("the NATS broker is not written yet")) })
    }
}
