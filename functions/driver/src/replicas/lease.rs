//! Leases as queue tags: pure functions, no I/O.
//!
//! Every replica of a deployment holds a lease on the queue it consumes: the tag
//! `eventferry-lease:<instance>:<replica id>` whose value is the lease's expiry in Unix seconds.
//! (The instance is in the key so that two deployments sharing a queue never count each other's
//! replicas.) SQS's
//! TagQueue sets one key without touching the others, so replicas never overwrite each other's
//! leases. A replica that leaves with `--clean-up` first tags `eventferry-closing:<instance>:<replica id>`
//! (same value form) and then looks for other live leases; a joining replica first takes its
//! lease and then looks for closing markers. Write first, read second, on both sides: either the
//! leaver sees the joiner's lease (and stays its hand) or the joiner sees the marker (and
//! provisions again once the leaver is done).

use std::collections::{BTreeMap, HashMap};
use std::time::{SystemTime, UNIX_EPOCH};

use eventferry_core::names::InstanceId;

/// Tag key prefix of a replica's lease.
pub const LEASE_PREFIX: &str = "eventferry-lease:";
/// Tag key prefix of a leaving replica's closing marker.
pub const CLOSING_PREFIX: &str = "eventferry-closing:";
/// Longest replica id: a tag key is at most 128 characters; the prefix takes 19 and the instance
/// (at most 40) and its separator 41.
pub const MAX_REPLICA_ID: usize = 64;

/// Tags a queue holds at most (SQS's quota; TagQueue's documentation: "adding more than 50 tags
/// to a queue isn't recommended").
pub const MAX_QUEUE_TAGS: usize = 50;

/// Whether adding `key` to a queue that has `tags` stays within [`MAX_QUEUE_TAGS`]; the error
/// says how the tags are used and what to do.
pub fn check_tag_room(tags: &HashMap<String, String>, key: &str) -> Result<(), String> {
    if tags.contains_key(key) || tags.len() < MAX_QUEUE_TAGS {
        return Ok(());
    }
    let leases = tags
        .keys()
        .filter(|k| k.starts_with(LEASE_PREFIX) || k.starts_with(CLOSING_PREFIX))
        .count();
    Err(format!(
        "the queue already has {} tags, SQS's limit is {MAX_QUEUE_TAGS}, and each replica needs one \
         for its lease ({leases} are eventferry leases or closing markers, {} are other tags): run \
         fewer replicas on this queue, or remove tags you don't need",
        tags.len(),
        tags.len() - leases
    ))
}

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

    /// This replica's lease tag key in deployment `instance`.
    pub fn lease_key(&self, instance: &InstanceId) -> String {
        format!("{LEASE_PREFIX}{instance}:{}", self.0)
    }

    /// This replica's closing marker tag key in deployment `instance`.
    pub fn closing_key(&self, instance: &InstanceId) -> String {
        format!("{CLOSING_PREFIX}{instance}:{}", self.0)
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

/// What a queue's tags say about one deployment's replicas: replica id -> expiry (Unix
/// seconds), for leases and for closing markers. Other deployments' tags, and tags whose value is
/// not a number, are ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseView {
    pub instance: InstanceId,
    pub leases: BTreeMap<String, u64>,
    pub closing: BTreeMap<String, u64>,
    /// The plan each lease holder runs (see [`lease_value`]), when its lease says.
    pub plans: BTreeMap<String, String>,
}

impl LeaseView {
    pub fn read(tags: &HashMap<String, String>, instance: &InstanceId) -> Self {
        let mut view = LeaseView::empty(instance);
        let of_instance = |rest: &str| {
            rest.strip_prefix(instance.as_str())
                .and_then(|r| r.strip_prefix(':'))
                .map(str::to_owned)
        };
        for (key, value) in tags {
            let (expires, plan) = match value.split_once(";plan=") {
                Some((expires, plan)) => (expires, Some(plan)),
                None => (value.as_str(), None),
            };
            let Ok(expires) = expires.trim().parse::<u64>() else {
                continue;
            };
            if let Some(id) = key.strip_prefix(LEASE_PREFIX).and_then(of_instance) {
                if let Some(plan) = plan {
                    view.plans.insert(id.clone(), plan.to_owned());
                }
                view.leases.insert(id, expires);
            } else if let Some(id) = key.strip_prefix(CLOSING_PREFIX).and_then(of_instance) {
                view.closing.insert(id, expires);
            }
        }
        view
    }

    /// No leases and no markers.
    pub fn empty(instance: &InstanceId) -> Self {
        LeaseView {
            instance: instance.clone(),
            leases: BTreeMap::new(),
            closing: BTreeMap::new(),
            plans: BTreeMap::new(),
        }
    }

    /// Leases of replicas other than `me` that have not expired at `now`.
    pub fn live_others(&self, me: &ReplicaId, now: u64) -> BTreeMap<String, u64> {
        live(&self.leases, me, now)
    }

    /// Live replicas other than `me` whose leases name a plan other than `plan`.
    pub fn other_plans(&self, me: &ReplicaId, plan: &str, now: u64) -> Vec<String> {
        self.live_others(me, now)
            .into_keys()
            .filter(|id| self.plans.get(id).is_some_and(|p| p != plan))
            .collect()
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
        let instance = &self.instance;
        leases
            .map(|(id, _)| format!("{LEASE_PREFIX}{instance}:{id}"))
            .chain(closing.map(|(id, _)| format!("{CLOSING_PREFIX}{instance}:{id}")))
            .collect()
    }
}

fn live(map: &BTreeMap<String, u64>, me: &ReplicaId, now: u64) -> BTreeMap<String, u64> {
    map.iter()
        .filter(|(id, expires)| id.as_str() != me.as_str() && **expires > now)
        .map(|(id, e)| (id.clone(), *e))
        .collect()
}

/// A lease's tag value: its expiry and the plan its replica runs, `<expiry>;plan=<plan>`.
pub fn lease_value(expires: u64, plan: &str) -> String {
    format!("{expires};plan={plan}")
}

/// What a replica's configuration asks AWS for, in 8 hex digits: a hash over its rule names
/// (which themselves hash the queue, bus and each pattern or schedule). Replicas of one instance
/// with different plans remove each other's rules as "no longer wanted".
pub fn plan_id(rule_names: &[String]) -> String {
    let mut names = rule_names.to_vec();
    names.sort();
    let name = eventferry_core::names::rule_name("plan", &names.join("\n"))
        .expect("\"plan\" is a valid rule name prefix");
    name.trim_start_matches("plan-").to_owned()
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

    fn prod() -> InstanceId {
        InstanceId::new("prod").unwrap()
    }

    /// A view of tags written as `lease:ID` / `closing:ID` for instance prod, or in full.
    fn view(pairs: &[(&str, &str)]) -> LeaseView {
        let tags: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| {
                let key = match k.split_once(':') {
                    Some(("lease", id)) => format!("{LEASE_PREFIX}prod:{id}"),
                    Some(("closing", id)) => format!("{CLOSING_PREFIX}prod:{id}"),
                    _ => k.to_string(),
                };
                (key, v.to_string())
            })
            .collect();
        LeaseView::read(&tags, &prod())
    }

    #[test]
    fn replica_ids_are_checked() {
        assert!(ReplicaId::new("pod-7f9c/abc_1.2:3=4+5@x").is_ok());
        let err = ReplicaId::new("has space").unwrap_err();
        assert!(err.contains("' '") && err.contains("pod name"), "{err}");
        assert!(ReplicaId::new("").unwrap_err().contains("1 to 64"));
        assert!(ReplicaId::new(&"a".repeat(65)).is_err());
        let generated = ReplicaId::generate("ip-10-0-0-1.ec2 internal", 4242, 0xbeef);
        assert_eq!(generated.as_str(), "ip-10-0-0-1.ec2-internal-4242-beef");
        assert!(ReplicaId::new(generated.as_str()).is_ok());
        let long = ReplicaId::generate(&"h".repeat(300), u32::MAX, 0xffff);
        assert!(ReplicaId::new(long.as_str()).is_ok(), "{long}");
        assert_eq!(ReplicaId::generate("", 1, 1).as_str(), "replica-1-0001");
        assert_eq!(id("a").lease_key(&prod()), "eventferry-lease:prod:a");
        assert_eq!(id("a").closing_key(&prod()), "eventferry-closing:prod:a");
        let longest = InstanceId::new(&"i".repeat(40)).unwrap();
        assert!(id(&"a".repeat(64)).lease_key(&longest).len() <= 128);
        assert!(id(&"a".repeat(64)).closing_key(&longest).len() <= 128);
    }

    #[test]
    fn a_lease_needs_room_among_the_queues_tags() {
        let mut tags: HashMap<String, String> = (0..48)
            .map(|i| (format!("team-{i}"), "x".to_owned()))
            .collect();
        tags.insert("eventferry-lease:prod:a".into(), "1".into());
        assert!(
            check_tag_room(&tags, "eventferry-lease:prod:b").is_ok(),
            "49 + 1"
        );
        tags.insert("eventferry-lease:prod:b".into(), "1".into());
        assert!(
            check_tag_room(&tags, "eventferry-lease:prod:b").is_ok(),
            "renewing an existing key adds nothing"
        );
        let err = check_tag_room(&tags, "eventferry-lease:prod:c").unwrap_err();
        assert!(
            err.contains("already has 50 tags")
                && err.contains("2 are eventferry leases")
                && err.contains("48 are other tags"),
            "{err}"
        );
    }

    #[test]
    fn the_view_reads_leases_and_markers_and_ignores_the_rest() {
        let view = view(&[
            ("lease:a", "100"),
            ("lease:b", "not-a-number"),
            ("closing:c", "90"),
            ("managed-by", "eventferry"),
            ("eventferry-owner", "prod"),
            ("eventferry-lease:other:x", "100"),
            ("eventferry-lease:prod-eu:y", "100"),
            ("eventferry-closing:other:z", "100"),
        ]);
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
    fn leases_carry_their_plan_and_other_plans_are_found() {
        let a = plan_id(&[
            "eventferry-prod-0000000a".into(),
            "eventferry-prod-0000000b".into(),
        ]);
        let same = plan_id(&[
            "eventferry-prod-0000000b".into(),
            "eventferry-prod-0000000a".into(),
        ]);
        let other = plan_id(&["eventferry-prod-0000000c".into()]);
        assert_eq!(a, same, "the order of the rules does not matter");
        assert_ne!(a, other);
        assert_eq!(a.len(), 8);
        let view = view(&[
            ("lease:x", &lease_value(100, &a)),
            ("lease:y", &lease_value(100, &other)),
            ("lease:old-version", "100"),
            ("lease:dead", &lease_value(10, &other)),
        ]);
        assert_eq!(view.leases.len(), 4);
        assert_eq!(view.other_plans(&id("me"), &a, 50), ["y"]);
        assert!(view
            .other_plans(&id("y"), &other, 50)
            .contains(&"x".to_owned()));
    }

    #[test]
    fn stale_keys_are_only_those_long_expired() {
        let view = view(&[
            ("lease:old", "100"),
            ("lease:new", "200"),
            ("closing:gone", "50"),
        ]);
        let mut keys = view.stale_keys(131, 30);
        keys.sort();
        assert_eq!(
            keys,
            ["eventferry-closing:prod:gone", "eventferry-lease:prod:old"]
        );
        assert!(view.stale_keys(130, 30) == ["eventferry-closing:prod:gone"]);
    }

    #[test]
    fn the_leaver_tears_down_only_when_no_live_lease_is_left() {
        let me = id("me");
        let empty = LeaseView::empty(&prod());
        assert_eq!(
            leave_step(&BTreeMap::new(), &empty, &me, 10),
            LeaveStep::TearDown
        );
        // Only my own lease (not yet untagged): nobody else.
        let mine = view(&[("lease:me", "99")]);
        assert_eq!(
            leave_step(&BTreeMap::new(), &mine, &me, 10),
            LeaveStep::TearDown
        );
    }

    #[test]
    fn a_renewed_or_new_lease_proves_its_replica_alive() {
        let me = id("me");
        let first = BTreeMap::from([("b".to_owned(), 40)]);
        let renewed = view(&[("lease:b", "45")]);
        assert_eq!(
            leave_step(&first, &renewed, &me, 20),
            LeaveStep::Stay {
                alive: vec!["b".into()]
            }
        );
        let joined = view(&[("lease:b", "40"), ("lease:c", "50")]);
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
        let same = view(&[("lease:dead", "40")]);
        assert_eq!(
            leave_step(&first, &same, &me, 20),
            LeaveStep::Wait {
                holders: vec!["dead".into()]
            }
        );
        assert_eq!(leave_step(&first, &same, &me, 40), LeaveStep::TearDown);
    }
}
