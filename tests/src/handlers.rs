//! Handlers for the generated services.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use micro_runtime::stream::{Receiver, Sender};
use micro_runtime::{Context, Error};
use tokio::sync::mpsc;

use crate::proto::greeter::{GreeterHandler, HelloRequest, HelloResponse};
use crate::proto::nested::api::v1::{CatalogHandler, GetItemRequest};
use crate::proto::nested::common::v1::item::Detail;
use crate::proto::nested::common::v1::{Item, Kind};
use crate::proto::streaming::{
    CountdownRequest, EchoMessage, Number, PingRequest, PingResponse, StreamerHandler, Tick, Total,
};
use micro_runtime::well_known::{Empty, Timestamp};

/// Greets; counts calls; special names trigger errors and delays, and `echo-metadata` answers
/// with the `Trace-Id` it received.
#[derive(Debug, Default, Clone)]
pub struct Greeter {
    /// How many calls reached this handler.
    pub calls: Arc<AtomicUsize>,
    /// A name to put in greetings, to tell nodes apart.
    pub node: String,
}

impl GreeterHandler for Greeter {
    async fn hello(&self, ctx: Context, req: HelloRequest) -> Result<HelloResponse, Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        match req.name.as_str() {
            "" => Err(Error::bad_request("name must not be empty")),
            "slow" => {
                tokio::time::sleep(Duration::from_millis(400)).await;
                Ok(HelloResponse {
                    greeting: "Hello slow".into(),
                })
            }
            "panic" => panic!("the handler panicked on purpose"),
            "echo-metadata" => Ok(HelloResponse {
                greeting: ctx.metadata().get("Trace-Id").unwrap_or("none").to_string(),
            }),
            "which-node" => Ok(HelloResponse {
                greeting: self.node.clone(),
            }),
            name => Ok(HelloResponse {
                greeting: format!("Hello {name}"),
            }),
        }
    }
}

/// The four rpc kinds.
#[derive(Debug, Default, Clone)]
pub struct Streamer;

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
        if req.from > 1_000_000 {
            return Err(Error::bad_request("from is too large"));
        }
        for value in (1..=req.from).rev() {
            stream.send(Tick { value }).await?;
            if value == 13 {
                return Err(Error::internal_server_error("unlucky thirteen"));
            }
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

/// Echoes, and reports how its stream ended: `eos` when the caller closed its side, `cancelled`
/// when the server dropped the handler because the caller hung up. Its countdown and its sum are
/// quiet streams that only a hang-up ends (reported as `cancelled`); the sum first reads its input
/// to the caller's `EOS` and reports `eos`. Its ping answers.
#[derive(Debug, Clone)]
pub struct Probe {
    /// Where the end of each echo stream is reported.
    pub ended: mpsc::UnboundedSender<&'static str>,
}

/// Reports `cancelled` if dropped before it is defused.
struct Report(Option<mpsc::UnboundedSender<&'static str>>);

impl Drop for Report {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send("cancelled");
        }
    }
}

impl StreamerHandler for Probe {
    async fn ping(&self, _: Context, req: PingRequest) -> Result<PingResponse, Error> {
        Ok(PingResponse {
            payload: req.payload,
        })
    }
    /// A quiet stream: sends nothing and never ends by itself, so only the caller's hang-up
    /// ends it (reported as `cancelled`).
    async fn countdown(
        &self,
        _: Context,
        _: CountdownRequest,
        _: Sender<Tick>,
    ) -> Result<(), Error> {
        let _report = Report(Some(self.ended.clone()));
        std::future::pending::<()>().await;
        Ok(())
    }
    /// Reads its input to the caller's `EOS` and reports `eos`, then answers nothing: only the
    /// caller's hang-up ends it (reported as `cancelled`).
    async fn sum(&self, _: Context, mut numbers: Receiver<Number>) -> Result<Total, Error> {
        let _report = Report(Some(self.ended.clone()));
        while numbers.recv().await?.is_some() {}
        let _ = self.ended.send("eos");
        std::future::pending::<()>().await;
        Ok(Total::default())
    }
    async fn echo(
        &self,
        _: Context,
        mut stream: Receiver<EchoMessage>,
        sender: Sender<EchoMessage>,
    ) -> Result<(), Error> {
        let mut report = Report(Some(self.ended.clone()));
        while let Some(message) = stream.recv().await? {
            sender.send(message).await?;
        }
        let _ = report.0.take().map(|tx| tx.send("eos"));
        Ok(())
    }
}

/// A catalog over other packages' messages and well-known types.
#[derive(Debug, Default, Clone)]
pub struct Catalog;

fn item(id: &str) -> Item {
    Item {
        id: id.to_string(),
        title: format!("Item {id}"),
        created_at: Some(Timestamp {
            seconds: 1_700_000_000,
            nanos: 0,
        }),
        kind: Kind::Book as i32,
        tags: vec!["a".into()],
        price_cents: Some(1999),
        ..Item::default()
    }
}

impl CatalogHandler for Catalog {
    async fn get_item(&self, _ctx: Context, req: GetItemRequest) -> Result<Item, Error> {
        if req.id == "missing" {
            return Err(Error::not_found("no such item"));
        }
        let mut item = item(&req.id);
        if req.detailed {
            item.detail = Some(Detail {
                note: format!("detail of {}", req.id),
            });
        }
        Ok(item)
    }

    async fn list_items(
        &self,
        _ctx: Context,
        _req: Empty,
        stream: Sender<Item>,
    ) -> Result<(), Error> {
        for id in ["1", "2", "3"] {
            stream.send(item(id)).await?;
        }
        Ok(())
    }

    async fn clear(&self, _ctx: Context, _req: Empty) -> Result<Empty, Error> {
        Ok(Empty {})
    }
}
