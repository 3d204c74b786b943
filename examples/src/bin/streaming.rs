//! Server, client and bidirectional streams, in one process.
//!
//! ```text
//! cargo run -p examples --bin streaming
//! ```

use examples::streaming::{
    CountdownRequest, EchoMessage, Number, PingRequest, PingResponse, StreamerClient,
    StreamerHandler, StreamerServer, Tick, Total,
};
use micro_runtime::registry::shared_memory_registry;
use micro_runtime::stream::{Receiver, Sender};
use micro_runtime::{Context, Error, Service};

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

    async fn sum(&self, _ctx: Context, mut numbers: Receiver<Number>) -> Result<Total, Error> {
        let mut total = Total::default();
        while let Some(number) = numbers.recv().await? {
            total.sum += number.value;
            total.count += 1;
        }
        Ok(total)
    }

    async fn echo(
        &self,
        _ctx: Context,
        mut incoming: Receiver<EchoMessage>,
        outgoing: Sender<EchoMessage>,
    ) -> Result<(), Error> {
        while let Some(message) = incoming.recv().await? {
            outgoing
                .send(EchoMessage {
                    text: message.text.to_uppercase(),
                    seq: message.seq,
                })
                .await?;
        }
        Ok(())
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    examples::init_logging();
    // One process: the process's memory registry. Across processes, leave `.registry` out and
    // the service is found over mDNS, or in etcd with MICRO_REGISTRY=etcd.
    let service = Service::builder("streaming")
        .registry(shared_memory_registry())
        .build()?
        .handle(StreamerServer::new(Streamer));
    let client = StreamerClient::new("streaming", service.client());
    let running = service.start().await?;

    // Server streaming: one request, many replies.
    let mut ticks = client.countdown(CountdownRequest { from: 3 }).await?;
    while let Some(tick) = ticks.recv().await? {
        println!("countdown: {}", tick.value);
    }

    // Client streaming: send, close, then read the one reply.
    let sum = client.sum().await?;
    for value in [1, 2, 3, 4] {
        sum.send(Number { value }).await?;
    }
    let total = sum.close_and_recv().await?;
    println!("sum of {} numbers: {}", total.count, total.sum);

    // Bidirectional: send and receive from separate tasks.
    let (sender, mut receiver) = client.echo().await?.split();
    let send = tokio::spawn(async move {
        for (seq, text) in ["hello", "stream"].into_iter().enumerate() {
            sender
                .send(EchoMessage {
                    text: text.into(),
                    seq: seq as u64,
                })
                .await?;
        }
        sender.close().await
    });
    while let Some(message) = receiver.recv().await? {
        println!("echo {}: {}", message.seq, message.text);
    }
    send.await??;

    running.stop().await?;
    Ok(())
}
