//! The AWS side of leases ([`super::lease`]): a replica joins (provision, take its lease, make
//! sure nobody is tearing the deployment down), keeps its lease alive with a heartbeat (and
//! re-provisions if the queue vanished), and leaves (releases its lease, or, with `--clean-up`,
//! removes the deployment's resources only when it is the last replica out).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;
use eventferry_aws::eventbridge::EventBridge;
use eventferry_aws::sqs::Sqs;
use eventferry_aws::{retry, ErrorKind, StepError};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::counters::ReplicaCounters;
use super::lease::{
    check_tag_room, lease_value, leave_step, now_secs, plan_id, LeaseView, LeaveStep, ReplicaId,
};
use crate::cli::json_logs;
use crate::provision::{self, ProvisionError, ProvisionSpec, Provisioned, TeardownReport};

/// How long a writer waits between its tag write and its tag read (joining and leaving), so that
/// a write racing from another replica has landed.
const SETTLE: Duration = Duration::from_millis(1000);
/// How often a leaver or a joiner looks at the tags again while it waits.
const POLL: Duration = Duration::from_secs(1);
/// Every this many heartbeats (once per TTL), check the queue policy statement.
const POLICY_CHECK_EVERY: u64 = 3;
/// Joins that found a closing marker or a vanished queue, at most, before giving up.
const MAX_JOIN_ROUNDS: u32 = 6;

/// One replica's lease settings.
#[derive(Debug, Clone)]
pub struct LeaseSettings {
    pub replica: ReplicaId,
    /// A lease lasts this long; it is renewed every third of it.
    pub ttl: Duration,
    /// Start even when live replicas of the instance run another plan (`--replace-plan`).
    pub replace_plan: bool,
}

impl LeaseSettings {
    fn ttl_secs(&self) -> u64 {
        self.ttl.as_secs().max(1)
    }

    /// The heartbeat period: a third of the TTL, at least one second.
    pub fn heartbeat(&self) -> Duration {
        (self.ttl / 3).max(Duration::from_secs(1))
    }
}

/// How a replica left.
#[derive(Debug)]
pub enum Left {
    /// Without `--clean-up`: its lease is released, the resources stay.
    Released,
    /// With `--clean-up`, but these replicas are alive: the resources stay for them.
    Stayed { alive: Vec<String> },
    /// The last one out: the deployment's resources are removed.
    TornDown(TeardownReport),
}

/// A replica's view of its deployment: what to provision, and its lease.
pub struct Keeper {
    cfg: SdkConfig,
    sqs: Sqs,
    eb: EventBridge,
    spec: ProvisionSpec,
    /// [`plan_id`] of the spec's rules, written into the lease.
    plan: String,
    lease: LeaseSettings,
    counters: Arc<ReplicaCounters>,
}

impl Keeper {
    /// `Err` when the spec is invalid (see [`provision::plan::plan_rules`]).
    pub fn new(
        cfg: &SdkConfig,
        spec: ProvisionSpec,
        lease: LeaseSettings,
        counters: Arc<ReplicaCounters>,
    ) -> Result<Self, ProvisionError> {
        let names: Vec<String> = provision::plan::plan_rules(&spec)?
            .into_iter()
            .map(|r| r.name)
            .collect();
        Ok(Keeper {
            cfg: cfg.clone(),
            sqs: Sqs::new(cfg),
            eb: EventBridge::new(cfg),
            plan: plan_id(&names),
            spec,
            lease,
            counters,
        })
    }

    fn me(&self) -> &ReplicaId {
        &self.lease.replica
    }

    /// Provision, take the lease, and make sure no other replica is removing the resources at
    /// this moment; if one is, wait for it and provision again.
    pub async fn join(&self) -> Result<Provisioned, ProvisionError> {
        self.refuse_another_plan().await?;
        for _ in 0..MAX_JOIN_ROUNDS {
            let p = provision::provision(&self.cfg, &self.spec).await?;
            match self.make_room(&p).await {
                Ok(()) => {}
                Err(ProvisionError::Aws(e)) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            }
            match self.renew(&p).await {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    note(format!(
                        "queue {} vanished right after provisioning (removed by another \
                         replica's clean-up?); provisioning again",
                        p.queue_name
                    ));
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
            tokio::time::sleep(SETTLE).await;
            let view = match self.view(&p).await {
                Ok(view) => view,
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => return Err(e.into()),
            };
            let closing = view.closing_others(self.me(), now_secs());
            if closing.is_empty() {
                let others = view.live_others(self.me(), now_secs()).len();
                if json_logs() {
                    tracing::info!(
                        replica = %self.me(),
                        ttl_secs = self.lease.ttl_secs(),
                        other_live_replicas = others,
                        "lease taken"
                    );
                } else {
                    eprintln!(
                        "eventferry drive: lease taken: replica {}, ttl {}s, {others} other live \
                         replica(s)",
                        self.me(),
                        self.lease.ttl_secs(),
                    );
                }
                return Ok(p);
            }
            note(format!(
                "replica(s) {} are removing the resources of instance {} as the last one out; \
                 waiting for them to finish, then provisioning again",
                ids(closing.keys()),
                self.spec.instance
            ));
            self.wait_for_closers(&p, closing).await;
        }
        Err(ProvisionError::Conflict(format!(
            "gave up joining instance {} on queue {} after {MAX_JOIN_ROUNDS} rounds: other \
             replicas kept removing its resources; start the replicas again once those have stopped",
            self.spec.instance, self.spec.queue_name
        )))
    }

    /// Before changing anything: live replicas of this instance that run another plan (other
    /// patterns, schedule, bus or queue) would have their rules removed as "no longer wanted",
    /// and would remove ours when they restart. Refuse, unless `--replace-plan`.
    async fn refuse_another_plan(&self) -> Result<(), ProvisionError> {
        let name = &self.spec.queue_name;
        let Some(url) = retry(format!("look up queue {name}"), || self.sqs.queue_url(name)).await?
        else {
            return Ok(());
        };
        let tags = match retry(format!("read the leases on queue {name}"), || {
            self.sqs.tags(&url)
        })
        .await
        {
            Ok(tags) => tags,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let view = LeaseView::read(&tags, &self.spec.instance);
        let others = view.other_plans(self.me(), &self.plan, now_secs());
        if others.is_empty() {
            return Ok(());
        }
        let instance = &self.spec.instance;
        if self.lease.replace_plan {
            note(format!(
                "--replace-plan: replica(s) {} of instance {instance} run another plan; their \
                 rules that this one does not want are removed",
                others.join(", ")
            ));
            return Ok(());
        }
        Err(ProvisionError::Conflict(format!(
            "live replica(s) {} of instance {instance} on queue {name} run another plan (other \
             patterns, schedule or bus): two plans on one instance remove each other's rules. Give \
             this driver its own --instance, or, to replace their plan on purpose (a rolling update \
             that changes the patterns), pass --replace-plan",
            others.join(", ")
        )))
    }

    /// Poll until every marker in `closing` is gone or expired, or the queue is gone. The lease
    /// is renewed meanwhile: a leaver that saw it takes the renewal as proof that this replica is
    /// alive, and stays its hand.
    async fn wait_for_closers(&self, p: &Provisioned, closing: BTreeMap<String, u64>) {
        let until = closing.values().copied().max().unwrap_or_default();
        let mut renewed = now_secs();
        while now_secs() < until {
            tokio::time::sleep(POLL).await;
            if now_secs() >= renewed + self.lease.heartbeat().as_secs() {
                match self.renew(p).await {
                    Ok(()) => renewed = now_secs(),
                    Err(e) if e.kind() == ErrorKind::NotFound => return,
                    Err(e) => tracing::warn!(error = %e, "lease renewal failed while waiting"),
                }
            }
            match self.view(p).await {
                Ok(view) if view.closing_others(self.me(), now_secs()).is_empty() => return,
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => return,
                Err(e) => tracing::warn!(error = %e, "cannot read the queue's tags; waiting"),
            }
        }
    }

    /// Before taking a lease: remove this instance's long-expired leases, then make sure the
    /// queue can hold one more tag (SQS allows 50).
    async fn make_room(&self, p: &Provisioned) -> Result<(), ProvisionError> {
        let tags = retry(format!("read the tags of queue {}", p.queue_name), || {
            self.sqs.tags(&p.queue_url)
        })
        .await?;
        let key = self.me().lease_key(&self.spec.instance);
        if check_tag_room(&tags, &key).is_ok() {
            return Ok(());
        }
        let stale = LeaseView::read(&tags, &self.spec.instance)
            .stale_keys(now_secs(), self.lease.ttl_secs());
        if !stale.is_empty() {
            self.untag(p, stale.clone()).await?;
        }
        let left: HashMap<String, String> = tags
            .into_iter()
            .filter(|(k, _)| !stale.contains(k))
            .collect();
        check_tag_room(&left, &key).map_err(|problem| {
            ProvisionError::Conflict(format!(
                "cannot take a lease on queue {}: {problem}",
                p.queue_name
            ))
        })
    }

    /// Write (or renew) this replica's lease.
    async fn renew(&self, p: &Provisioned) -> Result<(), StepError> {
        let expires = now_secs() + self.lease.ttl_secs();
        let tag = HashMap::from([(
            self.me().lease_key(&self.spec.instance),
            lease_value(expires, &self.plan),
        )]);
        retry(format!("renew the lease on queue {}", p.queue_name), || {
            self.sqs.tag_queue(&p.queue_url, tag.clone())
        })
        .await
    }

    /// The leases and markers on the queue.
    async fn view(&self, p: &Provisioned) -> Result<LeaseView, StepError> {
        let tags = retry(format!("read the leases on queue {}", p.queue_name), || {
            self.sqs.tags(&p.queue_url)
        })
        .await?;
        Ok(LeaseView::read(&tags, &self.spec.instance))
    }

    /// Renew the lease every [`LeaseSettings::heartbeat`] until `stop`; returns the latest
    /// provisioning (a vanished queue is provisioned again).
    pub fn spawn_heartbeat(
        self: Arc<Self>,
        provisioned: Provisioned,
        stop: CancellationToken,
    ) -> JoinHandle<Provisioned> {
        tokio::spawn(async move {
            let mut p = provisioned;
            let mut last_renewal = now_secs();
            let mut beats = 0u64;
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return p,
                    _ = tokio::time::sleep(self.lease.heartbeat()) => {}
                }
                beats += 1;
                match self.beat(&p).await {
                    Ok(()) => {
                        last_renewal = now_secs();
                        if beats.is_multiple_of(POLICY_CHECK_EVERY) {
                            self.check_policy(&p).await;
                            self.check_rules(&p).await;
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::NotFound => {
                        tracing::error!(
                            queue = %p.queue_name,
                            "the queue no longer exists (deleted outside this replica?); provisioning it again"
                        );
                        if let Some(again) = self.reprovision(&stop).await {
                            p = again;
                            last_renewal = now_secs();
                        }
                    }
                    Err(e) => {
                        self.counters.lease_failures.fetch_add(1, Ordering::Relaxed);
                        let late = now_secs().saturating_sub(last_renewal);
                        if late >= self.lease.ttl_secs() {
                            tracing::error!(error = %e, seconds_since_renewal = late, "the lease has expired: if every other replica leaves with --clean-up now, the resources may be removed under this one");
                        } else {
                            tracing::warn!(error = %e, "lease renewal failed; retrying at the next heartbeat");
                        }
                    }
                }
            }
        })
    }

    /// Put the instance's queue policy statement back if a racing writer (another instance
    /// merging its own statement into the same policy) dropped it.
    async fn check_policy(&self, p: &Provisioned) {
        match provision::ensure_policy(&self.cfg, p).await {
            Ok(true) => {
                self.counters.policy_repairs.fetch_add(1, Ordering::Relaxed);
            }
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(error = %e, "cannot check the queue policy; trying again later")
            }
        }
    }

    /// Say loudly when a rule of this replica's configuration is gone. It is not re-created:
    /// during a rolling update that changes the patterns, the new replicas remove the old rules
    /// on purpose, and old replicas putting them back would undo the update.
    async fn check_rules(&self, p: &Provisioned) {
        let mut missing = 0;
        let mut buses: Vec<&str> = p.rules.iter().map(|r| r.bus.as_str()).collect();
        buses.sort_unstable();
        buses.dedup();
        let prefix = format!("{}-", crate::provision::ownership::rule_prefix(&p.instance));
        for bus in buses {
            let found = match self.eb.list_rules(bus, &prefix).await {
                Ok(found) => found,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot list the rules; trying again later");
                    return;
                }
            };
            for rule in p.rules.iter().filter(|r| r.bus == bus) {
                if !found.iter().any(|f| f.name == rule.name) {
                    missing += 1;
                    tracing::error!(
                        rule = %rule.name,
                        bus,
                        "a rule of this replica's configuration no longer exists, so its events no \
                         longer reach the queue: deleted by hand, or replaced by replicas with a newer \
                         configuration; restart this replica to provision it again"
                    );
                }
            }
        }
        self.counters
            .rules_missing
            .store(missing, Ordering::Relaxed);
    }

    /// One heartbeat: renew, read the leases (count the live ones, drop long-expired ones).
    async fn beat(&self, p: &Provisioned) -> Result<(), StepError> {
        self.renew(p).await?;
        self.counters.lease_renewals.fetch_add(1, Ordering::Relaxed);
        let view = self.view(p).await?;
        let now = now_secs();
        let live = view.live_others(self.me(), now).len() + 1;
        self.counters
            .replicas_live
            .store(live as u64, Ordering::Relaxed);
        let stale = view.stale_keys(now, self.lease.ttl_secs());
        if !stale.is_empty() {
            tracing::info!(keys = ?stale, "removing expired leases of replicas that are gone");
            if let Err(e) = self.sqs.untag_queue(&p.queue_url, stale).await {
                tracing::warn!(error = %e, "cannot remove expired leases; trying again later");
            }
        }
        Ok(())
    }

    /// Provision again (waiting out SQS's 60-s re-create rule) and retake the lease; `None` when
    /// stopped first. Failures are logged and retried with backoff.
    async fn reprovision(&self, stop: &CancellationToken) -> Option<Provisioned> {
        let mut wait = Duration::from_secs(1);
        loop {
            let attempt = async {
                let p = provision::provision(&self.cfg, &self.spec).await?;
                self.renew(&p).await?;
                Ok::<_, ProvisionError>(p)
            };
            let outcome = tokio::select! {
                _ = stop.cancelled() => return None,
                r = attempt => r,
            };
            match outcome {
                Ok(p) => {
                    self.counters.reprovisions.fetch_add(1, Ordering::Relaxed);
                    announce_provisioned(&p, true);
                    return Some(p);
                }
                Err(e) => {
                    tracing::error!(error = %e, retry_in = ?wait, "provisioning again failed");
                    tokio::select! {
                        _ = stop.cancelled() => return None,
                        _ = tokio::time::sleep(wait) => {}
                    }
                    wait = (wait * 2).min(Duration::from_secs(30));
                }
            }
        }
    }

    /// Leave: release the lease; with `clean_up`, remove the resources if no other replica is
    /// alive (see [`leave_step`]).
    pub async fn leave(&self, p: &Provisioned, clean_up: bool) -> Result<Left, ProvisionError> {
        let mine = self.me().lease_key(&self.spec.instance);
        if !clean_up {
            self.untag(p, vec![mine]).await?;
            return Ok(Left::Released);
        }
        let closing = self.me().closing_key(&self.spec.instance);
        let expires = now_secs() + self.lease.ttl_secs() + 30;
        let marker = HashMap::from([(closing.clone(), expires.to_string())]);
        // The lease goes first, so the marker takes its place among the queue's (at most 50) tags.
        self.untag(p, vec![mine]).await?;
        match retry(format!("mark queue {} as closing", p.queue_name), || {
            self.sqs.tag_queue(&p.queue_url, marker.clone())
        })
        .await
        {
            Ok(()) => {}
            // Already gone: another replica was the last one out; finish what is left.
            Err(e) if e.kind() == ErrorKind::NotFound => return self.tear_down(p).await,
            Err(e) => return Err(e.into()),
        }
        tokio::time::sleep(SETTLE).await;
        let mut first: Option<BTreeMap<String, u64>> = None;
        let mut announced = Vec::new();
        loop {
            let view = match self.view(p).await {
                Ok(view) => view,
                Err(e) if e.kind() == ErrorKind::NotFound => return self.tear_down(p).await,
                Err(e) => return Err(e.into()),
            };
            let now = now_secs();
            let seen = first.get_or_insert_with(|| view.live_others(self.me(), now));
            match leave_step(seen, &view, self.me(), now) {
                LeaveStep::TearDown => return self.tear_down(p).await,
                LeaveStep::Stay { alive } => {
                    self.untag(p, vec![closing]).await?;
                    return Ok(Left::Stayed { alive });
                }
                LeaveStep::Wait { holders } => {
                    if holders != announced {
                        tracing::info!(
                            replicas = %ids(holders.iter()),
                            "other leases are live but not renewed yet; waiting (at most until they expire) to see whether their replicas are alive"
                        );
                        announced = holders;
                    }
                    tokio::time::sleep(POLL).await;
                }
            }
        }
    }

    /// Remove the deployment's resources; on a queue that is not ours (and so stays), also our
    /// tags.
    async fn tear_down(&self, p: &Provisioned) -> Result<Left, ProvisionError> {
        let report = provision::teardown(&self.cfg, p).await?;
        if !p.queue_owned {
            let keys = vec![
                self.me().lease_key(&self.spec.instance),
                self.me().closing_key(&self.spec.instance),
            ];
            self.untag(p, keys).await?;
        }
        Ok(Left::TornDown(report))
    }

    /// Remove tags `keys` from the queue; a queue already gone is fine.
    async fn untag(&self, p: &Provisioned, keys: Vec<String>) -> Result<(), ProvisionError> {
        match retry(format!("remove tags from queue {}", p.queue_name), || {
            self.sqs.untag_queue(&p.queue_url, keys.clone())
        })
        .await
        {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// Say what provisioning did: the summary's lines on stderr, or with `--log-format json` one
/// log event per resource (`change`, `resource`). `again`: after the queue vanished.
pub fn announce_provisioned(p: &Provisioned, again: bool) {
    if json_logs() {
        if p.summary.items.is_empty() {
            tracing::info!(queue = %p.queue_name, again, "provisioned: nothing to do");
        }
        for (change, resource) in &p.summary.items {
            tracing::info!(
                queue = %p.queue_name,
                again,
                change = %change,
                resource = %resource,
                "provisioned"
            );
        }
    } else if again {
        eprintln!(
            "eventferry drive: provisioned queue {} again:\n{}",
            p.queue_name, p.summary
        );
    } else {
        eprintln!("{}", p.summary);
    }
}

/// A line about joining: `eventferry drive: <message>` on stderr, or a JSON log event.
fn note(message: String) {
    if json_logs() {
        tracing::warn!("{message}");
    } else {
        eprintln!("eventferry drive: {message}");
    }
}

fn ids<'a>(ids: impl Iterator<Item = &'a String>) -> String {
    ids.map(String::as_str).collect::<Vec<_>>().join(", ")
}
