//! The HTTP broker: go-micro's default. (Being written: see issue 5.)

use std::sync::Arc;

use super::{Broker, EventHandler, Message, SubscribeOptions, Subscription, broker_error};
use crate::error::LocalError;
use crate::registry::{BoxFuture, Registry};

/// go-micro's HTTP broker.
pub struct HttpBroker {
    #[allow(dead_code)]
    registry: Arc<dyn Registry>,
    address: String,
}

impl HttpBroker {
    /// A broker finding subscribers in `registry`, its inbox on `127.0.0.1:0`.
    pub fn new(registry: Arc<dyn Registry>) -> Self {
        Self {
            registry,
            address: "127.0.0.1:0".to_string(),
        }
    }

    /// The inbox's listen address.
    pub fn address(mut self, address: impl Into<String>) -> Self {
        self.address = address.into();
        self
    }
}

impl Broker for HttpBroker {
    fn name(&self) -> &'static str {
        "http"
    }
    fn address(&self) -> String {
        self.address.clone()
    }
    fn connect(&self) -> BoxFuture<'_, Result<(), LocalError>> {
        Box::pin(async { Err(broker_error("the HTTP broker is not written yet")) })
    }
    fn disconnect(&self) -> BoxFuture<'_, Result<(), LocalError>> {
        Box::pin(async { Ok(()) })
    }
    fn publish<'a>(&'a self, _: &'a str, _: Message) -> BoxFuture<'a, Result<(), LocalError>> {
        Box::pin(async { Err(broker_error("the HTTP broker is not written yet")) })
    }
    fn subscribe<'a>(
        &'a self,
        _: &'a str,
        _: EventHandler,
        _: SubscribeOptions,
    ) -> BoxFuture<'a, Result<Subscription, LocalError>> {
        Box::pin(async { Err(broker_error("the HTTP broker is not written yet")) })
    }
}
