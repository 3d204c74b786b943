//! [`EtcdOptions`]: where etcd is, who we are, and how long to wait for it.

use std::fmt;
use std::time::Duration;

use crate::{LocalError, LocalErrorKind};

/// etcd's client port, assumed when an endpoint names none (as go-micro does).
const DEFAULT_PORT: u16 = 2379;

/// How to reach etcd. Field defaults are go-micro's (`registry/etcd/etcd.go`).
///
/// `Debug` never prints the password.
#[derive(Clone)]
#[non_exhaustive]
pub struct EtcdOptions {
    /// Cluster members as `host:port` or `http://host:port`; a missing port means 2379.
    /// Default `["127.0.0.1:2379"]`.
    pub endpoints: Vec<String>,
    /// User name, when etcd has authentication enabled.
    pub username: Option<String>,
    /// Password for [`username`](Self::username).
    pub password: Option<String>,
    /// How long connecting may take before the registry reports etcd unreachable. Default 5 s.
    pub dial_timeout: Duration,
    /// How long one registry operation may take, retries on other members included. Default 5 s.
    pub timeout: Duration,
}

impl Default for EtcdOptions {
    fn default() -> Self {
        Self {
            endpoints: vec![format!("127.0.0.1:{DEFAULT_PORT}")],
            username: None,
            password: None,
            dial_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(5),
        }
    }
}

impl fmt::Debug for EtcdOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EtcdOptions")
            .field("endpoints", &self.endpoints)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("dial_timeout", &self.dial_timeout)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl EtcdOptions {
    /// The endpoints as gRPC URLs (`http://host:port`), or a `Config` error naming the
    /// first one that is not a `host[:port]`.
    pub(super) fn urls(&self) -> Result<Vec<String>, LocalError> {
        if self.endpoints.is_empty() {
            return Err(config("etcd registry: no endpoints given"));
        }
        self.endpoints.iter().map(|e| endpoint_url(e)).collect()
    }

    /// Checks everything that can be checked without a network.
    pub(super) fn validate(&self) -> Result<Vec<String>, LocalError> {
        let urls = self.urls()?;
        if self.password.is_some() && self.username.is_none() {
            return Err(config(
                "etcd registry: a password was given without a username",
            ));
        }
        if self.dial_timeout.is_zero() || self.timeout.is_zero() {
            return Err(config("etcd registry: timeouts must be longer than zero"));
        }
        Ok(urls)
    }
}

fn config(message: impl Into<String>) -> LocalError {
    LocalError::new(LocalErrorKind::Config, message)
}

/// `host[:port]` or `http://host[:port]` → `http://host:port`.
fn endpoint_url(endpoint: &str) -> Result<String, LocalError> {
    let bad = |why: &str| config(format!("etcd registry: bad endpoint {endpoint:?}: {why}"));
    let trimmed = endpoint.trim();
    if trimmed.starts_with("https://") {
        // The etcd client is built without TLS; failing now beats failing on every call.
        return Err(bad("TLS (https) is not supported"));
    }
    let authority = trimmed.strip_prefix("http://").unwrap_or(trimmed);
    let authority = authority.strip_suffix('/').unwrap_or(authority);
    if authority.is_empty() {
        return Err(bad("empty"));
    }
    if authority.contains(['/', '?', '#', '@', ' ']) {
        return Err(bad("expected host:port"));
    }
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        // A bracketed IPv6 address, with or without a port.
        let (addr, after) = rest.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
        if addr.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(bad("not an IPv6 address"));
        }
        match after {
            "" => (format!("[{addr}]"), None),
            _ => match after.strip_prefix(':') {
                Some(port) => (format!("[{addr}]"), Some(port)),
                None => return Err(bad("expected ':' after ']'")),
            },
        }
    } else {
        match authority.split_once(':') {
            Some((_, rest)) if rest.contains(':') => {
                return Err(bad("IPv6 addresses need brackets, as in [::1]:2379"));
            }
            Some((host, port)) => (host.to_string(), Some(port)),
            None => (authority.to_string(), None),
        }
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some(port) => match port.parse::<u16>() {
            Ok(port) if port != 0 => port,
            _ => return Err(bad("the port must be a number from 1 to 65535")),
        },
    };
    Ok(format!("http://{host}:{port}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(endpoints: &[&str]) -> Result<Vec<String>, LocalError> {
        EtcdOptions {
            endpoints: endpoints.iter().map(|e| e.to_string()).collect(),
            ..EtcdOptions::default()
        }
        .validate()
    }

    #[test]
    fn endpoints_become_urls_with_the_default_port() {
        assert_eq!(
            urls(&[
                "127.0.0.1:2380",
                "http://etcd-1:1234",
                "etcd-2",
                "[::1]",
                "[::1]:3000/"
            ])
            .unwrap(),
            [
                "http://127.0.0.1:2380",
                "http://etcd-1:1234",
                "http://etcd-2:2379",
                "http://[::1]:2379",
                "http://[::1]:3000",
            ]
        );
        assert_eq!(
            EtcdOptions::default().validate().unwrap(),
            ["http://127.0.0.1:2379"]
        );
    }

    #[test]
    fn ill_formed_endpoints_are_config_errors() {
        for bad in [
            &[][..],
            &[""],
            &["http://"],
            &[":2379"],
            &["host:port"],
            &["host:0"],
            &["host:70000"],
            &["::1"],
            &["[::1"],
            &["[nope]:1"],
            &["host/path"],
            &["https://host:2379"],
            &["good:1", "user@host"],
        ] {
            let err = urls(bad).unwrap_err();
            assert_eq!(err.kind(), LocalErrorKind::Config, "{bad:?}");
        }
    }

    #[test]
    fn debug_never_shows_the_password() {
        let options = EtcdOptions {
            username: Some("root".into()),
            password: Some("hunter2".into()),
            ..EtcdOptions::default()
        };
        let text = format!("{options:?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(
            text.contains("<redacted>") && text.contains("root"),
            "{text}"
        );
    }
}

crate::setters!(EtcdOptions {
    /// Sets [`EtcdOptions::endpoints`].
    endpoints: Vec<String>,
    /// Sets [`EtcdOptions::username`].
    username: Option<String>,
    /// Sets [`EtcdOptions::password`].
    password: Option<String>,
    /// Sets [`EtcdOptions::dial_timeout`].
    dial_timeout: Duration,
    /// Sets [`EtcdOptions::timeout`].
    timeout: Duration,
});
