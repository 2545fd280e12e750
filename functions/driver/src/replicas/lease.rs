//! Leases as queue tags: pure functions, no I/O.
//!
//! Every replica of a deployment holds a lease on the queue it consumes: the tag
//! `eventferry-lease:<replica id>` whose value is the lease's expiry in Unix seconds. SQS's
//! TagQueue sets one key without touching the others, so replicas never overwrite each other's
//! leases. A replica that leaves with `--clean-up` first tags `eventferry-closing:<replica id>`
//! (same value form) and then looks for other live leases; a joining replica first takes its
//! lease and then looks for closing markers. Write first, read second, on both sides: either the
//! leaver sees the joiner's lease (and stays its hand) or the joiner sees the marker (and
//! provisions again once the leaver is done).

use std::collections::{BTreeMap, HashMap};
use std::time::{SystemTime, UNIX_EPOCH};

/// Tag key prefix of a replica's lease.
pub const LEASE_PREFIX: &str = "eventferry-lease:";
/// Tag key prefix of a leaving replica's closing marker.
pub const CLOSING_PREFIX: &str = "eventferry-closing:";
/// Longest replica id: a tag key is at most 128 characters, and the prefix takes 19.
pub const MAX_REPLICA_ID: usize = 100;

/// The id of one replica: `[A-Za-z0-9_.:/=+@-]`, 1 to [`MAX_REPLICA_ID`] characters (what an SQS
/// tag key allows, without spaces).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReplicaId(String);

impl ReplicaId {
    pub fn new(id: &str) -> Result<Self, String> {
        if id.is_empty() || id.len() > MAX_REPLICA_ID {
            return Err(format!(
                "{id:?} has {} characters: use 1 to {MAX_REPLICA_ID}",
                id.len()
            ));
        }
        if let Some(bad) = id.chars().find(|c| !allowed(*c)) {
            return Err(format!(
                "{id:?} contains {bad:?}: use letters, digits and _ . : / = + @ - (e.g. the pod name)"
            ));
        }
        Ok(ReplicaId(id.to_owned()))
    }

    /// `<host>-<pid>-<4 hex digits>`: unique per process, readable in `eventferry status`.
    pub fn generate(host: &str, pid: u32, random: u16) -> Self {
        let host: String = host
            .chars()
            .map(|c| if allowed(c) { c } else { '-' })
            .take(MAX_REPLICA_ID - 18)
            .collect();
        let host = if host.is_empty() {
            "replica".into()
        } else {
            host
        };
        ReplicaId(format!("{host}-{pid}-{random:04x}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// This replica's lease tag key.
    pub fn lease_key(&self) -> String {
        format!("{LEASE_PREFIX}{}", self.0)
    }

    /// This replica's closing marker tag key.
    pub fn closing_key(&self) -> String {
        format!("{CLOSING_PREFIX}{}", self.0)
    }
}

impl std::fmt::Display for ReplicaId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_.:/=+@-".contains(c)
}

/// Seconds since the Unix epoch, by this host's clock.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// What a queue's tags say about the deployment's replicas: replica id -> expiry (Unix seconds),
/// for leases and for closing markers. Tags whose value is not a number are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeaseView {
    pub leases: BTreeMap<String, u64>,
    pub closing: BTreeMap<String, u64>,
}

impl LeaseView {
    pub fn read(tags: &HashMap<String, String>) -> Self {
        let mut view = LeaseView::default();
        for (key, value) in tags {
            let Ok(expires) = value.trim().parse::<u64>() else {
                continue;
            };
            if let Some(id) = key.strip_prefix(LEASE_PREFIX) {
                view.leases.insert(id.to_owned(), expires);
            } else if let Some(id) = key.strip_prefix(CLOSING_PREFIX) {
                view.closing.insert(id.to_owned(), expires);
            }
        }
        view
    }

    /// Leases of replicas other than `me` that have not expired at `now`.
    pub fn live_others(&self, me: &ReplicaId, now: u64) -> BTreeMap<String, u64> {
        live(&self.leases, me, now)
    }

    /// Closing markers of replicas other than `me` that have not expired at `now`.
    pub fn closing_others(&self, me: &ReplicaId, now: u64) -> BTreeMap<String, u64> {
        live(&self.closing, me, now)
    }

    /// Tag keys of leases and markers that expired more than `grace` seconds before `now`: their
    /// replicas are gone, and any replica may remove them.
    pub fn stale_keys(&self, now: u64, grace: u64) -> Vec<String> {
        let old = |expires: &u64| expires.saturating_add(grace) < now;
        let leases = self.leases.iter().filter(|(_, e)| old(e));
        let closing = self.closing.iter().filter(|(_, e)| old(e));
        leases
            .map(|(id, _)| format!("{LEASE_PREFIX}{id}"))
            .chain(closing.map(|(id, _)| format!("{CLOSING_PREFIX}{id}")))
            .collect()
    }
}

fn live(map: &BTreeMap<String, u64>, me: &ReplicaId, now: u64) -> BTreeMap<String, u64> {
    map.iter()
        .filter(|(id, expires)| id.as_str() != me.as_str() && **expires > now)
        .map(|(id, e)| (id.clone(), *e))
        .collect()
}

/// What a leaving replica with `--clean-up` does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaveStep {
    /// No other replica holds a live lease: remove the deployment's resources.
    TearDown,
    /// These replicas renewed (or newly took) their leases while we watched: they are alive, so
    /// the resources stay.
    Stay { alive: Vec<String> },
    /// Other leases are live but none was renewed yet: their holders may be dead (SIGKILL); look
    /// again shortly. Every lease expires, so this ends.
    Wait { holders: Vec<String> },
}

/// The leaver's decision. `first` holds the other replicas' lease expiries at the first look;
/// `now_view` is the latest look. A lease that appeared or grew since then proves its replica
/// alive; a lease that only ages may belong to a dead replica and is waited out.
pub fn leave_step(
    first: &BTreeMap<String, u64>,
    now_view: &LeaseView,
    me: &ReplicaId,
    now: u64,
) -> LeaveStep {
    let others = now_view.live_others(me, now);
    if others.is_empty() {
        return LeaveStep::TearDown;
    }
    let alive: Vec<String> = others
        .iter()
        .filter(|(id, expires)| first.get(*id).is_none_or(|seen| *expires > seen))
        .map(|(id, _)| id.clone())
        .collect();
    if alive.is_empty() {
        LeaveStep::Wait {
            holders: others.into_keys().collect(),
        }
    } else {
        LeaveStep::Stay { alive }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> ReplicaId {
        ReplicaId::new(s).unwrap()
    }

    fn tags(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn replica_ids_are_checked() {
        assert!(ReplicaId::new("pod-7f9c/abc_1.2:3=4+5@x").is_ok());
        let err = ReplicaId::new("has space").unwrap_err();
        assert!(err.contains("' '") && err.contains("pod name"), "{err}");
        assert!(ReplicaId::new("").unwrap_err().contains("1 to 100"));
        assert!(ReplicaId::new(&"a".repeat(101)).is_err());
        let generated = ReplicaId::generate("ip-10-0-0-1.ec2 internal", 4242, 0xbeef);
        assert_eq!(generated.as_str(), "ip-10-0-0-1.ec2-internal-4242-beef");
        assert!(ReplicaId::new(generated.as_str()).is_ok());
        let long = ReplicaId::generate(&"h".repeat(300), u32::MAX, 0xffff);
        assert!(ReplicaId::new(long.as_str()).is_ok(), "{long}");
        assert_eq!(ReplicaId::generate("", 1, 1).as_str(), "replica-1-0001");
        assert_eq!(id("a").lease_key(), "eventferry-lease:a");
        assert!(id(&"a".repeat(100)).lease_key().len() <= 128);
        assert!(id(&"a".repeat(100)).closing_key().len() <= 128);
    }

    #[test]
    fn the_view_reads_leases_and_markers_and_ignores_the_rest() {
        let view = LeaseView::read(&tags(&[
            ("eventferry-lease:a", "100"),
            ("eventferry-lease:b", "not-a-number"),
            ("eventferry-closing:c", "90"),
            ("managed-by", "eventferry"),
            ("eventferry-owner", "prod"),
        ]));
        assert_eq!(view.leases, BTreeMap::from([("a".to_owned(), 100)]));
        assert_eq!(view.closing, BTreeMap::from([("c".to_owned(), 90)]));
        let me = id("a");
        assert!(
            view.live_others(&me, 50).is_empty(),
            "my own lease is not another's"
        );
        assert_eq!(view.live_others(&id("z"), 99).len(), 1);
        assert!(
            view.live_others(&id("z"), 100).is_empty(),
            "expired at its expiry"
        );
        assert_eq!(view.closing_others(&me, 89).len(), 1);
        assert!(view.closing_others(&id("c"), 0).is_empty());
    }

    #[test]
    fn stale_keys_are_only_those_long_expired() {
        let view = LeaseView::read(&tags(&[
            ("eventferry-lease:old", "100"),
            ("eventferry-lease:new", "200"),
            ("eventferry-closing:gone", "50"),
        ]));
        let mut keys = view.stale_keys(131, 30);
        keys.sort();
        assert_eq!(keys, ["eventferry-closing:gone", "eventferry-lease:old"]);
        assert!(view.stale_keys(130, 30) == ["eventferry-closing:gone"]);
    }

    #[test]
    fn the_leaver_tears_down_only_when_no_live_lease_is_left() {
        let me = id("me");
        let empty = LeaseView::default();
        assert_eq!(
            leave_step(&BTreeMap::new(), &empty, &me, 10),
            LeaveStep::TearDown
        );
        // Only my own lease (not yet untagged): nobody else.
        let mine = LeaseView::read(&tags(&[("eventferry-lease:me", "99")]));
        assert_eq!(
            leave_step(&BTreeMap::new(), &mine, &me, 10),
            LeaveStep::TearDown
        );
    }

    #[test]
    fn a_renewed_or_new_lease_proves_its_replica_alive() {
        let me = id("me");
        let first = BTreeMap::from([("b".to_owned(), 40)]);
        let renewed = LeaseView::read(&tags(&[("eventferry-lease:b", "45")]));
        assert_eq!(
            leave_step(&first, &renewed, &me, 20),
            LeaveStep::Stay {
                alive: vec!["b".into()]
            }
        );
        let joined = LeaseView::read(&tags(&[
            ("eventferry-lease:b", "40"),
            ("eventferry-lease:c", "50"),
        ]));
        assert_eq!(
            leave_step(&first, &joined, &me, 20),
            LeaveStep::Stay {
                alive: vec!["c".into()]
            }
        );
    }

    #[test]
    fn an_unrenewed_lease_is_waited_out_then_ignored() {
        // A SIGKILLed replica: its lease only ages.
        let me = id("me");
        let first = BTreeMap::from([("dead".to_owned(), 40)]);
        let same = LeaseView::read(&tags(&[("eventferry-lease:dead", "40")]));
        assert_eq!(
            leave_step(&first, &same, &me, 20),
            LeaveStep::Wait {
                holders: vec!["dead".into()]
            }
        );
        assert_eq!(leave_step(&first, &same, &me, 40), LeaveStep::TearDown);
    }
}
