//! Why provisioning, teardown or cleanup failed: each error names the step or the input, and an
//! AWS failure a person must fix carries its hint (see [`crate::hints`]).

use eventferry_aws::{AwsError, StepError};
use eventferry_core::names::InstanceId;

use super::policy::PolicyError;
use super::report::TeardownReport;
use crate::hints;

/// Why provisioning, teardown or cleanup failed.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// An AWS call failed; the step says what eventferry was doing.
    #[error("{0}{hint}", hint = hints::suffix(&.0.source))]
    Aws(#[from] StepError),
    /// An input is wrong: which one, its value, and what would be right.
    #[error("invalid {input} {value:?}: {problem}")]
    Invalid {
        input: &'static str,
        value: String,
        problem: String,
    },
    /// A resource exists that eventferry must not take over.
    #[error("{0}")]
    Conflict(String),
    /// A queue's existing policy can't be merged.
    #[error("queue {queue}: {source}")]
    Policy { queue: String, source: PolicyError },
    /// Teardown did what it could; these steps failed.
    #[error("{}", incomplete_message(owner, report, errors))]
    Incomplete {
        owner: InstanceId,
        report: Box<TeardownReport>,
        errors: Vec<ProvisionError>,
    },
}

impl ProvisionError {
    pub(crate) fn invalid(input: &'static str, value: &str, problem: impl Into<String>) -> Self {
        ProvisionError::Invalid {
            input,
            value: value.to_owned(),
            problem: problem.into(),
        }
    }

    /// The process exit code for this error: 2 for bad input, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            ProvisionError::Invalid { .. } => 2,
            _ => 1,
        }
    }

    /// The AWS error behind this one, if any.
    pub fn aws_error(&self) -> Option<&AwsError> {
        match self {
            ProvisionError::Aws(step) => Some(&step.source),
            ProvisionError::Incomplete { errors, .. } => errors.iter().find_map(Self::aws_error),
            _ => None,
        }
    }
}

/// `teardown incomplete, N step(s) failed; <each error>; done so far: ...; run ... to finish`.
fn incomplete_message(
    owner: &InstanceId,
    report: &TeardownReport,
    errors: &[ProvisionError],
) -> String {
    let mut text = format!("teardown incomplete, {} step(s) failed", errors.len());
    for e in errors {
        text.push_str(&format!("; {e}"));
    }
    if *report != TeardownReport::default() {
        text.push_str(&format!(
            "; done so far: {}",
            report.to_string().replace('\n', "; ")
        ));
    }
    text.push_str(&format!(
        "; run `eventferry cleanup --owner {owner}` to finish"
    ));
    text
}

#[cfg(test)]
mod tests {
    use eventferry_aws::ErrorKind;

    use super::*;

    #[test]
    fn errors_carry_hints_and_name_the_step() {
        let err = ProvisionError::from(StepError::new(
            "create queue q",
            AwsError {
                operation: "CreateQueue",
                kind: ErrorKind::Unreachable,
                code: None,
                message: "connection refused".into(),
            },
        ));
        let text = err.to_string();
        assert!(
            text.starts_with("create queue q: CreateQueue: connection refused; "),
            "{text}"
        );
        assert!(text.contains("--endpoint-url"), "{text}");
        assert_eq!(err.exit_code(), 1);
        assert_eq!(err.aws_error().unwrap().kind, ErrorKind::Unreachable);
    }

    #[test]
    fn an_incomplete_teardown_lists_the_failures_and_how_to_finish() {
        let failed = ProvisionError::Conflict("rule r is not ours".into());
        let err = ProvisionError::Incomplete {
            owner: InstanceId::new("prod").unwrap(),
            report: Box::new(TeardownReport {
                queues_deleted: vec!["http://q/1/orders".into()],
                ..Default::default()
            }),
            errors: vec![failed],
        };
        assert_eq!(
            err.to_string(),
            "teardown incomplete, 1 step(s) failed; rule r is not ours; done so far: deleted \
             queues: http://q/1/orders; run `eventferry cleanup --owner prod` to finish"
        );
    }
}
