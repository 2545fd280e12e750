//! Undo [`provision`](super::provision) for the whole instance on this queue, not only what this
//! process set up: replicas of other versions may have left other rules. Every rule of the
//! instance that is tagged with this queue is deleted (targets first), on the instance's bus and
//! the default bus; the instance's policy statements (the one statement, and per-rule ones of older
//! versions) leave a foreign queue's policy; the queue and the DLQ are deleted if they are ours.
//! Every step runs even if an earlier one failed; the failures come back together.

use aws_config::SdkConfig;
use eventferry_aws::eventbridge::EventBridge;
use eventferry_aws::sqs::Sqs;
use eventferry_aws::{retry, ErrorKind};

use super::apply::{apply_policy, delete_queue, remove_rule, PolicyQueue};
use super::error::ProvisionError;
use super::lookup::instance_rules;
use super::ownership::{is_ours, rule_prefix};
use super::plan::{RuleRef, DLQ_SUFFIX};
use super::policy;
use super::report::{ProvisionSummary, Provisioned, TeardownReport};

/// Remove the targets and delete the rules of the instance on this queue, remove its statements
/// from the policy of a foreign queue, delete the queue and the DLQ if they are ours. Failures
/// come back together as [`ProvisionError::Incomplete`].
pub async fn teardown(cfg: &SdkConfig, p: &Provisioned) -> Result<TeardownReport, ProvisionError> {
    let sqs = Sqs::new(cfg);
    let eb = EventBridge::new(cfg);
    let mut report = TeardownReport::default();
    let mut errors = Vec::new();

    delete_rules(&eb, p, &mut report, &mut errors).await;
    release_queue(&sqs, p, &mut report, &mut errors).await;
    release_dlq(&sqs, p, &mut report, &mut errors).await;

    if errors.is_empty() {
        Ok(report)
    } else {
        Err(ProvisionError::Incomplete {
            owner: p.instance.clone(),
            report: Box::new(report),
            errors,
        })
    }
}

/// The rules of `p` and every other rule of the instance tagged with the queue (if the listing
/// fails, that is an error and the rules of `p` still go).
async fn delete_rules(
    eb: &EventBridge,
    p: &Provisioned,
    report: &mut TeardownReport,
    errors: &mut Vec<ProvisionError>,
) {
    let mut rules: Vec<RuleRef> = p
        .rules
        .iter()
        .map(|r| RuleRef {
            name: r.name.clone(),
            bus: r.bus.clone(),
        })
        .collect();
    match instance_rules(eb, &p.instance, &p.queue_name, &p.event_bus).await {
        Ok(found) => {
            for (rule, _) in found {
                if !rules.contains(&rule) {
                    rules.push(rule);
                }
            }
        }
        Err(e) => errors.push(e),
    }
    for rule in &rules {
        match remove_rule(eb, &rule.name, &rule.bus).await {
            Ok(true) => report
                .rules_deleted
                .push(format!("{} (bus {})", rule.name, rule.bus)),
            Ok(false) => {}
            Err(e) => errors.push(e),
        }
    }
}

/// Delete the queue if it is ours; otherwise keep it and take the instance's statements (the one
/// statement, and per-rule ones of older versions) out of its policy.
async fn release_queue(
    sqs: &Sqs,
    p: &Provisioned,
    report: &mut TeardownReport,
    errors: &mut Vec<ProvisionError>,
) {
    if p.queue_owned {
        match delete_queue(sqs, "queue", &p.queue_url).await {
            Ok(true) => report.queues_deleted.push(p.queue_url.clone()),
            Ok(false) => {}
            Err(e) => errors.push(e),
        }
        return;
    }
    let prefix = rule_prefix(&p.instance);
    let owned = |sid: &str| policy::is_instance_sid(sid, &prefix);
    let queue = PolicyQueue {
        name: &p.queue_name,
        url: &p.queue_url,
        arn: &p.queue_arn,
        account: &p.account,
    };
    let mut ignored = ProvisionSummary::default();
    match apply_policy(sqs, &queue, &[], &[], owned, &mut ignored).await {
        Ok(done) => report.statements_removed.extend(done.removed),
        Err(ProvisionError::Aws(e)) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => errors.push(e),
    }
    report.queues_kept.push(p.queue_url.clone());
}

/// Delete the dead-letter queue if it is ours: the one `p` set up, or, for a queue of ours that
/// `p` made without one, a `<queue>-dlq` another replica's version set up (tagged as the
/// instance's).
async fn release_dlq(
    sqs: &Sqs,
    p: &Provisioned,
    report: &mut TeardownReport,
    errors: &mut Vec<ProvisionError>,
) {
    let url = match &p.dlq_url {
        Some(url) if !p.dlq_owned => return report.queues_kept.push(url.clone()),
        Some(url) => url.clone(),
        None if !p.queue_owned => return,
        None => match other_versions_dlq(sqs, p).await {
            Ok(Some(url)) => url,
            Ok(None) => return,
            Err(e) => return errors.push(e),
        },
    };
    match delete_queue(sqs, "dead-letter queue", &url).await {
        Ok(true) => report.queues_deleted.push(url),
        Ok(false) => {}
        Err(e) => errors.push(e),
    }
}

/// The URL of `<queue>-dlq` if it exists and is the instance's.
async fn other_versions_dlq(sqs: &Sqs, p: &Provisioned) -> Result<Option<String>, ProvisionError> {
    let name = format!("{}{DLQ_SUFFIX}", p.queue_name);
    let Some(url) = retry(format!("look up dead-letter queue {name}"), || {
        sqs.queue_url(&name)
    })
    .await?
    else {
        return Ok(None);
    };
    match retry(format!("read the tags of dead-letter queue {name}"), || {
        sqs.tags(&url)
    })
    .await
    {
        Ok(tags) if is_ours(&tags, Some(&p.instance)) => Ok(Some(url)),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}
