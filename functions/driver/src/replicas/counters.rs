//! What the lease keeper counts, for `/metrics`.

use std::sync::atomic::AtomicU64;

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
