//! `eventferry`: carries AWS events to functions. This file only wires subcommands together.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cleanup_cmd;
mod drive;
mod emit_cmd;
mod pattern_cmd;
mod provision;
mod subscriptions_cmd;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "eventferry",
    version,
    about = "Carry AWS events to functions: EventBridge rules -> SQS -> CloudEvents -> sink."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create rules and a queue, then deliver every event as a CloudEvent to a sink (at-least-once).
    Drive(Box<drive::args::DriveArgs>),
    /// Validate and test EventBridge event patterns offline, with AWS's exact semantics and errors.
    #[command(subcommand)]
    Pattern(pattern_cmd::PatternCommand),
    /// Sweep the rules, queues and policy statements a killed driver left behind.
    Cleanup(cleanup_cmd::CleanupArgs),
    /// Put events on an EventBridge bus (PutEvents) and print their ids.
    Emit(emit_cmd::EmitArgs),
    /// Check router subscription files, and see which subscriptions an event matches and why.
    #[command(subcommand)]
    Subscriptions(subscriptions_cmd::SubscriptionsCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Drive(args) => runtime().block_on(drive::run(*args)),
        Command::Pattern(cmd) => pattern_cmd::run(cmd),
        Command::Cleanup(args) => cleanup_cmd::run(args),
        Command::Emit(args) => emit_cmd::run(args),
        Command::Subscriptions(cmd) => subscriptions_cmd::run(cmd),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}
