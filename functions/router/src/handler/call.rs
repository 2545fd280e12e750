//! One call of a subscription's or plugin's target: a Lambda function (sync or async) or an
//! HTTP endpoint (the CloudEvents HTTP binding of `eventferry_core::binding`), turned into an
//! [`InvocationResult`].

use std::sync::OnceLock;
use std::time::Instant;

use bytes::Bytes;

use cloudevents::Event;
use serde_json::{json, Value};

use eventferry_aws::lambda::{InvocationMode, InvokeOutcome, Invoker};
use eventferry_core::binding::{encode_binary, encode_structured};
use eventferry_core::invocation::{target_name, InvocationResult, Status};
use eventferry_core::payload::function_payload;
use eventferry_core::subscription::{Delivery, Mode, Subscription, Target};
use eventferry_core::trace::event_xray_header;

use super::Handler;
use crate::ports::{HttpPoster, QueueWriter, SystemSink};

/// The function payloads of one event, each rendered once however many subscribers take it:
/// the structured event (`application/cloudevents+json`, the default) and its data alone
/// (`application/json`).
pub(crate) struct Payloads<'e> {
    event: &'e Event,
    structured: OnceLock<Bytes>,
    data: OnceLock<Bytes>,
    /// The event's trace as an `X-Amzn-Trace-Id` header ([`event_xray_header`]).
    xray: OnceLock<Option<String>>,
}

impl<'e> Payloads<'e> {
    pub(crate) fn new(event: &'e Event) -> Self {
        Payloads {
            event,
            structured: OnceLock::new(),
            data: OnceLock::new(),
            xray: OnceLock::new(),
        }
    }

    pub(crate) fn event(&self) -> &'e Event {
        self.event
    }

    /// The event's trace for X-Ray, worked out once.
    fn xray_header(&self) -> Option<&str> {
        self.xray
            .get_or_init(|| event_xray_header(self.event))
            .as_deref()
    }

    /// What `sub`'s function is sent ([`function_payload`]), rendered at most once per kind and
    /// shared by every subscriber's invoke, not copied.
    fn function(&self, sub: &Subscription) -> Bytes {
        let cell = match sub.delivery {
            Delivery::Data(_) => &self.data,
            Delivery::Structured | Delivery::Binary => &self.structured,
        };
        cell.get_or_init(|| function_payload(sub, self.event).into())
            .clone()
    }
}

/// One target call: the result, and whether the target answered at all.
pub(crate) struct Call {
    pub(crate) result: InvocationResult,
    pub(crate) answered: bool,
}

impl<I: Invoker, H: HttpPoster, Q: QueueWriter, S: SystemSink> Handler<I, H, Q, S> {
    /// One call of a subscription's or plugin's target, within the concurrency bound.
    pub(crate) async fn call(
        &self,
        sub: &Subscription,
        payloads: &Payloads<'_>,
        attempt: u32,
    ) -> Call {
        let _permit = match self.permits.try_acquire() {
            Ok(permit) => permit,
            Err(_) => self
                .permits
                .acquire()
                .await
                .expect("the semaphore is never closed"),
        };
        let start = Instant::now();
        let mut result = InvocationResult {
            subscription: sub.name.clone(),
            target: target_name(&sub.target),
            mode: sub.mode,
            attempt,
            status: Status::Failed,
            status_code: None,
            duration_ms: 0,
            error: None,
            response: None,
        };
        let answered = match &sub.target {
            Target::Function(function) => {
                self.call_function(function, sub, payloads, &mut result)
                    .await
            }
            Target::Http { url, headers } => {
                self.call_http(url, headers, sub, payloads.event(), &mut result)
                    .await
            }
        };
        result.duration_ms = start.elapsed().as_millis() as u64;
        Call { result, answered }
    }

    /// Invokes `function` with the subscription's payload; fills in `result` and says whether
    /// Lambda answered.
    async fn call_function(
        &self,
        function: &str,
        sub: &Subscription,
        payloads: &Payloads<'_>,
        result: &mut InvocationResult,
    ) -> bool {
        let mode = match sub.mode {
            Mode::Sync => InvocationMode::Sync,
            Mode::Async => InvocationMode::Async,
        };
        // The event's trace goes with the invoke as X-Amzn-Trace-Id, so that X-Ray joins the
        // subscriber to it. Boxed: the SDK's future is large and deep.
        let outcome = Box::pin(self.ports.invoker.invoke_traced(
            function,
            payloads.function(sub),
            mode,
            payloads.xray_header(),
        ))
        .await;
        match outcome {
            Ok(InvokeOutcome::Ok { status, payload }) => {
                result.status = match sub.mode {
                    Mode::Sync => Status::Succeeded,
                    Mode::Async => Status::Accepted,
                };
                result.status_code = u16::try_from(status).ok();
                result.response = self.response(&payload);
                true
            }
            Ok(InvokeOutcome::FunctionError {
                status,
                error,
                payload,
            }) => {
                result.status_code = u16::try_from(status).ok();
                result.error = Some(function_error(&error, &payload));
                true
            }
            Err(e) => {
                result.error = Some(e.to_string());
                false
            }
        }
    }

    /// POSTs the event to `url` in the subscription's content mode, the subscription's
    /// `headers` after the binding's; fills in `result` and says whether the target answered.
    async fn call_http(
        &self,
        url: &str,
        headers: &[(String, String)],
        sub: &Subscription,
        event: &Event,
        result: &mut InvocationResult,
    ) -> bool {
        let request = match &sub.delivery {
            Delivery::Structured => encode_structured(event),
            Delivery::Binary => encode_binary(event, None),
            Delivery::Data(ct) => encode_binary(event, Some(ct)),
        }
        .with_headers(headers);
        match Box::pin(self.ports.http.post(url, &request.headers, request.body)).await {
            Ok(answer) => {
                result.status_code = Some(answer.status);
                if answer.is_success() {
                    result.status = Status::Succeeded;
                    result.response = self.response(&answer.body);
                } else {
                    let body = String::from_utf8_lossy(&answer.body);
                    let snippet: String = body.chars().take(200).collect();
                    result.error = Some(format!("HTTP {}: {snippet}", answer.status));
                }
                true
            }
            Err(e) => {
                result.error = Some(e.to_string());
                false
            }
        }
    }

    /// The answer a result keeps: [`small_json`], when a system event may carry it.
    fn response(&self, payload: &[u8]) -> Option<Value> {
        self.whole_system_events
            .then(|| small_json(payload))
            .flatten()
    }
}

/// A function's JSON answer, if it is JSON and at most 4 KiB.
fn small_json(payload: &[u8]) -> Option<Value> {
    if payload.is_empty() {
        return None;
    }
    if payload.len() > 4096 {
        return Some(json!({"truncated": format!("{} bytes", payload.len())}));
    }
    serde_json::from_slice(payload).ok()
}

/// `Unhandled: <errorMessage>` from a Lambda error document.
fn function_error(kind: &str, payload: &[u8]) -> String {
    let message = serde_json::from_slice::<Value>(payload)
        .ok()
        .and_then(|v| {
            let t = v
                .get("errorType")
                .and_then(Value::as_str)
                .map(str::to_owned);
            let m = v
                .get("errorMessage")
                .and_then(Value::as_str)
                .map(str::to_owned);
            match (t, m) {
                (Some(t), Some(m)) => Some(format!("{t}: {m}")),
                (None, Some(m)) => Some(m),
                (Some(t), None) => Some(t),
                (None, None) => None,
            }
        })
        .unwrap_or_else(|| String::from_utf8_lossy(payload).chars().take(200).collect());
    format!("{kind}: {message}")
}
