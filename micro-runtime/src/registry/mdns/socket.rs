//! One multicast UDP socket per interface, bound to `0.0.0.0:5353` and shared with every other
//! mDNS program on the host.
//!
//! Per interface rather than one for all, so a socket both hears and speaks on exactly its own
//! interface: it joins 224.0.0.251 there, sends there (`IP_MULTICAST_IF`), and with
//! `IP_MULTICAST_ALL` off does not also hear groups other sockets joined elsewhere.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;

use super::interface::Interface;
use crate::{LocalError, LocalErrorKind};

/// The mDNS port.
pub(super) const MDNS_PORT: u16 = 5353;
/// The IPv4 mDNS group and port.
pub(super) const MDNS_GROUP: SocketAddrV4 =
    SocketAddrV4::new(Ipv4Addr::new(224, 0, 0, 251), MDNS_PORT);
/// RFC 6762 §17: an mDNS message is at most 9000 bytes.
pub(super) const MAX_PACKET: usize = 9000;

/// A socket on one interface.
#[derive(Debug)]
pub(super) struct Link {
    pub interface: Interface,
    pub socket: UdpSocket,
}

impl Link {
    /// Opens the interface's socket; must run inside the tokio runtime.
    pub(super) fn open(interface: &Interface) -> Result<Self, LocalError> {
        let socket = configure(interface.addr).map_err(|err| {
            LocalError::new(
                LocalErrorKind::Registry,
                format!(
                    "mdns: cannot open a multicast socket on interface {} ({})",
                    interface.name, interface.addr
                ),
            )
            .with_source(err)
        })?;
        let socket = UdpSocket::from_std(socket.into()).map_err(|err| {
            LocalError::new(
                LocalErrorKind::Registry,
                format!(
                    "mdns: cannot use the socket on interface {}",
                    interface.name
                ),
            )
            .with_source(err)
        })?;
        Ok(Self {
            interface: interface.clone(),
            socket,
        })
    }

    /// Sends `packet` to the mDNS group out of this interface.
    pub(super) async fn multicast(&self, packet: &[u8]) -> std::io::Result<()> {
        self.socket.send_to(packet, MDNS_GROUP).await.map(drop)
    }

    /// Sends `packet` to one peer, from port 5353.
    pub(super) async fn unicast(&self, packet: &[u8], to: SocketAddr) -> std::io::Result<()> {
        self.socket.send_to(packet, to).await.map(drop)
    }
}

fn configure(addr: Ipv4Addr) -> std::io::Result<Socket> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    // Both, so several processes (and several registries in one process) share port 5353.
    socket.set_reuse_address(true)?;
    #[cfg(all(unix, not(any(target_os = "solaris", target_os = "illumos"))))]
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, MDNS_PORT)).into())?;
    socket.join_multicast_v4(MDNS_GROUP.ip(), &addr)?;
    socket.set_multicast_if_v4(&addr)?;
    // On, so registries on this host (this process included) hear each other.
    socket.set_multicast_loop_v4(true)?;
    // RFC 6762 §11: 255, so receivers can tell the packet came from the local link.
    socket.set_multicast_ttl_v4(255)?;
    #[cfg(target_os = "linux")]
    socket.set_multicast_all_v4(false)?;
    Ok(socket)
}
