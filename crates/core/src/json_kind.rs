//! The kind of a JSON value in words ("a number", "an empty string"), for error messages that
//! say what was found where something else was expected.

use serde_json::Value;

/// `value`'s kind with its article, e.g. `an object`; `null` for null.
pub(crate) fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(text) if text.is_empty() => "an empty string",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
