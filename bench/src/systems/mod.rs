//! The three systems under test. Each has a server and the client side of every scenario,
//! written the way that system's own documentation would have a user write them.

pub mod micro;
pub mod raw;
pub mod tonic;

use std::future::Future;

/// The system a process serves or loads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum System {
    /// micro: go-micro's HTTP/1.1 framing, a connection per call in flight.
    Micro,
    /// tonic: gRPC over HTTP/2, one multiplexed connection.
    Tonic,
    /// A bare tokio TCP echo with a 4-byte length prefix: the ceiling.
    RawTcp,
}

impl System {
    /// Every system, in the order they are run and reported.
    pub const ALL: [System; 3] = [System::Micro, System::Tonic, System::RawTcp];

    /// The name used on the command line and in the JSON.
    pub fn name(self) -> &'static str {
        match self {
            System::Micro => "micro",
            System::Tonic => "tonic",
            System::RawTcp => "raw_tcp",
        }
    }

    /// Parses [`System::name`].
    pub fn parse(name: &str) -> anyhow::Result<Self> {
        Self::ALL
            .into_iter()
            .find(|system| system.name() == name)
            .ok_or_else(|| anyhow::anyhow!("unknown system {name:?}: micro, tonic or raw_tcp"))
    }
}

/// Makes one unary call; each worker of the load generator owns one.
pub trait Caller: Send + 'static {
    /// One request and its reply.
    fn call(&mut self) -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// Something that keeps connections open until it is dropped.
pub type Held = Box<dyn std::any::Any + Send>;
