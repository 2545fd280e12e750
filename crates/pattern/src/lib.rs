//! EventBridge event patterns: parse, validate with AWS's exact reasons, compile, match. No I/O.
//!
//! The language and its errors follow Amazon EventBridge, whose matching engine is
//! [event-ruler](https://github.com/aws/event-ruler): exact values (`"a"`, `300`, `true`,
//! `null`), `prefix`/`suffix` (also with `equals-ignore-case`), `equals-ignore-case`,
//! `anything-but` (a value, a list, or a `prefix`/`suffix`/`equals-ignore-case`/`wildcard`
//! operand), `numeric`, `exists`, `cidr`, `wildcard`, `$or`; nested objects and dotted keys;
//! arrays in events match element-wise with event-ruler's array consistency.
//!
//! # One pattern
//!
//! ```
//! use eventferry_pattern::Pattern;
//!
//! let p = Pattern::parse(r#"{"source": ["aws.ec2"], "detail": {"count": [{"numeric": [">", 5]}]}}"#)?;
//! assert!(p.matches(r#"{"source": "aws.ec2", "detail": {"count": 6.5}}"#));
//! assert!(!p.matches(r#"{"source": "aws.ec2", "detail": {"count": 5}}"#));
//!
//! let err = Pattern::parse(r#"{"detail": {"count": [{"NUMERIC": [">", 5]}]}}"#).unwrap_err();
//! assert_eq!(err.to_string(), "Unrecognized match type NUMERIC");
//! # Ok::<(), eventferry_pattern::PatternError>(())
//! ```
//!
//! # Semantics worth knowing
//!
//! * Values are compared as event-ruler compares JSON text: strings with their quotes, numbers and
//!   literals bare. So `prefix`, `suffix`, `wildcard` and `equals-ignore-case` only match strings,
//!   and `anything-but` with strings also matches numbers, booleans and `null`.
//! * `equals-ignore-case` (and its `prefix`, `suffix`, `anything-but` forms) folds the pattern
//!   only, one UTF-16 unit at a time, to its Java 21 lower- and upper-case forms: `ß` matches
//!   `SS` but `SS` not `ß`, and a character outside the BMP becomes `??` (see `casefold.rs`).
//! * Numbers match by value between -5.0e9 and +5.0e9, exactly as doubles (event-ruler's
//!   current `ComparableNumber`: `300`, `300.0` and `3e2` are equal, values differing in any
//!   digit a double holds are not). A number outside that range, or one a double cannot hold
//!   exactly (`0.10000000000000001`), only matches the same text, and as a `numeric` or
//!   `anything-but` operand it is rejected (see `number.rs`).
//! * `exists` looks at leaves only (an object or an empty array is not a value). `exists: false`
//!   and `anything-but` do not match a missing field the same way: the former matches, the latter
//!   does not.
//! * Arrays: a field matches if any element matches; fields of one rule must come from the same
//!   element of an array of objects (array consistency).
//! * A key repeated in one pattern object keeps its last value, whatever the kinds (a value list
//!   may replace a nested object or the reverse), at the position of its first occurrence. Every
//!   value is still validated, so an invalid one that a later duplicate replaces is reported.
//! * `cidr` ignores host bits, as event-ruler does: `10.0.0.1/31` is `10.0.0.0/31`.
//! * When a pattern is rejected by event-ruler's current compiler, it is retried with its legacy
//!   compiler (which reads `$or` as a plain field name), as event-ruler's `addRule` does; the
//!   reported error is then the legacy compiler's.
//! * Wildcard complexity follows event-ruler's `MachineComplexityEvaluator`; rules scoring 10 or
//!   more are rejected as too complex (a threshold calibrated on AWS's answers).
//!
//! # Reading events
//!
//! Events are matched straight from their bytes, without building a tree: only the paths some
//! rule uses are decoded. Two modes:
//!
//! * **fast** ([`Pattern::matches`], [`Matcher::matches_for`], [`Matcher::matching_rules`]):
//!   values on paths no rule uses are skipped by their structure (strings and brackets) without
//!   checking their syntax. Use it on events known to be JSON (from EventBridge, SQS, the router).
//! * **strict** ([`Pattern::try_matches`], [`Matcher::try_matches_for`],
//!   [`Matcher::matching_rules_strict`]): the whole event is validated (UTF-8, JSON syntax), so
//!   malformed input is always reported as an [`EventError`].
//!
//! Fast mode also stops reading an object once it has read every key the rules use there (and
//! stops reading the event once that is true of every enclosing object). Both modes give the
//! same answer on well-formed JSON whose objects have no duplicate keys, unless the event spells a
//! used path with a dotted key (`"a.b"`) after the nested form (`"a": {...}`) has been read: use
//! strict mode for such events.
//!
//! # Many rules at once
//!
//! ```
//! use eventferry_pattern::MatcherBuilder;
//!
//! let mut b = MatcherBuilder::new();
//! b.add("ec2", r#"{"source": ["aws.ec2"]}"#)?;
//! b.add("big", r#"{"detail": {"size": [{"numeric": [">=", 1000]}]}}"#)?;
//! let m = b.build();
//! assert_eq!(m.matches_for(br#"{"source": "aws.ec2", "detail": {"size": 4096}}"#), ["ec2", "big"]);
//! # Ok::<(), eventferry_pattern::PatternError>(())
//! ```

#![warn(missing_docs)]

mod bytes;
mod casefold;
mod compile;
mod dupkeys;
mod error;
mod event;
mod index;
mod ip;
mod json;
mod matcher;
mod number;
mod pred;
pub mod reference;
mod wildcard;

use std::sync::Arc;

use rustc_hash::FxHashMap;

pub use error::{
    ErrorKind, EventError, PatternError, AWS_INVALID_EVENT_MESSAGE, AWS_INVALID_PATTERN_PREFIX,
};
pub use event::TopField;
pub use matcher::Scratch as MatchScratch;

use compile::Ast;
use matcher::{with_scratch, Compiled};

/// Check a pattern the way EventBridge does, without keeping the compiled form.
///
/// ```
/// assert!(eventferry_pattern::validate(r#"{"a": [{"prefix": "x"}]}"#).is_ok());
/// assert_eq!(
///     eventferry_pattern::validate(r#"{"a": []}"#).unwrap_err().to_string(),
///     "Empty arrays are not allowed"
/// );
/// ```
pub fn validate(pattern: &str) -> Result<(), PatternError> {
    compile::compile(pattern).map(|_| ())
}

/// One compiled event pattern.
///
/// Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct Pattern {
    ast: Arc<Ast>,
    compiled: Arc<Compiled>,
}

impl std::fmt::Debug for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pattern")
            .field("branches", &self.ast.branches.len())
            .finish_non_exhaustive()
    }
}

impl Pattern {
    /// Parse, validate and compile a pattern. The error's `Display` is AWS's reason, word for word.
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        let ast = Arc::new(compile::compile(text)?);
        let compiled = Arc::new(Compiled::build(std::slice::from_ref(&ast)));
        Ok(Self { ast, compiled })
    }

    /// Does the pattern match this event (JSON text)? Fast mode: the parts of the event no rule
    /// reads are skipped without validation. JSON that is not an object, or that is found to be
    /// malformed, does not match.
    pub fn matches(&self, event: impl AsRef<[u8]>) -> bool {
        with_scratch(|s| {
            let mut out = Vec::new();
            self.compiled
                .match_bytes(s, event.as_ref(), &mut out, false)
                .is_ok()
                && !out.is_empty()
        })
    }

    /// Strict mode: validate the whole event, then tell whether the pattern matches it.
    pub fn try_matches(&self, event: &[u8]) -> Result<bool, EventError> {
        with_scratch(|s| {
            let mut out = Vec::new();
            self.compiled.match_bytes(s, event, &mut out, true)?;
            Ok(!out.is_empty())
        })
    }

    /// Does the pattern match an already-parsed event? A non-object does not match.
    ///
    /// Numbers are seen as `serde_json` prints them (shortest form); this only matters for
    /// exact matches on numbers outside ±5.0e9 or longer than a double holds, which event-ruler
    /// compares as text. Numeric matching is exact, and `serde_json` parses floats best-effort
    /// (possibly one unit in the last place off) unless its `float_roundtrip` feature is on, so
    /// a `Value` parsed without it can differ from the bytes by that unit.
    pub fn matches_value(&self, event: &serde_json::Value) -> bool {
        with_scratch(|s| {
            let mut out = Vec::new();
            self.compiled.match_value(s, event, &mut out).is_ok() && !out.is_empty()
        })
    }

    /// Number of alternatives (`$or` branches) the pattern expands to.
    pub fn branch_count(&self) -> usize {
        self.ast.branches.len()
    }

    pub(crate) fn ast(&self) -> &Ast {
        &self.ast
    }
}

impl std::str::FromStr for Pattern {
    type Err = PatternError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Pattern::parse(s)
    }
}

/// Identifies a rule in a [`Matcher`]: rules are numbered in the order they were first added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleId(u32);

impl RuleId {
    /// The rule's position (0-based) in insertion order.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Collects named patterns and compiles them into a [`Matcher`].
#[derive(Default, Debug)]
pub struct MatcherBuilder {
    names: Vec<String>,
    asts: Vec<Ast>,
    by_name: FxHashMap<String, u32>,
}

impl MatcherBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parse and add a pattern under `name`. Adding several patterns under one name makes that
    /// rule match when any of them does (as event-ruler does).
    pub fn add(&mut self, name: impl Into<String>, pattern: &str) -> Result<RuleId, PatternError> {
        let ast = compile::compile(pattern)?;
        Ok(self.push(name.into(), ast))
    }

    /// Add an already-parsed pattern under `name`.
    pub fn add_pattern(&mut self, name: impl Into<String>, pattern: &Pattern) -> RuleId {
        self.push(name.into(), (*pattern.ast).clone())
    }

    fn push(&mut self, name: String, ast: Ast) -> RuleId {
        if let Some(&id) = self.by_name.get(&name) {
            self.asts[id as usize].branches.extend(ast.branches);
            return RuleId(id);
        }
        let id = self.names.len() as u32;
        self.by_name.insert(name.clone(), id);
        self.names.push(name);
        self.asts.push(ast);
        RuleId(id)
    }

    /// Number of distinct rule names added.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// True when nothing was added.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Compile everything into a matcher.
    pub fn build(self) -> Matcher {
        let asts: Vec<Arc<Ast>> = self.asts.into_iter().map(Arc::new).collect();
        Matcher {
            compiled: Compiled::build(&asts),
            names: self.names,
        }
    }
}

/// Many named patterns compiled together. The cost of matching an event depends on the fields
/// and values the rules use, hardly on how many rules there are; fields no rule mentions are
/// skipped without being decoded.
///
/// `Send + Sync`: share one matcher between threads.
pub struct Matcher {
    names: Vec<String>,
    compiled: Compiled,
}

impl std::fmt::Debug for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Matcher")
            .field("rules", &self.names.len())
            .finish_non_exhaustive()
    }
}

impl Matcher {
    /// Names of the rules the event (JSON text) matches, in insertion order. Fast mode (see the
    /// [crate docs](crate#reading-events)); an event found to be invalid matches nothing.
    pub fn matches_for(&self, event: impl AsRef<[u8]>) -> Vec<&str> {
        self.names_for(event.as_ref(), false).unwrap_or_default()
    }

    /// Strict mode: validate the whole event, then return the names of the matching rules.
    pub fn try_matches_for(&self, event: &[u8]) -> Result<Vec<&str>, EventError> {
        self.names_for(event, true)
    }

    fn names_for(&self, event: &[u8], strict: bool) -> Result<Vec<&str>, EventError> {
        with_scratch(|s| {
            let mut out = Vec::new();
            self.compiled.match_bytes(s, event, &mut out, strict)?;
            Ok(out
                .iter()
                .map(|&i| self.names[i as usize].as_str())
                .collect())
        })
    }

    /// Names of the rules an already-parsed event matches, in insertion order.
    pub fn matches_for_value(&self, event: &serde_json::Value) -> Vec<&str> {
        with_scratch(|s| {
            let mut out = Vec::new();
            if self.compiled.match_value(s, event, &mut out).is_err() {
                return Vec::new();
            }
            out.iter()
                .map(|&i| self.names[i as usize].as_str())
                .collect()
        })
    }

    /// Allocation-free matching for hot loops (fast mode): clears `out`, then fills it with the
    /// ids of the matching rules in ascending order. Reuse `scratch` and `out` across calls.
    pub fn matching_rules(
        &self,
        scratch: &mut MatchScratch,
        event: &[u8],
        out: &mut Vec<RuleId>,
    ) -> Result<(), EventError> {
        self.ids(scratch, event, out, false)
    }

    /// [`Matcher::matching_rules`] in strict mode: the whole event is validated.
    pub fn matching_rules_strict(
        &self,
        scratch: &mut MatchScratch,
        event: &[u8],
        out: &mut Vec<RuleId>,
    ) -> Result<(), EventError> {
        self.ids(scratch, event, out, true)
    }

    fn ids(
        &self,
        scratch: &mut MatchScratch,
        event: &[u8],
        out: &mut Vec<RuleId>,
        strict: bool,
    ) -> Result<(), EventError> {
        out.clear();
        let mut ids = std::mem::take(&mut scratch.ids);
        ids.clear();
        let r = self.compiled.match_bytes(scratch, event, &mut ids, strict);
        out.extend(ids.iter().map(|&i| RuleId(i)));
        scratch.ids = ids;
        r
    }

    /// [`Matcher::matching_rules`] for an already-parsed event.
    pub fn matching_rules_value(
        &self,
        scratch: &mut MatchScratch,
        event: &serde_json::Value,
        out: &mut Vec<RuleId>,
    ) -> Result<(), EventError> {
        out.clear();
        let mut ids = std::mem::take(&mut scratch.ids);
        ids.clear();
        let r = self.compiled.match_value(scratch, event, &mut ids);
        out.extend(ids.iter().map(|&i| RuleId(i)));
        scratch.ids = ids;
        r
    }

    /// [`Matcher::matching_rules_value`] for an event given as its top-level fields, e.g. a
    /// CloudEvent's attributes plus a borrowed `data` value: nothing is cloned or assembled.
    /// Keys must be distinct. Same results as matching the object made of these fields.
    pub fn matching_rules_fields(
        &self,
        scratch: &mut MatchScratch,
        fields: &[(&str, TopField<'_>)],
        out: &mut Vec<RuleId>,
    ) {
        out.clear();
        let mut ids = std::mem::take(&mut scratch.ids);
        ids.clear();
        self.compiled.match_fields(scratch, fields, &mut ids);
        out.extend(ids.iter().map(|&i| RuleId(i)));
        scratch.ids = ids;
    }

    /// The name of a rule.
    pub fn name(&self, id: RuleId) -> &str {
        &self.names[id.index()]
    }

    /// Names of all rules, indexed by [`RuleId::index`].
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.compiled.rule_count()
    }

    /// True when the matcher has no rules.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Approximate heap memory held by the compiled matcher, in bytes.
    pub fn heap_size(&self) -> usize {
        self.compiled.heap_bytes() + self.names.iter().map(|n| n.capacity() + 24).sum::<usize>()
    }
}
