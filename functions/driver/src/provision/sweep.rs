//! `eventferry cleanup`'s logic: find what a killed driver left behind, by name prefix and tags,
//! and remove it.
//!
//! - Rules named `eventferry-<owner>-...` on the bus (and on the default bus, where schedule rules
//!   live) and tagged `managed-by=eventferry` (and `eventferry-owner=<owner>`): targets removed,
//!   rule deleted.
//! - Queues (optionally only those whose name starts with a prefix) tagged the same way,
//!   dead-letter queues included: deleted.
//! - Queues that are not ours but that our rules delivered to (or whose names match the prefix):
//!   the policy statements of those rules (and any other statement of the owner's shape,
//!   `eventferry-<owner>-<hash>`) are removed; everything else in their policies stays.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use aws_config::SdkConfig;
use eventferry_aws::eventbridge::EventBridge;
use eventferry_aws::sqs::Sqs;
use eventferry_aws::ErrorKind;
use eventferry_core::names::InstanceId;

use super::policy::{self, PolicyChange};
use super::{delete_queue, is_ours, remove_rule, retry, rule_prefix, ProvisionError, DEFAULT_BUS};

/// Whose resources to sweep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// Only this instance's.
    One(InstanceId),
    /// Every instance's (anything tagged `managed-by=eventferry`).
    AllOwned,
}

impl Owner {
    fn instance(&self) -> Option<&InstanceId> {
        match self {
            Owner::One(id) => Some(id),
            Owner::AllOwned => None,
        }
    }

    /// The rule name prefix to list: `eventferry-<owner>-`, or `eventferry-` for all owners.
    fn listing_prefix(&self) -> String {
        match self {
            Owner::One(id) => format!("{}-", rule_prefix(id)),
            Owner::AllOwned => "eventferry-".to_owned(),
        }
    }

    /// Whether a policy Sid has the shape of a rule name of this owner (or of any owner).
    fn owns_sid(&self, sid: &str) -> bool {
        match self {
            Owner::One(id) => policy::is_owned_sid(sid, &rule_prefix(id)),
            Owner::AllOwned => sid.rsplit_once('-').is_some_and(|(prefix, _)| {
                prefix.starts_with("eventferry-") && policy::is_owned_sid(sid, prefix)
            }),
        }
    }
}

/// What to sweep.
#[derive(Debug, Clone)]
pub struct SweepSpec {
    pub owner: Owner,
    /// The bus to look for rules on; the default bus is always searched as well.
    pub event_bus: String,
    /// Only queues whose names start with this (empty: every queue).
    pub queue_prefix: String,
    /// List what would be removed; change nothing.
    pub dry_run: bool,
}

/// What a sweep removed (or, in a dry run, would remove), and what failed.
#[derive(Debug, Default)]
pub struct SweepReport {
    pub dry_run: bool,
    /// `name (bus)` of each rule.
    pub rules: Vec<String>,
    /// URLs of queues.
    pub queues: Vec<String>,
    /// `sid on queue <url>` of each policy statement removed from a queue that isn't ours.
    pub statements: Vec<String>,
    /// Steps that failed; the sweep went on with the rest.
    pub errors: Vec<ProvisionError>,
}

impl SweepReport {
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty() && self.queues.is_empty() && self.statements.is_empty()
    }
}

impl fmt::Display for SweepReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = if self.dry_run {
            "would delete"
        } else {
            "deleted"
        };
        let stmt_verb = if self.dry_run {
            "would remove"
        } else {
            "removed"
        };
        if self.is_empty() {
            return f.write_str(if self.dry_run {
                "nothing to delete"
            } else {
                "nothing left to delete"
            });
        }
        let mut lines = Vec::new();
        lines.extend(self.rules.iter().map(|r| format!("{verb} rule {r}")));
        lines.extend(self.queues.iter().map(|q| format!("{verb} queue {q}")));
        lines.extend(
            self.statements
                .iter()
                .map(|s| format!("{stmt_verb} policy statement {s}")),
        );
        f.write_str(&lines.join("\n"))
    }
}

/// Sweep the resources of `spec.owner`. Listing failures stop the sweep (`Err`); a failure to
/// remove one resource is recorded in the report and the sweep goes on.
pub async fn sweep(cfg: &SdkConfig, spec: &SweepSpec) -> Result<SweepReport, ProvisionError> {
    let sqs = Sqs::new(cfg);
    let eb = EventBridge::new(cfg);
    let owner = spec.instance();
    let mut report = SweepReport {
        dry_run: spec.dry_run,
        ..Default::default()
    };

    // Rules, and the queues they deliver to (queue name -> Sids of our rules).
    let mut targeted: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut buses = vec![spec.event_bus.clone()];
    if spec.event_bus != DEFAULT_BUS {
        buses.push(DEFAULT_BUS.to_owned());
    }
    let listing = spec.owner.listing_prefix();
    for bus in &buses {
        let rules = retry("ListRules", || eb.list_rules(bus, &listing))
            .await
            .map_err(ProvisionError::aws(format!(
                "list rules {listing}* on bus {bus}"
            )))?;
        for rule in rules {
            if rule.managed_by.is_some() {
                continue;
            }
            let tags = match retry("ListTagsForResource", || eb.tags(&rule.arn)).await {
                Ok(tags) => tags,
                Err(e) if e.kind == ErrorKind::NotFound => continue,
                Err(e) => {
                    report.errors.push(ProvisionError::aws(format!(
                        "read the tags of rule {} (bus {bus})",
                        rule.name
                    ))(e));
                    continue;
                }
            };
            if !is_ours(&tags, owner) {
                continue;
            }
            match retry("ListTargetsByRule", || {
                eb.list_targets_by_rule(&rule.name, bus)
            })
            .await
            {
                Ok(targets) => {
                    for t in targets {
                        if let Some(queue) = sqs_queue_name(&t.arn) {
                            targeted
                                .entry(queue.to_owned())
                                .or_default()
                                .push(rule.name.clone());
                        }
                    }
                }
                Err(e) if e.kind == ErrorKind::NotFound => continue,
                Err(e) => {
                    report.errors.push(ProvisionError::aws(format!(
                        "list the targets of rule {} (bus {bus})",
                        rule.name
                    ))(e));
                    continue;
                }
            }
            let label = format!("{} (bus {bus})", rule.name);
            if spec.dry_run {
                report.rules.push(label);
                continue;
            }
            match remove_rule(&eb, &rule.name, bus).await {
                Ok(true) => report.rules.push(label),
                Ok(false) => {}
                Err(e) => report.errors.push(e),
            }
        }
    }

    // Queues under the prefix: ours are deleted, others have their policy cleaned.
    let urls = retry("ListQueues", || sqs.list_queues(&spec.queue_prefix))
        .await
        .map_err(ProvisionError::aws(format!(
            "list queues with prefix {:?}",
            spec.queue_prefix
        )))?;
    let mut foreign: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut deleted_names = Vec::new();
    for url in urls {
        let name = url.rsplit('/').next().unwrap_or_default().to_owned();
        let tags = match retry("ListQueueTags", || sqs.tags(&url)).await {
            Ok(tags) => tags,
            Err(e) if e.kind == ErrorKind::NotFound => continue,
            Err(e) => {
                report.errors.push(ProvisionError::aws(format!(
                    "read the tags of queue {name}"
                ))(e));
                continue;
            }
        };
        if !is_ours(&tags, owner) {
            foreign.insert(url, targeted.remove(&name).unwrap_or_default());
            continue;
        }
        deleted_names.push(name.clone());
        if spec.dry_run {
            report.queues.push(url);
            continue;
        }
        match delete_queue(&sqs, "queue", &url).await {
            Ok(true) => report.queues.push(url),
            Ok(false) => {}
            Err(e) => report.errors.push(e),
        }
    }
    // Queues our rules delivered to that the prefix did not list.
    for (name, sids) in targeted {
        if deleted_names.contains(&name) {
            continue;
        }
        match retry("GetQueueUrl", || sqs.queue_url(&name)).await {
            Ok(Some(url)) => {
                // Only if it is not ours: ours go with cleanup under their own prefix.
                match retry("ListQueueTags", || sqs.tags(&url)).await {
                    Ok(tags) if is_ours(&tags, owner) => {}
                    Ok(_) => foreign.entry(url).or_default().extend(sids),
                    Err(e) if e.kind == ErrorKind::NotFound => {}
                    Err(e) => report.errors.push(ProvisionError::aws(format!(
                        "read the tags of queue {name}"
                    ))(e)),
                }
            }
            Ok(None) => {}
            Err(e) => report
                .errors
                .push(ProvisionError::aws(format!("look up queue {name}"))(e)),
        }
    }

    for (url, sids) in foreign {
        if let Err(e) =
            clean_policy(&sqs, &url, &sids, &spec.owner, spec.dry_run, &mut report).await
        {
            report.errors.push(e);
        }
    }
    Ok(report)
}

/// Remove from a foreign queue's policy the statements `sids` and any of the owner's shape.
async fn clean_policy(
    sqs: &Sqs,
    url: &str,
    sids: &[String],
    owner: &Owner,
    dry_run: bool,
    report: &mut SweepReport,
) -> Result<(), ProvisionError> {
    let name = url.rsplit('/').next().unwrap_or_default();
    let attrs = match retry("GetQueueAttributes", || sqs.attributes(url)).await {
        Ok(a) => a,
        Err(e) if e.kind == ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(ProvisionError::aws(format!(
                "read the policy of queue {name}"
            ))(e))
        }
    };
    let Some(current) = attrs.get("Policy").filter(|p| !p.trim().is_empty()) else {
        return Ok(());
    };
    let queue_arn = attrs.get("QueueArn").cloned().unwrap_or_default();
    let account = super::arn_region_account(&queue_arn)
        .map(|(_, a)| a)
        .unwrap_or_default();
    // A policy we can't parse is not ours to touch: report and leave it.
    let change = policy::merge(Some(current), &queue_arn, &account, &[], sids, |sid| {
        owner.owns_sid(sid)
    })
    .map_err(|source| ProvisionError::Policy {
        queue: name.to_owned(),
        source,
    })?;
    let removed = change.removed().to_vec();
    if removed.is_empty() {
        return Ok(());
    }
    if !dry_run {
        let document = match change {
            PolicyChange::Set { document, .. } => document,
            PolicyChange::Clear { .. } | PolicyChange::Unchanged => String::new(),
        };
        let set = HashMap::from([(aws_sdk_sqs::types::QueueAttributeName::Policy, document)]);
        retry("SetQueueAttributes", || {
            sqs.set_attributes(url, set.clone())
        })
        .await
        .map_err(ProvisionError::aws(format!(
            "set the policy of queue {name}"
        )))?;
    }
    report.statements.extend(
        removed
            .into_iter()
            .map(|sid| format!("{sid} on queue {url}")),
    );
    Ok(())
}

/// The queue name in an SQS ARN (`arn:<partition>:sqs:<region>:<account>:<name>`).
fn sqs_queue_name(arn: &str) -> Option<&str> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts[..] {
        ["arn", _, "sqs", _, _, name] if !name.is_empty() => Some(name),
        _ => None,
    }
}

impl SweepSpec {
    fn instance(&self) -> Option<&InstanceId> {
        self.owner.instance()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_prefixes_and_sids() {
        let one = Owner::One(InstanceId::new("prod").unwrap());
        assert_eq!(one.listing_prefix(), "eventferry-prod-");
        assert_eq!(Owner::AllOwned.listing_prefix(), "eventferry-");
        assert!(one.owns_sid("eventferry-prod-0123abcd"));
        assert!(!one.owns_sid("eventferry-prod-eu-0123abcd"));
        assert!(Owner::AllOwned.owns_sid("eventferry-prod-eu-0123abcd"));
        assert!(!Owner::AllOwned.owns_sid("eventferry-0123abcd"));
        assert!(!Owner::AllOwned.owns_sid("AllowSns"));
        assert!(!Owner::AllOwned.owns_sid("mine-prod-0123abcd"));
    }

    #[test]
    fn sqs_arns() {
        assert_eq!(
            sqs_queue_name("arn:aws:sqs:us-east-1:000000000000:orders"),
            Some("orders")
        );
        assert_eq!(
            sqs_queue_name("arn:aws:lambda:us-east-1:0:function:f"),
            None
        );
        assert_eq!(sqs_queue_name("nope"), None);
    }

    #[test]
    fn report_lines() {
        let mut r = SweepReport {
            dry_run: true,
            ..Default::default()
        };
        assert_eq!(r.to_string(), "nothing to delete");
        r.rules.push("eventferry-a-0123abcd (bus default)".into());
        r.queues.push("http://q/1/orders".into());
        assert_eq!(
            r.to_string(),
            "would delete rule eventferry-a-0123abcd (bus default)\nwould delete queue http://q/1/orders"
        );
    }
}
