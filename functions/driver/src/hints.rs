//! What a person can do about an AWS error, in the driver's terms (its flags, the make targets
//! and the policy file in this repository). `eventferry_aws` only classifies errors
//! ([`ErrorKind`]); the advice lives here, with the command line it refers to.

use eventferry_aws::{AwsError, ErrorKind};

/// A one-line explanation with what to do about it, for the kinds of error a person must fix.
pub fn hint(kind: ErrorKind) -> Option<&'static str> {
    match kind {
        ErrorKind::Credentials => Some(
            "no usable AWS credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, \
             or run where an instance/container role is available (for LocalStack any values work, e.g. 'test')",
        ),
        ErrorKind::AccessDenied => Some(
            "the credentials lack a permission this command needs: see infra/iam/driver-policy.json",
        ),
        ErrorKind::Unreachable => Some(
            "the AWS endpoint could not be reached: check --endpoint-url / AWS_ENDPOINT_URL and that the \
             service (e.g. LocalStack on 127.0.0.1:4566: make localstack-up) is running",
        ),
        ErrorKind::Transient | ErrorKind::NotFound | ErrorKind::Other => None,
    }
}

/// `"; <hint>"` to append to a message about `err`, or nothing when there is no hint.
pub fn suffix(err: &AwsError) -> String {
    hint(err.kind)
        .map(|hint| format!("; {hint}"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_errors_a_person_must_fix_have_hints() {
        assert!(hint(ErrorKind::Unreachable)
            .unwrap()
            .contains("--endpoint-url"));
        assert!(hint(ErrorKind::AccessDenied)
            .unwrap()
            .contains("infra/iam/driver-policy.json"));
        assert!(hint(ErrorKind::Credentials)
            .unwrap()
            .contains("credentials"));
        for kind in [ErrorKind::Transient, ErrorKind::NotFound, ErrorKind::Other] {
            assert_eq!(hint(kind), None);
        }
        let err = AwsError {
            operation: "ListQueues",
            kind: ErrorKind::Other,
            code: None,
            message: "no".into(),
        };
        assert_eq!(suffix(&err), "");
    }
}
