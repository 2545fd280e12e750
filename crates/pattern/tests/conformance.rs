//! Conformance cases written from the Amazon EventBridge documentation (event patterns, content
//! filtering, arrays, null values) and event-ruler's documented behaviour: every matching form and
//! every error reason. Each case is checked through every entry point: `Pattern` on bytes and on a
//! parsed value, a multi-rule `Matcher`, and the reference matcher.

use eventferry_pattern::{reference, MatcherBuilder, Pattern};
use serde_json::Value;

const CASES: &str = include_str!("conformance/cases.jsonl");

fn field<'a>(c: &'a Value, k: &str) -> &'a str {
    c[k].as_str()
        .unwrap_or_else(|| panic!("case field {k} missing: {c}"))
}

#[test]
fn conformance_cases() {
    let mut failures = Vec::new();
    let mut count = 0;
    for line in CASES.lines().filter(|l| !l.trim().is_empty()) {
        count += 1;
        let c: Value = serde_json::from_str(line).expect("case is JSON");
        let (name, pattern, event, expect) = (
            field(&c, "name"),
            field(&c, "pattern"),
            field(&c, "event"),
            field(&c, "expect"),
        );
        match (Pattern::parse(pattern), expect) {
            (Err(e), "error") => {
                let want = field(&c, "reason");
                if e.to_string() != want {
                    failures.push(format!("{name}: reason {:?}, want {want:?}", e.to_string()));
                }
                assert_eq!(eventferry_pattern::validate(pattern).unwrap_err(), e);
                assert!(MatcherBuilder::new().add(name, pattern).is_err());
            }
            (Err(e), _) => failures.push(format!("{name}: rejected ({e}), want {expect}")),
            (Ok(_), "error") => failures.push(format!(
                "{name}: accepted, want error {:?}",
                field(&c, "reason")
            )),
            (Ok(p), _) => {
                let want = expect == "match";
                let value: Value = serde_json::from_str(event).expect("event is JSON");
                let got = p.try_matches(event.as_bytes()).expect("valid event");
                let mut b = MatcherBuilder::new();
                b.add("other", r#"{"source": [{"prefix": "zzz"}]}"#)
                    .unwrap();
                b.add(name, pattern).unwrap();
                let m = b.build();
                let via_matcher = m.matches_for(event) == [name];
                let results = [
                    got,
                    p.matches_value(&value),
                    reference::matches(&p, &value),
                    via_matcher,
                ];
                if results != [want; 4] {
                    failures.push(format!(
                        "{name}: bytes/value/reference/matcher = {results:?}, want {want}"
                    ));
                }
            }
        }
    }
    assert!(count >= 100, "only {count} cases");
    assert!(
        failures.is_empty(),
        "{} of {count} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
