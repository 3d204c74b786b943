//! [`Auth`]: the user name and password of an etcd with authentication enabled, and the token
//! they are traded for, sent with every call and renewed when etcd says it expired.

use std::sync::{PoisonError, RwLock};

use tokio::sync::Mutex;
use tonic::metadata::AsciiMetadataValue;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

use super::pb::etcdserverpb::AuthenticateRequest;
use super::pb::etcdserverpb::auth_client::AuthClient;

/// The metadata key etcd reads the auth token from.
const TOKEN_HEADER: &str = "token";

/// Credentials and the current token, shared by every clone of a client. No `Debug`: it holds the
/// password.
pub(super) struct Auth {
    user: String,
    password: String,
    // `None` until the first authentication succeeds.
    token: RwLock<Option<AsciiMetadataValue>>,
    // One renewal at a time: concurrent calls that all meet an expired token authenticate once.
    renewal: Mutex<()>,
}

impl Auth {
    pub(super) fn new(user: String, password: String) -> Self {
        Self {
            user,
            password,
            token: RwLock::new(None),
            renewal: Mutex::new(()),
        }
    }

    /// The token in use, if any.
    pub(super) fn token(&self) -> Option<AsciiMetadataValue> {
        self.token
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Trades the user name and password for a token, through any member of `channel`.
    pub(super) async fn authenticate(&self, channel: Channel) -> Result<(), Status> {
        let request = AuthenticateRequest {
            name: self.user.clone(),
            password: self.password.clone(),
        };
        // Authenticate itself is the one call sent without a token.
        let reply = AuthClient::new(channel)
            .authenticate(request)
            .await?
            .into_inner();
        let token = AsciiMetadataValue::try_from(reply.token)
            .map_err(|_| Status::internal("etcd sent an auth token that is not ASCII"))?;
        *self.token.write().unwrap_or_else(PoisonError::into_inner) = Some(token);
        Ok(())
    }

    /// Authenticates again, unless another call already replaced the `stale` token.
    pub(super) async fn renew(
        &self,
        channel: Channel,
        stale: Option<AsciiMetadataValue>,
    ) -> Result<(), Status> {
        let _one_at_a_time = self.renewal.lock().await;
        if self.token() != stale {
            return Ok(());
        }
        self.authenticate(channel).await
    }
}

/// Attaches `token` to `request`.
pub(super) fn attach<T>(request: &mut Request<T>, token: AsciiMetadataValue) {
    request.metadata_mut().insert(TOKEN_HEADER, token);
}

/// Whether etcd refused a call for its token, so a new one may succeed: an expired or unknown
/// token (UNAUTHENTICATED; simple tokens lapse after `--auth-token-ttl` unused, JWTs at their
/// expiry), or one issued before users or roles changed.
pub(super) fn token_expired(status: &Status) -> bool {
    status.code() == Code::Unauthenticated
        || (status.code() == Code::InvalidArgument
            && status.message().contains("revision of auth store is old"))
}

#[cfg(test)]
mod tests {
    use super::*;

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
