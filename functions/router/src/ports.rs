//! The router's I/O, behind small traits so the handler runs in-process in tests. Lambda
//! invocation uses `eventferry_aws::lambda::Invoker`; the rest is here, with the SDK and
//! reqwest implementations in [`crate::adapters`].

use cloudevents::Event;
use eventferry_core::route::InvocationResult;

/// What an HTTP target answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpAnswer {
    pub status: u16,
    pub body: Vec<u8>,
}

/// POSTs to HTTP targets (subscriptions, plugins, the HTTP system-event sink).
#[allow(async_fn_in_trait)]
pub trait HttpPoster: Send + Sync {
    /// POST `body` with `headers`; `Err` only when there was no answer (connection, timeout).
    async fn post(
        &self,
        url: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> Result<HttpAnswer, String>;
}

/// Writes retry and dead-letter messages.
#[allow(async_fn_in_trait)]
pub trait QueueWriter: Send + Sync {
    /// Send `body` to the queue at `queue_url`, visible after `delay_secs` (0..=900).
    async fn send(&self, queue_url: &str, body: String, delay_secs: u32) -> Result<(), String>;
}

/// Where system events go: log lines, an EventBridge bus, or an HTTP endpoint.
#[allow(async_fn_in_trait)]
pub trait SystemSink: Send + Sync {
    async fn emit(&self, events: &[Event]) -> Result<(), String>;
}

/// Receives every invocation result (the connector-sdk "response receiver").
pub trait ResponseReceiver: Send + Sync {
    fn receive(&self, event: &Event, result: &InvocationResult);
}

/// The default receiver: one structured log line per result.
#[derive(Debug, Default, Clone, Copy)]
pub struct LogReceiver;

impl ResponseReceiver for LogReceiver {
    fn receive(&self, event: &Event, result: &InvocationResult) {
        let event = eventferry_core::route::event_label(event);
        match &result.error {
            None => tracing::info!(
                event,
                subscription = %result.subscription,
                target = %result.target,
                attempt = result.attempt,
                status = result.status.as_str(),
                status_code = result.status_code,
                duration_ms = result.duration_ms,
                "invocation result"
            ),
            Some(error) => tracing::warn!(
                event,
                subscription = %result.subscription,
                target = %result.target,
                attempt = result.attempt,
                status = result.status.as_str(),
                status_code = result.status_code,
                duration_ms = result.duration_ms,
                error = %error,
                "invocation result"
            ),
        }
    }
}

/// Ports that do no I/O: every function answers `{}`, every HTTP target 200, every queue write
/// and system-event emit succeeds. The routing decisions are the real ones. Used by the fuzz
/// target (`functions/router/fuzz`) and the smoke run of it in `make test`.
#[derive(Debug, Default, Clone, Copy)]
pub struct Offline;

impl eventferry_aws::lambda::Invoker for Offline {
    async fn invoke(
        &self,
        _function: &str,
        _payload: Vec<u8>,
        _mode: eventferry_aws::lambda::InvocationMode,
    ) -> Result<eventferry_aws::lambda::InvokeOutcome, eventferry_aws::AwsError> {
        Ok(eventferry_aws::lambda::InvokeOutcome::Ok {
            status: 200,
            payload: b"{}".to_vec(),
        })
    }
}

impl HttpPoster for Offline {
    async fn post(
        &self,
        _url: &str,
        _headers: &[(String, String)],
        _body: Vec<u8>,
    ) -> Result<HttpAnswer, String> {
        Ok(HttpAnswer {
            status: 200,
            body: Vec::new(),
        })
    }
}

impl QueueWriter for Offline {
    async fn send(&self, _queue_url: &str, _body: String, _delay_secs: u32) -> Result<(), String> {
        Ok(())
    }
}

impl SystemSink for Offline {
    async fn emit(&self, _events: &[Event]) -> Result<(), String> {
        Ok(())
    }
}

impl ResponseReceiver for Offline {
    fn receive(&self, _event: &Event, _result: &InvocationResult) {}
}

impl crate::handler::Ports<Offline, Offline, Offline, Offline> {
    /// [`Offline`] for every port.
    pub fn offline() -> Self {
        crate::handler::Ports {
            invoker: Offline,
            http: Offline,
            queue: Offline,
            sink: Offline,
        }
    }
}
