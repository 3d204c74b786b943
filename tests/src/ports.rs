//! Free loopback ports for servers the tests start as processes (etcd, nats-server), which must be
//! told a port rather than pick one.
//!
//! A port found free by binding `127.0.0.1:0` and then released can be handed straight to another
//! process by the kernel (tests run in parallel, and each `:0` bind draws from the same ephemeral
//! range), so the server then fails to bind it. These ports come from below the kernel's
//! ephemeral range instead, where `:0` binds never land, starting at a random offset so parallel
//! test processes rarely try the same ones; each is checked free by binding it.

use std::net::TcpListener;
use std::sync::atomic::{AtomicU16, Ordering};

/// Below Linux's default ephemeral range (32768–60999) and above the registered ports most
/// daemons use.
const LOW: u16 = 20_000;
const HIGH: u16 = 32_000;

/// `count` distinct free ports, each checked by binding it (all held until the last is found).
pub fn free_ports(count: usize) -> Vec<u16> {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    // A random start per process, then sequential within it.
    if NEXT.load(Ordering::Relaxed) == 0 {
        let start = LOW + fastrand::u16(0..HIGH - LOW);
        let _ = NEXT.compare_exchange(0, start, Ordering::Relaxed, Ordering::Relaxed);
    }
    let mut held = Vec::with_capacity(count);
    let mut tried = 0;
    while held.len() < count {
        let port = next(&NEXT);
        tried += 1;
        assert!(
            tried < 10 * usize::from(HIGH - LOW),
            "no free port in {LOW}..{HIGH}"
        );
        if let Ok(listener) = TcpListener::bind(("127.0.0.1", port)) {
            held.push(listener);
        }
    }
    held.iter()
        .map(|l| l.local_addr().expect("a bound address").port())
        .collect()
}

/// One free port.
pub fn free_port() -> u16 {
    free_ports(1)[0]
}

fn next(counter: &AtomicU16) -> u16 {
    let port = counter.fetch_add(1, Ordering::Relaxed);
    if port >= HIGH {
        counter.store(LOW + 1, Ordering::Relaxed);
        LOW
    } else {
        port
    }
}
