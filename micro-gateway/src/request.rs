//! From an HTTP request to a call's parts: the body in a codec micro speaks, the metadata of the
//! allowed headers, and the call's timeout. Bad input is refused here, before anything is sent.

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, header};
use micro_runtime::CallOptions;
use micro_runtime::codec::ContentType;
use micro_runtime::registry::{Value as RegistryValue, fields_to_json};
use micro_runtime::service::parse_duration;
use serde_json::{Map, Value};

use crate::errors::ApiError;
use crate::options::GatewayOptions;

/// How the request body is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// JSON, or no body at all.
    Json,
    /// An HTML form: its fields become a JSON object of strings.
    Form,
    /// Forwarded as it is, in this codec.
    Raw(ContentType),
}

/// The body's encoding from its `Content-Type`; 415 for one micro cannot forward.
pub(crate) fn encoding(headers: &HeaderMap) -> Result<Encoding, ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(Encoding::Json);
    };
    let text = value.to_str().unwrap_or("");
    let essence = text
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "" | "application/json" => Ok(Encoding::Json),
        "application/x-www-form-urlencoded" => Ok(Encoding::Form),
        "application/protobuf" | "application/proto" | "application/x-protobuf" => {
            Ok(Encoding::Raw(ContentType::PROTOBUF))
        }
        "application/octet-stream" => Ok(Encoding::Raw(ContentType::OCTET_STREAM)),
        _ => Err(ApiError::new(
            415,
            format!(
                "Content-Type {text:?} is not supported: send application/json, \
                 application/x-www-form-urlencoded, application/protobuf or application/octet-stream"
            ),
        )),
    }
}

/// Reads the whole body within the size limit (else 413) and the body timeout (else 408).
pub(crate) async fn read_body(body: Body, options: &GatewayOptions) -> Result<Bytes, ApiError> {
    let reading = axum::body::to_bytes(body, options.max_body);
    match tokio::time::timeout(options.body_timeout, reading).await {
        Err(_) => Err(ApiError::new(
            408,
            format!(
                "the request body did not arrive within {:?}",
                options.body_timeout
            ),
        )),
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(err)) => {
            let too_large = std::error::Error::source(&err)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            Err(if too_large {
                ApiError::new(
                    413,
                    format!("the request body is larger than {} bytes", options.max_body),
                )
            } else {
                ApiError::new(400, format!("reading the request body: {err}"))
            })
        }
    }
}

/// A JSON request: an object, `{}` when empty; 400 naming the position of a syntax error.
pub(crate) fn json_object(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(ApiError::new(
            400,
            format!("the request must be a JSON object, not {}", kind(&other)),
        )),
        Err(err) => Err(malformed(&err)),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The JSON objects of a body, one after another (newline-delimited, or simply in a row): the
/// messages of a stream.
pub(crate) fn json_objects(bytes: &[u8]) -> Result<Vec<Map<String, Value>>, ApiError> {
    let mut objects = Vec::new();
    for (index, value) in serde_json::Deserializer::from_slice(bytes)
        .into_iter::<Value>()
        .enumerate()
    {
        match value {
            Ok(Value::Object(map)) => objects.push(map),
            Ok(other) => {
                return Err(ApiError::new(
                    400,
                    format!(
                        "message {}: must be a JSON object, not {}",
                        index + 1,
                        kind(&other)
                    ),
                ));
            }
            Err(err) => {
                return Err(malformed(&err));
            }
        }
    }
    Ok(objects)
}

/// URL-encoded fields (a query string or a form) as a JSON object, typed by the endpoint's
/// request `schema` ([`fields_to_json`]): dotted names nest (`address.city=Paris`), a repeated
/// field's values make an array, `count=3` is a number when `count` is an `int32`.
pub(crate) fn form_fields(
    encoded: &[u8],
    schema: Option<&RegistryValue>,
) -> Result<Map<String, Value>, ApiError> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(encoded).into_owned().collect();
    fields_to_json(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())), schema)
        .map_err(|err| ApiError::new(400, format!("field {err}")))
}

/// 400 for JSON that does not parse, naming where.
pub(crate) fn malformed(err: &serde_json::Error) -> ApiError {
    ApiError::new(
        400,
        format!(
            "malformed JSON at line {}, column {}: {err}",
            err.line(),
            err.column()
        ),
    )
}

/// Checks that `bytes` hold one JSON value, without building it; 400 naming the position of a
/// syntax error.
pub(crate) fn check_json(bytes: &[u8]) -> Result<(), ApiError> {
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes)
        .map(|_| ())
        .map_err(|err| malformed(&err))
}

/// The fields of a JSON or form body: a form's fields typed by `schema`, or a JSON object (also
/// when a body labelled as a form is JSON, as `curl -d` sends it).
pub(crate) fn body_object(
    encoding: Encoding,
    body: &[u8],
    schema: Option<&RegistryValue>,
) -> Result<Map<String, Value>, ApiError> {
    match encoding {
        Encoding::Form if !looks_like_json(body) => form_fields(body, schema),
        _ => json_object(body),
    }
}

/// Whether a body sent as a form is a JSON object: `curl -d '{"name": "John"}'` labels JSON as
/// a form, and no form field name starts with `{`.
pub(crate) fn looks_like_json(body: &[u8]) -> bool {
    body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// Sets `over`'s fields in `base`, merging messages field by field (`{"a": {"b": 1}}` over
/// `{"a": {"c": 2}}` keeps both) and replacing anything else.
pub(crate) fn merge(base: &mut Map<String, Value>, over: Map<String, Value>) {
    for (name, value) in over {
        match (base.get_mut(&name), value) {
            (Some(Value::Object(inner)), Value::Object(more)) => merge(inner, more),
            (_, value) => {
                base.insert(name, value);
            }
        }
    }
}

/// The call's options: metadata from the allowed headers, and the timeout, the gateway's or a
/// shorter one from a `Timeout` header (seconds, or a Go duration such as `500ms`).
pub(crate) fn call_options(
    headers: &HeaderMap,
    options: &GatewayOptions,
) -> Result<CallOptions, ApiError> {
    let timeout = match asked_timeout(headers)? {
        Some(asked) => asked.min(options.timeout),
        None => options.timeout,
    };
    Ok(with_metadata(headers, options).timeout(timeout))
}

/// A stream's options: metadata, and a deadline only if a `Timeout` header asks for one (a
/// stream may rightly last for hours).
pub(crate) fn stream_options(
    headers: &HeaderMap,
    options: &GatewayOptions,
) -> Result<CallOptions, ApiError> {
    let call = with_metadata(headers, options);
    Ok(match asked_timeout(headers)? {
        Some(asked) => call.timeout(asked),
        None => call,
    })
}

fn with_metadata(headers: &HeaderMap, options: &GatewayOptions) -> CallOptions {
    let mut call = CallOptions::new();
    for name in &options.metadata_headers {
        if let Some(value) = headers.get(name.as_str()).and_then(|v| v.to_str().ok()) {
            call = call.metadata(name.as_str(), value);
        }
    }
    call
}

fn asked_timeout(headers: &HeaderMap) -> Result<Option<std::time::Duration>, ApiError> {
    let Some(value) = headers.get("Timeout") else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(parse_duration)
        .filter(|d| !d.is_zero())
        .map(Some)
        .ok_or_else(|| {
            ApiError::new(
                400,
                format!(
                    "Timeout {value:?} is not a duration: give seconds (5) or a unit (500ms, 2s)"
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_errors_name_the_position() {
        let err = json_object(b"{\n  \"name\": }").unwrap_err();
        assert_eq!(err.0.code, 400);
        assert!(
            err.0.detail.contains("line 2, column 11"),
            "{}",
            err.0.detail
        );
        assert!(
            json_object(b"[1]")
                .unwrap_err()
                .0
                .detail
                .contains("an array")
        );
        assert!(json_object(b"  ").unwrap().is_empty());
    }

    #[test]
    fn content_types() {
        let mut headers = HeaderMap::new();
        assert_eq!(encoding(&headers).unwrap(), Encoding::Json);
        headers.insert(
            header::CONTENT_TYPE,
            "application/json; charset=utf-8".parse().unwrap(),
        );
        assert_eq!(encoding(&headers).unwrap(), Encoding::Json);
        headers.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        assert_eq!(encoding(&headers).unwrap_err().0.code, 415);
    }
}
