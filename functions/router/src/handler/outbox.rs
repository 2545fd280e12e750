//! The system events one invocation of the router produces, in emission order, with unique ids.
//! They are emitted together when the invocation is done.
//!
//! The outbox keeps only what the sink consumes ([`SinkNeeds`]): whole system events, their
//! [`Summary`]s, or nothing. A system event is built whole only when the sink takes whole events
//! or a plugin may take its type ([`Made`]); with neither, nothing is built, not even its id.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use cloudevents::Event;
use eventferry_core::system::{About, Stamp, Summary};

use crate::ports::{SinkNeeds, SystemSink};

/// Per-invocation state: the request id for system event ids, and what the sink will get.
pub(crate) struct Outbox {
    request_id: Arc<str>,
    seq: AtomicU64,
    needs: SinkNeeds,
    events: Mutex<Vec<Event>>,
    summaries: Mutex<Vec<Summary>>,
    /// The event the last summary was about.
    about: Mutex<Option<About>>,
}

/// A place in emission order taken by [`Outbox::reserve`], to be filled by [`Outbox::fill`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot(usize);

/// One system event as far as it was made: whole when a plugin may take it or the sink takes
/// whole events, summarised when the sink takes summaries.
#[derive(Default)]
pub(crate) struct Made {
    pub(crate) event: Option<Event>,
    pub(crate) summary: Option<Summary>,
}

impl Outbox {
    pub(crate) fn new(request_id: &str, needs: SinkNeeds) -> Self {
        // Room for one event's usual share (received, and an outcome per subscriber) in the list
        // the sink consumes.
        let room = |kind: SinkNeeds| if needs == kind { 16 } else { 0 };
        Outbox {
            request_id: request_id.into(),
            seq: AtomicU64::new(0),
            needs,
            events: Mutex::new(Vec::with_capacity(room(SinkNeeds::Events))),
            summaries: Mutex::new(Vec::with_capacity(room(SinkNeeds::Summaries))),
            about: Mutex::new(None),
        }
    }

    /// Makes one system event: whole (`build`) when `for_plugins` or the sink takes whole
    /// events, summarised (`summarize`) when the sink takes summaries; nothing at all otherwise.
    /// `about` is the event the system event is about: its summary shares [`About`] with the
    /// other summaries of the same event.
    pub(crate) fn make(
        &self,
        for_plugins: bool,
        about: &Event,
        build: impl FnOnce(&Stamp) -> Event,
        summarize: impl FnOnce(Stamp, &About) -> Summary,
    ) -> Made {
        self.make_with(
            for_plugins,
            build,
            Some(|stamp| summarize(stamp, &self.about(about))),
        )
    }

    /// [`Self::make`] for one of several system events about the same event: `about` gives its
    /// [`About`], looked up once for all of them and only if a summary is made.
    pub(crate) fn make_about<'a>(
        &self,
        for_plugins: bool,
        about: impl FnOnce() -> &'a About,
        build: impl FnOnce(&Stamp) -> Event,
        summarize: impl FnOnce(Stamp, &About) -> Summary,
    ) -> Made {
        self.make_with(for_plugins, build, Some(|stamp| summarize(stamp, about())))
    }

    /// [`Self::make`] for a system event that has no summary: `eventferry.function.invoking`,
    /// whose facts its outcome's summary repeats (summaries are emitted together, after the
    /// outcome, so a summary of it would add only its id).
    pub(crate) fn make_unsummarized(
        &self,
        for_plugins: bool,
        build: impl FnOnce(&Stamp) -> Event,
    ) -> Made {
        self.make_with(for_plugins, build, None::<fn(Stamp) -> Summary>)
    }

    fn make_with(
        &self,
        for_plugins: bool,
        build: impl FnOnce(&Stamp) -> Event,
        summarize: Option<impl FnOnce(Stamp) -> Summary>,
    ) -> Made {
        let whole = for_plugins || self.needs == SinkNeeds::Events;
        let summarize = summarize.filter(|_| self.needs == SinkNeeds::Summaries);
        if !whole && summarize.is_none() {
            return Made::default();
        }
        let stamp = self.stamp(whole);
        let event = whole.then(|| build(&stamp));
        Made {
            event,
            summary: summarize.map(|summarize| summarize(stamp)),
        }
    }

    /// The [`About`] of `event`: the last one made, when it is about the same event.
    pub(crate) fn about(&self, event: &Event) -> About {
        let mut last = self.about.lock().expect("not poisoned");
        match &*last {
            Some(about) if about.is(event) => about.clone(),
            _ => last.insert(About::new(event)).clone(),
        }
    }

    /// The id (`<request id>-<sequence>`) and time of the next system event. The clock is read
    /// only for a `whole` event: a [`Summary`] has no time.
    fn stamp(&self, whole: bool) -> Stamp {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let time = match whole {
            true => chrono::Utc::now(),
            false => chrono::DateTime::UNIX_EPOCH,
        };
        Stamp {
            request: Arc::clone(&self.request_id),
            seq,
            time,
        }
    }

    /// System events no plugin takes, made straight into the list the sink consumes: each of
    /// `items` whole (`build`) or summarised (`summarize`), as the sink takes them; when it takes
    /// nothing, `items` are only run through.
    pub(crate) fn push_made<T>(
        &self,
        items: impl Iterator<Item = T>,
        build: impl Fn(T, &Stamp) -> Event,
        summarize: impl Fn(T, Stamp) -> Summary,
    ) {
        match self.needs {
            SinkNeeds::Nothing => items.for_each(drop),
            SinkNeeds::Summaries => {
                let mut list = self.summaries.lock().expect("not poisoned");
                list.extend(items.map(|item| summarize(item, self.stamp(false))));
            }
            SinkNeeds::Events => {
                let mut list = self.events.lock().expect("not poisoned");
                list.extend(items.map(|item| build(item, &self.stamp(true))));
            }
        }
    }

    /// Adds every one of `made` at the end, in order, under one lock.
    pub(crate) fn push_all(&self, made: Vec<Made>) {
        fn extend<T>(list: &Mutex<Vec<T>>, items: impl Iterator<Item = T>) {
            list.lock().expect("not poisoned").extend(items);
        }
        match self.needs {
            SinkNeeds::Nothing => {}
            SinkNeeds::Summaries => {
                extend(&self.summaries, made.into_iter().flat_map(|m| m.summary))
            }
            SinkNeeds::Events => extend(&self.events, made.into_iter().flat_map(|m| m.event)),
        }
    }

    /// Reserves the place of a system event that is still in use (by plugins), so it can be
    /// handed over afterwards without a clone and still keep its place in emission order.
    pub(crate) fn reserve(&self) -> Slot {
        Slot(match self.needs {
            SinkNeeds::Nothing => 0,
            SinkNeeds::Summaries => self.summaries.lock().expect("not poisoned").len(),
            SinkNeeds::Events => self.events.lock().expect("not poisoned").len(),
        })
    }

    /// Puts what the sink consumes of `made` at the place `slot` reserved (or at the end, if
    /// events were taken meanwhile).
    pub(crate) fn fill(&self, slot: Slot, made: Made) {
        fn insert<T>(list: &Mutex<Vec<T>>, slot: Slot, item: Option<T>) {
            if let Some(item) = item {
                let mut list = list.lock().expect("not poisoned");
                let at = slot.0.min(list.len());
                list.insert(at, item);
            }
        }
        match self.needs {
            SinkNeeds::Nothing => {}
            SinkNeeds::Summaries => insert(&self.summaries, slot, made.summary),
            SinkNeeds::Events => insert(&self.events, slot, made.event),
        }
    }

    /// Emits everything to `sink` (errors are logged: system events never fail an event); the
    /// outbox is empty afterwards.
    pub(crate) async fn emit(&self, sink: &impl SystemSink) {
        let events = std::mem::take(&mut *self.events.lock().expect("not poisoned"));
        let summaries = std::mem::take(&mut *self.summaries.lock().expect("not poisoned"));
        let count = events.len() + summaries.len();
        // Boxed: a sink's future (PutEvents, HTTP) is large and deep.
        let emitted = if !events.is_empty() {
            Box::pin(sink.emit(&events)).await
        } else if !summaries.is_empty() {
            Box::pin(sink.emit_summaries(&summaries)).await
        } else {
            Ok(())
        };
        if let Err(error) = emitted {
            tracing::error!(%error, count, "could not emit system events");
        }
    }
}
