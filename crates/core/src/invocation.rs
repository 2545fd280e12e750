//! The recorded result of invoking one subscriber, and the labels that name targets and events
//! in results, system events and logs.

use std::sync::Arc;

use cloudevents::{AttributesReader, Event};
use serde_json::{json, Value};

use crate::json_text::{self, JsonText};
#[cfg(doc)]
use crate::subscription::Subscription;
use crate::subscription::{Mode, Target};

/// How one invocation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// A sync target ran and succeeded.
    Succeeded,
    /// An async target accepted the event.
    Accepted,
    /// The target failed, or could not be reached.
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Succeeded => "succeeded",
            Status::Accepted => "accepted",
            Status::Failed => "failed",
        }
    }
}

/// The recorded result of invoking one subscriber: every result is kept (status, duration,
/// error), for the response, system events and logs.
#[derive(Debug, Clone, PartialEq)]
pub struct InvocationResult {
    /// The subscription's name and target, shared with it ([`Subscription::name`]).
    pub subscription: Arc<str>,
    /// The function name/ARN or the URL.
    pub target: Arc<str>,
    pub mode: Mode,
    /// 1 for the first delivery of the event to this subscriber.
    pub attempt: u32,
    pub status: Status,
    /// Lambda's or the HTTP target's status code, when there was an answer.
    pub status_code: Option<u16>,
    pub duration_ms: u64,
    pub error: Option<String>,
    /// The function's JSON answer, when it gave one (kept small by the caller). The router keeps
    /// it only where a system event may carry it: for a plugin, or a sink of whole events.
    pub response: Option<Value>,
}

impl InvocationResult {
    pub fn failed(&self) -> bool {
        self.status == Status::Failed
    }

    /// The result as JSON (for responses and system events).
    pub fn result_json(&self) -> Value {
        let mut v = json!({"status": self.status.as_str(), "mode": self.mode.to_string()});
        if let Some(code) = self.status_code {
            v["status_code"] = code.into();
        }
        if let Some(response) = &self.response {
            v["response"] = response.clone();
        }
        v
    }

    /// Everything, as one JSON object (what [`Serialize`] writes).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("a result serializes")
    }
}

impl InvocationResult {
    /// Appends the result as one JSON object: `attempt`, `duration_ms`, `error` when set,
    /// `mode`, `status`, `status_code` when set, `subscription` and `target`, keys in sorted
    /// order (as a `serde_json::Value` of them would print). Written directly: the router's
    /// answer lists every result.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        // The keys, the longest values and the names: no growing on the way.
        out.reserve(128 + self.subscription.len() + self.target.len());
        out.extend_from_slice(b"{\"attempt\":");
        json_text::push_uint(out, self.attempt.into());
        out.extend_from_slice(b",\"duration_ms\":");
        json_text::push_uint(out, self.duration_ms);
        if let Some(error) = &self.error {
            out.extend_from_slice(b",\"error\":");
            json_text::push_str(out, error);
        }
        out.extend_from_slice(b",\"mode\":\"");
        out.extend_from_slice(self.mode.as_str().as_bytes());
        out.extend_from_slice(b"\",\"status\":\"");
        out.extend_from_slice(self.status.as_str().as_bytes());
        out.push(b'"');
        if let Some(code) = self.status_code {
            out.extend_from_slice(b",\"status_code\":");
            json_text::push_uint(out, code.into());
        }
        out.extend_from_slice(b",\"subscription\":");
        json_text::push_str(out, &self.subscription);
        out.extend_from_slice(b",\"target\":");
        json_text::push_str(out, &self.target);
        out.push(b'}');
    }
}

/// As [`InvocationResult::write_json`] writes it.
impl serde::Serialize for InvocationResult {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        JsonText::written(160, |out| self.write_json(out)).serialize(serializer)
    }
}

/// The target description used in results and system events: the function or the URL,
/// shared with the target.
pub fn target_name(target: &Target) -> Arc<str> {
    match target {
        Target::Function(name) => Arc::clone(name),
        Target::Http { url, .. } => Arc::clone(url),
    }
}

/// A short, log-safe identification of an event.
pub fn event_label(event: &Event) -> String {
    format!("{} {}#{}", event.ty(), event.source(), event.id())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text is what a `serde_json::Value` of the same fields prints (keys sorted), with
    /// and without the optional ones, and escapes as serde_json does.
    #[test]
    fn a_result_writes_as_its_json_value_prints() {
        let mut result = InvocationResult {
            subscription: "orders \"eu\"".into(),
            target: "https://h/x?a=1\\2".into(),
            mode: Mode::Sync,
            attempt: 3,
            status: Status::Failed,
            status_code: Some(502),
            duration_ms: 1234,
            error: Some("boom\n\u{1}é".into()),
            response: Some(json!({"not": "written"})),
        };
        let expected = json!({"attempt": 3, "duration_ms": 1234, "error": "boom\n\u{1}é",
            "mode": "sync", "status": "failed", "status_code": 502,
            "subscription": "orders \"eu\"", "target": "https://h/x?a=1\\2"});
        assert_eq!(
            serde_json::to_string(&result).unwrap(),
            expected.to_string()
        );
        assert_eq!(result.to_json(), expected);
        result.error = None;
        result.status_code = None;
        result.status = Status::Accepted;
        result.mode = Mode::Async;
        let expected = json!({"attempt": 3, "duration_ms": 1234, "mode": "async",
            "status": "accepted", "subscription": "orders \"eu\"", "target": "https://h/x?a=1\\2"});
        assert_eq!(
            serde_json::to_string(&result).unwrap(),
            expected.to_string()
        );
    }
}
