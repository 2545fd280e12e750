//! Compiled value predicates and the leaf values of an event they are tested against.
//!
//! event-ruler compares JSON text: strings keep their quotes (`"abc"`), numbers and literals are
//! bare (`12`, `true`). That is why a prefix never matches a number, why `anything-but` always
//! matches numbers, `null` and booleans when it lists strings, and why a prefix ending in `"`
//! also covers the exact string. The predicates below implement exactly that on decoded values.

use crate::casefold::IcPat;
use crate::ip::{IpBytes, IpRange};
use crate::number::{NumKey, NumRange};
use crate::wildcard::Glob;

/// `true`, `false` or `null`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Lit {
    True,
    False,
    Null,
}

/// A leaf value of an event.
#[derive(Debug, Clone, Copy)]
pub(crate) enum LeafKind<'a> {
    Str(&'a str),
    /// A number: its text as written.
    Num(&'a str),
    Lit(Lit),
}

/// A leaf value with the derived forms predicates need.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Leaf<'a> {
    pub kind: LeafKind<'a>,
    /// Comparable key of a number within range.
    pub num_key: Option<NumKey>,
    /// Address, when the value is a string holding an IP address.
    pub ip: Option<IpBytes>,
}

impl<'a> Leaf<'a> {
    /// A leaf with every derived form computed.
    pub(crate) fn full(kind: LeafKind<'a>) -> Self {
        let num_key = match kind {
            LeafKind::Num(t) => crate::number::key_of_text(t),
            _ => None,
        };
        let ip = match kind {
            LeafKind::Str(s) => crate::ip::ip_if_possible(s),
            _ => None,
        };
        Self { kind, num_key, ip }
    }
}

/// `anything-but` operand.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AbSet {
    Strings(Vec<Box<str>>),
    Numbers(Vec<NumKey>),
    Prefixes(Vec<Box<str>>),
    Suffixes(Vec<Box<str>>),
    IgnoreCase(Vec<IcPat>),
    Wildcards(Vec<Glob>),
}

/// One entry of a field's value list in a pattern.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Pred {
    /// `"abc"`, `{"exactly": "abc"}`
    Exact(Box<str>),
    /// `true`, `false`, `null`
    Literal(Lit),
    /// A number literal: equal by value when within range, else by text.
    Number {
        key: Option<NumKey>,
        text: Box<str>,
    },
    /// An IP address literal or a `cidr` block.
    Ip(IpRange),
    Prefix(Box<str>),
    Suffix(Box<str>),
    PrefixIc(IcPat),
    SuffixIc(IcPat),
    EqualsIc(IcPat),
    Wildcard(Glob),
    Numeric(NumRange),
    /// `{"exists": true}`
    Exists,
    /// `{"exists": false}`: not a value test; handled by the matchers.
    Absent,
    AnythingBut(AbSet),
}

/// `("value" + '"').starts_with('"' + p)`, i.e. the quoted form.
pub(crate) fn quoted_prefix(value: &str, p: &str) -> bool {
    let (v, p) = (value.as_bytes(), p.as_bytes());
    if p.len() <= v.len() {
        v.starts_with(p)
    } else {
        p.len() == v.len() + 1 && p[p.len() - 1] == b'"' && &p[..v.len()] == v
    }
}

/// `('"' + value).ends_with(s)`, i.e. the quoted form.
pub(crate) fn quoted_suffix(value: &str, s: &str) -> bool {
    let (v, s) = (value.as_bytes(), s.as_bytes());
    if s.len() <= v.len() {
        v.ends_with(s)
    } else {
        s.len() == v.len() + 1 && s[0] == b'"' && &s[1..] == v
    }
}

impl Pred {
    /// Does a present leaf value satisfy this predicate? (`Absent` never does.)
    pub(crate) fn matches(&self, leaf: &Leaf<'_>) -> bool {
        match self {
            Pred::Exact(s) => matches!(leaf.kind, LeafKind::Str(v) if v == &**s),
            Pred::Literal(l) => matches!(leaf.kind, LeafKind::Lit(x) if x == *l),
            Pred::Number { key, text } => match leaf.kind {
                LeafKind::Num(t) => match key {
                    Some(k) => leaf.num_key == Some(*k),
                    None => t == &**text,
                },
                _ => false,
            },
            Pred::Ip(r) => leaf.ip.is_some_and(|ip| r.contains(ip)),
            Pred::Prefix(p) => matches!(leaf.kind, LeafKind::Str(v) if quoted_prefix(v, p)),
            Pred::Suffix(p) => matches!(leaf.kind, LeafKind::Str(v) if quoted_suffix(v, p)),
            Pred::PrefixIc(p) => {
                matches!(leaf.kind, LeafKind::Str(v) if p.is_prefix_of(v.as_bytes()))
            }
            Pred::SuffixIc(p) => {
                matches!(leaf.kind, LeafKind::Str(v) if p.is_suffix_of(v.as_bytes()))
            }
            Pred::EqualsIc(p) => matches!(leaf.kind, LeafKind::Str(v) if p.equals(v.as_bytes())),
            Pred::Wildcard(g) => matches!(leaf.kind, LeafKind::Str(v) if g.matches(v.as_bytes())),
            Pred::Numeric(r) => {
                matches!(leaf.kind, LeafKind::Num(_)) && leaf.num_key.is_some_and(|k| r.contains(k))
            }
            Pred::Exists => true,
            Pred::Absent => false,
            Pred::AnythingBut(set) => !ab_excludes(set, leaf),
        }
    }
}

/// Does the `anything-but` operand exclude this value?
pub(crate) fn ab_excludes(set: &AbSet, leaf: &Leaf<'_>) -> bool {
    match set {
        AbSet::Strings(v) => matches!(leaf.kind, LeafKind::Str(s) if v.iter().any(|x| &**x == s)),
        AbSet::Numbers(v) => {
            matches!(leaf.kind, LeafKind::Num(_)) && leaf.num_key.is_some_and(|k| v.contains(&k))
        }
        AbSet::Prefixes(v) => {
            matches!(leaf.kind, LeafKind::Str(s) if v.iter().any(|p| quoted_prefix(s, p)))
        }
        AbSet::Suffixes(v) => {
            matches!(leaf.kind, LeafKind::Str(s) if v.iter().any(|p| quoted_suffix(s, p)))
        }
        AbSet::IgnoreCase(v) => {
            matches!(leaf.kind, LeafKind::Str(s) if v.iter().any(|p| p.equals(s.as_bytes())))
        }
        AbSet::Wildcards(v) => {
            matches!(leaf.kind, LeafKind::Str(s) if v.iter().any(|g| g.matches(s.as_bytes())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_forms() {
        assert!(quoted_prefix("abc", ""));
        assert!(quoted_prefix("abc", "ab"));
        assert!(quoted_prefix("abc", "abc\""));
        assert!(!quoted_prefix("abcd", "abc\""));
        assert!(quoted_suffix("abc", "\"abc"));
        assert!(quoted_suffix("abc", ""));
        assert!(!quoted_suffix("xabc", "\"abc"));
    }
}
