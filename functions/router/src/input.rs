//! Recognising what the router was invoked with.

use aws_lambda_events::event::sqs::SqsEvent;
use base64::Engine;
use serde_json::Value;

use eventferry_core::retry::RETRY_KEY;

/// One of the inputs the router accepts.
#[derive(Debug)]
pub enum Input {
    /// An SQS event source mapping batch.
    Sqs(SqsEvent),
    /// An HTTP request from a Function URL or API Gateway (REST or HTTP API).
    Http(HttpRequest),
    /// A retry message invoked directly.
    Retry(Value),
    /// A structured CloudEvent (e.g. the driver's `lambda:` sink).
    CloudEvent(Value),
    /// An EventBridge event (the router as a rule target).
    EventBridge(Value),
}

/// The parts of an HTTP request the router reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    /// Header names as sent (API Gateway v1 keeps case; v2 and Function URLs lower-case them).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Why an invoke payload was not recognised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

/// Classifies an invoke payload.
pub fn classify(payload: Value) -> Result<Input, InputError> {
    let Some(map) = payload.as_object() else {
        return Err(unrecognised(&payload));
    };
    if let Some(records) = map.get("Records") {
        let is_sqs = records
            .as_array()
            .and_then(|r| r.first())
            .and_then(|r| r.get("eventSource"))
            .and_then(Value::as_str)
            == Some("aws:sqs");
        if !is_sqs {
            return Err(InputError(
                "the payload has Records but they are not SQS records (eventSource \"aws:sqs\"): \
                 the router accepts SQS batches, EventBridge events, structured CloudEvents \
                 and HTTP requests"
                    .into(),
            ));
        }
        return serde_json::from_value(payload)
            .map(Input::Sqs)
            .map_err(|e| InputError(format!("the SQS batch is malformed: {e}")));
    }
    if map.contains_key("requestContext")
        && (map.contains_key("httpMethod")
            || map
                .get("requestContext")
                .and_then(|c| c.get("http"))
                .is_some())
    {
        return http_request(&payload).map(Input::Http);
    }
    if map.contains_key(RETRY_KEY) {
        return Ok(Input::Retry(payload));
    }
    if map.contains_key("specversion") {
        return Ok(Input::CloudEvent(payload));
    }
    if map.contains_key("detail-type") && map.contains_key("detail") {
        return Ok(Input::EventBridge(payload));
    }
    Err(unrecognised(&payload))
}

fn unrecognised(payload: &Value) -> InputError {
    let keys = payload
        .as_object()
        .map(|m| m.keys().take(8).cloned().collect::<Vec<_>>().join(", "))
        .unwrap_or_else(|| "not an object".into());
    InputError(format!(
        "unrecognised input (top level: {keys}): the router accepts an SQS batch (Records), an \
         EventBridge event (detail-type, detail), a structured CloudEvent (specversion, id, \
         source, type) or an HTTP request from a Function URL or API Gateway"
    ))
}

/// Reads an API Gateway REST (v1), HTTP API (v2) or Function URL request.
fn http_request(payload: &Value) -> Result<HttpRequest, InputError> {
    let method = payload
        .get("httpMethod")
        .or_else(|| payload.pointer("/requestContext/http/method"))
        .and_then(Value::as_str)
        .ok_or_else(|| InputError("the HTTP request has no method".into()))?
        .to_owned();
    let mut headers = Vec::new();
    if let Some(map) = payload.get("multiValueHeaders").and_then(Value::as_object) {
        for (name, values) in map {
            if let Some(values) = values.as_array() {
                let joined: Vec<&str> = values.iter().filter_map(Value::as_str).collect();
                headers.push((name.clone(), joined.join(",")));
            }
        }
    }
    if let Some(map) = payload.get("headers").and_then(Value::as_object) {
        for (name, value) in map {
            if let Some(value) = value.as_str() {
                if !headers
                    .iter()
                    .any(|(k, _): &(String, String)| k.eq_ignore_ascii_case(name))
                {
                    headers.push((name.clone(), value.to_owned()));
                }
            }
        }
    }
    let body = match payload.get("body") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(text)) => {
            if payload.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) {
                base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .map_err(|e| InputError(format!("the HTTP body is not valid base64: {e}")))?
            } else {
                text.clone().into_bytes()
            }
        }
        Some(_) => return Err(InputError("the HTTP body must be a string".into())),
    };
    Ok(HttpRequest {
        method,
        headers,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn recognises_each_input() {
        assert!(matches!(
            classify(
                json!({"Records": [{"eventSource": "aws:sqs", "messageId": "m", "body": "{}"}]})
            ),
            Ok(Input::Sqs(_))
        ));
        assert!(matches!(
            classify(json!({"specversion": "1.0", "id": "1", "source": "s", "type": "t"})),
            Ok(Input::CloudEvent(_))
        ));
        assert!(matches!(
            classify(json!({"id": "1", "detail-type": "x", "source": "s", "detail": {}})),
            Ok(Input::EventBridge(_))
        ));
        assert!(matches!(
            classify(json!({RETRY_KEY: {}})),
            Ok(Input::Retry(_))
        ));
        let v2 = classify(json!({
            "version": "2.0", "requestContext": {"http": {"method": "POST"}},
            "headers": {"content-type": "application/cloudevents+json"},
            "body": "eyJhIjoxfQ==", "isBase64Encoded": true
        }))
        .unwrap();
        let Input::Http(req) = v2 else {
            panic!("not http")
        };
        assert_eq!(req.method, "POST");
        assert_eq!(
            req.header("Content-Type"),
            Some("application/cloudevents+json")
        );
        assert_eq!(req.body, br#"{"a":1}"#);
        let v1 = classify(json!({
            "httpMethod": "POST", "requestContext": {"stage": "prod"},
            "headers": {"Ce-Id": "1"}, "multiValueHeaders": {"Ce-Id": ["1"]}, "body": "x"
        }))
        .unwrap();
        let Input::Http(req) = v1 else {
            panic!("not http")
        };
        assert_eq!(req.headers, vec![("Ce-Id".to_owned(), "1".to_owned())]);
    }

    #[test]
    fn refusals_say_what_is_accepted() {
        let err = classify(json!({"hello": 1})).unwrap_err().to_string();
        assert!(
            err.starts_with("unrecognised input (top level: hello)"),
            "{err}"
        );
        let err = classify(json!([1])).unwrap_err().to_string();
        assert!(err.contains("not an object"));
        let err = classify(json!({"Records": [{"eventSource": "aws:sns"}]}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not SQS records"));
        let err = classify(json!({"requestContext": {"http": {"method": "POST"}}, "body": "!", "isBase64Encoded": true}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not valid base64"));
    }
}
