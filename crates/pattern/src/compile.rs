//! Pattern compiler: a step-by-step port of event-ruler's `JsonRuleCompiler` (with `$or`) and of
//! its fallback, the legacy `RuleCompiler` (where `$or` is an ordinary field name), so that the
//! accepted language and the first error reported are the same as AWS's.

use std::cmp::Ordering;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::casefold::IcPat;
use crate::dupkeys::{self, Source};
use crate::error::{ErrorKind, PatternError};
use crate::ip::{ip_if_possible, parse_cidr, IpRange};
use crate::json::Tok;
use crate::number::{key_of_text, operand_key, NumKey, NumRange, HIGHEST, LOWEST};
use crate::pred::{AbSet, Lit, Pred};
use crate::wildcard::{self, GTok};

/// Upper bound on the number of `$or` combinations a single pattern may expand to. (event-ruler
/// has none; this keeps a hostile pattern from exhausting memory.)
pub(crate) const MAX_BRANCHES: usize = 10_000;

const TOO_MANY_ELEMENTS: &str = "Too many elements in numeric expression";
const ONE_KEY: &str = "Only one key allowed in match expression";

/// Field names that may not appear inside a `$or` object.
const RESERVED_IN_OR: &[&str] = &[
    "exactly",
    "equals-ignore-case",
    "prefix",
    "suffix",
    "anything-but",
    "exists",
    "wildcard",
    "numeric",
    "cidr",
    "html",
    "=",
    "<",
    "<=",
    ">",
    ">=",
    "regex",
    "not-wildcard",
    "not-equals-ignore-case",
    "date-after",
    "date-on-or-after",
    "date-before",
    "date-on-or-before",
    "in-date-range",
    "ip-address-in-range",
    "ip-address-not-in-range",
];

/// One field of a branch: its dotted path and the values it may match (OR).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Slot {
    pub key: Arc<str>,
    pub preds: Arc<[Pred]>,
}

/// A conjunction of fields, sorted the way event-ruler sorts keys (Java `String` order).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Branch {
    pub slots: Vec<Slot>,
}

/// A compiled pattern: it matches when any branch matches.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Ast {
    pub branches: Vec<Branch>,
}

/// Java's `String.compareTo`: UTF-16 code unit order.
pub(crate) fn java_cmp(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

type Map = Vec<(Arc<str>, Arc<[Pred]>)>;

fn put(map: &mut Map, key: &Arc<str>, values: &Arc<[Pred]>) {
    if let Some(e) = map.iter_mut().find(|(k, _)| k == key) {
        e.1 = values.clone();
    } else {
        map.push((key.clone(), values.clone()));
    }
}

fn barf<T>(msg: impl Into<String>) -> Result<T, PatternError> {
    Err(PatternError::invalid(msg))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum AbKind {
    Plain,
    IgnoreCase,
    Prefix,
    Suffix,
    Wildcard,
}

struct Compiler<'a> {
    lx: Source<'a>,
    legacy: bool,
    path: Vec<String>,
}

/// Compile pattern text, with event-ruler's fallback to the legacy compiler. A key repeated in
/// one object keeps its last value, whatever the kinds (see [`dupkeys`]): the text as written
/// is compiled first, for its errors; the resolved form, if different, gives the rule.
pub(crate) fn compile(text: &str) -> Result<Ast, PatternError> {
    let ast = compile_source(|| Source::text(text))?;
    match dupkeys::last_wins(text) {
        None => Ok(ast),
        Some(tokens) => compile_source(|| Source::tokens(&tokens)),
    }
}

fn compile_source<'a>(source: impl Fn() -> Source<'a>) -> Result<Ast, PatternError> {
    let ast = match compile_with(source(), false) {
        Ok(a) => a,
        Err(e) if e.is_parse_exception() => compile_with(source(), true)?,
        Err(e) => return Err(e),
    };
    check_complexity(&ast)?;
    Ok(ast)
}

fn compile_with(source: Source<'_>, legacy: bool) -> Result<Ast, PatternError> {
    let mut c = Compiler {
        lx: source,
        legacy,
        path: Vec::new(),
    };
    if c.lx.next_token()? != Some(Tok::StartObject) {
        return barf("Filter is not an object");
    }
    let mut rules: Vec<Map> = Vec::new();
    c.parse_object(&mut rules, false)?;
    let branches = rules
        .into_iter()
        .map(|m| {
            let mut slots: Vec<Slot> = m
                .into_iter()
                .map(|(key, preds)| Slot { key, preds })
                .collect();
            slots.sort_by(|a, b| java_cmp(&a.key, &b.key));
            Branch { slots }
        })
        .collect();
    Ok(Ast { branches })
}

impl Compiler<'_> {
    fn next(&mut self) -> Result<Option<Tok>, PatternError> {
        self.lx.next_token()
    }

    fn text(&mut self) -> Result<String, PatternError> {
        Ok(self.lx.token_text()?.to_string())
    }

    fn expect_end(&mut self, msg: &str) -> Result<(), PatternError> {
        if self.next()? != Some(Tok::EndObject) {
            return barf(msg);
        }
        Ok(())
    }

    fn extended_name(&self, step: &str) -> Arc<str> {
        if self.path.is_empty() {
            Arc::from(step)
        } else {
            let mut s = self.path.join(".");
            s.push('.');
            s.push_str(step);
            Arc::from(s)
        }
    }

    fn parse_object(&mut self, rules: &mut Vec<Map>, inside_or: bool) -> Result<(), PatternError> {
        let mut fields_present = false;
        loop {
            match self.next()? {
                Some(Tok::EndObject) => break,
                Some(Tok::FieldName) => {}
                // The lexer only yields names or the end marker inside an object.
                _ => return barf("Empty objects are not allowed"),
            }
            fields_present = true;
            let step = self.lx.name().to_string();
            if !self.legacy && step == "$or" {
                self.parse_or(rules)?;
                continue;
            }
            if inside_or && RESERVED_IN_OR.contains(&step.as_str()) {
                return barf(format!(
                    "{step} is Ruler reserved fieldName which cannot be used inside $or."
                ));
            }
            match self.next()? {
                Some(Tok::StartObject) => {
                    self.path.push(step);
                    self.parse_object(rules, inside_or)?;
                    self.path.pop();
                }
                Some(Tok::StartArray) => {
                    let name = self.extended_name(&step);
                    self.write_rules(rules, name)?;
                }
                _ => return barf(format!("\"{step}\" must be an object or an array")),
            }
        }
        if !fields_present {
            return barf("Empty objects are not allowed");
        }
        Ok(())
    }

    fn parse_or(&mut self, rules: &mut Vec<Map>) -> Result<(), PatternError> {
        let current = std::mem::take(rules);
        if self.next()? != Some(Tok::StartArray) {
            return barf("It must be an Array followed with $or.");
        }
        let mut count = 0usize;
        loop {
            match self.next()? {
                Some(Tok::EndArray) => break,
                Some(Tok::StartObject) => {
                    count += 1;
                    let mut new_rules = current.clone();
                    if new_rules.is_empty() {
                        new_rules.push(Map::new());
                    }
                    self.parse_object(&mut new_rules, true)?;
                    if rules.len() + new_rules.len() > MAX_BRANCHES {
                        return Err(PatternError::new(
                            ErrorKind::TooComplex,
                            format!(
                                "Rule is too complex - the $or combinations exceed {MAX_BRANCHES}"
                            ),
                        ));
                    }
                    rules.extend(new_rules);
                }
                _ => return barf("Only JSON object is allowed in array of $or relationship."),
            }
        }
        if count < 2 {
            return barf("There must have at least 2 Objects in $or relationship.");
        }
        Ok(())
    }

    fn write_rules(&mut self, rules: &mut Vec<Map>, name: Arc<str>) -> Result<(), PatternError> {
        let mut values: Vec<Pred> = Vec::new();
        loop {
            let t = self.next()?;
            match t {
                Some(Tok::EndArray) => break,
                Some(Tok::StartObject) => values.push(self.match_expression()?),
                Some(Tok::Str) => {
                    let s = self.text()?;
                    match ip_if_possible(&s) {
                        Some(ip) => values.push(Pred::Ip(IpRange::single(ip))),
                        None => values.push(Pred::Exact(s.into())),
                    }
                }
                Some(Tok::NumInt | Tok::NumFloat) => {
                    let s = self.text()?;
                    values.push(Pred::Number {
                        key: key_of_text(&s),
                        text: s.into(),
                    });
                }
                Some(Tok::Null) => values.push(Pred::Literal(Lit::Null)),
                Some(Tok::True) => values.push(Pred::Literal(Lit::True)),
                Some(Tok::False) => values.push(Pred::Literal(Lit::False)),
                _ => return barf("Match value must be String, number, true, false, or null"),
            }
        }
        if values.is_empty() {
            return barf("Empty arrays are not allowed");
        }
        if rules.is_empty() {
            rules.push(Map::new());
        }
        let values: Arc<[Pred]> = values.into();
        for r in rules.iter_mut() {
            put(r, &name, &values);
        }
        Ok(())
    }

    /// The string operand of a match expression; `not_a_string` is the reason when it is not one.
    fn string_operand(&mut self, not_a_string: &str) -> Result<String, PatternError> {
        if self.next()? != Some(Tok::Str) {
            return barf(not_a_string);
        }
        self.text()
    }

    fn match_expression(&mut self) -> Result<Pred, PatternError> {
        if self.next()? != Some(Tok::FieldName) {
            return barf("Match expression name not found");
        }
        let name = self.lx.name().to_string();
        match name.as_str() {
            "exactly" => {
                let s = self.string_operand("exact match pattern must be a string")?;
                self.expect_end(ONE_KEY)?;
                Ok(Pred::Exact(s.into()))
            }
            "prefix" | "suffix" => {
                let t = self.next()?;
                let is_prefix = name == "prefix";
                if t == Some(Tok::StartObject) {
                    return self.ic_expression(is_prefix);
                }
                if t != Some(Tok::Str) {
                    return barf(format!("{name} match pattern must be a string"));
                }
                let s = self.text()?;
                self.expect_end(ONE_KEY)?;
                Ok(if is_prefix {
                    Pred::Prefix(s.into())
                } else {
                    Pred::Suffix(s.into())
                })
            }
            "numeric" => {
                if self.next()? != Some(Tok::StartArray) {
                    return barf("Value of numeric must be an array.");
                }
                let r = self.numeric()?;
                if self.next()? != Some(Tok::EndObject) {
                    return barf(TOO_MANY_ELEMENTS);
                }
                Ok(Pred::Numeric(r))
            }
            "anything-but" => self.anything_but(),
            "exists" => {
                let p = match self.next()? {
                    Some(Tok::True) => Pred::Exists,
                    Some(Tok::False) => Pred::Absent,
                    _ => return barf("exists match pattern must be either true or false."),
                };
                self.expect_end(ONE_KEY)?;
                Ok(p)
            }
            "cidr" => {
                let s = self.string_operand("prefix match pattern must be a string")?;
                let r = parse_cidr(&s).map_err(PatternError::value)?;
                self.expect_end(ONE_KEY)?;
                Ok(Pred::Ip(r))
            }
            "equals-ignore-case" => {
                let s = self.string_operand("equals-ignore-case match pattern must be a string")?;
                self.expect_end(ONE_KEY)?;
                Ok(Pred::EqualsIc(IcPat::new(&s)))
            }
            "wildcard" => {
                let s = self.string_operand("wildcard match pattern must be a string")?;
                let g = wildcard::parse(&s).map_err(PatternError::invalid)?;
                self.expect_end(ONE_KEY)?;
                Ok(Pred::Wildcard(g))
            }
            _ => barf(format!("Unrecognized match type {name}")),
        }
    }

    /// `{"prefix": {"equals-ignore-case": ...}}` and the suffix form.
    fn ic_expression(&mut self, is_prefix: bool) -> Result<Pred, PatternError> {
        let what = if is_prefix { "Prefix" } else { "Suffix" };
        if self.next()? != Some(Tok::FieldName) {
            return barf(format!("{what} expression name not found"));
        }
        let op = self.lx.name().to_string();
        if op != "equals-ignore-case" {
            return barf(format!("Unsupported {} pattern: {op}", what.to_lowercase()));
        }
        if self.next()? != Some(Tok::Str) {
            return barf("equals-ignore-case match pattern must be a string");
        }
        let s = self.text()?;
        self.expect_end(ONE_KEY)?;
        self.expect_end(ONE_KEY)?;
        let p = IcPat::new(&s);
        Ok(if is_prefix {
            Pred::PrefixIc(p)
        } else {
            Pred::SuffixIc(p)
        })
    }

    fn numeric(&mut self) -> Result<NumRange, PatternError> {
        if self.next()? != Some(Tok::Str) {
            let t = self.text()?;
            return barf(format!("Invalid member in numeric match: {t}"));
        }
        let op = self.text()?;
        let t = self.next()?;
        let numeric = t.is_some_and(Tok::is_numeric);
        match op.as_str() {
            "=" => {
                if !numeric {
                    return barf("Value of equals must be numeric");
                }
                let v = self.text()?;
                if self.next()? != Some(Tok::EndArray) {
                    return barf(TOO_MANY_ELEMENTS);
                }
                NumRange::equals(&v).or_else(barf)
            }
            ">=" | ">" => {
                if !numeric {
                    return barf(format!("Value of {op} must be numeric"));
                }
                let v = self.text()?;
                let open = op == ">";
                let t = self.next()?;
                if t == Some(Tok::EndArray) {
                    return NumRange::between(&v, open, HIGHEST, false).or_else(barf);
                }
                self.complete_range(t, &v, open)
            }
            "<=" | "<" => {
                if !numeric {
                    return barf(format!("Value of {op} must be numeric"));
                }
                let v = self.text()?;
                if self.next()? != Some(Tok::EndArray) {
                    return barf(TOO_MANY_ELEMENTS);
                }
                NumRange::between(LOWEST, false, &v, op == "<").or_else(barf)
            }
            _ => barf(format!("Unrecognized numeric range operator: {op}")),
        }
    }

    fn complete_range(
        &mut self,
        t: Option<Tok>,
        bottom: &str,
        open_bottom: bool,
    ) -> Result<NumRange, PatternError> {
        if t != Some(Tok::Str) {
            let t = self.text()?;
            return barf(format!("Bad value in numeric range: {t}"));
        }
        let op = self.text()?;
        let open_top = match op.as_str() {
            "<" => true,
            "<=" => false,
            _ => return barf(format!("Bad numeric range operator: {op}")),
        };
        if !self.next()?.is_some_and(Tok::is_numeric) {
            return barf(format!("Value of {op} must be numeric"));
        }
        let top = self.text()?;
        if self.next()? != Some(Tok::EndArray) {
            return barf("Too many terms in numeric range expression");
        }
        NumRange::between(bottom, open_bottom, &top, open_top).or_else(barf)
    }

    fn anything_but(&mut self) -> Result<Pred, PatternError> {
        let mut kind = AbKind::Plain;
        let mut t = self.next()?;
        if t == Some(Tok::StartObject) {
            if self.next()? != Some(Tok::FieldName) {
                return barf("Anything-But expression name not found");
            }
            let op = self.lx.name().to_string();
            kind = match op.as_str() {
                "equals-ignore-case" => AbKind::IgnoreCase,
                "prefix" => AbKind::Prefix,
                "suffix" => AbKind::Suffix,
                "wildcard" => AbKind::Wildcard,
                _ => return barf(format!("Unsupported anything-but pattern: {op}")),
            };
            t = self.next()?;
        }
        if !matches!(
            t,
            Some(Tok::StartArray | Tok::Str | Tok::NumFloat | Tok::NumInt)
        ) {
            return barf("Value of anything-but must be an array or single string/number value.");
        }
        let set = if t == Some(Tok::StartArray) {
            if kind == AbKind::Plain {
                self.ab_list()?
            } else {
                self.ab_values_list(kind)?
            }
        } else if kind == AbKind::Plain {
            self.ab_single(t)?
        } else {
            let s = self.ab_value(t, kind)?;
            ab_values_set(vec![s], kind)?
        };
        if self.next()? != Some(Tok::EndObject) {
            return barf(TOO_MANY_ELEMENTS);
        }
        if kind != AbKind::Plain && self.next()? != Some(Tok::EndObject) {
            return barf(TOO_MANY_ELEMENTS);
        }
        Ok(Pred::AnythingBut(set))
    }

    fn ab_list(&mut self) -> Result<AbSet, PatternError> {
        let mut strings: Vec<Box<str>> = Vec::new();
        let mut numbers: Vec<NumKey> = Vec::new();
        loop {
            match self.next()? {
                Some(Tok::EndArray) => break,
                Some(Tok::Str) => strings.push(self.text()?.into()),
                Some(Tok::NumInt | Tok::NumFloat) => {
                    let s = self.text()?;
                    numbers.push(operand_key(&s).or_else(barf)?);
                }
                _ => return barf("Inside anything but list, start|null|boolean is not supported."),
            }
        }
        match (strings.is_empty(), numbers.is_empty()) {
            (false, true) => Ok(AbSet::Strings(strings)),
            (true, false) => Ok(AbSet::Numbers(numbers)),
            _ => barf("Inside anything but list, either all values are number or string, mixed type is not supported"),
        }
    }

    fn ab_single(&mut self, t: Option<Tok>) -> Result<AbSet, PatternError> {
        let s = self.text()?;
        if t == Some(Tok::Str) {
            Ok(AbSet::Strings(vec![s.into()]))
        } else {
            // `ComparableNumber.generate` throws outside a parse exception here: no fallback.
            match operand_key(&s) {
                Ok(k) => Ok(AbSet::Numbers(vec![k])),
                Err(e) => Err(PatternError::value(e)),
            }
        }
    }

    /// One value of an `anything-but` prefix/suffix/equals-ignore-case/wildcard operand.
    fn ab_value(&mut self, t: Option<Tok>, kind: AbKind) -> Result<String, PatternError> {
        if t != Some(Tok::Str) {
            return barf(match kind {
                AbKind::IgnoreCase => "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.",
                AbKind::Wildcard => "wildcard match pattern must be a string",
                _ => "prefix/suffix match pattern must be a string",
            });
        }
        let s = self.text()?;
        if matches!(kind, AbKind::Prefix | AbKind::Suffix) && s.is_empty() {
            return barf("Null prefix/suffix not allowed");
        }
        Ok(s)
    }

    fn ab_values_list(&mut self, kind: AbKind) -> Result<AbSet, PatternError> {
        let mut values = Vec::new();
        loop {
            let t = self.next()?;
            if t == Some(Tok::EndArray) {
                break;
            }
            values.push(self.ab_value(t, kind)?);
        }
        ab_values_set(values, kind)
    }
}

fn ab_values_set(values: Vec<String>, kind: AbKind) -> Result<AbSet, PatternError> {
    Ok(match kind {
        AbKind::IgnoreCase => AbSet::IgnoreCase(values.iter().map(|s| IcPat::new(s)).collect()),
        AbKind::Prefix => AbSet::Prefixes(values.into_iter().map(Into::into).collect()),
        AbKind::Suffix => AbSet::Suffixes(values.into_iter().map(Into::into).collect()),
        AbKind::Wildcard => {
            let mut globs = Vec::with_capacity(values.len());
            for v in &values {
                globs.push(wildcard::parse(v).map_err(PatternError::invalid)?);
            }
            AbSet::Wildcards(globs)
        }
        AbKind::Plain => unreachable!("plain anything-but has its own parser"),
    })
}

/// Reject rules whose wildcards are too expensive, field by field, the way event-ruler groups
/// patterns in its machine (branches share a field's matcher when they share the fields before it).
fn check_complexity(ast: &Ast) -> Result<(), PatternError> {
    let mut groups: FxHashMap<Vec<&str>, Vec<Vec<GTok>>> = FxHashMap::default();
    for b in &ast.branches {
        for (i, slot) in b.slots.iter().enumerate() {
            let mut globs = Vec::new();
            for p in slot.preds.iter() {
                match p {
                    Pred::Wildcard(g) => globs.push(g.quoted_toks()),
                    Pred::AnythingBut(AbSet::Wildcards(gs)) => {
                        globs.extend(gs.iter().map(|g| g.quoted_toks()))
                    }
                    _ => {}
                }
            }
            if globs.is_empty() {
                continue;
            }
            let key: Vec<&str> = b.slots[..=i].iter().map(|s| &*s.key).collect();
            groups.entry(key).or_default().extend(globs);
        }
    }
    for pats in groups.values() {
        if wildcard::complexity(pats) >= wildcard::MAX_COMPLEXITY {
            return Err(PatternError::new(
                ErrorKind::TooComplex,
                wildcard::TOO_COMPLEX,
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(p: &str) -> String {
        compile(p).unwrap_err().to_string()
    }

    #[test]
    fn or_expands_and_last_key_wins() {
        let ast =
            compile(r#"{"a": ["1"], "$or": [{"a": ["2"]}, {"b": ["3"]}], "c": ["4"]}"#).unwrap();
        assert_eq!(ast.branches.len(), 2);
        let keys: Vec<Vec<&str>> = ast
            .branches
            .iter()
            .map(|b| b.slots.iter().map(|s| &*s.key).collect())
            .collect();
        assert_eq!(keys, vec![vec!["a", "c"], vec!["a", "b", "c"]]);
        assert_eq!(*ast.branches[0].slots[0].preds, [Pred::Exact("2".into())]);
        assert_eq!(*ast.branches[1].slots[0].preds, [Pred::Exact("1".into())]);
    }

    #[test]
    fn or_misuse_falls_back_to_plain_field() {
        // Not an array: the legacy compiler reads "$or" as a field name.
        let ast = compile(r#"{"$or": {"a": ["1"]}}"#).unwrap();
        assert_eq!(&*ast.branches[0].slots[0].key, "$or.a");
        assert_eq!(
            err(r#"{"$or": [{"a": ["1"]}]}"#),
            "Unrecognized match type a"
        );
        // Reserved names inside $or: the legacy compiler accepts them as match expressions.
        let ast = compile(r#"{"$or": [{"prefix": "a"}, {"suffix": "b"}]}"#).unwrap();
        assert_eq!(&*ast.branches[0].slots[0].key, "$or");
    }

    #[test]
    fn messages() {
        assert_eq!(err(r#"{"a": []}"#), "Empty arrays are not allowed");
        assert_eq!(err(r#"{}"#), "Empty objects are not allowed");
        assert_eq!(err(r#"[1]"#), "Filter is not an object");
        assert_eq!(
            err(r#"{"a": [[1]]}"#),
            "Match value must be String, number, true, false, or null"
        );
        assert_eq!(err(r#"{"a": [{}]}"#), "Match expression name not found");
        assert_eq!(
            err(r#"{"a": [{"numeric": ["=", 1, 2]}]}"#),
            "Too many elements in numeric expression"
        );
        assert_eq!(
            err(r#"{"a": [{"numeric": [">", 5, "<", 5]}]}"#),
            "Bottom must be less than top"
        );
        assert_eq!(
            err(r#"{"a": [{"numeric": ["<", 6e9]}]}"#),
            "Value must be between -5.0E9 and 5.0E9, inclusive"
        );
        assert_eq!(
            err(r#"{"a": [{"numeric": [1]}]}"#),
            "Invalid member in numeric match: 1"
        );
        assert_eq!(
            err(r#"{"a": [{"numeric": [">", 1, 2]}]}"#),
            "Bad value in numeric range: 2"
        );
        assert_eq!(
            err(r#"{"a": [{"numeric": ["!", 1]}]}"#),
            "Unrecognized numeric range operator: !"
        );
        assert_eq!(
            err(r#"{"a": [{"numeric": [">", 1, "<", 2, 3]}]}"#),
            "Too many terms in numeric range expression"
        );
        assert_eq!(
            err(r#"{"a": [{"anything-but": 6e9}]}"#),
            "Value must be between -5.0E9 and 5.0E9, inclusive"
        );
        assert_eq!(
            err(r#"{"a": [{"anything-but": []}]}"#),
            "Inside anything but list, either all values are number or string, mixed type is not supported"
        );
        assert_eq!(
            err(r#"{"a": [{"anything-but": {"foo": 1}}]}"#),
            "Unsupported anything-but pattern: foo"
        );
        assert_eq!(
            err(r#"{"a": [{"prefix": {"foo": "x"}}]}"#),
            "Unsupported prefix pattern: foo"
        );
        assert_eq!(
            err(r#"{"a": [{"suffix": {}}]}"#),
            "Suffix expression name not found"
        );
        assert_eq!(
            err(r#"{"a": [{"exists": "yes"}]}"#),
            "exists match pattern must be either true or false."
        );
        assert_eq!(
            err(r#"{"a": [{"prefix": "x", "suffix": "y"}]}"#),
            "Only one key allowed in match expression"
        );
        assert_eq!(
            err(r#"{"a": [{"wildcard": "a\\b"}]}"#),
            "Invalid escape character at pos 2"
        );
    }

    #[test]
    fn numbers_and_ips() {
        let ast = compile(r#"{"n": [300, 6000000000], "ip": ["10.0.0.1", "010.0.0.1"]}"#).unwrap();
        let b = &ast.branches[0];
        assert!(matches!(
            b.slots[1].preds[0],
            Pred::Number { key: Some(_), .. }
        ));
        assert!(matches!(
            b.slots[1].preds[1],
            Pred::Number { key: None, .. }
        ));
        assert!(matches!(b.slots[0].preds[0], Pred::Ip(_)));
        assert!(matches!(b.slots[0].preds[1], Pred::Exact(_)));
    }

    fn keys_and_values(p: &str) -> Vec<Vec<(String, Vec<Pred>)>> {
        compile(p)
            .unwrap()
            .branches
            .iter()
            .map(|b| {
                b.slots
                    .iter()
                    .map(|s| (s.key.to_string(), s.preds.to_vec()))
                    .collect()
            })
            .collect()
    }

    fn exact(v: &str) -> Pred {
        Pred::Exact(v.into())
    }

    #[test]
    fn duplicate_key_last_value_wins_whatever_the_kinds() {
        let one = |k: &str, v: &str| vec![vec![(k.to_string(), vec![exact(v)])]];
        // list, list (AWS's recorded complex_multi_key shape)
        assert_eq!(
            keys_and_values(r#"{"a": ["x"], "a": ["y"]}"#),
            one("a", "y")
        );
        // list, object
        assert_eq!(
            keys_and_values(r#"{"a": ["x"], "a": {"b": ["y"]}}"#),
            one("a.b", "y")
        );
        // object, list
        assert_eq!(
            keys_and_values(r#"{"a": {"b": ["y"]}, "a": ["x"]}"#),
            one("a", "x")
        );
        // object, object: the later object replaces the earlier one as a whole
        assert_eq!(
            keys_and_values(r#"{"a": {"b": ["y"]}, "a": {"c": ["z"]}}"#),
            one("a.c", "z")
        );
        // three times, nested
        assert_eq!(
            keys_and_values(r#"{"d": {"k": ["1"], "k": {"m": ["2"]}, "k": ["3"]}}"#),
            one("d.k", "3")
        );
        // a dotted key is a different key: event-ruler's path override applies (later wins)
        assert_eq!(
            keys_and_values(r#"{"a": {"b": ["1"]}, "a.b": ["2"]}"#),
            one("a.b", "2")
        );
        // object holding $or, then a list: the $or branches go with the dropped value
        assert_eq!(
            keys_and_values(r#"{"a": {"$or": [{"b": ["1"]}, {"c": ["2"]}]}, "a": ["x"]}"#),
            one("a", "x")
        );
        // two $or keys: the last one alone splits the rule
        assert_eq!(
            keys_and_values(
                r#"{"$or": [{"a": ["1"]}, {"b": ["2"]}], "$or": [{"c": ["3"]}, {"d": ["4"]}]}"#
            ),
            vec![
                vec![("c".to_string(), vec![exact("3")])],
                vec![("d".to_string(), vec![exact("4")])]
            ]
        );
    }

    #[test]
    fn duplicate_key_keeps_first_position() {
        // The entry stays where the key first appeared (Jackson's ObjectNode): before the $or,
        // so the $or branch that sets "a" again overrides it, as event-ruler's path map does.
        let got =
            keys_and_values(r#"{"a": ["1"], "$or": [{"a": ["2"]}, {"b": ["3"]}], "a": ["4"]}"#);
        assert_eq!(
            got,
            vec![
                vec![("a".to_string(), vec![exact("2")])],
                vec![
                    ("a".to_string(), vec![exact("4")]),
                    ("b".to_string(), vec![exact("3")])
                ]
            ]
        );
    }

    #[test]
    fn duplicate_key_dropped_value_is_still_validated() {
        // event-ruler compiles every value it reads, so an invalid value is reported even when
        // a later duplicate would replace it.
        assert_eq!(
            err(r#"{"a": [{"prefix": 5}], "a": ["x"]}"#),
            "prefix match pattern must be a string"
        );
        assert_eq!(
            err(r#"{"a": [], "a": {"b": ["x"]}}"#),
            "Empty arrays are not allowed"
        );
        assert_eq!(
            err(r#"{"a": {}, "a": ["x"]}"#),
            "Empty objects are not allowed"
        );
        assert_eq!(
            err(r#"{"a": "x", "a": ["y"]}"#),
            "\"a\" must be an object or an array"
        );
        assert_eq!(
            err(r#"{"a": ["x"], "a": [{"numeric": [">", "1"]}]}"#),
            "Value of > must be numeric"
        );
        assert_eq!(
            err(r#"{"a": ["x"], "a": 5}"#),
            "\"a\" must be an object or an array"
        );
        // Keys repeated inside a match expression stay an error.
        assert_eq!(
            err(r#"{"a": [{"prefix": "x", "prefix": "y"}]}"#),
            "Only one key allowed in match expression"
        );
    }

    #[test]
    fn java_key_order() {
        // UTF-16 order puts U+FF5E after U+1F600 (a surrogate pair starting 0xD83D).
        assert_eq!(java_cmp("\u{1F600}", "\u{FF5E}"), Ordering::Less);
        assert_eq!(java_cmp("a", "a.b"), Ordering::Less);
    }
}
