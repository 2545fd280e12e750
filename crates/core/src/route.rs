//! Routing decisions: which subscriptions an event matches, what each target is sent, and what
//! happens after the invocations — acknowledge, retry one subscriber, dead-letter, or let the
//! input redeliver.
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
//! # Retries without re-invoking successes
//!
//! See [`decide`]: a failed (event, subscription) pair is retried on its own, as a
//! [`RetryMessage`] naming that one subscription, so a retry never invokes a subscriber that
//! already succeeded for the event. The input itself is redelivered only when no subscriber
//! succeeded.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::{HashMap, HashSet};

use base64::Engine;
use cloudevents::event::{ExtensionValue, SpecVersion};
use cloudevents::{AttributesReader, Data, Event};
use serde_json::{json, Value};

use crate::mapping::{
    parse_structured_value, structured_time, to_structured_bytes, to_structured_json,
    with_structured_fields,
};
use crate::pattern_set::PatternSet;
use crate::subscription::{Delivery, Mode, Subscription, Target};

/// An event prepared for matching. Routing reads the attributes straight from the event and
/// hands the pattern matcher the attributes plus a borrowed `data`, so nothing is cloned per
/// event; the whole structured JSON form is built only if asked for ([`EventView::json`]).
#[derive(Debug)]
pub struct EventView<'a> {
    event: &'a Event,
    /// [`structured_time`], rendered once on first use.
    time: OnceCell<Option<String>>,
    json: OnceCell<Value>,
}

impl<'a> EventView<'a> {
    pub fn new(event: &'a Event) -> Self {
        EventView {
            event,
            time: OnceCell::new(),
            json: OnceCell::new(),
        }
    }

    /// The structured JSON form (what patterns match).
    pub fn json(&self) -> &Value {
        self.json.get_or_init(|| to_structured_json(self.event))
    }

    fn time(&self) -> Option<&str> {
        self.time
            .get_or_init(|| structured_time(self.event))
            .as_deref()
    }

    /// Attribute `name` as text, as [`crate::filter::attribute_text`] reads it from the
    /// structured form (what filters match); `data` is not an attribute.
    pub fn attribute_text(&self, name: &str) -> Option<Cow<'_, str>> {
        if self.event.specversion() != SpecVersion::V10 {
            return crate::filter::attribute_text(self.json().as_object()?, name);
        }
        let e = self.event;
        let borrowed = |s: &'a str| Some(Cow::Borrowed(s));
        match name {
            "specversion" => borrowed("1.0"),
            "id" => borrowed(e.id()),
            "type" => borrowed(e.ty()),
            "source" => borrowed(e.source().as_str()),
            "datacontenttype" => e.datacontenttype().map(Cow::Borrowed),
            "dataschema" => e.dataschema().map(|u| Cow::Borrowed(u.as_str())),
            "subject" => e.subject().map(Cow::Borrowed),
            "time" => self.time().map(Cow::Borrowed),
            "data" | "data_base64" => None,
            _ => match e.extension(name)? {
                ExtensionValue::String(v) => Some(Cow::Borrowed(v.as_str())),
                ExtensionValue::Boolean(b) => Some(Cow::Owned(b.to_string())),
                ExtensionValue::Integer(i) => Some(Cow::Owned(i.to_string())),
            },
        }
    }

    /// Whether `filter` holds for this event.
    fn passes(&self, filter: &crate::filter::Filter) -> bool {
        filter.matches_with(&|name: &str| self.attribute_text(name))
    }
}

/// Subscriptions compiled for matching.
#[derive(Debug)]
pub struct Router {
    subscriptions: Vec<Subscription>,
    by_type: HashMap<String, Group>,
    any_type: Group,
    by_name: HashMap<String, usize>,
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
            || with_structured_fields(event.event, event.time(), |fields| {
                self.patterns.matching_fields_into(fields, out)
            })
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

fn explain_one(sub: &Subscription, event: &EventView) -> Explanation {
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
        subscription: sub.name.clone(),
        matched: checks.iter().all(|c| c.passed),
        checks,
    }
}

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

/// How one invocation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// A sync target ran and succeeded.
    Succeeded,
    /// An async target accepted the event.
    Accepted,
    /// The target failed, or could not be reached.
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Succeeded => "succeeded",
            Status::Accepted => "accepted",
            Status::Failed => "failed",
        }
    }
}

/// The recorded result of invoking one subscriber: every result is kept (status, duration,
/// error), for the response, system events and logs.
#[derive(Debug, Clone, PartialEq)]
pub struct InvocationResult {
    pub subscription: String,
    /// The function name/ARN or the URL.
    pub target: String,
    pub mode: Mode,
    /// 1 for the first delivery of the event to this subscriber.
    pub attempt: u32,
    pub status: Status,
    /// Lambda's or the HTTP target's status code, when there was an answer.
    pub status_code: Option<u16>,
    pub duration_ms: u64,
    pub error: Option<String>,
    /// The function's JSON answer, when it gave one (kept small by the caller).
    pub response: Option<Value>,
}

impl InvocationResult {
    pub fn failed(&self) -> bool {
        self.status == Status::Failed
    }

    /// The result as JSON (for responses and system events).
    pub fn result_json(&self) -> Value {
        let mut v = json!({"status": self.status.as_str(), "mode": self.mode.to_string()});
        if let Some(code) = self.status_code {
            v["status_code"] = code.into();
        }
        if let Some(response) = &self.response {
            v["response"] = response.clone();
        }
        v
    }

    /// Everything, as one JSON object.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "subscription": self.subscription,
            "target": self.target,
            "attempt": self.attempt,
            "status": self.status.as_str(),
            "mode": self.mode.to_string(),
            "duration_ms": self.duration_ms,
        });
        if let Some(code) = self.status_code {
            v["status_code"] = code.into();
        }
        if let Some(error) = &self.error {
            v["error"] = error.clone().into();
        }
        v
    }
}

/// The target description used in results and system events.
pub fn target_name(target: &Target) -> String {
    match target {
        Target::Function(name) => name.clone(),
        Target::Http { url, .. } => url.clone(),
    }
}

/// How failed pairs are retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Whether a retry queue is configured.
    pub retry_queue: bool,
    /// Whether a dead-letter queue is configured.
    pub dead_letter_queue: bool,
    /// Attempts per (event, subscription), the first included. At least 1.
    pub max_attempts: u32,
    /// Delay before attempt 2; doubles per attempt, capped at `max_delay_secs`.
    pub base_delay_secs: u32,
    /// At most 900 (SQS's limit).
    pub max_delay_secs: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            retry_queue: false,
            dead_letter_queue: false,
            max_attempts: 3,
            base_delay_secs: 10,
            max_delay_secs: 900,
        }
    }
}

impl RetryPolicy {
    /// The delay before attempt `next` (2 or more).
    pub fn delay_before(&self, next: u32) -> u32 {
        let doublings = next.saturating_sub(2).min(20);
        self.base_delay_secs
            .saturating_mul(1 << doublings)
            .min(self.max_delay_secs.min(900))
    }
}

/// What to do with one failed (event, subscription) pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PairAction {
    /// Write a retry message for attempt `attempt`, delayed by `delay_secs`.
    Retry { attempt: u32, delay_secs: u32 },
    /// Write it to the dead-letter queue: attempts are used up.
    DeadLetter,
    /// Leave it to the input's redelivery (nothing succeeded, so that re-invokes no success).
    Redeliver,
    /// Record it and give up (no queue to put it in, and redelivery would re-invoke a success).
    Drop { reason: String },
}

impl PairAction {
    /// What the system event says about it.
    pub fn describe(&self) -> String {
        match self {
            PairAction::Retry {
                attempt,
                delay_secs,
            } => {
                format!("retry queued (attempt {attempt}, in {delay_secs}s)")
            }
            PairAction::DeadLetter => "dead-lettered: attempts used up".into(),
            PairAction::Redeliver => "redelivered by the input".into(),
            PairAction::Drop { reason } => format!("dropped: {reason}"),
        }
    }
}

/// What to do with the input (message, invoke or request) once its pairs are handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Acknowledge: delete the SQS message, return success.
    Ack,
    /// Fail the input so its source delivers it again (batchItemFailures, an error result, 5xx).
    Redeliver,
}

/// The decision for one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub disposition: Disposition,
    /// One action per failed result, by subscription name.
    pub failed: Vec<(String, PairAction)>,
}

/// Decides what happens after `results` for one event.
///
/// - No failure: acknowledge.
/// - With a retry queue: each failed pair gets its own retry message (attempt + 1, with
///   backoff), or goes to the dead-letter queue once `max_attempts` are used (dropped, and
///   reported, without one); then the input is acknowledged.
/// - Without a retry queue: if no subscriber succeeded and the input can be redelivered, the
///   input is redelivered (which re-invokes only failed subscribers); otherwise the failures
///   are dropped and reported: redelivering would re-invoke a subscriber that succeeded.
///
/// `can_redeliver` is false for inputs nobody will send again.
pub fn decide(results: &[InvocationResult], policy: &RetryPolicy, can_redeliver: bool) -> Decision {
    let failures: Vec<&InvocationResult> = results.iter().filter(|r| r.failed()).collect();
    if failures.is_empty() {
        return Decision {
            disposition: Disposition::Ack,
            failed: Vec::new(),
        };
    }
    let any_success = failures.len() < results.len();
    if policy.retry_queue {
        let failed = failures
            .iter()
            .map(|r| {
                let action = if r.attempt < policy.max_attempts.max(1) {
                    PairAction::Retry {
                        attempt: r.attempt + 1,
                        delay_secs: policy.delay_before(r.attempt + 1),
                    }
                } else if policy.dead_letter_queue {
                    PairAction::DeadLetter
                } else {
                    PairAction::Drop {
                        reason: format!(
                            "{} attempts used up and no dead-letter queue is configured",
                            r.attempt
                        ),
                    }
                };
                (r.subscription.clone(), action)
            })
            .collect();
        return Decision {
            disposition: Disposition::Ack,
            failed,
        };
    }
    if !any_success && can_redeliver {
        return Decision {
            disposition: Disposition::Redeliver,
            failed: failures
                .iter()
                .map(|r| (r.subscription.clone(), PairAction::Redeliver))
                .collect(),
        };
    }
    let reason = if any_success {
        "no retry queue is configured, and redelivering the input would re-invoke the \
         subscribers that succeeded"
    } else {
        "no retry queue is configured and the input is not redelivered"
    };
    Decision {
        disposition: Disposition::Ack,
        failed: failures
            .iter()
            .map(|r| {
                (
                    r.subscription.clone(),
                    PairAction::Drop {
                        reason: reason.into(),
                    },
                )
            })
            .collect(),
    }
}

/// When writing a retry or dead-letter message failed for some pairs: redeliver the input if
/// that is safe (no subscriber succeeded), else drop those pairs.
pub fn after_write_failure(
    results: &[InvocationResult],
    can_redeliver: bool,
    error: &str,
) -> (Disposition, PairAction) {
    let any_success = results.iter().any(|r| !r.failed());
    if !any_success && can_redeliver {
        (Disposition::Redeliver, PairAction::Redeliver)
    } else {
        (
            Disposition::Ack,
            PairAction::Drop {
                reason: format!(
                    "could not write the retry message ({error}); redelivering would \
                     re-invoke the subscribers that succeeded"
                ),
            },
        )
    }
}

/// Marker key of a retry message.
pub const RETRY_KEY: &str = "eventferry_retry";

/// One failed (event, subscription) pair, as written to the retry or dead-letter queue: the
/// next run invokes that subscription only.
///
/// ```json
/// {"eventferry_retry": {"subscription": "billing", "attempt": 2, "error": "..."},
///  "event": { ...structured CloudEvent... }}
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RetryMessage {
    pub subscription: String,
    /// The attempt this message is for (2 for the first retry).
    pub attempt: u32,
    /// The last error.
    pub error: String,
    pub event: Event,
}

/// A JSON value that has the retry marker but is not a valid retry message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("retry message is invalid: {0}")]
pub struct RetryMessageError(pub String);

impl RetryMessage {
    pub fn to_json(&self) -> Value {
        json!({
            RETRY_KEY: {
                "subscription": self.subscription,
                "attempt": self.attempt,
                "error": self.error,
            },
            "event": to_structured_json(&self.event),
        })
    }

    pub fn to_body(&self) -> String {
        self.to_json().to_string()
    }

    /// `None` if `value` is not a retry message at all.
    pub fn parse(value: &Value) -> Option<Result<RetryMessage, RetryMessageError>> {
        let meta = value.as_object()?.get(RETRY_KEY)?;
        Some((|| {
            let err = |m: &str| RetryMessageError(m.to_owned());
            let subscription = meta
                .get("subscription")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| err("`subscription` must be a non-empty string"))?;
            let attempt = meta
                .get("attempt")
                .and_then(Value::as_u64)
                .filter(|a| (1..=u32::MAX as u64).contains(a))
                .ok_or_else(|| err("`attempt` must be a positive integer"))?;
            let error = meta
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let event = value
                .get("event")
                .ok_or_else(|| err("`event` is missing"))?;
            let event = parse_structured_value(event)
                .map_err(|e| RetryMessageError(format!("`event`: {e}")))?;
            Ok(RetryMessage {
                subscription: subscription.to_owned(),
                attempt: attempt as u32,
                error: error.to_owned(),
                event,
            })
        })())
    }
}

/// A short, log-safe identification of an event.
pub fn event_label(event: &Event) -> String {
    format!("{} {}#{}", event.ty(), event.source(), event.id())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::subscription::{Config, Format};

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
            .map(|s| s.name.clone())
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
            let routed: Vec<String> = router.route(&view).iter().map(|s| s.name.clone()).collect();
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
                what: r#"pattern {"data":{"total":[{"numeric":[">=",100]}]}} does not match"#
                    .into()
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
            let routed: Vec<String> = router.route(&view).iter().map(|s| s.name.clone()).collect();
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
            .map(|s| s.name.clone())
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

    #[test]
    fn function_payloads_follow_content_type() {
        let c = config(
            "- {name: whole, types: [t], function: f}\n- {name: data, types: [t], function: f, content_type: application/json}",
        );
        let e = order("t", json!({}));
        let whole: Value =
            serde_json::from_slice(&function_payload(&c.subscriptions[0], &e)).unwrap();
        assert_eq!(whole["id"], "1");
        assert_eq!(whole["data"]["total"], 120);
        let data: Value =
            serde_json::from_slice(&function_payload(&c.subscriptions[1], &e)).unwrap();
        assert_eq!(data, json!({"total": 120}));
    }

    fn result(sub: &str, attempt: u32, status: Status) -> InvocationResult {
        InvocationResult {
            subscription: sub.into(),
            target: sub.into(),
            mode: Mode::Sync,
            attempt,
            status,
            status_code: None,
            duration_ms: 1,
            error: (status == Status::Failed).then(|| "boom".into()),
            response: None,
        }
    }

    #[test]
    fn decisions_never_redeliver_after_a_success() {
        let ok = result("ok", 1, Status::Succeeded);
        let accepted = result("async", 1, Status::Accepted);
        let bad = result("bad", 1, Status::Failed);
        let no_queue = RetryPolicy::default();
        let queue = RetryPolicy {
            retry_queue: true,
            dead_letter_queue: true,
            ..RetryPolicy::default()
        };
        // All succeeded.
        assert_eq!(
            decide(&[ok.clone(), accepted.clone()], &no_queue, true).disposition,
            Disposition::Ack
        );
        assert_eq!(decide(&[], &no_queue, true).disposition, Disposition::Ack);
        // Nothing succeeded, no queue: the input redelivers.
        let d = decide(std::slice::from_ref(&bad), &no_queue, true);
        assert_eq!(d.disposition, Disposition::Redeliver);
        assert_eq!(d.failed, vec![("bad".into(), PairAction::Redeliver)]);
        // Nothing succeeded, no queue, nobody redelivers: dropped and reported.
        let d = decide(std::slice::from_ref(&bad), &no_queue, false);
        assert_eq!(d.disposition, Disposition::Ack);
        assert!(matches!(d.failed[0].1, PairAction::Drop { .. }));
        // Something succeeded, no queue: never redeliver.
        for redeliverable in [true, false] {
            let d = decide(&[ok.clone(), bad.clone()], &no_queue, redeliverable);
            assert_eq!(d.disposition, Disposition::Ack);
            assert!(
                matches!(&d.failed[..], [(name, PairAction::Drop { reason })] if name == "bad" && reason.contains("re-invoke"))
            );
        }
        // With a queue: each failure is retried on its own, the input acknowledged.
        let d = decide(
            &[ok.clone(), bad.clone(), result("bad2", 1, Status::Failed)],
            &queue,
            true,
        );
        assert_eq!(d.disposition, Disposition::Ack);
        assert_eq!(
            d.failed,
            vec![
                (
                    "bad".into(),
                    PairAction::Retry {
                        attempt: 2,
                        delay_secs: 10
                    }
                ),
                (
                    "bad2".into(),
                    PairAction::Retry {
                        attempt: 2,
                        delay_secs: 10
                    }
                ),
            ]
        );
        // Attempts used up: dead letter, or drop without a DLQ.
        let last = result("bad", 3, Status::Failed);
        assert_eq!(
            decide(std::slice::from_ref(&last), &queue, true).failed[0].1,
            PairAction::DeadLetter
        );
        let no_dlq = RetryPolicy {
            dead_letter_queue: false,
            ..queue.clone()
        };
        assert!(matches!(
            decide(&[last], &no_dlq, true).failed[0].1,
            PairAction::Drop { .. }
        ));
        // A failed write falls back to redelivery only when nothing succeeded.
        assert_eq!(
            after_write_failure(std::slice::from_ref(&bad), true, "x").0,
            Disposition::Redeliver
        );
        assert_eq!(
            after_write_failure(std::slice::from_ref(&bad), false, "x").0,
            Disposition::Ack
        );
        assert_eq!(
            after_write_failure(&[ok, bad], true, "x").0,
            Disposition::Ack
        );
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = RetryPolicy {
            base_delay_secs: 10,
            max_delay_secs: 900,
            ..RetryPolicy::default()
        };
        assert_eq!([2, 3, 4, 5].map(|n| p.delay_before(n)), [10, 20, 40, 80]);
        assert_eq!(p.delay_before(40), 900);
        let zero = RetryPolicy {
            base_delay_secs: 0,
            ..p
        };
        assert_eq!(zero.delay_before(5), 0);
    }

    #[test]
    fn retry_messages_round_trip() {
        let m = RetryMessage {
            subscription: "billing".into(),
            attempt: 2,
            error: "Unhandled: boom".into(),
            event: order("t", json!({})),
        };
        let back = RetryMessage::parse(&serde_json::from_str(&m.to_body()).unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(back, m);
        assert!(RetryMessage::parse(&json!({"specversion": "1.0"})).is_none());
        assert!(RetryMessage::parse(&json!([1])).is_none());
        let bad = RetryMessage::parse(
            &json!({RETRY_KEY: {"subscription": "s", "attempt": 0}, "event": {}}),
        )
        .unwrap()
        .unwrap_err();
        assert!(bad.to_string().contains("attempt"));
        let bad = RetryMessage::parse(
            &json!({RETRY_KEY: {"subscription": "s", "attempt": 2}, "event": {}}),
        )
        .unwrap()
        .unwrap_err();
        assert!(bad
            .to_string()
            .contains("`event`: structured CloudEvent is missing"));
    }
}
