//! Pure planning, no I/O: check a [`ProvisionSpec`] and work out the rules it wants
//! ([`plan_rules`]) and the queue attributes it wants ([`queue_attributes`]), and compare what
//! exists with what is wanted ([`rule_action`], [`rule_differences`], [`attribute_changes`],
//! [`target_in_place`], [`stale_rules`]). Both [`provision`](super::provision) and the dry run's
//! [`preview`](super::preview) decide with these, so the plan a dry run prints is what a real run
//! does.

use std::collections::HashMap;

use std::fmt;

use aws_sdk_sqs::types::QueueAttributeName;
use eventferry_aws::eventbridge::{RuleInfo, RuleTrigger, TargetInfo};
use eventferry_core::names::{canonical_json, rule_name, InstanceId};
use eventferry_core::schedule::ScheduleExpression;
use serde_json::Value;

use super::error::ProvisionError;
use super::ownership::{is_ours, rule_prefix, MANAGED_BY, TAG_MANAGED_BY, TAG_OWNER};
use super::report::ProvisionSpec;

/// Suffix of the dead-letter queue's name.
pub const DLQ_SUFFIX: &str = "-dlq";
pub use super::ownership::DEFAULT_BUS;
/// Longest SQS queue name (AWS's limit).
pub const MAX_QUEUE_NAME: usize = 80;
/// Longest `EventPattern` PutRule accepts, in characters (EventBridge's limit).
pub const MAX_EVENT_PATTERN: usize = 4_096;

/// A rule eventferry wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WantedRule {
    pub name: String,
    pub bus: String,
    pub trigger: RuleTrigger,
    pub description: String,
}

/// The one rule for queue names, used by `drive`'s flag check and by provisioning: `Err` says
/// what is wrong with `name` and what would be right.
///
/// AWS allows 1-80 characters from A-Z a-z 0-9 - _ (plus `.fifo` for FIFO queues, which
/// eventferry does not support). With a dead-letter queue (`with_dlq`) eventferry also creates
/// `<name>-dlq`, which must fit the same 80, so the name itself may then have at most
/// 80 - 4 = 76 characters.
pub fn check_queue_name(name: &str, with_dlq: bool) -> Result<(), String> {
    let problem = if name.is_empty() {
        "it is empty".to_owned()
    } else if name.ends_with(".fifo") {
        "FIFO queues are not supported; use a standard queue name without .fifo".to_owned()
    } else if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        format!("it contains {c:?}; use 1-{MAX_QUEUE_NAME} characters from A-Z a-z 0-9 - _")
    } else if name.len() > MAX_QUEUE_NAME {
        format!(
            "it is {} characters long; use at most {MAX_QUEUE_NAME}",
            name.len()
        )
    } else if with_dlq && name.len() + DLQ_SUFFIX.len() > MAX_QUEUE_NAME {
        format!(
            "with a dead-letter queue it may be at most {} characters long (the DLQ is <queue>{DLQ_SUFFIX})",
            MAX_QUEUE_NAME - DLQ_SUFFIX.len()
        )
    } else {
        return Ok(());
    };
    Err(problem)
}

/// The buses an instance's rules can be on: `bus`, and the default bus (where schedule rules
/// live).
pub fn searched_buses(bus: &str) -> Vec<String> {
    let mut buses = vec![bus.to_owned()];
    if bus != DEFAULT_BUS {
        buses.push(DEFAULT_BUS.to_owned());
    }
    buses
}

/// Check the spec's inputs; each error names the input and says what would be right.
fn check_spec(spec: &ProvisionSpec) -> Result<(), ProvisionError> {
    check_queue_name(&spec.queue_name, spec.dlq_max_receive_count.is_some())
        .map_err(|problem| ProvisionError::invalid("queue name", &spec.queue_name, problem))?;
    if let Some(n) = spec.dlq_max_receive_count {
        if !(1..=1000).contains(&n) {
            return Err(ProvisionError::invalid(
                "DLQ max receive count",
                &n.to_string(),
                "use 1-1000",
            ));
        }
    }
    if let Some(v) = spec.visibility_timeout {
        if !(0..=43_200).contains(&v) {
            return Err(ProvisionError::invalid(
                "visibility timeout",
                &v.to_string(),
                "use 0-43200 seconds",
            ));
        }
    }
    if spec.event_bus.trim().is_empty() {
        return Err(ProvisionError::invalid(
            "event bus",
            &spec.event_bus,
            "use `default` or the name of a custom event bus",
        ));
    }
    Ok(())
}

/// Check the spec and work out the rules it wants: one per distinct pattern on the spec's bus,
/// and one for the schedule on the default bus.
pub fn plan_rules(spec: &ProvisionSpec) -> Result<Vec<WantedRule>, ProvisionError> {
    check_spec(spec)?;
    let mut rules: Vec<WantedRule> = Vec::new();
    for (i, pattern) in spec.patterns.iter().enumerate() {
        let rule = pattern_rule(spec, pattern).map_err(|e| match e {
            ProvisionError::Invalid {
                input,
                value,
                problem,
            } if input == "event pattern" => ProvisionError::Invalid {
                input,
                value,
                problem: format!("{problem} (pattern {} of {})", i + 1, spec.patterns.len()),
            },
            other => other,
        })?;
        if !rules.iter().any(|r| r.name == rule.name) {
            rules.push(rule); // the same pattern twice is one rule
        }
    }
    if let Some(schedule) = &spec.schedule {
        rules.push(schedule_rule(spec, schedule)?);
    }
    Ok(rules)
}

fn pattern_rule(spec: &ProvisionSpec, pattern: &Value) -> Result<WantedRule, ProvisionError> {
    if !pattern.is_object() {
        return Err(ProvisionError::invalid(
            "event pattern",
            &pattern.to_string(),
            "use a JSON object, e.g. {\"source\":[\"aws.s3\"]}",
        ));
    }
    let canonical = canonical_json(pattern);
    let length = canonical.chars().count();
    if length > MAX_EVENT_PATTERN {
        let start: String = canonical.chars().take(80).collect();
        return Err(ProvisionError::invalid(
            "event pattern",
            &format!("{start}..."),
            format!(
                "it is {length} characters as sent to EventBridge (compact JSON); PutRule accepts \
                 at most {MAX_EVENT_PATTERN}: split it into several patterns (each becomes a rule) \
                 or shorten its value lists"
            ),
        ));
    }
    Ok(WantedRule {
        name: wanted_rule_name(spec, &canonical)?,
        bus: spec.event_bus.clone(),
        trigger: RuleTrigger::Pattern(canonical),
        description: rule_description(spec, "events matching a pattern"),
    })
}

fn schedule_rule(spec: &ProvisionSpec, schedule: &str) -> Result<WantedRule, ProvisionError> {
    let expr = ScheduleExpression::parse(schedule)
        .map_err(|e| ProvisionError::invalid("schedule expression", schedule, e.to_string()))?;
    let expr = expr.as_str().to_owned();
    Ok(WantedRule {
        name: wanted_rule_name(spec, &expr)?,
        bus: DEFAULT_BUS.to_owned(),
        description: rule_description(spec, &format!("schedule {expr}")),
        trigger: RuleTrigger::Schedule(expr),
    })
}

/// `eventferry-<instance>-<hash of the queue name and the trigger>`.
fn wanted_rule_name(spec: &ProvisionSpec, trigger: &str) -> Result<String, ProvisionError> {
    rule_name(
        &rule_prefix(&spec.instance),
        &format!("{}\n{trigger}", spec.queue_name),
    )
    .map_err(|e| ProvisionError::invalid("instance id", spec.instance.as_str(), e.to_string()))
}

fn rule_description(spec: &ProvisionSpec, what: &str) -> String {
    format!(
        "eventferry instance {}: {what} to SQS queue {}",
        spec.instance, spec.queue_name
    )
}

/// Whether the rule as it is differs from what we want.
pub fn rule_differs(have: &RuleInfo, want: &WantedRule) -> bool {
    !rule_differences(have, want).is_empty()
}

/// What differs between the rule as it is and what we want, e.g. `State DISABLED -> ENABLED`;
/// empty when nothing does.
pub fn rule_differences(have: &RuleInfo, want: &WantedRule) -> Vec<String> {
    let mut differences = Vec::new();
    match &want.trigger {
        RuleTrigger::Pattern(p) => {
            let same = match have
                .event_pattern
                .as_deref()
                .map(serde_json::from_str::<Value>)
            {
                Some(Ok(v)) => canonical_json(&v) == *p,
                _ => false,
            };
            if !same {
                differences.push(format!(
                    "EventPattern {} -> {p}",
                    have.event_pattern.as_deref().unwrap_or("(none)")
                ));
            }
        }
        RuleTrigger::Schedule(s) => {
            if have.schedule_expression.as_deref() != Some(s.as_str()) {
                differences.push(format!(
                    "ScheduleExpression {} -> {s}",
                    have.schedule_expression.as_deref().unwrap_or("(none)")
                ));
            }
        }
    }
    if have.state.as_deref() != Some("ENABLED") {
        differences.push(format!(
            "State {} -> ENABLED",
            have.state.as_deref().unwrap_or("(none)")
        ));
    }
    if have.description.as_deref() != Some(want.description.as_str()) {
        differences.push("Description".to_owned());
    }
    differences
}

/// What to do about a rule we want, given the rule of that name as it is (with its tags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleAction {
    /// No rule of that name: create it.
    Create,
    /// Ours and as wanted.
    Adopt,
    /// Ours but different: put it again. What differs ([`rule_differences`]).
    Update(Vec<String>),
}

/// The decision for rule `want`: `found` is the rule of its name and bus as it is, with its tags.
/// A rule of that name that is not `instance`'s is a conflict: eventferry won't take it over.
pub fn rule_action(
    found: Option<(&RuleInfo, &HashMap<String, String>)>,
    want: &WantedRule,
    instance: &InstanceId,
) -> Result<RuleAction, ProvisionError> {
    let Some((have, tags)) = found else {
        return Ok(RuleAction::Create);
    };
    if !is_ours(tags, Some(instance)) || have.managed_by.is_some() {
        return Err(ProvisionError::Conflict(format!(
            "rule {} (bus {}) exists but is not tagged {TAG_MANAGED_BY}={MANAGED_BY}, \
             {TAG_OWNER}={instance}; eventferry won't take it over: delete it or use \
             another instance id",
            want.name, want.bus
        )));
    }
    let differences = rule_differences(have, want);
    Ok(if differences.is_empty() {
        RuleAction::Adopt
    } else {
        RuleAction::Update(differences)
    })
}

/// A rule by name and bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRef {
    pub name: String,
    pub bus: String,
}

/// The rules of `found` (the instance's rules for the queue) that `wanted` no longer has.
pub fn stale_rules(found: Vec<RuleRef>, wanted: &[WantedRule]) -> Vec<RuleRef> {
    found
        .into_iter()
        .filter(|r| !wanted.iter().any(|w| w.name == r.name && w.bus == r.bus))
        .collect()
}

/// Whether a rule's `targets` already deliver to `queue_arn` under `target_id`.
pub fn target_in_place(targets: &[TargetInfo], target_id: &str, queue_arn: &str) -> bool {
    targets
        .iter()
        .any(|t| t.id == target_id && t.arn == queue_arn)
}

/// A dead-letter queue is asked for, but queue `queue_name` exists and is not `instance`'s: its
/// RedrivePolicy is not ours to set.
pub fn dlq_for_a_foreign_queue(queue_name: &str, instance: &InstanceId) -> ProvisionError {
    ProvisionError::Conflict(format!(
        "a dead-letter queue was asked for, but queue {queue_name} exists and is not \
         eventferry's (tags {TAG_MANAGED_BY}={MANAGED_BY}, {TAG_OWNER}={instance} missing), \
         so eventferry won't change its RedrivePolicy: drop the DLQ option, or use a queue \
         name eventferry creates"
    ))
}

/// Server-side encryption with SQS-managed keys, on every queue eventferry creates (the
/// dead-letter queue's attributes).
pub fn encrypted() -> HashMap<QueueAttributeName, String> {
    HashMap::from([(QueueAttributeName::SqsManagedSseEnabled, "true".to_owned())])
}

/// The attributes of the queue the rules deliver to: encrypted, with the spec's visibility
/// timeout and, with `dlq_arn`, the redrive policy to the dead-letter queue.
pub fn queue_attributes(
    spec: &ProvisionSpec,
    dlq_arn: Option<&str>,
) -> HashMap<QueueAttributeName, String> {
    let mut attrs = encrypted();
    if let Some(v) = spec.visibility_timeout {
        attrs.insert(QueueAttributeName::VisibilityTimeout, v.to_string());
    }
    if let (Some(dlq_arn), Some(n)) = (dlq_arn, spec.dlq_max_receive_count) {
        attrs.insert(
            QueueAttributeName::RedrivePolicy,
            redrive_policy(dlq_arn, n),
        );
    }
    attrs
}

/// One queue attribute to set on a queue of ours: its value now (`None`: unset) and the value
/// wanted. Displays as `VisibilityTimeout 30 -> 60`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeChange {
    pub key: QueueAttributeName,
    pub from: Option<String>,
    pub to: String,
}

impl fmt::Display for AttributeChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let from = self.from.as_deref().unwrap_or("(unset)");
        write!(f, "{} {from} -> {}", self.key.as_str(), self.to)
    }
}

/// The attributes of `wanted` that `current` does not already say ([`attribute_matches`]), in
/// name order: what an update of a queue of ours sets.
pub fn attribute_changes(
    wanted: &HashMap<QueueAttributeName, String>,
    current: &HashMap<String, String>,
) -> Vec<AttributeChange> {
    let mut changes: Vec<AttributeChange> = wanted
        .iter()
        .filter(|(key, value)| !attribute_matches(key, value, current))
        .map(|(key, value)| AttributeChange {
            key: key.clone(),
            from: current.get(key.as_str()).cloned(),
            to: value.clone(),
        })
        .collect();
    changes.sort_by(|a, b| a.key.as_str().cmp(b.key.as_str()));
    changes
}

/// Whether the queue's `current` attributes already say what `key` = `value` wants.
pub fn attribute_matches(
    key: &QueueAttributeName,
    value: &str,
    current: &HashMap<String, String>,
) -> bool {
    let have = current.get(key.as_str()).map(String::as_str);
    match key {
        // A KMS key is encryption too.
        QueueAttributeName::SqsManagedSseEnabled => {
            have == Some("true") || current.get("KmsMasterKeyId").is_some_and(|k| !k.is_empty())
        }
        QueueAttributeName::RedrivePolicy => {
            let v: Value = serde_json::from_str(value).unwrap_or_default();
            redrive_matches(
                have,
                v["deadLetterTargetArn"].as_str().unwrap_or_default(),
                v["maxReceiveCount"].as_i64().unwrap_or_default() as i32,
            )
        }
        _ => have == Some(value),
    }
}

/// The RedrivePolicy document for `dlq_arn`.
pub fn redrive_policy(dlq_arn: &str, max_receive_count: i32) -> String {
    serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count})
        .to_string()
}

/// Whether an existing RedrivePolicy already says the same (AWS renders the count as a number
/// or a string).
pub fn redrive_matches(existing: Option<&str>, dlq_arn: &str, max_receive_count: i32) -> bool {
    let Some(Ok(v)) = existing.map(serde_json::from_str::<Value>) else {
        return false;
    };
    let count = match &v["maxReceiveCount"] {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    };
    v["deadLetterTargetArn"].as_str() == Some(dlq_arn)
        && count == Some(i64::from(max_receive_count))
}

#[cfg(test)]
mod tests {
    use eventferry_core::names::InstanceId;
    use serde_json::json;

    use super::super::policy;
    use super::*;

    fn spec() -> ProvisionSpec {
        ProvisionSpec {
            queue_name: "orders".into(),
            event_bus: "default".into(),
            patterns: vec![json!({"source": ["aws.s3"]})],
            schedule: None,
            instance: InstanceId::new("prod").unwrap(),
            dlq_max_receive_count: None,
            visibility_timeout: None,
        }
    }

    #[test]
    fn plan_names_are_deterministic_valid_and_key_order_free() {
        let mut s = spec();
        s.patterns = vec![
            json!({"source": ["aws.s3"], "detail-type": ["Object Created"]}),
            json!({"detail-type": ["Object Created"], "source": ["aws.s3"]}),
            json!({"source": ["aws.ec2"]}),
        ];
        s.schedule = Some("rate(5 minutes)".into());
        let rules = plan_rules(&s).unwrap();
        assert_eq!(rules.len(), 3, "equal patterns give one rule: {rules:?}");
        assert_eq!(plan_rules(&s).unwrap(), rules);
        for r in &rules {
            assert!(r.name.starts_with("eventferry-prod-"), "{}", r.name);
            assert!(r.name.len() <= 64);
            eventferry_core::names::validate_rule_name(&r.name).unwrap();
            assert!(policy::is_owned_sid(&r.name, "eventferry-prod"));
            assert!(r.description.contains("eventferry") && r.description.contains("prod"));
        }
        assert_eq!(rules[2].bus, "default");
        assert_eq!(
            rules[2].trigger,
            RuleTrigger::Schedule("rate(5 minutes)".into())
        );

        // Another queue gives other names; a long instance id still fits.
        let mut other = s.clone();
        other.queue_name = "payments".into();
        assert_ne!(plan_rules(&other).unwrap()[0].name, rules[0].name);
        other.instance = InstanceId::new(&"x".repeat(40)).unwrap();
        for r in plan_rules(&other).unwrap() {
            assert!(r.name.len() <= 64, "{}", r.name);
        }
    }

    #[test]
    fn schedule_rules_go_to_the_default_bus() {
        let mut s = spec();
        s.event_bus = "custom".into();
        s.schedule = Some("cron(0 12 * * ? *)".into());
        let rules = plan_rules(&s).unwrap();
        assert_eq!(rules[0].bus, "custom");
        assert_eq!(rules[1].bus, "default");
        assert_eq!(searched_buses("custom"), ["custom", "default"]);
        assert_eq!(searched_buses("default"), ["default"]);
    }

    type Mutation = Box<dyn Fn(&mut ProvisionSpec)>;

    #[test]
    fn plan_rejects_bad_input_naming_it() {
        let cases: Vec<(Mutation, &str)> = vec![
            (
                Box::new(|s| s.queue_name = "a b".into()),
                "invalid queue name \"a b\": it contains ' '",
            ),
            (
                Box::new(|s| s.queue_name = "q.fifo".into()),
                "FIFO queues are not supported",
            ),
            (
                Box::new(|s| s.queue_name = "q".repeat(81)),
                "use at most 80",
            ),
            (Box::new(|s| s.queue_name = String::new()), "it is empty"),
            (
                Box::new(|s| {
                    s.queue_name = "q".repeat(78);
                    s.dlq_max_receive_count = Some(3);
                }),
                "at most 76 characters",
            ),
            (
                Box::new(|s| s.dlq_max_receive_count = Some(0)),
                "invalid DLQ max receive count \"0\": use 1-1000",
            ),
            (
                Box::new(|s| s.visibility_timeout = Some(50_000)),
                "use 0-43200 seconds",
            ),
            (
                Box::new(|s| s.schedule = Some("rate(1 minutes)".into())),
                "invalid schedule expression",
            ),
            (
                Box::new(|s| s.patterns = vec![json!([1])]),
                "invalid event pattern",
            ),
            (
                Box::new(|s| s.event_bus = String::new()),
                "invalid event bus",
            ),
        ];
        for (mutate, expected) in cases {
            let mut s = spec();
            mutate(&mut s);
            let err = plan_rules(&s).unwrap_err();
            assert_eq!(err.exit_code(), 2);
            assert!(
                err.to_string().contains(expected),
                "{err} should contain {expected:?}"
            );
        }
    }

    #[test]
    fn an_event_pattern_over_4096_characters_is_refused_before_any_call() {
        // Whitespace does not count: the pattern is sent compact.
        let values = |n: usize, width: usize| -> Vec<String> {
            (0..n).map(|i| format!("{i:0width$}")).collect()
        };
        let fits = json!({"source": ["aws.s3"], "detail": {"id": values(300, 10)}});
        let text = canonical_json(&fits);
        assert!(text.len() <= MAX_EVENT_PATTERN, "{}", text.len());
        let mut s = spec();
        s.patterns = vec![fits.clone()];
        assert_eq!(plan_rules(&s).unwrap().len(), 1);

        let too_long = json!({"source": ["aws.s3"], "detail": {"id": values(400, 10)}});
        let length = canonical_json(&too_long).len();
        assert!(length > MAX_EVENT_PATTERN);
        s.patterns = vec![fits, too_long];
        let err = plan_rules(&s).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        let text = err.to_string();
        assert!(
            text.starts_with(
                "invalid event pattern \"{\\\"detail\\\":{\\\"id\\\":[\\\"0000000000\\\""
            ),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                ": it is {length} characters as sent to EventBridge (compact JSON); PutRule \
                 accepts at most 4096"
            )),
            "{text}"
        );
        assert!(text.ends_with("(pattern 2 of 2)"), "{text}");
    }

    #[test]
    fn queue_names_fit_aws_limit_with_room_for_the_dlq() {
        assert_eq!(check_queue_name(&"q".repeat(80), false), Ok(()));
        assert_eq!(check_queue_name(&"q".repeat(76), true), Ok(()));
        let err = check_queue_name(&"q".repeat(77), true).unwrap_err();
        assert!(err.contains("at most 76 characters"), "{err}");
        let err = check_queue_name(&"q".repeat(81), false).unwrap_err();
        assert!(err.contains("use at most 80"), "{err}");
        assert_eq!(check_queue_name("orders_1-a", true), Ok(()));
    }

    #[test]
    fn rule_drift_is_detected() {
        let want = plan_rules(&spec()).unwrap().remove(0);
        let same = RuleInfo {
            name: want.name.clone(),
            arn: "arn".into(),
            event_pattern: Some(r#"{ "source" : ["aws.s3"] }"#.into()),
            state: Some("ENABLED".into()),
            description: Some(want.description.clone()),
            ..Default::default()
        };
        assert!(!rule_differs(&same, &want));
        for changed in [
            RuleInfo {
                state: Some("DISABLED".into()),
                ..same.clone()
            },
            RuleInfo {
                description: Some("edited".into()),
                ..same.clone()
            },
            RuleInfo {
                event_pattern: Some(r#"{"source":["aws.ec2"]}"#.into()),
                ..same.clone()
            },
        ] {
            assert!(rule_differs(&changed, &want), "{changed:?}");
        }
    }

    #[test]
    fn rule_actions_say_what_differs_and_refuse_a_rule_not_ours() {
        let s = spec();
        let want = plan_rules(&s).unwrap().remove(0);
        assert_eq!(
            rule_action(None, &want, &s.instance).unwrap(),
            RuleAction::Create
        );
        let have = RuleInfo {
            name: want.name.clone(),
            arn: "arn".into(),
            event_pattern: Some(r#"{"source":["aws.ec2"]}"#.into()),
            state: Some("DISABLED".into()),
            description: Some(want.description.clone()),
            ..Default::default()
        };
        let ours = super::super::ownership::owner_tags(&s.instance);
        assert_eq!(
            rule_action(Some((&have, &ours)), &want, &s.instance).unwrap(),
            RuleAction::Update(vec![
                r#"EventPattern {"source":["aws.ec2"]} -> {"source":["aws.s3"]}"#.into(),
                "State DISABLED -> ENABLED".into(),
            ])
        );
        let other = InstanceId::new("dev").unwrap();
        let err = rule_action(Some((&have, &ours)), &want, &other).unwrap_err();
        assert!(err.to_string().contains("won't take it over"), "{err}");
    }

    #[test]
    fn attribute_changes_name_the_old_and_new_values() {
        let mut s = spec();
        s.visibility_timeout = Some(60);
        s.dlq_max_receive_count = Some(3);
        let wanted = queue_attributes(&s, Some("arn:aws:sqs:r:1:orders-dlq"));
        let current = HashMap::from([
            ("VisibilityTimeout".to_owned(), "30".to_owned()),
            ("SqsManagedSseEnabled".to_owned(), "true".to_owned()),
            (
                "RedrivePolicy".to_owned(),
                r#"{"deadLetterTargetArn":"arn:aws:sqs:r:1:orders-dlq","maxReceiveCount":"3"}"#
                    .to_owned(),
            ),
        ]);
        let changes: Vec<String> = attribute_changes(&wanted, &current)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(changes, ["VisibilityTimeout 30 -> 60"]);
        let none = attribute_changes(&encrypted(), &HashMap::new());
        assert_eq!(none[0].to_string(), "SqsManagedSseEnabled (unset) -> true");
    }

    #[test]
    fn redrive_policy_comparison() {
        let p = redrive_policy("arn:aws:sqs:r:1:q-dlq", 5);
        assert!(redrive_matches(Some(&p), "arn:aws:sqs:r:1:q-dlq", 5));
        assert!(redrive_matches(
            Some(r#"{"deadLetterTargetArn":"arn:aws:sqs:r:1:q-dlq","maxReceiveCount":"5"}"#),
            "arn:aws:sqs:r:1:q-dlq",
            5
        ));
        assert!(!redrive_matches(Some(&p), "arn:aws:sqs:r:1:q-dlq", 6));
        assert!(!redrive_matches(None, "arn:aws:sqs:r:1:q-dlq", 5));
    }
}
