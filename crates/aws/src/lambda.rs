//! Lambda: invoking a function, behind [`Invoker`] so the router and the driver's Lambda sink can
//! be tested in-process.
//!
//! Both failure shapes count as a failed invocation: real Lambda's `200` with
//! `X-Amz-Function-Error`, and the `500` that `cargo lambda watch` answers for a handler error.
//! `InvocationType=Event` is accepted whether the service answers `202` (real Lambda) or `200`
//! with a body (`cargo lambda watch`).

use std::future::Future;

use aws_config::SdkConfig;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use aws_sdk_lambda::Client;

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

/// Invoke a function by name or ARN.
pub trait Invoker: Send + Sync + 'static {
    fn invoke(
        &self,
        function: &str,
        payload: Vec<u8>,
        mode: InvocationMode,
    ) -> impl Future<Output = Result<InvokeOutcome, AwsError>> + Send;
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
    /// (the caller decides about retries).
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
        payload: Vec<u8>,
        mode: InvocationMode,
    ) -> Result<InvokeOutcome, AwsError> {
        let invocation_type = match mode {
            InvocationMode::Sync => InvocationType::RequestResponse,
            InvocationMode::Async => InvocationType::Event,
        };
        let result = self
            .client
            .invoke()
            .function_name(function)
            .invocation_type(invocation_type)
            .payload(Blob::new(payload))
            .send()
            .await;
        match result {
            Ok(out) => {
                let payload = out.payload.map(Blob::into_inner).unwrap_or_default();
                Ok(match out.function_error {
                    Some(error) => InvokeOutcome::FunctionError {
                        status: out.status_code,
                        error,
                        payload,
                    },
                    None => InvokeOutcome::Ok {
                        status: out.status_code,
                        payload,
                    },
                })
            }
            Err(err) => {
                // `cargo lambda watch` reports a handler error as HTTP 500 with the error document.
                if let Some(raw) = err.raw_response() {
                    let status = raw.status().as_u16();
                    if status == 500 {
                        let body = raw.body().bytes().map(<[u8]>::to_vec).unwrap_or_default();
                        if is_handler_error_document(&body) {
                            return Ok(InvokeOutcome::FunctionError {
                                status: 500,
                                error: "Unhandled".into(),
                                payload: body,
                            });
                        }
                    }
                }
                let err = AwsError::from_sdk("Invoke", err);
                Err(match err.kind {
                    ErrorKind::Other
                        if err.code.as_deref() == Some("ResourceNotFoundException") =>
                    {
                        AwsError {
                            kind: ErrorKind::NotFound,
                            ..err
                        }
                    }
                    _ => err,
                })
            }
        }
    }
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
}
