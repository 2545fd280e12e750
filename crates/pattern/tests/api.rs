//! The public API: builder and matcher behaviour, error values, modes.

use eventferry_pattern::{
    ErrorKind, EventError, MatchScratch, Matcher, MatcherBuilder, Pattern, PatternError,
    AWS_INVALID_PATTERN_PREFIX,
};

#[test]
fn matcher_reports_names_in_insertion_order() {
    let mut b = MatcherBuilder::new();
    let z = b.add("z-last", r#"{"source": ["a"]}"#).unwrap();
    let a = b
        .add("a-first", r#"{"detail": {"n": [{"numeric": [">", 1]}]}}"#)
        .unwrap();
    assert_eq!((z.index(), a.index()), (0, 1));
    let m = b.build();
    assert_eq!(m.len(), 2);
    assert_eq!(
        m.matches_for(r#"{"source": "a", "detail": {"n": 2}}"#),
        ["z-last", "a-first"]
    );
    assert_eq!(m.name(a), "a-first");
    assert!(m.matches_for(r#"{"source": "b"}"#).is_empty());
}

#[test]
fn same_name_means_or() {
    let mut b = MatcherBuilder::new();
    let first = b.add("r", r#"{"a": ["1"]}"#).unwrap();
    let second = b.add("r", r#"{"b": ["2"]}"#).unwrap();
    assert_eq!(first, second);
    assert_eq!(b.len(), 1);
    let m = b.build();
    assert_eq!(m.matches_for(r#"{"b": "2"}"#), ["r"]);
    assert_eq!(m.matches_for(r#"{"a": "1", "b": "2"}"#), ["r"]);
}

#[test]
fn allocation_free_api_reuses_buffers() {
    let mut b = MatcherBuilder::new();
    for i in 0..100 {
        b.add(format!("r{i}"), &format!(r#"{{"id": ["{i}"]}}"#))
            .unwrap();
    }
    let m = b.build();
    let (mut scratch, mut out) = (MatchScratch::default(), Vec::new());
    for i in 0..100 {
        let ev = format!(r#"{{"id": "{i}", "other": [1, 2, {{"x": "y"}}]}}"#);
        m.matching_rules(&mut scratch, ev.as_bytes(), &mut out)
            .unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(m.name(out[0]), format!("r{i}"));
        m.matching_rules_strict(&mut scratch, ev.as_bytes(), &mut out)
            .unwrap();
        assert_eq!(out.len(), 1);
    }
    assert!(m.heap_size() > 0);
}

#[test]
fn strict_mode_reports_malformed_events() {
    let p: Pattern = r#"{"a": ["x"]}"#.parse().unwrap();
    // The malformed part is in a field no rule reads: fast mode does not look at it.
    let ev = br#"{"a": "x", "b": [1, 2,, 3]}"#;
    assert!(p.matches(ev));
    assert!(matches!(
        p.try_matches(ev),
        Err(EventError::Malformed { .. })
    ));
    assert_eq!(p.try_matches(b"[1, 2]"), Err(EventError::NotAnObject));
    assert!(!p.matches("not json"));
    assert!(!p.matches_value(&serde_json::json!(["a"])));
}

#[test]
fn errors_carry_the_aws_reason() {
    let e: PatternError = Pattern::parse(r#"{"a": [{"numeric": [">", 0, "<"]}]}"#).unwrap_err();
    assert_eq!(e.reason(), "Value of < must be numeric");
    assert_eq!(e.kind(), ErrorKind::Invalid);
    assert_eq!(
        e.aws_message(),
        format!("{AWS_INVALID_PATTERN_PREFIX}Value of < must be numeric")
    );
    let e = Pattern::parse(r#"{"ip": [{"cidr": "1.2.3.4/33"}]}"#).unwrap_err();
    assert_eq!(
        (e.reason(), e.kind()),
        ("IPv4 mask bits must be < 32", ErrorKind::Value)
    );
    let e = Pattern::parse(r#"{"a": [{"wildcard": "*a*a*a*a*a*a*"}]}"#).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TooComplex);
    assert_eq!(Pattern::parse("{").unwrap_err().kind(), ErrorKind::Syntax);
}

#[test]
fn types_are_shareable() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Pattern>();
    assert_send_sync::<Matcher>();
    assert_send_sync::<PatternError>();
}

#[test]
fn matcher_is_usable_from_many_threads() {
    let mut b = MatcherBuilder::new();
    b.add(
        "even",
        r#"{"n": [{"numeric": ["=", 0]}, {"numeric": ["=", 2]}]}"#,
    )
    .unwrap();
    let m = std::sync::Arc::new(b.build());
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let m = m.clone();
            std::thread::spawn(move || {
                (0..200)
                    .filter(|i| {
                        !m.matches_for(format!(r#"{{"n": {}}}"#, (i + t) % 4))
                            .is_empty()
                    })
                    .count()
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), 100);
    }
}
