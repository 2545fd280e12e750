//! Deterministic, valid AWS resource names.
//!
//! EventBridge rule names and target Ids share one alphabet (`[.\-_A-Za-z0-9]+`) and a limit of
//! 64 characters. [`rule_name`] and [`target_id`] derive a name from a prefix and some content
//! (a pattern's [`canonical_json`] or a schedule expression) as `{prefix}-{hash}`, where `hash`
//! is 8 hex digits of FNV-1a 64 over the prefix and the content: the same inputs give the same
//! name on every platform and Rust version.

use serde_json::Value;
use std::fmt;
use std::str::FromStr;

/// Longest EventBridge rule name or target Id.
pub const MAX_NAME_LEN: usize = 64;
/// Longest [`InstanceId`].
pub const MAX_INSTANCE_ID_LEN: usize = 40;

/// Hex digits of the content hash in a derived name.
const HASH_LEN: usize = 8;

/// A name, id or prefix that breaks its AWS (or eventferry) naming rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {value:?}: {problem}; use {rule}")]
pub struct NameError {
    what: &'static str,
    value: String,
    problem: String,
    rule: String,
}

/// A naming rule: what is named, its alphabet and its length limit.
struct Rule {
    what: &'static str,
    max: Option<usize>,
    alphabet: &'static str,
    allowed: fn(char) -> bool,
}

impl Rule {
    fn check(&self, value: &str) -> Result<(), NameError> {
        let problem = if value.is_empty() {
            "it is empty".to_owned()
        } else if let Some(bad) = value.chars().find(|&c| !(self.allowed)(c)) {
            format!("it contains {bad:?}")
        } else {
            match self.max {
                Some(max) if value.len() > max => format!("it is {} characters long", value.len()),
                _ => return Ok(()),
            }
        };
        let rule = match self.max {
            Some(max) => format!("1-{max} characters from {}", self.alphabet),
            None => format!("one or more characters from {}", self.alphabet),
        };
        Err(NameError {
            what: self.what,
            value: value.to_owned(),
            problem,
            rule,
        })
    }
}

fn is_aws_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')
}

const AWS_ALPHABET: &str = "A-Z a-z 0-9 . - _";

const RULE_NAME: Rule = Rule {
    what: "rule name",
    max: Some(MAX_NAME_LEN),
    alphabet: AWS_ALPHABET,
    allowed: is_aws_name_char,
};
const RULE_NAME_PREFIX: Rule = Rule {
    what: "rule name prefix",
    max: None,
    ..RULE_NAME
};
const TARGET_ID: Rule = Rule {
    what: "target Id",
    ..RULE_NAME
};
const TARGET_ID_PREFIX: Rule = Rule {
    what: "target Id prefix",
    ..RULE_NAME_PREFIX
};
const INSTANCE_ID: Rule = Rule {
    what: "instance id",
    max: Some(MAX_INSTANCE_ID_LEN),
    alphabet: "a-z 0-9 -",
    allowed: |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-',
};

/// Checks an EventBridge rule name: `[.\-_A-Za-z0-9]+`, at most 64 characters.
pub fn validate_rule_name(name: &str) -> Result<(), NameError> {
    RULE_NAME.check(name)
}

/// Checks an EventBridge target Id: `[.\-_A-Za-z0-9]+`, at most 64 characters.
pub fn validate_target_id(id: &str) -> Result<(), NameError> {
    TARGET_ID.check(id)
}

/// Derives the rule name `{prefix}-{hash}` for `content` (a pattern's [`canonical_json`] or a
/// schedule expression).
///
/// `hash` is 8 lower-case hex digits of FNV-1a 64 over `prefix`, a NUL byte and `content`. A
/// prefix longer than 55 characters is cut so the name fits in 64; because the hash covers the
/// whole prefix, prefixes that differ only after the cut still give different names.
///
/// Errors if `prefix` is empty or uses characters outside `[.\-_A-Za-z0-9]`.
pub fn rule_name(prefix: &str, content: &str) -> Result<String, NameError> {
    RULE_NAME_PREFIX.check(prefix)?;
    Ok(hashed_name(prefix, content))
}

/// Derives the target Id `{prefix}-{hash}` for `content`, by the same scheme as [`rule_name`].
pub fn target_id(prefix: &str, content: &str) -> Result<String, NameError> {
    TARGET_ID_PREFIX.check(prefix)?;
    Ok(hashed_name(prefix, content))
}

/// `prefix` must be ASCII (checked by the callers), so cutting it at a byte index is safe.
fn hashed_name(prefix: &str, content: &str) -> String {
    let hash = fnv1a64([prefix.as_bytes(), &[0], content.as_bytes()]);
    // Fold to 32 bits, as the FNV authors recommend for shorter hashes.
    let folded = (hash >> 32) ^ (hash & 0xffff_ffff);
    let keep = prefix.len().min(MAX_NAME_LEN - HASH_LEN - 1);
    format!("{}-{folded:0HASH_LEN$x}", &prefix[..keep])
}

/// FNV-1a 64 over the concatenation of `chunks`.
fn fnv1a64<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    chunks
        .into_iter()
        .flatten()
        .fold(OFFSET_BASIS, |hash, &byte| {
            (hash ^ u64::from(byte)).wrapping_mul(PRIME)
        })
}

/// Renders `value` as compact JSON with the keys of every object sorted (by code point), so that
/// semantically equal JSON with different key order gives the same text.
///
/// Recursion follows the value's nesting; values parsed by `serde_json` are at most 128 deep.
pub fn canonical_json(value: &Value) -> String {
    let mut out = Vec::new();
    crate::json_text::push_canonical(&mut out, value);
    String::from_utf8(out).expect("JSON text is UTF-8")
}

/// A stable id for one eventferry instance (the owner of the rules it creates):
/// `[a-z0-9-]+`, at most 40 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceId(String);

impl InstanceId {
    /// Checks `id` and wraps it.
    pub fn new(id: &str) -> Result<Self, NameError> {
        INSTANCE_ID.check(id)?;
        Ok(Self(id.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for InstanceId {
    type Err = NameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fnv1a64_matches_reference_vectors() {
        // Vectors from the FNV reference test suite.
        for (input, expected) in [
            ("", 0xcbf2_9ce4_8422_2325),
            ("a", 0xaf63_dc4c_8601_ec8c),
            ("foobar", 0x8594_4171_f739_67e8),
        ] {
            assert_eq!(fnv1a64([input.as_bytes()]), expected, "{input:?}");
        }
        // Chunking does not change the hash.
        assert_eq!(fnv1a64([&b"foo"[..], b"bar"]), fnv1a64([&b"foobar"[..]]));
    }

    #[test]
    fn rule_name_is_prefix_and_stable_hash() {
        let name = rule_name("eventferry-orders", r#"{"source":["aws.s3"]}"#).unwrap();
        // Pinned (checked against an independent FNV-1a implementation): a change here
        // renames every deployed rule.
        assert_eq!(name, "eventferry-orders-8a49f01b");
        assert_eq!(
            name,
            rule_name("eventferry-orders", r#"{"source":["aws.s3"]}"#).unwrap()
        );
        assert_ne!(
            name,
            rule_name("eventferry-orders", r#"{"source":["aws.ec2"]}"#).unwrap()
        );
        validate_rule_name(&name).unwrap();
    }

    #[test]
    fn hash_separates_prefix_from_content() {
        let hash = |prefix, content| {
            rule_name(prefix, content)
                .unwrap()
                .rsplit_once('-')
                .unwrap()
                .1
                .to_owned()
        };
        // Without a separator both would hash "eventferry-abc".
        assert_ne!(hash("eventferry-a", "bc"), hash("eventferry-ab", "c"));
    }

    #[test]
    fn long_prefixes_are_cut_but_stay_distinct() {
        let base = format!("eventferry-{}", "q".repeat(80));
        let a = rule_name(&format!("{base}-prod"), "rate(5 minutes)").unwrap();
        let b = rule_name(&format!("{base}-dev"), "rate(5 minutes)").unwrap();
        for name in [&a, &b] {
            assert_eq!(name.len(), MAX_NAME_LEN);
            assert!(name.starts_with(&base[..55]), "{name}");
            validate_rule_name(name).unwrap();
        }
        assert_ne!(a, b);
    }

    #[test]
    fn target_id_uses_the_same_scheme() {
        let id = target_id("eventferry-orders", "x").unwrap();
        assert_eq!(id, rule_name("eventferry-orders", "x").unwrap());
        validate_target_id(&id).unwrap();
    }

    #[test]
    fn invalid_prefixes_are_rejected_with_the_rule() {
        let err = rule_name("eventferry orders", "x").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid rule name prefix \"eventferry orders\": it contains ' '; \
             use one or more characters from A-Z a-z 0-9 . - _"
        );
        assert!(rule_name("", "x").is_err());
        assert!(target_id("a/b", "x")
            .unwrap_err()
            .to_string()
            .starts_with("invalid target Id prefix \"a/b\": it contains '/'"));
    }

    #[test]
    fn name_validation_table() {
        let long = "a".repeat(65);
        for (name, ok) in [
            ("eventferry-orders-1a2b3c4d", true),
            ("A.b_c-9", true),
            (&long[..64], true),
            (&long[..], false),
            ("", false),
            ("has space", false),
            ("slash/name", false),
            ("ünïcode", false),
        ] {
            assert_eq!(validate_rule_name(name).is_ok(), ok, "rule name {name:?}");
            assert_eq!(validate_target_id(name).is_ok(), ok, "target id {name:?}");
        }
        assert_eq!(
            validate_rule_name(&long).unwrap_err().to_string(),
            format!(
                "invalid rule name {long:?}: it is 65 characters long; \
                 use 1-64 characters from A-Z a-z 0-9 . - _"
            )
        );
    }

    #[test]
    fn instance_id_table() {
        let long = "a".repeat(41);
        for (id, ok) in [
            ("prod-eu-1", true),
            ("0", true),
            (&long[..40], true),
            (&long[..], false),
            ("", false),
            ("Prod", false),
            ("prod_1", false),
            ("prod.1", false),
        ] {
            assert_eq!(InstanceId::new(id).is_ok(), ok, "{id:?}");
        }
        let id: InstanceId = "prod-eu-1".parse().unwrap();
        assert_eq!(
            (id.as_str(), id.to_string().as_str()),
            ("prod-eu-1", "prod-eu-1")
        );
        assert_eq!(
            InstanceId::new("Prod").unwrap_err().to_string(),
            "invalid instance id \"Prod\": it contains 'P'; use 1-40 characters from a-z 0-9 -"
        );
    }

    #[test]
    fn canonical_json_sorts_keys_recursively() {
        let a = json!({"source": ["aws.s3"], "detail": {"b": [1, {"z": 1, "y": 2}], "a": "x"}});
        let b: Value = serde_json::from_str(
            r#"{"detail":{"a":"x","b":[1,{"y":2,"z":1}]},"source":["aws.s3"]}"#,
        )
        .unwrap();
        assert_eq!(canonical_json(&a), canonical_json(&b));
        assert_eq!(
            canonical_json(&a),
            r#"{"detail":{"a":"x","b":[1,{"y":2,"z":1}]},"source":["aws.s3"]}"#
        );
        // Array order is meaningful and kept.
        assert_ne!(
            canonical_json(&json!([1, 2])),
            canonical_json(&json!([2, 1]))
        );
        assert_eq!(
            rule_name("p", &canonical_json(&a)).unwrap(),
            rule_name("p", &canonical_json(&b)).unwrap()
        );
    }
}
