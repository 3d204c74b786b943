//! [`CircuitBreakerLayer`]: stop sending to a node that keeps failing, and probe it later.
//!
//! An attempt layer (`ClientBuilder::attempt_layer`), so it sees each try on one node. Per node:
//! - **closed**: attempts go through; consecutive failures are counted, and a success resets
//!   the count;
//! - **open** after [`failure_threshold`](CircuitBreakerLayer::failure_threshold) failures in a
//!   row: attempts on the node are refused at once, unsent, so the call moves on to the next node
//!   without waiting on this one;
//! - **half-open** once [`open_for`](CircuitBreakerLayer::open_for) has passed: one attempt is
//!   let through as a probe (others are still refused); its success closes the circuit, its
//!   failure opens it again.
//!
//! A failure is an attempt that could not reach the node, timed out or broke, and (unless
//! [`count_server_errors`](CircuitBreakerLayer::count_server_errors) is off) one the node answered
//! with a 5xx error other than 501. A 4xx is the caller's fault, not the node's. Only nodes with
//! failures are remembered, so memory follows the failing nodes, not all nodes ever called.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;
use tower::{Layer, Service};

use super::attempt::{AttemptError, AttemptFailure};
use super::request::{Attempt, CallResponse};
use crate::error::{CLIENT_ID, Error};
use crate::middleware::BoxError;
use crate::registry::BoxFuture;

/// Opens a node's circuit after consecutive failures, refuses attempts on it while open, and
/// probes it after [`open_for`](Self::open_for); 5xx answers (but 501) count as failures unless
/// [`count_server_errors`](Self::count_server_errors) is off.
#[derive(Clone, Debug)]
pub struct CircuitBreakerLayer {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    failure_threshold: u32,
    open_for: Duration,
    count_server_errors: bool,
    // Node address → its circuit; only nodes with failures or an open circuit are here.
    nodes: Mutex<HashMap<String, State>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { probing: bool },
}

impl Default for CircuitBreakerLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl CircuitBreakerLayer {
    /// Opens after 5 failures in a row, for 30 s; 5xx answers count as failures.
    pub fn new() -> Self {
        Self {
            shared: Arc::new(Shared {
                failure_threshold: 5,
                open_for: Duration::from_secs(30),
                count_server_errors: true,
                nodes: Mutex::default(),
            }),
        }
    }

    fn with(self, change: impl FnOnce(&mut Shared)) -> Self {
        let mut shared = Arc::try_unwrap(self.shared).unwrap_or_else(|shared| Shared {
            failure_threshold: shared.failure_threshold,
            open_for: shared.open_for,
            count_server_errors: shared.count_server_errors,
            nodes: Mutex::default(),
        });
        change(&mut shared);
        Self {
            shared: Arc::new(shared),
        }
    }

    /// Consecutive failures that open a node's circuit (at least 1).
    pub fn failure_threshold(self, failures: u32) -> Self {
        self.with(|s| s.failure_threshold = failures.max(1))
    }

    /// How long an open circuit refuses attempts before letting a probe through.
    pub fn open_for(self, period: Duration) -> Self {
        self.with(|s| s.open_for = period)
    }

    /// Whether a node's 5xx answers (but 501) count as failures (default `true`).
    pub fn count_server_errors(self, count: bool) -> Self {
        self.with(|s| s.count_server_errors = count)
    }

    /// Whether the circuit of the node at `address` is open now (refusing attempts).
    pub fn is_open(&self, address: &str) -> bool {
        let nodes = self.shared.nodes.lock().unwrap_or_else(|e| e.into_inner());
        match nodes.get(address) {
            Some(State::Open { until }) => Instant::now() < *until,
            Some(State::HalfOpen { probing }) => *probing,
            _ => false,
        }
    }
}

impl<S> Layer<S> for CircuitBreakerLayer {
    type Service = CircuitBreaker<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CircuitBreaker {
            inner,
            shared: Arc::clone(&self.shared),
        }
    }
}

/// The service [`CircuitBreakerLayer`] makes.
#[derive(Clone, Debug)]
pub struct CircuitBreaker<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl Shared {
    /// Whether an attempt on `node` may go: `Some(probe)` if so, `None` if its circuit is open.
    fn admit(&self, node: &str) -> Option<bool> {
        let mut nodes = self.nodes.lock().unwrap_or_else(|e| e.into_inner());
        let Some(state) = nodes.get_mut(node) else {
            return Some(false);
        };
        match *state {
            State::Closed { .. } => Some(false),
            State::Open { until } if Instant::now() < until => None,
            State::Open { .. } | State::HalfOpen { probing: false } => {
                *state = State::HalfOpen { probing: true };
                Some(true)
            }
            State::HalfOpen { probing: true } => None,
        }
    }

    /// Records how an attempt on `node` ended: `Some(failed)`, or `None` when it was cancelled.
    fn record(&self, node: &str, probe: bool, failed: Option<bool>) {
        let mut nodes = self.nodes.lock().unwrap_or_else(|e| e.into_inner());
        let open = State::Open {
            until: Instant::now() + self.open_for,
        };
        match failed {
            Some(false) => {
                nodes.remove(node);
            }
            // A probe that never finished: let the next attempt probe.
            None if probe => {
                nodes.insert(node.to_string(), State::HalfOpen { probing: false });
            }
            None => {}
            Some(true) if probe => {
                tracing::warn!(node, "circuit breaker: the probe failed; open again");
                nodes.insert(node.to_string(), open);
            }
            Some(true) => {
                let failures = match nodes.get(node) {
                    None => 1,
                    Some(State::Closed { failures }) => failures + 1,
                    // It finished after the circuit opened or a probe began: nothing new.
                    Some(_) => return,
                };
                if failures >= self.failure_threshold {
                    tracing::warn!(node, failures, open_for = ?self.open_for, "circuit breaker: open");
                    nodes.insert(node.to_string(), open);
                } else {
                    nodes.insert(node.to_string(), State::Closed { failures });
                }
            }
        }
    }

    fn failed(&self, result: &Result<CallResponse, BoxError>) -> bool {
        let Err(error) = result else { return false };
        match error.downcast_ref::<AttemptError>() {
            Some(failure) if failure.kind == AttemptFailure::Final => {
                let code = failure.error.code;
                self.count_server_errors && (500..600).contains(&code) && code != 501
            }
            Some(_) => true,
            None => match error.downcast_ref::<Error>() {
                Some(error) => {
                    self.count_server_errors
                        && (500..600).contains(&error.code)
                        && error.code != 501
                }
                // Another layer's error (a tower timeout): the node did not answer in time.
                None => true,
            },
        }
    }
}

/// Records a cancelled attempt (the future dropped before it finished), so a probe is not stuck.
struct Pending {
    shared: Arc<Shared>,
    node: String,
    probe: bool,
    done: bool,
}

impl Pending {
    /// Records the attempt's result.
    fn finish(mut self, result: &Result<CallResponse, BoxError>) {
        let failed = self.shared.failed(result);
        self.shared.record(&self.node, self.probe, Some(failed));
        self.done = true;
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.done {
            self.shared.record(&self.node, self.probe, None);
        }
    }
}

impl<S> Service<Attempt> for CircuitBreaker<S>
where
    S: Service<Attempt, Response = CallResponse, Error = BoxError> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = CallResponse;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<CallResponse, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, attempt: Attempt) -> Self::Future {
        let node = attempt.node().address.clone();
        let Some(probe) = self.shared.admit(&node) else {
            let refused = AttemptError::unsent(
                Error::unavailable(format!(
                    "circuit open for {node}: it failed {} times in a row",
                    self.shared.failure_threshold
                ))
                .with_id(CLIENT_ID),
            );
            return Box::pin(std::future::ready(Err(refused.into())));
        };
        let pending = Pending {
            shared: Arc::clone(&self.shared),
            node,
            probe,
            done: false,
        };
        let call = self.inner.call(attempt);
        Box::pin(async move {
            let result = call.await;
            pending.finish(&result);
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use tower::ServiceExt;

    use super::*;
    use crate::client::request::CallBody;
    use crate::registry::Node;

    fn attempt(address: &str) -> Attempt {
        Attempt {
            node: crate::selector::NodeRef::owned(Node {
                id: address.into(),
                address: address.into(),
                ..Node::default()
            }),
            service: "s".into(),
            endpoint: "S.E".into(),
            content_type: crate::codec::ContentType::PROTOBUF,
            body: CallBody::Message(Default::default()),
            metadata: Default::default(),
            deadline: None,
        }
    }

    /// A node that fails (unreachable) while `down` is set.
    fn node(
        down: Arc<AtomicBool>,
    ) -> impl Service<Attempt, Response = CallResponse, Error = BoxError, Future: Send> + Clone + Send
    {
        tower::service_fn(move |_: Attempt| {
            let down = down.load(Ordering::SeqCst);
            async move {
                if down {
                    Err(AttemptError::unsent(Error::internal_server_error("refused")).into())
                } else {
                    Ok(CallResponse::Message(Default::default()))
                }
            }
        })
    }

    async fn try_once<S>(service: &mut S) -> Result<CallResponse, BoxError>
    where
        S: Service<Attempt, Response = CallResponse, Error = BoxError>,
    {
        service.ready().await?.call(attempt("a:1")).await
    }

    #[tokio::test(start_paused = true)]
    async fn opens_after_consecutive_failures_then_probes_and_closes() {
        let down = Arc::new(AtomicBool::new(true));
        let layer = CircuitBreakerLayer::new()
            .failure_threshold(3)
            .open_for(Duration::from_secs(10));
        let mut breaker = layer.layer(node(Arc::clone(&down)));
        for _ in 0..3 {
            assert!(try_once(&mut breaker).await.is_err());
        }
        assert!(layer.is_open("a:1"));
        // Open: refused without reaching the node, as unsent, so the call moves on.
        down.store(false, Ordering::SeqCst);
        let refused = try_once(&mut breaker).await.unwrap_err();
        let refused = refused.downcast_ref::<AttemptError>().unwrap();
        assert_eq!(
            (refused.kind, refused.error.code),
            (AttemptFailure::Unsent, 503)
        );
        // After open_for, one probe; it succeeds and the circuit closes.
        tokio::time::advance(Duration::from_secs(10)).await;
        assert!(try_once(&mut breaker).await.is_ok());
        assert!(!layer.is_open("a:1"));
        assert!(try_once(&mut breaker).await.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_probe_opens_again_and_successes_reset_the_count() {
        let down = Arc::new(AtomicBool::new(true));
        let layer = CircuitBreakerLayer::new()
            .failure_threshold(2)
            .open_for(Duration::from_secs(5));
        let mut breaker = layer.layer(node(Arc::clone(&down)));
        assert!(try_once(&mut breaker).await.is_err());
        down.store(false, Ordering::SeqCst);
        assert!(try_once(&mut breaker).await.is_ok()); // resets the count
        down.store(true, Ordering::SeqCst);
        assert!(try_once(&mut breaker).await.is_err());
        assert!(!layer.is_open("a:1"), "one failure after a success");
        assert!(try_once(&mut breaker).await.is_err());
        assert!(layer.is_open("a:1"));
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(try_once(&mut breaker).await.is_err(), "the probe fails");
        assert!(layer.is_open("a:1"), "and the circuit is open again");
    }

    #[tokio::test]
    async fn client_errors_do_not_count_but_server_errors_do() {
        let layer = CircuitBreakerLayer::new().failure_threshold(1);
        let answer = |code: i32| {
            tower::service_fn(move |_: Attempt| async move {
                Err::<CallResponse, BoxError>(
                    AttemptError::answered(Error::new("s", "no", code)).into(),
                )
            })
        };
        let mut bad_request = layer.layer(answer(400));
        let _ = bad_request
            .ready()
            .await
            .unwrap()
            .call(attempt("b:1"))
            .await;
        assert!(!layer.is_open("b:1"));
        let mut failing = layer.layer(answer(500));
        let _ = failing.ready().await.unwrap().call(attempt("b:1")).await;
        assert!(layer.is_open("b:1"));
    }
}
