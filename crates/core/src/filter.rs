//! CloudEvents Subscriptions API filter expressions: the six mandatory dialects `exact`,
//! `prefix`, `suffix`, `all`, `any` and `not`, over context attributes and extensions.
//!
//! A filter is written as in the Subscriptions API spec, one dialect per object:
//!
//! ```json
//! [ { "prefix": { "type": "com.example." } },
//!   { "any": [ { "exact": { "subject": "order/1" } }, { "suffix": { "source": "/eu" } } ] },
//!   { "not": { "exact": { "tenant": "test" } } } ]
//! ```
//!
//! Semantics (from the spec):
//! - `exact` / `prefix` / `suffix` map attribute names to strings; the expression is true when
//!   every named attribute is present and its value equals / starts with / ends with the string
//!   (case sensitive). Names and values must be non-empty. An absent attribute makes it false.
//! - `all` holds a non-empty array of expressions, all of which must be true; `any` a non-empty
//!   array of which at least one must be true; `not` one expression, inverted.
//! - A subscription's `filters` array is an implicit `all`.
//!
//! Attribute values are compared in their string form as they appear in the structured JSON
//! rendering ([`crate::structured::to_structured_json`]): strings as they are, booleans as
//! `true`/`false`, integers in decimal, `time` as rendered there. `data` is not an attribute;
//! use a subscription `pattern` to match on data. The optional `sql` dialect is not supported
//! and is rejected with an error that says so.

use std::fmt;

use serde_json::{Map, Value};

use crate::json_kind::json_kind;

/// One filter expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// Every attribute equals its value.
    Exact(Vec<(String, String)>),
    /// Every attribute starts with its value.
    Prefix(Vec<(String, String)>),
    /// Every attribute ends with its value.
    Suffix(Vec<(String, String)>),
    /// Every nested expression is true.
    All(Vec<Filter>),
    /// At least one nested expression is true.
    Any(Vec<Filter>),
    /// The nested expression is false.
    Not(Box<Filter>),
}

/// A filter expression that breaks the Subscriptions API rules. `path` locates it in the
/// subscription, e.g. `filters[1].any[0].exact`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct FilterError {
    pub path: String,
    pub reason: String,
}

const DIALECTS: &str = "exact, prefix, suffix, all, any or not";

impl Filter {
    /// Parses one expression; `path` names where it sits, for errors.
    pub fn parse(value: &Value, path: &str) -> Result<Filter, FilterError> {
        let err = |path: String, reason: String| FilterError { path, reason };
        let map = value.as_object().ok_or_else(|| {
            err(
                path.to_owned(),
                format!(
                    "a filter must be an object with one dialect key ({DIALECTS}), e.g. \
                     {{\"exact\": {{\"type\": \"com.example.created\"}}}}; got {}",
                    json_kind(value)
                ),
            )
        })?;
        let mut entries = map.iter();
        let (dialect, body) = match (entries.next(), entries.next()) {
            (Some(entry), None) => entry,
            (None, _) => {
                return Err(err(
                    path.to_owned(),
                    format!("a filter needs one dialect key ({DIALECTS}); got an empty object"),
                ))
            }
            (Some(_), Some(_)) => {
                let keys: Vec<&str> = map.keys().map(String::as_str).collect();
                return Err(err(
                    path.to_owned(),
                    format!(
                        "a filter has exactly one dialect key; got {keys:?}: combine \
                         expressions with {{\"all\": [...]}} or {{\"any\": [...]}}"
                    ),
                ));
            }
        };
        let here = format!("{path}.{dialect}");
        match dialect.as_str() {
            "exact" => Ok(Filter::Exact(pairs(body, &here)?)),
            "prefix" => Ok(Filter::Prefix(pairs(body, &here)?)),
            "suffix" => Ok(Filter::Suffix(pairs(body, &here)?)),
            "all" => Ok(Filter::All(list(body, &here)?)),
            "any" => Ok(Filter::Any(list(body, &here)?)),
            "not" => Ok(Filter::Not(Box::new(Filter::parse(body, &here)?))),
            "sql" => Err(err(
                here,
                "the sql dialect (CloudEvents SQL) is not supported: use exact, prefix, \
                 suffix, all, any and not, or a subscription pattern"
                    .into(),
            )),
            other => Err(err(
                path.to_owned(),
                format!("unknown filter dialect {other:?}: use {DIALECTS}"),
            )),
        }
    }

    /// Parses a subscription's `filters` array.
    pub fn parse_list(value: &Value, path: &str) -> Result<Vec<Filter>, FilterError> {
        match value {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| Filter::parse(item, &format!("{path}[{i}]")))
                .collect(),
            other => Err(FilterError {
                path: path.to_owned(),
                reason: format!(
                    "must be an array of filter expressions, e.g. \
                     [{{\"prefix\": {{\"type\": \"com.example.\"}}}}]; got {}",
                    json_kind(other)
                ),
            }),
        }
    }

    /// Evaluates the expression against an event's attributes: the top level of its structured
    /// JSON form (`data` and `data_base64` are ignored).
    pub fn matches(&self, attributes: &Map<String, Value>) -> bool {
        self.matches_with(&|name: &str| attribute_text(attributes, name))
    }

    /// [`Filter::matches`] with the attributes read through `attribute` (name -> text, as
    /// [`attribute_text`] gives it), so the caller need not build a map.
    pub fn matches_with<'a, F>(&self, attribute: &F) -> bool
    where
        F: Fn(&str) -> Option<std::borrow::Cow<'a, str>>,
    {
        match self {
            Filter::Exact(pairs) => all_pairs(pairs, attribute, |a, v| a == v),
            Filter::Prefix(pairs) => all_pairs(pairs, attribute, |a, v| a.starts_with(v)),
            Filter::Suffix(pairs) => all_pairs(pairs, attribute, |a, v| a.ends_with(v)),
            Filter::All(items) => items.iter().all(|f| f.matches_with(attribute)),
            Filter::Any(items) => items.iter().any(|f| f.matches_with(attribute)),
            Filter::Not(inner) => !inner.matches_with(attribute),
        }
    }

    /// The expression as JSON, as it would be written in a subscription.
    pub fn to_json(&self) -> Value {
        let pairs_json = |pairs: &[(String, String)]| {
            Value::Object(
                pairs
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
            )
        };
        let (key, body) = match self {
            Filter::Exact(p) => ("exact", pairs_json(p)),
            Filter::Prefix(p) => ("prefix", pairs_json(p)),
            Filter::Suffix(p) => ("suffix", pairs_json(p)),
            Filter::All(items) => ("all", items.iter().map(Filter::to_json).collect()),
            Filter::Any(items) => ("any", items.iter().map(Filter::to_json).collect()),
            Filter::Not(inner) => ("not", inner.to_json()),
        };
        let mut map = Map::new();
        map.insert(key.to_owned(), body);
        Value::Object(map)
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_json())
    }
}

/// The string form of attribute `name`, if the event has it.
pub fn attribute_text<'a>(
    attributes: &'a Map<String, Value>,
    name: &str,
) -> Option<std::borrow::Cow<'a, str>> {
    if name == "data" || name == "data_base64" {
        return None;
    }
    match attributes.get(name)? {
        Value::String(s) => Some(std::borrow::Cow::Borrowed(s)),
        Value::Bool(b) => Some(std::borrow::Cow::Owned(b.to_string())),
        Value::Number(n) => Some(std::borrow::Cow::Owned(n.to_string())),
        _ => None,
    }
}

fn all_pairs<'a>(
    pairs: &[(String, String)],
    attribute: &impl Fn(&str) -> Option<std::borrow::Cow<'a, str>>,
    test: impl Fn(&str, &str) -> bool,
) -> bool {
    pairs
        .iter()
        .all(|(name, value)| attribute(name).is_some_and(|actual| test(&actual, value)))
}

fn pairs(body: &Value, path: &str) -> Result<Vec<(String, String)>, FilterError> {
    let err = |reason: String| FilterError {
        path: path.to_owned(),
        reason,
    };
    let map = body.as_object().ok_or_else(|| {
        err(format!(
            "must map attribute names to strings, e.g. {{\"type\": \"com.example.created\"}}; \
             got {}",
            json_kind(body)
        ))
    })?;
    if map.is_empty() {
        return Err(err(
            "must name at least one attribute, e.g. {\"type\": \"com.example.created\"}".into(),
        ));
    }
    map.iter()
        .map(|(name, value)| {
            if name.is_empty() {
                return Err(err("attribute names must not be empty".into()));
            }
            if !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            {
                return Err(err(format!(
                    "attribute name {name:?} is not a CloudEvents attribute name: use only \
                     a-z and 0-9 (e.g. type, source, subject, or an extension like tenant)"
                )));
            }
            if name == "data" || name == "data_base64" {
                return Err(err(format!(
                    "{name:?} is not a context attribute: filters match attributes and \
                     extensions; use a subscription pattern to match on data"
                )));
            }
            match value {
                Value::String(text) if !text.is_empty() => Ok((name.clone(), text.clone())),
                Value::String(_) => Err(err(format!(
                    "the value for {name:?} must be a non-empty string"
                ))),
                other => Err(err(format!(
                    "the value for {name:?} must be a string (compare booleans and integers \
                     as \"true\" or \"42\"); got {}",
                    json_kind(other)
                ))),
            }
        })
        .collect()
}

fn list(body: &Value, path: &str) -> Result<Vec<Filter>, FilterError> {
    match body {
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .enumerate()
            .map(|(i, item)| Filter::parse(item, &format!("{path}[{i}]")))
            .collect(),
        Value::Array(_) => Err(FilterError {
            path: path.to_owned(),
            reason: "must hold at least one filter expression".into(),
        }),
        other => Err(FilterError {
            path: path.to_owned(),
            reason: format!(
                "must be an array of filter expressions; got {}",
                json_kind(other)
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attrs() -> Map<String, Value> {
        json!({
            "specversion": "1.0",
            "id": "42",
            "source": "/shop/eu",
            "type": "com.example.order.created",
            "subject": "order/42",
            "time": "2024-05-01T10:00:00Z",
            "tenant": "acme",
            "priority": 3,
            "urgent": true,
            "data": {"type": "com.example.order.created", "tenant": "other"}
        })
        .as_object()
        .unwrap()
        .clone()
    }

    fn parse(value: Value) -> Filter {
        Filter::parse(&value, "filters[0]").unwrap()
    }

    #[test]
    fn dialects_evaluate_as_the_spec_says() {
        let a = attrs();
        let cases = [
            (
                json!({"exact": {"type": "com.example.order.created"}}),
                true,
            ),
            (json!({"exact": {"type": "com.example.order"}}), false),
            (
                json!({"exact": {"type": "COM.EXAMPLE.ORDER.CREATED"}}),
                false,
            ),
            (
                json!({"exact": {"type": "com.example.order.created", "tenant": "acme"}}),
                true,
            ),
            (
                json!({"exact": {"type": "com.example.order.created", "tenant": "x"}}),
                false,
            ),
            (json!({"exact": {"missing": "x"}}), false),
            (json!({"exact": {"priority": "3"}}), true),
            (json!({"exact": {"urgent": "true"}}), true),
            (json!({"exact": {"time": "2024-05-01T10:00:00Z"}}), true),
            (json!({"prefix": {"type": "com.example."}}), true),
            (json!({"prefix": {"type": "org."}}), false),
            (json!({"prefix": {"missing": "x"}}), false),
            (json!({"suffix": {"source": "/eu"}}), true),
            (json!({"suffix": {"source": "/us"}}), false),
            (
                json!({"all": [{"prefix": {"type": "com."}}, {"suffix": {"subject": "/42"}}]}),
                true,
            ),
            (
                json!({"all": [{"prefix": {"type": "com."}}, {"suffix": {"subject": "/43"}}]}),
                false,
            ),
            (
                json!({"any": [{"exact": {"tenant": "x"}}, {"exact": {"tenant": "acme"}}]}),
                true,
            ),
            (
                json!({"any": [{"exact": {"tenant": "x"}}, {"exact": {"tenant": "y"}}]}),
                false,
            ),
            (json!({"not": {"exact": {"tenant": "acme"}}}), false),
            (json!({"not": {"exact": {"missing": "acme"}}}), true),
            (
                json!({"not": {"any": [{"exact": {"tenant": "x"}}, {"not": {"prefix": {"id": "4"}}}]}}),
                true,
            ),
        ];
        for (filter, expected) in cases {
            assert_eq!(parse(filter.clone()).matches(&a), expected, "{filter}");
        }
    }

    #[test]
    fn data_is_not_an_attribute() {
        let mut a = attrs();
        a.remove("tenant");
        // `data.tenant` must not be mistaken for an extension.
        assert!(!parse(json!({"exact": {"tenant": "other"}})).matches(&a));
        assert_eq!(attribute_text(&a, "data"), None);
    }

    #[test]
    fn errors_name_the_path_and_the_rule() {
        let cases = [
            (
                json!("exact"),
                "filters[0]",
                "must be an object with one dialect key",
            ),
            (json!({}), "filters[0]", "needs one dialect key"),
            (
                json!({"exact": {"type": "a"}, "prefix": {"type": "b"}}),
                "filters[0]",
                "exactly one dialect key",
            ),
            (
                json!({"regex": {"type": "a"}}),
                "filters[0]",
                "unknown filter dialect \"regex\"",
            ),
            (
                json!({"sql": "type = 'a'"}),
                "filters[0].sql",
                "sql dialect",
            ),
            (
                json!({"exact": "a"}),
                "filters[0].exact",
                "must map attribute names to strings",
            ),
            (
                json!({"exact": {}}),
                "filters[0].exact",
                "at least one attribute",
            ),
            (
                json!({"exact": {"": "a"}}),
                "filters[0].exact",
                "must not be empty",
            ),
            (
                json!({"exact": {"Type": "a"}}),
                "filters[0].exact",
                "\"Type\" is not a CloudEvents",
            ),
            (
                json!({"exact": {"data": "a"}}),
                "filters[0].exact",
                "use a subscription pattern",
            ),
            (
                json!({"prefix": {"type": ""}}),
                "filters[0].prefix",
                "non-empty string",
            ),
            (
                json!({"suffix": {"priority": 3}}),
                "filters[0].suffix",
                "must be a string",
            ),
            (
                json!({"all": []}),
                "filters[0].all",
                "at least one filter expression",
            ),
            (json!({"any": {}}), "filters[0].any", "must be an array"),
            (
                json!({"any": [{"exact": {"type": "a"}}, {"not": {"prefix": {"x": 1}}}]}),
                "filters[0].any[1].not.prefix",
                "must be a string",
            ),
        ];
        for (filter, path, reason) in cases {
            let err = Filter::parse(&filter, "filters[0]").unwrap_err();
            assert_eq!(err.path, path, "{filter}");
            assert!(err.reason.contains(reason), "{filter}: {err}");
        }
        let err = Filter::parse_list(&json!({"exact": {}}), "filters").unwrap_err();
        assert_eq!(err.path, "filters");
        assert!(err.reason.contains("must be an array"));
    }

    #[test]
    fn to_json_round_trips() {
        let value = json!({"all": [
            {"exact": {"type": "a", "tenant": "b"}},
            {"any": [{"prefix": {"source": "/x"}}, {"not": {"suffix": {"subject": "y"}}}]}
        ]});
        let filter = parse(value.clone());
        assert_eq!(filter.to_json(), value);
        assert_eq!(parse(filter.to_json()), filter);
    }
}
