//! What the router answers: the report of one event, and the answers to direct and HTTP
//! invocations built from it.

use cloudevents::{AttributesReader, Event};
use eventferry_core::invocation::{event_label, InvocationResult};
use eventferry_core::retry::{Disposition, PairAction};
use serde_json::{json, Value};

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
    /// An event that went to no subscriber: blocked by a sync plugin, or to be delivered again.
    pub(crate) fn undelivered(
        event: Event,
        input: &'static str,
        disposition: Disposition,
        blocked: Option<(String, String)>,
    ) -> Self {
        EventReport {
            event,
            input,
            matched: Vec::new(),
            results: Vec::new(),
            plugin_results: Vec::new(),
            failed: Vec::new(),
            disposition,
            blocked,
        }
    }

    pub fn to_json(&self) -> Value {
        // Values are put in directly: `json!` would serialize a Vec<Value> into a new Value,
        // copying every result once more.
        let mut v = json!({
            "event": {"id": self.event.id(), "type": self.event.ty(), "source": self.event.source().to_string()},
            "input": self.input,
            "disposition": match self.disposition { Disposition::Ack => "ack", Disposition::Redeliver => "redeliver" },
        });
        v["matched"] = Value::Array(
            self.matched
                .iter()
                .map(|m| Value::from(m.as_str()))
                .collect(),
        );
        v["results"] = Value::Array(self.results.iter().map(InvocationResult::to_json).collect());
        if !self.failed.is_empty() {
            v["failed"] = self
                .failed
                .iter()
                .map(|(s, a)| json!({"subscription": s, "next": a.next_step()}))
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

/// The answer to a direct invocation: the report, or an error so the invoker redelivers.
pub(crate) fn finish_direct(report: Option<EventReport>) -> Result<Value, HandlerError> {
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

/// The answer to an HTTP request: 202 when delivered, 403 when a sync plugin blocked the
/// event, 502 when it must be sent again.
pub(crate) fn http_answer(report: &EventReport) -> Value {
    let status = match (&report.blocked, report.disposition) {
        (Some(_), _) => 403,
        (None, Disposition::Redeliver) => 502,
        (None, Disposition::Ack) => 202,
    };
    http_response(status, &report.to_json())
}

/// An API Gateway / Function URL response.
pub(crate) fn http_response(status: u16, body: &Value) -> Value {
    json!({
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": body.to_string(),
        "isBase64Encoded": false,
    })
}
