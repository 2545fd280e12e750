//! SQS messages and EventBridge events to CloudEvents 1.0: the one mapping shared by the driver
//! and the router.
//!
//! Ids and times always come from the input, never from a random generator or the clock, so
//! mapping the same message twice gives the same event.
//!
//! [`from_sqs_message`] maps a message body by its content:
//!
//! 1. A **structured CloudEvent** (JSON object with `specversion` `"1.0"`, `id`, `source` and
//!    `type`) passes through as that event; see [`crate::structured::parse_structured_value`].
//! 2. An **EventBridge event** (`id`, `detail-type`, `source`, `account`, `time`, `region` as
//!    non-empty strings, `time` in RFC 3339, `detail` an object, `version` if present a string,
//!    `resources` if present an array of strings) maps as in [`from_eventbridge`]:
//!    - `id` and `time`: the event's;
//!    - `type`: rendered by [`TypeFormat`] (default: the EventBridge `source`, e.g. `aws.s3`);
//!    - `source`: the configured override, else the event bus ARN
//!      `arn:{partition}:events:{region}:{account}:event-bus/{bus}` (the bus name is configured:
//!      events delivered to SQS don't carry it; the partition is configured from an API answer,
//!      e.g. the queue ARN, else inferred from the region, see [`options::partition_of_region`]);
//!    - `subject`: the resource when `resources` holds exactly one non-empty string;
//!    - extensions [`EXT_DETAIL_TYPE`], [`EXT_ACCOUNT`], [`EXT_REGION`];
//!    - `data`: the whole event, `application/json`.
//! 3. **Anything else** (text, other JSON, JSON too deeply nested for `serde_json`, EventBridge- or
//!    CloudEvent-looking JSON that fails the checks above) maps generically: `type`
//!    [`SQS_MESSAGE_TYPE`], `id` the MessageId, `source` the override or the queue ARN, `time` the
//!    SQS `SentTimestamp` (no time without one), and `data` the body: JSON as
//!    `application/json`, anything else as a `text/plain` string.
//!
//! **Trace context.** When the message has an `AWSTraceHeader` (the X-Ray trace header
//! EventBridge passes on when the PutEvents caller had one) that is valid, the event gets the
//! CloudEvents Distributed Tracing extension `traceparent`, converted as in [`crate::trace`],
//! unless it is a structured CloudEvent that carries a `traceparent` already (the producer's
//! trace wins). An invalid header, or none, gives no trace.
//!
//! [`from_sqs_message_verbatim`] maps by the same rules, but the data of a JSON body (other than
//! a structured CloudEvent) is the body's own bytes (`Data::Binary`, `application/json`), not a
//! parsed value: for a sink that sends the data as it is, the body of an HTTP request in binary
//! mode, which then neither builds, drops nor prints a JSON tree per message. Not for anything
//! that writes the structured JSON form: that writes binary data as `data_base64`.
//!
//! Modules, each depending only on those before it: [`options`] (type format, source override,
//! event bus), `scan` (one allocation-free pass over a body), `eventbridge` (envelope checks and
//! attributes), `sqs` (the message mapping).
//!
//! The structured JSON format of CloudEvents lives in [`crate::structured`].

pub mod options;

mod eventbridge;
mod scan;
mod sqs;

pub use eventbridge::{from_eventbridge, EnvelopeError, EXT_ACCOUNT, EXT_DETAIL_TYPE, EXT_REGION};
pub use options::{partition_of_region, ConfigError, MappingOptions, TypeFormat};
pub use sqs::{
    from_sqs_message, from_sqs_message_verbatim, MessageError, SqsMessage, SQS_MESSAGE_TYPE,
};

#[cfg(test)]
mod tests;
