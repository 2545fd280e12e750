//! One error type for every adapter, classified so callers can decide to retry or to stop with
//! a clear message. The kind says what failed; what a person should do about it (which flag,
//! which policy file) is for the command that made the call to say.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// What kind of failure an AWS call met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Worth retrying with backoff: throttling, 5xx, timeouts, dropped connections.
    Transient,
    /// No credentials could be found, or they were rejected.
    Credentials,
    /// The credentials are valid but lack a permission.
    AccessDenied,
    /// The endpoint could not be reached at all.
    Unreachable,
    /// The resource does not exist.
    NotFound,
    /// Anything else; not retried.
    Other,
}

/// An AWS call that failed: which operation, what kind of failure, and the SDK's own words.
#[derive(Debug, thiserror::Error)]
#[error("{operation}: {message}")]
pub struct AwsError {
    pub operation: &'static str,
    pub kind: ErrorKind,
    /// The service's error code, when it answered with one.
    pub code: Option<String>,
    pub message: String,
}

/// The prefix of SQS's query-compatible error codes (`AWS.SimpleQueueService.QueueDeletedRecently`).
const SQS_CODE_PREFIX: &str = "AWS.SimpleQueueService.";

impl AwsError {
    pub fn is_transient(&self) -> bool {
        self.kind == ErrorKind::Transient
    }

    /// Whether the service answered with error code `code`. SQS names a code in two ways (the
    /// JSON protocol's `QueueDeletedRecently`, the query-compatible
    /// `AWS.SimpleQueueService.QueueDeletedRecently`); both match `"QueueDeletedRecently"`.
    pub fn has_code(&self, code: &str) -> bool {
        self.code
            .as_deref()
            .is_some_and(|have| have == code || have.strip_prefix(SQS_CODE_PREFIX) == Some(code))
    }

    /// Classify an SDK error.
    pub fn from_sdk<E, R>(operation: &'static str, err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let code = err.code().map(str::to_owned);
        let kind = match &err {
            SdkError::TimeoutError(_) | SdkError::ResponseError(_) => ErrorKind::Transient,
            SdkError::DispatchFailure(df) => {
                if df.is_io() {
                    ErrorKind::Unreachable
                } else if df.is_timeout() {
                    ErrorKind::Transient
                } else if df.is_user() || df.as_other().is_none() && !df.is_io() {
                    // Identity resolution (credentials) failures surface as dispatch failures.
                    let text = format!("{}", DisplayErrorContext(&err));
                    if text.contains("credentials") || text.contains("identity") {
                        ErrorKind::Credentials
                    } else {
                        ErrorKind::Other
                    }
                } else {
                    ErrorKind::Transient
                }
            }
            SdkError::ServiceError(_) => classify_code(code.as_deref()),
            _ => ErrorKind::Other,
        };
        let message = match (&err, err.message()) {
            (SdkError::ServiceError(_), Some(msg)) => {
                format!("{} ({})", msg, code.as_deref().unwrap_or("unknown error code"))
            }
            // The whole provider chain is noise here: the hint says what to do.
            _ if kind == ErrorKind::Credentials => {
                "no AWS credentials found (tried the environment, profiles, web identity, ECS and EC2 \
                 instance metadata)"
                    .to_owned()
            }
            _ if kind == ErrorKind::Unreachable => format!("cannot connect: {}", root_cause(&err)),
            _ => format!("{}", DisplayErrorContext(&err)),
        };
        AwsError {
            operation,
            kind,
            code,
            message,
        }
    }
}

/// The innermost error of a chain, e.g. "Connection refused (os error 111)".
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut current = err;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

fn classify_code(code: Option<&str>) -> ErrorKind {
    match code.unwrap_or_default() {
        "ThrottlingException"
        | "Throttling"
        | "RequestThrottled"
        | "ServiceUnavailable"
        | "InternalError"
        | "InternalFailure"
        | "InternalServerError"
        | "RequestTimeout"
        | "KMS.ThrottlingException"
        | "ConcurrentModificationException"
        | "InternalException" => ErrorKind::Transient,
        "AccessDenied" | "AccessDeniedException" | "AuthorizationError" => ErrorKind::AccessDenied,
        "InvalidClientTokenId"
        | "UnrecognizedClientException"
        | "SignatureDoesNotMatch"
        | "ExpiredToken"
        | "ExpiredTokenException"
        | "MissingAuthenticationToken" => ErrorKind::Credentials,
        "AWS.SimpleQueueService.NonExistentQueue"
        | "QueueDoesNotExist"
        | "ResourceNotFoundException" => ErrorKind::NotFound,
        _ => ErrorKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_in_both_sqs_forms() {
        let err = |code: Option<&str>| AwsError {
            operation: "CreateQueue",
            kind: ErrorKind::Other,
            code: code.map(str::to_owned),
            message: "m".into(),
        };
        assert!(err(Some("QueueDeletedRecently")).has_code("QueueDeletedRecently"));
        assert!(err(Some("AWS.SimpleQueueService.QueueDeletedRecently"))
            .has_code("QueueDeletedRecently"));
        assert!(
            !err(Some("AWS.SimpleQueueService.QueueDeletedRecently")).has_code("QueueDoesNotExist")
        );
        assert!(!err(Some("XQueueDeletedRecently")).has_code("QueueDeletedRecently"));
        assert!(!err(None).has_code("QueueDeletedRecently"));
    }

    #[test]
    fn codes_are_classified() {
        assert_eq!(
            classify_code(Some("ThrottlingException")),
            ErrorKind::Transient
        );
        assert_eq!(
            classify_code(Some("AccessDeniedException")),
            ErrorKind::AccessDenied
        );
        assert_eq!(
            classify_code(Some("InvalidClientTokenId")),
            ErrorKind::Credentials
        );
        assert_eq!(
            classify_code(Some("AWS.SimpleQueueService.NonExistentQueue")),
            ErrorKind::NotFound
        );
        assert_eq!(classify_code(Some("SomethingElse")), ErrorKind::Other);
        assert_eq!(classify_code(None), ErrorKind::Other);
    }
}
