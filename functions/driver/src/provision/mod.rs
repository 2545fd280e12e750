//! Provisioning and teardown of the resources `eventferry drive` uses: the queue (and its
//! dead-letter queue), one EventBridge rule per pattern (and one for a schedule), each with the
//! queue as its target, and the queue policy statement that lets those rules send.
//!
//! Everything is idempotent and owned:
//!
//! - eventferry's resources carry the tags `managed-by=eventferry` and
//!   `eventferry-owner=<instance>` (rules also `eventferry-queue=<queue>`), set when they are
//!   created; a queue without them is *foreign*: used, never retagged, never deleted
//!   ([`ownership`]);
//! - rule names are deterministic, `eventferry-<instance>-<hash>` with the hash over the queue name
//!   and the canonical pattern (or schedule expression), so a restart adopts the rules it made
//!   instead of adding new ones, and a changed pattern yields a new rule while the old one is
//!   removed;
//! - the queue policy is merged (see [`policy`]): one statement per instance, `Sid` =
//!   `eventferry-<instance>`, allowing the instance's rules by ARN pattern; statements of others
//!   are never touched, and the write is checked against AWS's policy limits first.
//!
//! The rooms follow the lifecycle: [`report`] (what is asked for and what comes back), [`plan`]
//! (pure checks, the rules and attributes wanted, and every create/adopt/update/remove decision),
//! [`lookup`] (reading what exists; [`lookup::Reader`] offers read calls only), [`preview`] (the
//! plan of `drive --dry-run`, read-only, with [`plan`]'s decisions), [`apply`] (the AWS calls of
//! [`provision`]), [`teardown`] (undo one provisioning), [`sweep`] (`eventferry cleanup`: what a
//! killed driver left, never what a live replica still uses), and [`error`]. Transient AWS errors
//! are retried with [`eventferry_aws::retry`].

pub mod apply;
pub mod error;
pub mod lookup;
pub mod ownership;
pub mod plan;
pub mod policy;
pub mod preview;
pub mod report;
pub mod sweep;
pub mod teardown;

pub use apply::{ensure_policy, provision};
pub use error::ProvisionError;
pub use report::{Change, OwnedRule, ProvisionSpec, ProvisionSummary, Provisioned, TeardownReport};
pub use teardown::teardown;
