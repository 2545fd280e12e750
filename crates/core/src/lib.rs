//! CloudEvent mapping, subscriptions and filters, routing decisions, system events. No AWS I/O.
//!
//! - [`mapping`]: SQS messages and EventBridge events to CloudEvents 1.0, and the structured JSON
//!   form of CloudEvents, shared by the driver and the router.
//! - [`schedule`]: local validation of EventBridge `rate(...)` / `cron(...)` schedule expressions.
//! - [`names`]: deterministic, valid AWS resource names (rule names, target Ids, instance ids).

pub mod mapping;
pub mod names;
pub mod schedule;
