//! `eventferry drive --dry-run`: what [`provision`](super::provision) would do, worked out against
//! what exists, and changing nothing.
//!
//! The decisions are [`plan`]'s and [`policy`]'s pure functions, the same ones provisioning acts
//! on ([`plan::rule_action`], [`plan::attribute_changes`], [`plan::target_in_place`],
//! [`plan::stale_rules`], [`policy::merge`], [`policy::check_limits`]); this module only reads
//! what exists and lays the decisions out as [`Step`]s. Its one way to AWS is a
//! [`Reader`], which offers read calls only (its clients are private to
//! [`lookup`](super::lookup)), so no create, put, set, tag, untag or delete call is reachable from
//! here; a unit test below also checks this file's source for them.

use std::collections::HashMap;
use std::fmt;

use aws_config::SdkConfig;
use aws_sdk_sqs::types::QueueAttributeName;
use eventferry_aws::eventbridge::{RuleInfo, RuleTrigger, TargetInfo};
use eventferry_core::mapping::partition_of_region;
use eventferry_core::names::{target_id, InstanceId};
use serde_json::Value;

use super::error::ProvisionError;
use super::lookup::Reader;
use super::ownership::{arn_account, is_ours, rule_prefix, MANAGED_BY, TAG_MANAGED_BY, TAG_OWNER};
use super::plan::{self, RuleAction, RuleRef, WantedRule, DLQ_SUFFIX};
use super::policy::{self, PolicyChange, PolicyError};
use super::report::ProvisionSpec;

/// Stands for the account in ARNs while no queue or rule tells it: as long as an account id (12
/// characters), so policy sizes come out right.
pub const UNKNOWN_ACCOUNT: &str = "<account-id>";

/// What a real run would do to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Create,
    /// It exists, is ours and is as wanted.
    Adopt,
    Update,
    Remove,
    /// It exists and is not ours: used as it is.
    Keep,
    /// A real run would stop with an error here.
    Refuse,
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verb::Create => "create",
            Verb::Adopt => "adopt",
            Verb::Update => "update",
            Verb::Remove => "remove",
            Verb::Keep => "keep",
            Verb::Refuse => "refuse",
        })
    }
}

/// One line of the plan, e.g. `update queue orders (VisibilityTimeout 30 -> 60)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub verb: Verb,
    pub what: String,
    pub detail: Option<String>,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.verb, self.what)?;
        match &self.detail {
            Some(detail) => write!(f, " ({detail})"),
            None => Ok(()),
        }
    }
}

/// The queue policy as a real run would leave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyOutcome {
    pub statements: usize,
    pub bytes: usize,
    /// [`policy::check_limits`] on the document.
    pub limits: Result<(), PolicyError>,
}

/// The plan of a dry run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    pub queue_name: String,
    pub instance: String,
    pub steps: Vec<Step>,
    /// `None` when the policy can't be merged (a [`Verb::Refuse`] step says why).
    pub policy: Option<PolicyOutcome>,
    /// `false` when neither the queue nor any rule exists yet: ARNs then carry
    /// [`UNKNOWN_ACCOUNT`], and target ids (which hash the queue ARN) are left out.
    pub account_known: bool,
}

impl Preview {
    /// Why a real run would fail, one reason per refused step; empty if it would not.
    pub fn refusals(&self) -> Vec<String> {
        self.steps
            .iter()
            .filter(|s| s.verb == Verb::Refuse)
            .map(|s| format!("{}: {}", s.what, s.detail.as_deref().unwrap_or_default()))
            .collect()
    }

    fn push(&mut self, verb: Verb, what: impl Into<String>, detail: Option<String>) {
        self.steps.push(Step {
            verb,
            what: what.into(),
            detail,
        });
    }
}

impl fmt::Display for Preview {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "plan for instance {} on queue {} (dry run: nothing was created, changed or deleted):",
            self.instance, self.queue_name
        )?;
        for step in &self.steps {
            write!(f, "\n  {step}")?;
        }
        if let Some(p) = &self.policy {
            write!(
                f,
                "\n  policy of queue {} after the change: {} statement(s), {} bytes: ",
                self.queue_name, p.statements, p.bytes
            )?;
            match &p.limits {
                Ok(()) => write!(
                    f,
                    "within AWS's limits ({} statements, {} bytes, {} conditions per statement)",
                    policy::MAX_STATEMENTS,
                    policy::MAX_POLICY_BYTES,
                    policy::MAX_CONDITIONS
                )?,
                Err(e) => write!(f, "OVER AWS's limits: {e}")?,
            }
        }
        if !self.account_known {
            write!(
                f,
                "\n  (the account is known once the queue exists: ARNs above use {UNKNOWN_ACCOUNT})"
            )?;
        }
        Ok(())
    }
}

/// A queue as it exists.
struct FoundQueue {
    url: String,
    tags: HashMap<String, String>,
    attrs: HashMap<String, String>,
}

impl FoundQueue {
    fn arn(&self) -> Option<&str> {
        self.attrs.get("QueueArn").map(String::as_str)
    }
}

/// Work out what [`provision`](super::provision) would do for `spec`, reading only.
pub async fn preview(cfg: &SdkConfig, spec: &ProvisionSpec) -> Result<Preview, ProvisionError> {
    let wanted = plan_rules_checked(spec)?;
    let reader = Reader::new(cfg);
    let queue = find_queue(&reader, "queue", &spec.queue_name).await?;
    let dlq_name = format!("{}{DLQ_SUFFIX}", spec.queue_name);
    let dlq = match spec.dlq_max_receive_count {
        Some(_) => Some(find_queue(&reader, "dead-letter queue", &dlq_name).await?),
        None => None,
    };
    let mut rules = Vec::with_capacity(wanted.len());
    for want in &wanted {
        rules.push(reader.rule(&want.name, &want.bus).await?);
    }
    let instance_rules = reader
        .instance_rules(&spec.instance, &spec.queue_name, &spec.event_bus)
        .await?;

    let rule_arns = rules
        .iter()
        .flatten()
        .map(|(r, _)| r.arn.as_str())
        .chain(instance_rules.iter().map(|(_, rule)| rule.arn.as_str()));
    let region = cfg.region().map(|r| r.as_ref());
    let (queue_arn, account_known) = queue_arn(
        &spec.queue_name,
        queue.as_ref().and_then(FoundQueue::arn),
        rule_arns,
        region,
    );

    let mut out = Preview {
        queue_name: spec.queue_name.clone(),
        instance: spec.instance.to_string(),
        steps: Vec::new(),
        policy: None,
        account_known,
    };
    plan_queues(&mut out, spec, queue.as_ref(), dlq.as_ref(), &queue_arn);
    plan_rule_steps(&mut out, spec, &wanted, &rules);
    plan_policy(&mut out, spec, queue.as_ref(), &queue_arn);
    let mut targets = Vec::with_capacity(wanted.len());
    for (want, found) in wanted.iter().zip(&rules) {
        targets.push(match found {
            Some(_) => reader.targets(&want.name, &want.bus).await?,
            None => Vec::new(),
        });
    }
    plan_targets(&mut out, spec, &wanted, &targets, &queue_arn)?;
    let found: Vec<RuleRef> = instance_rules.into_iter().map(|(r, _)| r).collect();
    for stale in plan::stale_rules(found, &wanted) {
        out.push(
            Verb::Remove,
            format!("rule {} (bus {})", stale.name, stale.bus),
            Some("no longer wanted; its targets go first".into()),
        );
    }
    Ok(out)
}

/// [`plan::plan_rules`]: the same checks a real run makes before any call.
fn plan_rules_checked(spec: &ProvisionSpec) -> Result<Vec<WantedRule>, ProvisionError> {
    plan::plan_rules(spec)
}

/// The queue `name` with its tags and attributes, `None` if it does not exist.
async fn find_queue(
    reader: &Reader,
    label: &str,
    name: &str,
) -> Result<Option<FoundQueue>, ProvisionError> {
    let Some(url) = reader.queue_url(label, name).await? else {
        return Ok(None);
    };
    let tags = reader.queue_tags(label, name, &url).await?;
    let attrs = reader.queue_attributes(label, name, &url).await?;
    Ok(Some(FoundQueue { url, tags, attrs }))
}

/// The queue's ARN: as SQS has it; else built from the partition, region and account of an
/// existing rule of ours; else from the configured region with [`UNKNOWN_ACCOUNT`]. `true` when
/// the account is known.
pub fn queue_arn<'a>(
    queue_name: &str,
    existing: Option<&str>,
    mut rule_arns: impl Iterator<Item = &'a str>,
    region: Option<&str>,
) -> (String, bool) {
    if let Some(arn) = existing {
        return (arn.to_owned(), true);
    }
    let from_rule = rule_arns.find_map(|arn| {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        match parts[..] {
            ["arn", partition, "events", region, account, _]
                if !partition.is_empty() && !region.is_empty() && !account.is_empty() =>
            {
                Some(format!(
                    "arn:{partition}:sqs:{region}:{account}:{queue_name}"
                ))
            }
            _ => None,
        }
    });
    if let Some(arn) = from_rule {
        return (arn, true);
    }
    let region = region.unwrap_or("<region>");
    let partition = partition_of_region(region);
    (
        format!("arn:{partition}:sqs:{region}:{UNKNOWN_ACCOUNT}:{queue_name}"),
        false,
    )
}

/// `k v, k v` of queue attributes, in name order.
fn attribute_list(attrs: &HashMap<QueueAttributeName, String>) -> String {
    let mut items: Vec<String> = attrs
        .iter()
        .map(|(k, v)| format!("{} {v}", k.as_str()))
        .collect();
    items.sort();
    items.join(", ")
}

/// The dead-letter queue (if asked for) and the queue.
fn plan_queues(
    out: &mut Preview,
    spec: &ProvisionSpec,
    queue: Option<&FoundQueue>,
    dlq: Option<&Option<FoundQueue>>,
    queue_arn: &str,
) {
    let instance = &spec.instance;
    let foreign = |q: &FoundQueue| !is_ours(&q.tags, Some(instance));
    let mut dlq_arn = None;
    if let Some(dlq) = dlq {
        if let Some(q) = queue.filter(|q| foreign(q)) {
            let reason = plan::dlq_for_a_foreign_queue(&spec.queue_name, instance);
            out.push(
                Verb::Refuse,
                format!("queue {} ({})", spec.queue_name, q.url),
                Some(reason.to_string()),
            );
        }
        let name = format!("{}{DLQ_SUFFIX}", spec.queue_name);
        let wanted = plan::encrypted();
        match dlq {
            None => out.push(
                Verb::Create,
                format!("dead-letter queue {name}"),
                Some(attribute_list(&wanted)),
            ),
            Some(q) => plan_existing_queue(out, ("dead-letter queue", &name), q, instance, &wanted),
        }
        dlq_arn = Some(
            dlq.as_ref()
                .and_then(FoundQueue::arn)
                .map_or_else(|| format!("{queue_arn}{DLQ_SUFFIX}"), str::to_owned),
        );
    }
    let wanted = plan::queue_attributes(spec, dlq_arn.as_deref());
    match queue {
        None => out.push(
            Verb::Create,
            format!("queue {}", spec.queue_name),
            Some(attribute_list(&wanted)),
        ),
        Some(q) => plan_existing_queue(out, ("queue", &spec.queue_name), q, instance, &wanted),
    }
}

/// A queue that exists: kept if it is not `instance`'s, else adopted or updated
/// ([`plan::attribute_changes`]).
fn plan_existing_queue(
    out: &mut Preview,
    (label, name): (&str, &str),
    q: &FoundQueue,
    instance: &InstanceId,
    wanted: &HashMap<QueueAttributeName, String>,
) {
    let what = format!("{label} {name}");
    if !is_ours(&q.tags, Some(instance)) {
        let detail = format!(
            "not tagged {TAG_MANAGED_BY}={MANAGED_BY}, {TAG_OWNER}={instance}: used as it is, \
             never retagged or deleted"
        );
        return out.push(Verb::Keep, what, Some(detail));
    }
    let changes = plan::attribute_changes(wanted, &q.attrs);
    if changes.is_empty() {
        out.push(Verb::Adopt, what, None);
    } else {
        let detail: Vec<String> = changes.iter().map(ToString::to_string).collect();
        out.push(Verb::Update, what, Some(detail.join(", ")));
    }
}

/// Each rule wanted: created, adopted, updated, or refused (a rule of that name that is not ours).
fn plan_rule_steps(
    out: &mut Preview,
    spec: &ProvisionSpec,
    wanted: &[WantedRule],
    found: &[Option<(RuleInfo, HashMap<String, String>)>],
) {
    for (want, found) in wanted.iter().zip(found) {
        let what = format!("rule {} (bus {})", want.name, want.bus);
        let found = found.as_ref().map(|(rule, tags)| (rule, tags));
        match plan::rule_action(found, want, &spec.instance) {
            Ok(RuleAction::Create) => {
                let trigger = match &want.trigger {
                    RuleTrigger::Pattern(p) => format!("pattern {p}"),
                    RuleTrigger::Schedule(s) => format!("schedule {s}"),
                };
                out.push(Verb::Create, what, Some(trigger));
            }
            Ok(RuleAction::Adopt) => out.push(Verb::Adopt, what, None),
            Ok(RuleAction::Update(differences)) => {
                out.push(Verb::Update, what, Some(differences.join(", ")))
            }
            Err(e) => out.push(Verb::Refuse, what, Some(e.to_string())),
        }
    }
}

/// The instance's statement in the queue's policy ([`policy::merge`] as provisioning does it),
/// and the policy as it would be, against AWS's limits ([`policy::check_limits`]).
fn plan_policy(
    out: &mut Preview,
    spec: &ProvisionSpec,
    queue: Option<&FoundQueue>,
    queue_arn: &str,
) {
    let what = |sid: &str| format!("policy statement {sid} on queue {}", spec.queue_name);
    let refuse = |out: &mut Preview, source: PolicyError| {
        let e = ProvisionError::Policy {
            queue: spec.queue_name.clone(),
            source,
        };
        out.push(
            Verb::Refuse,
            what(&rule_prefix(&spec.instance)),
            Some(e.to_string()),
        );
    };
    let prefix = rule_prefix(&spec.instance);
    let wanted = match policy::instance_statement(queue_arn, &prefix, &spec.event_bus) {
        Ok(w) => w,
        Err(e) => return refuse(out, e),
    };
    let account = arn_account(queue_arn).unwrap_or(UNKNOWN_ACCOUNT);
    let current = queue
        .and_then(|q| q.attrs.get("Policy"))
        .map(String::as_str);
    let owned = |sid: &str| policy::is_instance_sid(sid, &prefix);
    let change = match policy::merge(
        current,
        queue_arn,
        account,
        std::slice::from_ref(&wanted),
        &[],
        owned,
    ) {
        Ok(change) => change,
        Err(e) => return refuse(out, e),
    };
    let document = policy_steps(out, &change, current, &wanted.sid, what);
    let outcome = policy_outcome(&document);
    if let Err(e) = &outcome.limits {
        refuse(out, e.clone());
    }
    out.policy = Some(outcome);
}

/// The steps of a policy `change` (Sids named by `what`); returns the policy document it leaves.
fn policy_steps(
    out: &mut Preview,
    change: &PolicyChange,
    current: Option<&str>,
    wanted_sid: &str,
    what: impl Fn(&str) -> String,
) -> String {
    match change {
        PolicyChange::Unchanged => {
            out.push(Verb::Adopt, what(wanted_sid), None);
            current.unwrap_or_default().to_owned()
        }
        PolicyChange::Set {
            document,
            added,
            replaced,
            removed,
        } => {
            for sid in added {
                out.push(Verb::Create, what(sid), None);
            }
            for sid in replaced {
                let detail = Some("it differs from the statement wanted".into());
                out.push(Verb::Update, what(sid), detail);
            }
            for sid in removed {
                let detail = Some("an older per-rule or duplicate statement".into());
                out.push(Verb::Remove, what(sid), detail);
            }
            document.clone()
        }
        PolicyChange::Clear { removed } => {
            for sid in removed {
                out.push(Verb::Remove, what(sid), None);
            }
            String::new()
        }
    }
}

/// A policy document's size and its check against AWS's limits.
fn policy_outcome(document: &str) -> PolicyOutcome {
    let statements = serde_json::from_str::<Value>(document)
        .ok()
        .and_then(|doc| match doc.get("Statement") {
            Some(Value::Array(items)) => Some(items.len()),
            Some(Value::Object(_)) => Some(1),
            _ => None,
        })
        .unwrap_or(0);
    PolicyOutcome {
        statements,
        bytes: document.len(),
        limits: policy::check_limits(document),
    }
}

/// Each wanted rule's target, the queue: in place already, or to be put.
fn plan_targets(
    out: &mut Preview,
    spec: &ProvisionSpec,
    wanted: &[WantedRule],
    targets: &[Vec<TargetInfo>],
    queue_arn: &str,
) -> Result<(), ProvisionError> {
    let prefix = rule_prefix(&spec.instance);
    let id = target_id(&prefix, queue_arn).map_err(|e| {
        ProvisionError::invalid("instance id", spec.instance.as_str(), e.to_string())
    })?;
    for (want, targets) in wanted.iter().zip(targets) {
        let shown = if out.account_known {
            format!("{id} ")
        } else {
            String::new()
        };
        let what = format!(
            "target {shown}of rule {} -> queue {}",
            want.name, spec.queue_name
        );
        if plan::target_in_place(targets, &id, queue_arn) {
            out.push(Verb::Adopt, what, None);
        } else {
            out.push(Verb::Create, what, None);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_write_call_is_reachable_from_a_dry_run() {
        // The dry run reaches AWS only through lookup::Reader; neither file names a write call,
        // and this one names no client, nor the modules that write.
        let code = |text: &'static str| text.split("#[cfg(test)]").next().unwrap_or_default();
        let preview = code(include_str!("preview.rs"));
        let lookup = code(include_str!("lookup.rs"));
        let writes = [
            ".create_queue(",
            ".set_attributes(",
            ".tag_queue(",
            ".untag_queue(",
            ".delete_queue(",
            ".put_rule(",
            ".put_targets(",
            ".remove_targets(",
            ".delete_rule(",
            ".send_message(",
            ".send_batch(",
            ".put_events",
            "set_policy",
            "apply_policy",
            "remove_rule",
        ];
        for (file, text) in [("preview.rs", preview), ("lookup.rs", lookup)] {
            for call in writes {
                assert!(!text.contains(call), "{file} names {call}");
            }
        }
        for name in [
            "Sqs",
            "EventBridge",
            "apply",
            "teardown",
            "sweep",
            "keeper",
            "Lambda",
        ] {
            for form in [
                format!("{name}::"),
                format!("::{name}"),
                format!("::{name};"),
            ] {
                assert!(!preview.contains(&form), "preview.rs names {form}");
            }
        }
    }

    #[test]
    fn the_queue_arn_comes_from_the_queue_a_rule_or_the_region() {
        let (arn, known) = queue_arn(
            "orders",
            Some("arn:aws:sqs:eu-west-1:111122223333:orders"),
            ["arn:aws:events:us-east-1:444455556666:rule/x"].into_iter(),
            Some("us-east-1"),
        );
        assert_eq!(
            (arn.as_str(), known),
            ("arn:aws:sqs:eu-west-1:111122223333:orders", true)
        );
        let (arn, known) = queue_arn(
            "orders",
            None,
            [
                "nonsense",
                "arn:aws-cn:events:cn-north-1:444455556666:rule/bus/x",
            ]
            .into_iter(),
            None,
        );
        assert_eq!(
            (arn.as_str(), known),
            ("arn:aws-cn:sqs:cn-north-1:444455556666:orders", true)
        );
        let (arn, known) = queue_arn("orders", None, std::iter::empty(), Some("us-gov-west-1"));
        assert_eq!(
            (arn.as_str(), known),
            (
                "arn:aws-us-gov:sqs:us-gov-west-1:<account-id>:orders",
                false
            )
        );
        assert_eq!(UNKNOWN_ACCOUNT.len(), 12, "as long as an account id");
    }

    fn spec() -> ProvisionSpec {
        ProvisionSpec {
            queue_name: "orders".into(),
            event_bus: "default".into(),
            patterns: vec![serde_json::json!({"source": ["a"]})],
            schedule: None,
            instance: InstanceId::new("prod").unwrap(),
            dlq_max_receive_count: Some(3),
            visibility_timeout: Some(60),
        }
    }

    fn queue(owner: &str, attrs: &[(&str, &str)]) -> FoundQueue {
        let mut tags = HashMap::from([(TAG_MANAGED_BY.to_owned(), MANAGED_BY.to_owned())]);
        tags.insert(TAG_OWNER.to_owned(), owner.to_owned());
        FoundQueue {
            url: "http://sqs/1/orders".into(),
            tags,
            attrs: attrs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    const ARN: &str = "arn:aws:sqs:us-east-1:111122223333:orders";

    #[test]
    fn queues_are_created_adopted_updated_kept_or_refused() {
        let mut out = empty_preview();
        plan_queues(&mut out, &spec(), None, Some(&None), ARN);
        let lines: Vec<String> = out.steps.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines[0],
            "create dead-letter queue orders-dlq (SqsManagedSseEnabled true)"
        );
        assert!(
            lines[1].starts_with("create queue orders (RedrivePolicy {"),
            "{}",
            lines[1]
        );
        assert!(lines[1].contains(&format!("{ARN}-dlq")), "{}", lines[1]);
        assert!(
            lines[1].ends_with("SqsManagedSseEnabled true, VisibilityTimeout 60)"),
            "{}",
            lines[1]
        );

        // Ours, with an older visibility timeout and the redrive policy in place.
        let dlq = queue(
            "prod",
            &[
                ("QueueArn", "arn:aws:sqs:us-east-1:111122223333:orders-dlq"),
                ("SqsManagedSseEnabled", "true"),
            ],
        );
        let redrive = plan::redrive_policy("arn:aws:sqs:us-east-1:111122223333:orders-dlq", 3);
        let main = queue(
            "prod",
            &[
                ("QueueArn", ARN),
                ("SqsManagedSseEnabled", "true"),
                ("VisibilityTimeout", "30"),
                ("RedrivePolicy", &redrive),
            ],
        );
        let mut out = empty_preview();
        plan_queues(&mut out, &spec(), Some(&main), Some(&Some(dlq)), ARN);
        let lines: Vec<String> = out.steps.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "adopt dead-letter queue orders-dlq",
                "update queue orders (VisibilityTimeout 30 -> 60)"
            ]
        );

        // Someone else's queue: kept without a DLQ, refused with one.
        let theirs = queue("dev", &[("QueueArn", ARN)]);
        let mut no_dlq = spec();
        no_dlq.dlq_max_receive_count = None;
        let mut out = empty_preview();
        plan_queues(&mut out, &no_dlq, Some(&theirs), None, ARN);
        assert_eq!(out.steps.len(), 1);
        assert_eq!(out.steps[0].verb, Verb::Keep);
        let mut out = empty_preview();
        plan_queues(&mut out, &spec(), Some(&theirs), Some(&None), ARN);
        assert_eq!(out.steps[0].verb, Verb::Refuse);
        assert!(
            out.refusals()[0].contains("won't change its RedrivePolicy"),
            "{:?}",
            out.refusals()
        );
    }

    fn empty_preview() -> Preview {
        Preview {
            queue_name: "orders".into(),
            instance: "prod".into(),
            steps: Vec::new(),
            policy: None,
            account_known: true,
        }
    }

    #[test]
    fn the_policy_statement_is_added_to_what_others_have_and_checked_against_the_limits() {
        let others = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{"Sid": "theirs", "Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": ARN},
                          {"Sid": "eventferry-prod-0123abcd", "Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": ARN}]
        });
        let q = queue(
            "prod",
            &[("QueueArn", ARN), ("Policy", &others.to_string())],
        );
        let mut out = empty_preview();
        plan_policy(&mut out, &spec(), Some(&q), ARN);
        let lines: Vec<String> = out.steps.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "create policy statement eventferry-prod on queue orders",
                "remove policy statement eventferry-prod-0123abcd on queue orders (an older per-rule or duplicate statement)"
            ]
        );
        let outcome = out.policy.clone().unwrap();
        assert_eq!(outcome.statements, 2);
        assert_eq!(outcome.limits, Ok(()));
        assert!(
            out.to_string()
                .contains("after the change: 2 statement(s), "),
            "{out}"
        );
        assert!(
            out.to_string()
                .contains("within AWS's limits (20 statements, 8192 bytes"),
            "{out}"
        );

        // 20 statements of others leave no room: a real run would refuse.
        let full: Vec<Value> = (0..20)
            .map(|i| serde_json::json!({"Sid": format!("s{i}"), "Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": ARN}))
            .collect();
        let policy = serde_json::json!({"Version": "2012-10-17", "Statement": full});
        let q = queue(
            "prod",
            &[("QueueArn", ARN), ("Policy", &policy.to_string())],
        );
        let mut out = empty_preview();
        plan_policy(&mut out, &spec(), Some(&q), ARN);
        assert_eq!(out.policy.as_ref().unwrap().statements, 21);
        assert!(out.policy.as_ref().unwrap().limits.is_err());
        assert!(out.to_string().contains("OVER AWS's limits"), "{out}");
        assert!(
            out.refusals()[0].contains("limit of 20 statements"),
            "{:?}",
            out.refusals()
        );
    }

    #[test]
    fn rules_and_targets_follow_the_same_decisions_as_provisioning() {
        let s = spec();
        let wanted = plan::plan_rules(&s).unwrap();
        let mut out = empty_preview();
        plan_rule_steps(&mut out, &s, &wanted, &[None]);
        let line = out.steps[0].to_string();
        assert!(line.starts_with("create rule eventferry-prod-"), "{line}");
        assert!(
            line.ends_with(r#"(bus default) (pattern {"source":["a"]})"#),
            "{line}"
        );

        // Not ours: a real run stops there.
        let have = RuleInfo {
            name: wanted[0].name.clone(),
            arn: "arn:aws:events:us-east-1:1:rule/x".into(),
            ..Default::default()
        };
        let mut out = empty_preview();
        plan_rule_steps(&mut out, &s, &wanted, &[Some((have, HashMap::new()))]);
        assert_eq!(out.steps[0].verb, Verb::Refuse);
        assert!(out.refusals()[0].contains("won't take it over"));

        let id = target_id("eventferry-prod", ARN).unwrap();
        let mut out = empty_preview();
        let in_place = vec![TargetInfo {
            id: id.clone(),
            arn: ARN.into(),
        }];
        plan_targets(&mut out, &s, &wanted, &[in_place], ARN).unwrap();
        assert_eq!(out.steps[0].verb, Verb::Adopt);
        assert!(out.steps[0]
            .what
            .starts_with(&format!("target {id} of rule eventferry-prod-")));
        let mut out = empty_preview();
        out.account_known = false;
        plan_targets(&mut out, &s, &wanted, &[Vec::new()], ARN).unwrap();
        assert_eq!(out.steps[0].verb, Verb::Create);
        assert!(
            out.steps[0].what.starts_with("target of rule "),
            "{}",
            out.steps[0].what
        );
    }
}
