//! The handler: decode the input, let crates/core decide, call the ports.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use cloudevents::{AttributesReader, Event};
use futures::future::{join, join_all};
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsMessage};
use eventferry_aws::lambda::{InvocationMode, InvokeOutcome, Invoker};
use eventferry_core::binding::{decode_request, encode_binary, encode_structured};
use eventferry_core::mapping::{self, from_eventbridge, parse_structured_value};
use eventferry_core::route::{
    after_write_failure, decide, event_label, function_payload, target_name, Disposition,
    EventView, InvocationResult, PairAction, RetryMessage, Router, Status,
};
use eventferry_core::subscription::{Config, Delivery, Mode, Subscription, Target};
use eventferry_core::system::Stamp;

use crate::config::Settings;
use crate::input::{classify, HttpRequest, Input};
use crate::ports::{HttpPoster, QueueWriter, ResponseReceiver, SystemSink};

/// The router's I/O.
pub struct Ports<I, H, Q, S> {
    pub invoker: I,
    pub http: H,
    pub queue: Q,
    pub sink: S,
}

/// Why an invocation of the router fails (the caller then delivers it again, or gives up).
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The payload is not something the router accepts.
    #[error("{0}")]
    Input(String),
    /// No subscriber succeeded: the invoker should deliver the event again.
    #[error("event {event} must be delivered again: {reason}")]
    Redeliver { event: String, reason: String },
}

/// What happened to one event.
#[derive(Debug, Clone)]
pub struct EventReport {
    pub event: Event,
    /// Where it came from: `sqs`, `eventbridge`, `cloudevent`, `http` or `retry`.
    pub input: &'static str,
    /// The subscriptions it matched (for a retry: the one subscription).
    pub matched: Vec<String>,
    /// Every subscriber invocation, in `matched` order.
    pub results: Vec<InvocationResult>,
    /// Every plugin invocation.
    pub plugin_results: Vec<InvocationResult>,
    /// What happens to each failed subscriber.
    pub failed: Vec<(String, PairAction)>,
    pub disposition: Disposition,
    /// The sync plugin that blocked the event, and why.
    pub blocked: Option<(String, String)>,
}

impl EventReport {
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "event": {"id": self.event.id(), "type": self.event.ty(), "source": self.event.source().to_string()},
            "input": self.input,
            "matched": self.matched,
            "results": self.results.iter().map(InvocationResult::to_json).collect::<Vec<_>>(),
            "disposition": match self.disposition { Disposition::Ack => "ack", Disposition::Redeliver => "redeliver" },
        });
        if !self.failed.is_empty() {
            v["failed"] = self
                .failed
                .iter()
                .map(|(s, a)| json!({"subscription": s, "next": a.describe()}))
                .collect();
        }
        if !self.plugin_results.is_empty() {
            v["plugins"] = self
                .plugin_results
                .iter()
                .map(InvocationResult::to_json)
                .collect();
        }
        if let Some((plugin, error)) = &self.blocked {
            v["blocked"] = json!({"plugin": plugin, "error": error});
        }
        v
    }

    fn redeliver_reason(&self) -> String {
        if self.results.is_empty() {
            return "a sync plugin on eventferry.event.received could not be reached".into();
        }
        let errors: Vec<String> = self
            .results
            .iter()
            .filter_map(|r| r.error.as_ref().map(|e| format!("{}: {e}", r.subscription)))
            .collect();
        format!("no subscriber succeeded ({})", errors.join("; "))
    }
}

/// Per-invocation state: the request id for system event ids, and the system events to emit.
struct Ctx {
    request_id: String,
    seq: AtomicU64,
    system: Mutex<Vec<Event>>,
}

impl Ctx {
    fn new(request_id: &str) -> Self {
        Ctx {
            request_id: request_id.to_owned(),
            seq: AtomicU64::new(0),
            system: Mutex::new(Vec::new()),
        }
    }

    fn stamp(&self) -> Stamp {
        Stamp {
            id: format!(
                "{}-{}",
                self.request_id,
                self.seq.fetch_add(1, Ordering::Relaxed)
            ),
            time: chrono::Utc::now(),
        }
    }

    fn push(&self, event: Event) {
        self.system.lock().expect("not poisoned").push(event);
    }

    /// Where a system event that is still in use (by plugins) will go, so it can be handed over
    /// afterwards without a clone and still keep its place in emission order.
    fn place(&self) -> usize {
        self.system.lock().expect("not poisoned").len()
    }

    /// Puts `event` at the place taken by [`Ctx::place`] (or at the end, if events were taken
    /// meanwhile).
    fn put(&self, at: usize, event: Event) {
        let mut system = self.system.lock().expect("not poisoned");
        let at = at.min(system.len());
        system.insert(at, event);
    }

    fn take(&self) -> Vec<Event> {
        std::mem::take(&mut *self.system.lock().expect("not poisoned"))
    }
}

/// One target call: the result, and whether the target answered at all.
struct Call {
    result: InvocationResult,
    answered: bool,
}

/// The router.
pub struct Handler<I, H, Q, S> {
    routes: Router,
    plugins: Router,
    settings: Settings,
    ports: Ports<I, H, Q, S>,
    receiver: Box<dyn ResponseReceiver>,
    permits: Semaphore,
}

impl<I: Invoker, H: HttpPoster, Q: QueueWriter, S: SystemSink> Handler<I, H, Q, S> {
    pub fn new(
        config: Config,
        settings: Settings,
        ports: Ports<I, H, Q, S>,
        receiver: Box<dyn ResponseReceiver>,
    ) -> Self {
        let permits = Semaphore::new(settings.max_concurrency.max(1));
        Handler {
            routes: Router::new(config.subscriptions),
            plugins: Router::new(config.plugins),
            settings,
            ports,
            receiver,
            permits,
        }
    }

    pub fn ports(&self) -> &Ports<I, H, Q, S> {
        &self.ports
    }

    /// Handles one invoke payload; `request_id` makes system event ids unique.
    pub async fn handle(&self, payload: Value, request_id: &str) -> Result<Value, HandlerError> {
        let ctx = Ctx::new(request_id);
        let outcome = Box::pin(self.dispatch(payload, &ctx)).await;
        let system = ctx.take();
        if !system.is_empty() {
            if let Err(error) = self.ports.sink.emit(&system).await {
                tracing::error!(%error, count = system.len(), "could not emit system events");
            }
        }
        outcome
    }

    async fn dispatch(&self, payload: Value, ctx: &Ctx) -> Result<Value, HandlerError> {
        match classify(payload).map_err(|e| HandlerError::Input(e.0))? {
            Input::Sqs(batch) => {
                let reports = join_all(batch.records.iter().map(|r| self.sqs_record(r, ctx))).await;
                let mut response = SqsBatchResponse::default();
                for (record, report) in batch.records.iter().zip(reports) {
                    if report == Some(Disposition::Redeliver) {
                        let mut failure = BatchItemFailure::default();
                        failure.item_identifier = record.message_id.clone().unwrap_or_default();
                        response.batch_item_failures.push(failure);
                    }
                }
                Ok(serde_json::to_value(response).expect("a batch response serializes"))
            }
            Input::Http(request) => Ok(self.http(request, ctx).await),
            Input::Retry(value) => {
                let message = match RetryMessage::parse(&value).expect("classified as a retry") {
                    Ok(m) => m,
                    Err(e) => return Err(HandlerError::Input(e.to_string())),
                };
                let report = self.retry(message, 0, true, ctx).await;
                finish_direct(report)
            }
            Input::CloudEvent(value) => {
                let event = parse_structured_value(&value)
                    .map_err(|e| HandlerError::Input(e.to_string()))?;
                finish_direct(Some(self.process(event, "cloudevent", 1, true, ctx).await))
            }
            Input::EventBridge(value) => {
                let event = from_eventbridge(value, &self.settings.mapping)
                    .map_err(|e| HandlerError::Input(e.to_string()))?;
                finish_direct(Some(self.process(event, "eventbridge", 1, true, ctx).await))
            }
        }
    }

    /// One SQS record; `None` when it was acknowledged without an event (logged).
    async fn sqs_record(&self, record: &SqsMessage, ctx: &Ctx) -> Option<Disposition> {
        let body = record.body.as_deref().unwrap_or_default();
        let message_id = record.message_id.as_deref().unwrap_or_default();
        let receive_count: u32 = record
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|v| v.parse().ok())
            .unwrap_or(1)
            .max(1);
        if let Ok(value) = serde_json::from_str::<Value>(body) {
            if let Some(parsed) = RetryMessage::parse(&value) {
                return match parsed {
                    Ok(message) => self
                        .retry(message, receive_count - 1, true, ctx)
                        .await
                        .map(|r| r.disposition),
                    Err(e) => {
                        tracing::error!(message_id, error = %e, "dropping an invalid retry message");
                        None
                    }
                };
            }
        }
        let message = mapping::SqsMessage {
            body,
            message_id,
            queue_arn: record.event_source_arn.as_deref().unwrap_or_default(),
            sent_timestamp: record
                .attributes
                .get("SentTimestamp")
                .and_then(|v| v.parse().ok()),
        };
        match mapping::from_sqs_message(&message, &self.settings.mapping) {
            Ok(event) => Some(
                self.process(event, "sqs", receive_count, true, ctx)
                    .await
                    .disposition,
            ),
            Err(e) => {
                tracing::error!(message_id, error = %e, "dropping an SQS record that cannot be mapped");
                None
            }
        }
    }

    async fn http(&self, request: HttpRequest, ctx: &Ctx) -> Value {
        let pairs: Vec<(&str, &str)> = request
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let event = match decode_request(
            &request.method,
            |name| request.header(name),
            &pairs,
            &request.body,
        ) {
            Ok(event) => event,
            Err(e) => {
                tracing::info!(status = e.status, reason = %e.reason, "refused an HTTP request");
                return http_response(e.status, &json!({"error": e.reason}));
            }
        };
        let report = self.process(event, "http", 1, true, ctx).await;
        let status = match (&report.blocked, report.disposition) {
            (Some(_), _) => 403,
            (None, Disposition::Redeliver) => 502,
            (None, Disposition::Ack) => 202,
        };
        http_response(status, &report.to_json())
    }

    /// A retry message: invoke its one subscription. `extra` is how often the message itself
    /// was delivered before.
    async fn retry(
        &self,
        message: RetryMessage,
        extra: u32,
        can_redeliver: bool,
        ctx: &Ctx,
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
            self.deliver(
                message.event,
                "retry",
                vec![sub],
                attempt,
                can_redeliver,
                ctx,
            )
            .await,
        )
    }

    /// A new event: `eventferry.event.received` and its plugins, then delivery.
    async fn process(
        &self,
        event: Event,
        input: &'static str,
        attempt: u32,
        can_redeliver: bool,
        ctx: &Ctx,
    ) -> EventReport {
        let received = self.settings.system.received(&ctx.stamp(), &event, input);
        let received_at = ctx.place();
        let plugins = self.plugins_for(&received);
        let (sync, background): (Vec<&Subscription>, Vec<&Subscription>) =
            plugins.into_iter().partition(|p| p.mode == Mode::Sync);

        let gated = async {
            let gate = join_all(sync.iter().map(|p| self.call(p, &received, 1))).await;
            let mut plugin_results = Vec::new();
            let mut blocked = None;
            let mut unreachable = false;
            for call in gate {
                if call.result.failed() {
                    if call.answered {
                        blocked.get_or_insert((
                            call.result.subscription.clone(),
                            call.result.error.clone().unwrap_or_default(),
                        ));
                    } else {
                        unreachable = true;
                    }
                }
                plugin_results.push(call.result);
            }
            let mut report = if let Some((plugin, error)) = blocked {
                tracing::info!(event = %event_label(&event), %plugin, %error, "event blocked by a sync plugin");
                let blocked_event =
                    self.settings
                        .system
                        .blocked(&ctx.stamp(), &event, input, &plugin, &error);
                ctx.push(blocked_event.clone());
                plugin_results.extend(self.notify_plugins(&blocked_event).await);
                EventReport {
                    event: event.clone(),
                    input,
                    matched: Vec::new(),
                    results: Vec::new(),
                    plugin_results: Vec::new(),
                    failed: Vec::new(),
                    disposition: Disposition::Ack,
                    blocked: Some((plugin, error)),
                }
            } else if unreachable && can_redeliver {
                tracing::warn!(event = %event_label(&event), "a sync plugin could not be reached: the event will be delivered again");
                EventReport {
                    event: event.clone(),
                    input,
                    matched: Vec::new(),
                    results: Vec::new(),
                    plugin_results: Vec::new(),
                    failed: Vec::new(),
                    disposition: Disposition::Redeliver,
                    blocked: None,
                }
            } else {
                let subs = self.routes.route(&EventView::new(&event));
                if subs.is_empty() {
                    tracing::info!(event = %event_label(&event), input, "no subscription matched: event dropped");
                }
                self.deliver(event.clone(), input, subs, attempt, can_redeliver, ctx)
                    .await
            };
            report.plugin_results.splice(0..0, plugin_results);
            report
        };
        // Async plugins run alongside; they never block or fail the event.
        let (mut report, background) = join(
            gated,
            join_all(background.iter().map(|p| self.call(p, &received, 1))),
        )
        .await;
        report
            .plugin_results
            .extend(background.into_iter().map(|c| c.result));
        ctx.put(received_at, received);
        report
    }

    /// Invokes `subs` for `event`, concurrently within the concurrency bound, then decides and
    /// carries out what happens to failures.
    async fn deliver(
        &self,
        event: Event,
        input: &'static str,
        subs: Vec<&Subscription>,
        attempt: u32,
        can_redeliver: bool,
        ctx: &Ctx,
    ) -> EventReport {
        let calls = join_all(
            subs.iter()
                .map(|sub| self.invoke_subscriber(sub, &event, attempt, ctx)),
        )
        .await;
        let mut plugin_results = Vec::new();
        let mut results = Vec::new();
        for (result, plugins) in calls {
            results.push(result);
            plugin_results.extend(plugins);
        }

        let decision = decide(&results, &self.settings.retry, can_redeliver);
        let mut disposition = decision.disposition;
        let mut failed = Vec::new();
        for (name, action) in decision.failed {
            let result = results
                .iter()
                .find(|r| r.subscription == name)
                .expect("decisions name failed results");
            let written = match &action {
                PairAction::Retry {
                    attempt,
                    delay_secs,
                } => {
                    let url = self
                        .settings
                        .retry_queue_url
                        .as_deref()
                        .expect("retry queue configured");
                    self.write(url, &name, *attempt, result, &event, *delay_secs)
                        .await
                }
                PairAction::DeadLetter => match self.settings.dlq_url.as_deref() {
                    Some(url) => {
                        self.write(url, &name, result.attempt, result, &event, 0)
                            .await
                    }
                    None => Err("no dead-letter queue".into()),
                },
                PairAction::Redeliver | PairAction::Drop { .. } => Ok(()),
            };
            let action = match written {
                Ok(()) => action,
                Err(error) => {
                    tracing::error!(subscription = %name, event = %event_label(&event), %error, "could not write a retry message");
                    let (fallback, action) = after_write_failure(&results, can_redeliver, &error);
                    if fallback == Disposition::Redeliver {
                        disposition = Disposition::Redeliver;
                    }
                    action
                }
            };
            if let PairAction::Drop { reason } = &action {
                tracing::error!(subscription = %name, event = %event_label(&event), %reason, "a failed delivery is given up");
            }
            failed.push((name, action));
        }

        // Outcome system events (with what happens next) and their plugins.
        let mut outcomes = Vec::new();
        for result in &results {
            self.receiver.receive(&event, result);
            let next = failed
                .iter()
                .find(|(n, _)| *n == result.subscription)
                .map(|(_, a)| a.describe());
            let system =
                self.settings
                    .system
                    .outcome(&ctx.stamp(), &event, result, next.as_deref());
            outcomes.push(system);
        }
        for batch in join_all(outcomes.iter().map(|s| self.notify_plugins(s))).await {
            plugin_results.extend(batch);
        }
        outcomes.into_iter().for_each(|s| ctx.push(s));

        EventReport {
            matched: subs.iter().map(|s| s.name.clone()).collect(),
            event,
            input,
            results,
            plugin_results,
            failed,
            disposition,
            blocked: None,
        }
    }

    async fn write(
        &self,
        url: &str,
        subscription: &str,
        attempt: u32,
        result: &InvocationResult,
        event: &Event,
        delay_secs: u32,
    ) -> Result<(), String> {
        let message = RetryMessage {
            subscription: subscription.to_owned(),
            attempt,
            error: result.error.clone().unwrap_or_default(),
            event: event.clone(),
        };
        self.ports
            .queue
            .send(url, message.to_body(), delay_secs)
            .await
    }

    /// `eventferry.function.invoking` (its sync plugins awaited first), then the invocation.
    async fn invoke_subscriber(
        &self,
        sub: &Subscription,
        event: &Event,
        attempt: u32,
        ctx: &Ctx,
    ) -> (InvocationResult, Vec<InvocationResult>) {
        let invoking = self.settings.system.invoking(
            &ctx.stamp(),
            event,
            &sub.name,
            &target_name(&sub.target),
            attempt,
        );
        let invoking_at = ctx.place();
        let plugins = self.notify_plugins(&invoking).await;
        ctx.put(invoking_at, invoking);
        let call = self.call(sub, event, attempt).await;
        (call.result, plugins)
    }

    /// The plugins subscribed to system event `system`. Without plugins (the common case) the
    /// system event is not even turned into JSON for matching.
    fn plugins_for(&self, system: &Event) -> Vec<&Subscription> {
        if self.plugins.subscriptions().is_empty() {
            return Vec::new();
        }
        self.plugins.route(&EventView::new(system))
    }

    /// Calls every plugin subscribed to system event `system`; their failures are only recorded.
    async fn notify_plugins(&self, system: &Event) -> Vec<InvocationResult> {
        let plugins = self.plugins_for(system);
        if plugins.is_empty() {
            return Vec::new();
        }
        let calls = join_all(plugins.iter().map(|p| self.call(p, system, 1))).await;
        calls
            .into_iter()
            .map(|c| {
                self.receiver.receive(system, &c.result);
                c.result
            })
            .collect()
    }

    /// One call of a subscription's or plugin's target, within the concurrency bound.
    async fn call(&self, sub: &Subscription, event: &Event, attempt: u32) -> Call {
        let _permit = self
            .permits
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let start = Instant::now();
        let mut result = InvocationResult {
            subscription: sub.name.clone(),
            target: target_name(&sub.target),
            mode: sub.mode,
            attempt,
            status: Status::Failed,
            status_code: None,
            duration_ms: 0,
            error: None,
            response: None,
        };
        let answered = match &sub.target {
            Target::Function(function) => {
                let mode = match sub.mode {
                    Mode::Sync => InvocationMode::Sync,
                    Mode::Async => InvocationMode::Async,
                };
                // Boxed: the SDK's future is large and deep.
                let outcome = Box::pin(self.ports.invoker.invoke(
                    function,
                    function_payload(sub, event),
                    mode,
                ))
                .await;
                match outcome {
                    Ok(InvokeOutcome::Ok { status, payload }) => {
                        result.status = match sub.mode {
                            Mode::Sync => Status::Succeeded,
                            Mode::Async => Status::Accepted,
                        };
                        result.status_code = u16::try_from(status).ok();
                        result.response = small_json(&payload);
                        true
                    }
                    Ok(InvokeOutcome::FunctionError {
                        status,
                        error,
                        payload,
                    }) => {
                        result.status_code = u16::try_from(status).ok();
                        result.error = Some(function_error(&error, &payload));
                        true
                    }
                    Err(e) => {
                        result.error = Some(e.to_string());
                        false
                    }
                }
            }
            Target::Http { url, headers } => {
                let encoded = match &sub.delivery {
                    Delivery::Structured => encode_structured(event),
                    Delivery::Binary => encode_binary(event, None),
                    Delivery::Data(ct) => encode_binary(event, Some(ct)),
                };
                let mut all = encoded.headers;
                all.extend(headers.iter().cloned());
                match Box::pin(self.ports.http.post(url, &all, encoded.body)).await {
                    Ok(answer) => {
                        result.status_code = Some(answer.status);
                        if (200..300).contains(&answer.status) {
                            result.status = Status::Succeeded;
                            result.response = small_json(&answer.body);
                        } else {
                            let body = String::from_utf8_lossy(&answer.body);
                            let snippet: String = body.chars().take(200).collect();
                            result.error = Some(format!("HTTP {}: {snippet}", answer.status));
                        }
                        true
                    }
                    Err(e) => {
                        result.error = Some(e);
                        false
                    }
                }
            }
        };
        result.duration_ms = start.elapsed().as_millis() as u64;
        Call { result, answered }
    }
}

/// The answer to a direct invocation: the report, or an error so the invoker redelivers.
fn finish_direct(report: Option<EventReport>) -> Result<Value, HandlerError> {
    match report {
        None => Ok(json!({"dropped": true})),
        Some(report) if report.disposition == Disposition::Redeliver => {
            Err(HandlerError::Redeliver {
                event: event_label(&report.event),
                reason: report.redeliver_reason(),
            })
        }
        Some(report) => Ok(report.to_json()),
    }
}

/// An API Gateway / Function URL response.
fn http_response(status: u16, body: &Value) -> Value {
    json!({
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": body.to_string(),
        "isBase64Encoded": false,
    })
}

/// A function's JSON answer, if it is JSON and at most 4 KiB.
fn small_json(payload: &[u8]) -> Option<Value> {
    if payload.is_empty() {
        return None;
    }
    if payload.len() > 4096 {
        return Some(json!({"truncated": format!("{} bytes", payload.len())}));
    }
    serde_json::from_slice(payload).ok()
}

/// `Unhandled: <errorMessage>` from a Lambda error document.
fn function_error(kind: &str, payload: &[u8]) -> String {
    let message = serde_json::from_slice::<Value>(payload)
        .ok()
        .and_then(|v| {
            let t = v
                .get("errorType")
                .and_then(Value::as_str)
                .map(str::to_owned);
            let m = v
                .get("errorMessage")
                .and_then(Value::as_str)
                .map(str::to_owned);
            match (t, m) {
                (Some(t), Some(m)) => Some(format!("{t}: {m}")),
                (None, Some(m)) => Some(m),
                (Some(t), None) => Some(t),
                (None, None) => None,
            }
        })
        .unwrap_or_else(|| String::from_utf8_lossy(payload).chars().take(200).collect());
    format!("{kind}: {message}")
}
