//! micro's end-to-end tests: code generated from `proto/` (and `tests/proto/`) by micro-build,
//! served and called over real sockets.
//!
//! ## Layout
//! - [`proto`]: the generated code, mounted with `micro_runtime::include_protos!()`.
//! - [`handlers`]: handlers for every generated service, used by the tests.
//! - [`support`]: starting servers on free loopback ports, each with its own registry.
//! - [`etcd`], [`netns`]: real etcd members; private network namespaces for mDNS.
//! - [`broker_suite`], [`subscriber_suite`]: what every broker must do, run by each broker's tests.
//! - [`transport_suite`]: what every transport must carry, run by each transport's tests.
//! - [`logs`]: the captured log, to check that failures are reported.
//! - [`wire`]: the go-micro wire corpus, real bytes from go-micro v6.10.0 for replay tests.
//! - [`go_server`]: a stand-in go-micro server answering a client with the corpus's bytes.

pub mod broker_suite;
pub mod etcd;
pub mod go_server;
pub mod handlers;
pub mod logs;
pub mod nats;
pub mod netns;
pub mod ports;
pub mod subscriber_suite;
pub mod support;
pub mod transport_suite;
pub mod wire;

/// Everything micro-build generated from `proto/` and `tests/proto/`, nested as the packages are.
#[allow(missing_docs)]
pub mod proto {
    micro_runtime::include_protos!();
}
