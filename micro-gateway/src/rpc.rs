//! `POST /rpc`: go-micro's classic envelope, `{"service", "endpoint", "request", "address"}`
//! (`method` for `endpoint`, and `request` as an object or as a JSON string, are accepted too, as
//! go-micro's were), in JSON or as form fields. Its own errors have go-micro's id `go.micro.rpc`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use micro_runtime::Error;
use micro_runtime::codec::ContentType;
use serde_json::{Map, Value};

use crate::Shared;
use crate::errors::ApiError;
use crate::request::{self, Encoding};

const RPC_ID: &str = "go.micro.rpc";

pub(crate) async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    match call(&shared, request).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

fn bad(detail: impl Into<String>) -> ApiError {
    ApiError(Error::new(RPC_ID, detail, 400))
}

/// A string field of the envelope, if present.
fn text<'a>(envelope: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, ApiError> {
    match envelope.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(bad(format!("\"{name}\" must be a string"))),
    }
}

async fn call(shared: &Shared, request: Request) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let encoding = request::encoding(&parts.headers)?;
    let mut options = request::call_options(&parts.headers, &shared.options)?;
    let body = request::read_body(body, &shared.options).await?;
    let envelope = match encoding {
        Encoding::Raw(_) => {
            return Err(ApiError::new(
                415,
                "/rpc takes a JSON envelope or form fields",
            ));
        }
        json_or_form => request::body_object(json_or_form, &body, None)?,
    };
    let service = text(&envelope, "service")?.ok_or_else(|| bad("\"service\" is missing"))?;
    let endpoint = match text(&envelope, "endpoint")? {
        Some(endpoint) => endpoint,
        None => text(&envelope, "method")?.ok_or_else(|| bad("\"endpoint\" is missing"))?,
    };
    let payload = match envelope.get("request") {
        None | Some(Value::Null) => Bytes::from_static(b"{}"),
        Some(Value::Object(fields)) => {
            Bytes::from(serde_json::to_vec(fields).expect("a JSON map serializes"))
        }
        // A request given as a JSON string, as go-micro's web page sent it.
        Some(Value::String(json)) => {
            let fields = request::json_object(json.as_bytes())
                .map_err(|err| bad(format!("\"request\": {}", err.0.detail)))?;
            Bytes::from(serde_json::to_vec(&fields).expect("a JSON map serializes"))
        }
        Some(_) => return Err(bad("\"request\" must be a JSON object")),
    };
    if let Some(address) = text(&envelope, "address")? {
        check_address(shared, service, address).await?;
        options = options.address(address);
    }
    let reply = shared
        .client
        .call_raw(service, endpoint, ContentType::JSON, payload, &options)
        .await
        .map_err(|err| ApiError::from_call(err, service, endpoint))?;
    let mut response = reply.into_response();
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

/// An `address` must be one of the service's registered nodes, unless the gateway is set to
/// allow any ([`GatewayOptions::rpc_any_address`](crate::GatewayOptions::rpc_any_address)).
async fn check_address(shared: &Shared, service: &str, address: &str) -> Result<(), ApiError> {
    if shared.options.rpc_any_address {
        return Ok(());
    }
    let records = shared
        .registry
        .get_service_shared(service)
        .await
        .unwrap_or_default();
    let registered = records
        .iter()
        .flat_map(|r| r.nodes.iter())
        .any(|n| n.address == address);
    if registered {
        Ok(())
    } else {
        Err(ApiError(Error::new(
            RPC_ID,
            format!(
                "{address} is not a registered node of {service}; this gateway sends only to \
                 registered nodes (micro api --rpc-any-address allows any)"
            ),
            403,
        )))
    }
}
