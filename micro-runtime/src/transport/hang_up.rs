//! How a caller hangs up on a stream it leaves before the server has ended it: the connection
//! closes with a reset (TCP RST) instead of a FIN.
//!
//! Why a reset: once a caller has sent `EOS`, a FIN no longer says that it left. A caller that
//! still reads the answer may half-close (legal TCP; the wire replays in micro's tests do), so a
//! server goes on after a FIN there, and a handler that writes nothing (a quiet server stream, a
//! client stream still working on its reply) would run until the stream's idle timeout. A reset
//! is unambiguous: the server reads `ECONNRESET` and cancels the handler, as an HTTP/2 server
//! cancels on `RST_STREAM`. A stream whose end the caller has read (the server's `EOS` or error,
//! or a client stream's reply) closes with a FIN as before.
//!
//! Limits: this is TCP's (micro's HTTP transport); another [`Transport`](super::Transport)'s
//! sockets close as they close, and its quiet streams end at the idle timeout. A go-micro client
//! sends `EOS` and closes at once; its kernel sends a reset instead of a FIN when replies sit
//! unread, so whether its handler is stopped at once or at the idle timeout depends on that.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::halves::WriteHalf;

/// Whether a caller left its stream: shared by the stream's receiver, which knows, and its write
/// half, which closes the connection.
#[derive(Clone, Debug, Default)]
pub(crate) struct HangUp(Arc<AtomicBool>);

impl HangUp {
    /// The caller left before the server ended the stream: close the connection with a reset.
    pub(crate) fn left(&self) {
        self.0.store(true, Ordering::Release);
    }

    fn has_left(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// A caller's write half of a stream, which resets the connection when it is dropped after the
/// caller left. The stream's receiver raises the flag before it lets go of the write half (or of
/// the writer task that owns it), so the flag is up by the time this drops; the connection closes,
/// with the reset, once the read half is gone too.
pub(crate) struct StreamWriter {
    /// Always present; taken only by `drop`.
    half: Option<WriteHalf>,
    hang_up: HangUp,
}

impl StreamWriter {
    /// The write half of a new stream, with a flag for its receiver ([`Self::hang_up`]).
    pub(crate) fn new(half: WriteHalf) -> Self {
        Self {
            half: Some(half),
            hang_up: HangUp::default(),
        }
    }

    /// The flag the stream's receiver raises when the caller leaves.
    pub(crate) fn hang_up(&self) -> HangUp {
        self.hang_up.clone()
    }
}

impl Deref for StreamWriter {
    type Target = WriteHalf;

    fn deref(&self) -> &WriteHalf {
        self.half.as_ref().expect("taken only on drop")
    }
}

impl DerefMut for StreamWriter {
    fn deref_mut(&mut self) -> &mut WriteHalf {
        self.half.as_mut().expect("taken only on drop")
    }
}

impl Drop for StreamWriter {
    fn drop(&mut self) {
        if let Some(half) = self.half.take()
            && self.hang_up.has_left()
        {
            half.reset();
        }
    }
}
