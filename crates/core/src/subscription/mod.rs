//! Subscriptions and plugins: what the router delivers where, read from YAML or JSON and
//! validated up front, so that a bad file fails the Lambda init with a message naming the
//! subscription and the field.
//!
//! # Format
//!
//! A file is either a list of subscriptions, or an object with `subscriptions` and `plugins`
//! lists:
//!
//! ```yaml
//! subscriptions:
//!   - name: orders-to-billing            # unique among subscriptions and plugins
//!     types: [com.example.order.created] # exact CloudEvent types; omit to match every type
//!     source: /shop/orders               # optional: exact CloudEvent source
//!     filters:                           # optional: CloudEvents Subscriptions API filters
//!       - prefix: {subject: order/}
//!     pattern: {data: {total: [{numeric: [">", 100]}]}}  # optional: EventBridge pattern
//!     function: billing                  # a Lambda function name or ARN ...
//!     mode: sync                         # ... invoked sync (default) or async
//!     content_type: application/cloudevents+json  # optional, see below
//!   - name: audit-webhook
//!     types: [com.example.order.created]
//!     http: https://audit.example.com/events      # ... or an HTTP endpoint (POST)
//!     headers: {Authorization: Bearer xyz}        # optional; values are never logged
//! plugins:                               # subscriptions to system events (see crate::system)
//!   - name: gatekeeper
//!     types: [eventferry.event.received]
//!     function: gatekeeper
//!     mode: sync                         # sync plugins on event.received can block an event
//! ```
//!
//! An event matches a subscription when its `type` is one of `types` (or `types` is omitted),
//! its `source` equals `source` (if given), every filter is true and the pattern (if given)
//! matches the event's structured JSON form, `data` included.
//!
//! `content_type` says what the target receives:
//! - function targets: `application/cloudevents+json` (default) is the structured CloudEvent as
//!   the invoke payload; `application/json` is the event's `data` alone (text data as a JSON
//!   string, binary data as a base64 string, no data as `null`).
//! - HTTP targets: omitted is binary mode (the data as the body, `Content-Type` the event's
//!   `datacontenttype`, attributes as `ce-` headers); `application/cloudevents+json` is
//!   structured mode; any other media type is binary mode with that `Content-Type`.
//!
//! Plugins have the same fields; their `types` must be system event types (omitted: all of
//! them) and `mode` applies to HTTP targets too (`async`: the router does not wait for it and
//! its failure never blocks anything).

//!
//! Modules: [`model`] (the validated types), `checks` (single-value checks), `entry` (one entry:
//! a serde-derived struct that rejects unknown fields, and a validator per field), and this
//! module (the file: its format and top-level shape).

mod checks;
mod entry;
pub mod live;
pub mod model;
pub mod store;

use std::collections::HashSet;

use serde::Deserialize;
use serde_json::Value;

use crate::json_kind::json_kind;
use entry::Entry;

pub use model::{Config, ConfigError, Delivery, Kind, Mode, Subscription, Target, STRUCTURED};

/// The text format of a subscriptions source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Yaml,
    Json,
}

impl Format {
    /// JSON for `*.json`, YAML otherwise (YAML also reads JSON).
    pub fn from_path(path: &str) -> Format {
        if path.to_ascii_lowercase().ends_with(".json") {
            Format::Json
        } else {
            Format::Yaml
        }
    }
}

/// The object form of a file; absent and `null` lists are empty.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Lists {
    subscriptions: Option<Value>,
    plugins: Option<Value>,
}

impl Config {
    /// Parses and validates a subscriptions file. `origin` names it in errors (a path, or
    /// `EVENTFERRY_SUBSCRIPTIONS`).
    pub fn parse(text: &str, format: Format, origin: &str) -> Result<Config, ConfigError> {
        Config::from_value(&parse_text(text, format, origin)?, origin)
    }

    /// Validates an already parsed file: a list of subscriptions, or an object with
    /// `subscriptions` and `plugins` lists. Names must be unique across both.
    pub fn from_value(value: &Value, origin: &str) -> Result<Config, ConfigError> {
        let (subs, plugins) = lists(value, origin)?;
        let mut config = Config::default();
        let mut names = HashSet::new();
        for (kind, items, out) in [
            (Kind::Subscription, &subs[..], &mut config.subscriptions),
            (Kind::Plugin, &plugins[..], &mut config.plugins),
        ] {
            for (i, item) in items.iter().enumerate() {
                let location = match kind {
                    Kind::Subscription => format!("subscriptions[{i}]"),
                    Kind::Plugin => format!("plugins[{i}]"),
                };
                let sub = Entry::parse(item, kind, &location)?;
                if !names.insert(sub.name.clone()) {
                    return Err(ConfigError::Field {
                        kind,
                        name: format!("{:?}", sub.name),
                        location,
                        field: "name".into(),
                        reason: "another subscription or plugin already has this name: names \
                                 must be unique"
                            .into(),
                    });
                }
                out.push(sub);
            }
        }
        Ok(config)
    }
}

/// The text of a subscriptions file or stored document as JSON, or the syntax error naming it.
fn parse_text(text: &str, format: Format, origin: &str) -> Result<Value, ConfigError> {
    let syntax = |format: &'static str, message: String| ConfigError::Syntax {
        origin: origin.to_owned(),
        format,
        message,
    };
    match format {
        Format::Json => serde_json::from_str(text).map_err(|e| syntax("JSON", e.to_string())),
        Format::Yaml => serde_norway::from_str(text).map_err(|e| syntax("YAML", e.to_string())),
    }
}

/// The subscriptions and plugins lists of a file, by its top-level shape.
fn lists(value: &Value, origin: &str) -> Result<(Vec<Value>, Vec<Value>), ConfigError> {
    let shape = |reason: String| ConfigError::Shape {
        origin: origin.to_owned(),
        reason,
    };
    let lists = match value {
        Value::Array(items) => return Ok((items.clone(), Vec::new())),
        Value::Null => return Ok((Vec::new(), Vec::new())),
        Value::Object(_) => Lists::deserialize(value).map_err(|e| {
            shape(match entry::unknown_field_name(&e) {
                Some(key) => format!(
                    "unknown top-level key {key:?}: the file has `subscriptions` and `plugins` \
                     lists"
                ),
                None => e.to_string(),
            })
        })?,
        other => {
            return Err(shape(format!(
                "must be a list of subscriptions, or an object with `subscriptions` and \
                 `plugins` lists; got {}",
                json_kind(other)
            )))
        }
    };
    let list = |key: &str, value: Option<Value>| match value {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(shape(format!(
            "`{key}` must be a list, got {}",
            json_kind(&other)
        ))),
    };
    Ok((
        list("subscriptions", lists.subscriptions)?,
        list("plugins", lists.plugins)?,
    ))
}

#[cfg(test)]
mod tests;
