//! One pass over a message body that decides what [`super::from_sqs_message_verbatim`] needs
//! without building a `serde_json::Value`: whether the body is JSON, whether it is an object, and
//! the top-level members the EventBridge envelope checks read, borrowed from the body.
//!
//! The pass runs serde_json's own parser (`deserialize_any` all the way down), so a body is JSON
//! here exactly when `serde_json::from_str::<Value>` accepts it: the same nesting limit, the same
//! refusal of lone surrogates and of numbers out of range. Only nothing is allocated for the
//! members it skips, and a member read twice keeps the last value, as `Value` does.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// A body that [`scan`] read as JSON. Held on the stack once per message: boxing the members
/// would cost the allocation this pass exists to avoid.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub(super) enum Scanned<'a> {
    /// A JSON object, with the members the mapping reads.
    Object(Members<'a>),
    /// Any other JSON value.
    Other,
}

/// The top-level members the mapping reads (`None`: absent). The last of duplicates wins.
#[derive(Debug, Default)]
pub(super) struct Members<'a> {
    /// A `specversion` member of any type: the body may be a structured CloudEvent.
    pub specversion: bool,
    pub id: Option<Shape<'a>>,
    pub detail_type: Option<Shape<'a>>,
    pub source: Option<Shape<'a>>,
    pub account: Option<Shape<'a>>,
    pub region: Option<Shape<'a>>,
    pub time: Option<Shape<'a>>,
    pub version: Option<Shape<'a>>,
    pub resources: Option<Shape<'a>>,
    pub detail: Option<Shape<'a>>,
}

/// What a member holds, as far as the envelope checks care.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Shape<'a> {
    /// A string (borrowed from the body unless it had escapes).
    Str(Cow<'a, str>),
    /// An object.
    Object,
    /// An array of strings only (possibly empty).
    Strings(Vec<Cow<'a, str>>),
    /// An array holding something else than a string.
    Array,
    /// `null`, a boolean or a number.
    Scalar,
}

/// The visit methods of the values a visitor does not look into (booleans, numbers, `null`), each
/// giving `$value`.
macro_rules! scalars {
    ($value:expr) => {
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
}

/// Reads `body` as JSON; `None` when serde_json would refuse it.
pub(super) fn scan(body: &str) -> Option<Scanned<'_>> {
    serde_json::from_str::<Scanned<'_>>(body).ok()
}

impl<'de> Deserialize<'de> for Scanned<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TopVisitor)
    }
}

struct TopVisitor;

impl<'de> Visitor<'de> for TopVisitor {
    type Value = Scanned<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    scalars!(Scanned::Other);
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Scanned::Other)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        skip_seq(seq).map(|()| Scanned::Other)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut m = Members::default();
        while let Some(key) = map.next_key::<Key>()? {
            let slot = match key {
                Key::SpecVersion => {
                    m.specversion = true;
                    map.next_value::<Skip>()?;
                    continue;
                }
                Key::Other => {
                    map.next_value::<Skip>()?;
                    continue;
                }
                Key::Id => &mut m.id,
                Key::DetailType => &mut m.detail_type,
                Key::Source => &mut m.source,
                Key::Account => &mut m.account,
                Key::Region => &mut m.region,
                Key::Time => &mut m.time,
                Key::Version => &mut m.version,
                Key::Resources => &mut m.resources,
                Key::Detail => &mut m.detail,
            };
            *slot = Some(map.next_value::<Shape<'de>>()?);
        }
        Ok(Scanned::Object(m))
    }
}

/// A top-level member name, matched without allocating.
enum Key {
    SpecVersion,
    Id,
    DetailType,
    Source,
    Account,
    Region,
    Time,
    Version,
    Resources,
    Detail,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl Visitor<'_> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }
    fn visit_str<E>(self, name: &str) -> Result<Key, E> {
        Ok(match name {
            "specversion" => Key::SpecVersion,
            "id" => Key::Id,
            "detail-type" => Key::DetailType,
            "source" => Key::Source,
            "account" => Key::Account,
            "region" => Key::Region,
            "time" => Key::Time,
            "version" => Key::Version,
            "resources" => Key::Resources,
            "detail" => Key::Detail,
            _ => Key::Other,
        })
    }
}

impl<'de> Deserialize<'de> for Shape<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ShapeVisitor)
    }
}

struct ShapeVisitor;

impl<'de> Visitor<'de> for ShapeVisitor {
    type Value = Shape<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    scalars!(Shape::Scalar);
    fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(Shape::Str(Cow::Borrowed(text)))
    }
    fn visit_str<E>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Shape::Str(Cow::Owned(text.to_owned())))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        skip_map(map).map(|()| Shape::Object)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut strings = Vec::new();
        while let Some(item) = seq.next_element::<Shape<'de>>()? {
            match item {
                Shape::Str(text) => strings.push(text),
                _ => return skip_seq(seq).map(|()| Shape::Array),
            }
        }
        Ok(Shape::Strings(strings))
    }
}

/// Any JSON value, parsed (so checked) and dropped.
struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SkipVisitor)
    }
}

struct SkipVisitor;

impl<'de> Visitor<'de> for SkipVisitor {
    type Value = Skip;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    scalars!(Skip);
    fn visit_str<E>(self, _: &str) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Skip, A::Error> {
        skip_map(map).map(|()| Skip)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Skip, A::Error> {
        skip_seq(seq).map(|()| Skip)
    }
}

/// The rest of an object: every key read as a string, as `Value` reads keys.
fn skip_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_key::<SkipKey>()?.is_some() {
        map.next_value::<Skip>()?;
    }
    Ok(())
}

fn skip_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<Skip>()?.is_some() {}
    Ok(())
}

/// A member name, read as `Value` reads one (a string) and dropped.
struct SkipKey;

impl<'de> Deserialize<'de> for SkipKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(SkipVisitor).map(|Skip| SkipKey)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_members_and_skips_the_rest() {
        let body = r#"{"id":"a\"b","x":{"y":[1,{"z":null}]},"detail":{},"resources":["r1","r\u00e9"],
            "version":0,"time":"t","time":"t2","specversion":[1]}"#;
        let Some(Scanned::Object(m)) = scan(body) else {
            panic!("an object")
        };
        assert!(m.specversion);
        assert_eq!(m.id, Some(Shape::Str(Cow::Owned("a\"b".into()))));
        assert!(matches!(m.id, Some(Shape::Str(Cow::Owned(_)))));
        assert_eq!(m.detail, Some(Shape::Object));
        assert_eq!(
            m.resources,
            Some(Shape::Strings(vec!["r1".into(), "ré".into()]))
        );
        assert_eq!(m.version, Some(Shape::Scalar));
        // The last of duplicates, like Value.
        assert_eq!(m.time, Some(Shape::Str("t2".into())));
        assert!(matches!(m.time, Some(Shape::Str(Cow::Borrowed(_)))));
        assert_eq!(m.source, None);
    }

    #[test]
    fn arrays_that_are_not_all_strings() {
        let Some(Scanned::Object(m)) = scan(r#"{"resources":["a",1,"b",[2]],"detail":[]}"#) else {
            panic!("an object")
        };
        assert_eq!(m.resources, Some(Shape::Array));
        assert_eq!(m.detail, Some(Shape::Strings(Vec::new())));
    }

    #[test]
    fn json_exactly_when_value_parses_it() {
        let deep = |n| format!("{}{}", "[".repeat(n), "]".repeat(n));
        let deep_member = |n| format!(r#"{{"detail":{}1{}}}"#, r#"{"a":"#.repeat(n), "}".repeat(n));
        let bodies = [
            String::new(),
            " ".into(),
            "x".into(),
            "{".into(),
            "{}".into(),
            "{} x".into(),
            "{} ".into(),
            "[1,2]".into(),
            "\"s\"".into(),
            "null".into(),
            "1e400".into(),
            r#"{"detail":1e400}"#.into(),
            r#"{"a":-1e400}"#.into(),
            "123456789012345678901234567890".into(),
            r#""\ud800""#.into(),
            r#"{"k":"\udc00"}"#.into(),
            r#"{"\udc00":1}"#.into(),
            r#"{"id":"\ud800"}"#.into(),
            r#"{"resources":["\ud800"]}"#.into(),
            r#""\ud83d\ude00""#.into(),
            "\"a\u{1}b\"".into(),
            r#"{"a":1,"a":2}"#.into(),
            r#"{"a":01}"#.into(),
            r#"{"a":1.}"#.into(),
            r#"{"a":[1,]}"#.into(),
            r#"{"a":1,}"#.into(),
            r#"{1:2}"#.into(),
            "\u{feff}{}".into(),
            deep(127),
            deep(128),
            deep(129),
            deep_member(126),
            deep_member(127),
            deep_member(128),
        ];
        for body in &bodies {
            let value = serde_json::from_str::<serde_json::Value>(body);
            let scanned = scan(body);
            assert_eq!(scanned.is_some(), value.is_ok(), "{body:.80}");
            if let (Some(scanned), Ok(value)) = (scanned, value) {
                assert_eq!(
                    matches!(scanned, Scanned::Object(_)),
                    value.is_object(),
                    "{body:.80}"
                );
            }
        }
    }
}
