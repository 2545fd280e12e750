//! What a function target is sent: the invoke payload of a subscription (always JSON). HTTP
//! targets are encoded by [`crate::binding`].

use base64::Engine;
use cloudevents::{Data, Event};
use serde_json::Value;

use crate::structured::to_structured_bytes;
use crate::subscription::{Delivery, Subscription};

/// What a function target is sent: the invoke payload for `sub` (always JSON).
pub fn function_payload(sub: &Subscription, event: &Event) -> Vec<u8> {
    match &sub.delivery {
        Delivery::Data(_) => {
            let data = match event.data() {
                None => Value::Null,
                Some(Data::Json(v)) => v.clone(),
                Some(Data::String(s)) => Value::String(s.clone()),
                Some(Data::Binary(b)) => {
                    Value::String(base64::engine::general_purpose::STANDARD.encode(b))
                }
            };
            serde_json::to_vec(&data).expect("JSON values serialize")
        }
        Delivery::Structured | Delivery::Binary => to_structured_bytes(event),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::structured::parse_structured_value;
    use crate::subscription::{Config, Format};
    use serde_json::json;

    fn order(ty: &str) -> Event {
        parse_structured_value(
            &json!({"specversion": "1.0", "id": "1", "source": "/shop/eu",
            "type": ty, "subject": "order/1", "data": {"total": 120}}),
        )
        .unwrap()
    }

    #[test]
    fn function_payloads_follow_content_type() {
        let c = Config::parse(
            "- {name: whole, types: [t], function: f}\n- {name: data, types: [t], function: f, content_type: application/json}",
            Format::Yaml,
            "test",
        )
        .unwrap();
        let e = order("t");
        let whole: Value =
            serde_json::from_slice(&function_payload(&c.subscriptions[0], &e)).unwrap();
        assert_eq!(whole["id"], "1");
        assert_eq!(whole["data"]["total"], 120);
        let data: Value =
            serde_json::from_slice(&function_payload(&c.subscriptions[1], &e)).unwrap();
        assert_eq!(data, json!({"total": 120}));
    }
}
