//! Static descriptions of services and endpoints, generated from the .proto descriptors, and their
//! registry form (go-micro's `Endpoint` / `Value` records).

use std::collections::HashMap;

use crate::registry::{Endpoint, Value};

/// One proto service: its name and endpoints.
#[derive(Debug)]
pub struct ServiceDescriptor {
    /// The proto service name, e.g. `Greeter`.
    pub name: &'static str,
    /// The proto package, e.g. `greeter`.
    pub package: &'static str,
    /// Every rpc of the service, in proto order.
    pub endpoints: &'static [EndpointDescriptor],
}

/// One rpc.
#[derive(Debug)]
pub struct EndpointDescriptor {
    /// The endpoint name on the wire and in the registry, e.g. `Greeter.Hello`.
    pub name: &'static str,
    /// Which of the four rpc kinds it is.
    pub kind: EndpointKind,
    /// The request message's shape.
    pub request: ValueDescriptor,
    /// The response message's shape.
    pub response: ValueDescriptor,
    /// Endpoint metadata for the registry besides `stream`: the HTTP routes a `google.api.http`
    /// option declares, as go-micro's API endpoint keys (`handler`, `method`, `path`, `body`).
    pub metadata: &'static [(&'static str, &'static str)],
}

/// The four kinds of rpc.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EndpointKind {
    /// One request, one response.
    Unary,
    /// One request, a stream of responses.
    ServerStream,
    /// A stream of requests, one response.
    ClientStream,
    /// Streams both ways.
    BidiStream,
}

impl EndpointKind {
    /// Whether the endpoint streams in either direction.
    pub fn is_stream(self) -> bool {
        self != EndpointKind::Unary
    }
}

/// The shape of a message or field: go-micro's registry `Value`.
#[derive(Debug)]
pub struct ValueDescriptor {
    /// The field name (or the message name at the top).
    pub name: &'static str,
    /// The proto type: `string`, `int64`, a message or enum name, `[]T` for repeated fields.
    pub type_name: &'static str,
    /// The fields of a message type, three levels deep at most (as go-micro).
    pub values: &'static [ValueDescriptor],
}

/// A message type whose shape is known at build time, so a subscriber taking it can advertise
/// the message's fields as go-micro's subscribers do (go-micro reflects over the Go struct).
///
/// micro-build implements it for every message it generates, with the same value tree a handler
/// endpoint carries for that message. A hand-written message implements it in a few lines:
///
/// ```
/// use micro_runtime::descriptor::{Described, ValueDescriptor};
///
/// struct Ping {
///     id: String,
/// }
///
/// impl Described for Ping {
///     const VALUE: ValueDescriptor = ValueDescriptor {
///         name: "Ping",
///         type_name: "Ping",
///         values: &[ValueDescriptor { name: "id", type_name: "string", values: &[] }],
///     };
/// }
/// # let _ = Ping { id: String::new() }.id;
/// ```
pub trait Described {
    /// The message's shape: its name as `name` and `type_name`, its fields as `values`.
    const VALUE: ValueDescriptor;
}

impl ValueDescriptor {
    /// The registry form.
    pub fn to_registry(&self) -> Value {
        Value {
            name: self.name.to_string(),
            type_name: self.type_name.to_string(),
            values: self.values.iter().map(Self::to_registry).collect(),
        }
    }
}

impl EndpointDescriptor {
    /// The registry form: streaming endpoints carry `stream: "true"` as go-micro's do.
    pub fn to_registry(&self) -> Endpoint {
        let mut metadata: HashMap<String, String> = self
            .metadata
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if self.kind.is_stream() {
            metadata.insert("stream".to_string(), "true".to_string());
        }
        Endpoint {
            name: self.name.to_string(),
            request: Some(self.request.to_registry()),
            response: Some(self.response.to_registry()),
            metadata,
        }
    }
}
