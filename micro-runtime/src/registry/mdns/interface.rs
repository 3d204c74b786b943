//! Choosing the interfaces to multicast on: the named ones, or every up IPv4 interface that can
//! multicast.
//!
//! Addresses and flags come from `getifaddrs` (through nix), which asks the kernel for the
//! calling process's network namespace; `/sys/class/net` would show the namespace sysfs was
//! mounted in, so inside a test's private namespace it would describe the host's interfaces.

use std::net::Ipv4Addr;

use nix::net::if_::InterfaceFlags;

use crate::{LocalError, LocalErrorKind};

/// One interface we multicast on, by its first IPv4 address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Interface {
    pub name: String,
    pub addr: Ipv4Addr,
}

/// The interfaces for `wanted` names; for none, every up IPv4 interface that can multicast.
pub(super) fn choose(wanted: &[String]) -> Result<Vec<Interface>, LocalError> {
    let addrs = nix::ifaddrs::getifaddrs().map_err(|err| {
        LocalError::new(LocalErrorKind::Registry, "mdns: cannot list interfaces").with_source(err)
    })?;
    // Each interface by its first IPv4 address, in the order the system lists them.
    let mut v4: Vec<(Interface, InterfaceFlags)> = Vec::new();
    for iface in addrs {
        let Some(addr) = iface.address.as_ref().and_then(|a| a.as_sockaddr_in()) else {
            continue;
        };
        if !v4
            .iter()
            .any(|(known, _)| known.name == iface.interface_name)
        {
            let interface = Interface {
                name: iface.interface_name,
                addr: addr.ip(),
            };
            v4.push((interface, iface.flags));
        }
    }
    if !wanted.is_empty() {
        return wanted
            .iter()
            .map(|want| {
                v4.iter()
                    .find(|(known, _)| known.name == *want)
                    .map(|(known, _)| known.clone())
                    .ok_or_else(|| {
                        LocalError::new(
                            LocalErrorKind::Registry,
                            format!("mdns: interface {want} not found or has no IPv4 address"),
                        )
                    })
            })
            .collect();
    }
    let multicast = InterfaceFlags::IFF_UP | InterfaceFlags::IFF_MULTICAST;
    let chosen: Vec<Interface> = v4
        .into_iter()
        .filter(|(_, flags)| flags.contains(multicast))
        .map(|(interface, _)| interface)
        .collect();
    if chosen.is_empty() {
        return Err(LocalError::new(
            LocalErrorKind::Registry,
            "mdns: no up IPv4 interface that can multicast (set MdnsOptions::interfaces to pick one)",
        ));
    }
    Ok(chosen)
}
