//! Any SQS message body maps to a CloudEvent 1.0 without panicking, and a body that is not JSON
//! maps to `com.amazon.sqs.message` with the body as its data. The verbatim mapping gives the
//! same event, its JSON data being the body's bytes.
//!
//! Run: `cd crates/core/fuzz && cargo +nightly fuzz run sqs_to_cloudevent`.
#![no_main]

use cloudevents::{AttributesReader, Data};
use eventferry_core::mapping::{
    from_sqs_message, from_sqs_message_verbatim, MappingOptions, SqsMessage,
};
use eventferry_core::structured::to_structured_json;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // SQS bodies are text; the driver receives them as UTF-8 strings.
    let body = String::from_utf8_lossy(data);
    let message = SqsMessage {
        body: &body,
        message_id: "0b5f6c3e-0000-4000-8000-000000000001",
        queue_arn: "arn:aws:sqs:us-east-1:000000000000:q",
        sent_timestamp: Some(1_700_000_000_000),
        trace_header: None,
    };
    let event = from_sqs_message(&message, &MappingOptions::default())
        .expect("a message with an id and a queue ARN always maps");
    let json = to_structured_json(&event);
    assert_eq!(json["specversion"], "1.0");
    for attr in ["id", "source", "type"] {
        assert!(
            json[attr].as_str().is_some_and(|s| !s.is_empty()),
            "{attr}: {json}"
        );
    }
    if serde_json::from_str::<serde_json::Value>(&body).is_err() {
        assert_eq!(json["type"], "com.amazon.sqs.message");
        assert_eq!(json["data"], serde_json::Value::String(body.to_string()));
    }
    let mut verbatim = from_sqs_message_verbatim(&message, &MappingOptions::default())
        .expect("a message with an id and a queue ARN always maps");
    if let Some(Data::Binary(bytes)) = verbatim.data() {
        assert_eq!(bytes, body.as_bytes());
        assert_eq!(verbatim.datacontenttype(), Some("application/json"));
        let parsed: serde_json::Value = serde_json::from_slice(bytes).expect("JSON data");
        verbatim.set_data("application/json", parsed);
    }
    assert_eq!(verbatim, event);
});
