//! Real implementations of the router's ports: SQS (retry and dead-letter messages with a
//! per-message delay), EventBridge PutEvents and HTTP (system events), reqwest (HTTP targets),
//! and structured log lines (the default system-event sink).

use std::time::Duration;

use aws_config::SdkConfig;
use cloudevents::{AttributesReader, Event};
use eventferry_aws::AwsError;
use eventferry_core::mapping::{to_structured_bytes, to_structured_json};

use crate::ports::{HttpAnswer, HttpPoster, QueueWriter, SystemSink};

/// SQS `SendMessage` with `DelaySeconds`.
#[derive(Debug, Clone)]
pub struct SqsWriter {
    client: aws_sdk_sqs::Client,
}

impl SqsWriter {
    pub fn new(config: &SdkConfig) -> Self {
        SqsWriter {
            client: aws_sdk_sqs::Client::new(config),
        }
    }
}

impl QueueWriter for SqsWriter {
    async fn send(&self, queue_url: &str, body: String, delay_secs: u32) -> Result<(), String> {
        self.client
            .send_message()
            .queue_url(queue_url)
            .message_body(body)
            .delay_seconds(delay_secs.min(900) as i32)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk("SendMessage", e).to_string())
    }
}

/// reqwest, with a timeout per request.
#[derive(Debug, Clone)]
pub struct ReqwestPoster {
    client: reqwest::Client,
}

impl ReqwestPoster {
    pub fn new(timeout: Duration) -> Result<Self, String> {
        reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map(|client| ReqwestPoster { client })
            .map_err(|e| format!("cannot build the HTTP client: {e}"))
    }
}

impl HttpPoster for ReqwestPoster {
    async fn post(
        &self,
        url: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> Result<HttpAnswer, String> {
        let mut request = self.client.post(url).body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        // Errors name the URL only: header values may be secrets.
        let response = request
            .send()
            .await
            .map_err(|e| format!("POST {url}: {}", without_url(&e)))?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map(|b| b.to_vec())
            .unwrap_or_default();
        Ok(HttpAnswer { status, body })
    }
}

fn without_url(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(&format!(" ({url})"), "");
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// System events as structured log lines (JSON, one per event) on the `eventferry::system`
/// target.
#[derive(Debug, Default, Clone, Copy)]
pub struct LogSink;

impl SystemSink for LogSink {
    async fn emit(&self, events: &[Event]) -> Result<(), String> {
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
/// `DetailType` its type, `Detail` the whole structured CloudEvent.
#[derive(Debug, Clone)]
pub struct EventBridgeSink {
    client: aws_sdk_eventbridge::Client,
    bus: String,
}

impl EventBridgeSink {
    pub fn new(config: &SdkConfig, bus: &str) -> Self {
        EventBridgeSink {
            client: aws_sdk_eventbridge::Client::new(config),
            bus: bus.to_owned(),
        }
    }
}

impl SystemSink for EventBridgeSink {
    async fn emit(&self, events: &[Event]) -> Result<(), String> {
        for chunk in events.chunks(10) {
            let entries = chunk
                .iter()
                .map(|event| {
                    aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                        .event_bus_name(&self.bus)
                        .source(event.source().to_string())
                        .detail_type(event.ty())
                        .detail(to_structured_json(event).to_string())
                        .build()
                })
                .collect();
            let out = self
                .client
                .put_events()
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("PutEvents", e).to_string())?;
            if out.failed_entry_count > 0 {
                let first = out
                    .entries
                    .unwrap_or_default()
                    .into_iter()
                    .find(|e| e.error_code.is_some());
                return Err(format!(
                    "PutEvents: {} of {} entries failed{}",
                    out.failed_entry_count,
                    chunk.len(),
                    first
                        .map(|e| format!(
                            "; first: {} ({})",
                            e.error_message.unwrap_or_default(),
                            e.error_code.unwrap_or_default()
                        ))
                        .unwrap_or_default()
                ));
            }
        }
        Ok(())
    }
}

/// System events POSTed in structured mode, one request each.
#[derive(Debug, Clone)]
pub struct HttpSink<H> {
    poster: H,
    url: String,
}

impl<H: HttpPoster> HttpSink<H> {
    pub fn new(poster: H, url: &str) -> Self {
        HttpSink {
            poster,
            url: url.to_owned(),
        }
    }
}

impl<H: HttpPoster> SystemSink for HttpSink<H> {
    async fn emit(&self, events: &[Event]) -> Result<(), String> {
        let headers = [(
            "content-type".to_owned(),
            "application/cloudevents+json".to_owned(),
        )];
        for event in events {
            let answer = self
                .poster
                .post(&self.url, &headers, to_structured_bytes(event))
                .await?;
            if !(200..300).contains(&answer.status) {
                return Err(format!("POST {}: HTTP {}", self.url, answer.status));
            }
        }
        Ok(())
    }
}

/// The configured system-event sink.
#[derive(Debug, Clone)]
pub enum AnySink {
    Off,
    Log(LogSink),
    EventBridge(EventBridgeSink),
    Http(HttpSink<ReqwestPoster>),
}

impl SystemSink for AnySink {
    async fn emit(&self, events: &[Event]) -> Result<(), String> {
        match self {
            AnySink::Off => Ok(()),
            AnySink::Log(s) => s.emit(events).await,
            AnySink::EventBridge(s) => s.emit(events).await,
            AnySink::Http(s) => s.emit(events).await,
        }
    }
}
