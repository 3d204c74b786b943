//! Errors as HTTP answers: the status is the go-micro error's code and the body its JSON, so an
//! HTTP client sees what a micro client would (go-micro's gateway answers 500 or 502 for all).
//!
//! The client's own failures are the gateway's to report, as a gateway does: a service the
//! registry does not know is 404, one whose nodes cannot be reached 503, no answer in time 504
//! (whether the client's deadline or the one it sent ran out first).
//! Their id is `go.micro.api`, go-micro's classic gateway's.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use micro_runtime::Error;
use micro_runtime::error::{CLIENT_ID, SERVER_ID};

/// The id of errors the gateway produces itself.
pub const GATEWAY_ID: &str = "go.micro.api";

/// A go-micro error, answered with its code as the HTTP status.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl ApiError {
    /// An error of the gateway's own.
    pub fn new(code: i32, detail: impl Into<String>) -> Self {
        ApiError(Error::new(GATEWAY_ID, detail, code))
    }

    /// Maps a call's failure: the service's own errors pass through; the client's become the
    /// gateway's 404, 503 or 504, naming the service and endpoint.
    pub fn from_call(err: Error, service: &str, endpoint: &str) -> Self {
        // The deadline the gateway sent may run out at the service first: its server then
        // answers 408 itself, and that is the gateway's timeout too.
        let deadline_at_server = err.id == SERVER_ID && err.code == 408;
        if err.id != CLIENT_ID && !deadline_at_server {
            return ApiError(err);
        }
        let code = match err.code {
            404 => 404,
            408 => 504,
            503 => 503,
            500 if err.detail.contains("connection error") => 503,
            code => code,
        };
        let detail = match code {
            504 => format!(
                "{service} did not answer {endpoint} in time: {}",
                err.detail
            ),
            503 => format!("{service} is unreachable: {}", err.detail),
            _ => format!("calling {service} {endpoint}: {}", err.detail),
        };
        Self::new(code, detail)
    }

    /// The HTTP status: the error's code when it is one, else 500.
    pub fn status(&self) -> StatusCode {
        u16::try_from(self.0.code)
            .ok()
            .filter(|code| (400..=599).contains(code))
            .and_then(|code| StatusCode::from_u16(code).ok())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        ApiError(err)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut err = self.0;
        if err.code == 0 {
            err.code = 500;
        }
        if err.status.is_empty() {
            err = Error::new(err.id, err.detail, err.code);
        }
        let status = ApiError(err.clone()).status();
        let mut response = (status, err.to_json()).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_services_error_keeps_its_code_and_id() {
        let err = ApiError::from_call(Error::new("greeter", "no", 409), "greeter", "G.H");
        assert_eq!(
            (err.status(), err.0.id.as_str()),
            (StatusCode::CONFLICT, "greeter")
        );
        let odd = ApiError(Error::new("greeter", "odd", 7));
        assert_eq!(odd.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn the_clients_failures_become_the_gateways() {
        let cases = [
            (
                Error::new(CLIENT_ID, "service greeter: not found", 404),
                404,
            ),
            (Error::new(CLIENT_ID, "deadline exceeded", 408), 504),
            (
                Error::new(
                    SERVER_ID,
                    "deadline exceeded before the handler finished",
                    408,
                ),
                504,
            ),
            (Error::new(CLIENT_ID, "connection error: refused", 500), 503),
            (Error::new(CLIENT_ID, "no node", 503), 503),
        ];
        for (err, status) in cases {
            let mapped = ApiError::from_call(err, "greeter", "Greeter.Hello");
            assert_eq!(mapped.status().as_u16(), status, "{mapped:?}");
            assert_eq!(mapped.0.id, GATEWAY_ID);
            assert!(mapped.0.detail.contains("greeter"), "{mapped:?}");
        }
    }
}
