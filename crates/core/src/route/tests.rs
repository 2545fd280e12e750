use super::*;
use crate::structured::{parse_structured_value, to_structured_json};
use crate::subscription::{Config, Format};
use cloudevents::Event;
use serde_json::{json, Value};

fn config(text: &str) -> Config {
    Config::parse(text, Format::Yaml, "test").unwrap()
}

fn event(value: Value) -> Event {
    parse_structured_value(&value).unwrap()
}

fn order(ty: &str, extra: Value) -> Event {
    let mut v = json!({"specversion": "1.0", "id": "1", "source": "/shop/eu", "type": ty,
                           "subject": "order/1", "data": {"total": 120}});
    for (k, val) in extra.as_object().unwrap() {
        v[k] = val.clone();
    }
    event(v)
}

const SUBS: &str = r#"
- name: created
  types: [com.example.order.created]
  function: a
- name: created-or-updated
  types: [com.example.order.created, com.example.order.updated]
  function: b
- name: eu-only
  types: [com.example.order.created]
  source: /shop/eu
  function: c
- name: acme
  types: [com.example.order.created]
  filters: [{exact: {tenant: acme}}]
  function: d
- name: everything
  function: e
- name: not-orders
  filters: [{not: {prefix: {type: com.example.order.}}}]
  function: f
"#;

fn names(router: &Router, e: &Event) -> Vec<String> {
    router
        .route(&EventView::new(e))
        .iter()
        .map(|s| s.name.to_string())
        .collect()
}

#[test]
fn routes_by_type_source_and_filters() {
    let router = Router::new(config(SUBS).subscriptions);
    assert_eq!(
        names(&router, &order("com.example.order.created", json!({}))),
        ["created", "created-or-updated", "eu-only", "everything"]
    );
    assert_eq!(
        names(
            &router,
            &order(
                "com.example.order.created",
                json!({"tenant": "acme", "source": "/shop/us"})
            )
        ),
        ["created", "created-or-updated", "acme", "everything"]
    );
    assert_eq!(
        names(&router, &order("com.example.order.updated", json!({}))),
        ["created-or-updated", "everything"]
    );
    assert_eq!(
        names(&router, &order("com.example.user.created", json!({}))),
        ["everything", "not-orders"]
    );
}

#[test]
fn explain_agrees_with_route_and_says_why() {
    let router = Router::new(config(SUBS).subscriptions);
    for e in [
        order("com.example.order.created", json!({})),
        order("com.example.order.created", json!({"tenant": "acme"})),
        order("com.example.order.updated", json!({"source": "/x"})),
        order("other", json!({})),
    ] {
        let view = EventView::new(&e);
        let routed: Vec<String> = router
            .route(&view)
            .iter()
            .map(|s| s.name.to_string())
            .collect();
        let explained: Vec<String> = router
            .explain(&view)
            .into_iter()
            .filter(|x| x.matched)
            .map(|x| x.subscription)
            .collect();
        assert_eq!(routed, explained);
    }
    let explanation = router.explain(&EventView::new(&order(
        "com.example.order.created",
        json!({"tenant": "x"}),
    )));
    let acme = explanation
        .iter()
        .find(|x| x.subscription == "acme")
        .unwrap();
    assert!(!acme.matched);
    assert_eq!(
        acme.checks,
        vec![
            Check {
                passed: true,
                what: "type \"com.example.order.created\" is in types".into()
            },
            Check {
                passed: false,
                what: "filters[0] {\"exact\":{\"tenant\":\"acme\"}} is false".into()
            },
        ]
    );
}

#[test]
fn patterns_match_the_structured_form_data_included() {
    let router = Router::new(
        config(
            r#"
- name: big-orders
  types: [com.example.order.created]
  pattern: {data: {total: [{numeric: [">=", 100]}]}}
  function: a
- name: eu-by-pattern
  pattern: '{"source": [{"suffix": "/eu"}], "subject": [{"prefix": "order/"}]}'
  function: b
- name: big-and-acme
  types: [com.example.order.created]
  filters: [{exact: {tenant: acme}}]
  pattern: {data: {total: [{numeric: [">=", 100]}]}}
  function: c
"#,
        )
        .subscriptions,
    );
    let big = order("com.example.order.created", json!({}));
    assert_eq!(names(&router, &big), ["big-orders", "eu-by-pattern"]);
    let small = order(
        "com.example.order.created",
        json!({"data": {"total": 5}, "source": "/us"}),
    );
    assert!(names(&router, &small).is_empty());
    let acme = order("com.example.order.created", json!({"tenant": "acme"}));
    assert_eq!(
        names(&router, &acme),
        ["big-orders", "eu-by-pattern", "big-and-acme"]
    );
    let why = router.explain(&EventView::new(&small));
    assert_eq!(
        why[0].checks[1],
        Check {
            passed: false,
            what: r#"pattern {"data":{"total":[{"numeric":[">=",100]}]}} does not match"#.into()
        }
    );
    for e in [&big, &small, &acme] {
        let view = EventView::new(e);
        let explained: Vec<String> = router
            .explain(&view)
            .into_iter()
            .filter(|x| x.matched)
            .map(|x| x.subscription)
            .collect();
        assert_eq!(names(&router, e), explained);
    }
}

/// Routing reads attributes from the event and hands the matcher borrowed fields; explain
/// uses the assembled structured JSON. Both must agree for every attribute kind.
#[test]
fn field_by_field_matching_agrees_with_the_structured_form() {
    let router = Router::new(
        config(
            r#"
- {name: time, pattern: '{"time": [{"prefix": "2024-05-01T10:00:00"}]}', function: a}
- {name: bool-ext, pattern: '{"flag": [true]}', function: a}
- {name: int-ext, pattern: '{"count": [{"numeric": [">", 5]}]}', function: a}
- {name: str-ext, pattern: '{"tenant": ["acme"]}', function: a}
- {name: string-data, pattern: '{"data": [{"prefix": "hello"}]}', function: a}
- {name: json-data, pattern: '{"data": {"items": {"sku": ["b"]}}}', function: a}
- {name: no-data, pattern: '{"data": [{"exists": false}], "specversion": ["1.0"]}', function: a}
- {name: schema, pattern: '{"dataschema": [{"prefix": "https://"}]}', function: a}
- {name: ctype, pattern: '{"datacontenttype": ["text/plain"]}', function: a}
- {name: filter-int, filters: [{exact: {count: "7"}}], function: a}
- {name: filter-bool, filters: [{exact: {flag: "true"}}], function: a}
- {name: filter-time, filters: [{prefix: {time: "2024-05-01T10:00:00"}}], function: a}
- {name: binary, pattern: '{"data_base64": [{"exists": true}]}', function: a}
"#,
        )
        .subscriptions,
    );
    let base = json!({"specversion": "1.0", "id": "1", "source": "/s", "type": "t"});
    let with = |extra: Value| {
        let mut v = base.clone();
        for (k, val) in extra.as_object().unwrap() {
            v[k] = val.clone();
        }
        event(v)
    };
    let events = [
        with(
            json!({"time": "2024-05-01T10:00:00Z", "flag": true, "count": 7, "tenant": "acme",
                        "data": {"items": [{"sku": "a"}, {"sku": "b"}]}}),
        ),
        with(
            json!({"datacontenttype": "text/plain", "data": "hello world", "flag": false, "count": 3}),
        ),
        with(
            json!({"dataschema": "https://example.com/s.json", "time": "2024-05-01T10:00:00.5+02:00"}),
        ),
        with(json!({"data_base64": "aGVsbG8="})),
        with(json!({})),
    ];
    let mut seen = HashSet::new();
    for e in &events {
        let view = EventView::new(e);
        let routed: Vec<String> = router
            .route(&view)
            .iter()
            .map(|s| s.name.to_string())
            .collect();
        let explained: Vec<String> = router
            .explain(&EventView::new(e))
            .into_iter()
            .filter(|x| x.matched)
            .map(|x| x.subscription)
            .collect();
        assert_eq!(routed, explained, "event {}", to_structured_json(e));
        seen.extend(routed);
    }
    // Every subscription matched some event, so the agreement above is not vacuous.
    let all: HashSet<String> = router
        .subscriptions()
        .iter()
        .map(|s| s.name.to_string())
        .collect();
    let missing: Vec<_> = all.difference(&seen).collect();
    assert!(missing.is_empty(), "never matched: {missing:?}");
}

#[test]
fn routing_many_subscriptions_visits_only_the_type() {
    // 10,000 subscriptions of distinct types: routing an event touches one bucket.
    let subs: Vec<Value> = (0..10_000)
        .map(|i| json!({"name": format!("s{i}"), "types": [format!("t{i}")], "function": "f"}))
        .collect();
    let router = Router::new(
        Config::from_value(&Value::Array(subs), "gen")
            .unwrap()
            .subscriptions,
    );
    let e = event(json!({"specversion": "1.0", "id": "1", "source": "s", "type": "t9876"}));
    assert_eq!(names(&router, &e), ["s9876"]);
    assert_eq!(router.by_type.get("t9876").map(Group::len), Some(1));
    assert_eq!(router.any_type.len(), 0);
}
