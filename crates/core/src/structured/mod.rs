//! The CloudEvents JSON format (structured mode): parsing a structured CloudEvent 1.0 with errors
//! that name the attribute, and rendering an event as structured JSON (a value, or canonical
//! bytes with sorted keys). The field list both share with routing is in `fields`
//! ([`with_structured_fields`]).

mod fields;

use chrono::DateTime;
use cloudevents::{AttributesReader, Event};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::json_kind::json_kind;
use crate::json_text;

use eventferry_pattern::TopField;
use fields::field_value;
pub use fields::with_structured_fields;

/// The media type of JSON data, and the default `datacontenttype`.
const JSON: &str = "application/json";

/// A structured CloudEvent that can't be parsed.
#[derive(Debug, thiserror::Error)]
pub enum StructuredError {
    /// The input is not JSON (or nests deeper than 128).
    #[error("structured CloudEvent is not valid JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    /// The input is JSON but not an object.
    #[error("structured CloudEvent must be a JSON object, got {0}")]
    NotObject(&'static str),
    /// A required attribute is absent or null.
    #[error(
        "structured CloudEvent is missing required attribute {0:?}: \
         CloudEvents 1.0 requires specversion, id, source and type"
    )]
    Missing(&'static str),
    /// `specversion` is a string other than `"1.0"`.
    #[error("structured CloudEvent has specversion {0:?}: only \"1.0\" is supported")]
    SpecVersion(String),
    /// An attribute has the wrong type or value.
    #[error("structured CloudEvent attribute {name:?} must be {expected}, got {found}")]
    Attribute {
        name: String,
        expected: &'static str,
        found: String,
    },
    /// An extension attribute name breaks the CloudEvents naming rule.
    #[error(
        "structured CloudEvent has extension attribute {0:?}: \
         attribute names must be non-empty and use only a-z and 0-9"
    )]
    ExtensionName(String),
    /// Both `data` and `data_base64` are present.
    #[error(
        "structured CloudEvent has both \"data\" and \"data_base64\": \
         use data for JSON or text, data_base64 for binary"
    )]
    BothData,
    /// The CloudEvents SDK rejected the event for another reason (e.g. bad base64).
    #[error("structured CloudEvent is invalid: {0}")]
    Invalid(String),
}

/// Parses a structured-mode CloudEvent 1.0 from JSON bytes.
pub fn parse_structured(bytes: &[u8]) -> Result<Event, StructuredError> {
    let value: Value = serde_json::from_slice(bytes).map_err(StructuredError::NotJson)?;
    parse_structured_owned(value)
}

/// Parses a structured-mode CloudEvent 1.0 from JSON.
///
/// Requires `specversion` `"1.0"` and non-empty string `id`, `source` and `type`; checks that
/// `datacontenttype` and `subject` are non-empty strings, `dataschema` an absolute URI and `time`
/// RFC 3339 when present; that data of a non-JSON `datacontenttype` is a string; and that
/// extension names use `[a-z0-9]` and their values are strings, booleans or integers. Null
/// attributes count as absent. Extension names over 20 characters are accepted (the spec says
/// they SHOULD NOT be used).
pub fn parse_structured_value(value: &Value) -> Result<Event, StructuredError> {
    match value {
        Value::Object(_) => parse_structured_owned(value.clone()),
        other => Err(StructuredError::NotObject(json_kind(other))),
    }
}

/// [`parse_structured_value`] of a value the caller gives up: the event is made of its parts,
/// moved rather than copied (the SDK's deserializer copies the whole event three times).
pub fn parse_structured_owned(value: Value) -> Result<Event, StructuredError> {
    let map = match value {
        Value::Object(map) => map,
        other => return Err(StructuredError::NotObject(json_kind(&other))),
    };
    let attributes = Attributes(&map);
    let parsed = attributes.check_context()?;
    let json = is_json_content_type(attributes.text("datacontenttype")?.unwrap_or(JSON));
    attributes.check_data(json)?;
    attributes.check_extensions()?;
    if map.contains_key("data_base64") || (map.contains_key("data") && !json) {
        // Base64 or text data: the SDK decodes it (and says what is wrong with it).
        return Event::deserialize(Value::Object(map))
            .map_err(|e| StructuredError::Invalid(e.to_string()));
    }
    Ok(from_checked(map, parsed))
}

/// The attributes [`Attributes::check_context`] had to parse to check them, kept for the event.
struct Parsed {
    time: Option<DateTime<chrono::Utc>>,
    schema: Option<url::Url>,
}

/// The event of a map [`Attributes`] has checked, with JSON data or none: what the SDK's
/// deserializer makes of it (null attributes absent, `data` as it is, the other names
/// extensions), taking the map apart instead of copying it.
fn from_checked(map: Map<String, Value>, parsed: Parsed) -> Event {
    use cloudevents::{AttributesWriter, EventBuilder, EventBuilderV10};
    fn text(value: Value) -> Option<String> {
        match value {
            Value::String(text) => Some(text),
            _ => None,
        }
    }
    let (mut id, mut source, mut ty) = (String::new(), String::new(), String::new());
    let (mut subject, mut content_type, mut data) = (None, None, None);
    let mut extensions = Vec::new();
    for (name, value) in map {
        match name.as_str() {
            "specversion" => {}
            "data" => data = Some(value),
            _ if value.is_null() => {}
            "id" => id = text(value).unwrap_or_default(),
            "source" => source = text(value).unwrap_or_default(),
            "type" => ty = text(value).unwrap_or_default(),
            "subject" => subject = text(value),
            "datacontenttype" => content_type = text(value),
            "dataschema" | "time" => {}
            _ => extensions.push((name, value)),
        }
    }
    // The builder takes only what it requires; the rest is set on the event, so the builder is
    // not moved once per attribute.
    let mut event = EventBuilderV10::new()
        .id(id)
        .source(source)
        .ty(ty)
        .build()
        .expect("checked: id, source and type are non-empty strings");
    event.set_subject(subject);
    event.set_time(parsed.time);
    event.set_datacontenttype(content_type);
    event.set_dataschema(parsed.schema);
    for (name, value) in extensions {
        match value {
            Value::String(v) => event.set_extension(&name, v),
            Value::Bool(v) => event.set_extension(&name, v),
            other => event.set_extension(&name, other.as_i64().unwrap_or_default()),
        }
    }
    if let Some(data) = data {
        event.set_data_unchecked(data);
    }
    event
}

/// The top level of a structured CloudEvent, checked attribute by attribute before the SDK
/// reads it, so that errors name the attribute. Null attributes count as absent.
struct Attributes<'a>(&'a Map<String, Value>);

fn wrong(name: &str, expected: &'static str, found: String) -> StructuredError {
    StructuredError::Attribute {
        name: name.to_owned(),
        expected,
        found,
    }
}

impl<'a> Attributes<'a> {
    fn get(&self, name: &str) -> Option<&'a Value> {
        self.0.get(name).filter(|value| !value.is_null())
    }

    /// An optional attribute that must be a non-empty string when present.
    fn text(&self, name: &'static str) -> Result<Option<&'a str>, StructuredError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(text)) if !text.is_empty() => Ok(Some(text.as_str())),
            Some(other) => Err(wrong(
                name,
                "a non-empty string",
                json_kind(other).to_owned(),
            )),
        }
    }

    /// `specversion` "1.0", the required attributes, and the forms of the optional ones; the
    /// time and schema as parsed.
    fn check_context(&self) -> Result<Parsed, StructuredError> {
        match self.get("specversion") {
            None => return Err(StructuredError::Missing("specversion")),
            Some(Value::String(version)) if version == "1.0" => {}
            Some(Value::String(version)) => {
                return Err(StructuredError::SpecVersion(version.clone()))
            }
            Some(other) => {
                return Err(wrong(
                    "specversion",
                    "the string \"1.0\"",
                    json_kind(other).to_owned(),
                ))
            }
        }
        for name in ["id", "source", "type"] {
            self.text(name)?.ok_or(StructuredError::Missing(name))?;
        }
        self.text("subject")?;
        let time = match self.text("time")? {
            None => None,
            Some(time) => Some(
                DateTime::parse_from_rfc3339(time)
                    .map_err(|_| {
                        wrong(
                            "time",
                            "an RFC 3339 timestamp such as \"2019-12-01T01:23:45Z\"",
                            format!("{time:?}"),
                        )
                    })?
                    .with_timezone(&chrono::Utc),
            ),
        };
        let schema = match self.text("dataschema")? {
            None => None,
            Some(schema) => Some(url::Url::parse(schema).map_err(|e| {
                wrong("dataschema", "an absolute URI", format!("{schema:?} ({e})"))
            })?),
        };
        Ok(Parsed { time, schema })
    }

    /// `data` or `data_base64`, not both; data as a string unless the content type is `json`,
    /// binary data as base64.
    fn check_data(&self, json: bool) -> Result<(), StructuredError> {
        match (self.get("data"), self.get("data_base64")) {
            (Some(_), Some(_)) => Err(StructuredError::BothData),
            (Some(data), None) if !data.is_string() && !json => Err(wrong(
                "data",
                "a string when datacontenttype is not JSON (use data_base64 for binary)",
                json_kind(data).to_owned(),
            )),
            (None, Some(data)) if !data.is_string() => Err(wrong(
                "data_base64",
                "a base64 string",
                json_kind(data).to_owned(),
            )),
            _ => Ok(()),
        }
    }

    /// Extension names of `[a-z0-9]`, values strings, booleans or integers.
    fn check_extensions(&self) -> Result<(), StructuredError> {
        for (name, value) in self.0 {
            let context = matches!(
                name.as_str(),
                "specversion"
                    | "id"
                    | "source"
                    | "type"
                    | "datacontenttype"
                    | "dataschema"
                    | "subject"
                    | "time"
                    | "data"
                    | "data_base64"
            );
            if context || value.is_null() {
                continue;
            }
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            {
                return Err(StructuredError::ExtensionName(name.clone()));
            }
            if !(value.is_string() || value.is_boolean() || value.is_i64()) {
                return Err(wrong(
                    name,
                    "a string, boolean or integer",
                    json_kind(value).to_owned(),
                ));
            }
        }
        Ok(())
    }
}

/// The CloudEvents SDK's test for JSON data.
fn is_json_content_type(content_type: &str) -> bool {
    content_type.starts_with("application/json")
        || content_type.starts_with("text/json")
        || content_type.ends_with("+json")
}

/// Renders `event` in the structured JSON format: the same value as serialising it with the
/// SDK, built directly from [`with_structured_fields`] (data is cloned, not re-serialised).
pub fn to_structured_json(event: &Event) -> Value {
    let time = structured_time(event);
    with_structured_fields(event, time.as_deref(), |fields| {
        Value::Object(
            fields
                .iter()
                .map(|(name, field)| ((*name).to_owned(), field_value(field)))
                .collect(),
        )
    })
    .unwrap_or_else(|| {
        serde_json::to_value(event).expect("CloudEvent attributes and data are always valid JSON")
    })
}

/// `time` as the structured form writes it ([`rfc3339`]).
pub fn structured_time(event: &Event) -> Option<String> {
    event.time().map(rfc3339)
}

/// A time as CloudEvents JSON writes it: the SDK's RFC 3339 rendering, which is chrono's
/// `Serialize` (`AutoSi` fractions, `Z` for UTC), written straight into one string.
pub fn rfc3339(time: &DateTime<chrono::Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// Renders `event` as structured JSON bytes, with object keys sorted so the same event always
/// gives the same bytes: [`to_structured_json`] printed with [`crate::names::canonical_json`],
/// written straight from the event's fields (its data is not copied into a new value).
pub fn to_structured_bytes(event: &Event) -> Vec<u8> {
    let time = structured_time(event);
    with_structured_fields(event, time.as_deref(), |fields| {
        let mut sorted: Vec<&(&str, TopField<'_>)> = fields.iter().collect();
        sorted.sort_unstable_by_key(|(name, _)| *name);
        // Room for a usual event at once.
        let mut bytes = Vec::with_capacity(JSON_ROOM);
        bytes.push(b'{');
        for (i, (name, field)) in sorted.into_iter().enumerate() {
            if i > 0 {
                bytes.push(b',');
            }
            json_text::push_str(&mut bytes, name);
            bytes.push(b':');
            match *field {
                TopField::Str(s) => json_text::push_str(&mut bytes, s),
                TopField::Bool(b) => bytes.extend_from_slice(if b { b"true" } else { b"false" }),
                TopField::Int(i) => json_text::push_serde(&mut bytes, &i),
                TopField::Json(v) => json_text::push_canonical(&mut bytes, v),
            }
        }
        bytes.push(b'}');
        bytes
    })
    .unwrap_or_else(|| crate::names::canonical_json(&to_structured_json(event)).into_bytes())
}

/// The bytes a rendered event or its JSON data starts with, instead of growing from serde_json's
/// 128: most events are under 1 KB as structured JSON (the fixtures in `events/` are 200–800
/// bytes compact).
pub(crate) const JSON_ROOM: usize = 1024;

#[cfg(test)]
mod tests;
