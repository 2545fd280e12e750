//! Arbitrary input never panics the parser or the matcher (the cargo-fuzz target explores the
//! same entry points for longer; this runs in plain `cargo test`).

use eventferry_pattern::{MatcherBuilder, Pattern};
use proptest::prelude::*;

/// Text made of JSON punctuation, operator names and odd characters, to get past the tokenizer.
fn jsonish() -> impl Strategy<Value = String> {
    let atoms = prop::sample::select(vec![
        "{",
        "}",
        "[",
        "]",
        ":",
        ",",
        "\"",
        "\"a\"",
        "\"$or\"",
        "\"prefix\"",
        "\"suffix\"",
        "\"numeric\"",
        "\"anything-but\"",
        "\"exists\"",
        "\"cidr\"",
        "\"wildcard\"",
        "\"equals-ignore-case\"",
        "\"exactly\"",
        "\">\"",
        "\"<=\"",
        "\"=\"",
        "1",
        "-0.5",
        "6e9",
        "01",
        "true",
        "null",
        "tru",
        "\"10.0.0.0/8\"",
        "\"a*b**\"",
        "\"\\\\\"",
        "\"\\u00e9\"",
        "\"\\ud800\"",
        " ",
        "\n",
        "\u{1}",
        "é",
        "😀",
    ]);
    prop::collection::vec(atoms, 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn parser_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200), text in jsonish()) {
        let lossy = String::from_utf8_lossy(&bytes);
        for t in [lossy.as_ref(), text.as_str()] {
            match Pattern::parse(t) {
                Ok(p) => { let _ = p.matches(t); }
                Err(e) => prop_assert!(!e.to_string().is_empty()),
            }
        }
    }

    #[test]
    fn matcher_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300), text in jsonish()) {
        let mut b = MatcherBuilder::new();
        b.add("a", r#"{"a": [{"prefix": "x"}, {"numeric": [">", 1]}, {"exists": false}], "b": {"c": [{"anything-but": "y"}]}}"#).unwrap();
        b.add("w", r#"{"a": [{"wildcard": "*x*"}, {"cidr": "10.0.0.0/8"}, {"equals-ignore-case": "é"}]}"#).unwrap();
        let m = b.build();
        let _ = m.try_matches_for(&bytes);
        let _ = m.try_matches_for(text.as_bytes());
        let _ = m.matches_for(&bytes);
        let _ = m.matches_for(text.as_bytes());
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) {
            let _ = m.matches_for_value(&v);
        }
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let ev = format!("{{\"a\": {deep}}}");
    let mut b = MatcherBuilder::new();
    b.add("a", r#"{"a": [1]}"#).unwrap();
    let m = b.build();
    assert!(m.try_matches_for(ev.as_bytes()).is_err());
    assert!(m.matches_for(ev.as_bytes()).is_empty());
    let skipped = format!("{{\"b\": {deep}}}");
    assert!(m.try_matches_for(skipped.as_bytes()).is_err());
    assert!(m.matches_for(skipped.as_bytes()).is_empty());
    let pat = format!("{{\"a\": {}}}", "{\"a\": ".repeat(5000));
    assert!(Pattern::parse(&pat).is_err());
}
