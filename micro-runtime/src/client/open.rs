//! Opening a stream on one node: dial, send go-micro's init frame (the endpoint headers,
//! `Micro-Stream`, an empty body), then hand the connection to the stream's two halves.

use super::Inner;
use super::attempt::{AttemptError, AttemptInfo, request_headers};
use super::request::Opened;
use super::sender::{Frames, broken, spawn_writer};
use crate::codec::{ContentType, Message};
use crate::error::{CLIENT_ID, Error};
use crate::registry::Node;
use crate::stream::remote::Remote;
use crate::stream::{Receiver, Sender};
use crate::transport::hang_up::StreamWriter;
use crate::transport::pool::ClientConn;
use crate::transport::{FrameTemplate, STREAM_READ_BYTES};

/// Opens a stream on the attempt's node: dials, and sends the init frame. A failure is
/// [`AttemptError::unsent`]: no handler has run, so the call goes on to another node.
pub(super) async fn open_on(
    client: &Inner,
    node: &Node,
    attempt: &AttemptInfo<'_>,
) -> Result<Opened, AttemptError> {
    let conn = ClientConn::connect(
        &*client.options.transport,
        &node.address,
        client.options.dial_timeout,
        &client.options.limits,
    )
    .await
    .map_err(|e| {
        AttemptError::unsent(
            Error::internal_server_error(format!("connection error: {}: {e}", node.address))
                .with_id(CLIENT_ID),
        )
    })?;
    let mut headers = request_headers(
        client,
        attempt.service,
        attempt.endpoint,
        attempt.content_type,
        attempt.metadata,
        attempt.deadline,
    )
    .map_err(AttemptError::answered)?;
    let id = headers.get("Micro-Id").unwrap_or("0").to_string();
    headers.insert("Micro-Stream", id);
    let mut writer = conn.writer;
    writer.queue_request(&node.address, &headers, b"");
    writer
        .flush()
        .await
        .map_err(|e| AttemptError::unsent(broken(&node.address, &e.to_string())))?;
    // Later frames need no deadline: the server took it from the init frame.
    headers.remove("Timeout");
    let message = FrameTemplate::request(&node.address, &headers);
    headers.remove("Content-Type");
    headers.insert("Micro-Error", "EOS");
    Ok(Opened {
        writer: StreamWriter::new(writer),
        reader: conn.reader.with_read_size(STREAM_READ_BYTES),
        frames: Frames {
            message,
            eos: FrameTemplate::request(&node.address, &headers),
            content_type: attempt.content_type,
        },
        host: node.address.clone(),
        deadline: attempt.deadline,
    })
}

impl Opened {
    /// A server stream: writes the one request, then the replies can be read. The receiver holds
    /// the write half, so dropping it before the stream's end hangs up.
    pub(super) async fn server_stream<Req: Message, Rsp: Message>(
        mut self,
        request: &Req,
    ) -> Result<Receiver<Rsp>, Error> {
        let ct = self.frames.content_type;
        ct.queue_frame(&mut self.writer, &self.frames.message, request)?;
        let flush = self.writer.flush();
        let flushed = match self.deadline {
            None => flush.await,
            Some(deadline) => tokio::time::timeout_at(deadline, flush)
                .await
                .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into())),
        };
        flushed.map_err(|e| broken(&self.host, &e.to_string()))?;
        let hang_up = self.writer.hang_up();
        Ok(Receiver::from_remote(Remote::new(
            self.reader,
            ct,
            self.deadline,
            Box::new(self.writer),
            hang_up,
        )))
    }

    /// Both directions: a writer task behind the sender, the connection behind the receiver.
    pub(super) fn both<Req: Message, Rsp: Message>(self) -> (Sender<Req>, Receiver<Rsp>) {
        let content_type: ContentType = self.frames.content_type;
        let hang_up = self.writer.hang_up();
        let (sender, hold) = spawn_writer(self.writer, self.frames, self.host, self.deadline);
        let receiver = Receiver::from_remote(Remote::new(
            self.reader,
            content_type,
            self.deadline,
            Box::new(hold),
            hang_up,
        ));
        (sender, receiver)
    }
}
