//! `eventferry`: carries AWS events to functions. This file only parses the command line and
//! hands it to the library (`eventferry_driver`).

use std::process::ExitCode;

use clap::Parser;
use eventferry_driver::Cli;

// glibc malloc was ~20% of the driver's CPU per message (make bench-driver, perf).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    eventferry_driver::run(Cli::parse().command)
}
