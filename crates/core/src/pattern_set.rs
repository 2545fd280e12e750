//! The one place that talks to `eventferry_pattern`: a subscription's EventBridge pattern, and
//! all subscriptions' patterns compiled into one multi-rule matcher.

use eventferry_pattern::{MatchScratch, Matcher, MatcherBuilder, Pattern, RuleId, TopField};
use std::cell::RefCell;

use serde_json::Value;

/// A parsed, valid EventBridge pattern, with the text it came from.
#[derive(Debug, Clone)]
pub struct SubscriptionPattern {
    text: String,
    pattern: Pattern,
}

impl SubscriptionPattern {
    /// Parses and validates `text`; the error is AWS's reason, word for word.
    pub fn parse(text: &str) -> Result<Self, String> {
        Pattern::parse(text)
            .map(|pattern| SubscriptionPattern {
                text: text.to_owned(),
                pattern,
            })
            .map_err(|e| e.to_string())
    }

    /// The pattern as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether `event` (a JSON object) matches.
    pub fn matches(&self, event: &Value) -> bool {
        self.pattern.matches_value(event)
    }
}

/// Every pattern of a set of subscriptions, compiled into one matcher: matching an event costs
/// about the same however many patterns there are.
#[derive(Debug)]
pub struct PatternSet {
    matcher: Matcher,
    /// The caller's key of each rule, by rule index.
    keys: Vec<usize>,
}

impl Default for PatternSet {
    fn default() -> Self {
        PatternSet::build([])
    }
}

impl PatternSet {
    /// Compiles `(key, pattern)` pairs; keys identify the subscriptions and must be distinct.
    pub fn build<'a>(patterns: impl IntoIterator<Item = (usize, &'a SubscriptionPattern)>) -> Self {
        let mut builder = MatcherBuilder::new();
        let mut keys = Vec::new();
        for (key, pattern) in patterns {
            let id = builder.add_pattern(key.to_string(), &pattern.pattern);
            if id.index() == keys.len() {
                keys.push(key);
            }
        }
        PatternSet {
            matcher: builder.build(),
            keys,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys of every pattern `event` matches.
    pub fn matching(&self, event: &Value) -> Vec<usize> {
        let mut out = Vec::new();
        self.matching_into(event, &mut out);
        out
    }

    /// Appends the keys of every pattern `event` matches to `out`. Reuses this thread's scratch
    /// space, so matching allocates nothing once warm.
    pub fn matching_into(&self, event: &Value, out: &mut Vec<usize>) {
        self.match_with(out, |matcher, scratch, ids| {
            matcher.matching_rules_value(scratch, event, ids).is_ok()
        });
    }

    /// [`PatternSet::matching_into`] for an event given as its top-level fields (see
    /// [`eventferry_pattern::Matcher::matching_rules_fields`]).
    pub fn matching_fields_into(&self, fields: &[(&str, TopField<'_>)], out: &mut Vec<usize>) {
        self.match_with(out, |matcher, scratch, ids| {
            matcher.matching_rules_fields(scratch, fields, ids);
            true
        });
    }

    /// Runs `run` with this thread's scratch (a fresh one if it is in use, e.g. re-entered) and,
    /// if it says the event was readable, appends the keys of the matched rules to `out`.
    fn match_with(
        &self,
        out: &mut Vec<usize>,
        run: impl FnOnce(&Matcher, &mut MatchScratch, &mut Vec<RuleId>) -> bool,
    ) {
        if self.keys.is_empty() {
            return;
        }
        SCRATCH.with(|cell| {
            let mut fresh = (MatchScratch::default(), Vec::new());
            let mut borrowed = cell.try_borrow_mut();
            let (scratch, ids) = match borrowed.as_deref_mut() {
                Ok(pair) => (&mut pair.0, &mut pair.1),
                Err(_) => (&mut fresh.0, &mut fresh.1),
            };
            if run(&self.matcher, scratch, ids) {
                out.extend(ids.iter().map(|id| self.keys[id.index()]));
            }
        });
    }
}

thread_local! {
    static SCRATCH: RefCell<(MatchScratch, Vec<RuleId>)> = RefCell::default();
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn one_matcher_for_all_patterns() {
        let big = SubscriptionPattern::parse(r#"{"data": {"total": [{"numeric": [">=", 100]}]}}"#)
            .unwrap();
        let eu = SubscriptionPattern::parse(r#"{"source": [{"suffix": "/eu"}]}"#).unwrap();
        let set = PatternSet::build([(3, &big), (7, &eu)]);
        assert!(!set.is_empty());
        let event = json!({"source": "/shop/eu", "type": "t", "data": {"total": 120}});
        assert_eq!(set.matching(&event), [3, 7]);
        assert_eq!(
            set.matching(&json!({"source": "/us", "data": {"total": 5}})),
            Vec::<usize>::new()
        );
        assert!(big.matches(&event));
        assert!(PatternSet::default().matching(&event).is_empty());
    }

    #[test]
    fn errors_are_aws_reasons() {
        assert_eq!(
            SubscriptionPattern::parse(r#"{"data": {"n": [{"NUMERIC": [">", 5]}]}}"#).unwrap_err(),
            "Unrecognized match type NUMERIC"
        );
    }
}
