//! What the router answers: the report of one event, and the answers to direct and HTTP
//! invocations built from it.

use std::sync::Arc;

use cloudevents::{AttributesReader, Event};
use eventferry_core::invocation::{event_label, InvocationResult};
use eventferry_core::retry::{Disposition, PairAction};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
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
    /// Every subscriber invocation: one per subscription it matched (for a retry: the one
    /// subscription), in match order.
    pub results: Vec<InvocationResult>,
    /// Every plugin invocation.
    pub plugin_results: Vec<InvocationResult>,
    /// What happens to each failed subscriber.
    pub failed: Vec<(Arc<str>, PairAction)>,
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
            results: Vec::new(),
            plugin_results: Vec::new(),
            failed: Vec::new(),
            disposition,
            blocked,
        }
    }

    /// The report as the answer shows it (what [`Serialize`] writes).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("a report serializes")
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

/// `event` (id, type, source), `input`, `disposition`, `matched` and `results`, and `failed`,
/// `plugins` and `blocked` when there are any; keys in sorted order, as a `serde_json::Value`
/// of them would print. Written directly, not through a `Value` (a map and a string per key).
impl Serialize for EventReport {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Failed<'a>(&'a [(Arc<str>, PairAction)]);
        impl Serialize for Failed<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_seq(self.0.iter().map(|(subscription, action)| {
                    json!({"subscription": subscription, "next": action.next_step()})
                }))
            }
        }
        let len = 5
            + usize::from(self.blocked.is_some())
            + usize::from(!self.failed.is_empty())
            + usize::from(!self.plugin_results.is_empty());
        let mut map = serializer.serialize_map(Some(len))?;
        if let Some((plugin, error)) = &self.blocked {
            map.serialize_entry("blocked", &json!({"plugin": plugin, "error": error}))?;
        }
        let disposition = match self.disposition {
            Disposition::Ack => "ack",
            Disposition::Redeliver => "redeliver",
        };
        map.serialize_entry("disposition", disposition)?;
        map.serialize_entry("event", &EventIds(&self.event))?;
        if !self.failed.is_empty() {
            map.serialize_entry("failed", &Failed(&self.failed))?;
        }
        map.serialize_entry("input", self.input)?;
        map.serialize_entry("matched", &Matched(&self.results))?;
        if !self.plugin_results.is_empty() {
            map.serialize_entry("plugins", &self.plugin_results)?;
        }
        map.serialize_entry("results", &self.results)?;
        map.end()
    }
}

/// The subscriptions an event matched: those of its results.
struct Matched<'a>(&'a [InvocationResult]);

impl Serialize for Matched<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|r| &*r.subscription))
    }
}

/// An event's `id`, `source` and `type`, keys sorted.
struct EventIds<'a>(&'a Event);

impl Serialize for EventIds<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("id", self.0.id())?;
        map.serialize_entry("source", self.0.source().as_str())?;
        map.serialize_entry("type", self.0.ty())?;
        map.end()
    }
}

/// What the router answers one invocation: JSON, or the report of one event, which is
/// serialized straight from the report.
#[derive(Debug)]
pub enum Answer {
    Json(Value),
    Report(Box<EventReport>),
}

impl Answer {
    /// The answer as a JSON value.
    pub fn into_value(self) -> Value {
        match self {
            Answer::Json(value) => value,
            Answer::Report(report) => report.to_json(),
        }
    }
}

impl Serialize for Answer {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Answer::Json(value) => value.serialize(serializer),
            Answer::Report(report) => report.serialize(serializer),
        }
    }
}

/// The answer to a direct invocation: the report, or an error so the invoker redelivers.
pub(crate) fn finish_direct(report: Option<EventReport>) -> Result<Answer, HandlerError> {
    match report {
        None => Ok(Answer::Json(json!({"dropped": true}))),
        Some(report) if report.disposition == Disposition::Redeliver => {
            Err(HandlerError::Redeliver {
                event: event_label(&report.event),
                reason: report.redeliver_reason(),
            })
        }
        Some(report) => Ok(Answer::Report(Box::new(report))),
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
    http_response(
        status,
        serde_json::to_string(report).expect("a report serializes"),
    )
}

/// An API Gateway / Function URL response.
pub(crate) fn http_response(status: u16, body: String) -> Value {
    json!({
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": body,
        "isBase64Encoded": false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use eventferry_core::invocation::Status;
    use eventferry_core::structured::parse_structured_value;
    use eventferry_core::subscription::Mode;

    fn result(name: &str, error: Option<&str>) -> InvocationResult {
        InvocationResult {
            subscription: name.into(),
            target: format!("fn-{name}").into(),
            mode: Mode::Async,
            attempt: 2,
            status: if error.is_some() {
                Status::Failed
            } else {
                Status::Accepted
            },
            status_code: Some(202),
            duration_ms: 7,
            error: error.map(str::to_owned),
            response: Some(json!({"ignored": "in the answer"})),
        }
    }

    /// The answer written straight from the report is the same text as the report's JSON value
    /// printed (keys sorted), with every optional part present.
    #[test]
    fn a_report_serializes_as_its_json_value_prints() {
        let event = parse_structured_value(&json!({"specversion": "1.0", "id": "e\"1",
            "source": "/shop", "type": "order.created", "data": {"n": 1}}))
        .unwrap();
        let mut report = EventReport::undelivered(
            event,
            "sqs",
            Disposition::Redeliver,
            Some(("gate".into(), "no \u{1}".into())),
        );
        report.results = vec![result("a", None), result("b", Some("boom"))];
        report.plugin_results = vec![result("audit", None)];
        report.failed = vec![(
            "b".into(),
            PairAction::Retry {
                attempt: 3,
                delay_secs: 5,
            },
        )];
        let value = report.to_json();
        assert_eq!(serde_json::to_string(&report).unwrap(), value.to_string());
        assert_eq!(value["matched"], json!(["a", "b"]));
        assert_eq!(value["results"][1]["error"], "boom");
        assert!(value["results"][0].get("response").is_none());
        let answer = Answer::Report(Box::new(report));
        assert_eq!(serde_json::to_value(&answer).unwrap(), value);
        assert_eq!(answer.into_value(), value);
    }
}
