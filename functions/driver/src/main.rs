//! `eventferry`: carries AWS events to functions. Subcommands arrive with the issues that build them.

use clap::Parser;

#[derive(Parser)]
#[command(name = "eventferry", version, about = "Carry AWS events to functions: EventBridge rules -> SQS -> CloudEvents -> sink.")]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
}
