//! [`Watchers`]: the open watches of one registry, and how events reach them.

use tokio::sync::mpsc;

use super::{Event, Watcher};

// Events a slow watcher may fall behind by before it is cut off.
const WATCH_BUFFER: usize = 256;

/// The watches a registry backend has handed out. Sending never blocks the registry: a watcher
/// that falls more than a buffer behind is closed instead, so its owner learns it missed events
/// (its [`Watcher::next`] ends) and can read the registry afresh, as the selector's cache does.
#[derive(Debug, Default)]
pub(crate) struct Watchers {
    open: Vec<Subscriber>,
}

#[derive(Debug)]
struct Subscriber {
    // None watches every service.
    service: Option<String>,
    tx: mpsc::Sender<Event>,
}

impl Watchers {
    /// A new watch of one service, or of all.
    pub(crate) fn subscribe(&mut self, service: Option<&str>) -> Watcher {
        let (tx, rx) = mpsc::channel(WATCH_BUFFER);
        self.open.push(Subscriber {
            service: service.map(str::to_string),
            tx,
        });
        Watcher::new(rx)
    }

    /// Whether any watch is still open (forgetting the closed ones).
    #[cfg(any(feature = "mdns", test))]
    pub(crate) fn any_open(&mut self) -> bool {
        self.open.retain(|w| !w.tx.is_closed());
        !self.open.is_empty()
    }

    /// Tells every watch of the event's service.
    pub(crate) fn send(&mut self, event: &Event) {
        self.open.retain(|w| {
            if w.service.as_deref().is_some_and(|name| name != event.service.name) {
                return !w.tx.is_closed();
            }
            match w.tx.try_send(event.clone()) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::warn!(service = %event.service.name, "a registry watcher fell behind; closing it so that it reads afresh");
                    false
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{Action, ServiceRecord};

    fn event(name: &str) -> Event {
        Event {
            action: Action::Create,
            service: ServiceRecord {
                name: name.into(),
                ..ServiceRecord::default()
            },
        }
    }

    #[tokio::test]
    async fn events_reach_the_watchers_of_their_service() {
        let mut watchers = Watchers::default();
        let mut greeter = watchers.subscribe(Some("greeter"));
        let mut all = watchers.subscribe(None);
        watchers.send(&event("other"));
        watchers.send(&event("greeter"));
        assert_eq!(greeter.next().await.unwrap().service.name, "greeter");
        assert_eq!(all.next().await.unwrap().service.name, "other");
        assert_eq!(all.next().await.unwrap().service.name, "greeter");
    }

    #[tokio::test]
    async fn a_watcher_that_falls_behind_is_closed_after_what_it_has() {
        let mut watchers = Watchers::default();
        let mut slow = watchers.subscribe(None);
        for _ in 0..=WATCH_BUFFER {
            watchers.send(&event("greeter"));
        }
        assert!(!watchers.any_open());
        for _ in 0..WATCH_BUFFER {
            assert!(slow.next().await.is_some());
        }
        assert!(slow.next().await.is_none(), "then it ends");
    }
}
