//! The retry message: one failed (event, subscription) pair as written to the retry or
//! dead-letter queue, marked by [`RETRY_KEY`].

use cloudevents::Event;
use serde_json::{json, Value};

use crate::structured::{parse_structured_value, to_structured_json};

/// Marker key of a retry message.
pub const RETRY_KEY: &str = "eventferry_retry";

/// One failed (event, subscription) pair, as written to the retry or dead-letter queue: the
/// next run invokes that subscription only.
///
/// ```json
/// {"eventferry_retry": {"subscription": "billing", "attempt": 2, "error": "..."},
///  "event": { ...structured CloudEvent... }}
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RetryMessage {
    pub subscription: String,
    /// The attempt this message is for (2 for the first retry).
    pub attempt: u32,
    /// The last error.
    pub error: String,
    pub event: Event,
}

/// A JSON value that has the retry marker but is not a valid retry message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("retry message is invalid: {0}")]
pub struct RetryMessageError(pub String);

impl RetryMessage {
    pub fn to_json(&self) -> Value {
        json!({
            RETRY_KEY: {
                "subscription": self.subscription,
                "attempt": self.attempt,
                "error": self.error,
            },
            "event": to_structured_json(&self.event),
        })
    }

    pub fn to_body(&self) -> String {
        self.to_json().to_string()
    }

    /// `None` if `value` is not a retry message at all.
    pub fn parse(value: &Value) -> Option<Result<RetryMessage, RetryMessageError>> {
        let meta = value.as_object()?.get(RETRY_KEY)?;
        Some((|| {
            let err = |m: &str| RetryMessageError(m.to_owned());
            let subscription = meta
                .get("subscription")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| err("`subscription` must be a non-empty string"))?;
            let attempt = meta
                .get("attempt")
                .and_then(Value::as_u64)
                .filter(|a| (1..=u32::MAX as u64).contains(a))
                .ok_or_else(|| err("`attempt` must be a positive integer"))?;
            let error = meta
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let event = value
                .get("event")
                .ok_or_else(|| err("`event` is missing"))?;
            let event = parse_structured_value(event)
                .map_err(|e| RetryMessageError(format!("`event`: {e}")))?;
            Ok(RetryMessage {
                subscription: subscription.to_owned(),
                attempt: attempt as u32,
                error: error.to_owned(),
                event,
            })
        })())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_messages_round_trip() {
        let m = RetryMessage {
            subscription: "billing".into(),
            attempt: 2,
            error: "Unhandled: boom".into(),
            event: parse_structured_value(&json!({"specversion": "1.0", "id": "1",
                "source": "/shop/eu", "type": "t", "subject": "order/1", "data": {"total": 120}}))
            .unwrap(),
        };
        let back = RetryMessage::parse(&serde_json::from_str(&m.to_body()).unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(back, m);
        assert!(RetryMessage::parse(&json!({"specversion": "1.0"})).is_none());
        assert!(RetryMessage::parse(&json!([1])).is_none());
        let bad = RetryMessage::parse(
            &json!({RETRY_KEY: {"subscription": "s", "attempt": 0}, "event": {}}),
        )
        .unwrap()
        .unwrap_err();
        assert!(bad.to_string().contains("attempt"));
        let bad = RetryMessage::parse(
            &json!({RETRY_KEY: {"subscription": "s", "attempt": 2}, "event": {}}),
        )
        .unwrap()
        .unwrap_err();
        assert!(bad
            .to_string()
            .contains("`event`: structured CloudEvent is missing"));
    }
}
