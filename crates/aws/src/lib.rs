//! AWS adapters: one module per service, each behind a small trait so handlers can be tested
//! in-process. Configuration comes from the standard AWS chain (`aws-config`), so
//! `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_SQS`, profiles and the usual credential sources all apply.

pub mod config;
pub mod error;
pub mod eventbridge;
pub mod lambda;
pub mod sqs;

pub use config::{load, AwsOptions};
pub use error::{AwsError, ErrorKind};
