//! Flushing: knowing when every message published before a point in time has been settled.
//!
//! Publishing happens in *rounds*. Each queued copy of a message (one per subscriber node) holds
//! a [`Ticket`] of the round it was published in, and the last copy to let go of a ticket closes
//! it. A flush starts a new round for later messages and waits until the tickets of every earlier
//! round are closed, so a steady stream of publishes cannot keep a flush waiting.
//!
//! A copy is let go of only once its fate is known: its node's task holds it until the reply to
//! it has been read and settled (delivered, refused, given up, or sent but unanswered, which
//! at-most-once never sends again). A queue group's message handed to another member is queued
//! there before the first member lets go of it, and a publisher waiting for room holds its copy,
//! so a ticket never closes early. Stopping the outbox drops every copy, and closes the tickets.

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::watch;

use super::lock;

/// Held by each queued copy of a message published in one round.
#[derive(Debug)]
pub(super) struct Ticket {
    // Dropped with the last copy: its receivers learn that the round is settled.
    _settled: watch::Sender<()>,
}

/// The rounds of one outbox: the open one, and the earlier ones still being delivered.
pub(super) struct Rounds {
    state: Mutex<State>,
}

struct State {
    open: Round,
    closed: Vec<Round>,
}

struct Round {
    ticket: Weak<Ticket>,
    settled: watch::Receiver<()>,
    // Holds the open round's ticket, so that it stays open between publishes.
    keep: Option<Arc<Ticket>>,
}

impl Round {
    fn new() -> Self {
        let (tx, settled) = watch::channel(());
        let ticket = Arc::new(Ticket { _settled: tx });
        Self {
            ticket: Arc::downgrade(&ticket),
            settled,
            keep: Some(ticket),
        }
    }
}

impl Default for Rounds {
    fn default() -> Self {
        Self {
            state: Mutex::new(State {
                open: Round::new(),
                closed: Vec::new(),
            }),
        }
    }
}

impl Rounds {
    /// The ticket for a message published now.
    pub(super) fn ticket(&self) -> Arc<Ticket> {
        let state = lock(&self.state);
        Arc::clone(
            state
                .open
                .keep
                .as_ref()
                .expect("the open round holds its ticket"),
        )
    }

    /// Waits until every message published before the call is settled. `Err` holds how many
    /// copies were still pending when `timeout` passed.
    pub(super) async fn flush(&self, timeout: Duration) -> Result<(), usize> {
        let (ticket, mut waiting) = {
            let mut state = lock(&self.state);
            let mut closing = std::mem::replace(&mut state.open, Round::new());
            let ticket = closing.keep.take();
            state.closed.retain(|round| round.ticket.strong_count() > 0);
            state.closed.push(closing);
            let waiting: Vec<(Weak<Ticket>, watch::Receiver<()>)> = state
                .closed
                .iter()
                .map(|round| (round.ticket.clone(), round.settled.clone()))
                .collect();
            (ticket, waiting)
        };
        // Let go of, so that a round with no message in flight is settled at once.
        drop(ticket);
        let settled = tokio::time::timeout(timeout, async {
            for (_, settled) in &mut waiting {
                // Never sent to: this completes (with an error) once the ticket is dropped.
                let _ = settled.changed().await;
            }
        })
        .await;
        match settled {
            Ok(()) => Ok(()),
            Err(_elapsed) => Err(waiting.iter().map(|(t, _)| t.strong_count()).sum()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_flush_waits_for_earlier_rounds_only() {
        let rounds = Rounds::default();
        assert_eq!(rounds.flush(Duration::ZERO).await, Ok(()));
        let (first, second) = (rounds.ticket(), rounds.ticket());
        assert_eq!(rounds.flush(Duration::from_secs(1)).await, Err(2));
        // A message published after that flush started is not waited for by it...
        let later = rounds.ticket();
        drop((first, second));
        let flushing = rounds.flush(Duration::from_secs(1));
        // ...but by a flush that started after it.
        assert_eq!(flushing.await, Err(1));
        drop(later);
        assert_eq!(rounds.flush(Duration::from_secs(1)).await, Ok(()));
    }

    #[tokio::test(start_paused = true)]
    async fn a_flush_ends_when_the_last_copy_is_let_go_of() {
        let rounds = Arc::new(Rounds::default());
        let copies = vec![rounds.ticket(), rounds.ticket(), rounds.ticket()];
        let flushing = tokio::spawn({
            let rounds = Arc::clone(&rounds);
            async move { rounds.flush(Duration::from_secs(60)).await }
        });
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert!(!flushing.is_finished());
        drop(copies);
        assert_eq!(flushing.await.unwrap(), Ok(()));
    }
}
