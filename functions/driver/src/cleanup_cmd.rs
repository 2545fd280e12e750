//! `eventferry cleanup`: sweep the rules, targets, queues and policy statements a killed driver
//! left behind. The logic is in [`crate::provision::sweep`]; this is the command line.

use std::process::ExitCode;

use clap::{ArgGroup, Args};
use eventferry_core::names::InstanceId;

use crate::cli::{block_on, AwsArgs, RuntimeFlavor};
use crate::provision::sweep::{sweep, Owner, SweepSpec};

/// Sweep what a driver that was killed left behind.
///
/// Deletes the rules (after removing their targets) named eventferry-<owner>-... and tagged
/// managed-by=eventferry, eventferry-owner=<owner>, on --event-bus and on the default bus; the
/// queues (and dead-letter queues) tagged the same way; and removes the owner's statements from
/// the policies of queues that are not eventferry's.
///
/// A queue on which replicas of the owner still hold live leases (tags
/// eventferry-lease:<owner>:<replica> whose expiry has not passed) is skipped, with its
/// dead-letter queue, the owner's rules delivering to it and its policy statements, and reported;
/// the exit status is then 1. Stop those replicas first (or wait --lease-ttl after they were
/// killed), or pass --force.
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("whose").required(true).args(["owner", "all_owned"])))]
pub struct CleanupArgs {
    /// The instance id whose resources to sweep (the --instance the driver ran with).
    #[arg(long, env = "EVENTFERRY_CLEANUP_OWNER", value_name = "INSTANCE")]
    pub owner: Option<String>,
    /// Sweep the resources of every eventferry instance (everything tagged managed-by=eventferry).
    #[arg(long, env = "EVENTFERRY_CLEANUP_ALL_OWNED", conflicts_with = "owner")]
    pub all_owned: bool,
    /// The event bus to look for rules on (the default bus is always searched too: schedule rules
    /// live there).
    #[arg(
        long,
        env = "EVENTFERRY_EVENT_BUS",
        default_value = "default",
        value_name = "BUS"
    )]
    pub event_bus: String,
    /// Only consider queues whose names start with this prefix [default: every queue].
    #[arg(
        long,
        env = "EVENTFERRY_CLEANUP_QUEUE_PREFIX",
        default_value = "",
        hide_default_value = true,
        value_name = "PREFIX"
    )]
    pub queue_prefix: String,
    /// List what would be deleted (and what would be skipped for live replicas), and delete nothing.
    #[arg(long, env = "EVENTFERRY_CLEANUP_DRY_RUN")]
    pub dry_run: bool,
    /// Delete also what live replicas still use: their queue, DLQ, rules and policy statements.
    /// The running replicas then fail, and re-create the queue at their next heartbeat.
    #[arg(long, env = "EVENTFERRY_CLEANUP_FORCE")]
    pub force: bool,
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// Run `eventferry cleanup` (builds its own tokio runtime). Exit 0 when done, 2 on bad input,
/// 1 when an AWS call failed or (not in a dry run) a queue was skipped for live replicas.
pub fn run(args: CleanupArgs) -> ExitCode {
    block_on("cleanup", RuntimeFlavor::CurrentThread, run_async(args))
}

/// The same as [`run`], on the caller's runtime.
pub async fn run_async(args: CleanupArgs) -> ExitCode {
    let owner = match (&args.owner, args.all_owned) {
        (Some(owner), false) => match InstanceId::new(owner) {
            Ok(id) => Owner::One(id),
            Err(e) => {
                eprintln!("eventferry cleanup: --owner: {e}");
                return ExitCode::from(2);
            }
        },
        (None, true) => Owner::AllOwned,
        _ => {
            eprintln!("eventferry cleanup: pass exactly one of --owner <INSTANCE> or --all-owned");
            return ExitCode::from(2);
        }
    };
    if args.event_bus.trim().is_empty() {
        eprintln!(
            "eventferry cleanup: invalid --event-bus \"\": use `default` or a custom bus name"
        );
        return ExitCode::from(2);
    }
    let cfg = match args.aws.load().await {
        Ok(cfg) => cfg,
        Err(message) => {
            eprintln!("eventferry cleanup: {message}");
            return ExitCode::from(2);
        }
    };
    let spec = SweepSpec {
        owner,
        event_bus: args.event_bus,
        queue_prefix: args.queue_prefix,
        dry_run: args.dry_run,
        force: args.force,
    };
    match sweep(&cfg, &spec).await {
        Ok(report) => {
            println!("{report}");
            for e in &report.errors {
                eprintln!("eventferry cleanup: {e}");
            }
            let skipped = !report.dry_run && !report.skipped.is_empty();
            if skipped {
                eprintln!(
                    "eventferry cleanup: {} queue(s) left for live replicas (see above); their \
                     rules and policy statements stay too. A replica killed without stopping holds \
                     its lease until it expires (its --lease-ttl, 30 s by default): run again \
                     then, or pass --force",
                    report.skipped.len()
                );
            }
            if report.errors.is_empty() && !skipped {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("eventferry cleanup: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
