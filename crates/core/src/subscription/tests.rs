use super::*;

fn yaml(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Format::Yaml, "test.yaml")
}

#[test]
fn reads_the_documented_yaml() {
    let config = yaml(
        r#"
subscriptions:
  - name: orders-to-billing
    types: [com.example.order.created, com.example.order.updated]
    source: /shop/orders
    filters:
      - prefix: {subject: order/}
      - not: {exact: {tenant: test}}
    function: billing
    mode: async
  - name: audit-webhook
    types: com.example.order.created
    http: https://audit.example.com/events
    headers: {Authorization: Bearer secret-token}
  - name: everything
    function: arn:aws:lambda:us-east-1:000000000000:function:recorder
    content_type: application/json
plugins:
  - name: gatekeeper
    types: [eventferry.event.received]
    function: gatekeeper
  - name: metrics
    http: http://127.0.0.1:9999/metrics
    mode: async
"#,
    )
    .unwrap();
    assert_eq!(config.subscriptions.len(), 3);
    let billing = &config.subscriptions[0];
    assert_eq!(&*billing.name, "orders-to-billing");
    assert_eq!(billing.kind, Kind::Subscription);
    assert_eq!(
        billing.types.as_deref(),
        Some(
            &[
                "com.example.order.created".to_owned(),
                "com.example.order.updated".to_owned()
            ][..]
        )
    );
    assert_eq!(billing.source.as_deref(), Some("/shop/orders"));
    assert_eq!(billing.filters.len(), 2);
    assert_eq!(billing.target, Target::Function("billing".into()));
    assert_eq!(billing.mode, Mode::Async);
    assert_eq!(billing.delivery, Delivery::Structured);
    let audit = &config.subscriptions[1];
    assert_eq!(
        audit.types.as_deref().unwrap(),
        ["com.example.order.created"]
    );
    assert_eq!(audit.delivery, Delivery::Binary);
    assert!(!format!("{:?}", audit.target).contains("secret-token"));
    assert!(!audit.summary().to_string().contains("secret-token"));
    assert_eq!(config.subscriptions[2].types, None);
    assert_eq!(
        config.subscriptions[2].delivery,
        Delivery::Data("application/json".into())
    );
    assert_eq!(config.plugins.len(), 2);
    assert_eq!(config.plugins[0].kind, Kind::Plugin);
    assert_eq!(config.plugins[1].mode, Mode::Async);
    assert!(config
        .subscriptions
        .iter()
        .chain(&config.plugins)
        .any(|s| &*s.name == "metrics"));
}

#[test]
fn reads_a_bare_json_list() {
    let config = Config::parse(
        r#"[{"name":"a","types":["t"],"function":"f"}]"#,
        Format::Json,
        "EVENTFERRY_SUBSCRIPTIONS",
    )
    .unwrap();
    assert_eq!(&*config.subscriptions[0].name, "a");
    assert!(config.plugins.is_empty());
    assert!(Config::parse("", Format::Yaml, "empty.yaml")
        .unwrap()
        .subscriptions
        .is_empty());
}

#[test]
fn errors_name_the_subscription_and_the_field() {
    let cases: &[(&str, &str)] = &[
        (
            "- {name: a, types: [t], function: f}\n- {name: a, types: [t], function: g}",
            r#"subscription "a" (subscriptions[1]), field "name": another subscription or plugin already has this name"#,
        ),
        (
            "- {types: [t], function: f}",
            r#"subscription #0 (subscriptions[0]), field "name": every subscription needs a name"#,
        ),
        (
            "- {name: a, type: [t], function: f}",
            r#"subscription "a" (subscriptions[0]), field "type": unknown field"#,
        ),
        (
            "- {name: a, types: [], function: f}",
            r#"field "types": must list at least one CloudEvent type"#,
        ),
        (
            "- {name: a, types: [t, 3], function: f}",
            r#"field "types[1]": must be a non-empty string"#,
        ),
        (
            "- {name: a, types: [t]}",
            r#"subscription "a" (subscriptions[0]), field "function": every subscription needs a target"#,
        ),
        (
            "- {name: a, types: [t], function: f, http: 'http://x'}",
            r#"field "function": give either `function` or `http`, not both"#,
        ),
        (
            "- {name: a, types: [t], function: 'my function'}",
            r#"field "function": "my function" is not a Lambda function name or ARN"#,
        ),
        (
            "- {name: a, types: [t], function: 'arn:aws:sqs:us-east-1:1:q'}",
            r#"is not a Lambda function ARN"#,
        ),
        (
            "- {name: a, types: [t], http: 'ftp://x/y'}",
            r#"field "http": "ftp://x/y" is not an http(s) URL"#,
        ),
        (
            "- {name: a, types: [t], http: 'not a url'}",
            r#"field "http": "not a url" is not a URL"#,
        ),
        (
            "- {name: a, types: [t], function: f, mode: later}",
            r#"field "mode": must be sync or async, got "later""#,
        ),
        (
            "- {name: a, types: [t], http: 'http://x', mode: async}",
            r#"field "mode": async applies to function targets"#,
        ),
        (
            "- {name: a, types: [t], function: f, headers: {A: b}}",
            r#"field "headers": headers apply to `http` targets only"#,
        ),
        (
            "- {name: a, types: [t], http: 'http://x', headers: {'bad name': b}}",
            r#"field "headers.bad name": is not a valid HTTP header name"#,
        ),
        (
            "- {name: a, types: [t], http: 'http://x', headers: {ce-id: b}}",
            r#"field "headers.ce-id": is set by the router"#,
        ),
        (
            "- {name: a, types: [t], http: 'http://x', headers: {X-Key: \"s3cr\\net\"}}",
            r#"field "headers.X-Key": the value must be printable ASCII"#,
        ),
        (
            "- {name: a, types: [t], function: f, content_type: text/plain}",
            r#"field "content_type": "text/plain" can't be sent to a function"#,
        ),
        (
            "- {name: a, types: [t], http: 'http://x', content_type: nonsense}",
            r#"field "content_type": "nonsense" is not a media type"#,
        ),
        (
            "- {name: a, types: [t], function: f, filters: [{exact: {Type: x}}]}",
            r#"subscription "a" (subscriptions[0]), field "filters[0].exact": attribute name "Type""#,
        ),
        (
            "- {name: a, types: [t], function: f, pattern: [1]}",
            r#"field "pattern": must be an EventBridge pattern"#,
        ),
        (
            "- {name: big, types: [t], function: f, pattern: {data: {n: [{NUMERIC: ['>', 5]}]}}}",
            r#"subscription "big" (subscriptions[0]), field "pattern": invalid EventBridge pattern: Unrecognized match type NUMERIC"#,
        ),
        (
            "- {name: big, types: [t], function: f, pattern: '{\"data\": '}",
            r#"subscription "big" (subscriptions[0]), field "pattern": invalid EventBridge pattern: "#,
        ),
        (
            "plugins:\n- {name: p, types: [com.example.x], function: f}",
            r#"plugin "p" (plugins[0]), field "types[0]": "com.example.x" is not a system event type"#,
        ),
        (
            "subscriptions: {name: a}",
            r#"subscriptions test.yaml: `subscriptions` must be a list, got an object"#,
        ),
        (
            "subscription: []",
            r#"subscriptions test.yaml: unknown top-level key "subscription""#,
        ),
        ("42", "must be a list of subscriptions"),
        ("- [a", "subscriptions test.yaml is not valid YAML"),
        (
            "- 3",
            r#"subscription #0 (subscriptions[0]), field "": each subscription must be an object"#,
        ),
    ];
    for (text, expected) in cases {
        let message = yaml(text).unwrap_err().to_string();
        assert!(
            message.contains(expected),
            "{text}\n  got:      {message}\n  expected: {expected}"
        );
    }
    let err = Config::parse("{", Format::Json, "inline").unwrap_err();
    assert!(err
        .to_string()
        .starts_with("subscriptions inline is not valid JSON"));
}

#[test]
fn format_follows_the_extension() {
    assert_eq!(Format::from_path("subs.JSON"), Format::Json);
    assert_eq!(Format::from_path("subs.yaml"), Format::Yaml);
    assert_eq!(Format::from_path("subs.yml"), Format::Yaml);
}

#[test]
fn every_documented_field_is_accepted_and_others_are_listed() {
    // FIELDS (used in the unknown-field message) and the serde-derived Entry agree.
    let entry: serde_json::Map<String, Value> = super::entry::FIELDS
        .iter()
        .map(|&field| (field.to_owned(), Value::Null))
        .collect();
    let mut entry = Value::Object(entry);
    entry["name"] = "all".into();
    entry["http"] = "https://example.com/events".into();
    entry["description"] = serde_json::json!({"free": ["text"]});
    let config = Config::from_value(&Value::Array(vec![entry]), "test").unwrap();
    assert_eq!(&*config.subscriptions[0].name, "all");
    let message = yaml("- {name: a, function: f, target: g}")
        .unwrap_err()
        .to_string();
    assert_eq!(
        message,
        "subscription \"a\" (subscriptions[0]), field \"target\": unknown field: the fields are \
         name, types, source, filters, pattern, function, mode, http, headers, content_type, \
         description, created"
    );
}

#[test]
fn null_fields_count_as_absent_except_headers_on_a_function() {
    let config = yaml(
        "- {name: a, types: null, source: null, filters: null, pattern: null, function: f, \
         mode: null, content_type: null}\n- {name: b, http: 'http://x', headers: null}",
    )
    .unwrap();
    assert_eq!(config.subscriptions[0].types, None);
    assert_eq!(config.subscriptions[0].delivery, Delivery::Structured);
    assert_eq!(config.subscriptions[1].delivery, Delivery::Binary);
    let message = yaml("- {name: a, function: f, headers: null}")
        .unwrap_err()
        .to_string();
    assert!(
        message.contains(r#"field "headers": headers apply to `http` targets only"#),
        "{message}"
    );
    let message = yaml("plugins: null\nsubscriptions: null\nextra: 1")
        .unwrap_err()
        .to_string();
    assert!(
        message.contains(r#"unknown top-level key "extra""#),
        "{message}"
    );
}
