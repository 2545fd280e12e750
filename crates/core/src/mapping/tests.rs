use super::eventbridge::JSON;
use super::sqs::TEXT;
use super::*;
use crate::structured::{
    parse_structured, parse_structured_value, to_structured_bytes, to_structured_json,
};
use chrono::{DateTime, Utc};
use cloudevents::{AttributesReader, Data, Event};
use serde_json::{json, Value};

const QUEUE_ARN: &str = "arn:aws:sqs:eu-west-1:123456789012:eventferry-orders";

fn s3_event() -> Value {
    json!({
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2021-11-12T00:00:00Z",
        "region": "ca-central-1",
        "resources": ["arn:aws:s3:::example-bucket"],
        "detail": {
            "version": "0",
            "bucket": {"name": "example-bucket"},
            "object": {"key": "example-key", "size": 5, "etag": "b1946ac92492d2347c6235b4d2611184"},
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": "123456789012",
            "source-ip-address": "1.2.3.4",
            "reason": "PutObject"
        }
    })
}

fn scheduled_event() -> Value {
    json!({
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2015-10-08T16:53:06Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/my-scheduled-rule"],
        "detail": {}
    })
}

fn structured_event() -> Value {
    json!({
        "specversion": "1.0",
        "id": "order-42",
        "source": "/shop/orders",
        "type": "com.example.order.created",
        "time": "2024-05-01T10:00:00.123Z",
        "subject": "order/42",
        "datacontenttype": "application/json",
        "tenant": "acme",
        "priority": 3,
        "urgent": false,
        "data": {"total": 12.5, "items": ["a", "b"]}
    })
}

fn message(body: &str) -> SqsMessage<'_> {
    SqsMessage {
        body,
        message_id: "0d5a9b1c-6f6e-4c1a-9d7b-2f1b3c4d5e6f",
        queue_arn: QUEUE_ARN,
        sent_timestamp: Some(1_700_000_000_123),
        trace_header: None,
    }
}

fn map(body: &str) -> Event {
    from_sqs_message(&message(body), &MappingOptions::default()).unwrap()
}

fn time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

fn ext<'a>(event: &'a Event, name: &str) -> Option<&'a str> {
    match event.extension(name)? {
        cloudevents::event::ExtensionValue::String(value) => Some(value),
        other => panic!("extension {name} is {other:?}"),
    }
}

#[test]
fn eventbridge_event_maps_with_its_own_id_and_time() {
    let envelope = s3_event();
    let event = map(&envelope.to_string());
    assert_eq!(event.id(), "17793124-05d4-b198-2fde-7ededc63b103");
    assert_eq!(event.time(), Some(&time("2021-11-12T00:00:00Z")));
    assert_eq!(event.ty(), "aws.s3");
    assert_eq!(
        event.source(),
        "arn:aws:events:ca-central-1:123456789012:event-bus/default"
    );
    assert_eq!(event.subject(), Some("arn:aws:s3:::example-bucket"));
    assert_eq!(event.datacontenttype(), Some(JSON));
    assert_eq!(event.data(), Some(&Data::Json(envelope)));
    assert_eq!(ext(&event, EXT_DETAIL_TYPE), Some("Object Created"));
    assert_eq!(ext(&event, EXT_ACCOUNT), Some("123456789012"));
    assert_eq!(ext(&event, EXT_REGION), Some("ca-central-1"));
    assert_eq!(event.iter_extensions().count(), 3);
}

#[test]
fn scheduled_event_maps_like_any_eventbridge_event() {
    let event = map(&scheduled_event().to_string());
    assert_eq!(event.id(), "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa");
    assert_eq!(event.ty(), "aws.events");
    assert_eq!(event.time(), Some(&time("2015-10-08T16:53:06Z")));
    assert_eq!(ext(&event, EXT_DETAIL_TYPE), Some("Scheduled Event"));
    assert_eq!(
        event.subject(),
        Some("arn:aws:events:us-east-1:123456789012:rule/my-scheduled-rule")
    );
}

#[test]
fn subject_only_for_exactly_one_resource() {
    let mut envelope = s3_event();
    for resources in [json!([]), json!(["a", "b"]), json!([""])] {
        envelope["resources"] = resources.clone();
        let event = from_eventbridge(envelope.clone(), &MappingOptions::default()).unwrap();
        assert_eq!(event.subject(), None, "{resources}");
    }
    envelope.as_object_mut().unwrap().remove("resources");
    envelope.as_object_mut().unwrap().remove("version");
    let event = from_eventbridge(envelope, &MappingOptions::default()).unwrap();
    assert_eq!((event.ty(), event.subject()), ("aws.s3", None));
}

#[test]
fn type_format_renders_placeholders() {
    for (template, expected) in [
        ("{source}", "aws.s3"),
        ("{source}.{detail-type}", "aws.s3.Object Created"),
        (
            "{account}/{region}/{source}",
            "123456789012/ca-central-1/aws.s3",
        ),
        (
            "com.example.{detail-type}.v1",
            "com.example.Object Created.v1",
        ),
        ("constant", "constant"),
    ] {
        let format = TypeFormat::new(template).unwrap();
        assert_eq!(format.as_str(), template);
        let options = MappingOptions::default().with_type_format(format);
        let event = from_eventbridge(s3_event(), &options).unwrap();
        assert_eq!(event.ty(), expected, "{template}");
    }
    assert_eq!(TypeFormat::default(), "{source}".parse().unwrap());
    assert_eq!(TypeFormat::default().to_string(), "{source}");
}

#[test]
fn type_format_errors_say_what_is_allowed() {
    for (template, expected) in [
        (
            "{source}.{detail}",
            "type format \"{source}.{detail}\" has unknown placeholder {detail}: \
                 use {source}, {detail-type}, {account} or {region}",
        ),
        (
            "{{source}}",
            "type format \"{{source}}\" has unknown placeholder {{source}: \
                 use {source}, {detail-type}, {account} or {region}",
        ),
        (
            "{source",
            "type format \"{source\" has an unmatched '{': write placeholders as {name}, \
                 e.g. \"{source}.{detail-type}\"; braces can't appear otherwise",
        ),
        (
            "source}",
            "type format \"source}\" has an unmatched '}': write placeholders as {name}, \
                 e.g. \"{source}.{detail-type}\"; braces can't appear otherwise",
        ),
        (
            "",
            "type format is empty: use e.g. \"{source}\" or \"{source}.{detail-type}\"",
        ),
    ] {
        assert_eq!(
            TypeFormat::new(template).unwrap_err().to_string(),
            expected,
            "{template:?}"
        );
    }
}

#[test]
fn source_override_and_event_bus() {
    let options = MappingOptions::default().with_event_bus("orders").unwrap();
    let event = from_eventbridge(s3_event(), &options).unwrap();
    assert_eq!(
        event.source(),
        "arn:aws:events:ca-central-1:123456789012:event-bus/orders"
    );

    let options = options.with_source("urn:eventferry:orders").unwrap();
    assert_eq!(
        from_eventbridge(s3_event(), &options).unwrap().source(),
        "urn:eventferry:orders"
    );
    let generic = from_sqs_message(&message("hi"), &options).unwrap();
    assert_eq!(generic.source(), "urn:eventferry:orders");
    // A structured CloudEvent keeps its own source.
    let passed = from_sqs_message(&message(&structured_event().to_string()), &options);
    assert_eq!(passed.unwrap().source(), "/shop/orders");
}

#[test]
fn invalid_options_are_rejected() {
    for source in ["", "has space", "tab\there", "nl\n"] {
        assert_eq!(
            MappingOptions::default().with_source(source).unwrap_err(),
            ConfigError::Source(source.to_owned())
        );
    }
    let long = "b".repeat(257);
    for bus in ["", "bad bus", "bus*", long.as_str()] {
        assert_eq!(
            MappingOptions::default().with_event_bus(bus).unwrap_err(),
            ConfigError::EventBus(bus.to_owned())
        );
    }
    assert!(MappingOptions::default()
        .with_event_bus("aws.partner/example.com/123/orders")
        .is_ok());
    assert_eq!(
        ConfigError::EventBus("bad bus".into()).to_string(),
        "event bus name \"bad bus\" is invalid: use 1-256 characters from A-Z a-z 0-9 . - _ /"
    );
}

#[test]
fn structured_cloudevent_passes_through() {
    let body = structured_event().to_string();
    let event = map(&body);
    assert_eq!(event, parse_structured(body.as_bytes()).unwrap());
    assert_eq!(event.id(), "order-42");
    assert_eq!(event.ty(), "com.example.order.created");
    assert_eq!(event.time(), Some(&time("2024-05-01T10:00:00.123Z")));
    assert_eq!(event.subject(), Some("order/42"));
    assert_eq!(ext(&event, "tenant"), Some("acme"));
    assert_eq!(
        event.extension("priority"),
        Some(&cloudevents::event::ExtensionValue::Integer(3))
    );
    assert_eq!(
        event.data(),
        Some(&Data::Json(json!({"total": 12.5, "items": ["a", "b"]})))
    );
}

#[test]
fn generic_mapping_uses_message_metadata() {
    let event = map("plain text");
    assert_eq!(event.id(), "0d5a9b1c-6f6e-4c1a-9d7b-2f1b3c4d5e6f");
    assert_eq!(event.ty(), SQS_MESSAGE_TYPE);
    assert_eq!(event.source(), QUEUE_ARN);
    assert_eq!(event.time(), Some(&time("2023-11-14T22:13:20.123Z")));
    assert_eq!(event.datacontenttype(), Some(TEXT));
    assert_eq!(event.data(), Some(&Data::String("plain text".into())));
    assert_eq!(event.subject(), None);
    assert_eq!(event.iter_extensions().count(), 0);

    let event = map(r#"{"order": 42}"#);
    assert_eq!(event.datacontenttype(), Some(JSON));
    assert_eq!(event.data(), Some(&Data::Json(json!({"order": 42}))));
}

#[test]
fn generic_mapping_without_sent_timestamp_has_no_time() {
    let msg = SqsMessage {
        sent_timestamp: None,
        trace_header: None,
        ..message("x")
    };
    let event = from_sqs_message(&msg, &MappingOptions::default()).unwrap();
    assert_eq!(event.time(), None);
}

#[test]
fn generic_mapping_metadata_errors() {
    let options = MappingOptions::default();
    let cases = [
        (
            SqsMessage {
                message_id: "",
                ..message("x")
            },
            MessageError::EmptyMessageId,
        ),
        (
            SqsMessage {
                queue_arn: "",
                ..message("x")
            },
            MessageError::EmptyQueueArn,
        ),
        (
            SqsMessage {
                sent_timestamp: Some(-1),
                trace_header: None,
                ..message("x")
            },
            MessageError::SentTimestamp {
                message_id: "0d5a9b1c-6f6e-4c1a-9d7b-2f1b3c4d5e6f".into(),
                millis: -1,
            },
        ),
        (
            SqsMessage {
                sent_timestamp: Some(i64::MAX),
                trace_header: None,
                ..message("x")
            },
            MessageError::SentTimestamp {
                message_id: "0d5a9b1c-6f6e-4c1a-9d7b-2f1b3c4d5e6f".into(),
                millis: i64::MAX,
            },
        ),
    ];
    for (msg, expected) in cases {
        assert_eq!(from_sqs_message(&msg, &options).unwrap_err(), expected);
    }
    // An override replaces the missing queue ARN; an EventBridge body needs no metadata.
    let no_arn = SqsMessage {
        queue_arn: "",
        ..message("x")
    };
    let options = options.with_source("urn:x").unwrap();
    assert!(from_sqs_message(&no_arn, &options).is_ok());
    let body = s3_event().to_string();
    let bare = SqsMessage {
        body: &body,
        message_id: "",
        queue_arn: "",
        sent_timestamp: Some(-1),
        trace_header: None,
    };
    assert!(from_sqs_message(&bare, &MappingOptions::default()).is_ok());
    assert_eq!(
        MessageError::SentTimestamp {
            message_id: "m".into(),
            millis: -1
        }
        .to_string(),
        "SentTimestamp -1 of SQS message \"m\" is not a valid time: \
             pass milliseconds since the Unix epoch, e.g. 1700000000000"
    );
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    EventBridge,
    CloudEvent,
    Json,
    Text,
}

fn with(mut value: Value, key: &str, new: Value) -> String {
    value[key] = new;
    value.to_string()
}

fn without(mut value: Value, key: &str) -> String {
    value.as_object_mut().unwrap().remove(key);
    value.to_string()
}

#[test]
fn any_body_maps_without_panicking() {
    let deep_arrays = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let deep_objects = format!("{}1{}", r#"{"a":"#.repeat(10_000), "}".repeat(10_000));
    let nested_100 = format!("{}{}", "[".repeat(100), "]".repeat(100));
    let big_text = "x".repeat(256 * 1024);
    let big_json = format!("[{}0]", "1234567,".repeat(256 * 1024 / 8));
    let big_string_json = format!("\"{}\"", "é".repeat(128 * 1024 - 1));
    let s3 = s3_event;
    let ce = structured_event;
    let rows: Vec<(&str, String, Kind)> = vec![
        ("empty", String::new(), Kind::Text),
        ("whitespace", " \n\t ".into(), Kind::Text),
        ("text", "hello world".into(), Kind::Text),
        ("truncated json", "{\"a\":".into(), Kind::Text),
        ("json null", "null".into(), Kind::Json),
        ("json number", "42".into(), Kind::Json),
        ("json string", "\"just a string\"".into(), Kind::Json),
        ("json array", "[1,2,3]".into(), Kind::Json),
        ("json object", r#"{"foo":"bar"}"#.into(), Kind::Json),
        ("duplicate keys", r#"{"a":1,"a":2}"#.into(), Kind::Json),
        ("256 KB text", big_text, Kind::Text),
        ("256 KB json", big_json, Kind::Json),
        ("256 KB json string", big_string_json, Kind::Json),
        ("10,000 nested arrays", deep_arrays, Kind::Text),
        ("10,000 nested objects", deep_objects, Kind::Text),
        ("100 nested arrays", nested_100, Kind::Json),
        ("lone high surrogate", r#""\ud800""#.into(), Kind::Text),
        ("lone low surrogate", r#"{"k":"\udc00"}"#.into(), Kind::Text),
        (
            "reversed surrogates",
            r#""\udc00\ud800""#.into(),
            Kind::Text,
        ),
        ("surrogate pair", r#""\ud83d\ude00""#.into(), Kind::Json),
        ("escaped nul", r#""a\u0000b""#.into(), Kind::Json),
        ("raw nul", "a\0b".into(), Kind::Text),
        ("bom before json", "\u{feff}{}".into(), Kind::Text),
        (
            "odd unicode",
            "\u{202e}e\u{301}\u{1f600}\u{10ffff}\u{fffd}".into(),
            Kind::Text,
        ),
        ("number out of range", "1e400".into(), Kind::Text),
        (
            "huge integer",
            "123456789012345678901234567890".into(),
            Kind::Json,
        ),
        ("eventbridge", s3().to_string(), Kind::EventBridge),
        (
            "scheduled",
            scheduled_event().to_string(),
            Kind::EventBridge,
        ),
        (
            "no resources/version",
            without(without(s3(), "resources").parse().unwrap(), "version"),
            Kind::EventBridge,
        ),
        (
            "detail-type number",
            with(s3(), "detail-type", json!(5)),
            Kind::Json,
        ),
        ("id empty", with(s3(), "id", json!("")), Kind::Json),
        ("id null", with(s3(), "id", Value::Null), Kind::Json),
        (
            "account object",
            with(s3(), "account", json!({})),
            Kind::Json,
        ),
        (
            "resources string",
            with(s3(), "resources", json!("arn:aws:s3:::b")),
            Kind::Json,
        ),
        (
            "resources of numbers",
            with(s3(), "resources", json!([1])),
            Kind::Json,
        ),
        (
            "version number",
            with(s3(), "version", json!(0)),
            Kind::Json,
        ),
        (
            "time not rfc3339",
            with(s3(), "time", json!("yesterday")),
            Kind::Json,
        ),
        (
            "time number",
            with(s3(), "time", json!(1_700_000_000)),
            Kind::Json,
        ),
        ("detail missing", without(s3(), "detail"), Kind::Json),
        ("detail array", with(s3(), "detail", json!([])), Kind::Json),
        ("region missing", without(s3(), "region"), Kind::Json),
        (
            "eventbridge in array",
            json!([s3()]).to_string(),
            Kind::Json,
        ),
        ("cloudevent", ce().to_string(), Kind::CloudEvent),
        (
            "cloudevent minimal",
            r#"{"specversion":"1.0","id":"1","source":"s","type":"t"}"#.into(),
            Kind::CloudEvent,
        ),
        ("cloudevent no type", without(ce(), "type"), Kind::Json),
        (
            "cloudevent empty id",
            with(ce(), "id", json!("")),
            Kind::Json,
        ),
        (
            "cloudevent 0.3",
            with(ce(), "specversion", json!("0.3")),
            Kind::Json,
        ),
        (
            "cloudevent numeric specversion",
            with(ce(), "specversion", json!(1.0)),
            Kind::Json,
        ),
        (
            "cloudevent bad time",
            with(ce(), "time", json!("soon")),
            Kind::Json,
        ),
        (
            "cloudevent bad extension name",
            with(ce(), "Tenant", json!("x")),
            Kind::Json,
        ),
        (
            "cloudevent object extension",
            with(ce(), "tenant", json!({"a": 1})),
            Kind::Json,
        ),
        (
            "cloudevent float extension",
            with(ce(), "weight", json!(1.5)),
            Kind::Json,
        ),
        (
            "cloudevent text data not string",
            with(
                with(ce(), "datacontenttype", json!("text/plain"))
                    .parse()
                    .unwrap(),
                "data",
                json!({}),
            ),
            Kind::Json,
        ),
        (
            "cloudevent bad base64",
            with(
                without(ce(), "data").parse().unwrap(),
                "data_base64",
                json!("!!!"),
            ),
            Kind::Json,
        ),
    ];
    let options = MappingOptions::default()
        .with_type_format(TypeFormat::new("{source}.{detail-type}").unwrap());
    for (name, body, kind) in &rows {
        let event =
            from_sqs_message(&message(body), &options).unwrap_or_else(|e| panic!("{name}: {e}"));
        // Deterministic: no random ids, no clock.
        assert_eq!(
            from_sqs_message(&message(body), &options).unwrap(),
            event,
            "{name}"
        );
        let actual = match (event.ty(), event.datacontenttype()) {
            (SQS_MESSAGE_TYPE, Some(JSON)) => Kind::Json,
            (SQS_MESSAGE_TYPE, Some(TEXT)) => Kind::Text,
            (_, _) if event.extension(EXT_DETAIL_TYPE).is_some() => Kind::EventBridge,
            _ => Kind::CloudEvent,
        };
        assert_eq!(actual, *kind, "{name}");
        match kind {
            Kind::Text => assert_eq!(event.data(), Some(&Data::String(body.clone())), "{name}"),
            Kind::Json | Kind::EventBridge => {
                let parsed: Value = serde_json::from_str(body).unwrap();
                assert_eq!(event.data(), Some(&Data::Json(parsed)), "{name}");
            }
            Kind::CloudEvent => {}
        }
        if matches!(kind, Kind::Json | Kind::Text) {
            assert_eq!(event.id(), message(body).message_id, "{name}");
            assert_eq!(
                event.time(),
                Some(&time("2023-11-14T22:13:20.123Z")),
                "{name}"
            );
        }
        for (ext, _) in event.iter_extensions() {
            assert!(
                (1..=20).contains(&ext.len())
                    && ext
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
                "{name}: extension {ext:?}"
            );
        }
        // The structured form parses back to the same event.
        let bytes = to_structured_bytes(&event);
        let back = parse_structured(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(back, event, "{name}");
        assert_eq!(verbatim(&message(body), &options), event, "{name}");
    }
}

/// [`from_sqs_message_verbatim`] of `message`, checked to hold the body's own bytes where it
/// holds bytes, with those bytes parsed as [`from_sqs_message`] would hold them: so it compares
/// equal to `from_sqs_message`'s event exactly when every attribute is the same.
fn verbatim(message: &SqsMessage<'_>, options: &MappingOptions) -> Event {
    let mut event = from_sqs_message_verbatim(message, options).unwrap();
    if let Some(Data::Binary(bytes)) = event.data() {
        assert_eq!(bytes, message.body.as_bytes());
        assert_eq!(event.datacontenttype(), Some(JSON));
        let parsed: Value = serde_json::from_slice(bytes).expect("verbatim data is JSON");
        event.set_data(JSON, parsed);
    }
    event
}

#[test]
fn verbatim_keeps_the_bytes_of_json_bodies_only() {
    // Whitespace, member order and escapes as sent.
    let body = r#"{ "version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
  "detail-type": "Object Created", "source": "aws.s3", "account": "123456789012",
  "time": "2019-12-01T01:23:45Z", "region": "eu-west-1", "resources": [ "arn:aws:s3:::b\u0031" ],
  "detail": { "z": 1, "a": "\u00e9" } }"#;
    let event = from_sqs_message_verbatim(&message(body), &MappingOptions::default()).unwrap();
    assert_eq!(event.data(), Some(&Data::Binary(body.as_bytes().to_vec())));
    assert_eq!(event.ty(), "aws.s3");
    assert_eq!(event.subject(), Some("arn:aws:s3:::b1"));
    assert_eq!(ext(&event, EXT_DETAIL_TYPE), Some("Object Created"));
    assert_eq!(
        verbatim(&message(body), &MappingOptions::default()),
        map(body)
    );
    // Text stays text; a structured CloudEvent passes through as itself.
    let text = from_sqs_message_verbatim(&message("hi"), &MappingOptions::default()).unwrap();
    assert_eq!(text.data(), Some(&Data::String("hi".into())));
    let ce = structured_event().to_string();
    assert_eq!(
        from_sqs_message_verbatim(&message(&ce), &MappingOptions::default()).unwrap(),
        map(&ce)
    );
    // The metadata errors are the generic mapping's.
    let no_id = SqsMessage {
        message_id: "",
        ..message("[1]")
    };
    assert_eq!(
        from_sqs_message_verbatim(&no_id, &MappingOptions::default()),
        Err(MessageError::EmptyMessageId)
    );
}

#[test]
fn from_eventbridge_shares_the_sqs_mapping() {
    let options = MappingOptions::default()
        .with_type_format(TypeFormat::new("{source}.{detail-type}").unwrap())
        .with_event_bus("orders")
        .unwrap();
    for envelope in [s3_event(), scheduled_event()] {
        let direct = from_eventbridge(envelope.clone(), &options).unwrap();
        let via_sqs = from_sqs_message(&message(&envelope.to_string()), &options).unwrap();
        assert_eq!(direct, via_sqs);
    }
}

#[test]
fn from_eventbridge_errors_name_the_field() {
    let options = MappingOptions::default();
    for (event, expected) in [
        (
            json!([]),
            "EventBridge event must be a JSON object, got an array",
        ),
        (
            without(s3_event(), "time").parse().unwrap(),
            "EventBridge event is missing field \"time\": an event has id, detail-type, \
                 source, account, time, region and detail",
        ),
        (
            with(s3_event(), "detail-type", json!(7)).parse().unwrap(),
            "EventBridge event field \"detail-type\" must be a non-empty string, got a number",
        ),
        (
            with(s3_event(), "source", json!("")).parse().unwrap(),
            "EventBridge event field \"source\" must be a non-empty string, got an empty string",
        ),
        (
            with(s3_event(), "resources", json!(["a", null]))
                .parse()
                .unwrap(),
            "EventBridge event field \"resources\" must be an array of strings, \
                 got an array holding null",
        ),
        (
            with(s3_event(), "detail", json!("x")).parse().unwrap(),
            "EventBridge event field \"detail\" must be an object, got a string",
        ),
        (
            with(s3_event(), "time", json!("2021-11-12"))
                .parse()
                .unwrap(),
            "EventBridge event field \"time\" must be an RFC 3339 timestamp such as \
                 \"2019-12-01T01:23:45Z\", got \"2021-11-12\"",
        ),
    ] {
        assert_eq!(
            from_eventbridge(event, &options).unwrap_err().to_string(),
            expected
        );
    }
}

#[test]
fn parse_structured_errors_name_the_attribute() {
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let ce = structured_event;
    for (input, expected) in [
            (without(ce(), "specversion"), "missing required attribute \"specversion\""),
            (without(ce(), "id"), "missing required attribute \"id\": CloudEvents 1.0 requires specversion, id, source and type"),
            (without(ce(), "source"), "missing required attribute \"source\""),
            (without(ce(), "type"), "missing required attribute \"type\""),
            (with(ce(), "type", Value::Null), "missing required attribute \"type\""),
            (with(ce(), "specversion", json!("0.3")), "has specversion \"0.3\": only \"1.0\" is supported"),
            (with(ce(), "specversion", json!(1)), "attribute \"specversion\" must be the string \"1.0\", got a number"),
            (with(ce(), "id", json!(42)), "attribute \"id\" must be a non-empty string, got a number"),
            (with(ce(), "source", json!("")), "attribute \"source\" must be a non-empty string, got an empty string"),
            (with(ce(), "subject", json!("")), "attribute \"subject\" must be a non-empty string, got an empty string"),
            (with(ce(), "time", json!("noon")), "attribute \"time\" must be an RFC 3339 timestamp such as \"2019-12-01T01:23:45Z\", got \"noon\""),
            (with(ce(), "dataschema", json!("schemas/order")), "attribute \"dataschema\" must be an absolute URI, got \"schemas/order\""),
            (with(ce(), "Tenant", json!("x")), "has extension attribute \"Tenant\": attribute names must be non-empty and use only a-z and 0-9"),
            (with(ce(), "my-ext", json!("x")), "has extension attribute \"my-ext\""),
            (with(ce(), "tenant", json!([1])), "attribute \"tenant\" must be a string, boolean or integer, got an array"),
            (with(ce(), "data_base64", json!("aGk=")), "has both \"data\" and \"data_base64\""),
            (with(without(ce(), "data").parse().unwrap(), "data_base64", json!(5)), "attribute \"data_base64\" must be a base64 string, got a number"),
            (with(without(ce(), "data").parse().unwrap(), "data_base64", json!("!!!")), "structured CloudEvent is invalid: "),
            (with(with(ce(), "datacontenttype", json!("text/plain")).parse().unwrap(), "data", json!(1)), "attribute \"data\" must be a string when datacontenttype is not JSON"),
            ("[]".into(), "must be a JSON object, got an array"),
            ("not json".into(), "is not valid JSON"),
            (deep, "is not valid JSON: recursion limit exceeded"),
        ] {
            let message = parse_structured(input.as_bytes()).unwrap_err().to_string();
            assert!(
                message.starts_with("structured CloudEvent ") && message.contains(expected),
                "{message:?} should contain {expected:?}"
            );
        }
}

#[test]
fn parse_structured_accepts_binary_text_and_null_attributes() {
    let binary = parse_structured(
            br#"{"specversion":"1.0","id":"1","source":"s","type":"t",
                 "datacontenttype":"application/octet-stream","data_base64":"aGk=","subject":null}"#,
        )
        .unwrap();
    assert_eq!(binary.data(), Some(&Data::Binary(b"hi".to_vec())));
    assert_eq!(binary.subject(), None);
    let long_extension = parse_structured(
            br#"{"specversion":"1.0","id":"1","source":"s","type":"t","averyveryverylongextensionname":true}"#,
        )
        .unwrap();
    assert_eq!(
        long_extension.extension("averyveryverylongextensionname"),
        Some(&cloudevents::event::ExtensionValue::Boolean(true))
    );
}

#[test]
fn structured_bytes_are_sorted_and_stable() {
    let event = map(&s3_event().to_string());
    let bytes = to_structured_bytes(&event);
    let text = std::str::from_utf8(&bytes).unwrap();
    assert!(
            text.starts_with(r#"{"awsaccount":"123456789012","awsdetailtype":"Object Created","awsregion":"ca-central-1","data":{"account":"#),
            "{text}"
        );
    assert!(
        text.ends_with(r#""time":"2021-11-12T00:00:00Z","type":"aws.s3"}"#),
        "{text}"
    );
    // Separately built events (fresh extension maps) render identically.
    assert_eq!(to_structured_bytes(&map(&s3_event().to_string())), bytes);
    assert_eq!(
        to_structured_json(&event),
        serde_json::from_slice::<Value>(&bytes).unwrap()
    );
    assert_eq!(to_structured_json(&event)["specversion"], "1.0");
}

#[test]
fn structured_json_is_what_the_sdk_serialises() {
    let events = [
        json!({"specversion": "1.0", "id": "1", "source": "/s", "type": "t"}),
        json!({"specversion": "1.0", "id": "2", "source": "urn:x", "type": "t", "subject": "a/b",
                   "time": "2026-11-23T10:00:00.123456Z", "datacontenttype": "application/json",
                   "dataschema": "https://example.com/schema.json", "tenant": "acme", "flag": true,
                   "count": 42, "data": {"n": [1, 2.5, "x", null, {"deep": false}]}}),
        json!({"specversion": "1.0", "id": "3", "source": "/s", "type": "t",
                   "datacontenttype": "text/plain", "data": "plain text", "time": "2021-01-01T00:00:00+02:00"}),
        json!({"specversion": "1.0", "id": "4", "source": "/s", "type": "t",
                   "datacontenttype": "application/octet-stream", "data_base64": "AAEC/w=="}),
        json!({"specversion": "1.0", "id": "5", "source": "/s", "type": "t",
                   "datacontenttype": "application/cloudevents+json", "data": [1, 2, 3]}),
    ];
    for value in events {
        let event = parse_structured_value(&value).unwrap();
        assert_eq!(
            to_structured_json(&event),
            serde_json::to_value(&event).unwrap(),
            "{value}"
        );
    }
    let v03: Event = serde_json::from_value(
        json!({"specversion": "0.3", "id": "6", "source": "/s", "type": "t", "data": {"a": 1}}),
    )
    .unwrap();
    assert_eq!(
        to_structured_json(&v03),
        serde_json::to_value(&v03).unwrap()
    );
}

#[test]
fn the_source_arn_has_the_partition_of_the_region_or_the_one_configured() {
    for (region, partition) in [
        ("cn-north-1", "aws-cn"),
        ("us-gov-west-1", "aws-us-gov"),
        ("us-iso-east-1", "aws-iso"),
        ("us-isob-east-1", "aws-iso-b"),
        ("eu-west-1", "aws"),
    ] {
        assert_eq!(crate::mapping::partition_of_region(region), partition);
        let envelope = with(s3_event(), "region", json!(region));
        let event = map(&envelope.to_string());
        assert_eq!(
            event.source().as_str(),
            format!("arn:{partition}:events:{region}:123456789012:event-bus/default")
        );
    }
    // A partition from an API answer wins over the inference; junk is ignored.
    let options = MappingOptions::default().with_partition("aws-cn");
    let event = from_eventbridge(s3_event(), &options).unwrap();
    assert!(event
        .source()
        .starts_with("arn:aws-cn:events:ca-central-1:"));
    let ignored = MappingOptions::default().with_partition("not a partition");
    let event = from_eventbridge(s3_event(), &ignored).unwrap();
    assert!(event.source().starts_with("arn:aws:events:"));
}

const XRAY: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
const W3C: &str = "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01";

fn traced(body: &str, header: Option<&'static str>) -> Event {
    let msg = SqsMessage {
        trace_header: header,
        ..message(body)
    };
    from_sqs_message(&msg, &MappingOptions::default()).unwrap()
}

fn traceparent(event: &Event) -> Option<String> {
    event.extension("traceparent").map(|v| v.to_string())
}

#[test]
fn aws_trace_header_becomes_traceparent_for_every_kind_of_body() {
    let bodies = [
        "plain text".to_owned(),
        s3_event().to_string(),
        structured_event().to_string(),
    ];
    for body in &bodies {
        let event = traced(body, Some(XRAY));
        assert_eq!(traceparent(&event).as_deref(), Some(W3C), "{body}");
        assert_eq!(event.extension("tracestate"), None, "{body}");
        // Everything else is as without the header: ids and times stay deterministic.
        let mut plain = traced(body, None);
        assert_eq!(traceparent(&plain), None, "{body}");
        plain.set_extension("traceparent", W3C);
        assert_eq!(plain, event, "{body}");
        let msg = SqsMessage {
            trace_header: Some(XRAY),
            ..message(body)
        };
        assert_eq!(verbatim(&msg, &MappingOptions::default()), event, "{body}");
    }
}

#[test]
fn a_structured_event_keeps_its_own_traceparent() {
    let mut ce = structured_event();
    let own = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    ce["traceparent"] = json!(own);
    ce["tracestate"] = json!("congo=t61rcWkgMzE");
    let event = traced(&ce.to_string(), Some(XRAY));
    assert_eq!(traceparent(&event).as_deref(), Some(own));
    assert_eq!(
        event
            .extension("tracestate")
            .map(|v| v.to_string())
            .as_deref(),
        Some("congo=t61rcWkgMzE")
    );
}

#[test]
fn an_invalid_trace_header_gives_no_trace_and_the_message_still_maps() {
    for header in ["", "Root=2-x", "Parent=53995c3f42cd8ad8", "garbage;;==;"] {
        let event = traced("plain text", Some(header));
        assert_eq!(traceparent(&event), None, "{header:?}");
        assert_eq!(event.ty(), SQS_MESSAGE_TYPE);
    }
}
