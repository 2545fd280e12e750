//! System events: CloudEvents the router emits about its own work, to a sink (log lines,
//! EventBridge or HTTP) and to plugins.
//!
//! | type | data |
//! |---|---|
//! | `eventferry.event.received` | `{event, source}`: the event as structured JSON, and the input it came from (`sqs`, `eventbridge`, `cloudevent`, `http`) |
//! | `eventferry.function.invoking` | `{subscription, function, event, attempt}` |
//! | `eventferry.function.invoked` | `{subscription, function, event, attempt, result, duration_ms}` |
//! | `eventferry.function.invocationFailed` | `{subscription, function, event, attempt, error, result, duration_ms, retry}` |
//! | `eventferry.event.blocked` | `{event, source, plugin, error}`: a sync plugin on `eventferry.event.received` failed, so the event was not delivered |
//!
//! `function` names the target: a function name or ARN, or the URL of an HTTP target. `retry`
//! says what happens next (`retry queued (attempt N)`, `dead-lettered`, `redelivered by the
//! input`, `dropped: ...`).
//!
//! Construction is pure: the caller passes the id and time (the router uses its request id and
//! the clock), and the `source` of every system event is configured once. A system event carries
//! the trace context (`traceparent`, `tracestate`) of the event it is about, so it joins that
//! event's trace.
//!
//! Building a system event copies the whole event into it, so the router builds one only for a
//! consumer that wants it (a plugin of its type, or a sink that takes whole events). A
//! [`Summary`] is the cheap alternative: the same ids, types, target, outcome and duration
//! without any payload, for compact log lines. [`omit_large_data`] leaves an embedded event's
//! data out of a system event when it is larger than a limit (PutEvents' 256 KB).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use cloudevents::{AttributesReader, Event, EventBuilder, EventBuilderV10};
use serde_json::{json, Value};

use crate::invocation::{InvocationResult, Status};
use crate::structured::to_structured_json;
use crate::trace::copy_trace;

pub use crate::system_types::{
    EVENT_BLOCKED, EVENT_RECEIVED, FUNCTION_INVOCATION_FAILED, FUNCTION_INVOKED, FUNCTION_INVOKING,
    SYSTEM_EVENT_TYPES,
};

/// Default `source` of system events.
pub const DEFAULT_SOURCE: &str = "urn:eventferry:router";

/// Builds system events with one `source`.
#[derive(Debug, Clone)]
pub struct SystemEvents {
    source: String,
}

impl Default for SystemEvents {
    fn default() -> Self {
        SystemEvents {
            source: DEFAULT_SOURCE.to_owned(),
        }
    }
}

/// The id and time of one system event. The id is `<request>-<seq>`, made into text only where
/// it is written ([`Stamp::id`], [`Summary::id`]): a summary costs no allocation for it.
#[derive(Debug, Clone)]
pub struct Stamp {
    /// The request id of the invocation, shared by its system events.
    pub request: Arc<str>,
    /// The system event's place in the invocation, from 0.
    pub seq: u64,
    pub time: DateTime<Utc>,
}

impl Stamp {
    /// `<request>-<seq>`.
    pub fn id(&self) -> String {
        system_event_id(&self.request, self.seq)
    }
}

fn system_event_id(request: &str, seq: u64) -> String {
    [request, "-", itoa::Buffer::new().format(seq)].concat()
}

impl SystemEvents {
    /// System events with this `source` (a non-empty URI-reference, e.g. the router's ARN).
    pub fn new(source: &str) -> Result<Self, String> {
        if source.is_empty() || source.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "system event source {source:?} is invalid: use a non-empty URI-reference \
                 without spaces, e.g. {DEFAULT_SOURCE}"
            ));
        }
        Ok(SystemEvents {
            source: source.to_owned(),
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    fn build(&self, stamp: &Stamp, ty: &str, subject: &Event, data: Value) -> Event {
        let mut event = EventBuilderV10::new()
            .id(stamp.id())
            .ty(ty)
            .source(self.source.clone())
            .time(stamp.time)
            .subject(format!("{}#{}", subject.source(), subject.id()))
            .data("application/json", data)
            .build()
            .expect("id, type, source and time are always set");
        copy_trace(subject, &mut event);
        event
    }

    /// `eventferry.event.received`: `input` is where the event came from.
    pub fn received(&self, stamp: &Stamp, event: &Event, input: &str) -> Event {
        self.build(
            stamp,
            EVENT_RECEIVED,
            event,
            json!({"event": to_structured_json(event), "source": input}),
        )
    }

    /// `eventferry.event.blocked`: sync plugin `plugin` failed on `eventferry.event.received`.
    pub fn blocked(
        &self,
        stamp: &Stamp,
        event: &Event,
        input: &str,
        plugin: &str,
        error: &str,
    ) -> Event {
        self.build(
            stamp,
            EVENT_BLOCKED,
            event,
            json!({"event": to_structured_json(event), "source": input, "plugin": plugin, "error": error}),
        )
    }

    /// `eventferry.function.invoking`.
    pub fn invoking(
        &self,
        stamp: &Stamp,
        event: &Event,
        subscription: &str,
        function: &str,
        attempt: u32,
    ) -> Event {
        self.build(
            stamp,
            FUNCTION_INVOKING,
            event,
            json!({
                "subscription": subscription,
                "function": function,
                "event": to_structured_json(event),
                "attempt": attempt,
            }),
        )
    }

    /// `eventferry.function.invoked` for a success, `eventferry.function.invocationFailed`
    /// for a failure; `retry` says what happens to a failure next.
    pub fn outcome(
        &self,
        stamp: &Stamp,
        event: &Event,
        result: &InvocationResult,
        retry: Option<&str>,
    ) -> Event {
        let mut data = json!({
            "subscription": result.subscription,
            "function": result.target,
            "event": to_structured_json(event),
            "attempt": result.attempt,
            "result": result.result_json(),
            "duration_ms": result.duration_ms,
        });
        let ty = match &result.error {
            None => FUNCTION_INVOKED,
            Some(error) => {
                data["error"] = Value::String(error.clone());
                if let Some(retry) = retry {
                    data["retry"] = Value::String(retry.to_owned());
                }
                FUNCTION_INVOCATION_FAILED
            }
        };
        self.build(stamp, ty, event, data)
    }
}

/// The event summaries are about: `subject` (`<event source>#<event id>`) and `event_type`,
/// shared by all its summaries rather than copied into each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct About {
    pub subject: Arc<str>,
    pub event_type: Arc<str>,
}

impl About {
    pub fn new(event: &Event) -> About {
        About {
            subject: [event.source().as_str(), "#", event.id()].concat().into(),
            event_type: event.ty().into(),
        }
    }

    /// Whether `event` has this subject text and type.
    pub fn is(&self, event: &Event) -> bool {
        let (source, id) = (event.source().as_str(), event.id());
        *self.event_type == *event.ty()
            && self.subject.len() == source.len() + 1 + id.len()
            && self.subject.starts_with(source)
            && self.subject[source.len()..].starts_with('#')
            && self.subject.ends_with(id)
    }
}

/// One system event without its payloads: what the compact log line of it shows. `id` and `ty`
/// are the system event's own; `subject` (`<event source>#<event id>`) and `event_type` name the
/// event it is about ([`About`]); the other fields are set where the type has them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The system event's id is `<request>-<seq>` ([`Summary::id`]).
    pub request: Arc<str>,
    pub seq: u64,
    pub ty: &'static str,
    pub subject: Arc<str>,
    pub event_type: Arc<str>,
    /// `received`, `blocked`: the input the event came from.
    pub input: Option<&'static str>,
    /// `invoking`, `invoked`, `invocationFailed`; shared with the subscription.
    pub subscription: Option<Arc<str>>,
    pub target: Option<Arc<str>>,
    pub attempt: Option<u32>,
    /// `invoked`, `invocationFailed`.
    pub status: Option<Status>,
    pub status_code: Option<u16>,
    pub duration_ms: Option<u64>,
    /// `invocationFailed`, `blocked`.
    pub error: Option<String>,
    /// `invocationFailed`: what happens next.
    pub retry: Option<String>,
    /// `blocked`: the sync plugin that blocked the event.
    pub plugin: Option<String>,
}

impl Summary {
    fn new(stamp: Stamp, ty: &'static str, about: &About) -> Summary {
        Summary {
            request: stamp.request,
            seq: stamp.seq,
            ty,
            subject: Arc::clone(&about.subject),
            event_type: Arc::clone(&about.event_type),
            input: None,
            subscription: None,
            target: None,
            attempt: None,
            status: None,
            status_code: None,
            duration_ms: None,
            error: None,
            retry: None,
            plugin: None,
        }
    }

    /// The system event's id, `<request>-<seq>`.
    pub fn id(&self) -> String {
        system_event_id(&self.request, self.seq)
    }

    /// The summary of [`SystemEvents::received`].
    pub fn received(stamp: Stamp, about: &About, input: &'static str) -> Summary {
        Summary {
            input: Some(input),
            ..Summary::new(stamp, EVENT_RECEIVED, about)
        }
    }

    /// The summary of [`SystemEvents::blocked`].
    pub fn blocked(
        stamp: Stamp,
        about: &About,
        input: &'static str,
        plugin: &str,
        error: &str,
    ) -> Summary {
        Summary {
            input: Some(input),
            plugin: Some(plugin.to_owned()),
            error: Some(error.to_owned()),
            ..Summary::new(stamp, EVENT_BLOCKED, about)
        }
    }

    /// The summary of [`SystemEvents::invoking`].
    pub fn invoking(
        stamp: Stamp,
        about: &About,
        subscription: &str,
        function: &str,
        attempt: u32,
    ) -> Summary {
        Summary {
            subscription: Some(subscription.into()),
            target: Some(function.into()),
            attempt: Some(attempt),
            ..Summary::new(stamp, FUNCTION_INVOKING, about)
        }
    }

    /// The summary of [`SystemEvents::outcome`].
    pub fn outcome(
        stamp: Stamp,
        about: &About,
        result: &InvocationResult,
        retry: Option<&str>,
    ) -> Summary {
        let ty = match result.error {
            None => FUNCTION_INVOKED,
            Some(_) => FUNCTION_INVOCATION_FAILED,
        };
        Summary {
            subscription: Some(result.subscription.clone()),
            target: Some(result.target.clone()),
            attempt: Some(result.attempt),
            status: Some(result.status),
            status_code: result.status_code,
            duration_ms: Some(result.duration_ms),
            error: result.error.clone(),
            retry: result.error.as_ref().and(retry.map(str::to_owned)),
            ..Summary::new(stamp, ty, about)
        }
    }

    /// The summary as one JSON object, without the fields its type does not have.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "id": self.id(),
            "type": self.ty,
            "subject": &*self.subject,
            "event_type": &*self.event_type,
        });
        let mut put = |k: &str, value: Option<Value>| {
            if let Some(value) = value {
                v[k] = value;
            }
        };
        put("input", self.input.map(Value::from));
        put(
            "subscription",
            self.subscription.as_deref().map(Value::from),
        );
        put("function", self.target.as_deref().map(Value::from));
        put("attempt", self.attempt.map(Value::from));
        put("status", self.status.map(|s| s.as_str().into()));
        put("status_code", self.status_code.map(Value::from));
        put("duration_ms", self.duration_ms.map(Value::from));
        put("error", self.error.as_deref().map(Value::from));
        put("retry", self.retry.as_deref().map(Value::from));
        put("plugin", self.plugin.as_deref().map(Value::from));
        v
    }
}

/// The embedded event data a system event sent to PutEvents keeps, at most (bytes of JSON).
pub const MAX_EMBEDDED_DATA: usize = 32 * 1024;

/// Leaves the embedded event's data out of `system`, a system event in structured JSON form,
/// when that data is larger than `max_bytes` (as JSON text; `data_base64` counts its text): the
/// embedded event (`data.event`) loses `data` (or `data_base64`) and gets the extensions
/// `dataomitted` = `true` and `datasize` = the size left out. Returns that size, or `None` when
/// nothing was left out.
pub fn omit_large_data(system: &mut Value, max_bytes: usize) -> Option<usize> {
    let embedded = system.get_mut("data")?.get_mut("event")?.as_object_mut()?;
    let key = ["data", "data_base64"]
        .into_iter()
        .find(|k| embedded.contains_key(*k))?;
    let size = json_size(&embedded[key]);
    if size <= max_bytes {
        return None;
    }
    embedded.remove(key);
    embedded.insert("dataomitted".into(), Value::Bool(true));
    embedded.insert("datasize".into(), size.into());
    Some(size)
}

/// The length of `value` as compact JSON text, without building the text.
fn json_size(value: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    serde_json::to_writer(&mut count, value).expect("JSON values serialize");
    count.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::subscription::Mode;

    fn event() -> Event {
        crate::structured::parse_structured(
            br#"{"specversion":"1.0","id":"e1","source":"/shop","type":"com.example.created","data":{"n":1}}"#,
        )
        .unwrap()
    }

    fn stamp() -> Stamp {
        Stamp {
            request: "req-1".into(),
            seq: 0,
            time: "2024-05-01T10:00:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn received_carries_the_event_and_its_input() {
        let system = SystemEvents::new("urn:test").unwrap();
        let e = system.received(&stamp(), &event(), "sqs");
        let json = to_structured_json(&e);
        assert_eq!(json["type"], EVENT_RECEIVED);
        assert_eq!(json["source"], "urn:test");
        assert_eq!(json["id"], "req-1-0");
        assert_eq!(json["subject"], "/shop#e1");
        assert_eq!(json["data"]["source"], "sqs");
        assert_eq!(json["data"]["event"]["id"], "e1");
        assert_eq!(json["data"]["event"]["data"], json!({"n": 1}));
    }

    #[test]
    fn system_events_carry_the_trace_of_their_event() {
        let system = SystemEvents::default();
        let untraced = system.received(&stamp(), &event(), "sqs");
        assert_eq!(to_structured_json(&untraced).get("traceparent"), None);
        let mut traced = event();
        let parent = "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01";
        traced.set_extension("traceparent", parent);
        traced.set_extension("tracestate", "congo=t61rcWkgMzE");
        for e in [
            system.received(&stamp(), &traced, "sqs"),
            system.blocked(&stamp(), &traced, "sqs", "p", "boom"),
            system.invoking(&stamp(), &traced, "s", "f", 1),
        ] {
            let json = to_structured_json(&e);
            assert_eq!(json["traceparent"], parent, "{json}");
            assert_eq!(json["tracestate"], "congo=t61rcWkgMzE", "{json}");
        }
    }

    #[test]
    fn outcomes_are_invoked_or_failed() {
        let system = SystemEvents::default();
        let ok = InvocationResult {
            subscription: "s".into(),
            target: "recorder".into(),
            mode: Mode::Sync,
            attempt: 1,
            status: Status::Succeeded,
            status_code: Some(200),
            duration_ms: 12,
            error: None,
            response: Some(json!({"ok": true})),
        };
        let e = to_structured_json(&system.outcome(&stamp(), &event(), &ok, None));
        assert_eq!(e["type"], FUNCTION_INVOKED);
        assert_eq!(e["data"]["result"]["status"], "succeeded");
        assert_eq!(e["data"]["result"]["response"], json!({"ok": true}));
        assert_eq!(e["data"]["duration_ms"], 12);
        assert!(e["data"].get("error").is_none());

        let failed = InvocationResult {
            status: Status::Failed,
            status_code: Some(500),
            error: Some("Unhandled: boom".into()),
            ..ok
        };
        let e = to_structured_json(&system.outcome(
            &stamp(),
            &event(),
            &failed,
            Some("retry queued (attempt 2)"),
        ));
        assert_eq!(e["type"], FUNCTION_INVOCATION_FAILED);
        assert_eq!(e["data"]["error"], "Unhandled: boom");
        assert_eq!(e["data"]["retry"], "retry queued (attempt 2)");
        assert_eq!(e["data"]["result"]["status_code"], 500);

        let invoking = to_structured_json(&system.invoking(&stamp(), &event(), "s", "recorder", 1));
        assert_eq!(invoking["type"], FUNCTION_INVOKING);
        assert_eq!(invoking["data"]["function"], "recorder");
        let blocked = to_structured_json(&system.blocked(&stamp(), &event(), "http", "gate", "no"));
        assert_eq!(blocked["type"], EVENT_BLOCKED);
        assert_eq!(blocked["data"]["plugin"], "gate");
    }

    #[test]
    fn summaries_say_what_the_system_events_say_without_payloads() {
        let system = SystemEvents::default();
        let result = InvocationResult {
            subscription: "s".into(),
            target: "recorder".into(),
            mode: Mode::Sync,
            attempt: 2,
            status: Status::Failed,
            status_code: Some(500),
            duration_ms: 7,
            error: Some("Unhandled: boom".into()),
            response: Some(json!({"big": "answer"})),
        };
        let full =
            to_structured_json(&system.outcome(&stamp(), &event(), &result, Some("dead-lettered")));
        let summary = Summary::outcome(
            stamp(),
            &About::new(&event()),
            &result,
            Some("dead-lettered"),
        );
        let compact = summary.to_json();
        assert_eq!(compact["id"], full["id"]);
        assert_eq!(compact["type"], full["type"]);
        assert_eq!(compact["subject"], full["subject"]);
        assert_eq!(compact["event_type"], "com.example.created");
        for k in [
            "subscription",
            "function",
            "attempt",
            "duration_ms",
            "error",
            "retry",
        ] {
            assert_eq!(compact[k], full["data"][k], "{k}");
        }
        assert_eq!(compact["status"], "failed");
        assert_eq!(compact["status_code"], 500);
        assert!(compact.get("event").is_none() && compact.get("response").is_none());
        let ok = Summary::outcome(
            stamp(),
            &About::new(&event()),
            &InvocationResult {
                error: None,
                status: Status::Succeeded,
                ..result
            },
            Some("x"),
        );
        assert_eq!(ok.ty, FUNCTION_INVOKED);
        assert_eq!(ok.retry, None);
        let received = Summary::received(stamp(), &About::new(&event()), "sqs").to_json();
        assert_eq!(
            received,
            json!({"id": "req-1-0", "type": EVENT_RECEIVED, "subject": "/shop#e1",
                   "event_type": "com.example.created", "input": "sqs"})
        );
        let blocked =
            Summary::blocked(stamp(), &About::new(&event()), "http", "gate", "no").to_json();
        assert_eq!(
            (&blocked["plugin"], &blocked["error"]),
            (&json!("gate"), &json!("no"))
        );
        let invoking = Summary::invoking(stamp(), &About::new(&event()), "s", "f", 1).to_json();
        assert_eq!(invoking["type"], FUNCTION_INVOKING);
        assert_eq!(invoking["function"], "f");
    }

    #[test]
    fn large_embedded_data_is_left_out_and_said_so() {
        let system = SystemEvents::default();
        let big = crate::structured::parse_structured_value(&json!({
            "specversion": "1.0", "id": "e2", "source": "/shop", "type": "t",
            "data": {"blob": "x".repeat(40_000)}
        }))
        .unwrap();
        let mut json = to_structured_json(&system.received(&stamp(), &big, "sqs"));
        assert_eq!(omit_large_data(&mut json, MAX_EMBEDDED_DATA), Some(40_011));
        assert_eq!(json["data"]["event"]["dataomitted"], true);
        assert_eq!(json["data"]["event"]["datasize"], 40_011);
        assert!(json["data"]["event"].get("data").is_none());
        assert_eq!(json["data"]["event"]["id"], "e2");
        assert!(json.to_string().len() < 1_000);
        // Small data stays, and so does an event without data.
        let mut small = to_structured_json(&system.received(&stamp(), &event(), "sqs"));
        let before = small.clone();
        assert_eq!(omit_large_data(&mut small, MAX_EMBEDDED_DATA), None);
        assert_eq!(small, before);
        let mut binary = json!({"data": {"event": {"id": "b", "data_base64": "QUJD"}}});
        assert_eq!(omit_large_data(&mut binary, 3), Some(6));
        assert!(binary["data"]["event"].get("data_base64").is_none());
        assert_eq!(
            omit_large_data(&mut json!({"data": {"event": {"id": "n"}}}), 0),
            None
        );
    }

    #[test]
    fn source_must_be_usable() {
        assert!(SystemEvents::new("").is_err());
        assert!(SystemEvents::new("a b").is_err());
    }

    #[test]
    fn about_is_the_subject_text_and_type() {
        use cloudevents::AttributesWriter;
        let e = event();
        let about = About::new(&e);
        assert_eq!(&*about.subject, "/shop#e1");
        assert!(about.is(&e));
        let mut other = e.clone();
        other.set_id("e2");
        assert!(!about.is(&other));
        let mut other = e.clone();
        other.set_type("other.type");
        assert!(!about.is(&other));
    }
}
