//! EventBridge events to CloudEvents: the envelope checks and the attributes they give, for an
//! event delivered directly ([`from_eventbridge`]) or through SQS ([`super::from_sqs_message`]).

use chrono::{DateTime, Utc};
use cloudevents::{Event, EventBuilder, EventBuilderV10};
use serde_json::{Map, Value};

use std::borrow::Cow;

use super::options::MappingOptions;
use super::scan::{Members, Shape};
use crate::json_kind::json_kind;

/// Extension attribute holding an EventBridge event's `detail-type`.
pub const EXT_DETAIL_TYPE: &str = "awsdetailtype";
/// Extension attribute holding an EventBridge event's `account`.
pub const EXT_ACCOUNT: &str = "awsaccount";
/// Extension attribute holding an EventBridge event's `region`.
pub const EXT_REGION: &str = "awsregion";

/// The media type of JSON data.
pub(super) const JSON: &str = "application/json";

/// An EventBridge event that fails the envelope checks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// The event is not a JSON object.
    #[error("EventBridge event must be a JSON object, got {0}")]
    NotObject(&'static str),
    /// A required field is absent.
    #[error(
        "EventBridge event is missing field {0:?}: an event has id, detail-type, source, \
         account, time, region and detail"
    )]
    Missing(&'static str),
    /// A field has the wrong JSON type or is empty.
    #[error("EventBridge event field {field:?} must be {expected}, got {found}")]
    Field {
        field: &'static str,
        expected: &'static str,
        found: String,
    },
    /// `time` is not an RFC 3339 timestamp.
    #[error(
        "EventBridge event field \"time\" must be an RFC 3339 timestamp such as \
         \"2019-12-01T01:23:45Z\", got {0:?}"
    )]
    Time(String),
}

/// Maps an EventBridge event delivered directly (e.g. to the router as a rule target) to a
/// CloudEvent, by the same rules as an EventBridge event arriving through SQS.
pub fn from_eventbridge(event: Value, options: &MappingOptions) -> Result<Event, EnvelopeError> {
    let builder = envelope_attributes(&Envelope::parse(&event)?, options);
    Ok(build(builder.data(JSON, event)))
}

/// The EventBridge fields the mapping uses, checked.
pub(super) struct Envelope<'a> {
    id: &'a str,
    detail_type: &'a str,
    source: &'a str,
    account: &'a str,
    region: &'a str,
    time: DateTime<Utc>,
    subject: Option<&'a str>,
}

impl<'a> Envelope<'a> {
    pub(super) fn parse(value: &'a Value) -> Result<Self, EnvelopeError> {
        let map = value
            .as_object()
            .ok_or_else(|| EnvelopeError::NotObject(json_kind(value)))?;
        let wrong = |field, expected, found: &Value| EnvelopeError::Field {
            field,
            expected,
            found: json_kind(found).to_owned(),
        };
        match map.get("detail") {
            Some(Value::Object(_)) => {}
            Some(other) => return Err(wrong("detail", "an object", other)),
            None => return Err(EnvelopeError::Missing("detail")),
        }
        match map.get("version") {
            None | Some(Value::String(_)) => {}
            Some(other) => return Err(wrong("version", "a string", other)),
        }
        let resources = match map.get("resources") {
            None => &[][..],
            Some(Value::Array(items)) => match items.iter().find(|item| !item.is_string()) {
                None => items.as_slice(),
                Some(item) => {
                    return Err(EnvelopeError::Field {
                        field: "resources",
                        expected: "an array of strings",
                        found: format!("an array holding {}", json_kind(item)),
                    })
                }
            },
            Some(other) => return Err(wrong("resources", "an array of strings", other)),
        };
        let time = envelope_text(map, "time")?;
        Ok(Self {
            id: envelope_text(map, "id")?,
            detail_type: envelope_text(map, "detail-type")?,
            source: envelope_text(map, "source")?,
            account: envelope_text(map, "account")?,
            region: envelope_text(map, "region")?,
            time: DateTime::parse_from_rfc3339(time)
                .map_err(|_| EnvelopeError::Time(time.to_owned()))?
                .to_utc(),
            subject: match resources {
                [Value::String(only)] if !only.is_empty() => Some(only),
                _ => None,
            },
        })
    }
}

impl<'a> Envelope<'a> {
    /// The same checks as [`Envelope::parse`] on the members [`super::scan`] read; `None` where
    /// `parse` gives an error (the SQS mapping then maps the body generically, whatever the error).
    pub(super) fn from_members(m: &'a Members<'a>) -> Option<Self> {
        fn text<'a>(shape: &'a Option<Shape<'a>>) -> Option<&'a str> {
            match shape {
                Some(Shape::Str(text)) if !text.is_empty() => Some(text),
                _ => None,
            }
        }
        if !matches!(m.detail, Some(Shape::Object)) {
            return None;
        }
        if !matches!(m.version, None | Some(Shape::Str(_))) {
            return None;
        }
        let resources: &[Cow<'a, str>] = match &m.resources {
            None => &[],
            Some(Shape::Strings(items)) => items,
            Some(_) => return None,
        };
        let time = text(&m.time)?;
        Some(Self {
            id: text(&m.id)?,
            detail_type: text(&m.detail_type)?,
            source: text(&m.source)?,
            account: text(&m.account)?,
            region: text(&m.region)?,
            time: DateTime::parse_from_rfc3339(time).ok()?.to_utc(),
            subject: match resources {
                [only] if !only.is_empty() => Some(only),
                _ => None,
            },
        })
    }
}

fn envelope_text<'a>(
    map: &'a Map<String, Value>,
    field: &'static str,
) -> Result<&'a str, EnvelopeError> {
    match map.get(field) {
        Some(Value::String(text)) if !text.is_empty() => Ok(text),
        Some(other) => Err(EnvelopeError::Field {
            field,
            expected: "a non-empty string",
            found: json_kind(other).to_owned(),
        }),
        None => Err(EnvelopeError::Missing(field)),
    }
}

pub(super) fn envelope_attributes(
    event: &Envelope<'_>,
    options: &MappingOptions,
) -> EventBuilderV10 {
    let source = options.source.clone().unwrap_or_else(|| {
        format!(
            "arn:{}:events:{}:{}:event-bus/{}",
            options.partition_for(event.region),
            event.region,
            event.account,
            options.event_bus
        )
    });
    let builder = EventBuilderV10::new()
        .id(event.id)
        .ty(options.type_format.render(
            event.source,
            event.detail_type,
            event.account,
            event.region,
        ))
        .source(source)
        .time(event.time)
        .extension(EXT_DETAIL_TYPE, event.detail_type)
        .extension(EXT_ACCOUNT, event.account)
        .extension(EXT_REGION, event.region);
    match event.subject {
        Some(subject) => builder.subject(subject),
        None => builder,
    }
}

/// Builds an event whose `id`, `type` and non-empty `source` the callers always set (the only
/// things the builder checks, besides times, which are passed parsed).
pub(super) fn build(builder: EventBuilderV10) -> Event {
    builder
        .build()
        .expect("id, type and a non-empty source are always set")
}
