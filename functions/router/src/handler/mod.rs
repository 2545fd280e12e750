//! The handler: decode the input, let crates/core decide, call the ports.
//!
//! - this module: the [`Handler`], recognising the input and answering it;
//! - [`delivery`]: one event through the plugins, the subscriptions and the failure decisions;
//! - [`call`]: one call of a target (Lambda or HTTP);
//! - [`outbox`]: the system events of one invocation;
//! - [`report`]: what happened to an event, and the answers built from it.

mod call;
mod delivery;
mod outbox;
mod report;

use std::sync::Arc;

use serde_json::{json, Value};
use tokio::sync::Semaphore;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsMessage};
use eventferry_aws::lambda::Invoker;
use eventferry_aws::sqs::{receive_count, sent_timestamp_millis};
use eventferry_core::binding::decode_request;
use eventferry_core::mapping::{self, from_eventbridge};
use eventferry_core::retry::{Disposition, RetryMessage};
use eventferry_core::route::Router;
use eventferry_core::structured::parse_structured_owned;
use eventferry_core::subscription::Config;

use crate::config::Settings;
use crate::input::{classify, HttpRequest, Input};
use crate::ports::{HttpPoster, Ports, QueueWriter, ResponseReceiver, SinkNeeds, SystemSink};
use outbox::Outbox;
use report::{finish_direct, http_answer, http_response};

pub use report::{Answer, EventReport, HandlerError};

/// The router.
pub struct Handler<I, H, Q, S> {
    routes: Router,
    plugins: Router,
    settings: Settings,
    ports: Arc<Ports<I, H, Q, S>>,
    receiver: Arc<dyn ResponseReceiver>,
    permits: Semaphore,
    /// Whether a system event may be built whole: there is a plugin, or the sink takes whole
    /// events. Only then do results keep the targets' answers (only a whole system event
    /// carries them), and is `eventferry.function.invoking` made at all.
    whole_system_events: bool,
}

impl<I: Invoker, H: HttpPoster, Q: QueueWriter, S: SystemSink> Handler<I, H, Q, S> {
    pub fn new(
        config: Config,
        settings: Settings,
        ports: Ports<I, H, Q, S>,
        receiver: Box<dyn ResponseReceiver>,
    ) -> Self {
        Self::shared(config, settings, Arc::new(ports), Arc::from(receiver))
    }

    /// A handler over ports and a receiver that other handlers share: the router builds a new
    /// handler for each version of its subscriptions and keeps its clients.
    pub fn shared(
        config: Config,
        settings: Settings,
        ports: Arc<Ports<I, H, Q, S>>,
        receiver: Arc<dyn ResponseReceiver>,
    ) -> Self {
        let permits = Semaphore::new(settings.max_concurrency.max(1));
        let whole_system_events =
            !config.plugins.is_empty() || ports.sink.needs() == SinkNeeds::Events;
        Handler {
            routes: Router::new(config.subscriptions),
            plugins: Router::new(config.plugins),
            settings,
            ports,
            receiver,
            permits,
            whole_system_events,
        }
    }

    /// The same settings, ports and receiver with other subscriptions.
    pub fn with_config(&self, config: Config) -> Self {
        Self::shared(
            config,
            self.settings.clone(),
            Arc::clone(&self.ports),
            Arc::clone(&self.receiver),
        )
    }

    pub fn ports(&self) -> &Ports<I, H, Q, S> {
        &self.ports
    }

    /// Handles one invoke payload; `request_id` makes system event ids unique. The answer as a
    /// JSON value; [`Self::respond`] gives it in the form the Lambda runtime serializes.
    pub async fn handle(&self, payload: Value, request_id: &str) -> Result<Value, HandlerError> {
        self.respond(payload, request_id)
            .await
            .map(Answer::into_value)
    }

    /// Handles one invoke payload; the answer is serialized by the caller (the runtime).
    pub async fn respond(&self, payload: Value, request_id: &str) -> Result<Answer, HandlerError> {
        let outbox = Outbox::new(request_id, self.ports.sink.needs());
        // Boxed: inline, the future nests too deep for the compiler's layout of `main`.
        let outcome = Box::pin(self.dispatch(payload, &outbox)).await;
        outbox.emit(&self.ports.sink).await;
        outcome
    }

    async fn dispatch(&self, payload: Value, outbox: &Outbox) -> Result<Answer, HandlerError> {
        match classify(payload).map_err(|e| HandlerError::Input(e.0))? {
            Input::Sqs(batch) => {
                let dispositions = futures::future::join_all(
                    batch.records.iter().map(|r| self.sqs_record(r, outbox)),
                )
                .await;
                let mut response = SqsBatchResponse::default();
                for (record, disposition) in batch.records.iter().zip(dispositions) {
                    if disposition == Some(Disposition::Redeliver) {
                        let mut failure = BatchItemFailure::default();
                        failure.item_identifier = record.message_id.clone().unwrap_or_default();
                        response.batch_item_failures.push(failure);
                    }
                }
                Ok(Answer::Json(
                    serde_json::to_value(response).expect("a batch response serializes"),
                ))
            }
            Input::Http(request) => Ok(Answer::Json(self.http(request, outbox).await)),
            Input::Retry(value) => {
                let message = match RetryMessage::parse(&value).expect("classified as a retry") {
                    Ok(m) => m,
                    Err(e) => return Err(HandlerError::Input(e.to_string())),
                };
                finish_direct(self.retry(message, 0, outbox).await)
            }
            Input::CloudEvent(value) => {
                let event = parse_structured_owned(value)
                    .map_err(|e| HandlerError::Input(e.to_string()))?;
                finish_direct(Some(self.process(event, "cloudevent", 1, outbox).await))
            }
            Input::EventBridge(value) => {
                let event = from_eventbridge(value, &self.settings.mapping)
                    .map_err(|e| HandlerError::Input(e.to_string()))?;
                finish_direct(Some(self.process(event, "eventbridge", 1, outbox).await))
            }
        }
    }

    /// One SQS record; `None` when it was acknowledged without an event (logged).
    async fn sqs_record(&self, record: &SqsMessage, outbox: &Outbox) -> Option<Disposition> {
        let body = record.body.as_deref().unwrap_or_default();
        let message_id = record.message_id.as_deref().unwrap_or_default();
        let receive_count = receive_count(&record.attributes);
        if let Ok(value) = serde_json::from_str::<Value>(body) {
            if let Some(parsed) = RetryMessage::parse(&value) {
                return match parsed {
                    Ok(message) => self
                        .retry(message, receive_count - 1, outbox)
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
            sent_timestamp: sent_timestamp_millis(&record.attributes),
            trace_header: record.attributes.get("AWSTraceHeader").map(String::as_str),
        };
        match mapping::from_sqs_message(&message, &self.settings.mapping) {
            Ok(event) => Some(
                self.process(event, "sqs", receive_count, outbox)
                    .await
                    .disposition,
            ),
            Err(e) => {
                tracing::error!(message_id, error = %e, "dropping an SQS record that cannot be mapped");
                None
            }
        }
    }

    /// An HTTP request (Function URL, API Gateway): the CloudEvents HTTP binding, answered
    /// with an HTTP response.
    async fn http(&self, request: HttpRequest, outbox: &Outbox) -> Value {
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
                return http_response(e.status, json!({"error": e.reason}).to_string());
            }
        };
        http_answer(&self.process(event, "http", 1, outbox).await)
    }
}
