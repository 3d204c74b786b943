//! tonic: the same protos through tonic-prost-build, one HTTP/2 connection per client, as
//! tonic's own examples do.

use std::net::SocketAddr;
use std::pin::Pin;

use tokio::net::TcpListener;
use tonic::codegen::tokio_stream::{self, Stream, StreamExt};
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Endpoint, Server};
use tonic::{Request, Response, Status, Streaming};

use super::{Caller, Held};
use crate::proto::NAME;
use crate::proto::tonic::greeter::greeter_client::GreeterClient;
use crate::proto::tonic::greeter::greeter_server::{Greeter, GreeterServer};
use crate::proto::tonic::greeter::{HelloRequest, HelloResponse};
use crate::proto::tonic::streaming::streamer_client::StreamerClient;
use crate::proto::tonic::streaming::streamer_server::{Streamer, StreamerServer};
use crate::proto::tonic::streaming::{
    CountdownRequest, EchoMessage, Number, PingRequest, PingResponse, Tick, Total,
};

struct BenchGreeter;

#[tonic::async_trait]
impl Greeter for BenchGreeter {
    async fn hello(&self, req: Request<HelloRequest>) -> Result<Response<HelloResponse>, Status> {
        Ok(Response::new(HelloResponse {
            greeting: format!("Hello {}", req.into_inner().name),
        }))
    }
}

struct BenchStreamer;

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

#[tonic::async_trait]
impl Streamer for BenchStreamer {
    async fn ping(&self, req: Request<PingRequest>) -> Result<Response<PingResponse>, Status> {
        Ok(Response::new(PingResponse {
            payload: req.into_inner().payload,
        }))
    }

    type CountdownStream = BoxStream<Tick>;

    async fn countdown(
        &self,
        req: Request<CountdownRequest>,
    ) -> Result<Response<Self::CountdownStream>, Status> {
        // A plain iterator stream: no channel between handler and transport, tonic's best case.
        let ticks = (1..=req.into_inner().from)
            .rev()
            .map(|value| Ok(Tick { value }));
        Ok(Response::new(Box::pin(tokio_stream::iter(ticks))))
    }

    async fn sum(&self, req: Request<Streaming<Number>>) -> Result<Response<Total>, Status> {
        let mut stream = req.into_inner();
        let mut total = Total::default();
        while let Some(number) = stream.message().await? {
            total.sum += number.value;
            total.count += 1;
        }
        Ok(Response::new(total))
    }

    type EchoStream = BoxStream<EchoMessage>;

    async fn echo(
        &self,
        req: Request<Streaming<EchoMessage>>,
    ) -> Result<Response<Self::EchoStream>, Status> {
        // Map the inbound stream straight back out: again no channel in between.
        Ok(Response::new(Box::pin(req.into_inner())))
    }
}

/// Serves both services on `listener` until the process ends.
pub async fn serve(listener: TcpListener) -> anyhow::Result<()> {
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    Server::builder()
        .add_service(GreeterServer::new(BenchGreeter))
        .add_service(StreamerServer::new(BenchStreamer))
        .serve_with_incoming(incoming)
        .await?;
    Ok(())
}

async fn channel(addr: SocketAddr) -> anyhow::Result<Channel> {
    Ok(Endpoint::from_shared(format!("http://{addr}"))?
        .tcp_nodelay(true)
        .connect()
        .await?)
}

/// A worker's handle on the greeter.
pub struct TonicCaller(GreeterClient<Channel>);

impl Caller for TonicCaller {
    async fn call(&mut self) -> anyhow::Result<()> {
        let request = HelloRequest { name: NAME.into() };
        let reply = self.0.hello(request).await?.into_inner();
        anyhow::ensure!(reply.greeting.len() > NAME.len(), "short reply");
        Ok(())
    }
}

/// `workers` callers multiplexed over one channel.
pub async fn callers(addr: SocketAddr, workers: usize) -> anyhow::Result<Vec<TonicCaller>> {
    let greeter = GreeterClient::new(channel(addr).await?);
    Ok((0..workers).map(|_| TonicCaller(greeter.clone())).collect())
}

/// Receives a server stream of `count` ticks; returns how many arrived.
pub async fn server_stream(addr: SocketAddr, count: u32) -> anyhow::Result<u64> {
    let mut streamer = StreamerClient::new(channel(addr).await?);
    let mut stream = streamer
        .countdown(CountdownRequest { from: count })
        .await?
        .into_inner();
    let mut received = 0;
    while stream.message().await?.is_some() {
        received += 1;
    }
    Ok(received)
}

/// Sends `count` messages on a bidi stream while reading their echoes; returns the echoes.
pub async fn bidi(addr: SocketAddr, count: u64) -> anyhow::Result<u64> {
    let mut streamer = StreamerClient::new(channel(addr).await?);
    let outbound = tokio_stream::iter(0..count).map(|seq| EchoMessage {
        text: String::from("echo"),
        seq,
    });
    let mut inbound = streamer.echo(outbound).await?.into_inner();
    let mut received = 0;
    while inbound.message().await?.is_some() {
        received += 1;
    }
    Ok(received)
}

/// Opens `count` connections (one channel each), each of which has made one call.
pub async fn idle(addr: SocketAddr, count: usize) -> anyhow::Result<Held> {
    let mut clients = Vec::with_capacity(count);
    let opens = (0..count).map(|_| {
        tokio::spawn(async move {
            let mut greeter = GreeterClient::new(channel(addr).await?);
            greeter.hello(HelloRequest { name: NAME.into() }).await?;
            anyhow::Ok(greeter)
        })
    });
    for open in opens.collect::<Vec<_>>() {
        clients.push(open.await??);
    }
    Ok(Box::new(clients))
}
