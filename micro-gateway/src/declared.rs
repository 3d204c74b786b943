//! A request on a route a service declared (`google.api.http`): the request message is built as
//! grpc-gateway builds it, from the query string, then the body (the whole of it for `body: "*"`,
//! one field for `body: "field"`, none when the route names no body), then the path's variables,
//! each typed by the request's schema. A streaming endpoint streams as on any other path.

use axum::body::{Body, Bytes};
use axum::http::request::Parts;
use axum::response::Response;
use micro_runtime::codec::ContentType;
use micro_runtime::registry::fields_to_json;
use serde_json::{Map, Value};

use crate::Shared;
use crate::errors::ApiError;
use crate::request::{self, Encoding};
use crate::routes::Declared;

pub(crate) async fn call(
    shared: &Shared,
    route: &Declared,
    variables: Vec<(String, String)>,
    parts: Parts,
    body: Body,
) -> Result<Response, ApiError> {
    let schema = route.endpoint.request.as_ref();
    let mut fields = request::form_fields(parts.uri.query().unwrap_or("").as_bytes(), schema)?;
    let from_path = fields_to_json(
        variables.iter().map(|(f, v)| (f.as_str(), v.as_str())),
        schema,
    )
    .map_err(|err| ApiError::new(400, format!("path {}: field {err}", route.path)))?;
    if route
        .endpoint
        .metadata
        .get("stream")
        .is_some_and(|v| v == "true")
    {
        request::merge(&mut fields, from_path);
        let (service, endpoint) = (route.service.as_str(), &route.endpoint);
        return crate::stream::serve(shared, service, endpoint, parts, body, fields).await;
    }
    let options = request::call_options(&parts.headers, &shared.options)?;
    if !route.body.is_empty() {
        if let Encoding::Raw(_) = request::encoding(&parts.headers)? {
            return Err(ApiError::new(
                415,
                format!("{} {} takes a JSON body", route.method, route.path),
            ));
        }
        let bytes = request::read_body(body, &shared.options).await?;
        request::merge(&mut fields, body_fields(&route.body, &bytes)?);
    }
    request::merge(&mut fields, from_path);
    let payload = Bytes::from(serde_json::to_vec(&fields).expect("a JSON map serializes"));
    crate::forward::unary(
        shared,
        &route.service,
        &route.endpoint.name,
        ContentType::JSON,
        payload,
        &options,
    )
    .await
}

/// The fields a body sets: all of its object for `*`, else the one field it is.
fn body_fields(body: &str, bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if body == "*" {
        return request::json_object(bytes);
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let value: Value =
        serde_json::from_slice(bytes).map_err(|err| crate::request::malformed(&err))?;
    Ok(Map::from_iter([(body.to_string(), value)]))
}
