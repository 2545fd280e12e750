//! The `eventferry` command as a library: one module per subcommand, and the provisioning they
//! share. `main.rs` only parses the command line and calls [`run`]; the integration tests
//! (`tests/it/provision.rs`) use [`provision`] directly.
//!
//! - [`drive`]: validate the flags, [`provision`] the rules and queue, run the delivery loop
//!   ([`drive::ferry`]) into a sink, drain, and tear down what it owns if asked;
//! - [`replicas`]: leases on the queue, so many `drive` replicas share one deployment and only
//!   the last one out cleans up;
//! - [`cleanup_cmd`], [`emit_cmd`], [`pattern_cmd`], [`status_cmd`], [`subscriptions_cmd`]: the
//!   other subcommands;
//! - [`cli`]: what the subcommands share on the command line (AWS flags, `@FILE | - | inline`
//!   arguments, a runtime per command); [`hints`]: what a person can do about an AWS error.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod cleanup_cmd;
pub mod cli;
pub mod drive;
pub mod emit_cmd;
pub mod hints;
pub mod pattern_cmd;
pub mod provision;
pub mod replicas;
pub mod status_cmd;
pub mod subscriptions_cmd;

/// The command line.
#[derive(Parser)]
#[command(
    name = "eventferry",
    version,
    about = "Carry AWS events to functions: EventBridge rules -> SQS -> CloudEvents -> sink."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// Create rules and a queue, then deliver every event as a CloudEvent to a sink (at-least-once).
    Drive(Box<drive::args::DriveArgs>),
    /// Validate and test EventBridge event patterns offline, with AWS's exact semantics and errors.
    #[command(subcommand)]
    Pattern(pattern_cmd::PatternCommand),
    /// Sweep the rules, queues and policy statements a killed driver left behind.
    Cleanup(cleanup_cmd::CleanupArgs),
    /// Show a deployment's queue, rules, policy statements and live replicas (changes nothing).
    Status(status_cmd::StatusArgs),
    /// Put events on an EventBridge bus (PutEvents) and print their ids.
    Emit(emit_cmd::EmitArgs),
    /// Check router subscription files, and see which subscriptions an event matches and why.
    #[command(subcommand)]
    Subscriptions(subscriptions_cmd::SubscriptionsCommand),
}

/// Run one subcommand to its exit status.
pub fn run(command: Command) -> ExitCode {
    match command {
        Command::Drive(args) => {
            cli::block_on("drive", cli::RuntimeFlavor::MultiThread, drive::run(*args))
        }
        Command::Pattern(cmd) => pattern_cmd::run(cmd),
        Command::Cleanup(args) => cleanup_cmd::run(args),
        Command::Status(args) => status_cmd::run(args),
        Command::Emit(args) => emit_cmd::run(args),
        Command::Subscriptions(cmd) => subscriptions_cmd::run(cmd),
    }
}
