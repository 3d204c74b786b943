//! micro: the generated `GreeterServer`/`StreamerServer` and clients, found through a registry.

use std::net::SocketAddr;
use std::sync::Arc;

use micro_runtime::client::ClientOptions;
use micro_runtime::client::{Attempt, CallRequest, CallResponse};
use micro_runtime::middleware::{Next, from_fn};
use micro_runtime::registry::memory::MemoryRegistry;
use micro_runtime::registry::{Node, Registry, ServiceRecord};
use micro_runtime::server::Server;
use micro_runtime::server::{Request, Response};
use micro_runtime::stream::{Receiver, Sender};
use micro_runtime::{Client, Context, Error};
use tokio::net::TcpListener;

use super::{Caller, Held};
use crate::proto::NAME;
use crate::proto::micro::greeter::{
    GREETER_SERVICE, GreeterClient, GreeterHandler, GreeterServer, HelloRequest, HelloResponse,
};
use crate::proto::micro::streaming::{
    CountdownRequest, EchoMessage, Number, PingRequest, PingResponse, STREAMER_SERVICE,
    StreamerClient, StreamerHandler, StreamerServer, Tick, Total,
};

/// The service name the server runs under and the client looks up.
pub const SERVICE: &str = "bench";

struct Greeter;

impl GreeterHandler for Greeter {
    async fn hello(&self, _ctx: Context, req: HelloRequest) -> Result<HelloResponse, Error> {
        Ok(HelloResponse {
            greeting: format!("Hello {}", req.name),
        })
    }
}

struct Streamer;

impl StreamerHandler for Streamer {
    async fn ping(&self, _ctx: Context, req: PingRequest) -> Result<PingResponse, Error> {
        Ok(PingResponse {
            payload: req.payload,
        })
    }

    async fn countdown(
        &self,
        _ctx: Context,
        req: CountdownRequest,
        stream: Sender<Tick>,
    ) -> Result<(), Error> {
        for value in (1..=req.from).rev() {
            stream.send(Tick { value }).await?;
        }
        Ok(())
    }

    async fn sum(&self, _ctx: Context, mut stream: Receiver<Number>) -> Result<Total, Error> {
        let mut total = Total::default();
        while let Some(number) = stream.recv().await? {
            total.sum += number.value;
            total.count += 1;
        }
        Ok(total)
    }

    async fn echo(
        &self,
        _ctx: Context,
        mut stream: Receiver<EchoMessage>,
        sender: Sender<EchoMessage>,
    ) -> Result<(), Error> {
        while let Some(message) = stream.recv().await? {
            sender.send(message).await?;
        }
        Ok(())
    }
}

/// Serves both services on `listener` until the process ends.
pub async fn serve(listener: TcpListener) -> anyhow::Result<()> {
    let mut server = Server::new(SERVICE)
        .registry(Arc::new(MemoryRegistry::new()))
        .handle(GreeterServer::new(Greeter))
        .handle(StreamerServer::new(Streamer));
    if layered() {
        server = server.layer(from_fn(
            |request: Request, next: Next<Request, Response>| next.run(request),
        ));
    }
    let running = server.start_on(listener).await?;
    std::future::pending::<()>().await;
    running.stop().await?;
    Ok(())
}

/// A client that finds the server through its registry, as a user's would. `pool_size` is raised
/// to the number of calls in flight: each call in flight holds its own connection.
async fn client(addr: SocketAddr, in_flight: usize) -> anyhow::Result<Client> {
    let registry = Arc::new(MemoryRegistry::new());
    // The record the server registers (endpoints and node metadata included), as a client would
    // find it in a shared registry: the selector's lookup cost is part of every call.
    let metadata = [
        ("protocol", "mucp"),
        ("transport", "http"),
        ("server", "mucp"),
        ("broker", "http"),
        ("registry", "memory"),
    ];
    let service = ServiceRecord {
        name: SERVICE.into(),
        version: "latest".into(),
        endpoints: [&GREETER_SERVICE, &STREAMER_SERVICE]
            .iter()
            .flat_map(|service| service.endpoints.iter().map(|e| e.to_registry()))
            .collect(),
        nodes: vec![Node {
            id: format!("{SERVICE}-1"),
            address: addr.to_string(),
            metadata: metadata
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }],
        ..ServiceRecord::default()
    };
    registry.register(&service, None).await?;
    let options =
        ClientOptions::default().pool_size(in_flight.max(ClientOptions::default().pool_size));
    let mut client = Client::builder(registry).options(options);
    if layered() {
        client = client
            .layer(from_fn(
                |call: CallRequest, next: Next<CallRequest, CallResponse>| next.run(call),
            ))
            .attempt_layer(from_fn(
                |attempt: Attempt, next: Next<Attempt, CallResponse>| next.run(attempt),
            ));
    }
    Ok(client.build())
}

/// `MICRO_BENCH_LAYERS=1`: one pass-through `from_fn` layer on each stack (server handlers,
/// client calls, client attempts), to measure what tower's boxed services cost on the hot path.
fn layered() -> bool {
    std::env::var_os("MICRO_BENCH_LAYERS").is_some_and(|v| v == "1")
}

/// A worker's handle on the greeter.
pub struct MicroCaller(GreeterClient);

impl Caller for MicroCaller {
    async fn call(&mut self) -> anyhow::Result<()> {
        let request = HelloRequest { name: NAME.into() };
        let reply = self.0.hello(request).await?;
        anyhow::ensure!(reply.greeting.len() > NAME.len(), "short reply");
        Ok(())
    }
}

/// `workers` callers sharing one client (and so one pool).
pub async fn callers(addr: SocketAddr, workers: usize) -> anyhow::Result<Vec<MicroCaller>> {
    let greeter = GreeterClient::new(SERVICE, client(addr, workers).await?);
    Ok((0..workers).map(|_| MicroCaller(greeter.clone())).collect())
}

/// Receives a server stream of `count` ticks; returns how many arrived.
pub async fn server_stream(addr: SocketAddr, count: u32) -> anyhow::Result<u64> {
    let streamer = StreamerClient::new(SERVICE, client(addr, 1).await?);
    let mut stream = streamer.countdown(CountdownRequest { from: count }).await?;
    let mut received = 0;
    while stream.recv().await?.is_some() {
        received += 1;
    }
    Ok(received)
}

/// Sends `count` messages on a bidi stream while reading their echoes; returns the echoes.
pub async fn bidi(addr: SocketAddr, count: u64) -> anyhow::Result<u64> {
    let streamer = StreamerClient::new(SERVICE, client(addr, 1).await?);
    let (sender, mut receiver) = streamer.echo().await?.split();
    let send = tokio::spawn(async move {
        for seq in 0..count {
            let text = String::from("echo");
            sender.send(EchoMessage { text, seq }).await?;
        }
        sender.close().await
    });
    let mut received = 0;
    while receiver.recv().await?.is_some() {
        received += 1;
    }
    send.await??;
    Ok(received)
}

/// Opens `count` connections, each of which has made one call and now sits in the pool.
pub async fn idle(addr: SocketAddr, count: usize) -> anyhow::Result<Held> {
    let greeter = GreeterClient::new(SERVICE, client(addr, count).await?);
    let calls = (0..count).map(|_| {
        let greeter = greeter.clone();
        tokio::spawn(async move { greeter.hello(HelloRequest { name: NAME.into() }).await })
    });
    for call in calls.collect::<Vec<_>>() {
        call.await??;
    }
    Ok(Box::new(greeter))
}
