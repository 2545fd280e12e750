//! The fast paths against what they replace: parsing an owned value against the SDK's own
//! deserializer, and the bytes written from the event's fields against the canonical printing
//! of its structured value.

use cloudevents::Event;
use serde::Deserialize;
use serde_json::{json, Value};

use super::*;
use crate::names::canonical_json;

/// Structured events of every data form: JSON (object, null, scalar), text, base64 with a JSON
/// and a binary content type, none; with extensions and every optional attribute.
fn events() -> Vec<Value> {
    let base =
        json!({"specversion": "1.0", "id": "e-1", "source": "/shop/eu", "type": "order.created"});
    let with = |extra: Value| {
        let mut v = base.clone();
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        v
    };
    vec![
        base.clone(),
        with(json!({"data": {"z": 1, "a": {"y": [1, {"b": 2, "a": 1}], "x": null}}})),
        with(json!({"data": null})),
        with(json!({"data": 42, "datacontenttype": "application/json"})),
        with(json!({"data": "plain text", "datacontenttype": "text/plain"})),
        with(json!({"data": {"k": "v"}, "datacontenttype": "application/vnd.shop+json"})),
        with(json!({"data_base64": "eyJhIjoxfQ==", "datacontenttype": "application/json"})),
        with(json!({"data_base64": "AAEC", "datacontenttype": "application/octet-stream"})),
        with(json!({
            "subject": "orders/1", "time": "2026-11-23T10:00:00.5+01:00",
            "dataschema": "https://example.com/schema", "tenant": "acme", "retries": 3,
            "urgent": true, "dropped": null, "data": [1, 2, 3]
        })),
    ]
}

#[test]
fn owned_parse_is_the_sdks_parse() {
    for value in events() {
        let ours = parse_structured_owned(value.clone()).unwrap();
        let sdk = Event::deserialize(&value).unwrap();
        assert_eq!(ours, sdk, "{value}");
        assert_eq!(parse_structured_value(&value).unwrap(), sdk, "{value}");
        let bytes = serde_json::to_vec(&value).unwrap();
        assert_eq!(parse_structured(&bytes).unwrap(), sdk, "{value}");
    }
}

#[test]
fn owned_parse_keeps_the_checks() {
    let both = json!({"specversion": "1.0", "id": "1", "source": "s", "type": "t",
                      "data": {}, "data_base64": "AA=="});
    assert!(matches!(
        parse_structured_owned(both),
        Err(StructuredError::BothData)
    ));
    // Null text data: the SDK refuses it (text must be a string), and so does the owned parse.
    let null_text = json!({"specversion": "1.0", "id": "1", "source": "s", "type": "t",
                           "datacontenttype": "text/plain", "data": null});
    assert!(Event::deserialize(&null_text).is_err());
    assert!(matches!(
        parse_structured_owned(null_text),
        Err(StructuredError::Invalid(_))
    ));
    assert!(matches!(
        parse_structured_owned(json!([1])),
        Err(StructuredError::NotObject("an array"))
    ));
}

#[test]
fn bytes_are_the_canonical_structured_json() {
    for value in events() {
        let event = parse_structured_owned(value.clone()).unwrap();
        let expected = canonical_json(&to_structured_json(&event));
        let bytes = to_structured_bytes(&event);
        assert_eq!(String::from_utf8(bytes).unwrap(), expected, "{value}");
    }
}

/// The time written straight into a string is the text chrono's `Serialize` gives (what the
/// SDK writes), for whole seconds, each fraction width, a leap second and years outside
/// 0000–9999.
#[test]
fn structured_time_is_the_sdks_rendering() {
    use chrono::{NaiveDate, TimeZone, Utc};
    let day = |y: i32| NaiveDate::from_ymd_opt(y, 2, 28).unwrap();
    let times = [
        day(2026).and_hms_opt(10, 0, 0).unwrap(),
        day(2026).and_hms_milli_opt(23, 59, 59, 120).unwrap(),
        day(2026).and_hms_micro_opt(0, 0, 1, 5).unwrap(),
        day(2026).and_hms_nano_opt(1, 2, 3, 7).unwrap(),
        day(2026).and_hms_milli_opt(23, 59, 59, 1_500).unwrap(),
        day(0).and_hms_opt(0, 0, 0).unwrap(),
        day(-44).and_hms_opt(12, 0, 0).unwrap(),
        day(12_345).and_hms_opt(12, 0, 0).unwrap(),
    ];
    for naive in times {
        let time = Utc.from_utc_datetime(&naive);
        let mut event = Event::default();
        cloudevents::AttributesWriter::set_time(&mut event, Some(time));
        let sdk = serde_json::to_value(time).unwrap();
        assert_eq!(structured_time(&event).as_deref(), sdk.as_str(), "{naive}");
    }
}
