//! Many replicas of `eventferry drive` on one queue: one deployment (`--instance`), competing
//! consumers, and resources that belong to the deployment rather than to a process.
//!
//! Each replica holds a lease, a tag on the queue with an expiry ([`lease`]), renewed by a
//! heartbeat ([`keeper`]). Only the last replica out with `--clean-up` removes the resources; a
//! replica killed with SIGKILL stops renewing, so its lease expires and never blocks the clean-up.
//! See docs/replicas.md.

use std::sync::atomic::AtomicU64;

pub mod keeper;
pub mod lease;

pub use keeper::{Keeper, LeaseSettings, Left};
pub use lease::ReplicaId;

/// What the lease keeper counts, for `/metrics`.
#[derive(Debug, Default)]
pub struct ReplicaCounters {
    pub lease_renewals: AtomicU64,
    pub lease_failures: AtomicU64,
    /// Live replicas (this one included) at the last heartbeat.
    pub replicas_live: AtomicU64,
    /// Times the queue had vanished and was provisioned again.
    pub reprovisions: AtomicU64,
    /// Times the instance's queue policy statement was missing and was written again.
    pub policy_repairs: AtomicU64,
    /// Rules of this replica's configuration found missing at the last check.
    pub rules_missing: AtomicU64,
}
