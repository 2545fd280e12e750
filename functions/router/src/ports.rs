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
