//! What the router answers: the report of one event, and the answers to direct and HTTP
//! invocations built from it.

use std::sync::Arc;

use cloudevents::{AttributesReader, Event};
use eventferry_core::invocation::{event_label, InvocationResult};
use eventferry_core::json_text::{self, JsonText};
use eventferry_core::retry::{Disposition, PairAction};
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
        self.to_text().to_value()
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

impl EventReport {
    /// The report as the answer shows it: `event` (id, type, source), `input`,
    /// `disposition`, `matched` and `results`, and `failed`, `plugins` and `blocked` when there
    /// are any; keys in sorted order, as a `serde_json::Value` of them would print. Written
    /// directly, not through serde: the answer lists every result.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let result = |out: &mut Vec<u8>, result: &InvocationResult| result.write_json(out);
        out.push(b'{');
        if let Some((plugin, error)) = &self.blocked {
            out.extend_from_slice(b"\"blocked\":{\"error\":");
            json_text::push_str(out, error);
            out.extend_from_slice(b",\"plugin\":");
            json_text::push_str(out, plugin);
            out.extend_from_slice(b"},");
        }
        out.extend_from_slice(match self.disposition {
            Disposition::Ack => b"\"disposition\":\"ack\"",
            Disposition::Redeliver => b"\"disposition\":\"redeliver\"",
        });
        out.extend_from_slice(b",\"event\":{\"id\":");
        json_text::push_str(out, self.event.id());
        out.extend_from_slice(b",\"source\":");
        json_text::push_str(out, self.event.source().as_str());
        out.extend_from_slice(b",\"type\":");
        json_text::push_str(out, self.event.ty());
        out.push(b'}');
        if !self.failed.is_empty() {
            out.extend_from_slice(b",\"failed\":");
            json_text::push_array(out, &self.failed, |out, (subscription, action)| {
                out.extend_from_slice(b"{\"next\":");
                json_text::push_str(out, &action.next_step());
                out.extend_from_slice(b",\"subscription\":");
                json_text::push_str(out, subscription);
                out.push(b'}');
            });
        }
        out.extend_from_slice(b",\"input\":");
        json_text::push_str(out, self.input);
        out.extend_from_slice(b",\"matched\":");
        json_text::push_array(out, &self.results, |out, r| {
            json_text::push_str(out, &r.subscription)
        });
        if !self.plugin_results.is_empty() {
            out.extend_from_slice(b",\"plugins\":");
            json_text::push_array(out, &self.plugin_results, result);
        }
        out.extend_from_slice(b",\"results\":");
        json_text::push_array(out, &self.results, result);
        out.push(b'}');
    }

    /// The report as the answer shows it, as text.
    pub fn to_text(&self) -> JsonText {
        JsonText::written(ANSWER_ROOM, |out| self.write_json(out))
    }
}

/// The bytes a report's text starts with: the event's ids and 16 results of about 150 bytes.
const ANSWER_ROOM: usize = 2560;

/// As [`EventReport::write_json`] writes it.
impl Serialize for EventReport {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_text().serialize(serializer)
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
    http_response(status, report.to_text().into_string())
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
        let results = json!([
            result("a", None).to_json(),
            result("b", Some("boom")).to_json()
        ]);
        assert_eq!(
            value,
            json!({
                "blocked": {"plugin": "gate", "error": "no \u{1}"},
                "disposition": "redeliver",
                "event": {"id": "e\"1", "source": "/shop", "type": "order.created"},
                "failed": [{"subscription": "b", "next": "retry queued (attempt 3, in 5s)"}],
                "input": "sqs",
                "matched": ["a", "b"],
                "plugins": [result("audit", None).to_json()],
                "results": results,
            })
        );
        assert_eq!(value["results"][1]["error"], "boom");
        assert!(value["results"][0].get("response").is_none());
        let bare = EventReport::undelivered(report.event.clone(), "http", Disposition::Ack, None);
        assert_eq!(
            serde_json::to_string(&bare).unwrap(),
            r#"{"disposition":"ack","event":{"id":"e\"1","source":"/shop","type":"order.created"},"input":"http","matched":[],"results":[]}"#
        );
        let answer = Answer::Report(Box::new(report));
        assert_eq!(serde_json::to_value(&answer).unwrap(), value);
        assert_eq!(answer.into_value(), value);
    }
}
