//! CloudEvent mapping, subscriptions and filters, routing decisions, system events. No AWS I/O.
//!
//! Modules, each using only those listed before it (no import cycles):
//!
//! - [`trace`]: the X-Ray trace header and W3C `traceparent`, converted both ways, and the
//!   CloudEvents Distributed Tracing extension.
//! - [`json_text`]: JSON text written straight into a buffer, as serde_json prints it, keys
//!   sorted.
//! - [`names`]: deterministic, valid AWS resource names (rule names, target Ids, instance ids),
//!   and canonical JSON.
//! - [`schedule`]: local validation of EventBridge `rate(...)` / `cron(...)` schedule expressions.
//! - `json_kind`: a JSON value's kind in words, for error messages.
//! - [`structured`]: the CloudEvents JSON format (structured mode), and the list of its
//!   top-level fields that rendering and pattern matching share.
//! - [`mapping`]: SQS messages and EventBridge events to CloudEvents 1.0, shared by the driver
//!   and the router.
//! - [`filter`]: CloudEvents Subscriptions API filters (`exact`, `prefix`, `suffix`, `all`,
//!   `any`, `not`).
//! - [`pattern_set`]: the one place that talks to the EventBridge pattern engine.
//! - [`system_types`]: the type names of the router's system events.
//! - [`subscription`]: the router's subscriptions and plugins file (YAML/JSON), validated.
//! - [`event_view`]: an event as filters and the pattern engine read it.
//! - [`invocation`]: the recorded result of invoking one subscriber.
//! - [`payload`]: what a function target is sent.
//! - [`retry`]: what happens after a failure (retry decisions), and the retry message format.
//! - [`route`]: matching events to subscriptions, and explaining why.
//! - [`system`]: the router's system events.
//! - [`binding`]: the CloudEvents HTTP binding (binary and structured mode).

pub mod binding;
pub mod event_view;
pub mod filter;
pub mod invocation;
mod json_kind;
pub mod json_text;
pub mod mapping;
pub mod names;
pub mod pattern_set;
pub mod payload;
pub mod retry;
pub mod route;
pub mod schedule;
pub mod structured;
pub mod subscription;
pub mod system;
pub mod system_types;
pub mod trace;
