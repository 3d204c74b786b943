//! The ceiling: a bare tokio TCP echo, each message behind a 4-byte big-endian length. No
//! headers, no routing, no framing beyond the length: what the loopback socket and tokio allow.
//! A connection's first byte picks its mode: `E` echoes frames, `S` answers one frame holding a
//! count with that many small frames.

use std::net::SocketAddr;

use anyhow::Context as _;
use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{TcpListener, TcpStream};

use super::{Caller, Held};
use crate::proto::NAME;
use crate::proto::micro::greeter::HelloRequest;
use crate::proto::micro::streaming::{EchoMessage, Tick};

const ECHO: u8 = b'E';
const STREAM: u8 = b'S';

/// Serves echo and stream connections until the process ends.
pub async fn serve(listener: TcpListener) -> anyhow::Result<()> {
    loop {
        let (socket, _) = listener.accept().await?;
        socket.set_nodelay(true)?;
        tokio::spawn(async move {
            // A client that goes away mid-frame just ends its connection.
            let _ = connection(socket).await;
        });
    }
}

async fn connection(socket: TcpStream) -> anyhow::Result<()> {
    let (read, write) = socket.into_split();
    let mut reader = BufReader::new(read);
    let mut writer = BufWriter::new(write);
    match reader.read_u8().await? {
        ECHO => loop {
            let frame = read_frame(&mut reader).await?;
            write_frame(&mut writer, &frame).await?;
            // Flush once the client has nothing more queued: one write per burst.
            if reader.buffer().is_empty() {
                writer.flush().await?;
            }
        },
        STREAM => {
            let count = u32::from_be_bytes(read_frame(&mut reader).await?[..4].try_into()?);
            for value in (1..=count).rev() {
                write_frame(&mut writer, &Tick { value }.encode_to_vec()).await?;
            }
            writer.flush().await?;
            Ok(())
        }
        mode => anyhow::bail!("unknown mode {mode}"),
    }
}

async fn read_frame(reader: &mut BufReader<impl AsyncReadExt + Unpin>) -> anyhow::Result<Vec<u8>> {
    let len = reader.read_u32().await? as usize;
    anyhow::ensure!(len <= 4 << 20, "frame of {len} bytes");
    let mut frame = vec![0; len];
    reader.read_exact(&mut frame).await?;
    Ok(frame)
}

async fn write_frame(
    writer: &mut (impl AsyncWriteExt + Unpin),
    frame: &[u8],
) -> anyhow::Result<()> {
    writer.write_u32(frame.len() as u32).await?;
    writer.write_all(frame).await?;
    Ok(())
}

async fn connect(addr: SocketAddr, mode: u8) -> anyhow::Result<TcpStream> {
    let mut socket = TcpStream::connect(addr).await.context("connecting")?;
    socket.set_nodelay(true)?;
    socket.write_u8(mode).await?;
    Ok(socket)
}

/// A worker's own connection.
pub struct RawCaller(BufReader<TcpStream>);

impl Caller for RawCaller {
    async fn call(&mut self) -> anyhow::Result<()> {
        let request = HelloRequest { name: NAME.into() }.encode_to_vec();
        // One write per request, as the other two systems do.
        let mut frame = Vec::with_capacity(4 + request.len());
        frame.extend_from_slice(&(request.len() as u32).to_be_bytes());
        frame.extend_from_slice(&request);
        self.0.get_mut().write_all(&frame).await?;
        let reply = HelloRequest::decode(read_frame(&mut self.0).await?.as_slice())?;
        anyhow::ensure!(reply.name == NAME, "wrong echo");
        Ok(())
    }
}

/// `workers` callers, a connection each.
pub async fn callers(addr: SocketAddr, workers: usize) -> anyhow::Result<Vec<RawCaller>> {
    let mut callers = Vec::with_capacity(workers);
    for _ in 0..workers {
        callers.push(RawCaller(BufReader::new(connect(addr, ECHO).await?)));
    }
    Ok(callers)
}

/// Receives `count` small frames; returns how many arrived.
pub async fn server_stream(addr: SocketAddr, count: u32) -> anyhow::Result<u64> {
    let mut socket = connect(addr, STREAM).await?;
    write_frame(&mut socket, &count.to_be_bytes()).await?;
    let mut reader = BufReader::with_capacity(64 << 10, socket);
    let mut received = 0;
    while received < u64::from(count) {
        Tick::decode(read_frame(&mut reader).await?.as_slice())?;
        received += 1;
    }
    Ok(received)
}

/// Sends `count` messages while reading their echoes; returns the echoes.
pub async fn bidi(addr: SocketAddr, count: u64) -> anyhow::Result<u64> {
    let (read, write) = connect(addr, ECHO).await?.into_split();
    let send = tokio::spawn(async move {
        let mut writer = BufWriter::with_capacity(64 << 10, write);
        for seq in 0..count {
            let text = String::from("echo");
            write_frame(&mut writer, &EchoMessage { text, seq }.encode_to_vec()).await?;
        }
        writer.flush().await?;
        anyhow::Ok(writer)
    });
    let mut reader = BufReader::with_capacity(64 << 10, read);
    let mut received = 0;
    while received < count {
        EchoMessage::decode(read_frame(&mut reader).await?.as_slice())?;
        received += 1;
    }
    send.await??;
    Ok(received)
}

/// Opens `count` connections, each of which has echoed one frame.
pub async fn idle(addr: SocketAddr, count: usize) -> anyhow::Result<Held> {
    let opens = (0..count).map(|_| {
        tokio::spawn(async move {
            let mut caller = RawCaller(BufReader::new(connect(addr, ECHO).await?));
            caller.call().await?;
            anyhow::Ok(caller)
        })
    });
    let mut held = Vec::with_capacity(count);
    for open in opens.collect::<Vec<_>>() {
        held.push(open.await??);
    }
    Ok(Box::new(held))
}
