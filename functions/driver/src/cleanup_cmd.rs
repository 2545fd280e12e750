//! `eventferry cleanup`: sweep the rules, targets, queues and policy statements a killed driver
//! left behind. The logic is in [`crate::provision::sweep`]; this is the command line.

use std::process::ExitCode;

use clap::{ArgGroup, Args};
use eventferry_aws::AwsOptions;
use eventferry_core::names::InstanceId;

use crate::provision::sweep::{sweep, Owner, SweepSpec};

/// Where AWS is: shared by `cleanup` and `emit`.
#[derive(Args, Debug, Clone, Default)]
pub struct AwsArgs {
    /// AWS region, e.g. us-east-1 [default: the standard AWS chain: AWS_REGION, the profile, ...]
    #[arg(long, env = "EVENTFERRY_REGION", value_name = "REGION")]
    pub region: Option<String>,
    /// Endpoint URL for every AWS service, e.g. http://127.0.0.1:4566 for LocalStack
    /// [default: AWS_ENDPOINT_URL, else the real AWS endpoints]
    #[arg(long, env = "EVENTFERRY_ENDPOINT_URL", value_name = "URL")]
    pub endpoint_url: Option<String>,
}

impl AwsArgs {
    /// Check the flags and load the AWS configuration; `Err` is a message about bad input.
    pub async fn load(&self) -> Result<aws_config::SdkConfig, String> {
        if let Some(url) = &self.endpoint_url {
            let rest = url
                .strip_prefix("http://")
                .or_else(|| url.strip_prefix("https://"));
            if rest.is_none_or(|r| r.is_empty() || r.starts_with('/')) {
                return Err(format!(
                    "invalid --endpoint-url {url:?}: use an http:// or https:// URL with a host, \
                     e.g. http://127.0.0.1:4566"
                ));
            }
        }
        if let Some(region) = &self.region {
            if region.is_empty()
                || !region
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            {
                return Err(format!(
                    "invalid --region {region:?}: use an AWS region name such as us-east-1"
                ));
            }
        }
        let cfg = eventferry_aws::load(&AwsOptions {
            region: self.region.clone(),
            endpoint_url: self.endpoint_url.clone(),
        })
        .await;
        if cfg.region().is_none() {
            return Err(
                "no AWS region: pass --region, or set EVENTFERRY_REGION or AWS_REGION".to_owned(),
            );
        }
        Ok(cfg)
    }
}

/// Sweep what a driver that was killed left behind.
///
/// Deletes the rules (after removing their targets) named eventferry-<owner>-... and tagged
/// managed-by=eventferry, eventferry-owner=<owner>, on --event-bus and on the default bus; the
/// queues (and dead-letter queues) tagged the same way; and removes the owner's statements from
/// the policies of queues that are not eventferry's. Don't run it for an instance that is still
/// driving: its resources would go too.
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
    /// List what would be deleted, and delete nothing.
    #[arg(long, env = "EVENTFERRY_CLEANUP_DRY_RUN")]
    pub dry_run: bool,
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// Run `eventferry cleanup` (builds its own tokio runtime). Exit 0 when done, 2 on bad input,
/// 1 when an AWS call failed.
pub fn run(args: CleanupArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("eventferry cleanup: can't start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(run_async(args))
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
    };
    match sweep(&cfg, &spec).await {
        Ok(report) => {
            println!("{report}");
            if report.errors.is_empty() {
                ExitCode::SUCCESS
            } else {
                for e in &report.errors {
                    eprintln!("eventferry cleanup: {e}");
                }
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("eventferry cleanup: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
