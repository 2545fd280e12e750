//! Opt-in OpenTelemetry (`--otlp-endpoint`, or the standard `OTEL_EXPORTER_OTLP_ENDPOINT`): one
//! span per delivery, exported over OTLP/HTTP by the `opentelemetry` crates' batch processor (on
//! its own thread). The span is a child of the event's incoming trace context (its
//! `traceparent`), or a root when the event has none, and carries the queue, the message id,
//! the event id, the sink and the outcome.
//!
//! The endpoint is `http://` (a collector or agent next to the driver) or `https://` (a remote
//! collector): the exporter's client (reqwest 0.13, blocking) uses rustls on ring, installed here
//! as the process's default provider, the one the HTTP sink and the AWS SDK client use, and
//! verifies the collector's certificate against the system's roots (rustls-platform-verifier).
//!
//! Off (no endpoint), no tracer provider exists: the delivery loop's cost is one `Option` check.
//! The protocol is OTLP/HTTP protobuf (`http/protobuf`), or JSON with
//! `OTEL_EXPORTER_OTLP_PROTOCOL=http/json`; the SDK's other `OTEL_EXPORTER_OTLP_*` variables
//! (headers, timeout) apply as usual.

use std::time::SystemTime;

use cloudevents::{AttributesReader, Event};
use eventferry_core::trace::{event_trace, TraceContext};
use opentelemetry::trace::{
    Span, SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags, TraceId, TraceState,
    Tracer, TracerProvider,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{SpanExporter, WithExportConfig};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use opentelemetry_sdk::Resource;

/// The span name of one delivery.
pub const DELIVERY_SPAN: &str = "eventferry.deliver";

/// The traces endpoint for a base endpoint, as the OTLP spec derives it from
/// `OTEL_EXPORTER_OTLP_ENDPOINT`: `/v1/traces` appended to the base URL's path.
pub fn traces_url(base: &str) -> Result<String, String> {
    let base = base.trim();
    let url = url::Url::parse(base).map_err(|e| {
        format!(
            "--otlp-endpoint {base:?} is not a URL ({e}): give the collector's OTLP/HTTP base \
             URL, e.g. http://127.0.0.1:4318"
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "--otlp-endpoint {base:?} must be an http:// or https:// URL of an OTLP/HTTP \
             collector (OTLP/gRPC is not supported), e.g. http://127.0.0.1:4318 or \
             https://otel.example.com:4318"
        ));
    }
    Ok(format!("{}/v1/traces", base.trim_end_matches('/')))
}

/// The delivery spans' tracer and the provider that exports them.
pub struct Spans {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
    /// The sink, without secrets: `stdout`, `lambda:NAME` or the URL without credentials or query.
    sink: String,
}

impl std::fmt::Debug for Spans {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Spans")
    }
}

/// What one delivery span records.
pub struct Delivery<'a> {
    pub event: &'a Event,
    pub queue_arn: &'a str,
    pub message_id: &'a str,
    pub started: SystemTime,
    /// `None` when delivered, else the error.
    pub error: Option<String>,
}

impl Spans {
    /// Export to the collector at `base` (an OTLP/HTTP base URL such as http://127.0.0.1:4318);
    /// `sink` names the sink in the spans.
    pub fn new(base: &str, sink: String) -> Result<Self, String> {
        let url = traces_url(base)?;
        // reqwest 0.13 is built with rustls but no provider of its own: ring, as everywhere else
        // in the driver. An Err means a provider is installed already; that one is used then.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let exporter = SpanExporter::builder()
            .with_http()
            .with_endpoint(url.clone())
            .build()
            .map_err(|e| format!("cannot set up the OTLP exporter for {url}: {e}"))?;
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(Resource::builder().with_service_name("eventferry").build())
            .build();
        let tracer = provider.tracer("eventferry");
        Ok(Spans {
            provider,
            tracer,
            sink,
        })
    }

    /// Record one finished delivery as a span, a child of the event's trace context.
    pub fn record(&self, delivery: &Delivery<'_>) {
        let parent = match event_trace(delivery.event)
            .and_then(|(parent, _)| TraceContext::from_traceparent(&parent).ok())
        {
            Some(incoming) => Context::new().with_remote_span_context(SpanContext::new(
                TraceId::from_bytes(incoming.trace_id_bytes()),
                SpanId::from_bytes(incoming.parent_id_bytes()),
                if incoming.sampled() {
                    TraceFlags::SAMPLED
                } else {
                    TraceFlags::default()
                },
                true,
                TraceState::default(),
            )),
            None => Context::new(),
        };
        let outcome = if delivery.error.is_some() {
            "failed"
        } else {
            "delivered"
        };
        let mut span = self
            .tracer
            .span_builder(DELIVERY_SPAN)
            .with_kind(SpanKind::Consumer)
            .with_start_time(delivery.started)
            .with_attributes([
                KeyValue::new("messaging.system", "aws_sqs"),
                KeyValue::new("messaging.destination.name", delivery.queue_arn.to_owned()),
                KeyValue::new("messaging.message.id", delivery.message_id.to_owned()),
                KeyValue::new("cloudevents.event_id", delivery.event.id().to_owned()),
                KeyValue::new("cloudevents.event_type", delivery.event.ty().to_owned()),
                KeyValue::new("eventferry.sink", self.sink.clone()),
                KeyValue::new("eventferry.outcome", outcome),
            ])
            .start_with_context(&self.tracer, &parent);
        if let Some(error) = &delivery.error {
            span.set_status(Status::error(error.clone()));
        }
        span.end();
    }

    /// Export what is buffered and stop (at shutdown).
    pub fn shutdown(&self) {
        if let Err(e) = self.provider.shutdown() {
            tracing::warn!(error = %e, "OpenTelemetry: could not export the last spans");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traces_url_appends_the_signal_path_and_refuses_what_is_not_http() {
        assert_eq!(
            traces_url("http://127.0.0.1:4318").unwrap(),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert_eq!(
            traces_url("http://otel.example/base/").unwrap(),
            "http://otel.example/base/v1/traces"
        );
        assert_eq!(
            traces_url("https://otel.example:4318").unwrap(),
            "https://otel.example:4318/v1/traces"
        );
        for bad in ["", "127.0.0.1:4318", "grpc://x:4317", "not a url"] {
            let err = traces_url(bad).unwrap_err();
            assert!(err.starts_with("--otlp-endpoint"), "{bad:?}: {err}");
            assert!(err.contains("e.g. http://127.0.0.1:4318"), "{bad:?}: {err}");
        }
    }

    /// An https:// endpoint is exported to over TLS: a plain-TCP server in its place sees a TLS
    /// ClientHello (a handshake record, first byte 0x16), answers plain HTTP, and the export
    /// fails as a network error, not as a refused scheme or a client that could not be built
    /// (reqwest 0.13 is built without a crypto provider of its own).
    #[test]
    fn an_https_endpoint_is_exported_to_over_tls() {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut tcp, _) = listener.accept().unwrap();
            tcp.set_read_timeout(Some(std::time::Duration::from_secs(30)))
                .unwrap();
            let mut first = [0u8; 5];
            let n = tcp.read(&mut first).unwrap_or(0);
            let _ = tcp.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n");
            first[..n].to_vec()
        });
        let spans = Spans::new(&format!("https://127.0.0.1:{port}"), "stdout".into()).unwrap();
        let event = cloudevents::EventBuilderV10::new()
            .id("e-1")
            .ty("t")
            .source("s")
            .build();
        use cloudevents::EventBuilder;
        spans.record(&Delivery {
            event: &event.unwrap(),
            queue_arn: "arn:aws:sqs:us-east-1:000000000000:q",
            message_id: "m-1",
            started: SystemTime::now(),
            error: None,
        });
        let err = spans
            .provider
            .force_flush()
            .expect_err("a plain-TCP server cannot take a TLS export");
        let seen = server.join().unwrap();
        assert_eq!(
            seen.first(),
            Some(&0x16),
            "a TLS handshake record: {seen:?}"
        );
        // The exporter says no more than "HTTP export failed: network error" for a failed send.
        let text = err.to_string();
        assert!(text.contains("network error"), "{text}");
        assert!(!text.to_ascii_lowercase().contains("scheme"), "{text}");
        spans.shutdown();
    }
}
