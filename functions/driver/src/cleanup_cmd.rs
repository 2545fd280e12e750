//! `eventferry cleanup`: sweep the rules, targets, queues and policy statements a killed driver
//! left behind. The logic is in [`crate::provision::sweep`]; this is the command line.

use std::process::ExitCode;

use clap::{ArgGroup, Args};
use eventferry_core::names::InstanceId;

use crate::cli::{block_on, AwsArgs, RuntimeFlavor};
use crate::provision::sweep::{sweep, Owner, SweepSpec};

/// Sweep what a driver that was killed left behind.
///
/// Deletes the rules (after removing their targets) named eventferry-<instance>-... and tagged
/// managed-by=eventferry, eventferry-owner=<instance>, on --event-bus and on the default bus; the
/// queues (and dead-letter queues) tagged the same way; and removes the instance's statements
/// from the policies of queues that are not eventferry's. (`drive --clean-up` does the same for a
/// driver that stops normally, as the last replica out.)
///
/// Don't run it for an instance that is still driving: a queue on which replicas of the instance
/// still hold live leases (tags eventferry-lease:<instance>:<replica> whose expiry has not passed)
/// is skipped, with its dead-letter queue, the instance's rules delivering to it and its policy
/// statements, and reported; the exit status is then 1. Stop those replicas first (or wait
/// --lease-ttl after they were killed), or pass --force.
///
/// --all-owned sweeps every eventferry instance in the account and region: it asks for
/// confirmation on a terminal, and without one it needs --yes.
#[derive(Args, Debug)]
#[command(
    group(ArgGroup::new("whose").required(true).args(["instance", "cleanup_owner", "all_owned"])),
    override_usage = "eventferry cleanup [OPTIONS] <--instance <INSTANCE>|--all-owned>",
    after_help = "Examples:\n  \
        eventferry cleanup --instance orders --dry-run\n  \
        eventferry cleanup --instance orders --queue-prefix eventferry-orders\n\n\
        Exit status: 0 when everything was swept (or listed, with --dry-run); 1 when an AWS call \
        failed or a queue was skipped for live replicas; 2 for bad input, an unusable AWS setup, a \
        mistyped EVENTFERRY_* variable, or --all-owned refused without confirmation."
)]
pub struct CleanupArgs {
    /// The instance whose resources to sweep (the --instance `drive` ran with; `drive` derives it
    /// from --queue-name: `driver` for the default queue). `--owner` is the same flag (its former
    /// name), EVENTFERRY_CLEANUP_OWNER the same variable.
    #[arg(
        long,
        visible_alias = "owner",
        env = "EVENTFERRY_INSTANCE",
        value_name = "INSTANCE"
    )]
    pub instance: Option<String>,
    /// Former variable of --instance (still read).
    #[arg(
        long = "cleanup-owner",
        env = "EVENTFERRY_CLEANUP_OWNER",
        hide = true,
        conflicts_with = "instance",
        value_name = "INSTANCE"
    )]
    pub cleanup_owner: Option<String>,
    /// Sweep the resources of every eventferry instance (everything tagged managed-by=eventferry).
    /// Asks for confirmation on a terminal; pass --yes otherwise.
    #[arg(
        long,
        env = "EVENTFERRY_CLEANUP_ALL_OWNED",
        conflicts_with_all = ["instance", "cleanup_owner"]
    )]
    pub all_owned: bool,
    /// With --all-owned: don't ask for confirmation (needed without a terminal).
    #[arg(long, short = 'y', env = "EVENTFERRY_CLEANUP_YES")]
    pub yes: bool,
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

/// `--all-owned` without `--yes`: ask on a terminal; refuse without one. `Err` says why.
fn confirm_all_owned() -> Result<(), String> {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        return Err(
            "--all-owned deletes the resources of EVERY eventferry instance in this \
                    account and region, including drivers still running; without a terminal to \
                    confirm, pass --yes (or first look with --dry-run)"
                .to_owned(),
        );
    }
    eprint!(
        "eventferry cleanup: --all-owned deletes the rules, queues and policy statements of EVERY \
         eventferry instance in this account and region (queues with live replicas are skipped \
         unless --force). Continue? [y/N] "
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| format!("cannot read the answer: {e}"))?;
    if matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        Ok(())
    } else {
        Err("not confirmed: nothing was deleted".to_owned())
    }
}

/// The same as [`run`], on the caller's runtime.
pub async fn run_async(args: CleanupArgs) -> ExitCode {
    let owner = match (
        args.instance.as_ref().or(args.cleanup_owner.as_ref()),
        args.all_owned,
    ) {
        (Some(owner), false) => match InstanceId::new(owner) {
            Ok(id) => Owner::One(id),
            Err(e) => {
                eprintln!("eventferry cleanup: --instance: {e}");
                return ExitCode::from(2);
            }
        },
        (None, true) => Owner::AllOwned,
        _ => {
            eprintln!(
                "eventferry cleanup: pass exactly one of --instance <INSTANCE> or --all-owned"
            );
            return ExitCode::from(2);
        }
    };
    if owner == Owner::AllOwned && !args.dry_run && !args.yes {
        if let Err(message) = confirm_all_owned() {
            eprintln!("eventferry cleanup: {message}");
            return ExitCode::from(2);
        }
    }
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
