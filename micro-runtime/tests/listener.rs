//! Listening on ports and port ranges, on loopback only.

use std::collections::HashSet;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener as StdListener};

use micro_runtime::LocalErrorKind;
use micro_runtime::transport::listen;
use tokio::net::TcpListener;

/// A base port such that `base..base + n` are all free on `ip` right now.
///
/// Starts at a random port so parallel test runs (and other processes) rarely collide, and holds
/// nothing: callers bind the range themselves straight away.
fn free_run(ip: std::net::IpAddr, n: u16) -> u16 {
    let mut base = fastrand::u16(20_000..60_000);
    for _ in 0..1000 {
        let all_free =
            (base..base + n).all(|port| StdListener::bind(SocketAddr::new(ip, port)).is_ok());
        if all_free {
            return base;
        }
        base = if base > 60_000 { 20_000 } else { base + n };
    }
    panic!("no run of {n} free ports on {ip}");
}

fn port(listener: &TcpListener) -> u16 {
    listener.local_addr().unwrap().port()
}

const LOCALHOST: std::net::IpAddr = std::net::IpAddr::V4(Ipv4Addr::LOCALHOST);

#[tokio::test]
async fn range_takes_the_first_free_port() {
    let base = free_run(LOCALHOST, 4);
    let listener = listen(&format!("127.0.0.1:{base}-{}", base + 3))
        .await
        .unwrap();
    assert_eq!(port(&listener), base);
}

#[tokio::test]
async fn range_skips_busy_ports() {
    let base = free_run(LOCALHOST, 4);
    let _busy: Vec<_> = (base..base + 2)
        .map(|p| StdListener::bind((Ipv4Addr::LOCALHOST, p)).unwrap())
        .collect();
    let listener = listen(&format!("127.0.0.1:{base}-{}", base + 3))
        .await
        .unwrap();
    assert_eq!(port(&listener), base + 2);
}

#[tokio::test]
async fn all_busy_names_the_range() {
    let base = free_run(LOCALHOST, 3);
    let _busy: Vec<_> = (base..base + 3)
        .map(|p| StdListener::bind((Ipv4Addr::LOCALHOST, p)).unwrap())
        .collect();
    let addr = format!("127.0.0.1:{base}-{}", base + 2);
    let err = listen(&addr).await.unwrap_err();
    assert_eq!(err.kind(), LocalErrorKind::Bind);
    assert!(
        err.to_string()
            .starts_with(&format!("no free port in {addr}: ")),
        "{err}"
    );
    assert!(
        err.cause().is_some(),
        "the last bind error is kept as the cause"
    );
}

#[tokio::test]
async fn min_above_max_is_a_config_error() {
    let err = listen("127.0.0.1:41003-41000").await.unwrap_err();
    assert_eq!(err.kind(), LocalErrorKind::Config);
    assert!(
        err.to_string()
            .contains("minimum port 41003 is above maximum port 41000"),
        "{err}"
    );
}

#[tokio::test]
async fn non_numbers_are_config_errors_naming_the_part() {
    for (addr, part) in [
        ("127.0.0.1:abc", "port \"abc\""),
        ("127.0.0.1:x-41000", "minimum port \"x\""),
        ("127.0.0.1:41000-", "maximum port \"\""),
        ("127.0.0.1:70000", "port 70000 is out of range"),
        ("127.0.0.1", "missing port"),
    ] {
        let err = listen(addr).await.unwrap_err();
        assert_eq!(err.kind(), LocalErrorKind::Config, "{addr}");
        assert!(err.to_string().contains(part), "{addr}: {err}");
    }
}

#[tokio::test]
async fn single_port_and_port_zero_work() {
    let base = free_run(LOCALHOST, 1);
    let listener = listen(&format!("127.0.0.1:{base}")).await.unwrap();
    assert_eq!(port(&listener), base);
    let err = listen(&format!("127.0.0.1:{base}")).await.unwrap_err();
    assert_eq!(err.kind(), LocalErrorKind::Bind);

    let any = listen("127.0.0.1:0").await.unwrap();
    assert_ne!(port(&any), 0);
    let named = listen("localhost:0").await.unwrap();
    assert!(named.local_addr().unwrap().ip().is_loopback());
}

#[tokio::test]
async fn ipv6_ranges_work() {
    let ip = std::net::IpAddr::V6(Ipv6Addr::LOCALHOST);
    if let Err(err) = StdListener::bind((Ipv6Addr::LOCALHOST, 0)) {
        eprintln!("skipping ipv6_ranges_work: this machine cannot bind [::1]: {err}");
        return;
    }
    let base = free_run(ip, 3);
    let _busy = StdListener::bind((Ipv6Addr::LOCALHOST, base)).unwrap();
    let listener = listen(&format!("[::1]:{base}-{}", base + 2)).await.unwrap();
    assert_eq!(
        listener.local_addr().unwrap(),
        SocketAddr::new(ip, base + 1)
    );
}

#[tokio::test]
async fn ten_listeners_in_one_range_get_ten_ports() {
    let base = free_run(LOCALHOST, 10);
    let range = format!("127.0.0.1:{base}-{}", base + 9);
    let mut listeners = Vec::new();
    for _ in 0..10 {
        listeners.push(listen(&range).await.unwrap());
    }
    let ports: HashSet<u16> = listeners.iter().map(port).collect();
    assert_eq!(ports, (base..base + 10).collect());
    assert_eq!(
        listen(&range).await.unwrap_err().kind(),
        LocalErrorKind::Bind
    );
}
