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

use std::collections::HashSet;
use std::fmt;

use serde_json::{Map, Value};

use crate::filter::Filter;
use crate::json_kind::json_kind;
use crate::pattern_set::SubscriptionPattern;
use crate::system_types::SYSTEM_EVENT_TYPES;

/// The structured-mode media type of a CloudEvent.
pub const STRUCTURED: &str = "application/cloudevents+json";

/// A whole subscriptions file, validated.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub subscriptions: Vec<Subscription>,
    pub plugins: Vec<Subscription>,
}

/// A subscription to events, or a plugin (a subscription to system events).
#[derive(Debug, Clone)]
pub struct Subscription {
    pub name: String,
    pub kind: Kind,
    /// Exact types; `None` matches every type.
    pub types: Option<Vec<String>>,
    pub source: Option<String>,
    pub filters: Vec<Filter>,
    pub pattern: Option<SubscriptionPattern>,
    pub target: Target,
    pub mode: Mode,
    pub delivery: Delivery,
}

/// Whether an entry came from `subscriptions` or `plugins`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Subscription,
    Plugin,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Subscription => "subscription",
            Kind::Plugin => "plugin",
        })
    }
}

/// Where matching events go.
#[derive(Clone, PartialEq, Eq)]
pub enum Target {
    /// A Lambda function, by name or ARN.
    Function(String),
    /// An HTTP endpoint that receives a POST; headers are (name, value) pairs.
    Http {
        url: String,
        headers: Vec<(String, String)>,
    },
}

impl Target {
    /// A short description without secrets: the function, or the URL (header values omitted).
    pub fn describe(&self) -> String {
        match self {
            Target::Function(name) => format!("function {name}"),
            Target::Http { url, .. } => format!("http {url}"),
        }
    }
}

// Header values can be secrets: keep them out of Debug output and logs.
impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Function(name) => f.debug_tuple("Function").field(name).finish(),
            Target::Http { url, headers } => f
                .debug_struct("Http")
                .field("url", url)
                .field(
                    "headers",
                    &headers.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
                )
                .finish(),
        }
    }
}

/// Whether the router waits for the target's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Sync,
    Async,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Sync => "sync",
            Mode::Async => "async",
        })
    }
}

/// What the target receives (from `content_type`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The structured CloudEvent JSON.
    Structured,
    /// HTTP binary mode: data as the body, attributes as `ce-` headers, `Content-Type` the
    /// event's `datacontenttype`.
    Binary,
    /// The data alone (functions), or binary mode (HTTP), labelled with this content type.
    Data(String),
}

/// What is wrong with a subscriptions file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The text is not YAML / JSON at all.
    #[error("subscriptions {origin} is not valid {format}: {message}")]
    Syntax {
        origin: String,
        format: &'static str,
        message: String,
    },
    /// The top level has the wrong shape.
    #[error("subscriptions {origin}: {reason}")]
    Shape { origin: String, reason: String },
    /// One entry is wrong.
    #[error("{kind} {name} ({location}), field {field:?}: {reason}")]
    Field {
        kind: Kind,
        /// The entry's name in quotes, or `#<index>` when it has none.
        name: String,
        /// `subscriptions[2]` or `plugins[0]`.
        location: String,
        field: String,
        reason: String,
    },
}

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

const FIELDS: [&str; 11] = [
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
];

impl Config {
    /// Parses and validates a subscriptions file. `origin` names it in errors (a path, or
    /// `EVENTFERRY_SUBSCRIPTIONS`).
    pub fn parse(text: &str, format: Format, origin: &str) -> Result<Config, ConfigError> {
        let value: Value = match format {
            Format::Json => serde_json::from_str(text).map_err(|e| ConfigError::Syntax {
                origin: origin.to_owned(),
                format: "JSON",
                message: e.to_string(),
            })?,
            Format::Yaml => serde_norway::from_str(text).map_err(|e| ConfigError::Syntax {
                origin: origin.to_owned(),
                format: "YAML",
                message: e.to_string(),
            })?,
        };
        Config::from_value(&value, origin)
    }

    /// Validates an already parsed file.
    pub fn from_value(value: &Value, origin: &str) -> Result<Config, ConfigError> {
        let shape = |reason: String| ConfigError::Shape {
            origin: origin.to_owned(),
            reason,
        };
        let (subs, plugins) = match value {
            Value::Array(items) => (items.as_slice(), &[][..]),
            Value::Object(map) => {
                if let Some(key) = map
                    .keys()
                    .find(|k| *k != "subscriptions" && *k != "plugins")
                {
                    return Err(shape(format!(
                        "unknown top-level key {key:?}: the file has `subscriptions` and \
                         `plugins` lists"
                    )));
                }
                let list = |key: &str| match map.get(key) {
                    None | Some(Value::Null) => Ok(&[][..]),
                    Some(Value::Array(items)) => Ok(items.as_slice()),
                    Some(other) => Err(shape(format!(
                        "`{key}` must be a list, got {}",
                        json_kind(other)
                    ))),
                };
                (list("subscriptions")?, list("plugins")?)
            }
            Value::Null => (&[][..], &[][..]),
            other => {
                return Err(shape(format!(
                    "must be a list of subscriptions, or an object with `subscriptions` and \
                     `plugins` lists; got {}",
                    json_kind(other)
                )))
            }
        };
        let mut config = Config::default();
        let mut names = HashSet::new();
        for (kind, items, out) in [
            (Kind::Subscription, subs, &mut config.subscriptions),
            (Kind::Plugin, plugins, &mut config.plugins),
        ] {
            for (i, item) in items.iter().enumerate() {
                let location = match kind {
                    Kind::Subscription => format!("subscriptions[{i}]"),
                    Kind::Plugin => format!("plugins[{i}]"),
                };
                let sub = Subscription::from_value(item, kind, &location)?;
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

impl Subscription {
    fn from_value(value: &Value, kind: Kind, location: &str) -> Result<Subscription, ConfigError> {
        let display_name = value
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .map(|n| format!("{n:?}"))
            .unwrap_or_else(|| format!("#{}", location_index(location)));
        let err = |field: &str, reason: String| ConfigError::Field {
            kind,
            name: display_name.clone(),
            location: location.to_owned(),
            field: field.to_owned(),
            reason,
        };
        let map = value.as_object().ok_or_else(|| {
            err(
                "",
                format!(
                    "each {kind} must be an object with name, types and a target; got {}",
                    json_kind(value)
                ),
            )
        })?;
        if let Some(key) = map.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(err(
                key,
                format!("unknown field: the fields are {}", FIELDS.join(", ")),
            ));
        }
        let text = |field: &str| -> Result<Option<&str>, ConfigError> {
            match map.get(field) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.as_str())),
                Some(other) => Err(err(
                    field,
                    format!("must be a non-empty string, got {}", json_kind(other)),
                )),
            }
        };

        let name = text("name")?
            .ok_or_else(|| err("name", format!("every {kind} needs a name")))?
            .to_owned();
        if name.len() > 128 || name.chars().any(|c| c.is_control()) {
            return Err(err(
                "name",
                "must be at most 128 characters without control characters".into(),
            ));
        }

        let types = match map.get("types") {
            None | Some(Value::Null) => None,
            Some(Value::String(t)) if !t.is_empty() => Some(vec![t.clone()]),
            Some(Value::Array(items)) if !items.is_empty() => Some(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, t)| match t {
                        Value::String(t) if !t.is_empty() => Ok(t.clone()),
                        other => Err(err(
                            &format!("types[{i}]"),
                            format!(
                                "must be a non-empty string (an exact CloudEvent type), got {}",
                                json_kind(other)
                            ),
                        )),
                    })
                    .collect::<Result<_, _>>()?,
            ),
            Some(Value::Array(_)) => {
                return Err(err(
                    "types",
                    "must list at least one CloudEvent type, or be left out to match every \
                     type"
                        .into(),
                ))
            }
            Some(other) => {
                return Err(err(
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
            for (i, t) in types.iter().flatten().enumerate() {
                if !SYSTEM_EVENT_TYPES.contains(&t.as_str()) {
                    return Err(err(
                        &format!("types[{i}]"),
                        format!(
                            "{t:?} is not a system event type: plugins subscribe to {}",
                            SYSTEM_EVENT_TYPES.join(", ")
                        ),
                    ));
                }
            }
        }

        let source = text("source")?.map(str::to_owned);

        let filters = match map.get("filters") {
            None | Some(Value::Null) => Vec::new(),
            Some(value) => {
                Filter::parse_list(value, "filters").map_err(|e| err(&e.path, e.reason.clone()))?
            }
        };

        let pattern = match map.get("pattern") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => Some(text.clone()),
            Some(value @ Value::Object(_)) => Some(value.to_string()),
            Some(other) => {
                return Err(err(
                    "pattern",
                    format!(
                        "must be an EventBridge pattern: an object, or a string holding one; \
                         got {}",
                        json_kind(other)
                    ),
                ))
            }
        }
        .map(|text| {
            SubscriptionPattern::parse(&text)
                .map_err(|reason| err("pattern", format!("invalid EventBridge pattern: {reason}")))
        })
        .transpose()?;

        let function = text("function")?;
        let http = text("http")?;
        let target = match (function, http) {
            (Some(_), Some(_)) => {
                return Err(err(
                    "function",
                    "give either `function` or `http`, not both".into(),
                ))
            }
            (None, None) => {
                return Err(err(
                    "function",
                    format!(
                        "every {kind} needs a target: `function: <name or ARN>` or \
                         `http: <url>`"
                    ),
                ))
            }
            (Some(function), None) => {
                validate_function(function).map_err(|reason| err("function", reason))?;
                if map.contains_key("headers") {
                    return Err(err(
                        "headers",
                        "headers apply to `http` targets only".into(),
                    ));
                }
                Target::Function(function.to_owned())
            }
            (None, Some(url)) => {
                validate_url(url).map_err(|reason| err("http", reason))?;
                let headers = match map.get("headers") {
                    None | Some(Value::Null) => Vec::new(),
                    Some(Value::Object(headers)) => {
                        parse_headers(headers).map_err(|(field, reason)| err(&field, reason))?
                    }
                    Some(other) => {
                        return Err(err(
                            "headers",
                            format!(
                                "must map header names to string values, got {}",
                                json_kind(other)
                            ),
                        ))
                    }
                };
                Target::Http {
                    url: url.to_owned(),
                    headers,
                }
            }
        };

        let mode = match text("mode")? {
            None => Mode::Sync,
            Some("sync") => Mode::Sync,
            Some("async") => Mode::Async,
            Some(other) => {
                return Err(err("mode", format!("must be sync or async, got {other:?}")))
            }
        };
        if mode == Mode::Async
            && kind == Kind::Subscription
            && matches!(target, Target::Http { .. })
        {
            return Err(err(
                "mode",
                "async applies to function targets (Lambda's Event invocation); an http \
                 target is always called and its answer awaited"
                    .into(),
            ));
        }

        let delivery = match (&target, text("content_type")?) {
            (Target::Function(_), None) => Delivery::Structured,
            (Target::Function(_), Some(ct)) if media_type(ct) == STRUCTURED => Delivery::Structured,
            (Target::Function(_), Some(ct)) if media_type(ct) == "application/json" => {
                Delivery::Data(ct.to_owned())
            }
            (Target::Function(_), Some(ct)) => {
                return Err(err(
                    "content_type",
                    format!(
                        "{ct:?} can't be sent to a function, whose payload is JSON: use \
                         {STRUCTURED} (the whole event, the default) or application/json (the \
                         data only)"
                    ),
                ))
            }
            (Target::Http { .. }, None) => Delivery::Binary,
            (Target::Http { .. }, Some(ct)) if media_type(ct) == STRUCTURED => Delivery::Structured,
            (Target::Http { .. }, Some(ct)) => {
                if !is_media_type(ct) {
                    return Err(err(
                        "content_type",
                        format!("{ct:?} is not a media type such as application/json"),
                    ));
                }
                Delivery::Data(ct.to_owned())
            }
        };

        Ok(Subscription {
            name,
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

    /// The subscription as JSON, as it could be written in a file (header values hidden).
    pub fn summary(&self) -> Value {
        let mut map = Map::new();
        map.insert("name".into(), self.name.clone().into());
        if let Some(types) = &self.types {
            map.insert("types".into(), types.clone().into());
        }
        if let Some(source) = &self.source {
            map.insert("source".into(), source.clone().into());
        }
        if !self.filters.is_empty() {
            map.insert(
                "filters".into(),
                self.filters.iter().map(Filter::to_json).collect(),
            );
        }
        if let Some(pattern) = &self.pattern {
            map.insert(
                "pattern".into(),
                serde_json::from_str(pattern.text())
                    .unwrap_or_else(|_| Value::String(pattern.text().to_owned())),
            );
        }
        match &self.target {
            Target::Function(f) => {
                map.insert("function".into(), f.clone().into());
            }
            Target::Http { url, headers } => {
                map.insert("http".into(), url.clone().into());
                if !headers.is_empty() {
                    map.insert(
                        "headers".into(),
                        headers
                            .iter()
                            .map(|(k, _)| (k.clone(), Value::String("(hidden)".into())))
                            .collect::<Map<_, _>>()
                            .into(),
                    );
                }
            }
        }
        map.insert("mode".into(), self.mode.to_string().into());
        let content_type = match &self.delivery {
            Delivery::Structured => Some(STRUCTURED.to_owned()),
            Delivery::Binary => None,
            Delivery::Data(ct) => Some(ct.clone()),
        };
        if let Some(ct) = content_type {
            map.insert("content_type".into(), ct.into());
        }
        Value::Object(map)
    }
}

fn location_index(location: &str) -> &str {
    location
        .split_once('[')
        .map(|(_, rest)| rest.trim_end_matches(']'))
        .unwrap_or(location)
}

/// The media type without parameters, lower-cased.
fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

fn is_media_type(content_type: &str) -> bool {
    let mt = media_type(content_type);
    let Some((kind, sub)) = mt.split_once('/') else {
        return false;
    };
    let token = |s: &str| !s.is_empty() && s.bytes().all(is_tchar);
    token(kind) && token(sub) && !content_type.chars().any(|c| c.is_control())
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A Lambda function name (`my-function`, `my-function:alias`), partial ARN
/// (`123456789012:function:my-function`) or ARN.
fn validate_function(function: &str) -> Result<(), String> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.' | '$');
    if function.len() > 170 || !function.chars().all(ok_char) {
        return Err(format!(
            "{function:?} is not a Lambda function name or ARN: use letters, digits, - and _ \
             (e.g. billing), or an ARN such as arn:aws:lambda:us-east-1:123456789012:function:billing"
        ));
    }
    if function.starts_with("arn:") && !function.contains(":function:") {
        return Err(format!(
            "{function:?} is not a Lambda function ARN: expected \
             arn:aws:lambda:REGION:ACCOUNT:function:NAME"
        ));
    }
    Ok(())
}

fn validate_url(url: &str) -> Result<(), String> {
    match url::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.host().is_some() => {
            Ok(())
        }
        Ok(parsed) => Err(format!(
            "{url:?} is not an http(s) URL (scheme {:?}): use e.g. https://example.com/events",
            parsed.scheme()
        )),
        Err(e) => Err(format!(
            "{url:?} is not a URL ({e}): use e.g. https://example.com/events"
        )),
    }
}

fn parse_headers(headers: &Map<String, Value>) -> Result<Vec<(String, String)>, (String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            let field = format!("headers.{name}");
            if name.is_empty() || !name.bytes().all(is_tchar) {
                return Err((
                    field,
                    "is not a valid HTTP header name (letters, digits and !#$%&'*+-.^_`|~)".into(),
                ));
            }
            if name.to_ascii_lowercase().starts_with("ce-")
                || name.eq_ignore_ascii_case("content-type")
            {
                return Err((
                    field,
                    "is set by the router from the event: use content_type for Content-Type".into(),
                ));
            }
            // The value's text is never echoed: it may be a secret.
            match value {
                Value::String(v) if v.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b)) => {
                    Ok((name.clone(), v.clone()))
                }
                Value::String(_) => Err((
                    field,
                    "the value must be printable ASCII without line breaks".into(),
                )),
                other => Err((
                    field,
                    format!("the value must be a string, got {}", json_kind(other)),
                )),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Format::Yaml, "test.yaml")
    }

    #[test]
    fn reads_the_documented_yaml() {
        let config = yaml(
            r#"
subscriptions:
  - name: orders-to-billing
    types: [com.example.order.created, com.example.order.updated]
    source: /shop/orders
    filters:
      - prefix: {subject: order/}
      - not: {exact: {tenant: test}}
    function: billing
    mode: async
  - name: audit-webhook
    types: com.example.order.created
    http: https://audit.example.com/events
    headers: {Authorization: Bearer secret-token}
  - name: everything
    function: arn:aws:lambda:us-east-1:000000000000:function:recorder
    content_type: application/json
plugins:
  - name: gatekeeper
    types: [eventferry.event.received]
    function: gatekeeper
  - name: metrics
    http: http://127.0.0.1:9999/metrics
    mode: async
"#,
        )
        .unwrap();
        assert_eq!(config.subscriptions.len(), 3);
        let billing = &config.subscriptions[0];
        assert_eq!(billing.name, "orders-to-billing");
        assert_eq!(billing.kind, Kind::Subscription);
        assert_eq!(
            billing.types.as_deref(),
            Some(
                &[
                    "com.example.order.created".to_owned(),
                    "com.example.order.updated".to_owned()
                ][..]
            )
        );
        assert_eq!(billing.source.as_deref(), Some("/shop/orders"));
        assert_eq!(billing.filters.len(), 2);
        assert_eq!(billing.target, Target::Function("billing".into()));
        assert_eq!(billing.mode, Mode::Async);
        assert_eq!(billing.delivery, Delivery::Structured);
        let audit = &config.subscriptions[1];
        assert_eq!(
            audit.types.as_deref().unwrap(),
            ["com.example.order.created"]
        );
        assert_eq!(audit.delivery, Delivery::Binary);
        assert!(!format!("{:?}", audit.target).contains("secret-token"));
        assert!(!audit.summary().to_string().contains("secret-token"));
        assert_eq!(config.subscriptions[2].types, None);
        assert_eq!(
            config.subscriptions[2].delivery,
            Delivery::Data("application/json".into())
        );
        assert_eq!(config.plugins.len(), 2);
        assert_eq!(config.plugins[0].kind, Kind::Plugin);
        assert_eq!(config.plugins[1].mode, Mode::Async);
        assert!(config
            .subscriptions
            .iter()
            .chain(&config.plugins)
            .any(|s| s.name == "metrics"));
    }

    #[test]
    fn reads_a_bare_json_list() {
        let config = Config::parse(
            r#"[{"name":"a","types":["t"],"function":"f"}]"#,
            Format::Json,
            "EVENTFERRY_SUBSCRIPTIONS",
        )
        .unwrap();
        assert_eq!(config.subscriptions[0].name, "a");
        assert!(config.plugins.is_empty());
        assert!(Config::parse("", Format::Yaml, "empty.yaml")
            .unwrap()
            .subscriptions
            .is_empty());
    }

    #[test]
    fn errors_name_the_subscription_and_the_field() {
        let cases: &[(&str, &str)] = &[
            (
                "- {name: a, types: [t], function: f}\n- {name: a, types: [t], function: g}",
                r#"subscription "a" (subscriptions[1]), field "name": another subscription or plugin already has this name"#,
            ),
            (
                "- {types: [t], function: f}",
                r#"subscription #0 (subscriptions[0]), field "name": every subscription needs a name"#,
            ),
            (
                "- {name: a, type: [t], function: f}",
                r#"subscription "a" (subscriptions[0]), field "type": unknown field"#,
            ),
            (
                "- {name: a, types: [], function: f}",
                r#"field "types": must list at least one CloudEvent type"#,
            ),
            (
                "- {name: a, types: [t, 3], function: f}",
                r#"field "types[1]": must be a non-empty string"#,
            ),
            (
                "- {name: a, types: [t]}",
                r#"subscription "a" (subscriptions[0]), field "function": every subscription needs a target"#,
            ),
            (
                "- {name: a, types: [t], function: f, http: 'http://x'}",
                r#"field "function": give either `function` or `http`, not both"#,
            ),
            (
                "- {name: a, types: [t], function: 'my function'}",
                r#"field "function": "my function" is not a Lambda function name or ARN"#,
            ),
            (
                "- {name: a, types: [t], function: 'arn:aws:sqs:us-east-1:1:q'}",
                r#"is not a Lambda function ARN"#,
            ),
            (
                "- {name: a, types: [t], http: 'ftp://x/y'}",
                r#"field "http": "ftp://x/y" is not an http(s) URL"#,
            ),
            (
                "- {name: a, types: [t], http: 'not a url'}",
                r#"field "http": "not a url" is not a URL"#,
            ),
            (
                "- {name: a, types: [t], function: f, mode: later}",
                r#"field "mode": must be sync or async, got "later""#,
            ),
            (
                "- {name: a, types: [t], http: 'http://x', mode: async}",
                r#"field "mode": async applies to function targets"#,
            ),
            (
                "- {name: a, types: [t], function: f, headers: {A: b}}",
                r#"field "headers": headers apply to `http` targets only"#,
            ),
            (
                "- {name: a, types: [t], http: 'http://x', headers: {'bad name': b}}",
                r#"field "headers.bad name": is not a valid HTTP header name"#,
            ),
            (
                "- {name: a, types: [t], http: 'http://x', headers: {ce-id: b}}",
                r#"field "headers.ce-id": is set by the router"#,
            ),
            (
                "- {name: a, types: [t], http: 'http://x', headers: {X-Key: \"s3cr\\net\"}}",
                r#"field "headers.X-Key": the value must be printable ASCII"#,
            ),
            (
                "- {name: a, types: [t], function: f, content_type: text/plain}",
                r#"field "content_type": "text/plain" can't be sent to a function"#,
            ),
            (
                "- {name: a, types: [t], http: 'http://x', content_type: nonsense}",
                r#"field "content_type": "nonsense" is not a media type"#,
            ),
            (
                "- {name: a, types: [t], function: f, filters: [{exact: {Type: x}}]}",
                r#"subscription "a" (subscriptions[0]), field "filters[0].exact": attribute name "Type""#,
            ),
            (
                "- {name: a, types: [t], function: f, pattern: [1]}",
                r#"field "pattern": must be an EventBridge pattern"#,
            ),
            (
                "- {name: big, types: [t], function: f, pattern: {data: {n: [{NUMERIC: ['>', 5]}]}}}",
                r#"subscription "big" (subscriptions[0]), field "pattern": invalid EventBridge pattern: Unrecognized match type NUMERIC"#,
            ),
            (
                "- {name: big, types: [t], function: f, pattern: '{\"data\": '}",
                r#"subscription "big" (subscriptions[0]), field "pattern": invalid EventBridge pattern: "#,
            ),
            (
                "plugins:\n- {name: p, types: [com.example.x], function: f}",
                r#"plugin "p" (plugins[0]), field "types[0]": "com.example.x" is not a system event type"#,
            ),
            (
                "subscriptions: {name: a}",
                r#"subscriptions test.yaml: `subscriptions` must be a list, got an object"#,
            ),
            (
                "subscription: []",
                r#"subscriptions test.yaml: unknown top-level key "subscription""#,
            ),
            ("42", "must be a list of subscriptions"),
            ("- [a", "subscriptions test.yaml is not valid YAML"),
            (
                "- 3",
                r#"subscription #0 (subscriptions[0]), field "": each subscription must be an object"#,
            ),
        ];
        for (text, expected) in cases {
            let message = yaml(text).unwrap_err().to_string();
            assert!(
                message.contains(expected),
                "{text}\n  got:      {message}\n  expected: {expected}"
            );
        }
        let err = Config::parse("{", Format::Json, "inline").unwrap_err();
        assert!(err
            .to_string()
            .starts_with("subscriptions inline is not valid JSON"));
    }

    #[test]
    fn format_follows_the_extension() {
        assert_eq!(Format::from_path("subs.JSON"), Format::Json);
        assert_eq!(Format::from_path("subs.yaml"), Format::Yaml);
        assert_eq!(Format::from_path("subs.yml"), Format::Yaml);
    }
}
