//! The CloudEvents HTTP protocol binding: decoding a request in binary or structured mode, and
//! encoding an event for an HTTP target. Pure: headers and bodies in, headers and bodies out.
//!
//! The one binding of the project: the router's HTTP targets and the driver's HTTP sink both
//! encode here and POST with `eventferry_http`, so an event leaves in one wire form. Binary mode
//! follows the HTTP binding 1.0.2: attribute values percent-encoded (space, `"`, `%` and
//! anything outside printable ASCII), `ce-time` in the same RFC 3339 form as the structured
//! JSON (`Z` for UTC), and `Content-Type` the `datacontenttype`, or `application/json` for JSON
//! data without one.
//!
//! Decoding reuses [`crate::structured::parse_structured_value`], so an event received over HTTP
//! is checked by exactly the rules of every other input.
//!
//! **Trace context.** An event with a valid `traceparent` extension (the CloudEvents Distributed
//! Tracing extension, see [`crate::trace`]) is sent with the W3C Trace Context headers
//! `traceparent` and `tracestate` (when it has one), in both modes, so HTTP tracing middleware
//! joins the trace. In binary mode the extension is also a `ce-traceparent` header, like every
//! extension: the distributed-tracing extension spec asks that, on a single hop, the extension
//! and the protocol's trace headers carry the same trace, which they do (eventferry creates no
//! spans of its own), and a receiver decoding the event with any CloudEvents SDK keeps it.
//! Decoding the other way: a request whose event has no `traceparent` but that has a valid
//! `traceparent` header gets it (and `tracestate`) as the extension.

use std::borrow::Borrow;

use base64::Engine;
use cloudevents::event::AttributeValue;
use cloudevents::{AttributesReader, Data, Event};
use serde_json::{Map, Value};

use crate::structured::{
    parse_structured, parse_structured_value, rfc3339, to_structured_bytes, JSON_ROOM,
};
use crate::trace::{event_trace, TraceContext, EXT_TRACEPARENT, EXT_TRACESTATE};

/// The largest event accepted, as EventBridge and SQS allow: 256 KiB.
pub const MAX_EVENT_BYTES: usize = 256 * 1024;

/// A request the router refuses, with the HTTP status to answer and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct HttpError {
    pub status: u16,
    pub reason: String,
}

impl HttpError {
    fn bad(reason: impl Into<String>) -> Self {
        HttpError {
            status: 400,
            reason: reason.into(),
        }
    }
}

const STRUCTURED: &str = "application/cloudevents+json";
const BATCH: &str = "application/cloudevents-batch+json";

/// Decodes a CloudEvent from an HTTP request. `header` looks a header up case-insensitively.
///
/// - A body over [`MAX_EVENT_BYTES`]: 413.
/// - A method other than POST: 405.
/// - `Content-Type: application/cloudevents+json`: structured mode.
/// - `application/cloudevents-batch+json`: 415 (one event per request).
/// - Otherwise binary mode: `ce-specversion`, `ce-id`, `ce-source` and `ce-type` required; other
///   `ce-` headers are attributes/extensions (values percent-decoded), `Content-Type` is
///   `datacontenttype`, the body is the data (JSON types parsed, `text/*` as text, anything
///   else as binary).
pub fn decode_request<'h>(
    method: &str,
    header: impl Fn(&str) -> Option<&'h str>,
    ce_headers: &[(&'h str, &'h str)],
    body: &[u8],
) -> Result<Event, HttpError> {
    check_request(method, body)?;
    let mut event = decode_event(&header, ce_headers, body)?;
    if let Some(parent) = header("traceparent").map(str::trim) {
        if TraceContext::from_traceparent(parent).is_ok()
            && event.extension(EXT_TRACEPARENT).is_none()
        {
            event.set_extension(EXT_TRACEPARENT, parent);
            if let Some(state) = header("tracestate")
                .map(str::trim)
                .filter(|s| !s.is_empty())
            {
                event.set_extension(EXT_TRACESTATE, state);
            }
        }
    }
    Ok(event)
}

fn decode_event<'h>(
    header: &impl Fn(&str) -> Option<&'h str>,
    ce_headers: &[(&'h str, &'h str)],
    body: &[u8],
) -> Result<Event, HttpError> {
    let content_type = header("content-type").map(str::trim);
    let media = content_type.map(media_type).unwrap_or_default();
    if media == STRUCTURED {
        return parse_structured(body).map_err(|e| HttpError::bad(e.to_string()));
    }
    if media == BATCH {
        return Err(HttpError {
            status: 415,
            reason: "batched mode (application/cloudevents-batch+json) is not supported: send \
                     one event per request, in structured or binary mode"
                .into(),
        });
    }
    if header("ce-specversion").is_none() {
        return Err(HttpError::bad(
            "not a CloudEvent: send structured mode (Content-Type: application/cloudevents+json) \
             or binary mode (headers ce-specversion, ce-id, ce-source and ce-type)",
        ));
    }
    let mut map = attributes_from_headers(ce_headers)?;
    if let Some(ct) = content_type.filter(|ct| !ct.is_empty()) {
        map.insert("datacontenttype".into(), Value::String(ct.to_owned()));
    }
    if !body.is_empty() {
        let (key, data) = data_from_body(content_type.is_some(), &media, body)?;
        map.insert(key.into(), data);
    }
    parse_structured_value(&Value::Object(map)).map_err(|e| {
        HttpError::bad(e.to_string().replace(
            "structured CloudEvent",
            "binary-mode CloudEvent (ce- headers)",
        ))
    })
}

/// The checks before the content is looked at: the size (413) and the method (405).
fn check_request(method: &str, body: &[u8]) -> Result<(), HttpError> {
    if body.len() > MAX_EVENT_BYTES {
        return Err(HttpError {
            status: 413,
            reason: format!(
                "the event is {} bytes; the limit is {MAX_EVENT_BYTES} bytes (256 KiB)",
                body.len()
            ),
        });
    }
    if !method.eq_ignore_ascii_case("POST") {
        return Err(HttpError {
            status: 405,
            reason: format!("method {method} is not allowed: POST the CloudEvent"),
        });
    }
    Ok(())
}

/// The media type of a `Content-Type` value: lower case, without parameters.
pub fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Binary mode: the `ce-` headers as attributes and extensions, values percent-decoded. The
/// data and its content type cannot be headers; a header may appear once.
fn attributes_from_headers(ce_headers: &[(&str, &str)]) -> Result<Map<String, Value>, HttpError> {
    let mut map = Map::new();
    for (name, value) in ce_headers {
        let lower = name.to_ascii_lowercase();
        let Some(attribute) = lower.strip_prefix("ce-") else {
            continue;
        };
        if matches!(attribute, "data" | "data_base64" | "datacontenttype") {
            return Err(HttpError::bad(format!(
                "header {name} is not allowed: the body is the data and Content-Type its \
                 content type"
            )));
        }
        let decoded = percent_decode(value).ok_or_else(|| {
            HttpError::bad(format!(
                "header {name} is not valid: percent-encoding must decode to UTF-8"
            ))
        })?;
        if map
            .insert(attribute.to_owned(), Value::String(decoded))
            .is_some()
        {
            return Err(HttpError::bad(format!("header {name} is repeated")));
        }
    }
    Ok(map)
}

/// Binary mode: the body as `data` (JSON parsed, `text/*` as text) or `data_base64`. Without a
/// `Content-Type`, a JSON body is JSON and anything else binary.
fn data_from_body(
    has_content_type: bool,
    media: &str,
    body: &[u8],
) -> Result<(&'static str, Value), HttpError> {
    let binary = || {
        (
            "data_base64",
            Value::String(base64::engine::general_purpose::STANDARD.encode(body)),
        )
    };
    let is_json = media.starts_with("application/json")
        || media.starts_with("text/json")
        || media.ends_with("+json");
    if is_json || !has_content_type {
        return match serde_json::from_slice::<Value>(body) {
            Ok(data) => Ok(("data", data)),
            Err(e) if is_json => Err(HttpError::bad(format!(
                "the body is not valid JSON although Content-Type is {media}: {e}"
            ))),
            Err(_) => Ok(binary()),
        };
    }
    if media.starts_with("text/") {
        let text = std::str::from_utf8(body).map_err(|_| {
            HttpError::bad(format!(
                "the body is not UTF-8 text although Content-Type is {media}"
            ))
        })?;
        return Ok(("data", Value::String(text.to_owned())));
    }
    Ok(binary())
}

/// A request for an HTTP target: headers and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Encoded {
    /// The target's own headers (a subscription's `headers`, the driver's `--sink-header`),
    /// after the event's.
    pub fn with_headers(mut self, extra: &[(String, String)]) -> Self {
        self.headers.extend(extra.iter().cloned());
        self
    }
}

/// Structured mode: the whole event as JSON.
pub fn encode_structured(event: &Event) -> Encoded {
    let mut headers = vec![("content-type".into(), STRUCTURED.into())];
    push_trace_headers(event, &mut headers);
    Encoded {
        headers,
        body: to_structured_bytes(event),
    }
}

/// Batched content mode (HTTP binding 1.0.2, section 3.3): the events as one JSON array of
/// structured events ([`batch_body`]), `Content-Type: application/cloudevents-batch+json`. The
/// W3C trace headers go with the request only when every event carries the same valid trace (a
/// request has one trace context); each event keeps its own `traceparent` extension in the body
/// either way.
pub fn encode_batch<E: Borrow<Event>>(events: &[E]) -> Encoded {
    let mut headers = vec![("content-type".into(), BATCH.into())];
    if let Some((first, rest)) = events.split_first() {
        let trace = event_trace(first.borrow());
        if trace.is_some() && rest.iter().all(|e| event_trace(e.borrow()) == trace) {
            push_trace_headers(first.borrow(), &mut headers);
        }
    }
    Encoded {
        headers,
        body: batch_body(events),
    }
}

/// A JSON array of structured events, in order: the body of a batched request, and what the
/// driver's Lambda sink sends as the payload of a batch.
pub fn batch_body<E: Borrow<Event>>(events: &[E]) -> Vec<u8> {
    batch_chunks(events, usize::MAX)
        .pop()
        .unwrap_or_else(|| b"[]".to_vec())
}

/// The events as consecutive JSON arrays of structured events, in order, each at most
/// `max_bytes` long (a payload limit, such as Lambda's), except that an event too large for any
/// array goes alone in its own. No events: no arrays.
pub fn batch_chunks<E: Borrow<Event>>(events: &[E], max_bytes: usize) -> Vec<Vec<u8>> {
    let mut chunks = Vec::new();
    let mut chunk: Vec<u8> = Vec::new();
    for event in events {
        let json = to_structured_bytes(event.borrow());
        // `[` or `,` before the event, `]` after it.
        if !chunk.is_empty() && chunk.len() + json.len() + 2 > max_bytes {
            chunk.push(b']');
            chunks.push(std::mem::take(&mut chunk));
        }
        chunk.push(if chunk.is_empty() { b'[' } else { b',' });
        chunk.extend_from_slice(&json);
    }
    if !chunk.is_empty() {
        chunk.push(b']');
        chunks.push(chunk);
    }
    chunks
}

/// Decodes the body of a batched request (`application/cloudevents-batch+json`): a JSON array
/// of structured events, each checked as [`parse_structured_value`] checks one. An empty array is
/// an empty batch. The error names the position of the first event that is not valid.
pub fn decode_batch(body: &[u8]) -> Result<Vec<Event>, HttpError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        HttpError::bad(format!(
            "a batch (application/cloudevents-batch+json) must be a JSON array of structured \
             CloudEvents; the body is not valid JSON: {e}"
        ))
    })?;
    let Value::Array(items) = value else {
        return Err(HttpError::bad(
            "a batch (application/cloudevents-batch+json) must be a JSON array of structured \
             CloudEvents",
        ));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            parse_structured_value(item)
                .map_err(|e| HttpError::bad(format!("event {} of the batch: {e}", i + 1)))
        })
        .collect()
}

/// The W3C Trace Context headers of an event with a valid `traceparent` extension.
fn push_trace_headers(event: &Event, headers: &mut Vec<(String, String)>) {
    if let Some((parent, state)) = event_trace(event) {
        headers.push(("traceparent".into(), parent));
        if let Some(state) = state {
            headers.push(("tracestate".into(), state));
        }
    }
}

/// Binary mode: attributes as percent-encoded `ce-` headers (the spec's attributes first, then
/// the extensions in name order), the data as the body, and `Content-Type` the event's
/// `datacontenttype` (or `content_type` when given).
pub fn encode_binary(event: &Event, content_type: Option<&str>) -> Encoded {
    let mut headers = Vec::with_capacity(10 + event.iter_extensions().count());
    for (name, value) in event.iter_attributes() {
        if matches!(name, "datacontenttype") {
            continue;
        }
        headers.push((ce_header(name), attribute_text(value)));
    }
    // The SDK keeps extensions in a hash map, whose order differs between two events built
    // alike: in name order, an event has one wire form whichever process encodes it.
    let mut extensions: Vec<_> = event.iter_extensions().collect();
    extensions.sort_unstable_by(|a, b| a.0.cmp(b.0));
    for (name, value) in extensions {
        headers.push((ce_header(name), attribute_text(value.into())));
    }
    let body = match event.data() {
        None => Vec::new(),
        Some(Data::Json(v)) => {
            let mut body = Vec::with_capacity(JSON_ROOM);
            serde_json::to_writer(&mut body, v).expect("JSON values serialize");
            body
        }
        Some(Data::String(s)) => s.clone().into_bytes(),
        Some(Data::Binary(b)) => b.clone(),
    };
    let ct = content_type
        .map(str::to_owned)
        .or_else(|| event.datacontenttype().map(str::to_owned))
        .or_else(|| match event.data() {
            Some(Data::Json(_)) => Some("application/json".into()),
            _ => None,
        });
    if let Some(ct) = ct {
        headers.push(("content-type".into(), ct));
    }
    push_trace_headers(event, &mut headers);
    Encoded { headers, body }
}

/// `ce-<name>`.
fn ce_header(name: &str) -> String {
    let mut header = String::with_capacity(3 + name.len());
    header.push_str("ce-");
    header.push_str(name);
    header
}

/// An attribute's value as its `ce-` header carries it, percent-encoded. Text is taken as it
/// is; `time` in the RFC 3339 form of the structured JSON (the SDK's `Display` prints `+00:00`,
/// the JSON `Z`); the rest as the SDK prints it.
fn attribute_text(value: AttributeValue<'_>) -> String {
    match value {
        AttributeValue::String(text) => percent_encode(text),
        AttributeValue::URIRef(text) => percent_encode(text),
        AttributeValue::URI(url) => percent_encode(url.as_str()),
        AttributeValue::Time(time) => percent_encode(&rfc3339(time)),
        other => percent_encode(&other.to_string()),
    }
}

/// Percent-encodes what the HTTP binding requires: space, `"`, `%` and anything outside
/// printable ASCII, as UTF-8 bytes.
pub fn percent_encode(value: &str) -> String {
    fn kept(b: u8) -> bool {
        (0x21..=0x7e).contains(&b) && b != b'"' && b != b'%'
    }
    if value.bytes().all(kept) {
        return value.to_owned();
    }
    let mut out = String::with_capacity(value.len() + 8);
    for b in value.bytes() {
        if kept(b) {
            out.push(b as char);
        } else {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 0xf)] as char);
        }
    }
    out
}

/// Decodes `%XX` sequences; `None` if they don't form UTF-8 or are malformed.
pub fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decode(
        method: &str,
        headers: &[(&'static str, &'static str)],
        body: &[u8],
    ) -> Result<Event, HttpError> {
        decode_request(
            method,
            |name| {
                headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| *v)
            },
            headers,
            body,
        )
    }

    const BINARY: [(&str, &str); 5] = [
        ("ce-specversion", "1.0"),
        ("ce-id", "42"),
        ("ce-source", "/shop"),
        ("Ce-Type", "com.example.created"),
        ("content-type", "application/json"),
    ];

    #[test]
    fn binary_mode_decodes_headers_and_data() {
        let mut headers = BINARY.to_vec();
        headers.push(("ce-subject", "order%2042%20%E2%9C%93"));
        headers.push(("ce-tenant", "acme"));
        headers.push(("x-other", "ignored"));
        let e = decode("POST", &headers, br#"{"total": 5}"#).unwrap();
        assert_eq!(e.id(), "42");
        assert_eq!(e.ty(), "com.example.created");
        assert_eq!(e.subject(), Some("order 42 \u{2713}"));
        assert_eq!(e.datacontenttype(), Some("application/json"));
        assert_eq!(e.data(), Some(&Data::Json(json!({"total": 5}))));
        assert_eq!(
            e.extension("tenant").map(|v| v.to_string()),
            Some("acme".into())
        );
        assert!(e.extension("x-other").is_none());

        let mut text = BINARY.to_vec();
        text[4] = ("content-type", "text/plain; charset=utf-8");
        let e = decode("post", &text, b"hello").unwrap();
        assert_eq!(e.data(), Some(&Data::String("hello".into())));

        let mut bin = BINARY.to_vec();
        bin[4] = ("content-type", "application/octet-stream");
        let e = decode("POST", &bin, &[0, 159, 146, 150]).unwrap();
        assert_eq!(e.data(), Some(&Data::Binary(vec![0, 159, 146, 150])));

        let e = decode("POST", &BINARY[..4], b"").unwrap();
        assert_eq!(e.data(), None);
    }

    #[test]
    fn structured_mode_decodes_the_body() {
        let body = br#"{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"a":1}}"#;
        let e = decode(
            "POST",
            &[(
                "Content-Type",
                "application/cloudevents+json; charset=utf-8",
            )],
            body,
        )
        .unwrap();
        assert_eq!(e.id(), "1");
        assert_eq!(e.data(), Some(&Data::Json(json!({"a": 1}))));
    }

    #[test]
    fn refusals_have_status_and_reason() {
        let big = vec![b' '; MAX_EVENT_BYTES + 1];
        type Case = (
            &'static str,
            Vec<(&'static str, &'static str)>,
            Vec<u8>,
            u16,
            &'static str,
        );
        let cases: Vec<Case> = vec![
            ("POST", BINARY.to_vec(), big, 413, "limit is 262144 bytes"),
            (
                "GET",
                BINARY.to_vec(),
                vec![],
                405,
                "method GET is not allowed",
            ),
            (
                "POST",
                vec![("content-type", "application/json")],
                b"{}".to_vec(),
                400,
                "not a CloudEvent",
            ),
            (
                "POST",
                vec![("content-type", "application/cloudevents+json")],
                b"{\"id\":1}".to_vec(),
                400,
                "structured CloudEvent",
            ),
            (
                "POST",
                vec![("content-type", "application/cloudevents+json")],
                b"nope".to_vec(),
                400,
                "not valid JSON",
            ),
            (
                "POST",
                vec![("content-type", "application/cloudevents-batch+json")],
                b"[]".to_vec(),
                415,
                "batched mode",
            ),
            (
                "POST",
                BINARY[..3].to_vec(),
                vec![],
                400,
                "binary-mode CloudEvent (ce- headers) is missing required attribute \"type\"",
            ),
            (
                "POST",
                BINARY.to_vec(),
                b"{not json".to_vec(),
                400,
                "not valid JSON although Content-Type is application/json",
            ),
            (
                "POST",
                [&BINARY[..4], &[("ce-time", "yesterday")]].concat(),
                vec![],
                400,
                "attribute \"time\" must be an RFC 3339",
            ),
            (
                "POST",
                [&BINARY[..4], &[("ce-subject", "%ZZ")]].concat(),
                vec![],
                400,
                "header ce-subject is not valid",
            ),
            (
                "POST",
                [&BINARY[..4], &[("ce-My_Ext", "x")]].concat(),
                vec![],
                400,
                "extension attribute \"my_ext\"",
            ),
        ];
        for (method, headers, body, status, reason) in cases {
            let err = decode(method, &headers, &body).unwrap_err();
            assert_eq!(err.status, status, "{headers:?}: {err}");
            assert!(err.reason.contains(reason), "{headers:?}: {err}");
        }
    }

    #[test]
    fn binary_encoding_round_trips() {
        let e = parse_structured(
            br#"{"specversion":"1.0","id":"1","source":"/s p","type":"t","subject":"caf\u00e9 \"x\"",
                 "time":"2024-05-01T10:00:00Z","tenant":"acme","n":7,"data":{"a":1}}"#,
        )
        .unwrap();
        let enc = encode_binary(&e, None);
        let get = |n: &str| {
            enc.headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("ce-source"), Some("/s%20p"));
        assert_eq!(get("ce-subject"), Some("caf%C3%A9%20%22x%22"));
        assert_eq!(get("ce-time"), Some("2024-05-01T10:00:00Z"));
        assert_eq!(get("ce-n"), Some("7"));
        assert_eq!(get("content-type"), Some("application/json"));
        let pairs: Vec<(&str, &str)> = enc
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let back = decode_request(
            "POST",
            |n| {
                pairs
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(n))
                    .map(|(_, v)| *v)
            },
            &pairs,
            &enc.body,
        )
        .unwrap();
        assert_eq!(back.subject(), e.subject());
        assert_eq!(back.source(), e.source());
        assert_eq!(back.time(), e.time());
        assert_eq!(back.data(), e.data());
        assert_eq!(back.extension("tenant"), e.extension("tenant"));
        // Integers come back as text: headers carry strings.
        assert_eq!(back.extension("n").map(|v| v.to_string()), Some("7".into()));

        let labelled = encode_binary(&e, Some("text/plain"));
        assert!(labelled
            .headers
            .contains(&("content-type".into(), "text/plain".into())));
        let structured = encode_structured(&e);
        assert_eq!(parse_structured(&structured.body).unwrap(), e);
    }

    /// Every kind of attribute value as its header carries it: text, URI, time (the JSON's
    /// RFC 3339 form, in UTC, with its fraction), booleans and integers.
    #[test]
    fn binary_headers_carry_each_kind_of_value() {
        let e = parse_structured(
            br#"{"specversion":"1.0","id":"i d","source":"urn:x","type":"t",
                 "dataschema":"https://schemas.example/o?v=1",
                 "time":"2024-05-01T10:00:00.120+02:00","flag":true,"n":-3,"data":"x",
                 "datacontenttype":"text/plain"}"#,
        )
        .unwrap();
        let enc = encode_binary(&e, None);
        let want = [
            ("ce-specversion", "1.0"),
            ("ce-id", "i%20d"),
            ("ce-type", "t"),
            ("ce-source", "urn:x"),
            ("ce-dataschema", "https://schemas.example/o?v=1"),
            ("ce-time", "2024-05-01T08:00:00.120Z"),
            ("ce-flag", "true"),
            ("ce-n", "-3"),
            ("content-type", "text/plain"),
        ];
        let got: Vec<(&str, &str)> = enc
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(got, want);
        assert_eq!(enc.body, b"x");
    }

    #[test]
    fn binary_extensions_go_in_name_order() {
        // Each event's extensions sit in a hash map of its own, so without sorting two events
        // built alike would put their headers in different orders.
        let names = [
            "tenant", "priority", "zone", "alpha", "region", "beta", "kind", "mode",
        ];
        let mut headers_seen = Vec::new();
        for round in 0..20 {
            let mut fields = serde_json::Map::new();
            for (i, name) in names.iter().enumerate() {
                fields.insert((*name).to_string(), json!(format!("v{i}")));
            }
            let mut doc = json!({"specversion": "1.0", "id": round.to_string(), "source": "/s",
                                 "type": "t"});
            doc.as_object_mut().unwrap().extend(fields);
            let e = parse_structured(doc.to_string().as_bytes()).unwrap();
            let got: Vec<String> = encode_binary(&e, None)
                .headers
                .into_iter()
                .map(|(name, _)| name)
                .filter(|name| {
                    !matches!(
                        name.as_str(),
                        "ce-specversion" | "ce-id" | "ce-source" | "ce-type"
                    )
                })
                .collect();
            headers_seen.push(got);
        }
        let mut want: Vec<String> = names.iter().map(|n| format!("ce-{n}")).collect();
        want.sort();
        for got in headers_seen {
            assert_eq!(got, want);
        }
    }

    #[test]
    fn percent_coding() {
        assert_eq!(percent_encode("a b%\"\u{e9}"), "a%20b%25%22%C3%A9");
        assert_eq!(
            percent_decode("a%20b%25%22%C3%A9").as_deref(),
            Some("a b%\"\u{e9}")
        );
        assert_eq!(percent_decode("%E9"), None);
        assert_eq!(percent_decode("%2"), None);
    }

    const W3C: &str = "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01";

    fn traced_event() -> Event {
        decode(
            "POST",
            &[("content-type", "application/cloudevents+json")],
            json!({
                "specversion": "1.0", "id": "1", "source": "/s", "type": "t",
                "traceparent": W3C, "tracestate": "congo=t61rcWkgMzE",
                "datacontenttype": "application/json", "data": {"a": 1}
            })
            .to_string()
            .as_bytes(),
        )
        .unwrap()
    }

    fn header<'a>(encoded: &'a Encoded, name: &str) -> Vec<&'a str> {
        encoded
            .headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    #[test]
    fn both_modes_send_the_w3c_trace_headers() {
        let event = traced_event();
        let structured = encode_structured(&event);
        assert_eq!(header(&structured, "traceparent"), [W3C]);
        assert_eq!(header(&structured, "tracestate"), ["congo=t61rcWkgMzE"]);
        let binary = encode_binary(&event, None);
        assert_eq!(header(&binary, "traceparent"), [W3C]);
        assert_eq!(header(&binary, "tracestate"), ["congo=t61rcWkgMzE"]);
        // The extension stays a ce- header too, with the same value.
        assert_eq!(header(&binary, "ce-traceparent"), [W3C]);
        assert_eq!(header(&binary, "ce-tracestate"), ["congo=t61rcWkgMzE"]);
    }

    #[test]
    fn no_or_invalid_trace_sends_no_trace_headers() {
        let plain = decode("POST", &BINARY, b"{}").unwrap();
        let mut bad = plain.clone();
        bad.set_extension("traceparent", "not a traceparent");
        for event in [plain, bad] {
            for encoded in [encode_structured(&event), encode_binary(&event, None)] {
                assert!(header(&encoded, "traceparent").is_empty());
                assert!(header(&encoded, "tracestate").is_empty());
            }
        }
    }

    #[test]
    fn decoding_takes_the_trace_header_when_the_event_has_none() {
        let mut headers = BINARY.to_vec();
        headers.push(("traceparent", W3C));
        headers.push(("tracestate", "congo=t61rcWkgMzE"));
        let event = decode("POST", &headers, b"{}").unwrap();
        assert_eq!(
            event_trace(&event),
            Some((W3C.into(), Some("congo=t61rcWkgMzE".into())))
        );

        // The event's own extension wins over the header; an invalid header is ignored.
        let own = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        let mut headers = BINARY.to_vec();
        headers.push(("ce-traceparent", own));
        headers.push(("traceparent", W3C));
        assert_eq!(
            event_trace(&decode("POST", &headers, b"{}").unwrap())
                .unwrap()
                .0,
            own
        );
        let mut headers = BINARY.to_vec();
        headers.push(("traceparent", "00-zz"));
        assert_eq!(event_trace(&decode("POST", &headers, b"{}").unwrap()), None);

        // Encoded and decoded again, an event keeps its trace in both modes.
        let event = traced_event();
        for encoded in [encode_structured(&event), encode_binary(&event, None)] {
            let pairs: Vec<(&str, &str)> = encoded
                .headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            let back = decode_request(
                "POST",
                |name| {
                    pairs
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(name))
                        .map(|(_, v)| *v)
                },
                &pairs,
                &encoded.body,
            )
            .unwrap();
            assert_eq!(back, event);
        }
    }

    #[test]
    fn batched_mode_is_a_json_array_of_structured_events() {
        let traced = traced_event();
        let mut other = traced.clone();
        cloudevents::AttributesWriter::set_id(&mut other, "2");
        let plain = decode("POST", &BINARY, b"{\"n\":1}").unwrap();

        let encoded = encode_batch(&[traced.clone(), plain.clone()]);
        assert_eq!(
            header(&encoded, "content-type"),
            ["application/cloudevents-batch+json"]
        );
        // Two traces (one of them none): no request-level trace headers.
        assert!(header(&encoded, "traceparent").is_empty());
        let body: Value = serde_json::from_slice(&encoded.body).unwrap();
        let items = body.as_array().unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0]["id"], "1");
        assert_eq!(items[0]["traceparent"], W3C, "each event keeps its trace");
        assert_eq!(items[1]["id"], "42");
        assert_eq!(items[1]["data"], json!({"n": 1}));
        // Each element is exactly the structured form of its event, and the batch decodes back.
        assert_eq!(
            encoded.body,
            [
                b"[".as_slice(),
                &to_structured_bytes(&traced),
                b",",
                &to_structured_bytes(&plain),
                b"]"
            ]
            .concat()
        );
        assert_eq!(
            decode_batch(&encoded.body).unwrap(),
            vec![traced.clone(), plain]
        );

        // One trace for the whole batch: the request carries it too. Arcs work as well.
        let shared = [std::sync::Arc::new(traced), std::sync::Arc::new(other)];
        let encoded = encode_batch(&shared);
        assert_eq!(header(&encoded, "traceparent"), [W3C]);
        assert_eq!(header(&encoded, "tracestate"), ["congo=t61rcWkgMzE"]);

        // An empty batch is an empty array; a batch body of one event is still an array.
        let none: [Event; 0] = [];
        assert_eq!(encode_batch(&none).body, b"[]");
        assert_eq!(decode_batch(b"[]").unwrap(), vec![]);
        assert_eq!(batch_body(&shared[..1]).first(), Some(&b'['));
    }

    #[test]
    fn a_bad_batch_names_what_is_wrong() {
        let err = decode_batch(b"{").unwrap_err();
        assert!(err.reason.contains("not valid JSON"), "{err}");
        let err = decode_batch(br#"{"id":"1"}"#).unwrap_err();
        assert!(err.reason.contains("must be a JSON array"), "{err}");
        let err = decode_batch(
            br#"[{"specversion":"1.0","id":"1","source":"/s","type":"t"},{"specversion":"1.0"}]"#,
        )
        .unwrap_err();
        assert!(err.reason.starts_with("event 2 of the batch: "), "{err}");
        assert_eq!(err.status, 400);
    }

    #[test]
    fn batches_split_at_a_payload_limit() {
        let events: Vec<Event> = (0..5)
            .map(|i| {
                let mut e = traced_event();
                cloudevents::AttributesWriter::set_id(&mut e, i.to_string());
                e
            })
            .collect();
        let one = to_structured_bytes(&events[0]).len();
        // Room for two events per array: `[a,b]`.
        let chunks = batch_chunks(&events, 2 * one + 3);
        assert_eq!(chunks.len(), 3);
        let mut back = Vec::new();
        for chunk in &chunks {
            assert!(chunk.len() <= 2 * one + 3, "{}", chunk.len());
            back.extend(decode_batch(chunk).unwrap());
        }
        assert_eq!(back, events, "every event once, in order");
        // A limit below one event: each alone, none dropped.
        assert_eq!(batch_chunks(&events, 10).len(), 5);
        assert_eq!(batch_chunks(&events, usize::MAX), vec![batch_body(&events)]);
        assert!(batch_chunks::<Event>(&[], 100).is_empty());
    }
}
