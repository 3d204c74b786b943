//! Arbitrary bytes into the transport's frame parser, through its public API only: requests,
//! responses and stream frames (both directions), with the default limits and with tiny ones.
//! The parser must return frames, `None` or an error; never panic, hang or read past a limit.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use micro_runtime::transport::{FrameReader, Limits};
use tokio::runtime::{Builder, Runtime};

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a tokio runtime")
    })
}

async fn parse_all(data: &[u8], limits: &Limits) {
    let mut reader = FrameReader::new(data, limits.clone());
    while let Ok(Some(frame)) = reader.read_request().await {
        assert!(frame.body.len() <= limits.max_message_bytes);
    }
    let mut reader = FrameReader::new(data, limits.clone());
    while let Ok(Some(frame)) = reader.read_response().await {
        assert!(frame.body.len() <= limits.max_message_bytes);
    }
    for requests in [true, false] {
        let mut reader = FrameReader::new(data, limits.clone());
        while let Ok(Some(frame)) = reader.read_stream_frame(requests).await {
            assert!(frame.body.len() <= limits.max_message_bytes);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let tiny = Limits::default().max_message_bytes(16).max_header_bytes(64);
    runtime().block_on(async {
        parse_all(data, &Limits::default()).await;
        parse_all(data, &tiny).await;
    });
});
