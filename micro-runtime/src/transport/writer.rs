//! Writing frames: encode into one reusable buffer, then one `write_all` per batch.

use bytes::BytesMut;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::{FrameTemplate, Headers, encode_request, encode_response};

/// Buffers encoded frames and writes them in as few syscalls as possible.
///
/// Frames are queued (`queue_*`) and written by [`FrameWriter::flush`]; the buffer is reused, so a
/// steady stream of frames allocates nothing once it has grown to the batch size.
#[derive(Debug)]
pub struct FrameWriter<W> {
    io: W,
    buf: BytesMut,
}

impl<W: AsyncWrite + Unpin> FrameWriter<W> {
    /// A writer over `io`.
    pub fn new(io: W) -> Self {
        Self {
            io,
            buf: BytesMut::with_capacity(4096),
        }
    }

    /// Queues a request frame (`POST /`).
    pub fn queue_request(&mut self, host: &str, headers: &Headers, body: &[u8]) {
        encode_request(&mut self.buf, host, headers, body);
    }

    /// Queues a response frame.
    pub fn queue_response(&mut self, status: u16, headers: &Headers, body: &[u8]) {
        encode_response(&mut self.buf, status, headers, body);
    }

    /// Queues a frame of a stream from its template, `write_body` appending the `len`-byte body
    /// straight into the output buffer (no intermediate copy of the message).
    pub fn queue_templated(
        &mut self,
        template: &FrameTemplate,
        len: usize,
        write_body: impl FnOnce(&mut BytesMut),
    ) {
        template.encode_with(&mut self.buf, len, write_body);
    }

    /// Queues bytes as they are (e.g. `HTTP/1.1 100 Continue`).
    pub fn queue_raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// How many bytes wait to be written.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Writes everything queued.
    pub async fn flush(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            self.io.write_all(&self.buf).await?;
            self.buf.clear();
        }
        Ok(())
    }

    /// The underlying writer.
    pub fn get_ref(&self) -> &W {
        &self.io
    }

    /// The underlying writer, mutably. Writing to it directly bypasses what is queued.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.io
    }

    /// Gives back the underlying writer, dropping anything still queued.
    pub fn into_inner(self) -> W {
        self.io
    }
}
