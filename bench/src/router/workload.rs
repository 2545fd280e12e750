//! What the router is benchmarked on: generated subscriptions and the bench event.

use eventferry_core::subscription::Config;
use serde_json::{json, Value};

/// `n` subscriptions: 40 % type-only, 30 % filtered, 30 % patterned (half of those for every
/// type). Types are spread so each has about 10 subscriptions; the bench event's type is
/// `com.example.t0`. About 9 of them match the bench event at every size, so the handler's
/// fan-out stays the same and only the routing work grows.
pub fn subscriptions(n: usize) -> Value {
    let types = (n / 10).max(1);
    let subs: Vec<Value> = (0..n)
        .map(|i| {
            let ty = format!("com.example.t{}", i % types);
            let mut s = json!({"name": format!("sub-{i}"), "function": format!("fn-{i}")});
            match i % 10 {
                0..=3 => s["types"] = json!([ty]),
                4..=6 => {
                    s["types"] = json!([ty]);
                    s["filters"] = json!([
                        {"exact": {"tenant": if i % 3 == 0 { "acme" } else { "globex" }}},
                        {"prefix": {"subject": "orders/"}}
                    ]);
                }
                _ if i % 2 == 0 => {
                    s["types"] = json!([ty]);
                    s["pattern"] = json!({"data": {
                        "total": [{"numeric": [">=", 100]}],
                        "items": {"sku": [{"prefix": "sku-"}]}
                    }});
                }
                _ => {
                    // No types: a candidate for every event, decided by the pattern matcher.
                    s["pattern"] = json!({"data": {
                        "customer": {"id": [format!("c-{i}")]},
                        "total": [{"numeric": [">", 10]}]
                    }});
                }
            }
            s
        })
        .collect();
    Value::Array(subs)
}

/// A structured CloudEvent of type `com.example.t0` that about 9 subscriptions match.
pub fn bench_event() -> Value {
    json!({
        "specversion": "1.0",
        "id": "bench-1",
        "source": "urn:eventferry:bench",
        "type": "com.example.t0",
        "subject": "orders/123",
        "tenant": "acme",
        "time": "2026-11-23T10:00:00Z",
        "datacontenttype": "application/json",
        "data": {
            "orderId": "order-123",
            "customer": {"id": "c-7", "tier": "gold"},
            "total": 500,
            "items": [{"sku": "sku-1", "qty": 2, "price": 12.5}, {"sku": "sku-9", "qty": 1, "price": 99.0}],
            "shipping": {"country": "DE", "city": "Berlin"}
        }
    })
}
/// The parsed configuration of [`subscriptions`]`(n)`.
pub fn config(n: usize) -> Config {
    Config::from_value(&subscriptions(n), "bench").expect("generated subscriptions are valid")
}
