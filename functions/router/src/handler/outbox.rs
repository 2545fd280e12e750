//! The system events one invocation of the router produces, in emission order, with unique ids.
//! They are emitted together when the invocation is done.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use cloudevents::Event;
use eventferry_core::system::Stamp;

/// Per-invocation state: the request id for system event ids, and the system events to emit.
pub(crate) struct Outbox {
    request_id: String,
    seq: AtomicU64,
    events: Mutex<Vec<Event>>,
}

/// A place in emission order taken by [`Outbox::reserve`], to be filled by [`Outbox::fill`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot(usize);

impl Outbox {
    pub(crate) fn new(request_id: &str) -> Self {
        Outbox {
            request_id: request_id.to_owned(),
            seq: AtomicU64::new(0),
            events: Mutex::new(Vec::new()),
        }
    }

    /// The id (`<request id>-<sequence>`) and time of the next system event.
    pub(crate) fn stamp(&self) -> Stamp {
        Stamp {
            id: format!(
                "{}-{}",
                self.request_id,
                self.seq.fetch_add(1, Ordering::Relaxed)
            ),
            time: chrono::Utc::now(),
        }
    }

    /// Adds `event` at the end.
    pub(crate) fn push(&self, event: Event) {
        self.events.lock().expect("not poisoned").push(event);
    }

    /// Reserves the place of a system event that is still in use (by plugins), so it can be
    /// handed over afterwards without a clone and still keep its place in emission order.
    pub(crate) fn reserve(&self) -> Slot {
        Slot(self.events.lock().expect("not poisoned").len())
    }

    /// Puts `event` at the place `slot` reserved (or at the end, if events were taken
    /// meanwhile).
    pub(crate) fn fill(&self, slot: Slot, event: Event) {
        let mut events = self.events.lock().expect("not poisoned");
        let at = slot.0.min(events.len());
        events.insert(at, event);
    }

    /// Every system event, in emission order; the outbox is empty afterwards.
    pub(crate) fn take(&self) -> Vec<Event> {
        std::mem::take(&mut *self.events.lock().expect("not poisoned"))
    }
}
