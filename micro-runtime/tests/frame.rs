//! Reading and writing go-micro's HTTP/1.1 frames.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::BytesMut;
use micro_runtime::transport::{
    FrameError, FrameReader, Headers, Limits, StartLine, encode_request, encode_response,
};
use tokio::io::{AsyncRead, AsyncWriteExt, ReadBuf};

fn headers(pairs: &[(&str, &str)]) -> Headers {
    pairs.iter().copied().collect()
}

fn reader(bytes: &[u8]) -> FrameReader<&[u8]> {
    FrameReader::new(bytes, Limits::default())
}

/// Hands out at most one byte per read, to exercise every split point.
struct OneByte<'a>(&'a [u8]);

impl AsyncRead for OneByte<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if let Some((first, rest)) = self.0.split_first() {
            buf.put_slice(&[*first]);
            self.0 = rest;
        }
        Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn request_round_trips() {
    let sent = headers(&[("Micro-Endpoint", "Greeter.Hello"), ("Micro-Id", "0")]);
    let mut wire = BytesMut::new();
    encode_request(
        &mut wire,
        "10.0.0.5:43567",
        &sent,
        b"{\"name\":\"alice\"}\n",
    );
    assert!(wire.starts_with(b"POST / HTTP/1.1\r\nHost: 10.0.0.5:43567\r\nContent-Length: 17\r\n"));

    let frame = reader(&wire).read_request().await.unwrap().unwrap();
    let StartLine::Request { method, path } = &frame.start else {
        panic!("not a request: {:?}", frame.start)
    };
    assert_eq!((method.as_str(), path.as_str()), ("POST", "/"));
    assert_eq!(frame.headers.get("host"), Some("10.0.0.5:43567"));
    assert_eq!(frame.headers.get("MICRO-ENDPOINT"), Some("Greeter.Hello"));
    assert_eq!(&frame.body[..], b"{\"name\":\"alice\"}\n");
}

#[tokio::test]
async fn response_round_trips_and_skips_interim_responses() {
    let mut wire = BytesMut::from(&b"HTTP/1.1 100 Continue\r\n\r\n"[..]);
    encode_response(&mut wire, 200, &headers(&[("Micro-Error", "EOS")]), b"");
    encode_response(&mut wire, 499, &Headers::new(), b"x");
    encode_response(&mut wire, 299, &Headers::new(), b"");
    assert!(wire.ends_with(b"HTTP/1.1 299 status code 299\r\nContent-Length: 0\r\n\r\n"));

    let mut reader = reader(&wire);
    let first = reader.read_response().await.unwrap().unwrap();
    assert_eq!(
        first.start,
        StartLine::Response {
            status: 200,
            reason: "OK".into()
        }
    );
    assert_eq!(first.headers.get_micro("Micro-Error"), Some("EOS"));
    assert!(first.body.is_empty());
    let second = reader.read_response().await.unwrap().unwrap();
    assert!(matches!(
        second.start,
        StartLine::Response { status: 499, .. }
    ));
    assert_eq!(&second.body[..], b"x");
    assert!(reader.read_response().await.unwrap().is_some());
    assert!(reader.read_response().await.unwrap().is_none());
}

#[tokio::test]
async fn many_frames_back_to_back_in_one_buffer() {
    let mut wire = BytesMut::new();
    for i in 0..100 {
        let id = i.to_string();
        encode_request(
            &mut wire,
            "h",
            &headers(&[("Micro-Id", &id)]),
            id.as_bytes(),
        );
    }
    let mut reader = reader(&wire);
    for i in 0..100 {
        let frame = reader.read_request().await.unwrap().unwrap();
        assert_eq!(frame.headers.get("micro-id"), Some(i.to_string().as_str()));
        assert_eq!(frame.body, i.to_string().as_bytes());
    }
    assert!(reader.read_request().await.unwrap().is_none());
}

#[tokio::test]
async fn frames_split_into_one_byte_reads() {
    let mut wire = BytesMut::new();
    encode_request(&mut wire, "h", &headers(&[("A", "1")]), b"hello");
    encode_request(&mut wire, "h", &headers(&[("A", "2")]), b"world!");
    let mut reader = FrameReader::new(OneByte(&wire), Limits::default());
    let first = reader.read_request().await.unwrap().unwrap();
    assert_eq!(
        (first.headers.get("a"), &first.body[..]),
        (Some("1"), &b"hello"[..])
    );
    let second = reader.read_request().await.unwrap().unwrap();
    assert_eq!(
        (second.headers.get("a"), &second.body[..]),
        (Some("2"), &b"world!"[..])
    );
    assert!(reader.read_request().await.unwrap().is_none());
}

#[tokio::test]
async fn oversized_body_is_rejected_before_it_is_read() {
    let (mut client, server) = tokio::io::duplex(1024);
    // Only the head is ever written: the reader must decide from Content-Length alone.
    client
        .write_all(b"POST / HTTP/1.1\r\nContent-Length: 4194305\r\n\r\n")
        .await
        .unwrap();
    let err = FrameReader::new(server, Limits::default())
        .read_request()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            FrameError::BodyTooLarge {
                length: 4194305,
                limit: 4194304
            }
        ),
        "{err}"
    );
    assert_eq!(err.status(), 413);
}

#[tokio::test]
async fn oversized_header_section_is_rejected_while_incomplete() {
    let limits = Limits::default().max_header_bytes(256);
    let (mut client, server) = tokio::io::duplex(4096);
    let mut head = b"POST / HTTP/1.1\r\nX-Big: ".to_vec();
    head.resize(300, b'a');
    // The head never completes; the reader must give up once it holds more than the limit.
    client.write_all(&head).await.unwrap();
    let err = FrameReader::new(server, limits)
        .read_request()
        .await
        .unwrap_err();
    assert!(
        matches!(err, FrameError::HeaderTooLarge { limit: 256 }),
        "{err}"
    );
    assert_eq!(err.status(), 431);
}

#[tokio::test]
async fn too_many_headers_is_431() {
    let mut wire = b"POST / HTTP/1.1\r\n".to_vec();
    for i in 0..65 {
        wire.extend_from_slice(format!("H{i}: v\r\n").as_bytes());
    }
    wire.extend_from_slice(b"\r\n");
    let err = reader(&wire).read_request().await.unwrap_err();
    assert!(matches!(err, FrameError::TooManyHeaders), "{err}");
    assert_eq!(err.status(), 431);
}

#[tokio::test]
async fn garbage_is_malformed() {
    for garbage in [
        &b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 tls hello\r\n\r\n"[..],
        b"POST / HTTP/2.0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: ten\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    ] {
        let err = reader(garbage).read_request().await.unwrap_err();
        assert!(matches!(err, FrameError::Malformed(_)), "{err}");
        assert_eq!(err.status(), 400);
    }
    // Repeating the same length is allowed, as in Go.
    let same = b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\na";
    assert_eq!(
        &reader(same).read_request().await.unwrap().unwrap().body[..],
        b"a"
    );
}

#[tokio::test]
async fn chunked_bodies_are_decoded_in_requests_and_responses() {
    let wire = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n1\r\n!\r\n0\r\nTrailer: x\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nz";
    // Whole, and one byte per read (every split point).
    let mut whole = reader(wire);
    let mut bytewise = FrameReader::new(OneByte(wire), Limits::default());
    for (first, second) in [
        (whole.read_request().await, whole.read_request().await),
        (bytewise.read_request().await, bytewise.read_request().await),
    ] {
        assert_eq!(&first.unwrap().unwrap().body[..], b"hello!");
        assert_eq!(&second.unwrap().unwrap().body[..], b"z");
    }
    assert!(whole.read_request().await.unwrap().is_none());
    assert!(bytewise.read_request().await.unwrap().is_none());
    let wire =
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nMicro-Error: EOS\r\n\r\n0\r\n\r\n";
    let frame = reader(wire)
        .read_stream_frame(false)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(frame.error.as_deref(), Some("EOS"));
    assert!(frame.body.is_empty());
}

#[tokio::test]
async fn ambiguous_or_unknown_transfer_codings_are_refused() {
    // RFC 9112 §6.3: every Transfer-Encoding header counts, and it must end in chunked; with a
    // Content-Length too, the length is ambiguous. Each of these once framed a smuggled request.
    for wire in [
        &b"POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n"[..],
        b"POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding:\r\n\r\n",
    ] {
        let err = reader(wire).read_request().await.unwrap_err();
        assert!(matches!(err, FrameError::Malformed(_)), "{err}");
        assert_eq!(err.status(), 400);
    }
    let gzip = b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n";
    let err = reader(gzip).read_request().await.unwrap_err();
    assert!(matches!(err, FrameError::Unsupported(_)), "{err}");
    assert_eq!(err.status(), 501);
}

#[tokio::test]
async fn a_chunked_body_is_held_to_the_message_limit() {
    let limits = Limits::default().max_message_bytes(8);
    let wire = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n";
    let err = FrameReader::new(&wire[..], limits)
        .read_request()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            FrameError::BodyTooLarge {
                length: 10,
                limit: 8
            }
        ),
        "{err}"
    );
    assert_eq!(err.status(), 413);
}

#[tokio::test(start_paused = true)]
async fn a_stalled_body_times_out_and_holds_no_room_for_its_length() {
    let (mut client, server) = tokio::io::duplex(64 * 1024);
    let mut reader = FrameReader::new(server, Limits::default());
    client
        .write_all(b"POST / HTTP/1.1\r\nContent-Length: 4194304\r\n\r\nab")
        .await
        .unwrap();
    let head = reader.read_request_head().await.unwrap().unwrap();
    let started = tokio::time::Instant::now();
    let err = reader.read_body(head).await.unwrap_err();
    assert!(matches!(err, FrameError::BodyTimeout { .. }), "{err}");
    assert_eq!(err.status(), 408);
    assert_eq!(started.elapsed(), Limits::default().body_progress_timeout);
    drop(client);
}

#[tokio::test]
async fn eof_inside_a_frame_is_unexpected() {
    let full = b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
    for cut in [3, 20, full.len() - 2] {
        let err = reader(&full[..cut]).read_request().await.unwrap_err();
        assert!(
            matches!(err, FrameError::UnexpectedEof),
            "cut at {cut}: {err}"
        );
    }
    let err = reader(b"HTTP/1.1 100 Continue\r\n\r\n")
        .read_response()
        .await
        .unwrap_err();
    assert!(matches!(err, FrameError::UnexpectedEof), "{err}");
    // A blank line before EOF is still a clean end.
    assert!(reader(b"\r\n").read_request().await.unwrap().is_none());
}

#[tokio::test(start_paused = true)]
async fn header_timeout_starts_at_the_first_byte() {
    let (mut client, server) = tokio::io::duplex(1024);
    let task = tokio::spawn(async move {
        let mut reader = FrameReader::new(server, Limits::default());
        let first = reader.read_request().await;
        let second = reader.read_request().await;
        (first, second)
    });
    // An idle keep-alive connection is not timed out...
    tokio::time::sleep(Duration::from_secs(60)).await;
    client
        .write_all(b"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(60)).await;
    // ...but a frame whose head stalls half-way is.
    client.write_all(b"POST / HTTP/1.1\r\n").await.unwrap();
    let (first, second) = task.await.unwrap();
    assert!(first.unwrap().is_some());
    let err = second.unwrap_err();
    assert!(matches!(err, FrameError::HeaderTimeout), "{err}");
    assert_eq!(err.status(), 408);
    drop(client);
}

#[tokio::test(start_paused = true)]
async fn first_frame_timeout_runs_from_the_start() {
    let (_client, server) = tokio::io::duplex(1024);
    let started = tokio::time::Instant::now();
    let mut reader = FrameReader::new(server, Limits::default()).with_first_frame_timeout();
    let err = reader.read_request().await.unwrap_err();
    assert!(matches!(err, FrameError::HeaderTimeout), "{err}");
    assert_eq!(started.elapsed(), Duration::from_secs(5));
}

#[tokio::test]
async fn expect_continue_and_buffered_bodies() {
    let wire = b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc";
    let mut reader = reader(wire);
    let head = reader.read_request_head().await.unwrap().unwrap();
    assert!(head.expects_continue());
    assert!(!head.closes_connection());
    assert_eq!(head.body, micro_runtime::transport::BodyLength::Fixed(3));
    assert!(reader.body_buffered(&head));
    assert_eq!(&reader.read_body(head).await.unwrap().body[..], b"abc");

    let (mut client, server) = tokio::io::duplex(1024);
    client
        .write_all(
            b"POST / HTTP/1.1\r\nConnection: keep-alive, close\r\nContent-Length: 3\r\n\r\na",
        )
        .await
        .unwrap();
    let mut reader = FrameReader::new(server, Limits::default());
    let head = reader.read_request_head().await.unwrap().unwrap();
    assert!(head.closes_connection());
    assert!(!reader.body_buffered(&head));
    client.write_all(b"bc").await.unwrap();
    assert_eq!(&reader.read_body(head).await.unwrap().body[..], b"abc");
}

#[tokio::test]
async fn encoding_sanitises_headers() {
    let evil = headers(&[
        ("Content-Length", "999"),
        ("Bad Name", "x"),
        ("Meta", "a\r\nInjected: yes"),
    ]);
    let mut wire = BytesMut::new();
    encode_request(&mut wire, "h", &evil, b"ok");
    let frame = reader(&wire).read_request().await.unwrap().unwrap();
    assert_eq!(frame.headers.get("content-length"), Some("2"));
    assert_eq!(frame.headers.get("Meta"), Some("a  Injected: yes"));
    assert!(!frame.headers.contains("Injected"));
    assert!(!frame.headers.contains("Bad Name"));
    assert_eq!(&frame.body[..], b"ok");
}

#[tokio::test]
async fn x_micro_aliases_are_read() {
    let wire =
        b"POST / HTTP/1.1\r\nX-Micro-Endpoint: Greeter.Hello\r\nx-micro-service: greeter\r\n\r\n";
    let frame = reader(wire).read_request().await.unwrap().unwrap();
    assert_eq!(
        frame.headers.get_micro("Micro-Endpoint"),
        Some("Greeter.Hello")
    );
    assert_eq!(frame.headers.get_micro("Micro-Service"), Some("greeter"));
    assert_eq!(frame.headers.get_micro("Micro-Method"), None);
}
