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

use chrono::{DateTime, Utc};
use cloudevents::{AttributesReader, Event, EventBuilder, EventBuilderV10};
use serde_json::{json, Value};

use crate::invocation::InvocationResult;
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

/// The id and time of one system event.
#[derive(Debug, Clone)]
pub struct Stamp {
    pub id: String,
    pub time: DateTime<Utc>,
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
            .id(stamp.id.clone())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invocation::Status;
    use crate::subscription::Mode;

    fn event() -> Event {
        crate::structured::parse_structured(
            br#"{"specversion":"1.0","id":"e1","source":"/shop","type":"com.example.created","data":{"n":1}}"#,
        )
        .unwrap()
    }

    fn stamp() -> Stamp {
        Stamp {
            id: "req-1/0".into(),
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
        assert_eq!(json["id"], "req-1/0");
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
    fn source_must_be_usable() {
        assert!(SystemEvents::new("").is_err());
        assert!(SystemEvents::new("a b").is_err());
    }
}
