//! The validated model of a subscriptions file: [`Config`], [`Subscription`] and its parts, and
//! [`ConfigError`], which names the entry and the field that are wrong.

use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::filter::Filter;
use crate::pattern_set::SubscriptionPattern;

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
    /// Shared, not copied, into every result and summary of a delivery to it.
    pub name: Arc<str>,
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
    Function(Arc<str>),
    /// An HTTP endpoint that receives a POST; headers are (name, value) pairs.
    Http {
        url: Arc<str>,
        headers: Vec<(String, String)>,
    },
}

impl Target {
    /// A short description without secrets: the function, or the URL (header values omitted).
    pub fn label(&self) -> String {
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

impl Mode {
    /// `sync` or `async`, as subscriptions write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Sync => "sync",
            Mode::Async => "async",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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

impl Config {
    /// Looks up a subscription or plugin by name.
    pub fn get(&self, name: &str) -> Option<&Subscription> {
        self.subscriptions
            .iter()
            .chain(&self.plugins)
            .find(|s| &*s.name == name)
    }
}

impl Subscription {
    /// The subscription as JSON, as it could be written in a file (header values hidden).
    pub fn summary(&self) -> Value {
        let mut map = Map::new();
        map.insert("name".into(), (*self.name).into());
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
                map.insert("function".into(), (**f).into());
            }
            Target::Http { url, headers } => {
                map.insert("http".into(), (**url).into());
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
