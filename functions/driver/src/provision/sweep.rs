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
//!
//! Nothing a live replica still needs goes: a queue whose tags hold a live lease of the owner
//! (`eventferry-lease:<owner>:<replica>` with an expiry in the future, see
//! [`LeaseView`]) is skipped, with its dead-letter queue, the owner's rules that deliver to it and
//! the owner's statements in its policy, and reported ([`Skipped`]). With `--all-owned` the
//! owners are those whose leases are on the queue. `force` removes them anyway.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use aws_config::SdkConfig;
use eventferry_aws::eventbridge::{EventBridge, RuleInfo};
use eventferry_aws::sqs::Sqs;
use eventferry_aws::{retry, ErrorKind};
use eventferry_core::names::InstanceId;

use super::apply::{delete_queue, remove_rule, set_policy};
use super::error::ProvisionError;
use super::ownership::{
    arn_account, is_ours, queue_name_of_url, rule_prefix, sqs_queue_name, TAG_OWNER,
};
use super::plan::{searched_buses, DLQ_SUFFIX};
use super::policy;
use crate::replicas::lease::{now_secs, LeaseView, LEASE_PREFIX};

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
    /// Remove also what live replicas still use (their leases are ignored).
    pub force: bool,
}

/// A queue left alone because replicas of an instance hold live leases on it (or, with `force`,
/// removed although they do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The queue's name.
    pub queue: String,
    /// `Some(main queue)` when this is the dead-letter queue of that queue.
    pub dlq_of: Option<String>,
    pub instance: String,
    /// The replica ids with live leases.
    pub replicas: Vec<String>,
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let holders = format!(
            "{} live replica(s) of instance {} ({})",
            self.replicas.len(),
            self.instance,
            self.replicas.join(", ")
        );
        match &self.dlq_of {
            None => write!(f, "queue {} has {holders}", self.queue),
            Some(main) => write!(
                f,
                "dead-letter queue {} of queue {main}, which has {holders}",
                self.queue
            ),
        }
    }
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
    /// Queues (with their rules and statements) left alone for live replicas.
    pub skipped: Vec<Skipped>,
    /// Queues removed with `force` although replicas held live leases on them.
    pub forced: Vec<Skipped>,
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
        let mut lines = Vec::new();
        let skip = if self.dry_run {
            "would skip"
        } else {
            "skipped"
        };
        lines.extend(
            self.skipped
                .iter()
                .map(|s| format!("{skip}: {s}; stop them first, or pass --force")),
        );
        lines.extend(
            self.forced.iter().map(|s| {
                format!("--force: removing although {s}; they will fail and re-provision")
            }),
        );
        if self.is_empty() {
            lines.push(
                if self.dry_run {
                    "nothing to delete"
                } else {
                    "nothing left to delete"
                }
                .to_owned(),
            );
            return f.write_str(&lines.join("\n"));
        }
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

/// A rule of the owner's: its name and bus, its owner, and the queues it delivers to.
struct FoundRule {
    name: String,
    bus: String,
    owner: Option<String>,
    queues: Vec<String>,
}

/// A queue the sweep looks at: listed under the prefix, or delivered to by one of the owner's
/// rules.
struct FoundQueue {
    url: String,
    name: String,
    tags: HashMap<String, String>,
}

/// Sweep the resources of `spec.owner`. Listing failures stop the sweep (`Err`); a failure to
/// remove one resource is recorded in the report and the sweep goes on.
pub async fn sweep(cfg: &SdkConfig, spec: &SweepSpec) -> Result<SweepReport, ProvisionError> {
    let sqs = Sqs::new(cfg);
    let eb = EventBridge::new(cfg);
    let mut report = SweepReport {
        dry_run: spec.dry_run,
        ..Default::default()
    };
    let rules = find_rules(&eb, spec, &mut report).await?;
    let mut queues = list_queues(&sqs, spec, &mut report).await?;
    let listed = queues.len();
    let mut targeted: Vec<&str> = rules
        .iter()
        .flat_map(|r| r.queues.iter())
        .map(String::as_str)
        .collect();
    targeted.sort_unstable();
    targeted.dedup();
    for name in targeted {
        if !queues.iter().any(|q| q.name == name) {
            if let Some(q) = find_queue(&sqs, name, &mut report).await {
                queues.push(q);
            }
        }
    }

    let live: Vec<Skipped> = queues
        .iter()
        .flat_map(|q| live_replicas(&q.name, &q.tags, &spec.owner, now_secs()))
        .collect();
    let held = |queue: &str, instance: Option<&str>| {
        !spec.force
            && live
                .iter()
                .any(|s| s.queue == queue && instance.is_none_or(|i| s.instance == i))
    };
    let mut sids: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for rule in &rules {
        if rule.queues.iter().any(|q| held(q, rule.owner.as_deref())) {
            continue;
        }
        for q in &rule.queues {
            sids.entry(q.clone()).or_default().push(rule.name.clone());
        }
        remove_found_rule(&eb, spec, rule, &mut report).await;
    }
    for (i, q) in queues.iter().enumerate() {
        let dlq_of = q
            .name
            .strip_suffix(DLQ_SUFFIX)
            .filter(|main| held(main, None) && queues.iter().any(|m| m.name == *main));
        if held(&q.name, None) || dlq_of.is_some() {
            report.skipped.extend(skips_of(&live, q, dlq_of));
            continue;
        }
        report.forced.extend(skips_of(&live, q, None));
        let rules_sids = sids.remove(&q.name).unwrap_or_default();
        if !is_ours(&q.tags, spec.instance()) {
            if let Err(e) = clean_policy(
                &sqs,
                &q.url,
                &rules_sids,
                &spec.owner,
                spec.dry_run,
                &mut report,
            )
            .await
            {
                report.errors.push(e);
            }
        } else if i < listed {
            // An owned queue outside the prefix goes with a cleanup under its own prefix.
            remove_queue(&sqs, spec, &q.url, &mut report).await;
        }
    }
    Ok(report)
}

/// The live replicas (of `live`) that keep queue `q`: its own, or, for the dead-letter queue of
/// `dlq_of`, those of that queue.
fn skips_of(live: &[Skipped], q: &FoundQueue, dlq_of: Option<&str>) -> Vec<Skipped> {
    let holder = dlq_of.unwrap_or(&q.name);
    live.iter()
        .filter(|s| s.queue == holder)
        .map(|s| Skipped {
            queue: q.name.clone(),
            dlq_of: dlq_of.map(str::to_owned),
            ..s.clone()
        })
        .collect()
}

/// The replicas with live leases on queue `queue_name` (`tags`), per instance that `owner` covers:
/// the owner itself, or with `--all-owned` every instance with a lease there.
pub fn live_replicas(
    queue_name: &str,
    tags: &HashMap<String, String>,
    owner: &Owner,
    now: u64,
) -> Vec<Skipped> {
    let instances: Vec<InstanceId> = match owner {
        Owner::One(id) => vec![id.clone()],
        Owner::AllOwned => {
            let mut ids: Vec<InstanceId> = tags
                .keys()
                .filter_map(|k| k.strip_prefix(LEASE_PREFIX)?.split_once(':'))
                .filter_map(|(instance, _)| InstanceId::new(instance).ok())
                .collect();
            ids.sort_by(|a, b| a.as_str().cmp(b.as_str()));
            ids.dedup();
            ids
        }
    };
    instances
        .into_iter()
        .filter_map(|instance| {
            let view = LeaseView::read(tags, &instance);
            let replicas: Vec<String> = view
                .leases
                .into_iter()
                .filter(|(_, expires)| *expires > now)
                .map(|(id, _)| id)
                .collect();
            (!replicas.is_empty()).then(|| Skipped {
                queue: queue_name.to_owned(),
                dlq_of: None,
                instance: instance.to_string(),
                replicas,
            })
        })
        .collect()
}

/// The owner's rules on the searched buses, with the queues they deliver to.
async fn find_rules(
    eb: &EventBridge,
    spec: &SweepSpec,
    report: &mut SweepReport,
) -> Result<Vec<FoundRule>, ProvisionError> {
    let mut found = Vec::new();
    let listing = spec.owner.listing_prefix();
    for bus in searched_buses(&spec.event_bus) {
        let rules = retry(format!("list rules {listing}* on bus {bus}"), || {
            eb.list_rules(&bus, &listing)
        })
        .await?;
        for rule in rules {
            if rule.managed_by.is_none() {
                if let Some(rule) = find_rule(eb, spec, &bus, &rule, report).await {
                    found.push(rule);
                }
            }
        }
    }
    Ok(found)
}

/// One rule, if its tags say it is the owner's: with the queues it delivers to.
async fn find_rule(
    eb: &EventBridge,
    spec: &SweepSpec,
    bus: &str,
    rule: &RuleInfo,
    report: &mut SweepReport,
) -> Option<FoundRule> {
    let label = format!("{} (bus {bus})", rule.name);
    let tags = match retry(format!("read the tags of rule {label}"), || {
        eb.tags(&rule.arn)
    })
    .await
    {
        Ok(tags) => tags,
        Err(e) if e.kind() == ErrorKind::NotFound => return None,
        Err(e) => {
            report.errors.push(e.into());
            return None;
        }
    };
    if !is_ours(&tags, spec.instance()) {
        return None;
    }
    let targets = match retry(format!("list the targets of rule {label}"), || {
        eb.list_targets_by_rule(&rule.name, bus)
    })
    .await
    {
        Ok(targets) => targets,
        Err(e) if e.kind() == ErrorKind::NotFound => return None,
        Err(e) => {
            report.errors.push(e.into());
            return None;
        }
    };
    Some(FoundRule {
        name: rule.name.clone(),
        bus: bus.to_owned(),
        owner: tags.get(TAG_OWNER).cloned(),
        queues: targets
            .iter()
            .filter_map(|t| sqs_queue_name(&t.arn))
            .map(str::to_owned)
            .collect(),
    })
}

/// Remove a rule (targets first), or only list it in a dry run.
async fn remove_found_rule(
    eb: &EventBridge,
    spec: &SweepSpec,
    rule: &FoundRule,
    report: &mut SweepReport,
) {
    let label = format!("{} (bus {})", rule.name, rule.bus);
    if spec.dry_run {
        return report.rules.push(label);
    }
    match remove_rule(eb, &rule.name, &rule.bus).await {
        Ok(true) => report.rules.push(label),
        Ok(false) => {}
        Err(e) => report.errors.push(e),
    }
}

/// Queues under the prefix, with their tags.
async fn list_queues(
    sqs: &Sqs,
    spec: &SweepSpec,
    report: &mut SweepReport,
) -> Result<Vec<FoundQueue>, ProvisionError> {
    let urls = retry(
        format!("list queues with prefix {:?}", spec.queue_prefix),
        || sqs.list_queues(&spec.queue_prefix),
    )
    .await?;
    let mut queues = Vec::with_capacity(urls.len());
    for url in urls {
        let name = queue_name_of_url(&url).to_owned();
        match retry(format!("read the tags of queue {name}"), || sqs.tags(&url)).await {
            Ok(tags) => queues.push(FoundQueue { url, name, tags }),
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => report.errors.push(e.into()),
        }
    }
    Ok(queues)
}

/// Queue `name` (one the owner's rules delivered to that the prefix did not list), if it exists.
async fn find_queue(sqs: &Sqs, name: &str, report: &mut SweepReport) -> Option<FoundQueue> {
    let url = match retry(format!("look up queue {name}"), || sqs.queue_url(name)).await {
        Ok(Some(url)) => url,
        Ok(None) => return None,
        Err(e) => {
            report.errors.push(e.into());
            return None;
        }
    };
    match retry(format!("read the tags of queue {name}"), || sqs.tags(&url)).await {
        Ok(tags) => Some(FoundQueue {
            url,
            name: name.to_owned(),
            tags,
        }),
        Err(e) if e.kind() == ErrorKind::NotFound => None,
        Err(e) => {
            report.errors.push(e.into());
            None
        }
    }
}

/// Delete an owned queue, or only list it in a dry run.
async fn remove_queue(sqs: &Sqs, spec: &SweepSpec, url: &str, report: &mut SweepReport) {
    if spec.dry_run {
        return report.queues.push(url.to_owned());
    }
    match delete_queue(sqs, "queue", url).await {
        Ok(true) => report.queues.push(url.to_owned()),
        Ok(false) => {}
        Err(e) => report.errors.push(e),
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
    fn live_leases_of_the_owner_protect_a_queue() {
        let prod = InstanceId::new("prod").unwrap();
        let tags = HashMap::from([
            ("eventferry-lease:prod:pod-a".to_owned(), "1100".to_owned()),
            ("eventferry-lease:prod:pod-b".to_owned(), "900".to_owned()),
            ("eventferry-lease:dev:pod-c".to_owned(), "1100".to_owned()),
            (
                "eventferry-closing:prod:pod-d".to_owned(),
                "1100".to_owned(),
            ),
            ("managed-by".to_owned(), "eventferry".to_owned()),
        ]);
        let one = live_replicas("orders", &tags, &Owner::One(prod.clone()), 1000);
        assert_eq!(
            one,
            [Skipped {
                queue: "orders".into(),
                dlq_of: None,
                instance: "prod".into(),
                replicas: vec!["pod-a".into()],
            }],
            "expired leases and closing markers don't count, nor other instances"
        );
        assert_eq!(
            one[0].to_string(),
            "queue orders has 1 live replica(s) of instance prod (pod-a)"
        );
        let all = live_replicas("orders", &tags, &Owner::AllOwned, 1000);
        let instances: Vec<&str> = all.iter().map(|s| s.instance.as_str()).collect();
        assert_eq!(instances, ["dev", "prod"]);
        assert!(live_replicas("orders", &tags, &Owner::One(prod), 1100).is_empty());
    }

    #[test]
    fn skips_are_reported_in_dry_runs_and_real_ones() {
        let skipped = Skipped {
            queue: "orders".into(),
            dlq_of: None,
            instance: "prod".into(),
            replicas: vec!["pod-a".into(), "pod-b".into()],
        };
        let mut r = SweepReport {
            skipped: vec![
                skipped.clone(),
                Skipped {
                    queue: "orders-dlq".into(),
                    dlq_of: Some("orders".into()),
                    ..skipped
                },
            ],
            ..Default::default()
        };
        assert_eq!(
            r.to_string(),
            "skipped: queue orders has 2 live replica(s) of instance prod (pod-a, pod-b); stop \
             them first, or pass --force\n\
             skipped: dead-letter queue orders-dlq of queue orders, which has 2 live replica(s) of \
             instance prod (pod-a, pod-b); stop them first, or pass --force\n\
             nothing left to delete"
        );
        r.dry_run = true;
        assert!(r.to_string().starts_with("would skip: queue orders has 2"));
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
