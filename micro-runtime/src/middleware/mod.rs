//! Middleware is tower: layers around handlers, subscribers and calls.
//!
//! Every place middleware goes is a [`tower::Service`], so any tower [`Layer`](tower::Layer)
//! works there (`tower::timeout::TimeoutLayer`, `tower::limit::ConcurrencyLimitLayer`,
//! `tower::load_shed::LoadShedLayer`, a rate limit behind a buffer, your own), and [`from_fn`]
//! makes one from an async closure:
//!
//! | where | request → response | added with |
//! |---|---|---|
//! | around handlers | [`server::Request`](crate::server::Request) → [`server::Response`](crate::server::Response) | `Server::layer`, `Service::layer` |
//! | around subscribers | [`server::SubscriberRequest`](crate::server::SubscriberRequest) → `()` | `Server::subscriber_layer` |
//!
//! Layers run in the order they were added, the first outermost (tower's `ServiceBuilder`
//! order, and go-micro's). A layer sees the request before the handler (its context, its
//! encoded body, the typed message on demand) and the response after it; for a stream, the
//! stream's opening and its end. Errors from layers are [`BoxError`]s: a micro [`Error`]
//! passes unchanged, tower's timeout becomes a 408 and its load shedding a 503, and anything
//! else a 500 with the error's text.

mod from_fn;
pub(crate) mod layers;

pub use from_fn::{FromFn, FromFnLayer, Next, from_fn};
pub use layers::{BoxService, LayerFor};

use crate::error::Error;

/// The error type of every layered service: anything a layer may fail with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A layered service's error as the wire error the caller gets.
pub(crate) fn into_error(error: BoxError, id: &str) -> Error {
    match error.downcast::<Error>() {
        Ok(error) => *error,
        Err(error) if error.is::<tower::timeout::error::Elapsed>() => {
            Error::timeout("deadline exceeded: a timeout layer gave up").with_id(id)
        }
        Err(error) if error.is::<tower::load_shed::error::Overloaded>() => {
            Error::unavailable("overloaded: try again later").with_id(id)
        }
        Err(error) => Error::internal_server_error(error.to_string()).with_id(id),
    }
}
