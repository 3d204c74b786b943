//! The running part of an [`MdnsRegistry`](super::MdnsRegistry): the sockets, one receive task
//! per socket, the zone it answers from, and the watch cache.
//!
//! Tasks hold the engine only weakly, and the engine aborts them when dropped, so dropping the
//! last registry clone closes the sockets.

use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use hickory_proto::op::{Header, Message, MessageType, OpCode, Query};
use hickory_proto::rr::Record;
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, DecodeError};
use tokio::sync::{Notify, broadcast};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::MdnsOptions;
use super::entry;
use super::interface;
use super::name::{self, Names};
use super::responder;
use super::socket::{Link, MAX_PACKET};
use super::watch::Cache;
use super::zone::Zone;
use crate::{LocalError, LocalErrorKind};

// Responses a lookup may fall behind by before it misses some.
const RESPONSE_BUFFER: usize = 1024;
// How long the cache task sleeps when nothing is due: it is woken on every change anyway.
const IDLE: Duration = Duration::from_secs(3600);

/// Sockets, tasks and shared state.
#[derive(Debug)]
pub(super) struct Engine {
    pub names: Names,
    pub query_timeout: Duration,
    pub links: Vec<Arc<Link>>,
    state: Mutex<State>,
    // Every response heard, for lookups in progress.
    pub responses: broadcast::Sender<Arc<Message>>,
    // Wakes the cache task when the cache changed.
    wake: Arc<Notify>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

/// What the engine's tasks and the registry share.
#[derive(Debug)]
pub(super) struct State {
    pub zone: Zone,
    pub cache: Cache,
}

impl Engine {
    /// Opens a socket on every chosen interface and starts receiving; needs the tokio runtime.
    pub(super) fn start(options: &MdnsOptions) -> Result<Arc<Self>, LocalError> {
        let interfaces = interface::choose(&options.interfaces)?;
        let links = interfaces
            .iter()
            .map(|i| Link::open(i).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        let names = Names::new(&options.domain);
        let engine = Arc::new(Self {
            names: names.clone(),
            query_timeout: options.query_timeout,
            links,
            state: Mutex::new(State {
                zone: Zone::new(names, name::host()),
                cache: Cache::default(),
            }),
            responses: broadcast::channel(RESPONSE_BUFFER).0,
            wake: Arc::new(Notify::new()),
            tasks: Mutex::new(Vec::new()),
        });
        let mut tasks = Vec::new();
        for link in &engine.links {
            tasks.push(tokio::spawn(receive(
                Arc::downgrade(&engine),
                Arc::clone(link),
            )));
        }
        tasks.push(tokio::spawn(maintain(
            Arc::downgrade(&engine),
            Arc::clone(&engine.wake),
        )));
        *engine.tasks.lock().unwrap_or_else(|e| e.into_inner()) = tasks;
        tracing::debug!(interfaces = ?interfaces, "mdns: started");
        Ok(engine)
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        // Every update leaves the state consistent, so a panic elsewhere cannot poison it harmfully.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends each group of records as one unsolicited response, on every interface.
    pub(super) async fn announce(&self, groups: Vec<Vec<Record>>) -> Result<(), LocalError> {
        for group in groups {
            let mut message = Message::new(0, MessageType::Response, OpCode::Query);
            message.metadata.authoritative = true;
            message.add_answers(group);
            self.multicast(&message).await?;
        }
        Ok(())
    }

    /// Asks `queries` in one message, on every interface; answers arrive on `responses`.
    pub(super) async fn query(&self, queries: Vec<Query>) -> Result<(), LocalError> {
        let mut message = Message::new(0, MessageType::Query, OpCode::Query);
        message.add_queries(queries);
        self.multicast(&message).await
    }

    /// Tells the cache task to look at the cache again.
    pub(super) fn wake(&self) {
        self.wake.notify_one();
    }

    // Fails only if no interface took the packet: one bad interface must not stop the others.
    async fn multicast(&self, message: &Message) -> Result<(), LocalError> {
        let packet = encode(message)?;
        let mut last_error = None;
        let mut sent = false;
        for link in &self.links {
            match link.multicast(&packet).await {
                Ok(()) => sent = true,
                Err(err) => {
                    tracing::warn!(interface = %link.interface.name, error = %err, "mdns: send failed");
                    last_error = Some((link.interface.name.clone(), err));
                }
            }
        }
        match (sent, last_error) {
            (false, Some((interface, err))) => Err(LocalError::new(
                LocalErrorKind::Registry,
                format!("mdns: cannot multicast on interface {interface}"),
            )
            .with_source(err)),
            _ => Ok(()),
        }
    }

    fn on_response(&self, message: Message) {
        let message = Arc::new(message);
        // No lookup in progress is normal.
        let _ = self.responses.send(Arc::clone(&message));
        let mut state = self.lock();
        if state.cache.active() {
            let found = entry::nodes(&self.names, &message, None);
            if !found.is_empty() {
                state.cache.observe(found, Instant::now());
                drop(state);
                self.wake();
            }
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        for task in self
            .tasks
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            task.abort();
        }
    }
}

/// Encodes a message, refusing what cannot fit one mDNS packet.
pub(super) fn encode(message: &Message) -> Result<Vec<u8>, LocalError> {
    let packet = message.to_vec().map_err(|err| {
        LocalError::new(
            LocalErrorKind::Registry,
            "mdns: cannot encode a DNS message",
        )
        .with_source(err)
    })?;
    if packet.len() > MAX_PACKET {
        return Err(LocalError::new(
            LocalErrorKind::Registry,
            format!(
                "mdns: a {}-byte message does not fit an mDNS packet ({MAX_PACKET} bytes); too many endpoints?",
                packet.len()
            ),
        ));
    }
    Ok(packet)
}

/// Decodes a message leniently: hickory's `Message::from_vec` rejects a whole message over one
/// record with empty data, and go-micro's listing entry sends exactly that (a TXT with no strings).
/// So the sections are read record by record, with hickory's own decoders.
pub(super) fn decode(packet: &[u8]) -> Result<Message, DecodeError> {
    let mut decoder = BinDecoder::new(packet);
    let header = Header::read(&mut decoder)?;
    let mut message = Message::new(
        header.metadata.id,
        header.metadata.message_type,
        header.metadata.op_code,
    );
    message.metadata = header.metadata;
    for _ in 0..header.counts.queries {
        message.queries.push(Query::read(&mut decoder)?);
    }
    for _ in 0..header.counts.answers {
        message.answers.push(Record::read(&mut decoder)?);
    }
    for _ in 0..header.counts.authorities {
        message.authorities.push(Record::read(&mut decoder)?);
    }
    for _ in 0..header.counts.additionals {
        message.additionals.push(Record::read(&mut decoder)?);
    }
    Ok(message)
}

async fn receive(engine: Weak<Engine>, link: Arc<Link>) {
    let mut buf = vec![0u8; MAX_PACKET];
    loop {
        let (len, from) = match link.socket.recv_from(&mut buf).await {
            Ok(received) => received,
            Err(err) => {
                // e.g. an ICMP error left by a unicast reply; the socket itself is still fine.
                tracing::debug!(interface = %link.interface.name, error = %err, "mdns: receive failed");
                // A pause, so that an error that repeats does not spin the worker.
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let Some(engine) = engine.upgrade() else {
            return;
        };
        let message = match decode(&buf[..len]) {
            Ok(message) => message,
            Err(err) => {
                tracing::debug!(%from, error = %err, "mdns: ignoring an undecodable packet");
                continue;
            }
        };
        match message.metadata.message_type {
            MessageType::Query => responder::respond(&engine, &link, &message, from).await,
            MessageType::Response => engine.on_response(message),
        }
    }
}

// Expires cached nodes and asks for them again before they do (RFC 6762 §5.2).
async fn maintain(engine: Weak<Engine>, wake: Arc<Notify>) {
    loop {
        let next = {
            let Some(engine) = engine.upgrade() else {
                return;
            };
            let now = Instant::now();
            let (refresh, next) = engine.lock().cache.tick(now);
            let queries: Vec<Query> = refresh
                .iter()
                .filter_map(|(service, id)| engine.names.instance(service, id).ok())
                .map(|name| Query::query(name, hickory_proto::rr::RecordType::ANY))
                .collect();
            if !queries.is_empty()
                && let Err(err) = engine.query(queries).await
            {
                tracing::warn!(error = %err, "mdns: cannot refresh cached nodes");
            }
            next.unwrap_or(now + IDLE)
        };
        tokio::select! {
            () = tokio::time::sleep_until(next) => {}
            () = wake.notified() => {}
        }
    }
}
