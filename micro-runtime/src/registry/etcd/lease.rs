//! Node records and their leases: what this registry wrote, so an unchanged re-register writes
//! nothing, and one long-lived KeepAlive stream per lease (go-micro's `registry/etcd/etcd.go`).

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::sync::mpsc::error::TrySendError;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::client::{Bidi, Client};
use super::connection::{Connection, is_transient};
use super::pb::etcdserverpb::LeaseKeepAliveRequest;
use crate::LocalError;

// A lease is refreshed this many times per TTL, as etcd's Go client does.
const REFRESHES_PER_TTL: u32 = 3;
const REOPEN_MIN: Duration = Duration::from_millis(50);
const REOPEN_MAX: Duration = Duration::from_secs(1);

/// The records this registry has written, by key. Dropping it stops every keepalive, so the
/// nodes expire with their TTL: what happens when a process dies without deregistering.
#[derive(Default)]
pub(super) struct Leases {
    // A tokio mutex held across the etcd calls: registering one key twice at once must not grant
    // two leases. Registrations are rare (every 30 s per node), so one lock for all is enough.
    entries: Mutex<HashMap<String, Entry>>,
}

struct Entry {
    // Of the stored value and the TTL: equal means a re-register has nothing to write. `None`
    // after a failed write, so the next register writes.
    hash: Option<u64>,
    lease: Option<Lease>,
}

struct Lease {
    id: i64,
    ttl: i64,
    // Cleared by the keepalive task when the lease is gone or may have run out.
    alive: Arc<AtomicBool>,
    task: AbortHandle,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Lease {
    fn start(client: Client, id: i64, ttl: i64) -> Self {
        let alive = Arc::new(AtomicBool::new(true));
        let task = tokio::spawn(keep_alive(client, id, ttl, Arc::clone(&alive))).abort_handle();
        Self {
            id,
            ttl,
            alive,
            task,
        }
    }

    fn is_alive(&self) -> bool {
        self.alive.load(Ordering::Acquire)
    }
}

/// `None` or zero → no lease; otherwise whole seconds, rounded up so a node never expires earlier
/// than asked. (go-micro truncates, which turns a sub-second TTL into no TTL at all.)
fn ttl_seconds(ttl: Option<Duration>) -> Option<i64> {
    let ttl = ttl.filter(|t| !t.is_zero())?;
    let secs = ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0);
    Some(i64::try_from(secs).unwrap_or(i64::MAX))
}

impl Leases {
    /// Writes `value` at `key` under a lease of `ttl`, unless the same record is already there
    /// with a live lease.
    pub(super) async fn register(
        &self,
        conn: &Connection,
        key: &str,
        value: String,
        ttl: Option<Duration>,
    ) -> Result<(), LocalError> {
        let ttl = ttl_seconds(ttl);
        let mut hasher = DefaultHasher::new();
        (&value, ttl).hash(&mut hasher);
        let hash = hasher.finish();

        let mut entries = self.entries.lock().await;
        if let Some(entry) = entries.get(key)
            && entry.hash == Some(hash)
            && entry.lease.as_ref().is_none_or(Lease::is_alive)
        {
            return Ok(());
        }
        // A changed record keeps its live lease when the TTL is the same: one lease fewer to
        // expire. Any other old lease is dropped here, which stops its keepalive.
        let reusable = entries
            .remove(key)
            .and_then(|entry| entry.lease)
            .filter(|lease| lease.is_alive() && Some(lease.ttl) == ttl);
        let lease = match (ttl, reusable) {
            (None, _) => None,
            (Some(_), Some(lease)) => Some(lease),
            (Some(ttl), None) => {
                let id = conn
                    .run(
                        "granting a lease",
                        |c| async move { c.lease_grant(ttl).await },
                    )
                    .await?;
                let client = conn.client().await?;
                Some(Lease::start(client, id, ttl))
            }
        };
        let lease_id = lease.as_ref().map_or(0, |l| l.id);
        let written = conn
            .run("writing a node", |c| {
                let value = &value;
                async move { c.put(key, value, lease_id).await }
            })
            .await;
        // On failure the lease stays (a reused one still carries the old record) and the hash is
        // unknown, so the next register writes again.
        let hash = written.is_ok().then_some(hash);
        entries.insert(key.to_string(), Entry { hash, lease });
        written.map(drop)
    }

    /// Stops the key's keepalive and deletes it. The keepalive stops first, as in go-micro, so the
    /// node still expires with its TTL if the delete fails.
    pub(super) async fn deregister(&self, conn: &Connection, key: &str) -> Result<(), LocalError> {
        let mut entries = self.entries.lock().await;
        drop(entries.remove(key));
        conn.run("deleting a node", |c| async move { c.delete(key).await })
            .await?;
        Ok(())
    }
}

/// Keeps lease `id` alive on one KeepAlive stream, reopening it (on any member) when it breaks.
///
/// `alive` is cleared whenever the lease may have run out (no refresh within its TTL), so the next
/// register writes the record again rather than trusting it; it is set again if a refresh gets
/// through after all (a new leader extends every lease, so a lease often survives an election that
/// outlasts its TTL). The task ends only when etcd says the lease is gone, or when it is aborted.
async fn keep_alive(client: Client, id: i64, ttl: i64, alive: Arc<AtomicBool>) {
    let ttl = Duration::from_secs(ttl.unsigned_abs());
    let period = (ttl / REFRESHES_PER_TTL).max(Duration::from_millis(200));
    // Opening a stream waits for etcd's first reply; a member stuck without a leader never sends it.
    let open_timeout = period.max(Duration::from_millis(500));
    let mut expires = Instant::now() + ttl;
    let mut pause = REOPEN_MIN;
    'reopen: loop {
        if Instant::now() >= expires {
            alive.store(false, Ordering::Release);
        }
        let opened = tokio::time::timeout(open_timeout, client.lease_keep_alive(id)).await;
        let Bidi {
            requests: keeper,
            replies: mut stream,
        } = match opened {
            Ok(Ok(stream)) => stream,
            Ok(Err(err)) if !is_transient(&err) => {
                tracing::warn!(lease = id, %err, "etcd registry: lease lost");
                break;
            }
            failed => {
                if let Ok(Err(err)) = failed {
                    tracing::debug!(lease = id, %err, "etcd registry: reopening a keepalive stream");
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(REOPEN_MAX);
                continue;
            }
        };
        // The opening exchange refreshed the lease.
        expires = Instant::now() + ttl;
        alive.store(true, Ordering::Release);
        pause = REOPEN_MIN;
        let mut tick = tokio::time::interval_at(Instant::now() + period, period);
        loop {
            tokio::select! {
                _ = tick.tick() => match keeper.try_send(LeaseKeepAliveRequest { id }) {
                    Ok(()) => {}
                    // Earlier refreshes are still queued: the stream is stalled, and the expiry
                    // below catches it; waiting here would block that check.
                    Err(TrySendError::Full(_)) => {}
                    Err(TrySendError::Closed(_)) => continue 'reopen,
                },
                reply = stream.message() => match reply {
                    Ok(Some(reply)) if reply.ttl > 0 => {
                        expires = Instant::now() + Duration::from_secs(reply.ttl.unsigned_abs());
                    }
                    Ok(Some(_)) => {
                        tracing::warn!(lease = id, "etcd registry: lease expired or revoked");
                        break 'reopen;
                    }
                    Ok(None) | Err(_) => continue 'reopen,
                },
                // No reply for a whole TTL: this stream is stuck; try another.
                _ = tokio::time::sleep_until(expires) => continue 'reopen,
            }
        }
    }
    alive.store(false, Ordering::Release);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_are_whole_seconds_rounded_up() {
        assert_eq!(ttl_seconds(None), None);
        assert_eq!(ttl_seconds(Some(Duration::ZERO)), None);
        assert_eq!(ttl_seconds(Some(Duration::from_millis(1))), Some(1));
        assert_eq!(ttl_seconds(Some(Duration::from_secs(90))), Some(90));
        assert_eq!(ttl_seconds(Some(Duration::from_millis(2500))), Some(3));
    }
}
