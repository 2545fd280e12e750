//! Real implementations of the router's ports: SQS (retry and dead-letter messages with a
//! per-message delay) and EventBridge PutEvents (system events) through `eventferry_aws`,
//! HTTP targets through `eventferry_http`, the HTTP and log system-event sinks, and the log
//! response receiver.

use aws_config::SdkConfig;
use cloudevents::{AttributesReader, Event};
use eventferry_aws::eventbridge::{refused_entries, EventBridge, EventEntry};
use eventferry_aws::sqs::Sqs;
use eventferry_aws::AwsError;
use eventferry_core::binding::encode_structured;
use eventferry_core::invocation::InvocationResult;
use eventferry_core::structured::to_structured_json;
use eventferry_core::trace::{event_trace, TraceContext};
use eventferry_http::{HttpAnswer, PostError, Poster};

use crate::ports::{EmitError, HttpPoster, QueueWriter, ResponseReceiver, SystemSink};

/// SQS `SendMessage` with `DelaySeconds`, through [`Sqs::send_message`].
#[derive(Debug, Clone)]
pub struct SqsWriter {
    sqs: Sqs,
}

impl SqsWriter {
    pub fn new(config: &SdkConfig) -> Self {
        SqsWriter {
            sqs: Sqs::new(config),
        }
    }
}

impl QueueWriter for SqsWriter {
    async fn send(&self, queue_url: &str, body: String, delay_secs: u32) -> Result<(), AwsError> {
        self.sqs.send_message(queue_url, body, delay_secs).await
    }
}

/// HTTP targets: the project's one [`Poster`] (a timeout per request).
impl HttpPoster for Poster {
    async fn post(
        &self,
        url: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> Result<HttpAnswer, PostError> {
        Poster::post(self, url, headers, body).await
    }
}

/// System events as structured log lines (JSON, one per event) on the `eventferry::system`
/// target.
#[derive(Debug, Default, Clone, Copy)]
pub struct LogSystemSink;

impl SystemSink for LogSystemSink {
    async fn emit(&self, events: &[Event]) -> Result<(), EmitError> {
        for event in events {
            tracing::info!(
                target: "eventferry::system",
                system_event = %to_structured_json(event),
                "{}",
                event.ty()
            );
        }
        Ok(())
    }
}

/// System events put on an EventBridge bus: `Source` is the system event's source,
/// `DetailType` its type, `Detail` the whole structured CloudEvent. [`EventBridge::put_events`]
/// batches by count and by PutEvents' 256 KB limit.
#[derive(Debug, Clone)]
pub struct EventBridgeSystemSink {
    events: EventBridge,
    bus: String,
}

impl EventBridgeSystemSink {
    pub fn new(config: &SdkConfig, bus: &str) -> Self {
        EventBridgeSystemSink {
            events: EventBridge::new(config),
            bus: bus.to_owned(),
        }
    }
}

impl SystemSink for EventBridgeSystemSink {
    async fn emit(&self, events: &[Event]) -> Result<(), EmitError> {
        let entries: Vec<EventEntry> = events
            .iter()
            .map(|event| EventEntry {
                event_bus: self.bus.clone(),
                source: event.source().to_string(),
                detail_type: event.ty().to_owned(),
                detail: to_structured_json(event).to_string(),
                resources: Vec::new(),
                // The system event's trace (its event's) continues through EventBridge.
                trace_header: event_trace(event)
                    .and_then(|(parent, _)| TraceContext::from_traceparent(&parent).ok())
                    .map(|context| context.xray_header()),
            })
            .collect();
        let results = self.events.put_events(&entries).await?;
        match refused_entries(&results) {
            None => Ok(()),
            Some(error) => Err(error.into()),
        }
    }
}

/// System events POSTed in structured mode, one request each.
#[derive(Debug, Clone)]
pub struct HttpSystemSink<H> {
    poster: H,
    url: String,
}

impl<H: HttpPoster> HttpSystemSink<H> {
    pub fn new(poster: H, url: &str) -> Self {
        HttpSystemSink {
            poster,
            url: url.to_owned(),
        }
    }
}

impl<H: HttpPoster> SystemSink for HttpSystemSink<H> {
    async fn emit(&self, events: &[Event]) -> Result<(), EmitError> {
        for event in events {
            let request = encode_structured(event);
            let answer = self
                .poster
                .post(&self.url, &request.headers, request.body)
                .await?;
            if !answer.is_success() {
                return Err(EmitError::Status {
                    url: eventferry_http::without_userinfo(&self.url),
                    status: answer.status,
                });
            }
        }
        Ok(())
    }
}

/// The system-event sink `EVENTFERRY_SYSTEM_EVENTS` chose.
#[derive(Debug, Clone)]
pub enum ConfiguredSystemSink {
    Off,
    Log(LogSystemSink),
    EventBridge(EventBridgeSystemSink),
    Http(HttpSystemSink<Poster>),
}

impl SystemSink for ConfiguredSystemSink {
    async fn emit(&self, events: &[Event]) -> Result<(), EmitError> {
        match self {
            ConfiguredSystemSink::Off => Ok(()),
            ConfiguredSystemSink::Log(s) => s.emit(events).await,
            ConfiguredSystemSink::EventBridge(s) => s.emit(events).await,
            ConfiguredSystemSink::Http(s) => s.emit(events).await,
        }
    }
}

/// The default receiver: one structured log line per result.
#[derive(Debug, Default, Clone, Copy)]
pub struct LogReceiver;

impl ResponseReceiver for LogReceiver {
    fn receive(&self, event: &Event, result: &InvocationResult) {
        let event = eventferry_core::invocation::event_label(event);
        // One line, at info for a success and at warn with the error for a failure.
        macro_rules! result_line {
            ($level:ident) => {
                tracing::$level!(
                    event,
                    subscription = %result.subscription,
                    target = %result.target,
                    attempt = result.attempt,
                    status = result.status.as_str(),
                    status_code = result.status_code,
                    duration_ms = result.duration_ms,
                    error = result.error.as_deref(),
                    "invocation result"
                )
            };
        }
        match result.error {
            None => result_line!(info),
            Some(_) => result_line!(warn),
        }
    }
}
