//! Checks of single values in a subscription: Lambda function names, URLs, media types and
//! HTTP headers. Each returns what is wrong in words, without the entry's name (the caller adds
//! it).

use serde_json::{Map, Value};

use crate::json_kind::json_kind;

/// The media type without parameters, lower-cased: the HTTP binding's reading.
pub(super) use crate::binding::media_type;

pub(super) fn is_media_type(content_type: &str) -> bool {
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
pub(super) fn validate_function(function: &str) -> Result<(), String> {
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

pub(super) fn validate_url(url: &str) -> Result<(), String> {
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

/// `headers`: (name, value) pairs; an error is (field, reason), e.g. (`headers.X-Key`, ...).
pub(super) fn parse_headers(
    headers: &Map<String, Value>,
) -> Result<Vec<(String, String)>, (String, String)> {
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
