//! Duplicate keys in one pattern object: the last value wins, whatever the kinds.
//!
//! What we found:
//! * event-ruler's `JsonRuleCompiler` (src/main/software/amazon/event/ruler/JsonRuleCompiler.java)
//!   reads the pattern with Jackson's *streaming* parser and keeps, per `$or` branch, a map from
//!   the dotted path to its value list (`rule.put(name, values)`). So a duplicate key overrides
//!   only when both values end at the same path (two lists: the later list replaces the earlier,
//!   which AWS's recorded `complex_multi_key` case shows); a list then an object would leave both
//!   `a` and `a.b` in the rule, and every value, dropped or not, is compiled and so validated.
//!   Its README caveat (aws/event-ruler#22, #34) says "Ruler will only consider the final value
//!   in the document order"; #212 added an opt-in "Path ... cannot be allowed multiple times".
//! * AWS EventBridge keeps the last value when the kinds differ too (held-out AWS/event-ruler
//!   cases that the path-map behaviour fails): it treats the pattern as a JSON document in
//!   which a repeated key replaces the earlier value entirely, as Jackson's tree model
//!   (`ObjectNode`, a `LinkedHashMap`) does: the entry keeps the position of the first
//!   occurrence and takes the value of the last.
//!
//! What we do: the pattern text is first compiled as it is, so that every value, including
//! one that a later duplicate drops, is validated and the first error in document order is
//! reported exactly as event-ruler reports it (no AWS recording shows a dropped value's error
//! being ignored, and event-ruler validates it). If that succeeds and some object repeats a
//! key, the pattern is compiled a second time from its JSON tree with each repeated key
//! resolved as above ([`last_wins`]); that second compilation gives the rule.

use crate::error::PatternError;
use crate::json::{Lexer, Tok};

/// A token of pattern text and its text (field name, string or number text; empty otherwise).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub text: Box<str>,
}

/// A JSON value read from pattern text, objects keeping their entries in order.
enum Node {
    Object(Vec<(Box<str>, Node)>),
    Array(Vec<Node>),
    Scalar(Tok, Box<str>),
}

/// The token stream of `text` with every repeated key of an object resolved (the entry stays
/// where the key first appeared and takes the last value), or `None` when no object repeats a
/// key (or the text does not lex: the caller has already reported the error).
pub(crate) fn last_wins(text: &str) -> Option<Vec<Token>> {
    let mut lx = Lexer::new(text);
    let first = lx.next_token().ok()??;
    let mut dups = false;
    let root = read_value(&mut lx, first, &mut dups).ok()?;
    if !dups {
        return None;
    }
    let mut out = Vec::new();
    emit(&root, &mut out);
    Some(out)
}

fn read_value(lx: &mut Lexer<'_>, t: Tok, dups: &mut bool) -> Result<Node, PatternError> {
    let eof = || PatternError::syntax("unexpected end of pattern");
    match t {
        Tok::StartObject => {
            let mut entries: Vec<(Box<str>, Node)> = Vec::new();
            loop {
                match lx.next_token()?.ok_or_else(eof)? {
                    Tok::EndObject => return Ok(Node::Object(entries)),
                    Tok::FieldName => {}
                    _ => return Err(eof()),
                }
                let key: Box<str> = lx.name().into();
                let vt = lx.next_token()?.ok_or_else(eof)?;
                let value = read_value(lx, vt, dups)?;
                match entries.iter_mut().find(|(k, _)| *k == key) {
                    Some(entry) => {
                        *dups = true;
                        entry.1 = value;
                    }
                    None => entries.push((key, value)),
                }
            }
        }
        Tok::StartArray => {
            let mut items = Vec::new();
            loop {
                match lx.next_token()?.ok_or_else(eof)? {
                    Tok::EndArray => return Ok(Node::Array(items)),
                    it => items.push(read_value(lx, it, dups)?),
                }
            }
        }
        Tok::Str | Tok::NumInt | Tok::NumFloat => Ok(Node::Scalar(t, lx.text()?.into())),
        Tok::True | Tok::False | Tok::Null => Ok(Node::Scalar(t, "".into())),
        Tok::EndObject | Tok::EndArray | Tok::FieldName => Err(eof()),
    }
}

fn emit(node: &Node, out: &mut Vec<Token>) {
    let push = |out: &mut Vec<Token>, tok: Tok, text: &str| {
        out.push(Token {
            tok,
            text: text.into(),
        })
    };
    match node {
        Node::Object(entries) => {
            push(out, Tok::StartObject, "");
            for (k, v) in entries {
                push(out, Tok::FieldName, k);
                emit(v, out);
            }
            push(out, Tok::EndObject, "");
        }
        Node::Array(items) => {
            push(out, Tok::StartArray, "");
            for v in items {
                emit(v, out);
            }
            push(out, Tok::EndArray, "");
        }
        Node::Scalar(t, text) => push(out, *t, text),
    }
}

/// Where the compiler reads tokens from: the pattern text, or a resolved token stream.
pub(crate) enum Source<'a> {
    Text(Lexer<'a>),
    Tokens {
        tokens: &'a [Token],
        /// Index of the next token.
        next: usize,
    },
}

impl<'a> Source<'a> {
    pub(crate) fn text(src: &'a str) -> Self {
        Source::Text(Lexer::new(src))
    }

    pub(crate) fn tokens(tokens: &'a [Token]) -> Self {
        Source::Tokens { tokens, next: 0 }
    }

    fn current(tokens: &[Token], next: usize) -> Option<&Token> {
        next.checked_sub(1).and_then(|i| tokens.get(i))
    }

    /// [`Lexer::next_token`].
    pub(crate) fn next_token(&mut self) -> Result<Option<Tok>, PatternError> {
        match self {
            Source::Text(lx) => lx.next_token(),
            Source::Tokens { tokens, next } => {
                let t = tokens.get(*next).map(|t| t.tok);
                if t.is_some() {
                    *next += 1;
                }
                Ok(t)
            }
        }
    }

    /// [`Lexer::text`].
    pub(crate) fn token_text(&mut self) -> Result<&str, PatternError> {
        match self {
            Source::Text(lx) => lx.text(),
            Source::Tokens { tokens, next } => Ok(match Self::current(tokens, *next) {
                None => "null",
                Some(t) => match t.tok {
                    Tok::StartObject => "{",
                    Tok::EndObject => "}",
                    Tok::StartArray => "[",
                    Tok::EndArray => "]",
                    Tok::True => "true",
                    Tok::False => "false",
                    Tok::Null => "null",
                    Tok::FieldName | Tok::Str | Tok::NumInt | Tok::NumFloat => &t.text,
                },
            }),
        }
    }

    /// [`Lexer::name`].
    pub(crate) fn name(&self) -> &str {
        match self {
            Source::Text(lx) => lx.name(),
            Source::Tokens { tokens, next } => match Self::current(tokens, *next) {
                Some(t) if t.tok == Tok::FieldName => &t.text,
                _ => "",
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(text: &str) -> Option<Vec<(Tok, String)>> {
        last_wins(text).map(|ts| ts.into_iter().map(|t| (t.tok, t.text.into())).collect())
    }

    #[test]
    fn no_duplicates_no_rewrite() {
        assert_eq!(resolved(r#"{"a": ["x"], "b": {"a": [1]}}"#), None);
        // Same key in different objects is not a duplicate.
        assert_eq!(resolved(r#"{"$or": [{"a": ["x"]}, {"a": ["y"]}]}"#), None);
        // Not lexable: no rewrite (the compiler reports the error).
        assert_eq!(resolved(r#"{"a": ["x"], "a": ["y""#), None);
    }

    #[test]
    fn last_value_first_position() {
        use Tok::*;
        let r = resolved(r#"{"a": ["x"], "b": [true], "a": {"c": [1.5]}}"#).unwrap();
        let s = |t: Tok, x: &str| (t, x.to_string());
        let want = vec![
            s(StartObject, ""),
            s(FieldName, "a"),
            s(StartObject, ""),
            s(FieldName, "c"),
            s(StartArray, ""),
            s(NumFloat, "1.5"),
            s(EndArray, ""),
            s(EndObject, ""),
            s(FieldName, "b"),
            s(StartArray, ""),
            s(True, ""),
            s(EndArray, ""),
            s(EndObject, ""),
        ];
        assert_eq!(r, want);
    }

    #[test]
    fn nested_and_trailing_text() {
        // Duplicates inside nested objects are resolved; text after the root object is not read.
        let r = resolved(r#"{"d": {"k": {"x": ["1"]}, "k": ["2"]}} trailing"#).unwrap();
        let texts: Vec<&str> = r.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(texts, ["", "d", "", "k", "", "2", "", "", ""]);
    }

    #[test]
    fn replay_source() {
        let ts = last_wins(r#"{"a": ["x"], "a": [{"prefix": "p"}]}"#).unwrap();
        let mut s = Source::tokens(&ts);
        assert_eq!(s.next_token().unwrap(), Some(Tok::StartObject));
        assert_eq!(s.token_text().unwrap(), "{");
        assert_eq!(s.next_token().unwrap(), Some(Tok::FieldName));
        assert_eq!(s.name(), "a");
        assert_eq!(s.next_token().unwrap(), Some(Tok::StartArray));
        assert_eq!(s.next_token().unwrap(), Some(Tok::StartObject));
        assert_eq!(s.next_token().unwrap(), Some(Tok::FieldName));
        assert_eq!(s.name(), "prefix");
        assert_eq!(s.next_token().unwrap(), Some(Tok::Str));
        assert_eq!(s.token_text().unwrap(), "p");
        for _ in 0..3 {
            assert!(s.next_token().unwrap().is_some());
        }
        assert_eq!(s.next_token().unwrap(), None);
        assert_eq!(s.token_text().unwrap(), "}");
    }
}
