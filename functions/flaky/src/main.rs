//! `flaky`: an example subscriber that fails on demand, statelessly. It fails (a handler error,
//! which Lambda reports as a function error) when the CloudEvent's `data.fail` is `true`, or
//! when its `type` is listed in `FLAKY_FAIL_TYPES` (comma-separated); otherwise it succeeds.
//!
//! If `FLAKY_QUEUE_URL` is set, every invocation is recorded there first, as
//! `{"function": "flaky", "id", "type", "outcome": "failed" | "succeeded"}`, so a test can see
//! how often it ran.

use eventferry_router::adapters::SqsWriter;
use eventferry_router::ports::QueueWriter;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

/// Why the event must fail, if it must.
fn failure(event: &Value, fail_types: &[String]) -> Option<String> {
    let ty = event
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if event.pointer("/data/fail") == Some(&Value::Bool(true)) {
        return Some("data.fail is true".into());
    }
    if fail_types.iter().any(|t| t == ty) {
        return Some(format!("type {ty} is listed in FLAKY_FAIL_TYPES"));
    }
    None
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let fail_types: Vec<String> = std::env::var("FLAKY_FAIL_TYPES")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    let queue_url = std::env::var("FLAKY_QUEUE_URL")
        .ok()
        .filter(|v| !v.trim().is_empty());
    let aws = eventferry_aws::load(&Default::default()).await;
    let sqs = SqsWriter::new(&aws);
    let (sqs, queue_url, fail_types) = (&sqs, queue_url.as_deref(), fail_types.as_slice());
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let payload = event.payload;
        let id = payload.get("id").cloned().unwrap_or(Value::Null);
        let reason = failure(&payload, fail_types);
        if let Some(url) = queue_url {
            let record = json!({
                "function": "flaky",
                "id": id,
                "type": payload.get("type"),
                "outcome": if reason.is_some() { "failed" } else { "succeeded" },
            });
            sqs.send(url, record.to_string(), 0)
                .await
                .map_err(Error::from)?;
        }
        match reason {
            Some(reason) => Err(Error::from(format!(
                "flaky: failing on purpose for event {id}: {reason}"
            ))),
            None => Ok(json!({"ok": id})),
        }
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fails_on_demand_only() {
        let types = vec!["com.example.broken".to_owned()];
        assert_eq!(
            failure(&json!({"type": "t", "data": {"fail": true}}), &types).as_deref(),
            Some("data.fail is true")
        );
        assert!(failure(&json!({"type": "com.example.broken"}), &types).is_some());
        assert_eq!(
            failure(&json!({"type": "t", "data": {"fail": "yes"}}), &types),
            None
        );
        assert_eq!(failure(&json!({"type": "t"}), &types), None);
    }
}
