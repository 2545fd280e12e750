//! SQS messages to CloudEvents: a structured CloudEvent passes through, an EventBridge event maps
//! as in [`super::eventbridge`], anything else maps generically from the message metadata.

use chrono::{DateTime, Utc};
use cloudevents::{Event, EventBuilder, EventBuilderV10};
use serde_json::Value;

use super::eventbridge::{build, envelope_attributes, Envelope, JSON};
use super::options::MappingOptions;
use super::scan::{scan, Scanned};
use crate::structured::parse_structured_value;
use crate::trace::{set_trace_if_absent, TraceContext};

/// CloudEvent `type` of a message that is neither an EventBridge event nor a CloudEvent.
pub const SQS_MESSAGE_TYPE: &str = "com.amazon.sqs.message";

/// The media type of a body that is not JSON.
pub(super) const TEXT: &str = "text/plain";

/// The parts of an SQS message that the mapping reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqsMessage<'a> {
    /// The message body.
    pub body: &'a str,
    /// The message's `MessageId`.
    pub message_id: &'a str,
    /// The ARN of the queue the message came from.
    pub queue_arn: &'a str,
    /// The `SentTimestamp` attribute: milliseconds since the Unix epoch.
    pub sent_timestamp: Option<i64>,
    /// The `AWSTraceHeader` attribute: the X-Ray trace header EventBridge (or the sender) set.
    pub trace_header: Option<&'a str>,
}

/// SQS message metadata that the generic mapping can't use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// The MessageId is empty; a CloudEvent `id` must not be.
    #[error(
        "SQS MessageId is empty: pass the message's MessageId, a CloudEvent id must be non-empty"
    )]
    EmptyMessageId,
    /// The queue ARN is empty and there is no source override.
    #[error(
        "queue ARN is empty: pass the queue's ARN (arn:aws:sqs:REGION:ACCOUNT:NAME) \
         or configure a source override"
    )]
    EmptyQueueArn,
    /// `SentTimestamp` is negative or beyond the representable time range.
    #[error(
        "SentTimestamp {millis} of SQS message {message_id:?} is not a valid time: \
         pass milliseconds since the Unix epoch, e.g. 1700000000000"
    )]
    SentTimestamp { message_id: String, millis: i64 },
}

/// Maps an SQS message to a CloudEvent; see the [module docs](crate::mapping) for the rules.
///
/// Any body maps; errors come only from the metadata the generic mapping needs (an empty
/// MessageId, an empty queue ARN without a source override, an unusable `SentTimestamp`).
pub fn from_sqs_message(
    message: &SqsMessage<'_>,
    options: &MappingOptions,
) -> Result<Event, MessageError> {
    Ok(traced(map_body(message, options)?, message))
}

/// As [`from_sqs_message`], with the same attributes, but the data of a JSON body is the body's
/// bytes, verbatim (`Data::Binary`, `application/json`); see the [module docs](crate::mapping).
/// A body with a top-level `specversion` (perhaps a structured CloudEvent) maps exactly as
/// [`from_sqs_message`] maps it.
pub fn from_sqs_message_verbatim(
    message: &SqsMessage<'_>,
    options: &MappingOptions,
) -> Result<Event, MessageError> {
    Ok(traced(map_body_verbatim(message, options)?, message))
}

/// The event with the trace of the message's `AWSTraceHeader`, if it has none of its own. A
/// header that is not a valid X-Ray header is no trace: any message maps.
fn traced(mut event: Event, message: &SqsMessage<'_>) -> Event {
    if let Some(context) = message
        .trace_header
        .and_then(|header| TraceContext::from_xray(header).ok())
    {
        set_trace_if_absent(&mut event, &context);
    }
    event
}

fn map_body_verbatim(
    message: &SqsMessage<'_>,
    options: &MappingOptions,
) -> Result<Event, MessageError> {
    let builder = match scan(message.body) {
        None => return Ok(build(generic(message, options)?.data(TEXT, message.body))),
        Some(Scanned::Object(members)) if members.specversion => return map_body(message, options),
        Some(Scanned::Object(members)) => match Envelope::from_members(&members) {
            Some(envelope) => envelope_attributes(&envelope, options),
            None => generic(message, options)?,
        },
        Some(Scanned::Other) => generic(message, options)?,
    };
    Ok(build(builder.data(JSON, message.body.as_bytes().to_vec())))
}

fn map_body(message: &SqsMessage<'_>, options: &MappingOptions) -> Result<Event, MessageError> {
    // serde_json refuses nesting deeper than 128 with an error, so hostile bodies can't recurse
    // without bound; they map as text.
    let Ok(value) = serde_json::from_str::<Value>(message.body) else {
        return Ok(build(generic(message, options)?.data(TEXT, message.body)));
    };
    // A structured CloudEvent has `specversion` (parse_structured_value refuses one without): only
    // then is the value copied for it, not for every EventBridge event.
    if value.get("specversion").is_some() {
        if let Ok(event) = parse_structured_value(&value) {
            return Ok(event);
        }
    }
    let builder = match Envelope::parse(&value) {
        Ok(envelope) => envelope_attributes(&envelope, options),
        Err(_) => generic(message, options)?,
    };
    Ok(build(builder.data(JSON, value)))
}

fn generic(
    message: &SqsMessage<'_>,
    options: &MappingOptions,
) -> Result<EventBuilderV10, MessageError> {
    if message.message_id.is_empty() {
        return Err(MessageError::EmptyMessageId);
    }
    let source = match &options.source {
        Some(source) => source.as_str(),
        None if message.queue_arn.is_empty() => return Err(MessageError::EmptyQueueArn),
        None => message.queue_arn,
    };
    let builder = EventBuilderV10::new()
        .id(message.message_id)
        .ty(SQS_MESSAGE_TYPE)
        .source(source);
    let Some(millis) = message.sent_timestamp else {
        return Ok(builder);
    };
    let time = u64::try_from(millis)
        .ok()
        .and_then(|_| DateTime::<Utc>::from_timestamp_millis(millis))
        .ok_or_else(|| MessageError::SentTimestamp {
            message_id: message.message_id.to_owned(),
            millis,
        })?;
    Ok(builder.time(time))
}
