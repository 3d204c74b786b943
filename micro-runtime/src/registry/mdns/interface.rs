//! Choosing the interfaces to multicast on: the named ones, or every up IPv4 interface that can
//! multicast.
//!
//! Interface flags come from the kernel over rtnetlink on Linux: `/sys/class/net` shows the
//! network namespace sysfs was mounted in, not ours, so inside a test's private namespace it
//! would describe the host's interfaces.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use crate::{LocalError, LocalErrorKind};

// From <linux/if.h>.
const IFF_UP: u32 = 0x1;
const IFF_MULTICAST: u32 = 0x1000;

/// One interface we multicast on, by its first IPv4 address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Interface {
    pub name: String,
    pub addr: Ipv4Addr,
}

/// The interfaces for `wanted` names; for none, every up IPv4 interface that can multicast.
pub(super) fn choose(wanted: &[String]) -> Result<Vec<Interface>, LocalError> {
    let addrs = if_addrs::get_if_addrs().map_err(|err| {
        LocalError::new(LocalErrorKind::Registry, "mdns: cannot list interfaces").with_source(err)
    })?;
    // name → first IPv4 address and index, in the order the system lists them.
    let mut v4: Vec<(String, Ipv4Addr, Option<u32>)> = Vec::new();
    for iface in addrs {
        if let if_addrs::IfAddr::V4(addr) = &iface.addr
            && !v4.iter().any(|(name, ..)| *name == iface.name)
        {
            v4.push((iface.name.clone(), addr.ip, iface.index));
        }
    }
    if !wanted.is_empty() {
        return wanted
            .iter()
            .map(|want| {
                v4.iter()
                    .find(|(name, ..)| name == want)
                    .map(|(name, addr, _)| Interface {
                        name: name.clone(),
                        addr: *addr,
                    })
                    .ok_or_else(|| {
                        LocalError::new(
                            LocalErrorKind::Registry,
                            format!("mdns: interface {want} not found or has no IPv4 address"),
                        )
                    })
            })
            .collect();
    }
    let flags = link_flags();
    let chosen: Vec<Interface> = v4
        .into_iter()
        .filter(|(_, addr, index)| match (&flags, index) {
            (Some(flags), Some(index)) => flags
                .get(index)
                .is_some_and(|f| f & IFF_UP != 0 && f & IFF_MULTICAST != 0),
            // Without flags, assume every listed interface but loopback multicasts, as most do.
            _ => !addr.is_loopback(),
        })
        .map(|(name, addr, _)| Interface { name, addr })
        .collect();
    if chosen.is_empty() {
        return Err(LocalError::new(
            LocalErrorKind::Registry,
            "mdns: no up IPv4 interface that can multicast (set MdnsOptions::interfaces to pick one)",
        ));
    }
    Ok(chosen)
}

/// Interface index → flags, from an rtnetlink link dump; `None` where that is unavailable.
#[cfg(target_os = "linux")]
fn link_flags() -> Option<HashMap<u32, u32>> {
    match netlink::link_flags() {
        Ok(flags) => Some(flags),
        Err(err) => {
            tracing::warn!(error = %err, "mdns: cannot read interface flags; assuming non-loopback interfaces multicast");
            None
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn link_flags() -> Option<HashMap<u32, u32>> {
    None
}

#[cfg(target_os = "linux")]
mod netlink {
    //! The one rtnetlink request we need, `RTM_GETLINK` with `NLM_F_DUMP`, written by hand: it is
    //! a 32-byte request, and the replies' fixed headers carry the index and flags.

    use std::collections::HashMap;
    use std::io::{self, Read};
    use std::time::Duration;

    use socket2::{Domain, Protocol, Socket, Type};

    const AF_NETLINK: i32 = 16;
    const NETLINK_ROUTE: i32 = 0;
    const RTM_NEWLINK: u16 = 16;
    const RTM_GETLINK: u16 = 18;
    const NLMSG_ERROR: u16 = 2;
    const NLMSG_DONE: u16 = 3;
    const NLM_F_REQUEST: u16 = 0x1;
    const NLM_F_DUMP: u16 = 0x300;
    // struct nlmsghdr, then struct ifinfomsg.
    const HEADER: usize = 16;
    const IFINFO: usize = 16;

    pub(super) fn link_flags() -> io::Result<HashMap<u32, u32>> {
        let socket = Socket::new(
            Domain::from(AF_NETLINK),
            Type::RAW,
            Some(Protocol::from(NETLINK_ROUTE)),
        )?;
        socket.set_read_timeout(Some(Duration::from_secs(2)))?;
        let mut request = Vec::with_capacity(HEADER + IFINFO);
        request.extend(((HEADER + IFINFO) as u32).to_ne_bytes());
        request.extend(RTM_GETLINK.to_ne_bytes());
        request.extend((NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
        request.extend(1u32.to_ne_bytes()); // sequence
        request.extend(0u32.to_ne_bytes()); // port id: the kernel fills it in
        request.extend([0u8; IFINFO]); // AF_UNSPEC: every link
        socket.send(&request)?;

        let mut flags = HashMap::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = (&socket).read(&mut buf)?;
            let mut at = 0;
            while at + HEADER <= n {
                let len = u32_at(&buf, at) as usize;
                let kind = u16::from_ne_bytes([buf[at + 4], buf[at + 5]]);
                if len < HEADER || at + len > n {
                    return Err(io::Error::other("malformed netlink reply"));
                }
                match kind {
                    NLMSG_DONE => return Ok(flags),
                    NLMSG_ERROR => return Err(io::Error::other("netlink link dump failed")),
                    RTM_NEWLINK if len >= HEADER + IFINFO => {
                        let info = at + HEADER;
                        flags.insert(u32_at(&buf, info + 4), u32_at(&buf, info + 8));
                    }
                    _ => {}
                }
                at += (len + 3) & !3;
            }
        }
    }

    fn u32_at(buf: &[u8], at: usize) -> u32 {
        u32::from_ne_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]])
    }
}
