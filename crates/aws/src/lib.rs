//! AWS adapters: one module per service, each behind a small trait so handlers can be tested
//! in-process. Configuration comes from the standard AWS chain (`aws-config`), so
//! `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_SQS`, profiles and the usual credential sources all apply.
//! Every failure is an [`AwsError`] classified by [`ErrorKind`]; [`retry`] retries the transient
//! ones and labels the rest with what the caller was doing. What a person should do about an error
//! is the command's business (the driver's `hints`), not this crate's.

pub mod config;
pub mod error;
pub mod eventbridge;
pub mod lambda;
pub mod retry;
pub mod s3;
pub mod sqs;

pub use config::{load, AwsOptions};
pub use error::{AwsError, ErrorKind};
pub use retry::{retry, retry_with, Backoff, StepError};
