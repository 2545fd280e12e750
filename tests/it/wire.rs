//! The driver's HTTP sink and the router's HTTP targets put the same CloudEvent on the wire
//! identically: the same request line, headers (names, values, order) and body, byte for byte.
//! Both encode with `eventferry_core::binding` and POST with `eventferry_http`; this test holds
//! them to it through their public entry points, in binary and in structured mode.
//!
//! No LocalStack: a raw TCP listener on 127.0.0.1 records each request as it arrived.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventferry_core::structured::parse_structured;
use eventferry_core::subscription::{Config, Format};
use eventferry_driver::drive::sink::{parse_headers, HttpSink, Sink, SinkMode, SinkSpec};
use eventferry_router::config::Settings;
use eventferry_router::ports::Offline;
use eventferry_router::{Handler, Ports};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TRACEPARENT: &str = "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01";

/// Attributes that need percent-encoding, a time, extensions and JSON data without a
/// `datacontenttype`, trace context: every place where two binary-mode encoders could differ.
fn event_json() -> Value {
    json!({
        "specversion": "1.0",
        "id": "wire-1",
        "source": "/shop/orders",
        "type": "com.example.order.created",
        "subject": "order 42 \"caf\u{e9}\" 100%",
        "time": "2024-05-01T10:00:00.123Z",
        "tenant": "acme",
        "priority": 7,
        "traceparent": TRACEPARENT,
        "tracestate": "congo=t61rcWkgMzE",
        "data": {"total": 5, "note": "x y"}
    })
}

/// An HTTP server that records each request's raw bytes (head and body) and answers 200.
struct RawListener {
    url: String,
    requests: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl RawListener {
    async fn start() -> RawListener {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/events", listener.local_addr().unwrap());
        let requests: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
        let seen = requests.clone();
        tokio::spawn(async move {
            while let Ok((mut tcp, _)) = listener.accept().await {
                let seen = seen.clone();
                tokio::spawn(async move {
                    let mut raw = Vec::new();
                    let mut buf = [0u8; 16 * 1024];
                    while !complete(&raw) {
                        match tcp.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => raw.extend_from_slice(&buf[..n]),
                        }
                    }
                    seen.lock().unwrap().push(raw);
                    let _ = tcp
                        .write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                        )
                        .await;
                    let _ = tcp.shutdown().await;
                });
            }
        });
        RawListener { url, requests }
    }

    fn take(&self) -> Vec<Vec<u8>> {
        std::mem::take(&mut *self.requests.lock().unwrap())
    }
}

/// Whether `raw` holds a whole request: the head and `content-length` bytes of body.
fn complete(raw: &[u8]) -> bool {
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    raw.len() >= end + 4 + length
}

/// The raw request the driver's HTTP sink sends for the event.
async fn driver_request(url: &str, mode: SinkMode, listener: &RawListener) -> Vec<u8> {
    let SinkSpec::Http(url) = SinkSpec::parse(url).unwrap() else {
        panic!("an http sink");
    };
    let headers = parse_headers(&["Authorization: Bearer s3cr3t".into()]).unwrap();
    let sink = HttpSink::new(url, mode, headers, Duration::from_secs(10), false).unwrap();
    let event = parse_structured(event_json().to_string().as_bytes()).unwrap();
    sink.deliver(&event).await.unwrap();
    let mut requests = listener.take();
    assert_eq!(requests.len(), 1);
    requests.remove(0)
}

/// The raw request the router sends to an HTTP subscription for the event (invoked directly
/// with the structured CloudEvent), with the real HTTP port and no-I/O ports otherwise.
async fn router_request(url: &str, content_type: Option<&str>, listener: &RawListener) -> Vec<u8> {
    let mut subscription = json!({
        "name": "wire",
        "types": ["com.example.order.created"],
        "http": url,
        "headers": {"Authorization": "Bearer s3cr3t"},
    });
    if let Some(ct) = content_type {
        subscription["content_type"] = json!(ct);
    }
    let config = Config::parse(
        &json!([subscription]).to_string(),
        Format::Json,
        "wire test",
    )
    .unwrap();
    let ports = Ports {
        invoker: Offline,
        http: eventferry_http::Poster::new(Duration::from_secs(10), false).unwrap(),
        queue: Offline,
        sink: Offline,
    };
    let handler = Handler::new(config, Settings::default(), ports, Box::new(Offline));
    let report = handler.handle(event_json(), "wire").await.unwrap();
    assert_eq!(report["results"][0]["status"], "succeeded", "{report}");
    let mut requests = listener.take();
    assert_eq!(requests.len(), 1);
    requests.remove(0)
}

/// The header lines of a raw request, lower-cased names, in order.
fn header_lines(raw: &[u8]) -> Vec<String> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    String::from_utf8_lossy(&raw[..end])
        .lines()
        .skip(1)
        .map(|l| {
            let (name, value) = l.split_once(':').unwrap();
            format!("{}:{}", name.to_ascii_lowercase(), value)
        })
        .collect()
}

#[tokio::test]
async fn driver_and_router_send_the_same_bytes() {
    let listener = RawListener::start().await;
    let url = listener.url.clone();

    let driver = driver_request(&url, SinkMode::Binary, &listener).await;
    let router = router_request(&url, None, &listener).await;
    assert_eq!(
        String::from_utf8_lossy(&driver),
        String::from_utf8_lossy(&router),
        "binary mode"
    );
    // What that one form is: the HTTP binding with percent-encoded values, the time as in the
    // structured JSON, JSON data labelled as such, the target's own header after the binding's.
    let lines = header_lines(&driver);
    for expected in [
        "ce-specversion: 1.0",
        "ce-id: wire-1",
        "ce-subject: order%2042%20%22caf%C3%A9%22%20100%25",
        "ce-time: 2024-05-01T10:00:00.123Z",
        "ce-tenant: acme",
        "ce-priority: 7",
        "content-type: application/json",
        "authorization: Bearer s3cr3t",
        // Trace context: the extension as ce- headers, and the W3C headers with the same value.
        "ce-traceparent: 00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01",
        "ce-tracestate: congo=t61rcWkgMzE",
        "traceparent: 00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01",
        "tracestate: congo=t61rcWkgMzE",
    ] {
        assert!(
            lines.iter().any(|l| l == expected),
            "{expected} in {lines:#?}"
        );
    }
    let body_start = driver.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let body: Value = serde_json::from_slice(&driver[body_start..]).unwrap();
    assert_eq!(body, json!({"total": 5, "note": "x y"}));

    let driver = driver_request(&url, SinkMode::Structured, &listener).await;
    let router = router_request(&url, Some("application/cloudevents+json"), &listener).await;
    assert_eq!(
        String::from_utf8_lossy(&driver),
        String::from_utf8_lossy(&router),
        "structured mode"
    );
    let lines = header_lines(&driver);
    for expected in [
        "content-type: application/cloudevents+json",
        "traceparent: 00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01",
        "tracestate: congo=t61rcWkgMzE",
    ] {
        assert!(
            lines.iter().any(|l| l == expected),
            "{expected} in {lines:#?}"
        );
    }
}
