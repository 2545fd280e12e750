//! Lambda: invoking a function, behind [`Invoker`] so the router and the driver's Lambda sink can
//! be tested in-process.
//!
//! Both failure shapes count as a failed invocation: real Lambda's `200` with
//! `X-Amz-Function-Error`, and the `500` that `cargo lambda watch` answers for a handler error.
//! `InvocationType=Event` is accepted whether the service answers `202` (real Lambda) or `200`
//! with a body (`cargo lambda watch`).
//!
//! A third shape is neither success nor the function's failure: Lambda turned the call away and
//! the function did not run ([`Throttled`]): HTTP 429 `TooManyRequestsException` (with
//! `Retry-After`), `EC2ThrottledException`, `ResourceNotReadyException`, `ServiceException`, or
//! a 5xx that names no error of the function's configuration. [`Invoker::attempt`] returns it as
//! such, so a caller can wait and try again without counting a failure; [`Invoker::invoke`]
//! reports it as a transient error.
//!
//! # Trace context
//!
//! [`Invoker::invoke_traced`] and [`Invoker::attempt_traced`] send an X-Ray trace header
//! (`Root=1-…;Parent=…;Sampled=…`, e.g. `eventferry_core::trace::TraceContext::xray_header`) as
//! the Invoke request's `X-Amzn-Trace-Id` HTTP header, which is how Lambda (and X-Ray) join the
//! invoked function to the caller's trace: the function sees it as `_X_AMZN_TRACE_ID`. It replaces
//! the header the SDK's recursion-detection interceptor copies from `_X_AMZN_TRACE_ID` when the
//! caller itself runs in Lambda (the caller's own invocation, not the event's trace). Without a
//! header they are `invoke` and `attempt`.

use std::future::Future;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_lambda::operation::invoke::InvokeError;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use aws_sdk_lambda::Client;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use bytes::Bytes;

use crate::error::{AwsError, ErrorKind};

/// Wait for the function's result, or hand the event over and return at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InvocationMode {
    #[default]
    Sync,
    Async,
}

/// What a completed Invoke call said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvokeOutcome {
    /// The function ran (sync) or the event was queued (async).
    Ok { status: i32, payload: Vec<u8> },
    /// The function ran and failed: `error` is the `FunctionError` kind (or `Unhandled`), and
    /// `payload` its error document.
    FunctionError {
        status: i32,
        error: String,
        payload: Vec<u8>,
    },
}

impl InvokeOutcome {
    pub fn is_ok(&self) -> bool {
        matches!(self, InvokeOutcome::Ok { .. })
    }
}

/// Lambda turned an Invoke away: the function did not run, and the same call may succeed later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Throttled {
    /// The HTTP status (429 for `TooManyRequestsException`, 5xx for the others).
    pub status: u16,
    /// The error code, e.g. `TooManyRequestsException`, or `HTTP <status>` when there was none.
    pub code: String,
    /// `TooManyRequestsException`'s `Reason`, e.g. `ReservedFunctionConcurrentInvocationLimitExceeded`.
    pub reason: Option<String>,
    /// How long Lambda asked the caller to wait (`Retry-After`), when it said.
    pub retry_after: Option<Duration>,
    /// The service's message.
    pub message: String,
}

impl std::fmt::Display for Throttled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (HTTP {}, {}", self.message, self.status, self.code)?;
        if let Some(reason) = &self.reason {
            write!(f, ", {reason}")?;
        }
        if let Some(wait) = self.retry_after {
            write!(f, ", Retry-After {} s", wait.as_secs_f64())?;
        }
        f.write_str(")")
    }
}

/// What one Invoke call came to, throttles included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// Lambda ran the function (or queued the event): its result.
    Done(InvokeOutcome),
    /// Lambda did not run the function; try again later.
    Throttled(Throttled),
}

/// Invoke a function by name or ARN. The payload is [`Bytes`]: one rendered payload goes to
/// several invokes (a router event's subscribers) without a copy, and [`Lambda`] hands it to the
/// SDK as it is ([`Blob::from_maybe_shared`]).
pub trait Invoker: Send + Sync + 'static {
    /// One Invoke; a throttle is an error of kind [`ErrorKind::Transient`].
    fn invoke(
        &self,
        function: &str,
        payload: Bytes,
        mode: InvocationMode,
    ) -> impl Future<Output = Result<InvokeOutcome, AwsError>> + Send;

    /// One Invoke that tells a throttle (the function did not run) apart from other errors. An
    /// invoker that is never throttled need not implement it.
    fn attempt(
        &self,
        function: &str,
        payload: Bytes,
        mode: InvocationMode,
    ) -> impl Future<Output = Result<Attempt, AwsError>> + Send {
        let call = self.invoke(function, payload, mode);
        async move { call.await.map(Attempt::Done) }
    }

    /// [`Invoker::invoke`] with the X-Ray trace header `trace` (`Root=1-…;Parent=…;Sampled=…`)
    /// as the request's `X-Amzn-Trace-Id`. An invoker that carries no trace need not implement
    /// it: by default the header is dropped.
    fn invoke_traced(
        &self,
        function: &str,
        payload: Bytes,
        mode: InvocationMode,
        trace: Option<&str>,
    ) -> impl Future<Output = Result<InvokeOutcome, AwsError>> + Send {
        let _ = trace;
        self.invoke(function, payload, mode)
    }

    /// [`Invoker::attempt`] with the X-Ray trace header `trace` as the request's
    /// `X-Amzn-Trace-Id`; by default the header is dropped.
    fn attempt_traced(
        &self,
        function: &str,
        payload: Bytes,
        mode: InvocationMode,
        trace: Option<&str>,
    ) -> impl Future<Output = Result<Attempt, AwsError>> + Send {
        let _ = trace;
        self.attempt(function, payload, mode)
    }
}

/// The HTTP header that carries the X-Ray trace header on AWS requests.
pub const TRACE_ID_HEADER: &str = "X-Amzn-Trace-Id";

/// Checks an X-Ray trace header before it goes on the wire: printable ASCII, at most 2,048
/// bytes (a header of Root, Parent, Sampled and Lineage is about 100).
fn check_trace_header(trace: &str) -> Result<(), AwsError> {
    let printable = trace.bytes().all(|b| (0x20..=0x7e).contains(&b));
    if !trace.trim().is_empty() && printable && trace.len() <= 2048 {
        return Ok(());
    }
    let shown: String = trace.chars().take(120).collect();
    Err(AwsError {
        operation: "Invoke",
        kind: ErrorKind::Other,
        code: None,
        message: format!(
            "the X-Ray trace header {shown:?} cannot be sent as {TRACE_ID_HEADER}: expected \
             printable ASCII of at most 2048 bytes, e.g. \
             \"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1\""
        ),
    })
}

/// The AWS SDK's Lambda client. Set `AWS_ENDPOINT_URL_LAMBDA` to point it at `cargo lambda watch`.
#[derive(Debug, Clone)]
pub struct Lambda {
    client: Client,
}

impl Lambda {
    pub fn new(config: &SdkConfig) -> Self {
        Lambda {
            client: Client::new(config),
        }
    }

    /// A client that never retries on its own, so a failing function runs exactly once per call
    /// (the caller decides about retries, throttles included).
    pub fn without_retries(config: &SdkConfig) -> Self {
        let conf = aws_sdk_lambda::config::Builder::from(config)
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .build();
        Lambda {
            client: Client::from_conf(conf),
        }
    }
}

impl Invoker for Lambda {
    async fn invoke(
        &self,
        function: &str,
        payload: Bytes,
        mode: InvocationMode,
    ) -> Result<InvokeOutcome, AwsError> {
        self.invoke_traced(function, payload, mode, None).await
    }

    async fn attempt(
        &self,
        function: &str,
        payload: Bytes,
        mode: InvocationMode,
    ) -> Result<Attempt, AwsError> {
        self.attempt_traced(function, payload, mode, None).await
    }

    async fn invoke_traced(
        &self,
        function: &str,
        payload: Bytes,
        mode: InvocationMode,
        trace: Option<&str>,
    ) -> Result<InvokeOutcome, AwsError> {
        match self.attempt_traced(function, payload, mode, trace).await? {
            Attempt::Done(outcome) => Ok(outcome),
            Attempt::Throttled(throttled) => Err(AwsError {
                operation: "Invoke",
                kind: ErrorKind::Transient,
                code: Some(throttled.code.clone()),
                message: throttled.to_string(),
            }),
        }
    }

    async fn attempt_traced(
        &self,
        function: &str,
        payload: Bytes,
        mode: InvocationMode,
        trace: Option<&str>,
    ) -> Result<Attempt, AwsError> {
        let invocation_type = match mode {
            InvocationMode::Sync => InvocationType::RequestResponse,
            InvocationMode::Async => InvocationType::Event,
        };
        let request = self
            .client
            .invoke()
            .function_name(function)
            .invocation_type(invocation_type)
            .payload(Blob::from_maybe_shared(payload));
        let result = match trace {
            None => request.send().await,
            Some(trace) => {
                check_trace_header(trace)?;
                let trace = trace.to_owned();
                // Before signing, as the recursion-detection interceptor; `insert` replaces the
                // header that one may have set from `_X_AMZN_TRACE_ID`, and it leaves ours alone.
                request
                    .customize()
                    .mutate_request(move |req| {
                        req.headers_mut().insert(TRACE_ID_HEADER, trace.clone());
                    })
                    .send()
                    .await
            }
        };
        let err = match result {
            Ok(out) => {
                let payload = out.payload.map(Blob::into_inner).unwrap_or_default();
                return Ok(Attempt::Done(match out.function_error {
                    Some(error) => InvokeOutcome::FunctionError {
                        status: out.status_code,
                        error,
                        payload,
                    },
                    None => InvokeOutcome::Ok {
                        status: out.status_code,
                        payload,
                    },
                }));
            }
            Err(err) => err,
        };
        if let Some(raw) = err.raw_response() {
            let (retry_after, reason) = match err.as_service_error() {
                Some(InvokeError::TooManyRequestsException(e)) => (
                    e.retry_after_seconds().map(str::to_owned),
                    e.reason().map(|r| r.as_str().to_owned()),
                ),
                _ => (None, None),
            };
            let answer = ErrorAnswer {
                status: raw.status().as_u16(),
                code: err.code(),
                message: err.message(),
                retry_after: retry_after
                    .as_deref()
                    .or_else(|| raw.headers().get("retry-after")),
                reason: reason.as_deref(),
                body: raw.body().bytes().unwrap_or_default(),
            };
            match classify(&answer) {
                Failure::Handler => {
                    return Ok(Attempt::Done(InvokeOutcome::FunctionError {
                        status: i32::from(answer.status),
                        error: "Unhandled".into(),
                        payload: answer.body.to_vec(),
                    }))
                }
                Failure::Throttled(throttled) => return Ok(Attempt::Throttled(throttled)),
                Failure::Other => {}
            }
        }
        let err = AwsError::from_sdk("Invoke", err);
        Err(match err.kind {
            ErrorKind::Other if err.code.as_deref() == Some("ResourceNotFoundException") => {
                AwsError {
                    kind: ErrorKind::NotFound,
                    ..err
                }
            }
            _ => err,
        })
    }
}

/// An Invoke error answer, as far as telling its kind goes.
#[derive(Debug, Clone, Copy)]
struct ErrorAnswer<'a> {
    status: u16,
    code: Option<&'a str>,
    message: Option<&'a str>,
    /// The `Retry-After` value, as sent.
    retry_after: Option<&'a str>,
    reason: Option<&'a str>,
    body: &'a [u8],
}

/// What an Invoke error answer means.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Failure {
    /// The function ran and failed (`cargo lambda watch`: HTTP 500 with the error document).
    Handler,
    /// Lambda did not run the function; the call may succeed later.
    Throttled(Throttled),
    /// Anything else: the request or the function's configuration is wrong.
    Other,
}

/// Lambda's codes for "the function did not run, try again" (the service model's Invoke
/// errors), and the codes every AWS service may answer for the same.
const THROTTLE_CODES: [&str; 7] = [
    "TooManyRequestsException",
    "EC2ThrottledException",
    "ResourceNotReadyException",
    "ServiceException",
    "ThrottlingException",
    "ServiceUnavailable",
    "InternalFailure",
];

fn classify(answer: &ErrorAnswer<'_>) -> Failure {
    // `cargo lambda watch` reports a handler error as HTTP 500 with the error document; AWS's
    // ServiceException body is `{"Type":"Service","message":...}`, not an error document.
    if answer.status == 500 && is_handler_error_document(answer.body) {
        return Failure::Handler;
    }
    // A 5xx naming a code of Lambda's model other than those (KMSAccessDeniedException,
    // InvalidZipFileException, ENILimitReachedException...) is the function's configuration:
    // waiting does not fix it.
    let throttled = match answer.code {
        Some(code) => THROTTLE_CODES.contains(&code) || answer.status == 429,
        None => answer.status == 429 || (500..=599).contains(&answer.status),
    };
    if !throttled {
        return Failure::Other;
    }
    Failure::Throttled(Throttled {
        status: answer.status,
        code: answer
            .code
            .map_or_else(|| format!("HTTP {}", answer.status), str::to_owned),
        reason: answer.reason.map(str::to_owned),
        retry_after: answer.retry_after.and_then(parse_retry_after),
        message: answer
            .message
            .unwrap_or("Lambda did not run the function")
            .to_owned(),
    })
}

/// `Retry-After` in seconds (Lambda sends whole seconds); `None` for anything else (an HTTP
/// date, a negative or absurd number), so the caller falls back to its own backoff.
fn parse_retry_after(value: &str) -> Option<Duration> {
    let secs: f64 = value.trim().parse().ok()?;
    (secs.is_finite() && (0.0..=86_400.0).contains(&secs)).then(|| Duration::from_secs_f64(secs))
}

/// A Lambda error document: `{"errorType": ..., "errorMessage": ...}`.
fn is_handler_error_document(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(body);
    text.contains("\"errorType\"") || text.contains("\"errorMessage\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_error_documents() {
        assert!(is_handler_error_document(
            br#"{"errorType":"&str","errorMessage":"boom"}"#
        ));
        assert!(!is_handler_error_document(b"Internal Server Error"));
        assert!(!is_handler_error_document(b""));
    }

    const THROTTLE_BODY: &[u8] = br#"{"Type":"User","message":"Rate Exceeded.","Reason":"ReservedFunctionConcurrentInvocationLimitExceeded"}"#;

    fn answer(
        status: u16,
        code: Option<&'static str>,
        body: &'static [u8],
    ) -> ErrorAnswer<'static> {
        ErrorAnswer {
            status,
            code,
            message: None,
            retry_after: None,
            reason: None,
            body,
        }
    }

    fn throttled(answer: &ErrorAnswer<'_>) -> Throttled {
        match classify(answer) {
            Failure::Throttled(t) => t,
            other => panic!("{answer:?}: {other:?}, not a throttle"),
        }
    }

    #[test]
    fn a_429_is_a_throttle_with_its_retry_after_and_reason() {
        let t = throttled(&ErrorAnswer {
            message: Some("Rate Exceeded."),
            retry_after: Some("1"),
            reason: Some("ReservedFunctionConcurrentInvocationLimitExceeded"),
            ..answer(429, Some("TooManyRequestsException"), THROTTLE_BODY)
        });
        assert_eq!(t.retry_after, Some(Duration::from_secs(1)));
        assert_eq!(t.code, "TooManyRequestsException");
        assert_eq!(
            t.to_string(),
            "Rate Exceeded. (HTTP 429, TooManyRequestsException, \
             ReservedFunctionConcurrentInvocationLimitExceeded, Retry-After 1 s)"
        );
    }

    #[test]
    fn a_429_without_retry_after_leaves_the_wait_to_the_caller() {
        let t = throttled(&answer(
            429,
            Some("TooManyRequestsException"),
            THROTTLE_BODY,
        ));
        assert_eq!(t.retry_after, None);
        // Some proxy's 429 without a code is a throttle too.
        assert_eq!(throttled(&answer(429, None, b"")).code, "HTTP 429");
        // A Retry-After that is no number of seconds is ignored, not trusted.
        for bad in ["Wed, 21 Oct 2026 07:28:00 GMT", "-1", "NaN", "1e9", ""] {
            let t = throttled(&ErrorAnswer {
                retry_after: Some(bad),
                ..answer(429, Some("TooManyRequestsException"), THROTTLE_BODY)
            });
            assert_eq!(t.retry_after, None, "{bad:?}");
        }
    }

    #[test]
    fn service_side_5xx_are_throttles() {
        for (status, code) in [
            (500, Some("ServiceException")),
            (502, Some("EC2ThrottledException")),
            (502, Some("ResourceNotReadyException")),
            (503, None),
            (504, None),
            (500, None),
        ] {
            let t = throttled(&answer(
                status,
                code,
                br#"{"Type":"Service","message":"x"}"#,
            ));
            assert_eq!(t.status, status);
        }
    }

    #[test]
    fn the_functions_own_failures_are_not_throttles() {
        // `cargo lambda watch`: a handler error is HTTP 500 with the error document.
        assert_eq!(
            classify(&answer(
                500,
                None,
                br#"{"errorType":"&str","errorMessage":"boom"}"#
            )),
            Failure::Handler
        );
        assert_eq!(
            classify(&answer(
                500,
                Some("Unhandled"),
                br#"{"errorType":"Runtime.ExitError","errorMessage":"exit status 101"}"#
            )),
            Failure::Handler
        );
        // Configuration errors and bad requests: waiting does not fix them.
        for (status, code) in [
            (502, "KMSAccessDeniedException"),
            (502, "InvalidZipFileException"),
            (502, "ENILimitReachedException"),
            (404, "ResourceNotFoundException"),
            (400, "InvalidRequestContentException"),
            (413, "RequestTooLargeException"),
        ] {
            assert_eq!(
                classify(&answer(status, Some(code), b"{}")),
                Failure::Other,
                "{code}"
            );
        }
        assert_eq!(classify(&answer(400, None, b"")), Failure::Other);
    }

    /// One canned HTTP answer per connection, on 127.0.0.1: what Lambda (or `cargo lambda watch`)
    /// would send. Returns the endpoint URL.
    async fn canned_lambda(answers: Vec<String>) -> String {
        recording_lambda(answers).await.0
    }

    /// [`canned_lambda`], and each request as it arrived (head and body).
    async fn recording_lambda(
        answers: Vec<String>,
    ) -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (seen_tx, seen_rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            for answer in answers {
                let Ok((mut tcp, _)) = listener.accept().await else {
                    return;
                };
                // Read the request head and its body (the SDK sends a Content-Length).
                let mut seen = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let n = tcp.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&seen).to_ascii_lowercase();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let length = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if body.len() >= length {
                            break;
                        }
                    }
                }
                let _ = seen_tx.send(String::from_utf8_lossy(&seen).into_owned());
                let _ = tcp.write_all(answer.as_bytes()).await;
                let _ = tcp.shutdown().await;
            }
        });
        (url, seen_rx)
    }

    fn http(status: &str, headers: &[(&str, &str)], body: &str) -> String {
        let mut text = format!(
            "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n",
            body.len()
        );
        for (name, value) in headers {
            text.push_str(&format!("{name}: {value}\r\n"));
        }
        text + "\r\n" + body
    }

    /// The real SDK client against canned answers: the classification sees what the SDK parsed
    /// (the error code from `x-amzn-ErrorType`, `Retry-After`, the `Reason`).
    #[tokio::test]
    async fn the_sdk_client_tells_throttles_from_function_errors() {
        tokio::time::timeout(Duration::from_secs(60), sdk_client_answers())
            .await
            .expect("the canned answers within 60 s");
    }

    async fn sdk_client_answers() {
        let url = canned_lambda(vec![
            http(
                "429 Too Many Requests",
                &[
                    ("content-type", "application/json"),
                    ("x-amzn-ErrorType", "TooManyRequestsException"),
                    ("Retry-After", "1"),
                ],
                std::str::from_utf8(THROTTLE_BODY).unwrap(),
            ),
            http(
                "500 Internal Server Error",
                &[
                    ("content-type", "application/json"),
                    ("x-amzn-ErrorType", "ServiceException"),
                ],
                r#"{"Type":"Service","Message":"Lambda had an internal error"}"#,
            ),
            // `cargo lambda watch`'s answer for a handler error.
            http(
                "500 Internal Server Error",
                &[("content-type", "application/json")],
                r#"{"errorType":"&str","errorMessage":"boom"}"#,
            ),
            // AWS's answer for a handler error.
            http(
                "200 OK",
                &[("X-Amz-Function-Error", "Unhandled")],
                r#"{"errorType":"&str","errorMessage":"boom"}"#,
            ),
            http("200 OK", &[], r#"{"ok":true}"#),
            // Once more, through `invoke`: a throttle is a transient error there.
            http(
                "429 Too Many Requests",
                &[("x-amzn-ErrorType", "TooManyRequestsException")],
                r#"{"Type":"User","message":"Rate Exceeded."}"#,
            ),
        ])
        .await;
        let lambda = Lambda::without_retries(&test_config(url));
        let call = || lambda.attempt("f", Bytes::from_static(b"{}"), InvocationMode::Sync);

        let Attempt::Throttled(t) = call().await.unwrap() else {
            panic!("429 is a throttle")
        };
        assert_eq!(t.status, 429);
        assert_eq!(t.code, "TooManyRequestsException");
        assert_eq!(
            t.reason.as_deref(),
            Some("ReservedFunctionConcurrentInvocationLimitExceeded")
        );
        assert_eq!(t.retry_after, Some(Duration::from_secs(1)));

        let Attempt::Throttled(t) = call().await.unwrap() else {
            panic!("ServiceException is a throttle")
        };
        assert_eq!(
            (t.status, t.code.as_str(), t.retry_after),
            (500, "ServiceException", None)
        );

        for shape in ["watch's 500", "AWS's 200 + X-Amz-Function-Error"] {
            match call().await.unwrap() {
                Attempt::Done(InvokeOutcome::FunctionError { error, payload, .. }) => {
                    assert_eq!(error, "Unhandled", "{shape}");
                    assert!(is_handler_error_document(&payload), "{shape}");
                }
                other => panic!("{shape}: {other:?}"),
            }
        }
        assert_eq!(
            call().await.unwrap(),
            Attempt::Done(InvokeOutcome::Ok {
                status: 200,
                payload: br#"{"ok":true}"#.to_vec()
            })
        );
        let err = lambda
            .invoke("f", Bytes::from_static(b"{}"), InvocationMode::Sync)
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Transient, "{err}");
        assert_eq!(err.code.as_deref(), Some("TooManyRequestsException"));
    }

    fn test_config(url: String) -> SdkConfig {
        aws_config::SdkConfig::builder()
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(url)
            .credentials_provider(aws_sdk_lambda::config::SharedCredentialsProvider::new(
                aws_sdk_lambda::config::Credentials::new("test", "test", None, None, "test"),
            ))
            .behavior_version(aws_config::BehaviorVersion::latest())
            .http_client(crate::config::https_client())
            .build()
    }

    const XRAY: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

    /// The value of the header `name` (any case) in a recorded request, if it is there.
    fn header<'a>(request: &'a str, name: &str) -> Option<&'a str> {
        let head = request.split_once("\r\n\r\n").map_or(request, |(h, _)| h);
        head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    #[tokio::test]
    async fn a_traced_invoke_sends_the_xray_header() {
        tokio::time::timeout(Duration::from_secs(60), traced_invokes())
            .await
            .expect("the recorded requests within 60 s");
    }

    async fn traced_invokes() {
        let ok = || http("200 OK", &[], r#"{"ok":true}"#);
        let (url, mut seen) = recording_lambda(vec![ok(), ok()]).await;
        let lambda = Lambda::without_retries(&test_config(url));

        let outcome = lambda
            .invoke_traced(
                "f",
                Bytes::from_static(b"{}"),
                InvocationMode::Async,
                Some(XRAY),
            )
            .await
            .unwrap();
        assert!(outcome.is_ok(), "{outcome:?}");
        let request = seen.recv().await.unwrap();
        assert_eq!(header(&request, "X-Amzn-Trace-Id"), Some(XRAY), "{request}");
        assert_eq!(header(&request, "X-Amz-Invocation-Type"), Some("Event"));

        let attempt = lambda
            .attempt_traced(
                "f",
                Bytes::from_static(b"{}"),
                InvocationMode::Sync,
                Some(XRAY),
            )
            .await
            .unwrap();
        assert!(matches!(attempt, Attempt::Done(InvokeOutcome::Ok { .. })));
        let request = seen.recv().await.unwrap();
        assert_eq!(header(&request, "X-Amzn-Trace-Id"), Some(XRAY), "{request}");

        // A header that cannot go on the wire is refused before anything is sent, naming it.
        let err = lambda
            .invoke_traced(
                "f",
                Bytes::from_static(b"{}"),
                InvocationMode::Sync,
                Some("Root=1-\n"),
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Other);
        assert!(err.message.contains("\"Root=1-\\n\""), "{err}");
        assert!(err.message.contains("e.g. \"Root=1-"), "{err}");
        assert!(seen.try_recv().is_err(), "nothing sent for the bad header");
    }

    /// An invoker without trace support still takes the traced calls: the header is dropped.
    #[tokio::test]
    async fn the_default_traced_calls_fall_back_to_the_plain_ones() {
        struct Plain;
        impl Invoker for Plain {
            async fn invoke(
                &self,
                function: &str,
                payload: Bytes,
                _mode: InvocationMode,
            ) -> Result<InvokeOutcome, AwsError> {
                Ok(InvokeOutcome::Ok {
                    status: 200,
                    payload: [function.as_bytes(), &payload].concat(),
                })
            }
        }
        let expect = InvokeOutcome::Ok {
            status: 200,
            payload: b"f{}".to_vec(),
        };
        let sync = InvocationMode::Sync;
        let got = Plain.invoke_traced("f", Bytes::from_static(b"{}"), sync, Some(XRAY));
        assert_eq!(got.await.unwrap(), expect);
        let got = Plain.attempt_traced("f", Bytes::from_static(b"{}"), sync, Some(XRAY));
        assert_eq!(got.await.unwrap(), Attempt::Done(expect));
    }
}
