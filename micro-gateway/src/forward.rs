//! `/{path}`: the service and endpoint the path names, called with the request's body, form or
//! query string, and the reply answered as it came.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use micro_runtime::CallOptions;
use micro_runtime::codec::ContentType;
use micro_runtime::registry::{Endpoint, ServiceRecord};

use crate::Shared;
use crate::errors::ApiError;
use crate::request::{self, Encoding};
use crate::resolve::{Route, resolve};
use crate::routes::Found;

/// Any path but the gateway's own: resolve, check, call.
pub(crate) async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    match call(&shared, request).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

async fn call(shared: &Shared, request: Request) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    // Routes the services declare come first.
    let table = shared.routes.table(&shared.registry).await;
    match table.find(parts.method.as_str(), parts.uri.path()) {
        Found::Route(route, variables) => {
            return crate::declared::call(shared, &route, variables, parts, body).await;
        }
        Found::OtherMethods(methods) => return Ok(not_allowed(parts.uri.path(), &methods)),
        Found::None => {}
    }
    if !matches!(
        parts.method,
        Method::GET | Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    ) {
        return Err(ApiError::new(
            405,
            format!("method {} is not served", parts.method),
        ));
    }
    let path = parts.uri.path();
    let header_endpoint = parts
        .headers
        .get("Micro-Endpoint")
        .and_then(|v| v.to_str().ok());
    let route = resolve(path, header_endpoint, shared.options.namespace.as_deref())
        .ok_or_else(|| ApiError::new(404, format!("{path} names no service")))?;
    let records = lookup(shared, &route, path).await?;
    let endpoint = find_endpoint(&records, &route, path)?;
    if endpoint.metadata.get("stream").is_some_and(|v| v == "true") {
        let query = request::form_fields(
            parts.uri.query().unwrap_or("").as_bytes(),
            endpoint.request.as_ref(),
        )?;
        return crate::stream::serve(shared, &route.service, endpoint, parts, body, query).await;
    }

    let encoding = request::encoding(&parts.headers)?;
    let options = request::call_options(&parts.headers, &shared.options)?;
    let body = request::read_body(body, &shared.options).await?;
    let query = parts.uri.query().unwrap_or("").as_bytes();
    let (content_type, payload) = match encoding {
        Encoding::Raw(content_type) => (content_type, body),
        // A JSON object and no query string: the bytes go on as they came (checked, not
        // rebuilt), so numbers keep every digit and nothing is spent re-encoding.
        Encoding::Json | Encoding::Form if query.is_empty() && request::looks_like_json(&body) => {
            request::check_json(&body)?;
            (ContentType::JSON, body)
        }
        Encoding::Json | Encoding::Form => {
            // go-micro's order: the query's fields, then the body's over them.
            let schema = endpoint.request.as_ref();
            let mut fields = request::form_fields(query, schema)?;
            request::merge(&mut fields, request::body_object(encoding, &body, schema)?);
            let json = serde_json::to_vec(&fields).expect("a JSON map serializes");
            (ContentType::JSON, Bytes::from(json))
        }
    };
    unary(
        shared,
        &route.service,
        &route.endpoint,
        content_type,
        payload,
        &options,
    )
    .await
}

/// Calls `endpoint` and answers 200 with the reply in the request's codec.
pub(crate) async fn unary(
    shared: &Shared,
    service: &str,
    endpoint: &str,
    content_type: ContentType,
    payload: Bytes,
    options: &CallOptions,
) -> Result<Response, ApiError> {
    let reply = shared
        .client
        .call_raw(service, endpoint, content_type, payload, options)
        .await
        .map_err(|err| ApiError::from_call(err, service, endpoint))?;
    Ok(reply_response(content_type, reply))
}

/// 405 for a path whose declared routes take other methods, with the `Allow` header.
fn not_allowed(path: &str, methods: &[String]) -> Response {
    let allow = methods.join(", ");
    let mut response =
        ApiError::new(405, format!("{path} is declared for {allow} only")).into_response();
    if let Ok(value) = HeaderValue::from_str(&allow) {
        response.headers_mut().insert(header::ALLOW, value);
    }
    response
}

/// The service's records; 404 saying what the path resolved to when there are none.
async fn lookup(
    shared: &Shared,
    route: &Route,
    path: &str,
) -> Result<Arc<[ServiceRecord]>, ApiError> {
    let records = shared
        .registry
        .get_service_shared(&route.service)
        .await
        .map_err(|err| ApiError::new(503, format!("the registry is unreachable: {err}")))?;
    if records.is_empty() {
        return Err(ApiError::new(
            404,
            format!(
                "service {} not found: {path} resolved to {route}",
                route.service
            ),
        ));
    }
    Ok(records)
}

/// The endpoint in any version's record; 404 listing the service's endpoints when it has none
/// of that name.
fn find_endpoint<'a>(
    records: &'a [ServiceRecord],
    route: &Route,
    path: &str,
) -> Result<&'a Endpoint, ApiError> {
    let mut all = records.iter().flat_map(|r| r.endpoints.iter());
    if let Some(endpoint) = all.clone().find(|e| e.name == route.endpoint) {
        return Ok(endpoint);
    }
    let mut names: Vec<&str> = all.by_ref().map(|e| e.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    Err(ApiError::new(
        404,
        format!(
            "{} has no endpoint {}: {path} resolved to {route}; its endpoints: {}",
            route.service,
            route.endpoint,
            names.join(", ")
        ),
    ))
}

/// 200 with the reply in the request's codec.
fn reply_response(content_type: ContentType, reply: Bytes) -> Response {
    let mut response = Response::new(Body::from(reply));
    *response.status_mut() = StatusCode::OK;
    if let Ok(value) = HeaderValue::from_str(content_type.as_str()) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}

/// `GET /`: every service with its endpoints, as go-micro's `micro api` lists them.
pub(crate) async fn index(State(shared): State<Arc<Shared>>) -> Response {
    match shared.registry.list_services().await {
        Ok(records) => {
            let mut services: Vec<serde_json::Value> = Vec::new();
            for record in records {
                let endpoints: Vec<&str> =
                    record.endpoints.iter().map(|e| e.name.as_str()).collect();
                services.push(serde_json::json!({
                    "name": record.name,
                    "version": record.version,
                    "endpoints": endpoints,
                }));
            }
            axum::Json(services).into_response()
        }
        Err(err) => {
            ApiError::new(503, format!("the registry is unreachable: {err}")).into_response()
        }
    }
}
