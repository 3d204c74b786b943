//! [`Connection`]: the etcd client, dialled on first use and again after a failure, and
//! [`Connection::run`], which bounds every operation by the op timeout and retries it on another
//! member when one is down.

use std::future::Future;
use std::time::Duration;

use etcd_client::{Client, ConnectOptions};
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::EtcdOptions;
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
    urls: Vec<String>,
    // `None` until the first use, and again after a failure that suggests the cluster is gone.
    // A tokio mutex: callers that arrive while a dial is in progress wait for that one dial.
    client: Mutex<Option<Client>>,
}

impl Connection {
    pub(super) fn new(options: EtcdOptions, urls: Vec<String>) -> Self {
        Self {
            options,
            urls,
            client: Mutex::new(None),
        }
    }

    pub(super) fn options(&self) -> &EtcdOptions {
        &self.options
    }

    /// The connected client, dialling first if there is none.
    ///
    /// etcd-client connects lazily, so a dial here ends with a `Status` call that must succeed
    /// within the dial timeout; that is what turns an unreachable cluster into a prompt error
    /// instead of calls that wait for a connection that never comes.
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
        let mut connect = ConnectOptions::new()
            .with_connect_timeout(self.options.dial_timeout)
            .with_keep_alive(PING_INTERVAL, self.options.dial_timeout)
            .with_keep_alive_while_idle(false);
        if let Some(user) = &self.options.username {
            let password = self.options.password.clone().unwrap_or_default();
            connect = connect.with_user(user.clone(), password);
        }
        let attempt = async {
            // With a user this authenticates, which already needs a member; without one it only
            // builds the (lazy) channel.
            let client = Client::connect(&self.urls, Some(connect))
                .await
                .map_err(Failure::Transient)?;
            let probe = retry_until(deadline, attempt_timeout(self.options.dial_timeout), || {
                let mut client = client.clone();
                async move { client.status().await }
            });
            probe.await?;
            Ok::<_, Failure>(client)
        };
        match tokio::time::timeout_at(deadline, attempt).await {
            Ok(Ok(client)) => Ok(client),
            Ok(Err(Failure::Permanent(err) | Failure::Transient(err))) => {
                Err(self.unreachable().with_source(err))
            }
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
        Fut: Future<Output = Result<T, etcd_client::Error>>,
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
    Permanent(etcd_client::Error),
    /// The last try failed the way a dead member or an election does, and time ran out.
    Transient(etcd_client::Error),
    /// The last try took too long, and time ran out.
    TimedOut,
}

/// Runs `op`, each try bounded by `attempt`, until it succeeds, fails for good, or the next try
/// would start past `deadline`. etcd-client balances over every endpoint, so a retry usually
/// lands on another member. Every operation retried here is idempotent, except a lease grant,
/// whose duplicate merely expires unused.
pub(super) async fn retry_until<T, F, Fut>(
    deadline: Instant,
    attempt: Duration,
    mut op: F,
) -> Result<T, Failure>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, etcd_client::Error>>,
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
pub(super) fn is_transient(err: &etcd_client::Error) -> bool {
    // gRPC codes by number: etcd-client hands out tonic's `Status` but does not re-export `Code`,
    // and a direct tonic dependency would have to track etcd-client's version.
    const UNKNOWN: i32 = 2;
    const DEADLINE_EXCEEDED: i32 = 4;
    const UNAVAILABLE: i32 = 14;
    match err {
        etcd_client::Error::TransportError(_) | etcd_client::Error::IoError(_) => true,
        etcd_client::Error::GRpcStatus(status) => {
            matches!(
                status.code() as i32,
                UNKNOWN | DEADLINE_EXCEEDED | UNAVAILABLE
            )
        }
        _ => false,
    }
}
