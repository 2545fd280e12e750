//! Routing: which subscriptions an event matches ([`Router::route`]), and why
//! ([`Router::explain`], in [`explain`]).
//!
//! # Matching
//!
//! [`Router::new`] compiles all subscriptions once into groups: one per exact `type`, and one
//! for the subscriptions that list no type. Within a group, the subscriptions without a pattern
//! are a list, and the patterns are compiled into one multi-rule matcher ([`PatternSet`]). Per
//! event the router looks up the type (one hash lookup), runs at most two matchers (the type's
//! and the type-less one), and checks `source` and filters only for the subscriptions of that
//! group and the pattern subscriptions that matched: the cost does not grow with the number of
//! subscriptions for other types, and a pattern subscription that does not match costs only
//! what the matcher spends on it.
//!
//! The other steps of a delivery have their own modules: the event as matching reads it
//! ([`crate::event_view`]), what a function is sent ([`crate::payload`]), invocation results
//! ([`crate::invocation`]), and what happens after a failure ([`crate::retry`]).

pub mod explain;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::event_view::EventView;
use crate::pattern_set::PatternSet;
use crate::subscription::Subscription;
use explain::explain_one;

pub use explain::{Check, Explanation};

/// Subscriptions compiled for matching.
#[derive(Debug)]
pub struct Router {
    subscriptions: Vec<Subscription>,
    by_type: HashMap<String, Group>,
    any_type: Group,
    by_name: HashMap<Arc<str>, usize>,
}

/// The subscriptions of one type (or of none): those without a pattern, in file order, and the
/// patterns of the others in one matcher.
#[derive(Debug, Default)]
struct Group {
    plain: Vec<usize>,
    patterned: Vec<usize>,
    patterns: PatternSet,
}

impl Group {
    fn build(members: Vec<usize>, subscriptions: &[Subscription]) -> Group {
        let (patterned, plain): (Vec<usize>, Vec<usize>) = members
            .into_iter()
            .partition(|&i| subscriptions[i].pattern.is_some());
        let patterns = PatternSet::build(
            patterned
                .iter()
                .filter_map(|&i| subscriptions[i].pattern.as_ref().map(|p| (i, p))),
        );
        Group {
            plain,
            patterned,
            patterns,
        }
    }

    /// Adds to `out` the subscriptions of this group `event` may match: every plain one, and
    /// the patterned ones whose pattern matched.
    fn candidates(&self, event: &EventView, out: &mut Vec<usize>) {
        out.extend_from_slice(&self.plain);
        // Patterns see the event field by field (nothing cloned); non-1.0 events fall back to
        // the assembled structured JSON.
        let matched_by_fields = self.patterned.is_empty()
            || event
                .with_fields(|fields| self.patterns.matching_fields_into(fields, out))
                .is_some();
        if !matched_by_fields {
            self.patterns.matching_into(event.json(), out);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.plain.len() + self.patterned.len()
    }
}

impl Router {
    pub fn new(subscriptions: Vec<Subscription>) -> Router {
        let mut by_type: HashMap<String, Vec<usize>> = HashMap::new();
        let mut any_type = Vec::new();
        for (i, sub) in subscriptions.iter().enumerate() {
            match &sub.types {
                None => any_type.push(i),
                Some(types) => {
                    let unique: HashSet<&String> = types.iter().collect();
                    for ty in unique {
                        by_type.entry(ty.clone()).or_default().push(i);
                    }
                }
            }
        }
        let by_type = by_type
            .into_iter()
            .map(|(ty, members)| (ty, Group::build(members, &subscriptions)))
            .collect();
        let any_type = Group::build(any_type, &subscriptions);
        let by_name = subscriptions
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.clone(), i))
            .collect();
        Router {
            subscriptions,
            by_type,
            any_type,
            by_name,
        }
    }

    pub fn subscriptions(&self) -> &[Subscription] {
        &self.subscriptions
    }

    pub fn get(&self, name: &str) -> Option<&Subscription> {
        self.by_name.get(name).map(|&i| &self.subscriptions[i])
    }

    /// The subscriptions `event` matches, in file order.
    pub fn route(&self, event: &EventView) -> Vec<&Subscription> {
        let ty = event.attribute_text("type").unwrap_or_default();
        let mut candidates: Vec<usize> = Vec::new();
        if let Some(group) = self.by_type.get(&*ty) {
            group.candidates(event, &mut candidates);
        }
        self.any_type.candidates(event, &mut candidates);
        if candidates.is_empty() {
            return Vec::new();
        }
        // A subscription is in one group only (its types are distinct), so no duplicates.
        candidates.sort_unstable();
        let source = event.attribute_text("source");
        candidates
            .into_iter()
            .map(|i| &self.subscriptions[i])
            .filter(|sub| {
                sub.source
                    .as_deref()
                    .is_none_or(|s| source.as_deref() == Some(s))
                    && sub.filters.iter().all(|f| event.passes(f))
            })
            .collect()
    }

    /// For every subscription, whether `event` matches it and why (each check and its outcome).
    /// Evaluates each subscription on its own: for explaining, not for routing.
    pub fn explain(&self, event: &EventView) -> Vec<Explanation> {
        self.subscriptions
            .iter()
            .map(|sub| explain_one(sub, event))
            .collect()
    }
}

#[cfg(test)]
mod tests;
