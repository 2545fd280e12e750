//! The AWS calls that make a [`ProvisionSpec`] true: [`provision`] creates or adopts the queue
//! (and DLQ), the rules, the queue policy statement and the targets, in that order, and removes
//! the rules this instance and queue no longer want. Also the removal calls that teardown and
//! cleanup share ([`remove_rule`], [`delete_queue`], [`set_policy`]).
//!
//! Every call goes through [`retry`], whose error names the step; `?` turns it into a
//! [`ProvisionError`].

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_sqs::types::QueueAttributeName;
use eventferry_aws::eventbridge::{EventBridge, TargetInfo};
use eventferry_aws::retry::{retry_until, Patience};
use eventferry_aws::sqs::Sqs;
use eventferry_aws::{retry, AwsError, ErrorKind, StepError};
use eventferry_core::names::{target_id, InstanceId};

use super::error::ProvisionError;
use super::lookup::instance_rules;
use super::ownership::{
    arn_account, is_ours, owner_tags, rule_prefix, MANAGED_BY, TAG_MANAGED_BY, TAG_OWNER, TAG_QUEUE,
};
use super::plan::{
    self, attribute_changes, dlq_for_a_foreign_queue, plan_rules, rule_action, target_in_place,
    RuleAction, RuleRef, WantedRule, DLQ_SUFFIX,
};
use super::policy::{
    self, PolicyChange, PolicyError, PolicyWrites, WantedStatement, POLICY_ATTEMPTS,
};
use super::report::{Change, OwnedRule, ProvisionSpec, ProvisionSummary, Provisioned};

/// Create or adopt the queue, DLQ, rules, targets and policy statements `spec` asks for, and
/// remove the rules (and statements) of this instance and queue that it no longer asks for.
pub async fn provision(
    cfg: &SdkConfig,
    spec: &ProvisionSpec,
) -> Result<Provisioned, ProvisionError> {
    let wanted = plan_rules(spec)?;
    let sqs = Sqs::new(cfg);
    let eb = EventBridge::new(cfg);
    let mut summary = ProvisionSummary::default();

    refuse_dlq_for_a_foreign_queue(&sqs, spec).await?;
    let dlq = ensure_dlq(&sqs, spec, &mut summary).await?;
    let queue = ensure_main_queue(&sqs, spec, dlq.as_ref(), &mut summary).await?;
    let account = arn_account(&queue.arn)
        .expect("checked in queue_attributes")
        .to_owned();
    let rules = ensure_rules(&eb, spec, &wanted, &queue.arn, &mut summary).await?;
    let found = instance_rules(&eb, &spec.instance, &spec.queue_name, &spec.event_bus).await?;
    let stale = plan::stale_rules(found.into_iter().map(|(r, _)| r).collect(), &wanted);
    let policy_queue = PolicyQueue {
        name: &spec.queue_name,
        url: &queue.url,
        arn: &queue.arn,
        account: &account,
    };
    allow_rules_to_send(&sqs, &policy_queue, spec, &mut summary).await?;
    ensure_targets(&eb, &spec.queue_name, &queue.arn, &rules, &mut summary).await?;
    remove_stale_rules(&eb, &stale, &mut summary).await?;

    Ok(Provisioned {
        queue_name: spec.queue_name.clone(),
        queue_url: queue.url,
        queue_arn: queue.arn,
        account,
        dlq_url: dlq.as_ref().map(|d| d.url.clone()),
        dlq_owned: dlq.as_ref().is_some_and(|d| d.owned),
        rules,
        queue_owned: queue.owned,
        instance: spec.instance.clone(),
        event_bus: spec.event_bus.clone(),
        summary,
    })
}

// ---------------------------------------------------------------------------------------------
// Queues

/// A queue as found or created.
struct QueueState {
    url: String,
    arn: String,
    owned: bool,
}

/// A foreign queue's redrive policy is not ours to set: with a DLQ asked for, an existing queue
/// must be eventferry's.
async fn refuse_dlq_for_a_foreign_queue(
    sqs: &Sqs,
    spec: &ProvisionSpec,
) -> Result<(), ProvisionError> {
    if spec.dlq_max_receive_count.is_none() {
        return Ok(());
    }
    let (queue_name, instance) = (spec.queue_name.as_str(), &spec.instance);
    let found = retry(format!("look up queue {queue_name}"), || {
        sqs.queue_url(queue_name)
    })
    .await?;
    let Some(url) = found else {
        return Ok(());
    };
    let tags = retry(format!("read the tags of queue {queue_name}"), || {
        sqs.tags(&url)
    })
    .await?;
    if is_ours(&tags, Some(instance)) {
        return Ok(());
    }
    Err(dlq_for_a_foreign_queue(queue_name, instance))
}

/// The dead-letter queue, if the spec asks for one. It comes first: the main queue's
/// RedrivePolicy names it.
async fn ensure_dlq(
    sqs: &Sqs,
    spec: &ProvisionSpec,
    summary: &mut ProvisionSummary,
) -> Result<Option<QueueState>, ProvisionError> {
    if spec.dlq_max_receive_count.is_none() {
        return Ok(None);
    }
    let name = format!("{}{DLQ_SUFFIX}", spec.queue_name);
    let dlq = ensure_queue(
        sqs,
        "dead-letter queue",
        &name,
        &spec.instance,
        plan::encrypted(),
        summary,
    )
    .await?;
    Ok(Some(dlq))
}

/// The queue the rules deliver to: encrypted, with the spec's visibility timeout and the
/// redrive policy to `dlq`.
async fn ensure_main_queue(
    sqs: &Sqs,
    spec: &ProvisionSpec,
    dlq: Option<&QueueState>,
    summary: &mut ProvisionSummary,
) -> Result<QueueState, ProvisionError> {
    let attrs = plan::queue_attributes(spec, dlq.map(|d| d.arn.as_str()));
    ensure_queue(
        sqs,
        "queue",
        &spec.queue_name,
        &spec.instance,
        attrs,
        summary,
    )
    .await
}

/// How long to wait out `QueueDeletedRecently`: SQS refuses to re-create a name for 60 s after
/// `DeleteQueue` (a replica's teardown, or an operator's); 65 s leaves room for clock skew.
pub const DELETED_RECENTLY: Patience = Patience {
    limit: Duration::from_secs(65),
    interval: Duration::from_secs(2),
};

/// How long a queue we just created may still answer `QueueDoesNotExist` (AWS: "wait at least
/// one second after the queue is created to be able to use the queue").
pub const NEW_QUEUE: Patience = Patience {
    limit: Duration::from_secs(5),
    interval: Duration::from_millis(250),
};

/// What `CreateQueue` came to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Created {
    /// Created (or an identical queue existed): its URL.
    Url(String),
    /// A queue of that name exists with other attributes (a concurrent creator: another replica,
    /// or an older version of eventferry): look it up and adopt it.
    NameTaken,
}

/// `CreateQueue` for `name`, waiting out `QueueDeletedRecently` for up to `patience.limit` (with
/// one warning saying why), and turning `QueueNameExists` (`QueueAlreadyExists` in the
/// query-compatible form) into [`Created::NameTaken`].
async fn create_queue_patiently<F, Fut>(
    label: &str,
    name: &str,
    patience: Patience,
    call: F,
) -> Result<Created, StepError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<String, AwsError>>,
{
    let waiting = |_: &AwsError| {
        tracing::warn!(
            "{label} {name} was deleted less than 60 s ago; SQS refuses to re-create it until \
             then (QueueDeletedRecently): waiting, up to {} s",
            patience.limit.as_secs()
        )
    };
    let deleted_recently = |e: &AwsError| e.has_code("QueueDeletedRecently");
    let step = format!("create {label} {name}");
    match retry_until(patience, step, deleted_recently, waiting, call).await {
        Ok(url) => Ok(Created::Url(url)),
        Err(e)
            if e.source.has_code("QueueNameExists") || e.source.has_code("QueueAlreadyExists") =>
        {
            Ok(Created::NameTaken)
        }
        Err(e) => Err(e),
    }
}

/// A queue not (yet) visible: `QueueDoesNotExist`.
fn not_visible(e: &AwsError) -> bool {
    e.kind == ErrorKind::NotFound
}

/// `GetQueueUrl` found no queue `name` although `CreateQueue` said it exists.
fn not_visible_yet(name: &str) -> AwsError {
    AwsError {
        operation: "GetQueueUrl",
        kind: ErrorKind::NotFound,
        code: Some("QueueDoesNotExist".into()),
        message: format!("queue {name} exists (CreateQueue said so) but is not visible yet"),
    }
}

/// No waiting: a queue that exists for a while answers at once.
const NO_WAIT: Patience = Patience {
    limit: Duration::ZERO,
    interval: Duration::ZERO,
};

/// Create the queue `name` (tagged, with `attrs`) or find it. For an existing queue of ours,
/// set the attributes in `attrs` that differ; a foreign queue is left exactly as it is.
/// The tag CloudFormation puts on what a stack creates (e.g. the SAM template's queue).
const CLOUDFORMATION_STACK_TAG: &str = "aws:cloudformation:stack-name";

async fn ensure_queue(
    sqs: &Sqs,
    label: &str,
    name: &str,
    instance: &InstanceId,
    attrs: HashMap<QueueAttributeName, String>,
    summary: &mut ProvisionSummary,
) -> Result<QueueState, ProvisionError> {
    let found = retry(format!("look up {label} {name}"), || sqs.queue_url(name)).await?;
    let (url, created) = match found {
        Some(url) => (url, false),
        None => match create_queue_patiently(label, name, DELETED_RECENTLY, || {
            sqs.create_queue(name, attrs.clone(), owner_tags(instance))
        })
        .await?
        {
            Created::Url(url) => (url, true),
            Created::NameTaken => {
                let step = format!("look up {label} {name} (created at the same time elsewhere)");
                let url = retry_until(
                    NEW_QUEUE,
                    step,
                    not_visible,
                    |_| {},
                    || async {
                        sqs.queue_url(name)
                            .await?
                            .ok_or_else(|| not_visible_yet(name))
                    },
                )
                .await?;
                (url, false)
            }
        },
    };
    // A queue just created may not be visible for a moment. And CreateQueue answers with the URL
    // of an identical queue someone else created at the same time: its tags say whose it is.
    let patience = if created { NEW_QUEUE } else { NO_WAIT };
    let step = format!("read the tags of {label} {name}");
    let tags = retry_until(patience, step, not_visible, |_| {}, || sqs.tags(&url)).await?;
    let (arn, current) = queue_attributes(sqs, label, name, &url, patience).await?;
    if let Some(stack) = tags.get(CLOUDFORMATION_STACK_TAG) {
        tracing::warn!(
            queue = %name,
            stack = %stack,
            "{label} {name} belongs to CloudFormation stack {stack} (tag {CLOUDFORMATION_STACK_TAG}): \
             this driver now competes with that stack's consumer (e.g. its router) for the \
             messages; pass another --queue-name unless that is what you want"
        );
        summary.push(
            Change::Kept,
            format!("{label} {name}: managed by CloudFormation stack {stack}, whose consumer competes for its messages"),
        );
    }
    if !is_ours(&tags, Some(instance)) {
        summary.push(
            Change::Kept,
            format!(
                "{label} {name} (not tagged {TAG_MANAGED_BY}={MANAGED_BY}, {TAG_OWNER}={instance}: \
                 used as it is, never retagged or deleted)"
            ),
        );
        return Ok(QueueState {
            url,
            arn,
            owned: false,
        });
    }
    if created {
        summary.push(Change::Created, format!("{label} {name}"));
    } else {
        update_queue_attributes(sqs, label, name, &url, attrs, &current, summary).await?;
    }
    Ok(QueueState {
        url,
        arn,
        owned: true,
    })
}

/// Set the attributes in `wanted` that differ from `current` on a queue of ours.
async fn update_queue_attributes(
    sqs: &Sqs,
    label: &str,
    name: &str,
    url: &str,
    wanted: HashMap<QueueAttributeName, String>,
    current: &HashMap<String, String>,
    summary: &mut ProvisionSummary,
) -> Result<(), ProvisionError> {
    let changes = attribute_changes(&wanted, current);
    if changes.is_empty() {
        summary.push(Change::Adopted, format!("{label} {name}"));
        return Ok(());
    }
    let what: Vec<String> = changes.iter().map(|c| c.key.as_str().to_owned()).collect();
    let changes: HashMap<QueueAttributeName, String> =
        changes.into_iter().map(|c| (c.key, c.to)).collect();
    retry(format!("update {label} {name}"), || {
        sqs.set_attributes(url, changes.clone())
    })
    .await?;
    summary.push(
        Change::Updated,
        format!("{label} {name} ({})", what.join(", ")),
    );
    Ok(())
}

/// The queue's ARN and all its attributes; `QueueDoesNotExist` is waited out for up to
/// `patience.limit` (a queue created a moment ago may not be visible yet).
async fn queue_attributes(
    sqs: &Sqs,
    label: &str,
    name: &str,
    url: &str,
    patience: Patience,
) -> Result<(String, HashMap<String, String>), ProvisionError> {
    let step = format!("read the attributes of {label} {name}");
    let attrs = retry_until(patience, step, not_visible, |_| {}, || sqs.attributes(url)).await?;
    match attrs.get("QueueArn") {
        Some(arn) if arn_account(arn).is_some() => Ok((arn.clone(), attrs)),
        other => Err(ProvisionError::Conflict(format!(
            "{label} {name}: SQS returned no usable QueueArn ({other:?})"
        ))),
    }
}

/// Delete queue `url`; a queue already gone is fine (`Ok(false)`).
pub(crate) async fn delete_queue(
    sqs: &Sqs,
    label: &str,
    url: &str,
) -> Result<bool, ProvisionError> {
    match retry(format!("delete {label} {url}"), || sqs.delete_queue(url)).await {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// Rules and targets

/// Create, adopt or update each rule we want; all deliver to `queue_arn`.
async fn ensure_rules(
    eb: &EventBridge,
    spec: &ProvisionSpec,
    wanted: &[WantedRule],
    queue_arn: &str,
    summary: &mut ProvisionSummary,
) -> Result<Vec<OwnedRule>, ProvisionError> {
    let instance = &spec.instance;
    let mut tags = owner_tags(instance);
    tags.insert(TAG_QUEUE.to_owned(), spec.queue_name.clone());
    let target = target_id(&rule_prefix(instance), queue_arn)
        .map_err(|e| ProvisionError::invalid("instance id", instance.as_str(), e.to_string()))?;
    let mut rules = Vec::with_capacity(wanted.len());
    for want in wanted {
        let arn = ensure_rule(eb, instance, want, &tags, summary).await?;
        rules.push(OwnedRule {
            name: want.name.clone(),
            arn,
            bus: want.bus.clone(),
            target_id: target.clone(),
        });
    }
    Ok(rules)
}

/// Create rule `want`, or adopt it if it is ours and as wanted, or update it if it is ours and
/// differs. A rule of that name that is not ours is a conflict. Returns the rule's ARN.
async fn ensure_rule(
    eb: &EventBridge,
    instance: &InstanceId,
    want: &WantedRule,
    tags: &HashMap<String, String>,
    summary: &mut ProvisionSummary,
) -> Result<String, ProvisionError> {
    let label = format!("rule {} (bus {})", want.name, want.bus);
    let put = || {
        eb.put_rule(
            &want.name,
            &want.bus,
            &want.trigger,
            &want.description,
            tags,
        )
    };
    let found = retry(format!("look up {label}"), || {
        eb.describe_rule(&want.name, &want.bus)
    })
    .await?;
    let rule_tags = match &found {
        Some(have) => retry(format!("read the tags of {label}"), || eb.tags(&have.arn)).await?,
        None => HashMap::new(),
    };
    let action = rule_action(
        found.as_ref().map(|have| (have, &rule_tags)),
        want,
        instance,
    )?;
    match (action, found) {
        (RuleAction::Adopt, Some(have)) => {
            summary.push(Change::Adopted, label);
            Ok(have.arn)
        }
        (RuleAction::Update(_), _) => {
            let arn = retry(format!("update {label}"), put).await?;
            summary.push(Change::Updated, label);
            Ok(arn)
        }
        (RuleAction::Create | RuleAction::Adopt, _) => {
            let arn = retry(format!("create {label}"), put).await?;
            summary.push(Change::Created, label);
            Ok(arn)
        }
    }
}

/// Make each rule deliver to the queue, once the queue accepts the rules' messages.
async fn ensure_targets(
    eb: &EventBridge,
    queue_name: &str,
    queue_arn: &str,
    rules: &[OwnedRule],
    summary: &mut ProvisionSummary,
) -> Result<(), ProvisionError> {
    for rule in rules {
        let label = format!("the target of rule {} (bus {})", rule.name, rule.bus);
        let targets = retry(format!("list {label}"), || {
            eb.list_targets_by_rule(&rule.name, &rule.bus)
        })
        .await?;
        if target_in_place(&targets, &rule.target_id, queue_arn) {
            continue;
        }
        let target = [TargetInfo {
            id: rule.target_id.clone(),
            arn: queue_arn.to_owned(),
        }];
        retry(format!("set {label}"), || {
            eb.put_targets(&rule.name, &rule.bus, &target)
        })
        .await?;
        summary.push(
            Change::Created,
            format!(
                "target {} of rule {} -> queue {queue_name}",
                rule.target_id, rule.name
            ),
        );
    }
    Ok(())
}

/// Finally remove the stale rules.
async fn remove_stale_rules(
    eb: &EventBridge,
    stale: &[RuleRef],
    summary: &mut ProvisionSummary,
) -> Result<(), ProvisionError> {
    for rule in stale {
        remove_rule(eb, &rule.name, &rule.bus).await?;
        summary.push(
            Change::Removed,
            format!("rule {} (bus {})", rule.name, rule.bus),
        );
    }
    Ok(())
}

/// Remove every target of rule `name` on `bus`, then the rule. A rule already gone is fine
/// (`Ok(false)`).
pub(crate) async fn remove_rule(
    eb: &EventBridge,
    name: &str,
    bus: &str,
) -> Result<bool, ProvisionError> {
    let label = format!("rule {name} (bus {bus})");
    let targets = match retry(format!("list the targets of {label}"), || {
        eb.list_targets_by_rule(name, bus)
    })
    .await
    {
        Ok(t) => t,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    let ids: Vec<String> = targets.into_iter().map(|t| t.id).collect();
    if !ids.is_empty() {
        match retry(format!("remove the targets of {label}"), || {
            eb.remove_targets(name, bus, &ids)
        })
        .await
        {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e.into()),
        }
    }
    match retry(format!("delete {label}"), || eb.delete_rule(name, bus)).await {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// Policy

/// The queue whose policy is merged.
pub(crate) struct PolicyQueue<'a> {
    pub name: &'a str,
    pub url: &'a str,
    pub arn: &'a str,
    pub account: &'a str,
}

/// Our one statement in (allowing every rule of the instance), the instance's older per-rule
/// statements out, everyone else's untouched.
async fn allow_rules_to_send(
    sqs: &Sqs,
    queue: &PolicyQueue<'_>,
    spec: &ProvisionSpec,
    summary: &mut ProvisionSummary,
) -> Result<(), ProvisionError> {
    let prefix = rule_prefix(&spec.instance);
    let wanted =
        policy::instance_statement(queue.arn, &prefix, &spec.event_bus).map_err(|source| {
            ProvisionError::Policy {
                queue: queue.name.to_owned(),
                source,
            }
        })?;
    let owned = |sid: &str| policy::is_instance_sid(sid, &prefix);
    apply_policy(sqs, queue, &[wanted], &[], owned, summary).await?;
    Ok(())
}

/// Put the instance's statement back into the queue's policy if it is missing or changed (a
/// writer racing ours replaced the policy without it), and take the instance's older per-rule
/// statements out. For a running replica to call now and then. `Ok(true)`: it had to write.
pub async fn ensure_policy(cfg: &SdkConfig, p: &Provisioned) -> Result<bool, ProvisionError> {
    let prefix = rule_prefix(&p.instance);
    let wanted =
        policy::instance_statement(&p.queue_arn, &prefix, &p.event_bus).map_err(|source| {
            ProvisionError::Policy {
                queue: p.queue_name.clone(),
                source,
            }
        })?;
    let queue = PolicyQueue {
        name: &p.queue_name,
        url: &p.queue_url,
        arn: &p.queue_arn,
        account: &p.account,
    };
    let owned = |sid: &str| policy::is_instance_sid(sid, &prefix);
    let mut summary = ProvisionSummary::default();
    let done = apply_policy(&Sqs::new(cfg), &queue, &[wanted], &[], owned, &mut summary).await?;
    if done.writes > 0 {
        tracing::warn!(queue = %p.queue_name, "{summary}: the instance's queue policy statement was missing or changed");
    }
    Ok(done.writes > 0)
}

/// Make the queue's policy hold `wanted` (and not `remove` or other statements `owned` says are
/// ours; see [`policy::merge`]): read, merge, check against AWS's limits, write; then re-read after
/// a pause, because the write replaced the whole policy and a writer racing us may have replaced
/// ours. Repeat until a re-read shows the policy as wanted, at most [`POLICY_ATTEMPTS`] writes.
pub(crate) async fn apply_policy(
    sqs: &Sqs,
    queue: &PolicyQueue<'_>,
    wanted: &[WantedStatement],
    remove: &[String],
    owned: impl Fn(&str) -> bool,
    summary: &mut ProvisionSummary,
) -> Result<PolicyWrites, ProvisionError> {
    let name = queue.name;
    let policy_error = |source| ProvisionError::Policy {
        queue: name.to_owned(),
        source,
    };
    let mut done = PolicyWrites::default();
    loop {
        let attrs = retry(format!("read the policy of queue {name}"), || {
            sqs.attributes(queue.url)
        })
        .await?;
        let current = attrs.get("Policy").map(String::as_str);
        let change = policy::merge(current, queue.arn, queue.account, wanted, remove, &owned)
            .map_err(policy_error)?;
        if change == PolicyChange::Unchanged {
            break;
        }
        if done.writes == POLICY_ATTEMPTS {
            return Err(policy_error(PolicyError::overwritten(&change, done.writes)));
        }
        if let PolicyChange::Set { document, .. } = &change {
            policy::check_limits(document).map_err(policy_error)?;
        }
        if done.writes > 0 {
            tracing::warn!(
                queue = name,
                writes = done.writes,
                "the queue policy changed under us (a concurrent writer?); merging and writing again"
            );
        }
        set_policy(sqs, name, queue.url, &change).await?;
        done.record(&change);
        tokio::time::sleep(policy::pause_after_write(done.writes)).await;
    }
    let statement = |sid: &String| format!("policy statement {sid} on queue {name}");
    for sid in &done.added {
        summary.push(Change::Created, statement(sid));
    }
    for sid in &done.replaced {
        summary.push(Change::Updated, statement(sid));
    }
    for sid in &done.removed {
        summary.push(Change::Removed, statement(sid));
    }
    Ok(done)
}

/// Write a policy change to queue `name` at `url` (an empty policy for `Clear`).
pub(crate) async fn set_policy(
    sqs: &Sqs,
    name: &str,
    url: &str,
    change: &PolicyChange,
) -> Result<(), ProvisionError> {
    let document = match change {
        PolicyChange::Set { document, .. } => document.clone(),
        PolicyChange::Clear { .. } | PolicyChange::Unchanged => String::new(),
    };
    let set = HashMap::from([(QueueAttributeName::Policy, document)]);
    retry(format!("set the policy of queue {name}"), || {
        sqs.set_attributes(url, set.clone())
    })
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    const SHORT: Patience = Patience {
        limit: Duration::from_millis(300),
        interval: Duration::from_millis(5),
    };

    fn sqs_error(code: &str) -> AwsError {
        AwsError {
            operation: "CreateQueue",
            kind: ErrorKind::Other,
            code: Some(code.into()),
            message: format!("refused ({code})"),
        }
    }

    #[tokio::test]
    async fn a_recently_deleted_name_is_waited_out_in_both_code_forms() {
        for code in [
            "QueueDeletedRecently",
            "AWS.SimpleQueueService.QueueDeletedRecently",
        ] {
            let calls = AtomicU32::new(0);
            let created = create_queue_patiently("queue", "orders", SHORT, || async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0..=2 => Err(sqs_error(code)),
                    _ => Ok("http://sqs/1/orders".to_owned()),
                }
            })
            .await
            .unwrap();
            assert_eq!(created, Created::Url("http://sqs/1/orders".into()));
            assert_eq!(calls.load(Ordering::SeqCst), 4, "{code}");
        }
    }

    #[tokio::test]
    async fn a_name_still_refused_after_the_deadline_fails_saying_so() {
        let err = create_queue_patiently("queue", "orders", SHORT, || async {
            Err::<String, _>(sqs_error("QueueDeletedRecently"))
        })
        .await
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("create queue orders (still refused after waiting"),
            "{text}"
        );
        assert!(text.contains("QueueDeletedRecently"), "{text}");
    }

    #[tokio::test]
    async fn a_name_taken_by_a_concurrent_creator_is_adopted_not_an_error() {
        for code in [
            "QueueNameExists",
            "AWS.SimpleQueueService.QueueNameExists",
            "QueueAlreadyExists",
        ] {
            let calls = AtomicU32::new(0);
            let created = create_queue_patiently("queue", "orders", SHORT, || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err::<String, _>(sqs_error(code))
            })
            .await
            .unwrap();
            assert_eq!(created, Created::NameTaken, "{code}");
            assert_eq!(calls.load(Ordering::SeqCst), 1, "not retried: {code}");
        }
        // Other errors stay errors, untried again.
        let err = create_queue_patiently("queue", "orders", SHORT, || async {
            Err::<String, _>(sqs_error("InvalidAttributeValue"))
        })
        .await
        .unwrap_err();
        assert_eq!(err.step, "create queue orders");
    }

    #[tokio::test]
    async fn a_new_queue_not_visible_yet_is_retried_for_a_few_seconds() {
        assert!(
            NEW_QUEUE.limit >= Duration::from_secs(2) && NEW_QUEUE.limit <= Duration::from_secs(10)
        );
        assert!(DELETED_RECENTLY.limit > Duration::from_secs(60));
        let missing = AwsError {
            operation: "GetQueueAttributes",
            kind: ErrorKind::NotFound,
            code: Some("AWS.SimpleQueueService.NonExistentQueue".into()),
            message: "The specified queue does not exist.".into(),
        };
        assert!(not_visible(&missing));
        assert!(not_visible(&not_visible_yet("orders")));
        let calls = AtomicU32::new(0);
        let arn = retry_until(
            SHORT,
            "read",
            not_visible,
            |_| {},
            || async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 | 1 => Err(AwsError {
                        message: missing.message.clone(),
                        code: missing.code.clone(),
                        ..missing
                    }),
                    _ => Ok("arn"),
                }
            },
        )
        .await
        .unwrap();
        assert_eq!(arn, "arn");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        // With no patience (an existing queue) the first QueueDoesNotExist is the answer.
        let calls = AtomicU32::new(0);
        let err = retry_until(
            NO_WAIT,
            "read",
            not_visible,
            |_| {},
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(not_visible_yet("orders"))
            },
        )
        .await
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
