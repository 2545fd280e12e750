//! Why an event matches a subscription or not: every check and its outcome, evaluated for each
//! subscription on its own (for people and tools, not for routing).

use crate::event_view::EventView;
use crate::subscription::Subscription;

/// Whether one subscription matched, with the outcome of each check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    pub subscription: String,
    pub matched: bool,
    pub checks: Vec<Check>,
}

/// One check of a subscription against an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub passed: bool,
    pub what: String,
}

pub(super) fn explain_one(sub: &Subscription, event: &EventView) -> Explanation {
    let mut checks = Vec::new();
    let ty = event.attribute_text("type").unwrap_or_default();
    match &sub.types {
        None => checks.push(Check {
            passed: true,
            what: "types: not set, every type matches".into(),
        }),
        Some(types) => {
            let passed = types.iter().any(|t| *t == ty);
            checks.push(Check {
                passed,
                what: if passed {
                    format!("type {ty:?} is in types")
                } else {
                    format!("type {ty:?} is not in types {types:?}")
                },
            });
        }
    }
    if let Some(source) = &sub.source {
        let actual = event.attribute_text("source").unwrap_or_default();
        checks.push(Check {
            passed: actual == source.as_str(),
            what: format!(
                "source {actual:?} {} {source:?}",
                if actual == source.as_str() {
                    "equals"
                } else {
                    "is not"
                }
            ),
        });
    }
    for (i, filter) in sub.filters.iter().enumerate() {
        let passed = event.passes(filter);
        checks.push(Check {
            passed,
            what: format!("filters[{i}] {filter} is {passed}"),
        });
    }
    if let Some(pattern) = &sub.pattern {
        let passed = pattern.matches(event.json());
        checks.push(Check {
            passed,
            what: format!(
                "pattern {} {}",
                pattern.text(),
                if passed { "matches" } else { "does not match" }
            ),
        });
    }
    Explanation {
        subscription: sub.name.to_string(),
        matched: checks.iter().all(|c| c.passed),
        checks,
    }
}
