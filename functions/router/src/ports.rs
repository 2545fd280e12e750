//! The router's ports: its I/O as small traits, so the handler runs in-process in tests.
//!
//! Layers point one way: [`crate::handler`] uses these traits, [`crate::adapters`] implements
//! them (SQS and EventBridge through `eventferry_aws`, HTTP through `eventferry_http`), and
//! [`Offline`] implements them without I/O. Lambda invocation is `eventferry_aws::lambda::Invoker`.
//! Errors are typed: an adapter's [`AwsError`] keeps its kind up to the handler.

use bytes::Bytes;
use cloudevents::Event;
use eventferry_aws::lambda::{InvocationMode, InvokeOutcome, Invoker};
use eventferry_aws::AwsError;
use eventferry_core::invocation::InvocationResult;
use eventferry_core::system::Summary;

pub use eventferry_http::{HttpAnswer, PostError, PostErrorKind};

/// The router's I/O.
pub struct Ports<I, H, Q, S> {
    pub invoker: I,
    pub http: H,
    pub queue: Q,
    pub sink: S,
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
    ) -> Result<HttpAnswer, PostError>;
}

/// Writes retry and dead-letter messages.
#[allow(async_fn_in_trait)]
pub trait QueueWriter: Send + Sync {
    /// Send `body` to the queue at `queue_url`, visible after `delay_secs` (0..=900).
    async fn send(&self, queue_url: &str, body: String, delay_secs: u32) -> Result<(), AwsError>;
}

/// Why system events could not be emitted.
#[derive(Debug, thiserror::Error)]
pub enum EmitError {
    /// The EventBridge call failed, or refused entries.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// The HTTP sink did not answer.
    #[error(transparent)]
    Post(#[from] PostError),
    /// The HTTP sink answered with a status other than 2xx.
    #[error("POST {url}: HTTP {status}")]
    Status { url: String, status: u16 },
    /// A log line could not be written.
    #[error("writing a log line: {0}")]
    Log(std::io::Error),
}

/// What a system-event sink consumes; the handler builds nothing more than that (plugins
/// aside: a system event a plugin may take is always built whole).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkNeeds {
    /// Nothing: the sink is off.
    Nothing,
    /// [`Summary`]s only, given to [`SystemSink::emit_summaries`] (the compact log sink).
    Summaries,
    /// Whole system events, given to [`SystemSink::emit`].
    Events,
}

/// Where system events go: log lines, an EventBridge bus, or an HTTP endpoint.
#[allow(async_fn_in_trait)]
pub trait SystemSink: Send + Sync {
    /// What this sink consumes: whole events unless it says otherwise.
    fn needs(&self) -> SinkNeeds {
        SinkNeeds::Events
    }

    /// The whole system events of one invocation, in emission order (when [`Self::needs`]
    /// is [`SinkNeeds::Events`]).
    async fn emit(&self, events: &[Event]) -> Result<(), EmitError>;

    /// Their summaries, in emission order (when [`Self::needs`] is [`SinkNeeds::Summaries`]).
    async fn emit_summaries(&self, summaries: &[Summary]) -> Result<(), EmitError> {
        let _ = summaries;
        Ok(())
    }
}

/// Receives every invocation result (the connector-sdk "response receiver").
pub trait ResponseReceiver: Send + Sync {
    fn receive(&self, event: &Event, result: &InvocationResult);
}

/// Ports that do no I/O: every function answers `{}`, every HTTP target 200, every queue write
/// and system-event emit succeeds. The routing decisions are the real ones. Used by the fuzz
/// target (`functions/router/fuzz`) and the smoke run of it in `make test`.
#[derive(Debug, Default, Clone, Copy)]
pub struct Offline;

impl Invoker for Offline {
    async fn invoke(
        &self,
        _function: &str,
        _payload: Bytes,
        _mode: InvocationMode,
    ) -> Result<InvokeOutcome, AwsError> {
        Ok(InvokeOutcome::Ok {
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
    ) -> Result<HttpAnswer, PostError> {
        Ok(HttpAnswer {
            status: 200,
            body: Vec::new(),
        })
    }
}

impl QueueWriter for Offline {
    async fn send(
        &self,
        _queue_url: &str,
        _body: String,
        _delay_secs: u32,
    ) -> Result<(), AwsError> {
        Ok(())
    }
}

// Whole events (the default), so that the fuzz target builds every system event.
impl SystemSink for Offline {
    async fn emit(&self, _events: &[Event]) -> Result<(), EmitError> {
        Ok(())
    }
}

impl ResponseReceiver for Offline {
    fn receive(&self, _event: &Event, _result: &InvocationResult) {}
}

impl Ports<Offline, Offline, Offline, Offline> {
    /// [`Offline`] for every port.
    pub fn offline() -> Self {
        Ports {
            invoker: Offline,
            http: Offline,
            queue: Offline,
            sink: Offline,
        }
    }
}
