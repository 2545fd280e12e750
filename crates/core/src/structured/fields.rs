//! The top-level fields of a CloudEvent's structured JSON form, borrowed from the event: one
//! list that both renders the structured JSON ([`super::to_structured_json`]) and feeds the
//! pattern engine field by field ([`eventferry_pattern::TopField`]), so the two can't disagree.

use base64::Engine;
use cloudevents::event::{ExtensionValue, SpecVersion};
use cloudevents::{AttributesReader, Data, Event};
use eventferry_pattern::TopField;
use serde_json::Value;

/// Hands `f` the top-level fields of a CloudEvents 1.0 event's structured JSON form without
/// copying anything: the attributes, the extensions, and `data` (JSON borrowed; binary as
/// `data_base64`). `time` is [`super::structured_time`] of the event. `None` for other spec
/// versions, or a time that could not be rendered: the SDK's serialisation covers those.
pub fn with_structured_fields<R>(
    event: &Event,
    time: Option<&str>,
    f: impl FnOnce(&[(&str, TopField<'_>)]) -> R,
) -> Option<R> {
    if event.specversion() != SpecVersion::V10 {
        return None;
    }
    let mut fields: Vec<(&str, TopField<'_>)> =
        Vec::with_capacity(9 + event.iter_extensions().count());
    fields.push(("specversion", TopField::Str("1.0")));
    fields.push(("id", TopField::Str(event.id())));
    fields.push(("type", TopField::Str(event.ty())));
    fields.push(("source", TopField::Str(event.source().as_str())));
    if let Some(v) = event.datacontenttype() {
        fields.push(("datacontenttype", TopField::Str(v)));
    }
    if let Some(v) = event.dataschema() {
        fields.push(("dataschema", TopField::Str(v.as_str())));
    }
    if let Some(v) = event.subject() {
        fields.push(("subject", TopField::Str(v)));
    }
    if event.time().is_some() {
        fields.push(("time", TopField::Str(time?)));
    }
    let base64;
    match event.data() {
        Some(Data::Json(v)) => fields.push(("data", TopField::Json(v))),
        Some(Data::String(v)) => fields.push(("data", TopField::Str(v))),
        Some(Data::Binary(v)) => {
            base64 = base64::engine::general_purpose::STANDARD.encode(v);
            fields.push(("data_base64", TopField::Str(&base64)));
        }
        None => {}
    }
    for (name, value) in event.iter_extensions() {
        fields.push((
            name,
            match value {
                ExtensionValue::String(v) => TopField::Str(v),
                ExtensionValue::Boolean(b) => TopField::Bool(*b),
                ExtensionValue::Integer(i) => TopField::Int(*i),
            },
        ));
    }
    Some(f(&fields))
}

/// One field as an owned JSON value.
pub(super) fn field_value(field: &TopField<'_>) -> Value {
    match *field {
        TopField::Str(s) => Value::String(s.to_owned()),
        TopField::Bool(b) => Value::Bool(b),
        TopField::Int(i) => Value::from(i),
        TopField::Json(v) => v.clone(),
    }
}
