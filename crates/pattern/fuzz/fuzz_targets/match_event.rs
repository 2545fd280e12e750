//! Matching arbitrary bytes as an event must never panic.
#![no_main]

use std::sync::OnceLock;

use eventferry_pattern::{Matcher, MatcherBuilder};
use libfuzzer_sys::fuzz_target;

fn matcher() -> &'static Matcher {
    static M: OnceLock<Matcher> = OnceLock::new();
    M.get_or_init(|| {
        let mut b = MatcherBuilder::new();
        let rules = [
            r#"{"source": ["aws.ec2"], "detail": {"state": [{"anything-but": ["stopped"]}]}}"#,
            r#"{"detail": {"n": [{"numeric": [">", 0, "<=", 5]}], "ip": [{"cidr": "10.0.0.0/8"}]}}"#,
            r#"{"detail": {"a": {"b": [{"exists": false}]}, "a.c": [{"wildcard": "*x*y"}]}}"#,
            r#"{"$or": [{"x": [{"prefix": {"equals-ignore-case": "é"}}]}, {"y": [{"suffix": "z"}, null, true]}]}"#,
        ];
        for (i, r) in rules.iter().enumerate() {
            b.add(format!("r{i}"), r).expect("valid rule");
        }
        b.build()
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = matcher().try_matches_for(data);
});
