//! Many replicas of `eventferry drive` on one queue: one deployment (`--instance`), competing
//! consumers, and resources that belong to the deployment rather than to a process.
//!
//! Each replica holds a lease, a tag on the queue with an expiry ([`lease`]), renewed by a
//! heartbeat ([`keeper`]). Only the last replica out with `--clean-up` removes the resources; a
//! replica killed with SIGKILL stops renewing, so its lease expires and never blocks the clean-up.
//! See docs/replicas.md.

pub mod counters;
pub mod keeper;
pub mod lease;

pub use counters::ReplicaCounters;
pub use keeper::{Keeper, LeaseSettings, Left};
pub use lease::ReplicaId;
