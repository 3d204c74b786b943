//! [`Client`]: the few etcd v3 calls the registry makes, over the gRPC clients `build.rs` generates
//! from `proto/etcd/`, on one tonic channel balanced over every member.
//!
//! Hand-written over tonic rather than built on the etcd-client crate: etcd-client's build script
//! runs protoc, so every crate enabling our `etcd` feature would need protoc installed or `PROTOC`
//! set. Our own small proto, compiled with the vendored protoc, needs nothing, and these calls are
//! all the registry uses.

use std::future::Future;
use std::sync::{Arc, PoisonError, RwLock};

use futures_util::stream;
use tokio::sync::{Mutex, mpsc};
use tonic::metadata::AsciiMetadataValue;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Status, Streaming};

use super::key::prefix_end;
use super::pb::etcdserverpb::auth_client::AuthClient;
use super::pb::etcdserverpb::kv_client::KvClient;
use super::pb::etcdserverpb::lease_client::LeaseClient;
use super::pb::etcdserverpb::maintenance_client::MaintenanceClient;
use super::pb::etcdserverpb::watch_client::WatchClient;
use super::pb::etcdserverpb::{
    AuthenticateRequest, DeleteRangeRequest, LeaseGrantRequest, LeaseKeepAliveRequest,
    LeaseKeepAliveResponse, PutRequest, RangeRequest, StatusRequest, WatchCreateRequest,
    WatchRequest, WatchResponse, watch_request,
};
use super::pb::mvccpb::KeyValue;

/// The metadata key etcd reads the auth token from.
const TOKEN_HEADER: &str = "token";

/// A connection to an etcd cluster. Clones share the channel and the auth token.
#[derive(Clone)]
pub(super) struct Client {
    channel: Channel,
    auth: Option<Arc<Auth>>,
}

struct Auth {
    user: String,
    password: String,
    // Sent with every call but Authenticate; replaced when etcd says it expired.
    token: RwLock<Option<AsciiMetadataValue>>,
    // One refresh at a time: concurrent calls that all meet an expired token authenticate once.
    refresh: Mutex<()>,
}

/// A started stream: requests go in through `requests`, replies come out of `replies`. Dropping it
/// closes the stream, which ends the watch or keepalive on the server.
pub(super) struct Bidi<Req, Resp> {
    pub(super) requests: mpsc::Sender<Req>,
    pub(super) replies: Streaming<Resp>,
}

impl Client {
    /// A client balancing over `endpoints`. Connects lazily (each member on first use, and again
    /// after it fails); [`authenticate`](Self::authenticate) before the first call when
    /// `credentials` are given. Needs a tokio runtime (the balancer runs as a task).
    pub(super) fn new(endpoints: Vec<Endpoint>, credentials: Option<(String, String)>) -> Self {
        Self {
            channel: Channel::balance_list(endpoints.into_iter()),
            auth: credentials.map(|(user, password)| {
                Arc::new(Auth {
                    user,
                    password,
                    token: RwLock::new(None),
                    refresh: Mutex::new(()),
                })
            }),
        }
    }

    /// Trades the user name and password for a token; does nothing without credentials.
    pub(super) async fn authenticate(&self) -> Result<(), Status> {
        let Some(auth) = &self.auth else {
            return Ok(());
        };
        let request = AuthenticateRequest {
            name: auth.user.clone(),
            password: auth.password.clone(),
        };
        let reply = AuthClient::new(self.channel.clone())
            .authenticate(request)
            .await?
            .into_inner();
        let token = AsciiMetadataValue::try_from(reply.token)
            .map_err(|_| Status::internal("etcd sent an auth token that is not ASCII"))?;
        *auth.token.write().unwrap_or_else(PoisonError::into_inner) = Some(token);
        Ok(())
    }

    fn token(&self) -> Option<AsciiMetadataValue> {
        let auth = self.auth.as_ref()?;
        auth.token
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// `message` with the auth token attached, if there is one.
    fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        if let Some(token) = self.token() {
            request.metadata_mut().insert(TOKEN_HEADER, token);
        }
        request
    }

    /// Runs `call`, and once more with a fresh token if etcd says the token expired (simple tokens
    /// lapse after `--auth-token-ttl` unused, JWTs at their expiry; the auth store's revision also
    /// outdates them when users or roles change).
    async fn call<T, F, Fut>(&self, mut call: F) -> Result<T, Status>
    where
        F: FnMut(Self) -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        let used = self.token();
        match call(self.clone()).await {
            Err(status) if self.auth.is_some() && token_expired(&status) => {
                self.refresh(used).await?;
                call(self.clone()).await
            }
            result => result,
        }
    }

    /// Authenticates again, unless another call already replaced the `stale` token.
    async fn refresh(&self, stale: Option<AsciiMetadataValue>) -> Result<(), Status> {
        let Some(auth) = &self.auth else {
            return Ok(());
        };
        let _one_at_a_time = auth.refresh.lock().await;
        if self.token() != stale {
            return Ok(());
        }
        self.authenticate().await
    }

    /// Whether a member answers: the probe that ends a dial.
    pub(super) async fn status(&self) -> Result<(), Status> {
        self.call(|c| {
            let request = c.request(StatusRequest {});
            async move { MaintenanceClient::new(c.channel).status(request).await }
        })
        .await
        .map(drop)
    }

    /// Every key under `prefix`, with its value, in key order. Linearizable (etcd's default).
    pub(super) async fn range_prefix(&self, prefix: &[u8]) -> Result<Vec<KeyValue>, Status> {
        let message = RangeRequest {
            key: prefix.to_vec(),
            range_end: prefix_end(prefix),
        };
        let reply = self
            .call(|c| {
                let request = c.request(message.clone());
                async move { KvClient::new(c.channel).range(request).await }
            })
            .await?;
        Ok(reply.into_inner().kvs)
    }

    /// Writes `value` at `key`, attached to `lease` (0: none).
    pub(super) async fn put(&self, key: &str, value: &str, lease: i64) -> Result<(), Status> {
        let message = PutRequest {
            key: key.as_bytes().to_vec(),
            value: value.as_bytes().to_vec(),
            lease,
        };
        self.call(|c| {
            let request = c.request(message.clone());
            async move { KvClient::new(c.channel).put(request).await }
        })
        .await
        .map(drop)
    }

    /// Deletes `key` (not an error if it is absent).
    pub(super) async fn delete(&self, key: &str) -> Result<(), Status> {
        let message = DeleteRangeRequest {
            key: key.as_bytes().to_vec(),
        };
        self.call(|c| {
            let request = c.request(message.clone());
            async move { KvClient::new(c.channel).delete_range(request).await }
        })
        .await
        .map(drop)
    }

    /// A new lease of `ttl` seconds; returns its id.
    pub(super) async fn lease_grant(&self, ttl: i64) -> Result<i64, Status> {
        let message = LeaseGrantRequest { ttl, id: 0 };
        let reply = self
            .call(|c| {
                let request = c.request(message);
                async move { LeaseClient::new(c.channel).lease_grant(request).await }
            })
            .await?;
        Ok(reply.into_inner().id)
    }

    /// Opens a KeepAlive stream for lease `id` and waits for etcd's answer to its first refresh:
    /// NOT_FOUND when the lease is gone, UNAVAILABLE when the stream closed first.
    pub(super) async fn lease_keep_alive(
        &self,
        id: i64,
    ) -> Result<Bidi<LeaseKeepAliveRequest, LeaseKeepAliveResponse>, Status> {
        let first = LeaseKeepAliveRequest { id };
        self.call(|c| async move {
            let (requests, stream) = c.outgoing(first);
            let mut replies = LeaseClient::new(c.channel.clone())
                .lease_keep_alive(c.request(stream))
                .await?
                .into_inner();
            match replies.message().await? {
                Some(reply) if reply.ttl > 0 => Ok(Bidi { requests, replies }),
                Some(_) => Err(Status::not_found(format!("lease {id:x} not found"))),
                None => Err(Status::unavailable("the keepalive stream closed at once")),
            }
        })
        .await
    }

    /// Opens a Watch stream on every key under `prefix`, with previous values, and waits for etcd
    /// to confirm the watch. Every change after this returns is seen.
    pub(super) async fn watch_prefix(
        &self,
        prefix: &[u8],
    ) -> Result<Bidi<WatchRequest, WatchResponse>, Status> {
        let create = WatchRequest {
            request_union: Some(watch_request::RequestUnion::CreateRequest(
                WatchCreateRequest {
                    key: prefix.to_vec(),
                    range_end: prefix_end(prefix),
                    prev_kv: true,
                },
            )),
        };
        self.call(|c| {
            let create = create.clone();
            async move {
                let (requests, stream) = c.outgoing(create);
                let mut replies = WatchClient::new(c.channel.clone())
                    .watch(c.request(stream))
                    .await?
                    .into_inner();
                match replies.message().await? {
                    Some(reply) if reply.created && !reply.canceled => {
                        Ok(Bidi { requests, replies })
                    }
                    Some(reply) => Err(watch_refused(&reply.cancel_reason)),
                    // Closed by a member going away: another may take it.
                    None => Err(Status::unavailable("watch stream closed before it started")),
                }
            }
        })
        .await
    }

    /// The sending half of a stream, `first` already queued: a channel, and the request stream
    /// that yields what is sent on it until every sender is dropped.
    fn outgoing<T: Send + 'static>(
        &self,
        first: T,
    ) -> (
        mpsc::Sender<T>,
        impl futures_core::Stream<Item = T> + Send + 'static,
    ) {
        // Room for the first message and one refresh: a keepalive sends one per period.
        let (tx, rx) = mpsc::channel(2);
        tx.try_send(first).expect("a new channel has room");
        let stream = stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|message| (message, rx))
        });
        (tx, stream)
    }
}

/// A watch etcd cancelled at once. It refuses a watch for its token in the reply, not as the
/// call's status (the reason reads "rpc error: code = Unauthenticated desc = etcdserver: invalid
/// auth token"), so that case becomes UNAUTHENTICATED, which [`Client::call`] retries with a new
/// token.
fn watch_refused(reason: &str) -> Status {
    let message = format!("watch refused: {reason}");
    if reason.contains("code = Unauthenticated") {
        Status::unauthenticated(message)
    } else {
        Status::failed_precondition(message)
    }
}

/// Whether etcd refused a call for its token, so a fresh one may succeed: an expired or unknown
/// token (UNAUTHENTICATED), or one issued before users or roles changed.
fn token_expired(status: &Status) -> bool {
    status.code() == Code::Unauthenticated
        || (status.code() == Code::InvalidArgument
            && status.message().contains("revision of auth store is old"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watches_refused_for_their_token_can_be_retried() {
        let expired = watch_refused(
            "rpc error: code = Unauthenticated desc = etcdserver: invalid auth token",
        );
        assert!(token_expired(&expired), "{expired}");
        let denied = watch_refused("etcdserver: permission denied");
        assert!(!token_expired(&denied), "{denied}");
        // Nor retried on another member: a refusal is final.
        assert!(!super::super::connection::is_transient(&denied));
    }

    #[test]
    fn expired_tokens_are_told_from_other_refusals() {
        assert!(token_expired(&Status::unauthenticated(
            "etcdserver: invalid auth token"
        )));
        assert!(token_expired(&Status::invalid_argument(
            "etcdserver: revision of auth store is old"
        )));
        assert!(!token_expired(&Status::permission_denied(
            "etcdserver: permission denied"
        )));
        assert!(!token_expired(&Status::invalid_argument(
            "etcdserver: key is not provided"
        )));
    }
}
