//! The recorded result of invoking one subscriber, and the labels that name targets and events
//! in results, system events and logs.

use std::sync::Arc;

use cloudevents::{AttributesReader, Event};
use serde_json::{json, Value};

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

/// `subscription`, `target`, `attempt`, `status`, `mode`, `duration_ms`, and `status_code` and
/// `error` when set; keys in sorted order, as a `serde_json::Value` of them would print. Written
/// directly: the router's answer lists every result, and a `Value` of each would cost a map and
/// a string per key.
impl serde::Serialize for InvocationResult {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let len = 6 + usize::from(self.status_code.is_some()) + usize::from(self.error.is_some());
        let mut map = serializer.serialize_map(Some(len))?;
        map.serialize_entry("attempt", &self.attempt)?;
        map.serialize_entry("duration_ms", &self.duration_ms)?;
        if let Some(error) = &self.error {
            map.serialize_entry("error", error)?;
        }
        map.serialize_entry("mode", self.mode.as_str())?;
        map.serialize_entry("status", self.status.as_str())?;
        if let Some(code) = self.status_code {
            map.serialize_entry("status_code", &code)?;
        }
        map.serialize_entry("subscription", &self.subscription)?;
        map.serialize_entry("target", &self.target)?;
        map.end()
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
