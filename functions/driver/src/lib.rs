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

use clap::{CommandFactory, Parser, Subcommand};

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
    version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("EVENTFERRY_BUILD_COMMIT"), ")"),
    about = "Carry AWS events to functions: EventBridge rules -> SQS -> CloudEvents -> sink.",
    after_help = "Examples:\n  \
        eventferry drive --event-patterns @events/demo-patterns.json --sink http://127.0.0.1:8080/events --clean-up\n  \
        eventferry pattern test --pattern '{\"source\":[\"demo.shop\"]}' --event @event.json\n\n\
        Environment: every flag also reads an EVENTFERRY_* variable (shown in each command's --help). \
        A set EVENTFERRY_* variable that no part of eventferry reads is refused (exit 2) when it is \
        within two edits of one the command reads (or extends one, as EVENTFERRY_SINK_URL), and \
        otherwise warned about; the router's, the tests' and scripts/smoke-aws.sh's variables are \
        accepted in the same shell."
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
    #[command(
        subcommand,
        after_help = "Examples:\n  \
            eventferry pattern validate @events/demo-patterns.json\n  \
            eventferry pattern test --pattern '{\"source\":[\"demo.shop\"]}' --event @event.json\n\n\
            Patterns are inline JSON, @FILE, or - (or @-) for stdin; where patterns are taken, one \
            pattern object or a JSON array of them. Exit status: 0 valid / match, 1 no match, 2 \
            invalid input (see each subcommand's --help)."
    )]
    Pattern(pattern_cmd::PatternCommand),
    // The about and long help (with its warnings) come from `CleanupArgs`' doc comment: a doc
    // comment here would replace both.
    Cleanup(cleanup_cmd::CleanupArgs),
    // About and long help (with the exit status) from `StatusArgs`' doc comment.
    Status(status_cmd::StatusArgs),
    /// Put events on an EventBridge bus (PutEvents) and print their ids.
    Emit(emit_cmd::EmitArgs),
    /// The router's subscriptions: change them in its store at runtime (create, list, get,
    /// delete, apply), check a subscriptions file, and see which subscriptions an event matches.
    #[command(
        subcommand,
        after_help = "Examples:\n  \
            export EVENTFERRY_SUBSCRIPTIONS_STORE=s3://my-bucket/subscriptions.json\n  \
            eventferry subscriptions create hello-s3 --event-type aws.s3 --function hello-py\n  \
            eventferry subscriptions list\n  \
            eventferry subscriptions delete hello-s3\n  \
            eventferry subscriptions apply -f events/demo-subscriptions.yaml\n  \
            eventferry subscriptions validate events/demo-subscriptions.yaml\n  \
            eventferry subscriptions match events/demo-subscriptions.yaml --event @event.json --all\n\n\
            Exit status: 0 success / matched; 1 nothing matched, not found, or a store error; 2 \
            invalid input."
    )]
    Subscriptions(subscriptions_cmd::SubscriptionsCommand),
    /// Print a shell completion script to stdout (`make completions` writes them all).
    #[command(hide = true)]
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout.
    #[command(hide = true)]
    Man,
}

impl Command {
    /// The subcommand's name on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Drive(_) => "drive",
            Command::Pattern(_) => "pattern",
            Command::Cleanup(_) => "cleanup",
            Command::Status(_) => "status",
            Command::Emit(_) => "emit",
            Command::Subscriptions(_) => "subscriptions",
            Command::Completions { .. } => "completions",
            Command::Man => "man",
        }
    }
}

/// Run one subcommand to its exit status.
///
/// First, a mistyped `EVENTFERRY_*` variable stops it (exit 2, see [`cli::check_environment`]).
pub fn run(command: Command) -> ExitCode {
    if let Err(code) = cli::refuse_mistyped_variables(&Cli::command(), command.name()) {
        return code;
    }
    match command {
        Command::Drive(args) => {
            let workers = usize::from(args.worker_threads);
            cli::block_on(
                "drive",
                cli::RuntimeFlavor::MultiThread { workers },
                drive::run(*args),
            )
        }
        Command::Pattern(cmd) => pattern_cmd::run(cmd),
        Command::Cleanup(args) => cleanup_cmd::run(args),
        Command::Status(args) => status_cmd::run(args),
        Command::Emit(args) => emit_cmd::run(args),
        Command::Subscriptions(cmd) => subscriptions_cmd::run(cmd),
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "eventferry", &mut script);
            print_generated("completions", &script)
        }
        Command::Man => {
            let mut page = Vec::new();
            match clap_mangen::Man::new(Cli::command()).render(&mut page) {
                Ok(()) => print_generated("man", &page),
                Err(e) => {
                    eprintln!("eventferry man: cannot render the man page: {e}");
                    ExitCode::from(1)
                }
            }
        }
    }
}

/// Write a generated script or page to stdout; a closed pipe (`| head`) is not an error.
fn print_generated(command: &str, bytes: &[u8]) -> ExitCode {
    use std::io::Write;
    match std::io::stdout().write_all(bytes) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("eventferry {command}: cannot write to stdout: {e}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every visible command's --help shows examples, and clap accepts the definitions.
    #[test]
    fn every_command_has_examples() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
                let path = format!("{path} {}", sub.get_name());
                let help = sub
                    .get_after_help()
                    .map(|h| h.to_string())
                    .unwrap_or_default();
                if !help.contains("Examples:") {
                    missing.push(path.clone());
                }
                walk(sub, &path, missing);
            }
        }
        let cmd = Cli::command();
        cmd.clone().debug_assert();
        let mut missing = Vec::new();
        walk(&cmd, "eventferry", &mut missing);
        assert!(missing.is_empty(), "no examples in --help of: {missing:?}");
        let drive_env = cli::env_names(cmd.find_subcommand("drive").unwrap());
        for name in ["EVENTFERRY_SINK", "EVENTFERRY_SOURCE", "EVENTFERRY_LOG"] {
            assert!(drive_env.iter().any(|n| n == name), "{name}: {drive_env:?}");
        }
    }
}
