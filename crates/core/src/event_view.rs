//! The pattern engine's and the filters' view of an event: attributes read straight from the
//! [`Event`], the structured fields handed to the matcher borrowed
//! ([`crate::structured::with_structured_fields`]), and the whole structured JSON built only when
//! something asks for it.

use std::borrow::Cow;
use std::cell::OnceCell;

use cloudevents::event::{ExtensionValue, SpecVersion};
use cloudevents::{AttributesReader, Event};
use eventferry_pattern::TopField;
use serde_json::Value;

use crate::filter::{attribute_text, Filter};
use crate::structured::{structured_time, to_structured_json, with_structured_fields};

/// An event prepared for matching. Routing reads the attributes straight from the event and
/// hands the pattern matcher the attributes plus a borrowed `data`, so nothing is cloned per
/// event; the whole structured JSON form is built only if asked for ([`EventView::json`]).
#[derive(Debug)]
pub struct EventView<'a> {
    event: &'a Event,
    /// [`structured_time`], rendered once on first use.
    time: OnceCell<Option<String>>,
    json: OnceCell<Value>,
}

impl<'a> EventView<'a> {
    pub fn new(event: &'a Event) -> Self {
        EventView {
            event,
            time: OnceCell::new(),
            json: OnceCell::new(),
        }
    }

    /// The structured JSON form (what patterns match).
    pub fn json(&self) -> &Value {
        self.json.get_or_init(|| to_structured_json(self.event))
    }

    fn time(&self) -> Option<&str> {
        self.time
            .get_or_init(|| structured_time(self.event))
            .as_deref()
    }

    /// Attribute `name` as text, as [`attribute_text`] reads it from the
    /// structured form (what filters match); `data` is not an attribute.
    pub fn attribute_text(&self, name: &str) -> Option<Cow<'_, str>> {
        if self.event.specversion() != SpecVersion::V10 {
            return attribute_text(self.json().as_object()?, name);
        }
        let e = self.event;
        let borrowed = |s: &'a str| Some(Cow::Borrowed(s));
        match name {
            "specversion" => borrowed("1.0"),
            "id" => borrowed(e.id()),
            "type" => borrowed(e.ty()),
            "source" => borrowed(e.source().as_str()),
            "datacontenttype" => e.datacontenttype().map(Cow::Borrowed),
            "dataschema" => e.dataschema().map(|u| Cow::Borrowed(u.as_str())),
            "subject" => e.subject().map(Cow::Borrowed),
            "time" => self.time().map(Cow::Borrowed),
            "data" | "data_base64" => None,
            _ => match e.extension(name)? {
                ExtensionValue::String(v) => Some(Cow::Borrowed(v.as_str())),
                ExtensionValue::Boolean(b) => Some(Cow::Owned(b.to_string())),
                ExtensionValue::Integer(i) => Some(Cow::Owned(i.to_string())),
            },
        }
    }

    /// Whether `filter` holds for this event.
    pub fn passes(&self, filter: &Filter) -> bool {
        filter.matches_with(&|name: &str| self.attribute_text(name))
    }

    /// Hands `f` the top-level fields of the structured form, borrowed from the event (what
    /// the pattern matcher reads field by field); `None` for events that are not CloudEvents
    /// 1.0, which are matched on [`EventView::json`] instead.
    pub fn with_fields<R>(&self, f: impl FnOnce(&[(&str, TopField<'_>)]) -> R) -> Option<R> {
        with_structured_fields(self.event, self.time(), f)
    }
}
