//! `eventferry cleanup`'s logic: find what a killed driver left behind, by name prefix and tags,
//! and remove it.
//!
//! - Rules named `eventferry-<owner>-...` on the bus (and on the default bus, where schedule rules
//!   live) and tagged `managed-by=eventferry` (and `eventferry-owner=<owner>`): targets removed,
//!   rule deleted.
//! - Queues (optionally only those whose name starts with a prefix) tagged the same way,
//!   dead-letter queues included: deleted.
//! - Queues that are not ours but that our rules delivered to (or whose names match the prefix):
//!   the owner's policy statements (`eventferry-<owner>`, and the per-rule ones of older versions,
//!   `eventferry-<owner>-<hash>`) are removed; everything else in their policies stays.

use std::collections::BTreeMap;
use std::fmt;

use aws_config::SdkConfig;
use eventferry_aws::eventbridge::{EventBridge, RuleInfo};
use eventferry_aws::sqs::Sqs;
use eventferry_aws::{retry, ErrorKind};
use eventferry_core::names::InstanceId;

use super::apply::{delete_queue, remove_rule, set_policy};
use super::error::ProvisionError;
use super::ownership::{arn_account, is_ours, queue_name_of_url, rule_prefix, sqs_queue_name};
use super::plan::searched_buses;
use super::policy;

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

    /// Whether a policy Sid is a statement of this owner (or of any owner): the instance's one
    /// statement (`eventferry-<owner>`) or a per-rule one of older versions
    /// (`eventferry-<owner>-<8 hex>`).
    fn owns_sid(&self, sid: &str) -> bool {
        match self {
            Owner::One(id) => policy::is_instance_sid(sid, &rule_prefix(id)),
            Owner::AllOwned => {
                let per_rule = sid.rsplit_once('-').is_some_and(|(prefix, _)| {
                    prefix.starts_with("eventferry-") && policy::is_owned_sid(sid, prefix)
                });
                let instance = sid
                    .strip_prefix("eventferry-")
                    .is_some_and(|id| InstanceId::new(id).is_ok());
                per_rule || instance
            }
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

/// Queue name -> Sids of the owner's rules that deliver to it.
type Targeted = BTreeMap<String, Vec<String>>;

/// Sweep the resources of `spec.owner`. Listing failures stop the sweep (`Err`); a failure to
/// remove one resource is recorded in the report and the sweep goes on.
pub async fn sweep(cfg: &SdkConfig, spec: &SweepSpec) -> Result<SweepReport, ProvisionError> {
    let sqs = Sqs::new(cfg);
    let eb = EventBridge::new(cfg);
    let mut report = SweepReport {
        dry_run: spec.dry_run,
        ..Default::default()
    };
    let mut targeted = sweep_rules(&eb, spec, &mut report).await?;
    let (mut foreign, deleted_names) = sweep_queues(&sqs, spec, &mut targeted, &mut report).await?;
    for (name, sids) in targeted {
        if !deleted_names.contains(&name) {
            find_foreign_target(&sqs, spec, &name, sids, &mut foreign, &mut report).await;
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

/// The owner's rules on the searched buses: each one removed (targets first), and the queues it
/// delivered to remembered.
async fn sweep_rules(
    eb: &EventBridge,
    spec: &SweepSpec,
    report: &mut SweepReport,
) -> Result<Targeted, ProvisionError> {
    let mut targeted = Targeted::new();
    let listing = spec.owner.listing_prefix();
    for bus in searched_buses(&spec.event_bus) {
        let rules = retry(format!("list rules {listing}* on bus {bus}"), || {
            eb.list_rules(&bus, &listing)
        })
        .await?;
        for rule in rules {
            if rule.managed_by.is_none() {
                sweep_rule(eb, spec, &bus, &rule, &mut targeted, report).await;
            }
        }
    }
    Ok(targeted)
}

/// One rule: if its tags say it is the owner's, note the queues it delivers to and remove it.
async fn sweep_rule(
    eb: &EventBridge,
    spec: &SweepSpec,
    bus: &str,
    rule: &RuleInfo,
    targeted: &mut Targeted,
    report: &mut SweepReport,
) {
    let label = format!("{} (bus {bus})", rule.name);
    let tags = match retry(format!("read the tags of rule {label}"), || {
        eb.tags(&rule.arn)
    })
    .await
    {
        Ok(tags) => tags,
        Err(e) if e.kind() == ErrorKind::NotFound => return,
        Err(e) => return report.errors.push(e.into()),
    };
    if !is_ours(&tags, spec.instance()) {
        return;
    }
    match retry(format!("list the targets of rule {label}"), || {
        eb.list_targets_by_rule(&rule.name, bus)
    })
    .await
    {
        Ok(targets) => {
            for queue in targets.iter().filter_map(|t| sqs_queue_name(&t.arn)) {
                targeted
                    .entry(queue.to_owned())
                    .or_default()
                    .push(rule.name.clone());
            }
        }
        Err(e) if e.kind() == ErrorKind::NotFound => return,
        Err(e) => return report.errors.push(e.into()),
    }
    if spec.dry_run {
        report.rules.push(label);
        return;
    }
    match remove_rule(eb, &rule.name, bus).await {
        Ok(true) => report.rules.push(label),
        Ok(false) => {}
        Err(e) => report.errors.push(e),
    }
}

/// Queues under the prefix: the owner's are deleted, the others are returned (URL -> Sids of the
/// owner's rules that delivered to them) to have their policies cleaned. Also returns the names
/// of the queues deleted.
async fn sweep_queues(
    sqs: &Sqs,
    spec: &SweepSpec,
    targeted: &mut Targeted,
    report: &mut SweepReport,
) -> Result<(BTreeMap<String, Vec<String>>, Vec<String>), ProvisionError> {
    let urls = retry(
        format!("list queues with prefix {:?}", spec.queue_prefix),
        || sqs.list_queues(&spec.queue_prefix),
    )
    .await?;
    let mut foreign = BTreeMap::new();
    let mut deleted_names = Vec::new();
    for url in urls {
        let name = queue_name_of_url(&url).to_owned();
        let tags = match retry(format!("read the tags of queue {name}"), || sqs.tags(&url)).await {
            Ok(tags) => tags,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => {
                report.errors.push(e.into());
                continue;
            }
        };
        if !is_ours(&tags, spec.instance()) {
            foreign.insert(url, targeted.remove(&name).unwrap_or_default());
            continue;
        }
        deleted_names.push(name);
        if spec.dry_run {
            report.queues.push(url);
            continue;
        }
        match delete_queue(sqs, "queue", &url).await {
            Ok(true) => report.queues.push(url),
            Ok(false) => {}
            Err(e) => report.errors.push(e),
        }
    }
    Ok((foreign, deleted_names))
}

/// A queue the owner's rules delivered to that the prefix did not list: if it exists and is not
/// the owner's (those go with a cleanup under their own prefix), its policy is to be cleaned of
/// `sids`.
async fn find_foreign_target(
    sqs: &Sqs,
    spec: &SweepSpec,
    name: &str,
    sids: Vec<String>,
    foreign: &mut BTreeMap<String, Vec<String>>,
    report: &mut SweepReport,
) {
    let url = match retry(format!("look up queue {name}"), || sqs.queue_url(name)).await {
        Ok(Some(url)) => url,
        Ok(None) => return,
        Err(e) => return report.errors.push(e.into()),
    };
    match retry(format!("read the tags of queue {name}"), || sqs.tags(&url)).await {
        Ok(tags) if is_ours(&tags, spec.instance()) => {}
        Ok(_) => foreign.entry(url).or_default().extend(sids),
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => report.errors.push(e.into()),
    }
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
    let name = queue_name_of_url(url);
    let attrs = match retry(format!("read the policy of queue {name}"), || {
        sqs.attributes(url)
    })
    .await
    {
        Ok(a) => a,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let Some(current) = attrs.get("Policy").filter(|p| !p.trim().is_empty()) else {
        return Ok(());
    };
    let queue_arn = attrs.get("QueueArn").cloned().unwrap_or_default();
    let account = arn_account(&queue_arn).unwrap_or_default();
    // A policy we can't parse is not ours to touch: report and leave it.
    let change = policy::merge(Some(current), &queue_arn, account, &[], sids, |sid| {
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
        set_policy(sqs, name, url, &change).await?;
    }
    report.statements.extend(
        removed
            .into_iter()
            .map(|sid| format!("{sid} on queue {url}")),
    );
    Ok(())
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
        assert!(one.owns_sid("eventferry-prod"));
        assert!(!one.owns_sid("eventferry-prod-eu-0123abcd"));
        assert!(!one.owns_sid("eventferry-prod-eu"));
        assert!(Owner::AllOwned.owns_sid("eventferry-prod-eu"));
        assert!(!Owner::AllOwned.owns_sid("eventferry-"));
        assert!(!Owner::AllOwned.owns_sid("eventferry-Not An Id"));
        assert!(Owner::AllOwned.owns_sid("eventferry-prod-eu-0123abcd"));
        // The one statement of instance `0123abcd`.
        assert!(Owner::AllOwned.owns_sid("eventferry-0123abcd"));
        assert!(!Owner::AllOwned.owns_sid("AllowSns"));
        assert!(!Owner::AllOwned.owns_sid("mine-prod-0123abcd"));
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
