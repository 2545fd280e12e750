//! CloudEvent mapping, subscriptions and filters, routing decisions, system events. No AWS I/O.
//!
//! - [`mapping`]: SQS messages and EventBridge events to CloudEvents 1.0, and the structured JSON
//!   form of CloudEvents, shared by the driver and the router.
//! - [`schedule`]: local validation of EventBridge `rate(...)` / `cron(...)` schedule expressions.
//! - [`names`]: deterministic, valid AWS resource names (rule names, target Ids, instance ids).
//! - [`subscription`]: the router's subscriptions and plugins file (YAML/JSON), validated.
//! - [`filter`]: CloudEvents Subscriptions API filters (`exact`, `prefix`, `suffix`, `all`,
//!   `any`, `not`).
//! - [`route`]: matching events to subscriptions, target payloads, retry decisions.
//! - [`system`]: the router's system events.
//! - [`binding`]: the CloudEvents HTTP binding (binary and structured mode).

pub mod binding;
pub mod filter;
mod json_kind;
pub mod mapping;
pub mod names;
pub mod pattern_set;
pub mod route;
pub mod schedule;
pub mod structured;
pub mod subscription;
pub mod system;
