//! [`BodyBudget`]: a bound on the bytes a server holds for request bodies still arriving.
//!
//! Each connection's limits bound one body (4 MiB), but a few hundred clients that each send most
//! of a body and then stall would still hold gigabytes. Every connection of a listener draws on one
//! budget for the buffer space of bodies not yet complete; past it, a connection stops reading its
//! socket (TCP pushes back on that client) until others finish, and a body that cannot get room
//! within the body progress timeout is refused with 503. Complete bodies return their share.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::FrameError;

/// The budget is counted in KiB, so that a semaphore's `u32` permits cover any size.
const UNIT: usize = 1024;

/// Bytes of incomplete bodies a listener's connections may hold together. Cheap to clone: clones
/// share the budget.
#[derive(Clone, Debug)]
pub struct BodyBudget {
    units: Arc<Semaphore>,
    total: usize,
}

impl BodyBudget {
    /// A budget of `bytes` (rounded up to whole KiB).
    pub fn new(bytes: usize) -> Self {
        let total = bytes
            .div_ceil(UNIT)
            .clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize));
        Self {
            units: Arc::new(Semaphore::new(total)),
            total,
        }
    }

    /// Bytes not held by any body now.
    pub fn available(&self) -> usize {
        self.units.available_permits() * UNIT
    }
}

/// What one body being read holds of a budget; returned when dropped.
#[derive(Debug, Default)]
pub(super) struct Charge {
    held: Option<OwnedSemaphorePermit>,
}

impl Charge {
    /// Makes sure `bytes` are covered, waiting up to `wait` for other bodies to finish.
    pub(super) async fn cover(
        &mut self,
        budget: &BodyBudget,
        bytes: usize,
        wait: Duration,
    ) -> Result<(), FrameError> {
        let want = bytes.div_ceil(UNIT).min(budget.total);
        let have = self.held.as_ref().map_or(0, |p| p.num_permits());
        if want <= have {
            return Ok(());
        }
        let more = u32::try_from(want - have).unwrap_or(u32::MAX);
        let units = Arc::clone(&budget.units);
        let permit = match units.clone().try_acquire_many_owned(more) {
            Ok(permit) => permit,
            Err(_) => match tokio::time::timeout(wait, units.acquire_many_owned(more)).await {
                Ok(Ok(permit)) => permit,
                _ => return Err(FrameError::Busy),
            },
        };
        match &mut self.held {
            Some(held) => held.merge(permit),
            None => self.held = Some(permit),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_body_waits_for_room_then_gives_up() {
        let budget = BodyBudget::new(8 * 1024);
        let mut first = Charge::default();
        first
            .cover(&budget, 6 * 1024, Duration::from_secs(1))
            .await
            .unwrap();
        assert_eq!(budget.available(), 2 * 1024);
        let mut second = Charge::default();
        let err = second
            .cover(&budget, 4 * 1024, Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(matches!(err, FrameError::Busy));
        // Room returns when the first body completes, and the waiter gets it.
        let waiter = tokio::spawn({
            let budget = budget.clone();
            async move {
                let mut charge = Charge::default();
                charge
                    .cover(&budget, 4 * 1024, Duration::from_secs(5))
                    .await
                    .map(|()| charge)
            }
        });
        tokio::task::yield_now().await;
        drop(first);
        let held = waiter.await.unwrap().unwrap();
        assert_eq!(budget.available(), 4 * 1024);
        drop(held);
        assert_eq!(budget.available(), 8 * 1024);
    }
}
