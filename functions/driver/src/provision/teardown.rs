//! Undo [`provision`](super::provision): delete the rules (targets first), take our statements
//! out of a foreign queue's policy, and delete the queue and DLQ if they are ours. Every step
//! runs even if an earlier one failed; the failures come back together.

use aws_config::SdkConfig;
use eventferry_aws::eventbridge::EventBridge;
use eventferry_aws::sqs::Sqs;
use eventferry_aws::ErrorKind;

use super::apply::{apply_policy, delete_queue, remove_rule, PolicyQueue};
use super::error::ProvisionError;
use super::ownership::rule_prefix;
use super::policy;
use super::report::{ProvisionSummary, Provisioned, TeardownReport};

/// Remove the targets and delete the rules, remove our statements from the policy of a foreign
/// queue, delete the queue and the DLQ if they are ours. Failures come back together as
/// [`ProvisionError::Incomplete`].
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

async fn delete_rules(
    eb: &EventBridge,
    p: &Provisioned,
    report: &mut TeardownReport,
    errors: &mut Vec<ProvisionError>,
) {
    for rule in &p.rules {
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

/// Delete the dead-letter queue if there is one and it is ours.
async fn release_dlq(
    sqs: &Sqs,
    p: &Provisioned,
    report: &mut TeardownReport,
    errors: &mut Vec<ProvisionError>,
) {
    let Some(url) = &p.dlq_url else {
        return;
    };
    if !p.dlq_owned {
        report.queues_kept.push(url.clone());
        return;
    }
    match delete_queue(sqs, "dead-letter queue", url).await {
        Ok(true) => report.queues_deleted.push(url.clone()),
        Ok(false) => {}
        Err(e) => errors.push(e),
    }
}
