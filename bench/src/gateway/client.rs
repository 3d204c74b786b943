//! The load process's client for the gateway scenario: hyper's HTTP/1.1 connection, one per call
//! in flight, kept alive, sending `{"name":"bench"}` as JSON.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

use crate::systems::Caller;

const BODY: &[u8] = br#"{"name":"bench"}"#;

/// Where the calls go.
#[derive(Clone, Debug)]
pub enum Target {
    /// Straight to the service: go-micro's routing headers on `/`.
    Direct,
    /// Through the gateway: `/bench/Greeter.Hello`.
    Gateway,
}

/// One keep-alive connection.
pub struct JsonCaller {
    sender: SendRequest<Full<Bytes>>,
    target: Target,
    host: String,
}

impl Caller for JsonCaller {
    async fn call(&mut self) -> anyhow::Result<()> {
        let builder = Request::post(match self.target {
            Target::Direct => "/",
            Target::Gateway => "/bench/Greeter.Hello",
        })
        .header("Host", &self.host)
        .header("Content-Type", "application/json");
        let builder = match self.target {
            Target::Direct => builder
                .header("Micro-Service", crate::systems::micro::SERVICE)
                .header("Micro-Endpoint", "Greeter.Hello"),
            Target::Gateway => builder,
        };
        let request = builder.body(Full::new(Bytes::from_static(BODY)))?;
        self.sender.ready().await?;
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        anyhow::ensure!(
            status == 200 && body.starts_with(br#"{"greeting":"Hello bench"}"#),
            "unexpected reply {status}: {}",
            String::from_utf8_lossy(&body)
        );
        Ok(())
    }
}

/// `count` connections to `addr`.
pub async fn callers(
    addr: SocketAddr,
    count: usize,
    target: Target,
) -> anyhow::Result<Vec<JsonCaller>> {
    let mut callers = Vec::with_capacity(count);
    for _ in 0..count {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        callers.push(JsonCaller {
            sender,
            target: target.clone(),
            host: addr.to_string(),
        });
    }
    Ok(callers)
}
