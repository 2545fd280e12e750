//! Where CloudEvents go: an HTTP endpoint (the CloudEvents HTTP binding of
//! `eventferry_core::binding`, POSTed with `eventferry_http`, exactly as the router's HTTP
//! targets), stdout (NDJSON), or a Lambda function. A sink acknowledges an event by returning `Ok`; only then is the SQS message
//! deleted. [`DeliveryError::Throttled`] says the receiver did not take the event at all (Lambda
//! throttled the invoke): the delivery loop tries it again itself rather than counting a failure.
//!
//! `--sink-batch N` ([`Sink::deliver_batch`]): up to N events in one request. HTTP: the
//! CloudEvents batched content mode (`application/cloudevents-batch+json`, a JSON array of
//! structured events); Lambda: the same JSON array as the payload, in as few invokes as Lambda's
//! payload limit allows; stdout: one line per event, written and flushed at once. One answer
//! acknowledges or fails every event of the batch.

use bytes::Bytes;
use std::future::Future;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use cloudevents::Event;
use eventferry_aws::lambda::{Attempt, InvocationMode, InvokeOutcome, Invoker};
use eventferry_core::binding::{
    batch_chunks, encode_batch, encode_binary, encode_structured, Encoded,
};
use eventferry_core::structured::to_structured_bytes;
use eventferry_core::trace::event_xray_header;
use eventferry_http::{PostError, Poster, Target};

/// Why a delivery failed. The message stays in the queue and comes back later.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("sink answered HTTP {status}")]
    Status { status: u16 },
    #[error("sink request failed: {0}{hint}", hint = tls_hint(.0))]
    Request(PostError),
    #[error("function returned an error ({error})")]
    Function { error: String },
    #[error("invoke failed: {0}")]
    Invoke(String),
    /// The function did not run (Lambda throttled the invoke, or had a service error); the same
    /// call may succeed after `retry_after` (Lambda's `Retry-After`) or a backoff.
    #[error("the function did not run: {detail}")]
    Throttled {
        retry_after: Option<Duration>,
        detail: String,
    },
    #[error("writing to stdout failed: {0}")]
    Io(String),
    /// The batch the event waited in was never sent (the driver stopped first).
    #[error("the batch was not sent: the driver is stopping")]
    Abandoned,
}

/// What to do about a TLS certificate the client refused.
fn tls_hint(error: &PostError) -> &'static str {
    if error.is_certificate() {
        " (the sink's TLS certificate is not trusted: give it a certificate from a public CA; \
         --insecure-skip-tls-verify exists for local testing only)"
    } else {
        ""
    }
}

/// Delivers one CloudEvent and says whether the receiver acknowledged it.
pub trait Sink: Send + Sync + 'static {
    fn deliver(&self, event: &Event) -> impl Future<Output = Result<(), DeliveryError>> + Send;

    /// Whether [`Sink::deliver`] sends an event's data as it is (the body of an HTTP request in
    /// binary mode), so JSON data can stay the message body's own bytes
    /// (`eventferry_core::mapping::from_sqs_message_verbatim`) instead of a parsed value.
    /// Batches always go in the structured form, which needs the parsed value.
    fn sends_data_as_is(&self) -> bool {
        false
    }

    /// Delivers `events` as one batch: `Ok` acknowledges every one of them, `Err` none. Without
    /// a batch form of its own, a sink delivers them one by one and stops at the first failure.
    fn deliver_batch(
        &self,
        events: &[Arc<Event>],
    ) -> impl Future<Output = Result<(), DeliveryError>> + Send {
        async move {
            for event in events {
                self.deliver(event).await?;
            }
            Ok(())
        }
    }
}

/// HTTP content mode of the CloudEvents binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SinkMode {
    /// Attributes in `ce-*` headers, data as the body.
    Binary,
    /// The whole event as `application/cloudevents+json`.
    Structured,
}

/// POSTs each event to a URL; any 2xx answer acknowledges it. The request is the project's one
/// CloudEvents HTTP binding (`eventferry_core::binding`, as the router's HTTP targets), the
/// `--sink-header`s after the binding's headers, sent with `eventferry_http`.
pub struct HttpSink {
    poster: Poster,
    /// Parsed once, not for every request (boxed: it is most of the sink's size).
    target: Box<Target>,
    mode: SinkMode,
    headers: Vec<(String, String)>,
}

impl HttpSink {
    pub fn new(
        url: url::Url,
        mode: SinkMode,
        headers: http::header::HeaderMap,
        timeout: Duration,
        insecure_skip_tls_verify: bool,
    ) -> Result<Self, String> {
        let poster = Poster::new(timeout, insecure_skip_tls_verify).map_err(|e| e.to_string())?;
        let shown = eventferry_http::without_userinfo(url.as_str());
        let target = Target::from_url(url).map_err(|e| format!("--sink {shown}: {e}"))?;
        let headers = headers
            .iter()
            .map(|(name, value)| {
                // parse_headers made every value from a &str, so its bytes are UTF-8.
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_owned(), value)
            })
            .collect();
        Ok(HttpSink {
            poster,
            target: Box::new(target),
            mode,
            headers,
        })
    }
}

impl HttpSink {
    async fn post(&self, request: Encoded) -> Result<(), DeliveryError> {
        let request = request.with_headers(&self.headers);
        let answer = self
            .poster
            .post_to(&self.target, &request.headers, request.body)
            .await
            .map_err(DeliveryError::Request)?;
        if answer.is_success() {
            Ok(())
        } else {
            Err(DeliveryError::Status {
                status: answer.status,
            })
        }
    }
}

impl Sink for HttpSink {
    fn sends_data_as_is(&self) -> bool {
        self.mode == SinkMode::Binary
    }

    async fn deliver(&self, event: &Event) -> Result<(), DeliveryError> {
        self.post(match self.mode {
            SinkMode::Binary => encode_binary(event, None),
            SinkMode::Structured => encode_structured(event),
        })
        .await
    }

    /// One POST in batched content mode, whatever `--sink-mode` says.
    async fn deliver_batch(&self, events: &[Arc<Event>]) -> Result<(), DeliveryError> {
        self.post(encode_batch(events)).await
    }
}

/// Writes each event as one line of structured JSON to stdout.
#[derive(Default)]
pub struct StdoutSink {
    /// Started by the first delivery.
    writer: std::sync::OnceLock<StdoutWriter>,
}

impl Sink for StdoutSink {
    async fn deliver(&self, event: &Event) -> Result<(), DeliveryError> {
        self.write(std::slice::from_ref(event)).await
    }

    /// The same lines, written and flushed together.
    async fn deliver_batch(&self, events: &[Arc<Event>]) -> Result<(), DeliveryError> {
        self.write(events).await
    }
}

impl StdoutSink {
    /// An event is acknowledged once its line is written and flushed.
    async fn write<E: std::borrow::Borrow<Event>>(
        &self,
        events: &[E],
    ) -> Result<(), DeliveryError> {
        let mut lines = Vec::with_capacity(events.len() * 640);
        for event in events {
            lines.extend_from_slice(&to_structured_bytes(event.borrow()));
            lines.push(b'\n');
        }
        let writer = match self.writer.get() {
            Some(writer) => writer,
            None => {
                let started = StdoutWriter::start().map_err(|e| {
                    DeliveryError::Io(format!("cannot start the stdout writer thread: {e}"))
                })?;
                self.writer.get_or_init(|| started)
            }
        };
        writer.write(lines).await.map_err(DeliveryError::Io)
    }
}

/// One thread that writes stdout for every delivery. It takes whatever lines are waiting,
/// writes them with one `write` and one flush under stdout's lock, then answers each sender. A
/// reader that stops reading blocks this thread, not the tokio worker that runs receives,
/// deletes and the lease heartbeat. Lines queue only while deliveries wait for their answer, so at
/// most `--max-in-flight` of them.
struct StdoutWriter {
    lines: tokio::sync::mpsc::UnboundedSender<Pending>,
}

struct Pending {
    bytes: Vec<u8>,
    written: tokio::sync::oneshot::Sender<Result<(), String>>,
}

impl StdoutWriter {
    fn start() -> std::io::Result<Self> {
        Self::start_with(|| std::io::stdout().lock())
    }

    /// The thread writes to what `open` gives, once per batch (stdout's lock, in `start`).
    fn start_with<W: Write, F: FnMut() -> W + Send + 'static>(
        mut open: F,
    ) -> std::io::Result<Self> {
        let (lines, mut waiting) = tokio::sync::mpsc::unbounded_channel::<Pending>();
        std::thread::Builder::new()
            .name("stdout".into())
            .spawn(move || {
                let mut batch: Vec<Pending> = Vec::new();
                let mut bytes = Vec::new();
                while let Some(first) = waiting.blocking_recv() {
                    batch.push(first);
                    while let Ok(more) = waiting.try_recv() {
                        batch.push(more);
                    }
                    bytes.clear();
                    for pending in &batch {
                        bytes.extend_from_slice(&pending.bytes);
                    }
                    let mut out = open();
                    let result = out
                        .write_all(&bytes)
                        .and_then(|()| out.flush())
                        .map_err(|e| e.to_string());
                    drop(out);
                    for pending in batch.drain(..) {
                        let _ = pending.written.send(result.clone());
                    }
                }
            })?;
        Ok(StdoutWriter { lines })
    }

    async fn write(&self, bytes: Vec<u8>) -> Result<(), String> {
        let (written, answer) = tokio::sync::oneshot::channel();
        let stopped = || "the stdout writer thread has stopped".to_owned();
        self.lines
            .send(Pending { bytes, written })
            .map_err(|_| stopped())?;
        answer.await.unwrap_or_else(|_| Err(stopped()))
    }
}

/// Invokes a Lambda function with the structured CloudEvent as payload. A result without
/// `FunctionError` acknowledges the event; a throttle is [`DeliveryError::Throttled`].
pub struct LambdaSink<I> {
    invoker: Arc<I>,
    function: String,
    mode: InvocationMode,
}

impl<I: Invoker> LambdaSink<I> {
    pub fn new(invoker: I, function: String, mode: InvocationMode) -> Self {
        LambdaSink {
            invoker: Arc::new(invoker),
            function,
            mode,
        }
    }
}

/// Lambda's payload limit for a request: 6 MB synchronous, 256 KB asynchronous (the limit of
/// asynchronous invokes before AWS raised it, kept so older regions and LocalStack take it too).
pub fn lambda_payload_limit(mode: InvocationMode) -> usize {
    match mode {
        InvocationMode::Sync => 6_000_000,
        InvocationMode::Async => 256 * 1024,
    }
}

impl<I: Invoker> LambdaSink<I> {
    /// One invoke; `trace` (an X-Ray header) goes as its X-Amzn-Trace-Id.
    async fn invoke(&self, payload: Vec<u8>, trace: Option<&str>) -> Result<(), DeliveryError> {
        match self
            .invoker
            .attempt_traced(&self.function, Bytes::from(payload), self.mode, trace)
            .await
        {
            Ok(Attempt::Done(InvokeOutcome::Ok { .. })) => Ok(()),
            Ok(Attempt::Done(InvokeOutcome::FunctionError { error, .. })) => {
                Err(DeliveryError::Function { error })
            }
            Ok(Attempt::Throttled(throttled)) => Err(DeliveryError::Throttled {
                retry_after: throttled.retry_after,
                detail: throttled.to_string(),
            }),
            Err(e) => Err(DeliveryError::Invoke(e.to_string())),
        }
    }
}

impl<I: Invoker> Sink for LambdaSink<I> {
    async fn deliver(&self, event: &Event) -> Result<(), DeliveryError> {
        // The event's trace as X-Amzn-Trace-Id: X-Ray joins the function to it.
        let trace = event_xray_header(event);
        self.invoke(to_structured_bytes(event), trace.as_deref())
            .await
    }

    /// A JSON array of structured CloudEvents as the payload; a batch over Lambda's payload limit
    /// goes as several invokes in order, and the first that fails fails the batch (the events of
    /// those before it come again with the rest: at least once). An invoke carries one
    /// X-Amzn-Trace-Id, and a batch's events may belong to different traces: batches send none,
    /// and each event keeps its own `traceparent` in the payload.
    async fn deliver_batch(&self, events: &[Arc<Event>]) -> Result<(), DeliveryError> {
        for payload in batch_chunks(events, lambda_payload_limit(self.mode)) {
            self.invoke(payload, None).await?;
        }
        Ok(())
    }
}

/// The sink chosen on the command line.
pub enum ConfiguredSink<I> {
    Http(HttpSink),
    Stdout(StdoutSink),
    Lambda(LambdaSink<I>),
}

impl<I: Invoker> Sink for ConfiguredSink<I> {
    fn sends_data_as_is(&self) -> bool {
        match self {
            ConfiguredSink::Http(s) => s.sends_data_as_is(),
            ConfiguredSink::Stdout(s) => s.sends_data_as_is(),
            ConfiguredSink::Lambda(s) => s.sends_data_as_is(),
        }
    }

    async fn deliver(&self, event: &Event) -> Result<(), DeliveryError> {
        match self {
            ConfiguredSink::Http(s) => s.deliver(event).await,
            ConfiguredSink::Stdout(s) => s.deliver(event).await,
            ConfiguredSink::Lambda(s) => s.deliver(event).await,
        }
    }

    async fn deliver_batch(&self, events: &[Arc<Event>]) -> Result<(), DeliveryError> {
        match self {
            ConfiguredSink::Http(s) => s.deliver_batch(events).await,
            ConfiguredSink::Stdout(s) => s.deliver_batch(events).await,
            ConfiguredSink::Lambda(s) => s.deliver_batch(events).await,
        }
    }
}

/// A `--sink` value, parsed and checked before anything is created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkSpec {
    Http(url::Url),
    Stdout,
    Lambda(String),
}

impl SinkSpec {
    /// Parse `stdout`, `lambda:<name|arn>`, or an `http(s)://` URL.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text == "stdout" || text == "-" {
            return Ok(SinkSpec::Stdout);
        }
        if let Some(function) = text.strip_prefix("lambda:") {
            let ok = !function.is_empty()
                && function.len() <= 170
                && function
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_:.$".contains(c));
            return if ok {
                Ok(SinkSpec::Lambda(function.to_owned()))
            } else {
                Err(format!(
                    "--sink {text:?}: the function after 'lambda:' must be a Lambda function name or ARN \
                     (letters, digits, - _ : . $), e.g. lambda:router"
                ))
            };
        }
        let hint = "use an http:// or https:// URL, 'stdout', or 'lambda:<function>'";
        let url = url::Url::parse(text)
            .map_err(|e| format!("--sink {text:?} is not a valid URL ({e}): {hint}"))?;
        match url.scheme() {
            "http" | "https" if url.host_str().is_some_and(|h| !h.is_empty()) => {
                Ok(SinkSpec::Http(url))
            }
            "http" | "https" => Err(format!("--sink {text:?} has no host: {hint}")),
            other => Err(format!(
                "--sink {text:?} has unsupported scheme {other:?}: {hint}"
            )),
        }
    }
}

/// Parse `Name: value` sink headers; the error never repeats the value.
pub fn parse_headers(items: &[String]) -> Result<http::header::HeaderMap, String> {
    let mut map = http::header::HeaderMap::new();
    for item in items {
        let (name, value) = item
            .split_once(':')
            .ok_or_else(|| "--sink-header must look like 'Name: value'".to_string())?;
        let name = http::header::HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
            format!(
                "--sink-header name {:?} is not a valid HTTP header name",
                name.trim()
            )
        })?;
        let mut value = http::header::HeaderValue::from_str(value.trim()).map_err(|_| {
            format!("--sink-header {name}: the value is not a valid HTTP header value")
        })?;
        value.set_sensitive(true);
        map.append(name, value);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records what is written and how many flushes it took; fails every write when `broken`.
    #[derive(Clone, Default)]
    struct Recorder {
        bytes: Arc<std::sync::Mutex<Vec<u8>>>,
        flushes: Arc<std::sync::atomic::AtomicUsize>,
        broken: bool,
    }

    impl Write for Recorder {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.broken {
                return Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
            }
            self.bytes.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            self.flushes
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        }
    }

    #[tokio::test]
    async fn the_stdout_writer_answers_each_line_once_it_is_flushed() {
        let recorder = Recorder::default();
        let opened = recorder.clone();
        let writer = Arc::new(StdoutWriter::start_with(move || opened.clone()).unwrap());
        let writes = (0..50).map(|i| {
            let writer = writer.clone();
            tokio::spawn(async move { writer.write(format!("line {i}\n").into_bytes()).await })
        });
        for write in writes.collect::<Vec<_>>() {
            write.await.unwrap().unwrap();
        }
        let text = String::from_utf8(recorder.bytes.lock().unwrap().clone()).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        lines.sort_unstable();
        let mut expected: Vec<String> = (0..50).map(|i| format!("line {i}")).collect();
        expected.sort_unstable();
        assert_eq!(lines, expected, "every line once, whole");
        let flushes = recorder.flushes.load(std::sync::atomic::Ordering::SeqCst);
        assert!((1..=50).contains(&flushes), "{flushes} flushes");

        // A reader gone (EPIPE): every waiting line fails, none is acknowledged.
        let broken = Recorder {
            broken: true,
            ..Recorder::default()
        };
        let writer = StdoutWriter::start_with(move || broken.clone()).unwrap();
        let err = writer.write(b"lost\n".to_vec()).await.unwrap_err();
        assert!(
            err.contains("Broken pipe") || err.contains("broken pipe"),
            "{err}"
        );
    }

    /// An HTTPS sink with a self-signed certificate on 127.0.0.1, answering 202 to each request.
    /// Returns its URL and the number of HTTP requests it has read.
    async fn self_signed_https_sink() -> (url::Url, std::sync::Arc<std::sync::atomic::AtomicU32>) {
        use std::sync::atomic::{AtomicU32, Ordering};
        use std::sync::Arc;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        use tokio_rustls::rustls;

        let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
            .expect("self-signed certificate");
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.key_pair.serialize_der().into());
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .expect("server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "https://127.0.0.1:{}/events",
            listener.local_addr().unwrap().port()
        );
        let requests = Arc::new(AtomicU32::new(0));
        let counted = requests.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, counted) = (acceptor.clone(), counted.clone());
                tokio::spawn(async move {
                    // A failed handshake (the client refused the certificate) ends here.
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let mut buf = vec![0u8; 64 * 1024];
                    let mut seen = Vec::new();
                    while let Ok(n) = tls.read(&mut buf).await {
                        if n == 0 {
                            return;
                        }
                        seen.extend_from_slice(&buf[..n]);
                        if seen.windows(4).any(|w| w == b"\r\n\r\n") {
                            break;
                        }
                    }
                    counted.fetch_add(1, Ordering::SeqCst);
                    let _ = tls
                        .write_all(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                        .await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        (url.parse().unwrap(), requests)
    }

    fn test_event() -> Event {
        use cloudevents::{EventBuilder, EventBuilderV10};
        EventBuilderV10::new()
            .id("tls-1")
            .source("/tests/tls")
            .ty("com.example.tls")
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn https_sinks_verify_certificates_unless_told_not_to() {
        use std::sync::atomic::Ordering;
        let (url, requests) = self_signed_https_sink().await;
        let sink = |insecure| {
            HttpSink::new(
                url.clone(),
                SinkMode::Binary,
                http::header::HeaderMap::new(),
                Duration::from_secs(10),
                insecure,
            )
            .unwrap()
        };

        // Verified (the default): the handshake fails, nothing is delivered, and the error says
        // why and what to do.
        let err = sink(false).deliver(&test_event()).await.unwrap_err();
        let text = err.to_string();
        assert!(text.contains("certificate"), "{text}");
        assert!(text.contains("--insecure-skip-tls-verify"), "{text}");
        assert_eq!(requests.load(Ordering::SeqCst), 0, "no request got through");

        // --insecure-skip-tls-verify: delivered.
        sink(true).deliver(&test_event()).await.unwrap();
        assert_eq!(requests.load(Ordering::SeqCst), 1);
    }

    /// Answers each invoke with the next of `answers`.
    struct Scripted(std::sync::Mutex<Vec<eventferry_aws::lambda::Attempt>>);

    impl Invoker for Scripted {
        async fn invoke(
            &self,
            _: &str,
            _: Bytes,
            _: InvocationMode,
        ) -> Result<InvokeOutcome, eventferry_aws::AwsError> {
            unreachable!("the Lambda sink calls attempt")
        }

        async fn attempt(
            &self,
            _: &str,
            _: Bytes,
            _: InvocationMode,
        ) -> Result<Attempt, eventferry_aws::AwsError> {
            Ok(self.0.lock().unwrap().remove(0))
        }
    }

    #[tokio::test]
    async fn the_lambda_sink_tells_throttles_from_function_errors() {
        let throttled = eventferry_aws::lambda::Throttled {
            status: 429,
            code: "TooManyRequestsException".into(),
            reason: Some("ReservedFunctionConcurrentInvocationLimitExceeded".into()),
            retry_after: Some(Duration::from_secs(1)),
            message: "Rate Exceeded.".into(),
        };
        let sink = LambdaSink::new(
            Scripted(std::sync::Mutex::new(vec![
                Attempt::Throttled(throttled),
                Attempt::Done(InvokeOutcome::FunctionError {
                    status: 500,
                    error: "Unhandled".into(),
                    payload: br#"{"errorType":"x","errorMessage":"boom"}"#.to_vec(),
                }),
                Attempt::Done(InvokeOutcome::Ok {
                    status: 200,
                    payload: b"{}".to_vec(),
                }),
            ])),
            "recorder".into(),
            InvocationMode::Sync,
        );
        match sink.deliver(&test_event()).await {
            Err(DeliveryError::Throttled {
                retry_after,
                detail,
            }) => {
                assert_eq!(retry_after, Some(Duration::from_secs(1)));
                assert!(detail.contains("TooManyRequestsException"), "{detail}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            sink.deliver(&test_event()).await,
            Err(DeliveryError::Function { .. })
        ));
        sink.deliver(&test_event()).await.unwrap();
    }

    /// Records each payload (and each traced call's X-Ray header); answers a function error to
    /// the invoke numbered `fail_at` (from 1).
    struct Recording {
        payloads: std::sync::Mutex<Vec<(Vec<u8>, InvocationMode)>>,
        traces: std::sync::Mutex<Vec<Option<String>>>,
        fail_at: usize,
    }

    impl Recording {
        fn failing_at(fail_at: usize) -> Self {
            Recording {
                payloads: Default::default(),
                traces: Default::default(),
                fail_at,
            }
        }
    }

    impl Invoker for Recording {
        async fn attempt_traced(
            &self,
            function: &str,
            payload: Bytes,
            mode: InvocationMode,
            trace: Option<&str>,
        ) -> Result<Attempt, eventferry_aws::AwsError> {
            self.traces.lock().unwrap().push(trace.map(str::to_owned));
            self.invoke(function, payload, mode)
                .await
                .map(Attempt::Done)
        }

        async fn invoke(
            &self,
            _: &str,
            payload: Bytes,
            mode: InvocationMode,
        ) -> Result<InvokeOutcome, eventferry_aws::AwsError> {
            let mut payloads = self.payloads.lock().unwrap();
            payloads.push((payload.to_vec(), mode));
            Ok(if payloads.len() == self.fail_at {
                InvokeOutcome::FunctionError {
                    status: 200,
                    error: "Unhandled".into(),
                    payload: Vec::new(),
                }
            } else {
                InvokeOutcome::Ok {
                    status: 200,
                    payload: Vec::new(),
                }
            })
        }
    }

    fn big_event(i: usize) -> Arc<Event> {
        use cloudevents::{EventBuilder, EventBuilderV10};
        Arc::new(
            EventBuilderV10::new()
                .id(i.to_string())
                .source("/tests/batch")
                .ty("com.example.batch")
                .data(
                    "application/json",
                    serde_json::json!({"pad": "x".repeat(100_000)}),
                )
                .build()
                .unwrap(),
        )
    }

    /// An event's trace goes with its invoke as X-Amzn-Trace-Id, in X-Ray form; an event without
    /// one sends none, and a batch (whose events may belong to several traces) sends none.
    #[tokio::test]
    async fn the_lambda_sink_sends_the_events_trace_as_the_xray_header() {
        let sink = LambdaSink::new(Recording::failing_at(0), "f".into(), InvocationMode::Sync);
        let mut traced = test_event();
        traced.set_extension(
            "traceparent",
            "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01",
        );
        sink.deliver(&traced).await.unwrap();
        sink.deliver(&test_event()).await.unwrap();
        sink.deliver_batch(&[Arc::new(traced)]).await.unwrap();
        assert_eq!(
            *sink.invoker.traces.lock().unwrap(),
            [
                Some(
                    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
                        .to_owned()
                ),
                None,
                None
            ]
        );
    }

    /// A batch goes to Lambda as a JSON array of structured events, in as few invokes as the
    /// payload limit allows (256 KB async: two events of 100 KB each); one failed invoke fails it.
    #[tokio::test]
    async fn the_lambda_sink_sends_a_batch_as_json_arrays_within_the_payload_limit() {
        let events: Vec<Arc<Event>> = (0..5).map(big_event).collect();
        for (mode, invokes) in [(InvocationMode::Sync, 1), (InvocationMode::Async, 3)] {
            let sink = LambdaSink::new(Recording::failing_at(0), "f".into(), mode);
            sink.deliver_batch(&events).await.unwrap();
            let payloads = sink.invoker.payloads.lock().unwrap().clone();
            assert_eq!(payloads.len(), invokes, "{mode:?}");
            let mut ids = Vec::new();
            for (payload, _) in &payloads {
                assert!(payload.len() <= lambda_payload_limit(mode));
                for item in serde_json::from_slice::<Vec<serde_json::Value>>(payload).unwrap() {
                    assert_eq!(item["specversion"], "1.0");
                    ids.push(item["id"].as_str().unwrap().to_owned());
                }
            }
            assert_eq!(ids, ["0", "1", "2", "3", "4"]);
        }
        let failing = LambdaSink::new(Recording::failing_at(2), "f".into(), InvocationMode::Async);
        assert!(matches!(
            failing.deliver_batch(&events).await,
            Err(DeliveryError::Function { .. })
        ));
        assert_eq!(
            failing.invoker.payloads.lock().unwrap().len(),
            2,
            "stops at the first failure"
        );
    }

    #[test]
    fn sink_specs() {
        assert_eq!(SinkSpec::parse("stdout").unwrap(), SinkSpec::Stdout);
        assert_eq!(
            SinkSpec::parse("lambda:router").unwrap(),
            SinkSpec::Lambda("router".into())
        );
        assert_eq!(
            SinkSpec::parse("lambda:arn:aws:lambda:us-east-1:000000000000:function:router")
                .unwrap(),
            SinkSpec::Lambda("arn:aws:lambda:us-east-1:000000000000:function:router".into())
        );
        assert!(matches!(
            SinkSpec::parse("http://127.0.0.1:8080/x").unwrap(),
            SinkSpec::Http(_)
        ));
        for bad in [
            "ftp://x",
            "http://",
            "not a url",
            "lambda:",
            "lambda:bad name",
            "localhost:8080",
        ] {
            let err = SinkSpec::parse(bad).unwrap_err();
            assert!(err.contains("--sink"), "{bad}: {err}");
        }
    }

    #[test]
    fn headers_parse_and_never_echo_values() {
        let map =
            parse_headers(&["Authorization: Bearer s3cr3t".into(), "X-Team:a".into()]).unwrap();
        assert_eq!(map.len(), 2);
        assert!(map["authorization"].is_sensitive());
        let err = parse_headers(&["X-Bad: line\nbreak-s3cr3t".into()]).unwrap_err();
        assert!(!err.contains("s3cr3t"), "{err}");
        assert!(parse_headers(&["no colon".into()]).is_err());
    }
}
