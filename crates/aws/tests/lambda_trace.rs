//! The X-Ray header of a traced Invoke, as a caller running in Lambda sends it: the SDK loaded
//! from the environment (`AWS_ENDPOINT_URL_LAMBDA` points it at a local HTTP server standing in
//! for the Lambda endpoint, which records each request's headers), with `AWS_LAMBDA_FUNCTION_NAME`
//! and `_X_AMZN_TRACE_ID` set as Lambda sets them for the caller's own invocation.
//!
//! Its own test binary: it sets process environment variables, which no other test may see.

use bytes::Bytes;
use std::time::Duration;

use eventferry_aws::lambda::{Attempt, InvocationMode, InvokeOutcome, Invoker, Lambda};
use eventferry_aws::AwsOptions;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// The caller's own invocation, as Lambda puts it in `_X_AMZN_TRACE_ID`.
const CALLERS_OWN: &str =
    "Root=1-6756b8f0-0123456789abcdef01234567;Parent=1111111111111111;Sampled=0;Lineage=1:abc:0";
/// The event's trace, as the router or the driver would pass it.
const EVENTS: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

/// Answers every request `200 {"ok":true}` and sends its `X-Amzn-Trace-Id` (if any) on the
/// channel. Returns the endpoint URL.
async fn recording_endpoint() -> (String, mpsc::UnboundedReceiver<Option<String>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((mut tcp, _)) = listener.accept().await else {
                return;
            };
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            let head = loop {
                let n = tcp.read(&mut buf).await.unwrap_or(0);
                if n == 0 {
                    break None;
                }
                seen.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&seen).into_owned();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length = header(head, "content-length")
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    if body.len() >= length {
                        break Some(head.to_owned());
                    }
                }
            };
            let Some(head) = head else { continue };
            let _ = tx.send(header(&head, "x-amzn-trace-id").map(str::to_owned));
            let body = r#"{"ok":true}"#;
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = tcp.write_all(answer.as_bytes()).await;
            let _ = tcp.shutdown().await;
        }
    });
    (url, rx)
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[tokio::test]
async fn the_events_trace_replaces_the_callers_own_on_invoke() {
    tokio::time::timeout(Duration::from_secs(60), check())
        .await
        .expect("the three invokes within 60 s");
}

async fn check() {
    let (url, mut seen) = recording_endpoint().await;
    // This test binary's only test sets these before the SDK reads them.
    std::env::set_var("AWS_ENDPOINT_URL_LAMBDA", &url);
    std::env::set_var("AWS_ACCESS_KEY_ID", "test");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
    std::env::set_var("AWS_REGION", "us-east-1");
    std::env::set_var("AWS_LAMBDA_FUNCTION_NAME", "router");
    std::env::set_var("_X_AMZN_TRACE_ID", CALLERS_OWN);
    let config = eventferry_aws::load(&AwsOptions::default()).await;
    let lambda = Lambda::without_retries(&config);

    // Untraced: the SDK's recursion detection sends the caller's own invocation.
    let outcome = lambda
        .invoke(
            "subscriber",
            Bytes::from_static(b"{}"),
            InvocationMode::Async,
        )
        .await
        .unwrap();
    assert!(outcome.is_ok(), "{outcome:?}");
    assert_eq!(seen.recv().await.unwrap().as_deref(), Some(CALLERS_OWN));

    // Traced: the event's trace, not the caller's.
    let outcome = lambda
        .invoke_traced(
            "subscriber",
            Bytes::from_static(b"{}"),
            InvocationMode::Async,
            Some(EVENTS),
        )
        .await
        .unwrap();
    assert!(outcome.is_ok(), "{outcome:?}");
    assert_eq!(seen.recv().await.unwrap().as_deref(), Some(EVENTS));

    let attempt = lambda
        .attempt_traced(
            "subscriber",
            Bytes::from_static(b"{}"),
            InvocationMode::Sync,
            Some(EVENTS),
        )
        .await
        .unwrap();
    assert!(
        matches!(attempt, Attempt::Done(InvokeOutcome::Ok { .. })),
        "{attempt:?}"
    );
    assert_eq!(seen.recv().await.unwrap().as_deref(), Some(EVENTS));
}
