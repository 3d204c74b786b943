//! [`Client`]: the few etcd v3 calls the registry makes, over the gRPC clients `build.rs` generates
//! from `proto/etcd/`, on one tonic channel balanced over every member.
//!
//! Hand-written over tonic rather than built on the etcd-client crate: etcd-client's build script
//! runs protoc, so every crate enabling our `etcd` feature would need protoc installed or `PROTOC`
//! set. Our own small proto, compiled with the vendored protoc, needs nothing, and these calls are
//! all the registry uses.

use std::future::Future;
use std::sync::Arc;

use futures_util::stream;
use tokio::sync::mpsc;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Status, Streaming};

use super::auth::{self, Auth, token_expired};
use super::key::prefix_end;
use super::pb::etcdserverpb::kv_client::KvClient;
use super::pb::etcdserverpb::lease_client::LeaseClient;
use super::pb::etcdserverpb::maintenance_client::MaintenanceClient;
use super::pb::etcdserverpb::watch_client::WatchClient;
use super::pb::etcdserverpb::{
    DeleteRangeRequest, LeaseGrantRequest, LeaseKeepAliveRequest, LeaseKeepAliveResponse,
    PutRequest, RangeRequest, StatusRequest, WatchCreateRequest, WatchRequest, WatchResponse,
    watch_request,
};
use super::pb::mvccpb::KeyValue;

/// A connection to an etcd cluster. Clones share the channel and the auth token.
#[derive(Clone)]
pub(super) struct Client {
    channel: Channel,
    auth: Option<Arc<Auth>>,
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
            auth: credentials.map(|(user, password)| Arc::new(Auth::new(user, password))),
        }
    }

    /// Trades the user name and password for a token; does nothing without credentials.
    pub(super) async fn authenticate(&self) -> Result<(), Status> {
        match &self.auth {
            Some(auth) => auth.authenticate(self.channel.clone()).await,
            None => Ok(()),
        }
    }

    /// `message` with the auth token attached, if there is one.
    fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        if let Some(token) = self.auth.as_ref().and_then(|auth| auth.token()) {
            auth::attach(&mut request, token);
        }
        request
    }

    /// Runs `call`, and once more with a new token if etcd says the token expired.
    async fn call<T, F, Fut>(&self, mut call: F) -> Result<T, Status>
    where
        F: FnMut(Self) -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        let Some(auth) = &self.auth else {
            return call(self.clone()).await;
        };
        let used = auth.token();
        match call(self.clone()).await {
            Err(status) if token_expired(&status) => {
                auth.renew(self.channel.clone(), used).await?;
                call(self.clone()).await
            }
            result => result,
        }
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
/// auth token"), so that case becomes UNAUTHENTICATED, which `Client::call` retries with a new
/// token.
fn watch_refused(reason: &str) -> Status {
    let message = format!("watch refused: {reason}");
    if reason.contains("code = Unauthenticated") {
        Status::unauthenticated(message)
    } else {
        Status::failed_precondition(message)
    }
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
}
