//! Delivering one event: `eventferry.event.received` and its plugins (sync plugins gate the
//! event), the matching subscriptions, then what happens to failures (retry message,
//! dead-letter message, redelivery or drop) and the outcome system events.
//!
//! A system event is built whole only for a consumer: a plugin of its type, or a sink that
//! takes whole events (see [`Outbox::make`]).
//!
//! Every input the router takes can be delivered again (an SQS record left in the batch, a
//! direct invocation answered with an error), as `eventferry_core`'s retry decisions assume:
//! an event no subscriber took is redelivered, not dropped.

use std::sync::Arc;

use cloudevents::Event;
use futures::future::{join, join_all};

use eventferry_aws::lambda::Invoker;
use eventferry_aws::AwsError;
use eventferry_core::event_view::EventView;
use eventferry_core::invocation::{event_label, target_name, InvocationResult};
use eventferry_core::retry::{
    after_write_failure, decide, Decision, Disposition, PairAction, RetryMessage,
};
use eventferry_core::subscription::{Mode, Subscription};
use eventferry_core::system::{
    About, Stamp, Summary, EVENT_BLOCKED, EVENT_RECEIVED, FUNCTION_INVOCATION_FAILED,
    FUNCTION_INVOKED, FUNCTION_INVOKING,
};

use super::call::Payloads;
use super::outbox::{Made, Outbox};
use super::report::EventReport;
use super::Handler;
use crate::ports::{HttpPoster, QueueWriter, SystemSink};

/// What the sync plugins on `eventferry.event.received` decided.
enum Gate {
    /// Every sync plugin succeeded (or there are none): deliver.
    Open,
    /// A sync plugin answered with a failure: the event is blocked.
    Blocked { plugin: String, error: String },
    /// A sync plugin could not be reached: the event must be delivered again.
    Unreachable,
}

/// Why a retry or dead-letter message was not written.
#[derive(Debug, thiserror::Error)]
enum WriteError {
    #[error(transparent)]
    Queue(#[from] AwsError),
    #[error("no dead-letter queue")]
    NoDeadLetterQueue,
}

impl<I: Invoker, H: HttpPoster, Q: QueueWriter, S: SystemSink> Handler<I, H, Q, S> {
    /// A retry message: invoke its one subscription. `extra` is how often the message itself
    /// was delivered before.
    pub(crate) async fn retry(
        &self,
        message: RetryMessage,
        extra: u32,
        outbox: &Outbox,
    ) -> Option<EventReport> {
        let Some(sub) = self.routes.get(&message.subscription) else {
            tracing::warn!(
                subscription = %message.subscription,
                event = %event_label(&message.event),
                "dropping a retry for a subscription that no longer exists"
            );
            return None;
        };
        let attempt = message.attempt.saturating_add(extra);
        Some(
            self.deliver(message.event, "retry", vec![sub], attempt, outbox)
                .await,
        )
    }

    /// A new event: `eventferry.event.received` and its plugins, then delivery.
    pub(crate) async fn process(
        &self,
        event: Event,
        input: &'static str,
        attempt: u32,
        outbox: &Outbox,
    ) -> EventReport {
        let received = outbox.make(
            self.plugins_may_take(EVENT_RECEIVED),
            &event,
            |stamp| self.settings.system.received(stamp, &event, input),
            |stamp, about| Summary::received(stamp, about, input),
        );
        let slot = outbox.reserve();
        let plugins = self.plugins_for(received.event.as_ref());
        let report = match received.event.as_ref().filter(|_| !plugins.is_empty()) {
            // Boxed: the plugins' path is the uncommon one, and inline its future would make
            // every event's future (moved as it is built and joined) larger.
            Some(system) => {
                Box::pin(self.with_plugins(plugins, system, event, input, attempt, outbox)).await
            }
            None => self.deliver_new(event, input, attempt, outbox).await,
        };
        outbox.fill(slot, received);
        report
    }

    /// [`Self::process`] once plugins take `received`: its sync plugins gate the event, its
    /// async plugins run alongside and never block or fail it.
    async fn with_plugins(
        &self,
        plugins: Vec<&Subscription>,
        received: &Event,
        event: Event,
        input: &'static str,
        attempt: u32,
        outbox: &Outbox,
    ) -> EventReport {
        let (sync, background): (Vec<&Subscription>, Vec<&Subscription>) =
            plugins.into_iter().partition(|p| p.mode == Mode::Sync);
        let gated = async {
            let (gate, plugin_results) = self.gate(&sync, received).await;
            let mut report = self.pass_gate(gate, event, input, attempt, outbox).await;
            report.plugin_results.splice(0..0, plugin_results);
            report
        };
        let background = async {
            if background.is_empty() {
                return Vec::new();
            }
            let payloads = Payloads::new(received);
            join_all(background.iter().map(|p| self.call(p, &payloads, 1))).await
        };
        let (mut report, background) = join(gated, background).await;
        report
            .plugin_results
            .extend(background.into_iter().map(|c| c.result));
        report
    }

    /// Calls the sync plugins of `received`; the first one that answered with a failure blocks
    /// the event.
    async fn gate(
        &self,
        sync: &[&Subscription],
        received: &Event,
    ) -> (Gate, Vec<InvocationResult>) {
        if sync.is_empty() {
            return (Gate::Open, Vec::new());
        }
        let payloads = Payloads::new(received);
        let calls = join_all(sync.iter().map(|p| self.call(p, &payloads, 1))).await;
        let mut gate = Gate::Open;
        let mut results = Vec::with_capacity(calls.len());
        for call in calls {
            if call.result.failed() {
                match gate {
                    Gate::Blocked { .. } => {}
                    _ if call.answered => {
                        gate = Gate::Blocked {
                            plugin: call.result.subscription.to_string(),
                            error: call.result.error.clone().unwrap_or_default(),
                        }
                    }
                    _ => gate = Gate::Unreachable,
                }
            }
            results.push(call.result);
        }
        (gate, results)
    }

    /// What follows the gate: `eventferry.event.blocked`, redelivery, or delivery to the
    /// matching subscriptions.
    async fn pass_gate(
        &self,
        gate: Gate,
        event: Event,
        input: &'static str,
        attempt: u32,
        outbox: &Outbox,
    ) -> EventReport {
        match gate {
            Gate::Blocked { plugin, error } => {
                tracing::info!(event = %event_label(&event), %plugin, %error, "event blocked by a sync plugin");
                let blocked = outbox.make(
                    self.plugins_may_take(EVENT_BLOCKED),
                    &event,
                    |stamp| {
                        self.settings
                            .system
                            .blocked(stamp, &event, input, &plugin, &error)
                    },
                    |stamp, about| Summary::blocked(stamp, about, input, &plugin, &error),
                );
                let slot = outbox.reserve();
                let plugin_results = self.notify_plugins(blocked.event.as_ref()).await;
                outbox.fill(slot, blocked);
                let mut report =
                    EventReport::undelivered(event, input, Disposition::Ack, Some((plugin, error)));
                report.plugin_results = plugin_results;
                report
            }
            Gate::Unreachable => {
                tracing::warn!(event = %event_label(&event), "a sync plugin could not be reached: the event will be delivered again");
                EventReport::undelivered(event, input, Disposition::Redeliver, None)
            }
            Gate::Open => self.deliver_new(event, input, attempt, outbox).await,
        }
    }

    /// Delivers a new event to the subscriptions it matches.
    async fn deliver_new(
        &self,
        event: Event,
        input: &'static str,
        attempt: u32,
        outbox: &Outbox,
    ) -> EventReport {
        let subs = self.routes.route(&EventView::new(&event));
        if subs.is_empty() {
            tracing::info!(event = %event_label(&event), input, "no subscription matched: event dropped");
        }
        self.deliver(event, input, subs, attempt, outbox).await
    }

    /// Invokes `subs` for `event`, concurrently within the concurrency bound, then decides and
    /// carries out what happens to failures.
    async fn deliver(
        &self,
        event: Event,
        input: &'static str,
        subs: Vec<&Subscription>,
        attempt: u32,
        outbox: &Outbox,
    ) -> EventReport {
        let payloads = Payloads::new(&event);
        let (results, mut plugin_results) = if self.whole_system_events {
            let calls = join_all(
                subs.iter()
                    .map(|sub| self.invoke_subscriber(sub, &payloads, attempt, outbox)),
            )
            .await;
            let mut plugin_results = Vec::new();
            let mut results = Vec::with_capacity(calls.len());
            for (result, plugins) in calls {
                results.push(result);
                plugin_results.extend(plugins);
            }
            (results, plugin_results)
        } else {
            // Nothing takes `eventferry.function.invoking` (no plugin, and the sink takes no
            // whole system events): the targets are called directly, each a smaller future.
            let calls = join_all(subs.iter().map(|sub| self.call(sub, &payloads, attempt))).await;
            (calls.into_iter().map(|c| c.result).collect(), Vec::new())
        };
        let decision = decide(&results, &self.settings.retry);
        let (failed, disposition) = match decision.failed.is_empty() {
            true => (Vec::new(), decision.disposition),
            // Boxed: failures are the uncommon path, and a queue's future is large.
            false => Box::pin(self.handle_failures(decision, &results, &event)).await,
        };
        plugin_results.extend(self.outcomes(&event, &results, &failed, outbox).await);
        EventReport {
            event,
            input,
            results,
            plugin_results,
            failed,
            disposition,
            blocked: None,
        }
    }

    /// Carries out `decision` for each failed subscriber: writes its retry or dead-letter
    /// message; a message that cannot be written turns into redelivery or a drop.
    async fn handle_failures(
        &self,
        decision: Decision,
        results: &[InvocationResult],
        event: &Event,
    ) -> (Vec<(Arc<str>, PairAction)>, Disposition) {
        let mut disposition = decision.disposition;
        let mut failed = Vec::with_capacity(decision.failed.len());
        for (name, action) in decision.failed {
            let result = results
                .iter()
                .find(|r| r.subscription == name)
                .expect("decisions name failed results");
            let action = match self.write_for(&action, result, event).await {
                Ok(()) => action,
                Err(error) => {
                    tracing::error!(subscription = %name, event = %event_label(event), %error, "could not write a retry message");
                    let (fallback, action) = after_write_failure(results, &error.to_string());
                    if fallback == Disposition::Redeliver {
                        disposition = Disposition::Redeliver;
                    }
                    action
                }
            };
            if let PairAction::Drop { reason } = &action {
                tracing::error!(subscription = %name, event = %event_label(event), %reason, "a failed delivery is given up");
            }
            failed.push((name, action));
        }
        (failed, disposition)
    }

    /// The message `action` needs: a retry message (with its delay) or a dead-letter message.
    async fn write_for(
        &self,
        action: &PairAction,
        result: &InvocationResult,
        event: &Event,
    ) -> Result<(), WriteError> {
        match action {
            PairAction::Retry {
                attempt,
                delay_secs,
            } => {
                let url = self
                    .settings
                    .retry_queue_url
                    .as_deref()
                    .expect("retry queue configured");
                self.write(url, *attempt, result, event, *delay_secs).await
            }
            PairAction::DeadLetter => match self.settings.dlq_url.as_deref() {
                Some(url) => self.write(url, result.attempt, result, event, 0).await,
                None => Err(WriteError::NoDeadLetterQueue),
            },
            PairAction::Redeliver | PairAction::Drop { .. } => Ok(()),
        }
    }

    async fn write(
        &self,
        url: &str,
        attempt: u32,
        result: &InvocationResult,
        event: &Event,
        delay_secs: u32,
    ) -> Result<(), WriteError> {
        let message = RetryMessage {
            subscription: result.subscription.to_string(),
            attempt,
            error: result.error.clone().unwrap_or_default(),
            event: event.clone(),
        };
        self.ports
            .queue
            .send(url, message.to_body(), delay_secs)
            .await?;
        Ok(())
    }

    /// The outcome system events (with what happens next) and their plugins' results.
    async fn outcomes(
        &self,
        event: &Event,
        results: &[InvocationResult],
        failed: &[(Arc<str>, PairAction)],
        outbox: &Outbox,
    ) -> Vec<InvocationResult> {
        // Every outcome is about `event`: its summaries' `About` is looked up once.
        let about = std::cell::OnceCell::new();
        let items = results.iter().map(|result| {
            self.receiver.receive(event, result);
            let next = failed
                .iter()
                .find(|(n, _)| **n == *result.subscription)
                .map(|(_, a)| a.next_step());
            (result, next)
        });
        let build = |(result, next): (&InvocationResult, Option<String>), stamp: &Stamp| {
            self.settings
                .system
                .outcome(stamp, event, result, next.as_deref())
        };
        let summarize =
            |(result, next): (&InvocationResult, Option<String>), stamp, about: &About| {
                Summary::outcome(stamp, about, result, next.as_deref())
            };
        if self.plugins.subscriptions().is_empty() {
            // Only the sink takes them: each is made straight into its list (with no consumer,
            // nothing is made; the receiver still gets every result).
            outbox.push_made(items, build, |item, stamp| {
                summarize(item, stamp, about.get_or_init(|| outbox.about(event)))
            });
            return Vec::new();
        }
        let outcomes: Vec<Made> = items
            .map(|item| {
                let ty = match item.0.error {
                    None => FUNCTION_INVOKED,
                    Some(_) => FUNCTION_INVOCATION_FAILED,
                };
                outbox.make_about(
                    self.plugins_may_take(ty),
                    || about.get_or_init(|| outbox.about(event)),
                    |stamp| build(item.clone(), stamp),
                    |stamp, about| summarize(item.clone(), stamp, about),
                )
            })
            .collect();
        let plugin_results = join_all(
            outcomes
                .iter()
                .map(|s| self.notify_plugins(s.event.as_ref())),
        )
        .await
        .into_iter()
        .flatten()
        .collect();
        outbox.push_all(outcomes);
        plugin_results
    }

    /// `eventferry.function.invoking` (its sync plugins awaited first), then the invocation.
    async fn invoke_subscriber(
        &self,
        sub: &Subscription,
        payloads: &Payloads<'_>,
        attempt: u32,
        outbox: &Outbox,
    ) -> (InvocationResult, Vec<InvocationResult>) {
        let event = payloads.event();
        let invoking =
            outbox.make_unsummarized(self.plugins_may_take(FUNCTION_INVOKING), |stamp| {
                let target = target_name(&sub.target);
                self.settings
                    .system
                    .invoking(stamp, event, &sub.name, &target, attempt)
            });
        let slot = outbox.reserve();
        let plugins = self.notify_plugins(invoking.event.as_ref()).await;
        outbox.fill(slot, invoking);
        let call = self.call(sub, payloads, attempt).await;
        (call.result, plugins)
    }

    /// Whether a plugin may take system events of type `ty`: one lists the type, or lists no
    /// types. Without plugins (the common case) nothing is built for them.
    fn plugins_may_take(&self, ty: &str) -> bool {
        self.plugins.subscriptions().iter().any(|p| {
            p.types
                .as_ref()
                .is_none_or(|types| types.iter().any(|t| t == ty))
        })
    }

    /// The plugins subscribed to system event `system` (none when it was not built).
    fn plugins_for(&self, system: Option<&Event>) -> Vec<&Subscription> {
        match system {
            Some(system) if !self.plugins.subscriptions().is_empty() => {
                self.plugins.route(&EventView::new(system))
            }
            _ => Vec::new(),
        }
    }

    /// Calls every plugin subscribed to system event `system`; their failures are only recorded.
    async fn notify_plugins(&self, system: Option<&Event>) -> Vec<InvocationResult> {
        let plugins = self.plugins_for(system);
        let Some(system) = system.filter(|_| !plugins.is_empty()) else {
            return Vec::new();
        };
        let payloads = Payloads::new(system);
        let calls = join_all(plugins.iter().map(|p| self.call(p, &payloads, 1))).await;
        calls
            .into_iter()
            .map(|c| {
                self.receiver.receive(system, &c.result);
                c.result
            })
            .collect()
    }
}
