//! JSON text written straight into a byte buffer, byte for byte as `serde_json` prints it
//! (compact, the same string escapes, the same numbers), with the keys of every object sorted.
//!
//! Rendering an event is on the router's and the driver's per-event path. Through serde, each
//! key and each string is a chain of calls and small writes; here a string without anything to
//! escape, the usual case, is one copy.

use serde::ser::{Error as _, SerializeStruct};
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::Value;

/// Appends `s` as a JSON string: quoted, with serde_json's escapes (`\"`, `\\`, `\b`, `\t`,
/// `\n`, `\f`, `\r`, and `\u00XX` for the other control characters; nothing else).
pub fn push_str(out: &mut Vec<u8>, s: &str) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    push_escaped(out, s);
    out.push(b'"');
}

/// Appends `s` escaped as [`push_str`] escapes it, without the quotes: the inside of a JSON
/// string.
pub fn push_escaped(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        if needs_escape(byte) {
            out.extend_from_slice(&bytes[start..i]);
            push_escape(out, byte);
            start = i + 1;
        }
    }
    out.extend_from_slice(&bytes[start..]);
}

fn needs_escape(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\'
}

fn push_escape(out: &mut Vec<u8>, byte: u8) {
    let short = match byte {
        b'"' => b'"',
        b'\\' => b'\\',
        0x08 => b'b',
        0x09 => b't',
        0x0A => b'n',
        0x0C => b'f',
        0x0D => b'r',
        _ => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(byte >> 4)]);
            out.push(HEX[usize::from(byte & 0xF)]);
            return;
        }
    };
    out.extend_from_slice(&[b'\\', short]);
}

/// Appends `value` compact, with the keys of every object sorted (by code point), as
/// [`crate::names::canonical_json`] defines it.
///
/// Recursion follows the value's nesting; values parsed by `serde_json` are at most 128 deep.
pub fn push_canonical(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => push_serde(out, n),
        Value::String(s) => push_str(out, s),
        Value::Array(items) => push_array(out, items, push_canonical),
        // serde_json's map iterates in key order unless its `preserve_order` feature is on
        // somewhere in the build; only then is there anything to sort.
        Value::Object(object) if maps_keep_keys_sorted() || object.keys().is_sorted() => {
            push_object(out, object.iter())
        }
        Value::Object(object) => {
            let mut entries: Vec<_> = object.iter().collect();
            entries.sort_unstable_by_key(|&(key, _)| key);
            push_object(out, entries.into_iter())
        }
    }
}

/// Appends a JSON array of `items`, each written by `push`.
pub fn push_array<T>(
    out: &mut Vec<u8>,
    items: impl IntoIterator<Item = T>,
    mut push: impl FnMut(&mut Vec<u8>, T),
) {
    out.push(b'[');
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push(out, item);
    }
    out.push(b']');
}

fn push_object<'a>(out: &mut Vec<u8>, entries: impl Iterator<Item = (&'a String, &'a Value)>) {
    out.push(b'{');
    for (i, (key, value)) in entries.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_str(out, key);
        out.push(b':');
        push_canonical(out, value);
    }
    out.push(b'}');
}

/// Appends `n` as serde_json prints an integer.
pub fn push_uint(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// Appends what serde_json prints for `value` (numbers: its integer and float formatting).
pub fn push_serde(out: &mut Vec<u8>, value: &impl serde::Serialize) {
    serde_json::to_writer(&mut *out, value).expect("a number or string writes to a Vec");
}

/// Whether every `serde_json::Map` of this build iterates in key order (a `BTreeMap`): true
/// unless serde_json's `preserve_order` feature is on somewhere in the build. Found out once, by
/// asking a map, since a feature of another crate can't be read at compile time.
fn maps_keep_keys_sorted() -> bool {
    static SORTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SORTED.get_or_init(|| {
        let mut map = serde_json::Map::new();
        map.insert("b".into(), Value::Null);
        map.insert("a".into(), Value::Null);
        map.keys().is_sorted()
    })
}

/// Text written with this module's functions that serializes as itself: serde_json writes it
/// unchanged, and `serde_json::to_value` parses it. The router's answer is written this way and
/// handed to the Lambda runtime, which serializes it with serde_json.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonText(String);

impl JsonText {
    /// Text made by `write` into an empty buffer; it must be one whole JSON value.
    pub fn written(capacity: usize, write: impl FnOnce(&mut Vec<u8>)) -> Self {
        let mut out = Vec::with_capacity(capacity);
        write(&mut out);
        JsonText(String::from_utf8(out).expect("JSON text is UTF-8"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    /// The text as a JSON value.
    pub fn to_value(&self) -> Value {
        serde_json::from_str(&self.0).expect("JSON text is one valid JSON value")
    }
}

/// The name by which serde_json's serializers recognise a `RawValue`: a struct of this name
/// with one field of this name, a string, is written as that string's text. It is how
/// `RawValue` serializes itself; [`raw_passes_through`] checks that it still works, and
/// without it the text is parsed into a `RawValue`, slower but the same output.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

fn serialize_as_raw<S: Serializer>(text: &str, serializer: S) -> Result<S::Ok, S::Error> {
    let mut raw = serializer.serialize_struct(RAW_VALUE_TOKEN, 1)?;
    raw.serialize_field(RAW_VALUE_TOKEN, text)?;
    raw.end()
}

/// Whether serde_json writes text marked with [`RAW_VALUE_TOKEN`] unchanged (asked once).
fn raw_passes_through() -> bool {
    struct Probe;
    impl Serialize for Probe {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serialize_as_raw("[1,{\"a\":2}]", serializer)
        }
    }
    static PASSES: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *PASSES.get_or_init(|| {
        serde_json::to_string(&Probe).is_ok_and(|text| text == "[1,{\"a\":2}]")
            && serde_json::to_value(&Probe).is_ok_and(|v| v == serde_json::json!([1, {"a": 2}]))
    })
}

impl Serialize for JsonText {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if raw_passes_through() {
            serialize_as_raw(&self.0, serializer)
        } else {
            serialize_parsed(&self.0, serializer)
        }
    }
}

/// The slow way, through serde_json's public API: the text checked and kept as a `RawValue`.
fn serialize_parsed<S: Serializer>(text: &str, serializer: S) -> Result<S::Ok, S::Error> {
    RawValue::from_string(text.to_owned())
        .map_err(S::Error::custom)?
        .serialize(serializer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn text(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8(out).expect("JSON text is UTF-8")
    }

    /// Every ASCII byte, alone and at each position of a longer string, and non-ASCII text,
    /// escape exactly as serde_json escapes them.
    #[test]
    fn strings_escape_as_serde_json_escapes_them() {
        let mut cases: Vec<String> = vec![
            String::new(),
            "plain".into(),
            "grüße, 日本, 🦀".into(),
            "\u{7f}\u{80}\u{2028}".into(),
            "a\"b\\c/d".into(),
        ];
        for byte in 0u8..0x80 {
            let c = char::from(byte);
            cases.push(c.to_string());
            for at in [0, 3, 7, 8, 9, 15, 16, 22] {
                let mut s = "x".repeat(23);
                s.replace_range(at..at + 1, &c.to_string());
                cases.push(s);
            }
        }
        for s in &cases {
            assert_eq!(
                text(|out| push_str(out, s)),
                serde_json::to_string(s).unwrap(),
                "{s:?}"
            );
        }
    }

    #[test]
    fn values_print_as_serde_json_prints_them_with_sorted_keys() {
        let value = json!({
            "z": [1, -2, 3.5, 1e300, 0.1, u64::MAX, i64::MIN, null, true, false],
            "a": {"y": "\n", "b": {"d": [], "c": {}}},
            "m": "é\"\u{1}",
        });
        assert_eq!(
            text(|out| push_canonical(out, &value)),
            serde_json::to_string(&value).unwrap()
        );
        assert_eq!(
            text(|out| push_canonical(out, &value)),
            r#"{"a":{"b":{"c":{},"d":[]},"y":"\n"},"m":"é\"\u0001","z":[1,-2,3.5,1e+300,0.1,18446744073709551615,-9223372036854775808,null,true,false]}"#
        );
    }

    /// serde_json writes the text unchanged, in a value or on its own, and `to_value` parses it.
    #[test]
    fn json_text_serializes_as_itself() {
        assert!(
            raw_passes_through(),
            "serde_json no longer passes raw text through"
        );
        let text = JsonText::written(8, |out| {
            out.push(b'{');
            push_str(out, "k\n");
            out.push(b':');
            push_uint(out, u64::MAX);
            out.push(b'}');
        });
        assert_eq!(text.as_str(), "{\"k\\n\":18446744073709551615}");
        assert_eq!(serde_json::to_string(&text).unwrap(), text.as_str());
        assert_eq!(
            serde_json::to_string(&serde_json::json!({"a": [text.to_value()]})).unwrap(),
            serde_json::to_string(
                &vec![("a", vec![&text])]
                    .into_iter()
                    .collect::<std::collections::BTreeMap<_, _>>()
            )
            .unwrap()
        );
        assert_eq!(serde_json::to_value(&text).unwrap(), text.to_value());
        assert_eq!(text.to_value(), serde_json::json!({"k\n": u64::MAX}));
        // The way taken if serde_json stopped passing the text through gives the same.
        struct Parsed<'a>(&'a JsonText);
        impl Serialize for Parsed<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serialize_parsed(self.0.as_str(), serializer)
            }
        }
        assert_eq!(
            serde_json::to_string(&Parsed(&text)).unwrap(),
            text.as_str()
        );
        assert_eq!(
            serde_json::to_value(Parsed(&text)).unwrap(),
            text.to_value()
        );
    }
}
