//! Binding listeners on `host:port` or a port range `host:min-max`, and the address to advertise.
//!
//! Follows go-micro's `internal/util/net.Listen` for compatibility: a range binds the *first* port
//! that binds, and any bind error moves on to the next port. Unlike Go, we reject ports over 65535,
//! extra range parts (`a-b-c`) and unbracketed IPv6 hosts with a clear configuration error.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use tokio::net::TcpListener;

use crate::{LocalError, LocalErrorKind};

/// Binds a TCP listener on `addr`.
///
/// - `host:port` binds that port; `host:0` lets the OS pick one.
/// - `host:min-max` binds the first port in `min..=max` that binds, skipping busy ones; when none
///   does, the error (kind [`LocalErrorKind::Bind`]) names the range and carries the last failure.
/// - An empty host (`:8080`, `:0`, `:8000-8010`) means every IPv4 interface (`0.0.0.0`). Go binds
///   dual-stack there; we do not, so use `[::]:port` for IPv6.
/// - IPv6 hosts take brackets (`[::1]:9000-9010`); host names (`localhost:0`) are resolved once.
///
/// Malformed addresses, non-numeric ports, ports over 65535 and `min > max` are
/// [`LocalErrorKind::Config`] errors that say which part is wrong.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let listener = micro_runtime::transport::listen("127.0.0.1:0").await.unwrap();
/// assert_ne!(listener.local_addr().unwrap().port(), 0);
/// # });
/// ```
pub async fn listen(addr: &str) -> Result<TcpListener, LocalError> {
    let spec = parse(addr)?;
    let ips = resolve(spec.host, addr).await?;
    let mut last_error = None;
    for port in spec.min..=spec.max {
        let candidates: Vec<SocketAddr> = ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect();
        match TcpListener::bind(&candidates[..]).await {
            Ok(listener) => return Ok(listener),
            Err(err) => {
                tracing::debug!(port, error = %err, "port did not bind, trying the next one");
                last_error = Some(err);
            }
        }
    }
    let source = last_error.unwrap_or_else(|| io::Error::other("empty port range"));
    let message = if spec.min == spec.max {
        format!("cannot listen on {addr}")
    } else {
        format!("no free port in {addr}")
    };
    Err(LocalError::new(LocalErrorKind::Bind, message).with_source(source))
}

/// The `host:port` to register for a server listening on `listen`.
///
/// - With `advertise`, that address is used; without a port it gets the listener's port.
/// - Otherwise the listener's address, except that an unspecified IP (`0.0.0.0`, `::`) is replaced
///   by the machine's first private IPv4, else any other non-loopback IPv4, else `127.0.0.1`, as
///   go-micro's `addr.Extract` does: a registry must never hold `0.0.0.0`.
///
/// IPv6 addresses come out bracketed (`[::1]:8080`). An advertised port that is not a number is a
/// [`LocalErrorKind::Config`] error.
pub fn advertise_address(
    listen: SocketAddr,
    advertise: Option<&str>,
) -> Result<String, LocalError> {
    let Some(advertise) = advertise.map(str::trim).filter(|a| !a.is_empty()) else {
        return Ok(host_port(extract(listen.ip()), listen.port()));
    };
    if let Ok(addr) = advertise.parse::<SocketAddr>() {
        return Ok(host_port(extract(addr.ip()), addr.port()));
    }
    let bare = advertise
        .strip_prefix('[')
        .and_then(|a| a.strip_suffix(']'));
    if let Ok(ip) = bare.unwrap_or(advertise).parse::<IpAddr>() {
        return Ok(host_port(extract(ip), listen.port()));
    }
    // A host name, with or without a port.
    match advertise.rsplit_once(':') {
        None => Ok(format!("{advertise}:{}", listen.port())),
        Some((host, port)) => {
            let port = parse_port(advertise, port, "advertised port")?;
            if host.is_empty() {
                Ok(host_port(extract(Ipv4Addr::UNSPECIFIED.into()), port))
            } else if host.contains(':') {
                Err(config(advertise, "IPv6 hosts need brackets, as [::1]:8080"))
            } else {
                Ok(format!("{host}:{port}"))
            }
        }
    }
}

fn host_port(ip: IpAddr, port: u16) -> String {
    SocketAddr::new(ip, port).to_string()
}

fn extract(ip: IpAddr) -> IpAddr {
    if !ip.is_unspecified() {
        return ip;
    }
    let candidates = match if_addrs::get_if_addrs() {
        Ok(interfaces) => interfaces
            .into_iter()
            .filter_map(|iface| match iface.ip() {
                IpAddr::V4(v4) => Some(v4),
                IpAddr::V6(_) => None,
            })
            .collect(),
        Err(err) => {
            tracing::warn!(error = %err, "cannot list network interfaces; advertising 127.0.0.1");
            Vec::new()
        }
    };
    IpAddr::V4(pick_ipv4(&candidates))
}

// go-micro's preference: a private address, then any routable one, then loopback.
fn pick_ipv4(candidates: &[Ipv4Addr]) -> Ipv4Addr {
    let usable = || {
        candidates
            .iter()
            .copied()
            .filter(|ip| !ip.is_loopback() && !ip.is_unspecified() && !ip.is_link_local())
    };
    usable()
        .find(|ip| is_private(*ip))
        .or_else(|| usable().next())
        .unwrap_or(Ipv4Addr::LOCALHOST)
}

// RFC 1918 plus the shared 100.64.0.0/10 range, as go-micro's `isPrivateIP` counts them.
fn is_private(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_private() || (a == 100 && (64..128).contains(&b))
}

struct Spec<'a> {
    host: &'a str,
    min: u16,
    max: u16,
}

fn parse(addr: &str) -> Result<Spec<'_>, LocalError> {
    let (host, ports) = if let Some(rest) = addr.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| config(addr, "missing ']' after the IPv6 host"))?;
        let ports = after
            .strip_prefix(':')
            .ok_or_else(|| config(addr, "missing port after the IPv6 host"))?;
        (host, ports)
    } else {
        let (host, ports) = addr
            .rsplit_once(':')
            .ok_or_else(|| config(addr, "missing port in address"))?;
        if host.contains(':') {
            return Err(config(addr, "IPv6 hosts need brackets, as [::1]:8080"));
        }
        (host, ports)
    };
    let (min, max) = match ports.split_once('-') {
        None => {
            let port = parse_port(addr, ports, "port")?;
            (port, port)
        }
        Some((_, max)) if max.contains('-') => {
            return Err(config(addr, "a port range is min-max"));
        }
        Some((min, max)) => (
            parse_port(addr, min, "minimum port")?,
            parse_port(addr, max, "maximum port")?,
        ),
    };
    if min > max {
        return Err(config(
            addr,
            format!("minimum port {min} is above maximum port {max}"),
        ));
    }
    Ok(Spec { host, min, max })
}

fn parse_port(addr: &str, text: &str, what: &str) -> Result<u16, LocalError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(config(addr, format!("{what} {text:?} is not a number")));
    }
    // Go does not check the range; an out-of-range port is a configuration mistake worth naming.
    text.parse::<u16>()
        .map_err(|_| config(addr, format!("{what} {text} is out of range (0-65535)")))
}

async fn resolve(host: &str, addr: &str) -> Result<Vec<IpAddr>, LocalError> {
    if host.is_empty() {
        return Ok(vec![Ipv4Addr::UNSPECIFIED.into()]);
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![ip]);
    }
    let resolved = tokio::net::lookup_host((host, 0)).await.map_err(|err| {
        LocalError::new(
            LocalErrorKind::Bind,
            format!("cannot resolve the host of {addr}"),
        )
        .with_source(err)
    })?;
    let mut ips: Vec<IpAddr> = Vec::new();
    for sa in resolved {
        if !ips.contains(&sa.ip()) {
            ips.push(sa.ip());
        }
    }
    Ok(ips)
}

fn config(addr: &str, why: impl std::fmt::Display) -> LocalError {
    LocalError::new(
        LocalErrorKind::Config,
        format!("invalid listen address {addr:?}: {why}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hosts_ports_and_ranges() {
        let spec = parse("[::1]:9000-9010").unwrap();
        assert_eq!((spec.host, spec.min, spec.max), ("::1", 9000, 9010));
        let spec = parse(":0").unwrap();
        assert_eq!((spec.host, spec.min, spec.max), ("", 0, 0));
        let spec = parse("my-host:8080").unwrap();
        assert_eq!((spec.host, spec.min, spec.max), ("my-host", 8080, 8080));
        for bad in [
            "8080", "::1:80", "h:1-2-3", "h:", "h:+1", "h:70000", "[::1]80",
        ] {
            let err = parse(bad).err().unwrap();
            assert_eq!(err.kind(), LocalErrorKind::Config, "{bad}");
        }
    }

    #[test]
    fn prefers_private_then_public_then_loopback() {
        let public = Ipv4Addr::new(8, 8, 8, 8);
        let private = Ipv4Addr::new(192, 168, 1, 7);
        let link_local = Ipv4Addr::new(169, 254, 0, 1);
        assert_eq!(pick_ipv4(&[Ipv4Addr::LOCALHOST, public, private]), private);
        assert_eq!(pick_ipv4(&[link_local, public]), public);
        assert_eq!(pick_ipv4(&[Ipv4Addr::LOCALHOST]), Ipv4Addr::LOCALHOST);
        assert!(is_private(Ipv4Addr::new(100, 100, 1, 1)));
    }

    #[test]
    fn advertises_the_given_address_or_the_listener_port() {
        let listen: SocketAddr = "0.0.0.0:4000".parse().unwrap();
        let adv = |a| advertise_address(listen, Some(a)).unwrap();
        assert_eq!(adv("10.1.2.3"), "10.1.2.3:4000");
        assert_eq!(adv("10.1.2.3:80"), "10.1.2.3:80");
        assert_eq!(adv("::1"), "[::1]:4000");
        assert_eq!(adv("[::1]:80"), "[::1]:80");
        assert_eq!(adv("svc.local"), "svc.local:4000");
        assert_eq!(adv("svc.local:81"), "svc.local:81");
        assert!(advertise_address(listen, Some("svc:http")).is_err());
        let extracted = advertise_address(listen, None).unwrap();
        assert!(!extracted.starts_with("0.0.0.0"), "{extracted}");
        assert!(extracted.ends_with(":4000"));
        let v6: SocketAddr = "[::1]:5000".parse().unwrap();
        assert_eq!(advertise_address(v6, None).unwrap(), "[::1]:5000");
    }
}
