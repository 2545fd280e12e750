//! The subscription store's document: the subscriptions file's object form
//! (`{"subscriptions": [...], "plugins": [...]}`) kept as written, plus the edits that
//! `eventferry subscriptions create / delete / apply` make to it. Every edit validates the whole
//! result with [`Config::from_value`], the code the router runs at init and on every refresh,
//! and leaves the document unchanged when the result is invalid. No I/O: where the document
//! lives, and how two writers avoid losing each other's edit, is the caller's business
//! (`eventferry_aws::s3` writes it conditionally on the ETag it read).

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use super::model::{Config, ConfigError, Kind, Subscription, Target};
use super::Format;

/// The stored subscriptions and plugins, entries as written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Document {
    subscriptions: Vec<Value>,
    plugins: Vec<Value>,
}

/// Why an edit was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error(
        "a subscription or plugin named {0:?} already exists: delete it first, or change it \
         with `apply`"
    )]
    Exists(String),
    #[error(
        "no subscription or plugin is named {0:?} (`eventferry subscriptions list` shows them)"
    )]
    Missing(String),
    #[error("{0}")]
    Invalid(#[from] ConfigError),
}

/// One line of `eventferry subscriptions list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub name: String,
    pub kind: Kind,
    /// The types, comma-separated, or `*` for every type.
    pub event_type: String,
    /// `function NAME` or `http URL` (never header values).
    pub target: String,
    pub mode: String,
    /// When it was created, as stored; `-` when unknown.
    pub created: String,
}

/// What `apply` changed, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyReport {
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
    pub unchanged: Vec<String>,
}

impl Document {
    /// Parses and validates a stored document or a subscriptions file (YAML or JSON, a list or
    /// the object form). `origin` names it in errors.
    pub fn parse(
        text: &str,
        format: Format,
        origin: &str,
    ) -> Result<(Document, Config), ConfigError> {
        let value = super::parse_text(text, format, origin)?;
        let config = Config::from_value(&value, origin)?;
        let (subscriptions, plugins) = super::lists(&value, origin)?;
        Ok((
            Document {
                subscriptions,
                plugins,
            },
            config,
        ))
    }

    /// The document as stored: pretty JSON in the object form.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(&json!({
            "subscriptions": self.subscriptions,
            "plugins": self.plugins,
        }))
        .expect("JSON values serialize");
        text.push('\n');
        text
    }

    /// Validates the document as the router will.
    pub fn validate(&self, origin: &str) -> Result<Config, ConfigError> {
        Config::from_value(
            &json!({"subscriptions": self.subscriptions, "plugins": self.plugins}),
            origin,
        )
    }

    /// How many subscriptions and plugins it holds.
    pub fn len(&self) -> (usize, usize) {
        (self.subscriptions.len(), self.plugins.len())
    }

    pub fn is_empty(&self) -> bool {
        self.subscriptions.is_empty() && self.plugins.is_empty()
    }

    /// The entry named `name`, as written.
    pub fn get(&self, name: &str) -> Option<(Kind, &Value)> {
        self.entries().find(|(_, v)| entry_name(v) == Some(name))
    }

    /// Adds `entry` (a subscription or a plugin), stamped with `created` unless it has a
    /// `created` field; the whole document must stay valid.
    pub fn create(
        &mut self,
        kind: Kind,
        mut entry: Value,
        created: &str,
    ) -> Result<Config, EditError> {
        let name = entry_name(&entry).unwrap_or_default().to_owned();
        if !name.is_empty() && self.get(&name).is_some() {
            return Err(EditError::Exists(name));
        }
        if let Some(map) = entry.as_object_mut() {
            map.entry("created").or_insert_with(|| created.into());
        }
        let mut next = self.clone();
        next.list_mut(kind).push(entry);
        let config = next.validate("the new subscription")?;
        *self = next;
        Ok(config)
    }

    /// Removes the entry named `name` and returns it.
    pub fn delete(&mut self, name: &str) -> Result<(Kind, Value), EditError> {
        for kind in [Kind::Subscription, Kind::Plugin] {
            let list = self.list_mut(kind);
            if let Some(i) = list.iter().position(|v| entry_name(v) == Some(name)) {
                return Ok((kind, list.remove(i)));
            }
        }
        Err(EditError::Missing(name.to_owned()))
    }

    /// Replaces the whole document with `desired` (GitOps: the file is the truth). An entry
    /// that keeps its name keeps its `created` stamp unless the file gives one; new entries
    /// get `created`. Says what was added, changed, removed and left alone.
    pub fn apply(&mut self, desired: Document, created: &str) -> ApplyReport {
        let old: HashMap<String, (Kind, Value)> = self
            .entries()
            .filter_map(|(k, v)| Some((entry_name(v)?.to_owned(), (k, v.clone()))))
            .collect();
        let mut report = ApplyReport::default();
        let mut next = desired;
        for kind in [Kind::Subscription, Kind::Plugin] {
            for entry in next.list_mut(kind) {
                let Some(name) = entry_name(entry).map(str::to_owned) else {
                    continue;
                };
                let previous = old.get(&name);
                let stamp = previous
                    .and_then(|(_, v)| v.get("created").cloned())
                    .unwrap_or_else(|| created.into());
                if let Some(map) = entry.as_object_mut() {
                    map.entry("created").or_insert(stamp);
                }
                match previous {
                    None => report.added.push(name),
                    Some((k, v)) if *k == kind && v == entry => report.unchanged.push(name),
                    Some(_) => report.changed.push(name),
                }
            }
        }
        for name in old.keys() {
            if next.get(name).is_none() {
                report.removed.push(name.clone());
            }
        }
        report.removed.sort();
        *self = next;
        report
    }

    /// The rows of `eventferry subscriptions list`, subscriptions first, from the validated
    /// `config` of this document.
    pub fn rows(&self, config: &Config) -> Vec<Row> {
        config
            .subscriptions
            .iter()
            .chain(&config.plugins)
            .map(|sub| {
                let created = self
                    .get(&sub.name)
                    .and_then(|(_, v)| v.get("created"))
                    .and_then(Value::as_str)
                    .unwrap_or("-")
                    .to_owned();
                row(sub, created)
            })
            .collect()
    }

    fn entries(&self) -> impl Iterator<Item = (Kind, &Value)> {
        self.subscriptions
            .iter()
            .map(|v| (Kind::Subscription, v))
            .chain(self.plugins.iter().map(|v| (Kind::Plugin, v)))
    }

    fn list_mut(&mut self, kind: Kind) -> &mut Vec<Value> {
        match kind {
            Kind::Subscription => &mut self.subscriptions,
            Kind::Plugin => &mut self.plugins,
        }
    }
}

/// The `created` stamp of an entry made now: RFC 3339 in UTC, to the second.
pub fn now_stamp() -> String {
    chrono::DateTime::<chrono::Utc>::from(std::time::SystemTime::now())
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn entry_name(entry: &Value) -> Option<&str> {
    entry.get("name").and_then(Value::as_str)
}

fn row(sub: &Subscription, created: String) -> Row {
    Row {
        name: sub.name.to_string(),
        kind: sub.kind,
        event_type: sub
            .types
            .as_ref()
            .map_or_else(|| "*".to_owned(), |t| t.join(",")),
        target: match &sub.target {
            Target::Function(f) => format!("function {f}"),
            Target::Http { url, .. } => format!("http {url}"),
        },
        mode: sub.mode.to_string(),
        created,
    }
}

/// The fields of a new entry, as `eventferry subscriptions create` takes them; JSON-valued
/// fields (`filters`, `pattern`) are already parsed.
#[derive(Debug, Clone, Default)]
pub struct NewEntry {
    pub name: String,
    pub types: Vec<String>,
    pub source: Option<String>,
    pub filters: Option<Value>,
    pub pattern: Option<Value>,
    pub function: Option<String>,
    pub http: Option<String>,
    pub headers: Vec<(String, String)>,
    pub mode: Option<String>,
    pub content_type: Option<String>,
    pub description: Option<String>,
}

impl NewEntry {
    /// The entry as it is stored (validated when it is added to a [`Document`]).
    pub fn to_value(&self) -> Value {
        let mut map = Map::new();
        map.insert("name".into(), self.name.clone().into());
        if !self.types.is_empty() {
            map.insert("types".into(), self.types.clone().into());
        }
        let optional = [
            ("source", self.source.clone().map(Value::from)),
            ("filters", self.filters.clone()),
            ("pattern", self.pattern.clone()),
            ("function", self.function.clone().map(Value::from)),
            ("http", self.http.clone().map(Value::from)),
            ("mode", self.mode.clone().map(Value::from)),
            ("content_type", self.content_type.clone().map(Value::from)),
            ("description", self.description.clone().map(Value::from)),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                map.insert(key.into(), value);
            }
        }
        if !self.headers.is_empty() {
            map.insert(
                "headers".into(),
                self.headers
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::from(v.clone())))
                    .collect::<Map<_, _>>()
                    .into(),
            );
        }
        Value::Object(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2026-12-02T05:00:00Z";

    fn doc(yaml: &str) -> Document {
        Document::parse(yaml, Format::Yaml, "test").unwrap().0
    }

    fn entry(name: &str, ty: &str, function: &str) -> Value {
        NewEntry {
            name: name.into(),
            types: vec![ty.into()],
            function: Some(function.into()),
            ..NewEntry::default()
        }
        .to_value()
    }

    #[test]
    fn create_stamps_validates_and_refuses_a_taken_name() {
        let mut d = Document::default();
        let config = d
            .create(Kind::Subscription, entry("a", "aws.s3", "hello"), NOW)
            .unwrap();
        assert_eq!(config.subscriptions.len(), 1);
        assert_eq!(d.get("a").unwrap().1["created"], NOW);
        assert_eq!(
            d.create(Kind::Subscription, entry("a", "aws.ec2", "x"), NOW)
                .unwrap_err(),
            EditError::Exists("a".into())
        );
        // Invalid: the document is left as it was, and the error names the field.
        let before = d.clone();
        let bad = json!({"name": "b", "function": "f", "mode": "sometimes"});
        let err = d.create(Kind::Subscription, bad, NOW).unwrap_err();
        assert!(err.to_string().contains("\"mode\""), "{err}");
        assert_eq!(d, before);
    }

    #[test]
    fn plugins_are_checked_as_plugins() {
        let mut d = Document::default();
        let err = d
            .create(Kind::Plugin, entry("p", "aws.s3", "gate"), NOW)
            .unwrap_err();
        assert!(err.to_string().contains("system event"), "{err}");
        d.create(
            Kind::Plugin,
            entry("p", "eventferry.event.received", "gate"),
            NOW,
        )
        .unwrap();
        assert_eq!(d.len(), (0, 1));
    }

    #[test]
    fn delete_returns_the_entry_or_names_the_missing_one() {
        let mut d = doc("- {name: a, function: f}\n- {name: b, function: g}");
        assert_eq!(d.delete("a").unwrap().0, Kind::Subscription);
        assert_eq!(d.delete("a"), Err(EditError::Missing("a".into())));
        assert_eq!(d.len(), (1, 0));
    }

    #[test]
    fn apply_keeps_created_of_kept_names_and_reports_changes() {
        let mut d = Document::default();
        d.create(Kind::Subscription, entry("keep", "t", "f"), "earlier")
            .unwrap();
        d.create(Kind::Subscription, entry("edit", "t", "f"), "earlier")
            .unwrap();
        d.create(Kind::Subscription, entry("drop", "t", "f"), "earlier")
            .unwrap();
        let desired = doc(
            "subscriptions:\n  - {name: keep, types: [t], function: f}\n  \
             - {name: edit, types: [u], function: f}\n  - {name: new, function: g}",
        );
        let report = d.apply(desired, NOW);
        assert_eq!(report.added, ["new"]);
        assert_eq!(report.changed, ["edit"]);
        assert_eq!(report.removed, ["drop"]);
        assert_eq!(report.unchanged, ["keep"]);
        assert_eq!(d.get("keep").unwrap().1["created"], "earlier");
        assert_eq!(d.get("edit").unwrap().1["created"], "earlier");
        assert_eq!(d.get("new").unwrap().1["created"], NOW);
    }

    #[test]
    fn stored_json_round_trips_and_rows_describe_targets() {
        let mut d = Document::default();
        let mut a = entry("a", "aws.s3", "hello-py");
        a["mode"] = "async".into();
        d.create(Kind::Subscription, a, NOW).unwrap();
        let hook = NewEntry {
            name: "hook".into(),
            http: Some("https://example.com/in".into()),
            headers: vec![("Authorization".into(), "Bearer secret".into())],
            ..NewEntry::default()
        };
        d.create(Kind::Subscription, hook.to_value(), NOW).unwrap();
        let (back, config) = Document::parse(&d.to_json(), Format::Json, "store").unwrap();
        assert_eq!(back, d);
        let rows = d.rows(&config);
        assert_eq!(rows[0].event_type, "aws.s3");
        assert_eq!(rows[0].target, "function hello-py");
        assert_eq!(rows[0].mode, "async");
        assert_eq!(rows[1].event_type, "*");
        assert_eq!(rows[1].target, "http https://example.com/in");
        assert_eq!(rows[1].mode, "sync");
        assert_eq!(rows[1].created, NOW);
    }
}
