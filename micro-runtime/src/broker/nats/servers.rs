//! The server list [`NatsBroker::new`](super::NatsBroker::new) takes: URLs, comma-separated.

use std::str::FromStr;

use async_nats::ServerAddr;

use crate::error::{LocalError, LocalErrorKind};

/// The servers to dial.
#[derive(Clone, Debug)]
pub(super) struct Servers {
    /// What async-nats dials, credentials included.
    pub(super) addrs: Vec<ServerAddr>,
    /// `nats://host:port,...` without credentials: what `address()`, logs and errors show, since
    /// a URL may carry a password.
    pub(super) shown: String,
}

/// Parses `nats://host:port` or `host:port` (port 4222 when left out) items separated by commas;
/// `tls://` asks for TLS. Anything else is a [`LocalErrorKind::Config`] error naming the item.
pub(super) fn parse(servers: &str) -> Result<Servers, LocalError> {
    let mut addrs = Vec::new();
    let mut shown = Vec::new();
    // Empty items are skipped, so a trailing comma in an environment variable is harmless.
    for item in servers.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let addr = ServerAddr::from_str(item)
            .map_err(|e| config(format!("invalid NATS server URL {item:?}: {e}")))?;
        // async-nats is built without websockets, so only plain and TLS connections can work.
        if !matches!(addr.scheme(), "nats" | "tls") {
            return Err(config(format!(
                "invalid NATS server URL {item:?}: the scheme must be nats:// or tls://"
            )));
        }
        if addr.host().is_empty() {
            return Err(config(format!(
                "invalid NATS server URL {item:?}: it names no host"
            )));
        }
        let host = if addr.host().contains(':') {
            format!("[{}]", addr.host())
        } else {
            addr.host().to_string()
        };
        shown.push(format!("{}://{host}:{}", addr.scheme(), addr.port()));
        addrs.push(addr);
    }
    if addrs.is_empty() {
        return Err(config(format!(
            "no NATS server in {servers:?}: give nats://host:port URLs, comma-separated"
        )));
    }
    Ok(Servers {
        addrs,
        shown: shown.join(","),
    })
}

fn config(message: String) -> LocalError {
    LocalError::new(LocalErrorKind::Config, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_urls_and_bare_addresses() {
        let servers =
            parse("nats://127.0.0.1:4222, 10.0.0.2:5222 ,tls://nats.example:4443,").unwrap();
        assert_eq!(servers.addrs.len(), 3);
        assert_eq!(
            servers.shown,
            "nats://127.0.0.1:4222,nats://10.0.0.2:5222,tls://nats.example:4443"
        );
        assert_eq!(parse("localhost").unwrap().shown, "nats://localhost:4222");
        assert_eq!(parse("[::1]:4222").unwrap().shown, "nats://[::1]:4222");
    }

    #[test]
    fn hides_credentials() {
        let servers = parse("nats://user:secret@127.0.0.1:4222").unwrap();
        assert_eq!(servers.shown, "nats://127.0.0.1:4222");
        assert_eq!(servers.addrs[0].password(), Some("secret"));
    }

    #[test]
    fn rejects_bad_urls_as_config_errors() {
        for bad in [
            "",
            " , ",
            "http://127.0.0.1:4222",
            "nats://",
            "nats://127.0.0.1:notaport",
            "nats://127.0.0.1:99999",
            "ws://127.0.0.1:80",
        ] {
            let err = parse(bad).expect_err(bad);
            assert_eq!(err.kind(), LocalErrorKind::Config, "{bad:?}: {err}");
        }
        let err = parse("nats://a:1,http://b:2").unwrap_err();
        assert!(err.to_string().contains("http://b:2"), "{err}");
    }
}
