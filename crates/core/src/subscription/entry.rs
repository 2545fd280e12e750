//! One entry of a subscriptions file: a serde-derived [`Entry`] that rejects unknown fields, and
//! one small validator per field that turns it into a [`Subscription`]. Every error names the
//! field and what would be right; [`Entry::parse`] adds the entry's name and place.

use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::checks::{is_media_type, media_type, parse_headers, validate_function, validate_url};
use super::model::{ConfigError, Delivery, Kind, Mode, Subscription, Target, STRUCTURED};
use crate::filter::Filter;
use crate::json_kind::json_kind;
use crate::pattern_set::SubscriptionPattern;
use crate::system_types::SYSTEM_EVENT_TYPES;

/// The fields of an entry, in the order [`Entry`] declares them (and errors list them).
pub(super) const FIELDS: [&str; 12] = [
    "name",
    "types",
    "source",
    "filters",
    "pattern",
    "function",
    "mode",
    "http",
    "headers",
    "content_type",
    "description",
    "created",
];

/// An entry as written. Each field is kept as JSON and checked by its own validator, so that
/// errors say what the field must be in this project's words rather than serde's; absent and
/// `null` fields are `None`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Entry {
    name: Option<Value>,
    types: Option<Value>,
    source: Option<Value>,
    filters: Option<Value>,
    pattern: Option<Value>,
    function: Option<Value>,
    mode: Option<Value>,
    http: Option<Value>,
    /// `Some(Value::Null)` for `headers: null`: headers given to a function target are an
    /// error even when null.
    #[serde(default, deserialize_with = "present")]
    headers: Option<Value>,
    content_type: Option<Value>,
    /// Free text for people; not read.
    #[serde(rename = "description")]
    _description: Option<IgnoredAny>,
    /// When `eventferry subscriptions create` stored the entry (RFC 3339); not read.
    #[serde(rename = "created")]
    _created: Option<IgnoredAny>,
}

/// What is wrong with one field of an entry.
#[derive(Debug)]
pub(super) struct Invalid {
    field: String,
    reason: String,
}

fn invalid(field: &str, reason: impl Into<String>) -> Invalid {
    Invalid {
        field: field.to_owned(),
        reason: reason.into(),
    }
}

/// Keeps a field that is present, `null` included.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

impl Entry {
    /// Reads and validates entry `value` of the list `location` (`subscriptions[2]`).
    pub(super) fn parse(
        value: &Value,
        kind: Kind,
        location: &str,
    ) -> Result<Subscription, ConfigError> {
        let located = |e: Invalid| ConfigError::Field {
            kind,
            name: display_name(value, location),
            location: location.to_owned(),
            field: e.field,
            reason: e.reason,
        };
        if !value.is_object() {
            return Err(located(invalid(
                "",
                format!(
                    "each {kind} must be an object with name, types and a target; got {}",
                    json_kind(value)
                ),
            )));
        }
        let entry = Entry::deserialize(value).map_err(|e| located(unknown_field(&e)))?;
        entry.validate(kind).map_err(located)
    }

    /// The checks in the order the fields are documented; the first failure is reported.
    fn validate(self, kind: Kind) -> Result<Subscription, Invalid> {
        let name = name(self.name.as_ref(), kind)?;
        let types = types(self.types.as_ref(), kind)?;
        let source = text("source", self.source.as_ref())?.map(str::to_owned);
        let filters = filters(self.filters.as_ref())?;
        let pattern = pattern(self.pattern.as_ref())?;
        let target = target(
            kind,
            text("function", self.function.as_ref())?,
            text("http", self.http.as_ref())?,
            self.headers.as_ref(),
        )?;
        let mode = mode(text("mode", self.mode.as_ref())?, kind, &target)?;
        let delivery = delivery(&target, text("content_type", self.content_type.as_ref())?)?;
        Ok(Subscription {
            name: name.into(),
            kind,
            types,
            source,
            filters,
            pattern,
            target,
            mode,
            delivery,
        })
    }
}

/// How errors name an entry: its name in quotes, or `#<index>` when it has none.
fn display_name(value: &Value, location: &str) -> String {
    match value.get("name").and_then(Value::as_str) {
        Some(name) if !name.is_empty() => format!("{name:?}"),
        _ => {
            let index = location
                .split_once('[')
                .map(|(_, rest)| rest.trim_end_matches(']'))
                .unwrap_or(location);
            format!("#{index}")
        }
    }
}

/// The field serde's `deny_unknown_fields` refused, if that is what `error` says. Structs whose
/// fields all hold JSON values fail to deserialize from an object in no other way.
pub(super) fn unknown_field_name(error: &serde_json::Error) -> Option<String> {
    let message = error.to_string();
    let (field, _) = message.strip_prefix("unknown field `")?.split_once('`')?;
    Some(field.to_owned())
}

/// serde's error for an entry, named as the other field errors are.
fn unknown_field(error: &serde_json::Error) -> Invalid {
    match unknown_field_name(error) {
        Some(field) => invalid(
            &field,
            format!("unknown field: the fields are {}", FIELDS.join(", ")),
        ),
        None => invalid("", error.to_string()),
    }
}

/// An optional non-empty string field.
fn text<'a>(field: &str, value: Option<&'a Value>) -> Result<Option<&'a str>, Invalid> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.as_str())),
        Some(other) => Err(invalid(
            field,
            format!("must be a non-empty string, got {}", json_kind(other)),
        )),
    }
}

fn name(value: Option<&Value>, kind: Kind) -> Result<String, Invalid> {
    let name = text("name", value)?
        .ok_or_else(|| invalid("name", format!("every {kind} needs a name")))?;
    if name.len() > 128 || name.chars().any(|c| c.is_control()) {
        return Err(invalid(
            "name",
            "must be at most 128 characters without control characters",
        ));
    }
    Ok(name.to_owned())
}

/// `types`: one type or a non-empty list; a plugin's must be system event types.
fn types(value: Option<&Value>, kind: Kind) -> Result<Option<Vec<String>>, Invalid> {
    let types = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(t)) if !t.is_empty() => vec![t.clone()],
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .enumerate()
            .map(|(i, t)| match t {
                Value::String(t) if !t.is_empty() => Ok(t.clone()),
                other => Err(invalid(
                    &format!("types[{i}]"),
                    format!(
                        "must be a non-empty string (an exact CloudEvent type), got {}",
                        json_kind(other)
                    ),
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(Value::Array(_)) => {
            return Err(invalid(
                "types",
                "must list at least one CloudEvent type, or be left out to match every type",
            ))
        }
        Some(other) => {
            return Err(invalid(
                "types",
                format!(
                    "must be a list of exact CloudEvent types, e.g. \
                     [com.example.order.created]; got {}",
                    json_kind(other)
                ),
            ))
        }
    };
    if kind == Kind::Plugin {
        if let Some((i, t)) = types
            .iter()
            .enumerate()
            .find(|(_, t)| !SYSTEM_EVENT_TYPES.contains(&t.as_str()))
        {
            return Err(invalid(
                &format!("types[{i}]"),
                format!(
                    "{t:?} is not a system event type: plugins subscribe to {}",
                    SYSTEM_EVENT_TYPES.join(", ")
                ),
            ));
        }
    }
    Ok(Some(types))
}

fn filters(value: Option<&Value>) -> Result<Vec<Filter>, Invalid> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(value) => Filter::parse_list(value, "filters").map_err(|e| invalid(&e.path, e.reason)),
    }
}

/// `pattern`: an EventBridge pattern as an object, or a string holding one.
fn pattern(value: Option<&Value>) -> Result<Option<SubscriptionPattern>, Invalid> {
    let text = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(text)) => text.clone(),
        Some(value @ Value::Object(_)) => value.to_string(),
        Some(other) => {
            return Err(invalid(
                "pattern",
                format!(
                    "must be an EventBridge pattern: an object, or a string holding one; got {}",
                    json_kind(other)
                ),
            ))
        }
    };
    SubscriptionPattern::parse(&text)
        .map(Some)
        .map_err(|reason| invalid("pattern", format!("invalid EventBridge pattern: {reason}")))
}

/// Exactly one of `function` and `http`; `headers` only with `http`.
fn target(
    kind: Kind,
    function: Option<&str>,
    http: Option<&str>,
    headers: Option<&Value>,
) -> Result<Target, Invalid> {
    match (function, http) {
        (Some(_), Some(_)) => Err(invalid(
            "function",
            "give either `function` or `http`, not both",
        )),
        (None, None) => Err(invalid(
            "function",
            format!("every {kind} needs a target: `function: <name or ARN>` or `http: <url>`"),
        )),
        (Some(function), None) => {
            validate_function(function).map_err(|reason| invalid("function", reason))?;
            if headers.is_some() {
                return Err(invalid("headers", "headers apply to `http` targets only"));
            }
            Ok(Target::Function(function.into()))
        }
        (None, Some(url)) => {
            validate_url(url).map_err(|reason| invalid("http", reason))?;
            let headers = match headers {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Object(headers)) => {
                    parse_headers(headers).map_err(|(field, reason)| invalid(&field, reason))?
                }
                Some(other) => {
                    return Err(invalid(
                        "headers",
                        format!(
                            "must map header names to string values, got {}",
                            json_kind(other)
                        ),
                    ))
                }
            };
            Ok(Target::Http {
                url: url.into(),
                headers,
            })
        }
    }
}

/// `mode`: sync (the default) or async; a subscription's http target is always sync.
fn mode(value: Option<&str>, kind: Kind, target: &Target) -> Result<Mode, Invalid> {
    let mode = match value {
        None | Some("sync") => Mode::Sync,
        Some("async") => Mode::Async,
        Some(other) => {
            return Err(invalid(
                "mode",
                format!("must be sync or async, got {other:?}"),
            ))
        }
    };
    if mode == Mode::Async && kind == Kind::Subscription && matches!(target, Target::Http { .. }) {
        return Err(invalid(
            "mode",
            "async applies to function targets (Lambda's Event invocation); an http target is \
             always called and its answer awaited",
        ));
    }
    Ok(mode)
}

/// `content_type`: what the target receives (see the module docs of [`super`]).
fn delivery(target: &Target, content_type: Option<&str>) -> Result<Delivery, Invalid> {
    let Some(ct) = content_type else {
        return Ok(match target {
            Target::Function(_) => Delivery::Structured,
            Target::Http { .. } => Delivery::Binary,
        });
    };
    if media_type(ct) == STRUCTURED {
        return Ok(Delivery::Structured);
    }
    match target {
        Target::Function(_) if media_type(ct) == "application/json" => {
            Ok(Delivery::Data(ct.to_owned()))
        }
        Target::Function(_) => Err(invalid(
            "content_type",
            format!(
                "{ct:?} can't be sent to a function, whose payload is JSON: use {STRUCTURED} \
                 (the whole event, the default) or application/json (the data only)"
            ),
        )),
        Target::Http { .. } if !is_media_type(ct) => Err(invalid(
            "content_type",
            format!("{ct:?} is not a media type such as application/json"),
        )),
        Target::Http { .. } => Ok(Delivery::Data(ct.to_owned())),
    }
}
