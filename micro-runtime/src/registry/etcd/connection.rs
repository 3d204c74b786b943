//! [`Connection`]: the etcd client, dialled on first use and again after a failure, and
//! [`Connection::run`], which bounds every operation by the op timeout and retries it on another
//! member when one is down.

use std::future::Future;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;
use tonic::transport::Endpoint;
use tonic::{Code, Status};

use super::EtcdOptions;
use super::client::Client;
use crate::{LocalError, LocalErrorKind};

// HTTP/2 pings while a watch or keepalive stream is open, so a member that vanished without closing
// its sockets is noticed. etcd refuses pings more often than every 5 s (--grpc-keepalive-min-time).
const PING_INTERVAL: Duration = Duration::from_secs(10);
// First pause before retrying; doubled up to RETRY_MAX. Short, because a dead member answers at once.
const RETRY_MIN: Duration = Duration::from_millis(20);
const RETRY_MAX: Duration = Duration::from_millis(400);

/// The etcd client behind an [`EtcdRegistry`](super::EtcdRegistry), shared by its clones.
pub(super) struct Connection {
    options: EtcdOptions,
    // One per member, with the dial timeout and HTTP/2 pings set.
    endpoints: Vec<Endpoint>,
    // `None` until the first use, and again after a failure that suggests the cluster is gone.
    // A tokio mutex: callers that arrive while a dial is in progress wait for that one dial.
    client: Mutex<Option<Client>>,
}

impl Connection {
    /// A connection to the members at `urls` (`http://host:port`, from
    /// [`EtcdOptions::validate`]); a `Config` error if tonic does not take one.
    pub(super) fn new(options: EtcdOptions, urls: Vec<String>) -> Result<Self, LocalError> {
        let endpoints = urls
            .into_iter()
            .map(|url| {
                let endpoint = Endpoint::from_shared(url.clone()).map_err(|err| {
                    LocalError::new(
                        LocalErrorKind::Config,
                        format!("etcd registry: bad endpoint {url:?}"),
                    )
                    .with_source(err)
                })?;
                Ok(endpoint
                    .connect_timeout(options.dial_timeout)
                    .http2_keep_alive_interval(PING_INTERVAL)
                    .keep_alive_timeout(options.dial_timeout)
                    // An idle connection needs no pings: the next call finds out soon enough.
                    .keep_alive_while_idle(false))
            })
            .collect::<Result<_, LocalError>>()?;
        Ok(Self {
            options,
            endpoints,
            client: Mutex::new(None),
        })
    }

    pub(super) fn options(&self) -> &EtcdOptions {
        &self.options
    }

    /// The connected client, dialling first if there is none.
    ///
    /// The channel connects lazily, so a dial ends with a call (Authenticate with credentials,
    /// Status without) that must succeed within the dial timeout; that is what turns an
    /// unreachable cluster into a prompt error instead of calls that wait for a connection that
    /// never comes.
    pub(super) async fn client(&self) -> Result<Client, LocalError> {
        let mut slot = self.client.lock().await;
        if let Some(client) = slot.as_ref() {
            return Ok(client.clone());
        }
        let client = self.dial().await?;
        *slot = Some(client.clone());
        Ok(client)
    }

    async fn dial(&self) -> Result<Client, LocalError> {
        let deadline = Instant::now() + self.options.dial_timeout;
        let credentials = self.options.username.clone().map(|user| {
            let password = self.options.password.clone().unwrap_or_default();
            (user, password)
        });
        let authenticating = credentials.is_some();
        let client = Client::new(self.endpoints.clone(), credentials);
        let attempt = attempt_timeout(self.options.dial_timeout);
        let probe = retry_until(deadline, attempt, || {
            let client = client.clone();
            async move {
                if authenticating {
                    client.authenticate().await
                } else {
                    client.status().await
                }
            }
        });
        match tokio::time::timeout_at(deadline, probe).await {
            Ok(Ok(())) => Ok(client),
            // A member answered, and refused: a wrong password, or auth not enabled on etcd.
            Ok(Err(Failure::Permanent(err))) => Err(registry_error(format!(
                "etcd registry: etcd at {} refused the connection",
                self.options.endpoints.join(", ")
            ))
            .with_source(err)),
            Ok(Err(Failure::Transient(err))) => Err(self.unreachable().with_source(err)),
            Ok(Err(Failure::TimedOut)) | Err(_) => Err(self.unreachable()),
        }
    }

    fn unreachable(&self) -> LocalError {
        LocalError::new(
            LocalErrorKind::Registry,
            format!(
                "etcd registry: cannot reach etcd at {} within the dial timeout ({:?})",
                self.options.endpoints.join(", "),
                self.options.dial_timeout
            ),
        )
    }

    /// Forgets the client, so the next operation dials again.
    async fn reset(&self) {
        *self.client.lock().await = None;
    }

    /// Runs `op` with a client, retrying transport failures (a dead member, a leader election)
    /// until the op timeout. `what` names the operation in the error.
    pub(super) async fn run<T, F, Fut>(&self, what: &str, mut op: F) -> Result<T, LocalError>
    where
        F: FnMut(Client) -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        let client = self.client().await?;
        let deadline = Instant::now() + self.options.timeout;
        let attempt = attempt_timeout(self.options.timeout);
        let err = match retry_until(deadline, attempt, || op(client.clone())).await {
            Ok(value) => return Ok(value),
            Err(Failure::Permanent(err)) => {
                return Err(registry_error(format!("etcd registry: {what}")).with_source(err));
            }
            Err(Failure::Transient(err)) => registry_error(format!(
                "etcd registry: {what}: no etcd member at {} answered",
                self.options.endpoints.join(", ")
            ))
            .with_source(err),
            Err(Failure::TimedOut) => registry_error(format!(
                "etcd registry: {what}: timed out after {:?} (etcd at {})",
                self.options.timeout,
                self.options.endpoints.join(", ")
            )),
        };
        // The cluster may be gone or replaced: dial again next time, which fails fast (within the
        // dial timeout) if it is still unreachable.
        self.reset().await;
        Err(err)
    }
}

fn registry_error(message: String) -> LocalError {
    LocalError::new(LocalErrorKind::Registry, message)
}

/// How long one try may take: a third of the whole budget (at least 500 ms), so a request stuck on
/// a member that lost its leader (etcd only gives up on it after about 7 s) leaves time to retry
/// once the cluster has elected a new one, typically within 1-2 s.
fn attempt_timeout(total: Duration) -> Duration {
    (total / 3).max(Duration::from_millis(500)).min(total)
}

/// Why [`retry_until`] gave up.
pub(super) enum Failure {
    /// A failure retrying cannot fix (bad request, permission denied, ...).
    Permanent(Status),
    /// The last try failed the way a dead member or an election does, and time ran out.
    Transient(Status),
    /// The last try took too long, and time ran out.
    TimedOut,
}

/// Runs `op`, each try bounded by `attempt`, until it succeeds, fails for good, or the next try
/// would start past `deadline`. The channel balances over every endpoint, so a retry usually
/// lands on another member. Every operation retried here is idempotent, except a lease grant,
/// whose duplicate merely expires unused.
pub(super) async fn retry_until<T, F, Fut>(
    deadline: Instant,
    attempt: Duration,
    mut op: F,
) -> Result<T, Failure>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Status>>,
{
    let mut pause = RETRY_MIN;
    loop {
        let attempt_deadline = (Instant::now() + attempt).min(deadline);
        let failure = match tokio::time::timeout_at(attempt_deadline, op()).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(err)) if !is_transient(&err) => return Err(Failure::Permanent(err)),
            Ok(Err(err)) => Failure::Transient(err),
            Err(_) => Failure::TimedOut,
        };
        if Instant::now() + pause >= deadline {
            return Err(failure);
        }
        if let Failure::Transient(err) = &failure {
            tracing::debug!(%err, "etcd registry: retrying");
        } else {
            tracing::debug!("etcd registry: retrying a try that took too long");
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(RETRY_MAX);
    }
}

/// Failures another member, or the same one a moment later, may not have: connection errors and
/// etcd's "unavailable" (no leader, leader changed, request timed out while electing).
/// tonic reports a member it cannot connect to as UNAVAILABLE, and a connection that broke
/// mid-call as UNKNOWN.
pub(super) fn is_transient(err: &Status) -> bool {
    matches!(
        err.code(),
        Code::Unknown | Code::DeadlineExceeded | Code::Unavailable
    )
}
