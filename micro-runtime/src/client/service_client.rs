//! The typed calls generated clients make.

use std::sync::Arc;

use super::call::open;
use super::stream::{BidiStream, ClientStreaming};
use super::{CallOptions, Client};
use crate::codec::Message;
use crate::descriptor::EndpointDescriptor;
use crate::error::Error;
use crate::stream::Receiver;

/// A client bound to one service name; what a generated `GreeterClient` holds.
#[derive(Clone, Debug)]
pub struct ServiceClient {
    service: Arc<str>,
    client: Client,
}

impl ServiceClient {
    /// Calls the service registered as `service` through `client`.
    pub fn new(service: impl Into<String>, client: Client) -> Self {
        Self {
            service: Arc::from(service.into()),
            client,
        }
    }

    /// The service name called.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The underlying client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// A unary call.
    pub async fn unary<Req: Message, Rsp: Message>(
        &self,
        endpoint: &'static EndpointDescriptor,
        request: Req,
        options: CallOptions,
    ) -> Result<Rsp, Error> {
        let content_type = options
            .content_type
            .unwrap_or(self.client.options().content_type);
        let body = content_type.encode(&request)?;
        let reply = self
            .client
            .call_raw(&self.service, endpoint.name, content_type, body, &options)
            .await?;
        content_type.decode(reply).map_err(|mut err| {
            err.id = "go.micro.client.codec".to_string();
            err
        })
    }

    /// Opens a server stream: sends the request; the replies arrive on the receiver.
    pub async fn server_stream<Req: Message, Rsp: Message>(
        &self,
        endpoint: &'static EndpointDescriptor,
        request: Req,
        options: CallOptions,
    ) -> Result<Receiver<Rsp>, Error> {
        open(&self.client, &self.service, endpoint.name, &options)
            .await?
            .server_stream(&request)
            .await
    }

    /// Opens a client stream.
    pub async fn client_stream<Req: Message, Rsp: Message>(
        &self,
        endpoint: &'static EndpointDescriptor,
        options: CallOptions,
    ) -> Result<ClientStreaming<Req, Rsp>, Error> {
        let opened = open(&self.client, &self.service, endpoint.name, &options).await?;
        Ok(ClientStreaming::new(opened.both()))
    }

    /// Opens a bidirectional stream.
    pub async fn bidi_stream<Req: Message, Rsp: Message>(
        &self,
        endpoint: &'static EndpointDescriptor,
        options: CallOptions,
    ) -> Result<BidiStream<Req, Rsp>, Error> {
        let opened = open(&self.client, &self.service, endpoint.name, &options).await?;
        Ok(BidiStream::new(opened.both()))
    }
}
