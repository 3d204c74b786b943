//! The built-in `Debug.Health` endpoint: `{"status":"ok"}` while the server serves.
//!
//! go-micro v2 registered a `Debug` handler on every server; v5 dropped it. micro serves
//! `Debug.Health` on every server (not advertised in the registry), so load balancers, scripts and
//! `curl` can probe any node:
//! `curl -XPOST -H 'Content-Type: application/json' -H 'Micro-Endpoint: Debug.Health' http://HOST:PORT`.

use serde::{Deserialize, Serialize};

use super::router::Router;
use crate::context::Context;
use crate::descriptor::{EndpointDescriptor, EndpointKind, ValueDescriptor};
use crate::error::Error;

/// The (empty) request of `Debug.Health`.
#[derive(Clone, PartialEq, prost::Message, Serialize, Deserialize)]
pub struct HealthRequest {}

/// The answer of `Debug.Health`.
#[derive(Clone, PartialEq, prost::Message, Serialize, Deserialize)]
pub struct HealthResponse {
    /// `ok` while the server serves.
    #[prost(string, tag = "1")]
    #[serde(default)]
    pub status: String,
}

static HEALTH: EndpointDescriptor = EndpointDescriptor {
    name: "Debug.Health",
    kind: EndpointKind::Unary,
    request: ValueDescriptor {
        name: "HealthRequest",
        type_name: "HealthRequest",
        values: &[],
    },
    response: ValueDescriptor {
        name: "HealthResponse",
        type_name: "HealthResponse",
        values: &[ValueDescriptor {
            name: "status",
            type_name: "string",
            values: &[],
        }],
    },
    metadata: &[],
};

/// Adds `Debug.Health` to a router.
pub(crate) fn register(router: &mut Router) {
    router.unary_hidden(&HEALTH, |_ctx: Context, _req: HealthRequest| async {
        Ok::<_, Error>(HealthResponse {
            status: "ok".to_string(),
        })
    });
}
