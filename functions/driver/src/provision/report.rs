//! What provisioning is asked for ([`ProvisionSpec`]) and what it reports back: the resources it
//! set up ([`Provisioned`]), what it did to each ([`ProvisionSummary`]), and what teardown removed
//! ([`TeardownReport`]).

use std::collections::BTreeSet;
use std::fmt;

use eventferry_core::names::InstanceId;
use serde_json::Value;

/// What `eventferry drive` wants to exist.
#[derive(Debug, Clone)]
pub struct ProvisionSpec {
    /// The queue to poll; created if missing.
    pub queue_name: String,
    /// The bus the pattern rules listen on (`default` or a custom bus name).
    pub event_bus: String,
    /// Event patterns, already validated; each becomes one rule.
    pub patterns: Vec<Value>,
    /// A `rate(...)`/`cron(...)` expression, already validated; becomes one rule on the default
    /// bus (EventBridge runs schedules only there).
    pub schedule: Option<String>,
    /// The owner of everything created.
    pub instance: InstanceId,
    /// With `Some(n)`: a dead-letter queue `<queue>-dlq` receiving messages after `n` receives.
    pub dlq_max_receive_count: Option<i32>,
    /// The queue's visibility timeout in seconds (only set on a queue eventferry owns).
    pub visibility_timeout: Option<i32>,
}

/// A rule eventferry owns, delivering to the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedRule {
    pub name: String,
    pub arn: String,
    /// The bus the rule is on.
    pub bus: String,
    /// The Id of the rule's target (the queue).
    pub target_id: String,
}

/// What [`provision`](super::provision) set up: everything
/// [`teardown`](super::teardown) needs to undo it.
#[derive(Debug, Clone)]
pub struct Provisioned {
    pub queue_name: String,
    pub queue_url: String,
    pub queue_arn: String,
    /// The account, from the queue ARN.
    pub account: String,
    pub dlq_url: Option<String>,
    pub rules: Vec<OwnedRule>,
    /// `false` when the queue existed and is not eventferry's (it is then never deleted).
    pub queue_owned: bool,
    /// `false` when there is no DLQ or it existed and is not eventferry's.
    pub dlq_owned: bool,
    pub instance: InstanceId,
    /// The bus of the pattern rules (the spec's); schedule rules are on the default bus.
    pub event_bus: String,
    pub summary: ProvisionSummary,
}

/// One line item of a summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Change {
    Created,
    Adopted,
    Updated,
    Removed,
    /// Used but left alone (foreign resources).
    Kept,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Change::Created => "created",
            Change::Adopted => "adopted",
            Change::Updated => "updated",
            Change::Removed => "removed",
            Change::Kept => "kept (not ours)",
        })
    }
}

/// What provisioning did, resource by resource, e.g. `(Created, "queue orders")`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProvisionSummary {
    pub items: Vec<(Change, String)>,
}

impl ProvisionSummary {
    pub(crate) fn push(&mut self, change: Change, what: impl Into<String>) {
        self.items.push((change, what.into()));
    }

    /// The items with this change.
    pub fn with(&self, change: Change) -> impl Iterator<Item = &str> {
        self.items
            .iter()
            .filter(move |(c, _)| *c == change)
            .map(|(_, w)| w.as_str())
    }
}

impl fmt::Display for ProvisionSummary {
    /// One line per kind of change, e.g. `created: queue orders, rule eventferry-a-1234abcd`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let changes: BTreeSet<Change> = self.items.iter().map(|(c, _)| *c).collect();
        if changes.is_empty() {
            return f.write_str("nothing to do");
        }
        for (i, change) in changes.into_iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            let items: Vec<&str> = self.with(change).collect();
            write!(f, "{change}: {}", items.join(", "))?;
        }
        Ok(())
    }
}

/// What [`teardown`](super::teardown) removed and what it left alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TeardownReport {
    /// `name (bus)` of each rule deleted.
    pub rules_deleted: Vec<String>,
    /// Sids of the statements removed from a foreign queue's policy.
    pub statements_removed: Vec<String>,
    /// URLs of the queues deleted.
    pub queues_deleted: Vec<String>,
    /// URLs of foreign queues left in place.
    pub queues_kept: Vec<String>,
}

impl fmt::Display for TeardownReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines = [
            ("deleted rules", &self.rules_deleted),
            ("removed policy statements", &self.statements_removed),
            ("deleted queues", &self.queues_deleted),
            ("kept foreign queues", &self.queues_kept),
        ];
        let mut first = true;
        for (label, items) in lines.iter().filter(|(_, items)| !items.is_empty()) {
            if !first {
                writeln!(f)?;
            }
            first = false;
            write!(f, "{label}: {}", items.join(", "))?;
        }
        if first {
            f.write_str("nothing to remove")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_display_groups_by_change() {
        let mut s = ProvisionSummary::default();
        assert_eq!(s.to_string(), "nothing to do");
        s.push(Change::Created, "queue q");
        s.push(Change::Adopted, "rule a");
        s.push(Change::Created, "rule b");
        assert_eq!(s.to_string(), "created: queue q, rule b\nadopted: rule a");
        assert_eq!(s.with(Change::Created).count(), 2);
    }

    #[test]
    fn teardown_report_lines() {
        let mut r = TeardownReport::default();
        assert_eq!(r.to_string(), "nothing to remove");
        r.rules_deleted
            .push("eventferry-a-0123abcd (bus default)".into());
        r.queues_kept.push("http://q/1/theirs".into());
        assert_eq!(
            r.to_string(),
            "deleted rules: eventferry-a-0123abcd (bus default)\nkept foreign queues: http://q/1/theirs"
        );
    }
}
