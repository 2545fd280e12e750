//! `eventferry drive`: validate everything, provision (or adopt) rules and queue, run the delivery
//! loop until a signal, drain, and clean up what we own if asked.
//!
//! Two modes change nothing: `--dry-run` prints the plan ([`crate::provision::preview`]) and exits;
//! `--peek` receives from an existing queue and prints, never delivering or deleting.

pub mod args;
pub mod ferry;
pub mod metrics;
pub mod otel;
pub mod rate;
pub mod sink;
pub mod throttle;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;
use eventferry_aws::lambda::{InvocationMode, Lambda};
use eventferry_aws::retry;
use eventferry_aws::sqs::Sqs;
use eventferry_core::mapping::{MappingOptions, TypeFormat};
use eventferry_core::names::InstanceId;
use eventferry_core::schedule::ScheduleExpression;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::cli::{check_endpoint_url, check_region, json_logs, load_aws_config, read_arg};
use crate::provision::plan::check_queue_name;
use crate::provision::{preview, ProvisionError, ProvisionSpec, Provisioned};
use crate::replicas::{Keeper, LeaseSettings, Left, ReplicaCounters, ReplicaId};
use args::{DriveArgs, Invocation, LogFormat};
use ferry::{DrainReport, FerryConfig};
use metrics::Metrics;
use sink::{ConfiguredSink, HttpSink, LambdaSink, SinkSpec, StdoutSink};

/// Everything `drive` needs from its flags, checked before any AWS call.
#[derive(Debug)]
pub struct DriveInputs {
    pub patterns: Vec<Value>,
    pub schedule: Option<ScheduleExpression>,
    pub sink: SinkSpec,
    pub sink_headers: http::header::HeaderMap,
    pub mapping: MappingOptions,
    pub instance: InstanceId,
    pub replica: ReplicaId,
    /// No --sink, EVENTFERRY_SINK or K_SINK: stdout by default, said loudly at start.
    pub sink_defaulted: bool,
}

/// Validate the flags. Each error names the flag and says what would be right.
pub fn check_flags(args: &DriveArgs) -> Result<DriveInputs, String> {
    let patterns = match &args.event_patterns {
        Some(text) => parse_patterns(&read_arg("--event-patterns", text)?)?,
        None => Vec::new(),
    };
    let schedule = match &args.schedule_expression {
        Some(expr) => Some(
            ScheduleExpression::parse(expr).map_err(|e| format!("--schedule-expression: {e}"))?,
        ),
        None => None,
    };
    if args.peek && (args.dry_run || args.clean_up) {
        let other = if args.dry_run {
            "--dry-run"
        } else {
            "--clean-up"
        };
        return Err(format!(
            "--peek and {other} don't go together: --peek only looks at an existing queue and \
             changes nothing; drop one of them"
        ));
    }
    if patterns.is_empty() && schedule.is_none() && !args.peek {
        return Err("give --event-patterns, --schedule-expression, or both: without either there is nothing to receive".into());
    }
    check_limits(args)?;
    if let Some(endpoint) = otlp_endpoint(args) {
        otel::traces_url(endpoint)?;
    }
    let (sink, sink_headers, sink_defaulted) = check_sink(args)?;
    let mapping = check_mapping(args)?;
    check_queue_name(&args.queue_name, args.dlq)
        .map_err(|problem| format!("--queue-name {:?}: {problem}", args.queue_name))?;
    let instance_text = args
        .instance
        .clone()
        .unwrap_or_else(|| default_instance(&args.queue_name));
    let instance = InstanceId::new(&instance_text).map_err(|e| format!("--instance: {e}"))?;
    let replica = match &args.replica_id {
        Some(id) => ReplicaId::new(id).map_err(|e| format!("--replica-id {e}"))?,
        None => default_replica(),
    };
    Ok(DriveInputs {
        patterns,
        schedule,
        sink,
        sink_headers,
        mapping,
        instance,
        replica,
        sink_defaulted,
    })
}

/// `--otlp-endpoint` (or `OTEL_EXPORTER_OTLP_ENDPOINT`), unless empty.
fn otlp_endpoint(args: &DriveArgs) -> Option<&str> {
    args.otlp_endpoint
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
}

/// The sink in a span, without secrets: no credentials, query or fragment of a URL.
fn sink_label(sink: &SinkSpec) -> String {
    match sink {
        SinkSpec::Stdout => "stdout".into(),
        SinkSpec::Lambda(function) => format!("lambda:{function}"),
        SinkSpec::Http(url) => {
            let mut url = url.clone();
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.set_query(None);
            url.set_fragment(None);
            url.to_string()
        }
    }
}

/// `<hostname>-<pid>-<random>`: unique per process.
fn default_replica() -> ReplicaId {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default();
    let random = std::collections::hash_map::RandomState::new();
    let random = std::hash::BuildHasher::hash_one(&random, std::process::id()) as u16;
    ReplicaId::generate(host.trim(), std::process::id(), random)
}

/// The most events in one batch (`--sink-batch`).
pub const MAX_SINK_BATCH: usize = 100;

/// The numeric limits, the region and the endpoint.
fn check_limits(args: &DriveArgs) -> Result<(), String> {
    if !(0..=20).contains(&args.duration) {
        return Err(format!(
            "--duration {}: the long-poll wait must be 0 to 20 seconds (SQS's limit)",
            args.duration
        ));
    }
    if !(1..=43_200).contains(&args.visibility_timeout) {
        return Err(format!(
            "--visibility-timeout {}: use 1 to 43200 seconds (with 0 every received message \
             would be handed to other consumers at once while it is delivered)",
            args.visibility_timeout
        ));
    }
    if !(3..=3600).contains(&args.lease_ttl) {
        return Err(format!(
            "--lease-ttl {}: use 3 to 3600 seconds",
            args.lease_ttl
        ));
    }
    if args.dlq && !(1..=1000).contains(&args.max_receive_count) {
        return Err(format!(
            "--max-receive-count {}: use 1 to 1000",
            args.max_receive_count
        ));
    }
    if args.concurrency == 0 || args.concurrency > 256 {
        return Err(format!(
            "--concurrency {}: use 1 to 256 poll tasks",
            args.concurrency
        ));
    }
    if args.max_in_flight == 0 {
        return Err("--max-in-flight must be at least 1".into());
    }
    if !(1..=MAX_SINK_BATCH).contains(&args.sink_batch) {
        return Err(format!(
            "--sink-batch {}: use 1 (each event on its own) to {MAX_SINK_BATCH} events per request",
            args.sink_batch
        ));
    }
    if args.sink_batch > args.max_in_flight {
        return Err(format!(
            "--sink-batch {} is more than --max-in-flight {}: the messages of a batch are in \
             flight while it fills, so it could never be full; raise --max-in-flight to at \
             least {} (twice that keeps receiving while a batch is delivered) or lower --sink-batch",
            args.sink_batch, args.max_in_flight, args.sink_batch
        ));
    }
    if let Some(rate) = args.max_rate {
        if !(rate.is_finite() && (0.01..=100_000.0).contains(&rate)) {
            return Err(format!(
                "--max-rate {rate}: use 0.01 to 100000 events per second"
            ));
        }
    }
    if let Some(region) = &args.region {
        check_region(region)?;
    }
    if let Some(url) = &args.endpoint_url {
        check_endpoint_url(url)?;
    }
    Ok(())
}

/// The sink (`--sink`, else `$K_SINK`, else stdout), its extra headers, and whether it is the
/// stdout default.
fn check_sink(args: &DriveArgs) -> Result<(SinkSpec, http::header::HeaderMap, bool), String> {
    let named = args
        .sink
        .clone()
        .or_else(|| std::env::var("K_SINK").ok().filter(|s| !s.is_empty()));
    let defaulted = named.is_none();
    let sink_text = named.unwrap_or_else(|| "stdout".into());
    let sink = SinkSpec::parse(&sink_text)?;
    let sink_headers = sink::parse_headers(&args.sink_headers)?;
    if !sink_headers.is_empty() && !matches!(sink, SinkSpec::Http(_)) {
        return Err("--sink-header applies to http(s) sinks only".into());
    }
    Ok((sink, sink_headers, defaulted))
}

/// How messages become CloudEvents: `--type-format`, `--event-bus`, `--ce-source` (or its
/// deprecated names, with a warning).
fn check_mapping(args: &DriveArgs) -> Result<MappingOptions, String> {
    let type_format =
        TypeFormat::new(&args.type_format).map_err(|e| format!("--type-format: {e}"))?;
    let mut mapping = MappingOptions::default()
        .with_type_format(type_format)
        .with_event_bus(&args.event_bus)
        .map_err(|e| format!("--event-bus: {e}"))?;
    if let Some((flag, source)) = ce_source(args, std::env::var(DEPRECATED_SOURCE_VAR).ok()) {
        mapping = mapping
            .with_source(&source)
            .map_err(|e| format!("{flag}: {e}"))?;
    }
    Ok(mapping)
}

/// The deprecated variable of `--ce-source` (the router's former name, still read by both).
pub const DEPRECATED_SOURCE_VAR: &str = "EVENTFERRY_CE_SOURCE";

/// `--ce-source` (EVENTFERRY_SOURCE), else the deprecated `--source`, else the deprecated
/// EVENTFERRY_CE_SOURCE (`deprecated_var`), with the name it came from; deprecated names warn.
fn ce_source(args: &DriveArgs, deprecated_var: Option<String>) -> Option<(&'static str, String)> {
    if let Some(source) = &args.ce_source {
        return Some(("--ce-source", source.clone()));
    }
    if let Some(source) = &args.deprecated_source {
        tracing::warn!("--source is deprecated for drive: use --ce-source (emit's --source is the EventBridge source)");
        return Some(("--source", source.clone()));
    }
    let source = deprecated_var.filter(|v| !v.trim().is_empty())?;
    tracing::warn!("{DEPRECATED_SOURCE_VAR} is deprecated: set EVENTFERRY_SOURCE (--ce-source), the name the router reads too");
    Some((DEPRECATED_SOURCE_VAR, source))
}

/// `--event-patterns`: an array of patterns or a single pattern, each valid for EventBridge.
fn parse_patterns(text: &str) -> Result<Vec<Value>, String> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| format!("--event-patterns is not valid JSON ({e}): give a JSON array of patterns or one pattern object"))?;
    let patterns =
        match value {
            Value::Array(items) if items.is_empty() => {
                return Err("--event-patterns is an empty array: give at least one pattern".into())
            }
            Value::Array(items) => items,
            Value::Object(_) => vec![value],
            _ => return Err(
                "--event-patterns must be a JSON array of pattern objects, or one pattern object"
                    .into(),
            ),
        };
    for (i, pattern) in patterns.iter().enumerate() {
        eventferry_pattern::Pattern::parse(&pattern.to_string()).map_err(|e| {
            format!("--event-patterns: pattern {} of {} is not valid. Reason: {e}\n  pattern: {pattern}", i + 1, patterns.len())
        })?;
    }
    Ok(patterns)
}

/// The queue name reduced to `[a-z0-9-]`, at most 40 characters, without a leading
/// `eventferry-` (rule names already start with it).
pub fn default_instance(queue_name: &str) -> String {
    let base = queue_name
        .strip_prefix("eventferry-")
        .filter(|rest| !rest.is_empty())
        .unwrap_or(queue_name);
    let id: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(40)
        .collect();
    id.trim_matches('-').to_owned()
}

/// The log filter: --log-level (or EVENTFERRY_LOG) if given, else RUST_LOG, else
/// [`args::DEFAULT_LOG_FILTER`]; `Err` names where the invalid filter came from.
pub fn log_filter(
    flag: Option<&str>,
    rust_log: Option<String>,
) -> Result<tracing_subscriber::EnvFilter, String> {
    let (from, text) = match (flag, rust_log.filter(|v| !v.trim().is_empty())) {
        (Some(flag), _) => ("--log-level", flag.to_owned()),
        (None, Some(env)) => ("RUST_LOG", env),
        (None, None) => ("the default filter", args::DEFAULT_LOG_FILTER.to_owned()),
    };
    let fix = "use a level (trace, debug, info, warn, error, off) or target=level directives, \
               e.g. info,eventferry_driver=debug";
    // A bare word is a target to EnvFilter: `warning` or `verbose` would silently log nothing.
    const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];
    for directive in text.split(',').map(str::trim) {
        let bare_word = !directive.is_empty()
            && directive.chars().all(|c| c.is_ascii_alphabetic())
            && !LEVELS.contains(&directive.to_ascii_lowercase().as_str());
        if bare_word {
            return Err(format!(
                "{from} {text:?}: {directive:?} is not a log level; {fix}"
            ));
        }
    }
    tracing_subscriber::EnvFilter::try_new(&text)
        .map_err(|e| format!("{from} {text:?} is not a valid log filter ({e}); {fix}"))
}

/// Install the stderr logger; `Err` is an invalid filter (see [`log_filter`]).
pub fn init_logging(format: LogFormat, flag: Option<&str>) -> Result<(), String> {
    let filter = log_filter(flag, std::env::var("RUST_LOG").ok())?;
    crate::cli::set_json_logs(format == LogFormat::Json);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    Ok(())
}

/// The whole command.
pub async fn run(args: DriveArgs) -> ExitCode {
    if let Err(message) = init_logging(args.log_format, args.log_level.as_deref()) {
        eprintln!("eventferry drive: {message}");
        return ExitCode::from(2);
    }
    match drive(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Exit(code)) => ExitCode::from(code),
    }
}

/// The command stopped early with this exit status; its message is printed.
struct Exit(u8);

/// Print `eventferry drive: <message>` and stop with `code`.
fn exit(code: u8, message: impl std::fmt::Display) -> Exit {
    eprintln!("eventferry drive: {message}");
    Exit(code)
}

/// Check, provision, deliver until a signal, drain, and clean up if asked.
async fn drive(args: &DriveArgs) -> Result<(), Exit> {
    let inputs = check_flags(args).map_err(|message| exit(2, message))?;
    if inputs.sink_defaulted && !args.dry_run && !args.peek {
        tracing::warn!("no --sink, EVENTFERRY_SINK or K_SINK given: events go to stdout and are deleted from the queue once printed; name a sink to deliver them (e.g. --sink http://... or --sink lambda:FUNCTION)");
    }
    if args.insecure_skip_tls_verify {
        tracing::warn!("--insecure-skip-tls-verify: TLS certificates of the sink are NOT verified; use this only for local testing");
    }
    let config = load_aws_config(args.region.as_deref(), args.endpoint_url.as_deref())
        .await
        .map_err(|message| exit(2, message))?;
    if args.dry_run {
        return dry_run(&config, &provision_spec(args, &inputs)).await;
    }
    let counters = Arc::new(ReplicaCounters::default());
    let metrics = Arc::new(Metrics {
        replicas: counters.clone(),
        replica: inputs.replica.to_string(),
        ..Metrics::default()
    });
    if let Some(addr) = args.metrics_addr {
        serve_metrics(addr, metrics.clone());
    }
    if args.peek {
        return peek(args, &inputs, &config, &metrics).await;
    }
    let keeper = Arc::new(
        Keeper::new(
            &config,
            provision_spec(args, &inputs),
            LeaseSettings {
                replica: inputs.replica.clone(),
                ttl: Duration::from_secs(args.lease_ttl),
                replace_plan: args.replace_plan,
            },
            counters,
        )
        .map_err(|e| exit(e.exit_code(), e))?,
    );
    let provisioned = keeper
        .join()
        .await
        .map_err(|e| exit(setup_exit_code(&e), e))?;
    crate::replicas::keeper::announce_provisioned(&provisioned, false);
    let stop_heartbeat = CancellationToken::new();
    let heartbeat = keeper
        .clone()
        .spawn_heartbeat(provisioned.clone(), stop_heartbeat.clone());

    let sqs = Sqs::new(&config);
    let queue = (
        provisioned.queue_url.as_str(),
        provisioned.queue_arn.as_str(),
    );
    let mut ferry_config = ferry_config(args, &inputs, queue, &sqs).await;
    let sink = build_sink(args, &inputs, &config)?;
    if let Some(endpoint) = otlp_endpoint(args) {
        let spans = otel::Spans::new(endpoint, sink_label(&inputs.sink)).map_err(|m| exit(2, m))?;
        ferry_config.spans = Some(Arc::new(spans));
    }
    let spans = ferry_config.spans.clone();
    let report =
        deliver_until_signal(&sqs, &provisioned.queue_url, sink, ferry_config, &metrics).await;
    print_stopped(&metrics, &report);
    if let Some(spans) = spans {
        // The batch exporter's last export blocks: off the async threads.
        let _ = tokio::task::spawn_blocking(move || spans.shutdown()).await;
    }

    stop_heartbeat.cancel();
    let provisioned = heartbeat.await.unwrap_or(provisioned);
    leave(&keeper, &provisioned, args.clean_up, &inputs.instance).await
}

/// `--dry-run`: print the plan against what exists, change nothing. Exit 1 when a real run would
/// refuse part of it.
async fn dry_run(config: &SdkConfig, spec: &ProvisionSpec) -> Result<(), Exit> {
    let plan = preview::preview(config, spec)
        .await
        .map_err(|e| exit(setup_exit_code(&e), e))?;
    println!("{plan}");
    let refusals = plan.refusals();
    if refusals.is_empty() {
        return Ok(());
    }
    Err(exit(
        1,
        format!("dry run: a real run would fail: {}", refusals.join("; ")),
    ))
}

/// `--peek`: receive from the existing queue and print the CloudEvents; no provisioning, no
/// lease, no delivery, no delete.
async fn peek(
    args: &DriveArgs,
    inputs: &DriveInputs,
    config: &SdkConfig,
    metrics: &Arc<Metrics>,
) -> Result<(), Exit> {
    let name = &args.queue_name;
    let sqs = Sqs::new(config);
    let found = retry(format!("look up queue {name}"), || sqs.queue_url(name))
        .await
        .map_err(|e| {
            let e = ProvisionError::from(e);
            exit(setup_exit_code(&e), e)
        })?;
    let Some(url) = found else {
        return Err(exit(
            2,
            format!(
                "--peek: queue {name} does not exist. --peek only reads a queue that exists and \
                 creates nothing: check --queue-name (and --region), run without --peek to \
                 provision it, or see what would be created with --dry-run"
            ),
        ));
    };
    let attrs = retry(format!("read the attributes of queue {name}"), || {
        sqs.attributes(&url)
    })
    .await
    .map_err(|e| exit(1, ProvisionError::from(e)))?;
    let arn = attrs.get("QueueArn").cloned().unwrap_or_default();
    let config = ferry_config(args, inputs, (url.as_str(), arn.as_str()), &sqs).await;
    if json_logs() {
        tracing::info!(
            queue = %name,
            visibility_timeout_secs = config.visibility_timeout,
            "peeking: CloudEvents go to stdout; nothing is delivered or deleted, and each message comes back after the queue's visibility timeout"
        );
    } else {
        eprintln!(
            "eventferry drive: peeking at queue {name}: CloudEvents go to stdout; nothing is \
             delivered or deleted, and each message comes back after the queue's visibility \
             timeout ({} s)",
            config.visibility_timeout
        );
    }
    let sink = ConfiguredSink::<Lambda>::Stdout(StdoutSink::default());
    let report = deliver_until_signal(&sqs, &url, sink, config, metrics).await;
    print_stopped(metrics, &report);
    Ok(())
}

/// Release the lease; with `--clean-up`, remove the resources if this is the last replica out.
async fn leave(
    keeper: &Keeper,
    provisioned: &Provisioned,
    clean_up: bool,
    instance: &InstanceId,
) -> Result<(), Exit> {
    match keeper.leave(provisioned, clean_up).await {
        Ok(Left::Released) => Ok(()),
        Ok(Left::Stayed { alive }) => {
            if json_logs() {
                tracing::info!(
                    others = alive.len(),
                    replicas = %alive.join(", "),
                    "clean-up skipped: other replicas still hold leases; the last one out removes the resources"
                );
            } else {
                eprintln!(
                    "eventferry drive: clean-up skipped: {} other replica(s) still hold leases ({}); \
                     the last one out removes the resources",
                    alive.len(),
                    alive.join(", ")
                );
            }
            Ok(())
        }
        Ok(Left::TornDown(report)) => {
            if json_logs() {
                tracing::info!(report = %report, "last replica out, removed the resources");
            } else {
                eprintln!("eventferry drive: last replica out, removed the resources:\n{report}");
            }
            Ok(())
        }
        Err(e) if !clean_up => {
            tracing::warn!(error = %e, "cannot release the lease; it expires on its own");
            Ok(())
        }
        Err(e) => Err(exit(
            1,
            format!(
                "clean-up failed: {e}\n  run `eventferry cleanup --instance {instance}` to finish it"
            ),
        )),
    }
}

/// Serve `/metrics`, `/healthz` and `/readyz` on `addr` in the background.
fn serve_metrics(addr: SocketAddr, metrics: Arc<Metrics>) {
    tokio::spawn(async move {
        if let Err(e) = metrics::serve(addr, metrics).await {
            tracing::error!(%addr, error = %e, "metrics server failed");
        }
    });
}

/// The queue, rules and policy the flags ask for.
fn provision_spec(args: &DriveArgs, inputs: &DriveInputs) -> ProvisionSpec {
    ProvisionSpec {
        queue_name: args.queue_name.clone(),
        event_bus: args.event_bus.clone(),
        patterns: inputs.patterns.clone(),
        schedule: inputs.schedule.as_ref().map(|s| s.as_str().to_owned()),
        instance: inputs.instance.clone(),
        dlq_max_receive_count: args.dlq.then_some(args.max_receive_count),
        visibility_timeout: Some(args.visibility_timeout),
    }
}

/// How the delivery loop runs, with the queue's actual visibility timeout (a foreign queue keeps
/// its own).
async fn ferry_config(
    args: &DriveArgs,
    inputs: &DriveInputs,
    (queue_url, queue_arn): (&str, &str),
    sqs: &Sqs,
) -> FerryConfig {
    let visibility_timeout = match sqs.attributes(queue_url).await {
        Ok(attrs) => attrs
            .get("VisibilityTimeout")
            .and_then(|v| v.parse().ok())
            .unwrap_or(args.visibility_timeout),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the queue's visibility timeout; assuming --visibility-timeout");
            args.visibility_timeout
        }
    };
    FerryConfig {
        concurrency: args.concurrency,
        wait_secs: args.duration as i32,
        visibility_timeout,
        max_in_flight: args.max_in_flight,
        drain_timeout: Duration::from_secs(args.drain_timeout),
        // The loop's dry-run mode prints and never delivers or deletes: what --peek is.
        peek: args.peek,
        trace_new: args.trace_new,
        spans: None,
        max_rate: args.max_rate,
        sink_batch: args.sink_batch,
        sink_batch_wait: args.sink_batch_wait,
        delete_interval: Duration::from_millis(50),
        base_backoff: Duration::from_secs(1),
        max_backoff: Duration::from_secs(300),
        // The partition of the CloudEvent source ARN, from an API answer rather than assumed.
        mapping: match queue_arn.split(':').nth(1) {
            Some(partition) => inputs.mapping.clone().with_partition(partition),
            None => inputs.mapping.clone(),
        },
        queue_arn: queue_arn.to_owned(),
    }
}

/// The sink the flags name; an HTTP client that can't be built is exit 1.
fn build_sink(
    args: &DriveArgs,
    inputs: &DriveInputs,
    config: &SdkConfig,
) -> Result<ConfiguredSink<Lambda>, Exit> {
    Ok(match &inputs.sink {
        SinkSpec::Stdout => ConfiguredSink::Stdout(StdoutSink::default()),
        SinkSpec::Http(url) => ConfiguredSink::Http(
            HttpSink::new(
                url.clone(),
                args.sink_mode,
                inputs.sink_headers.clone(),
                Duration::from_secs(args.sink_timeout),
                args.insecure_skip_tls_verify,
            )
            .map_err(|e| exit(1, e))?,
        ),
        SinkSpec::Lambda(function) => {
            let mode = match args.invocation {
                Invocation::Sync => InvocationMode::Sync,
                Invocation::Async => InvocationMode::Async,
            };
            ConfiguredSink::Lambda(LambdaSink::new(
                Lambda::without_retries(config),
                function.clone(),
                mode,
            ))
        }
    })
}

/// Run the delivery loop (ready while it runs) until the first signal, then drain.
async fn deliver_until_signal(
    sqs: &Sqs,
    queue_url: &str,
    sink: ConfiguredSink<Lambda>,
    config: FerryConfig,
    metrics: &Arc<Metrics>,
) -> DrainReport {
    let shutdown = CancellationToken::new();
    tokio::spawn(watch_signals(shutdown.clone()));
    metrics.ready.store(true, Ordering::Relaxed);
    tracing::info!(
        queue = %queue_url,
        concurrency = config.concurrency,
        peek = config.peek,
        "receiving"
    );
    let report = ferry::run(
        Arc::new(sqs.queue(queue_url)),
        Arc::new(sink),
        config,
        metrics.clone(),
        shutdown,
    )
    .await;
    metrics.ready.store(false, Ordering::Relaxed);
    report
}

fn print_stopped(metrics: &Metrics, report: &DrainReport) {
    if json_logs() {
        tracing::info!(
            received = Metrics::get(&metrics.received),
            delivered = Metrics::get(&metrics.delivered),
            failed_deliveries = Metrics::get(&metrics.delivery_failures),
            deleted = Metrics::get(&metrics.deleted),
            in_flight_at_signal = report.in_flight_at_signal,
            abandoned = report.abandoned,
            "stopped"
        );
        return;
    }
    eprintln!(
        "eventferry drive: stopped: {} received, {} delivered, {} failed deliveries, {} deleted, {} in flight at the signal, {} abandoned at the drain timeout",
        Metrics::get(&metrics.received),
        Metrics::get(&metrics.delivered),
        Metrics::get(&metrics.delivery_failures),
        Metrics::get(&metrics.deleted),
        report.in_flight_at_signal,
        report.abandoned,
    );
}

/// 2 when the input or the AWS setup (credentials, permissions, endpoint) is unusable, else 1.
fn setup_exit_code(e: &ProvisionError) -> u8 {
    use eventferry_aws::ErrorKind::{AccessDenied, Credentials, Unreachable};
    match e.aws_error() {
        Some(aws) if matches!(aws.kind, Credentials | AccessDenied | Unreachable) => 2,
        _ => e.exit_code(),
    }
}

/// First SIGTERM/SIGINT: graceful shutdown. Second: exit at once (unacknowledged messages come back).
async fn watch_signals(shutdown: CancellationToken) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers");
        return;
    };
    tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
    tracing::info!("signal received: draining (send it again to exit at once)");
    shutdown.cancel();
    tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
    eprintln!(
        "eventferry drive: second signal: exiting now; unacknowledged messages will be redelivered"
    );
    std::process::exit(130);
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: DriveArgs,
    }

    fn inputs_of(args: &[&str]) -> Result<DriveInputs, String> {
        let mut argv = vec!["drive"];
        argv.extend_from_slice(args);
        check_flags(&Cli::try_parse_from(argv).expect("flags parse").args)
    }

    #[test]
    fn a_valid_plan_keeps_every_pattern() {
        let p = inputs_of(&[
            "--event-patterns",
            r#"[{"source":["a"]},{"source":["b"]}]"#,
            "--sink",
            "stdout",
        ])
        .unwrap();
        assert_eq!(p.patterns.len(), 2);
        assert_eq!(p.sink, SinkSpec::Stdout);
        assert_eq!(
            p.instance.as_str(),
            "driver",
            "from the default queue eventferry-driver"
        );
        assert!(!p.sink_defaulted, "--sink stdout was given");
        let defaulted = inputs_of(&["--event-patterns", r#"{"source":["a"]}"#]).unwrap();
        assert_eq!(defaulted.sink, SinkSpec::Stdout);
        assert_eq!(
            defaulted.sink_defaulted,
            std::env::var_os("K_SINK").is_none()
        );
        let single = inputs_of(&[
            "--event-patterns",
            r#"{"source":["a"]}"#,
            "--sink",
            "stdout",
        ])
        .unwrap();
        assert_eq!(single.patterns.len(), 1, "a single object is accepted");
        let sched = inputs_of(&[
            "--schedule-expression",
            "cron(0 12 * * ? *)",
            "--sink",
            "stdout",
        ])
        .unwrap();
        assert!(sched.patterns.is_empty() && sched.schedule.is_some());
    }

    #[test]
    fn bad_flags_name_the_flag_and_the_fix() {
        let cases: &[(&[&str], &str)] = &[
            (
                &["--event-patterns", "{"],
                "--event-patterns is not valid JSON",
            ),
            (&["--event-patterns", "[]"], "empty array"),
            (&["--event-patterns", "3"], "must be a JSON array"),
            (
                &["--event-patterns", r#"{"source":"a"}"#],
                r#"pattern 1 of 1 is not valid. Reason: "source" must be an object or an array"#,
            ),
            (
                &["--event-patterns", r#"{"a":[{"NUMERIC":[">",1]}]}"#],
                "Unrecognized match type NUMERIC",
            ),
            (
                &["--event-patterns", "@/nonexistent/p.json"],
                "cannot read the file",
            ),
            (
                &["--schedule-expression", "rate(1 minutes)"],
                "--schedule-expression",
            ),
            (&[], "give --event-patterns, --schedule-expression, or both"),
            (
                &[
                    "--schedule-expression",
                    "rate(5 minutes)",
                    "--duration",
                    "21",
                ],
                "--duration 21",
            ),
            (
                &["--schedule-expression", "rate(5 minutes)", "--duration=-1"],
                "--duration -1",
            ),
            (
                &[
                    "--schedule-expression",
                    "rate(5 minutes)",
                    "--sink",
                    "ftp://x",
                ],
                "unsupported scheme",
            ),
            (
                &[
                    "--schedule-expression",
                    "rate(5 minutes)",
                    "--region",
                    "Mars",
                ],
                "--region \"Mars\"",
            ),
            (
                &[
                    "--schedule-expression",
                    "rate(5 minutes)",
                    "--endpoint-url",
                    "localhost",
                ],
                "--endpoint-url",
            ),
            (
                &[
                    "--schedule-expression",
                    "rate(5 minutes)",
                    "--queue-name",
                    "a b",
                ],
                "--queue-name",
            ),
            (
                &[
                    "--schedule-expression",
                    "rate(5 minutes)",
                    "--type-format",
                    "{nope}",
                ],
                "--type-format",
            ),
            (
                &[
                    "--schedule-expression",
                    "rate(5 minutes)",
                    "--sink",
                    "stdout",
                    "--sink-header",
                    "A: b",
                ],
                "http(s) sinks only",
            ),
            (
                &[
                    "--schedule-expression",
                    "rate(5 minutes)",
                    "--concurrency",
                    "0",
                ],
                "--concurrency 0",
            ),
            (
                &[
                    "--schedule-expression",
                    "rate(5 minutes)",
                    "--dlq",
                    "--max-receive-count",
                    "0",
                ],
                "--max-receive-count 0",
            ),
            (
                &[
                    "--schedule-expression",
                    "rate(5 minutes)",
                    "--visibility-timeout",
                    "0",
                ],
                "--visibility-timeout 0: use 1 to 43200",
            ),
            (
                &[
                    "--schedule-expression",
                    "rate(5 minutes)",
                    "--lease-ttl",
                    "2",
                ],
                "--lease-ttl 2: use 3 to 3600",
            ),
            (
                &[
                    "--schedule-expression",
                    "rate(5 minutes)",
                    "--replica-id",
                    "pod 1",
                ],
                "--replica-id \"pod 1\" contains ' '",
            ),
            (
                &[
                    "--schedule-expression",
                    "rate(5 minutes)",
                    "--sink-batch",
                    "0",
                ],
                "--sink-batch 0: use 1",
            ),
            (
                &[
                    "--schedule-expression",
                    "rate(5 minutes)",
                    "--sink-batch",
                    "101",
                ],
                "--sink-batch 101: use 1 (each event on its own) to 100",
            ),
            (
                &[
                    "--schedule-expression",
                    "rate(5 minutes)",
                    "--sink-batch",
                    "50",
                    "--max-in-flight",
                    "20",
                ],
                "--sink-batch 50 is more than --max-in-flight 20",
            ),
        ];
        for (args, expect) in cases {
            let err = inputs_of(args).expect_err(&format!("{args:?} should be rejected"));
            assert!(
                err.contains(expect),
                "{args:?}: {err:?} should contain {expect:?}"
            );
        }
    }

    #[test]
    fn worker_threads_default_to_one_and_stay_in_range() {
        assert_eq!(
            Cli::try_parse_from(["drive"]).unwrap().args.worker_threads,
            1
        );
        let four = Cli::try_parse_from(["drive", "--worker-threads", "4"]).unwrap();
        assert_eq!(four.args.worker_threads, 4);
        for bad in ["0", "257", "two"] {
            let err = Cli::try_parse_from(["drive", "--worker-threads", bad])
                .err()
                .expect("clap refuses");
            assert!(err.to_string().contains("--worker-threads"), "{bad}: {err}");
        }
    }

    #[test]
    fn peek_needs_no_pattern_and_goes_with_neither_dry_run_nor_clean_up() {
        let peek = inputs_of(&["--peek", "--queue-name", "orders"]).unwrap();
        assert!(peek.patterns.is_empty() && peek.schedule.is_none());
        for other in ["--dry-run", "--clean-up"] {
            let argv = ["drive", "--peek", other, "--queue-name", "orders"];
            let err = Cli::try_parse_from(argv).err().expect("clap refuses");
            assert!(err.to_string().contains("cannot be used with"), "{err}");
        }
        // The same when the flags come from the environment (clap may not see the conflict).
        let mut args = Cli::try_parse_from(["drive", "--peek"]).unwrap().args;
        args.dry_run = true;
        let err = check_flags(&args).unwrap_err();
        assert!(
            err.starts_with("--peek and --dry-run don't go together"),
            "{err}"
        );
        args.dry_run = false;
        args.clean_up = true;
        assert!(check_flags(&args)
            .unwrap_err()
            .contains("--peek and --clean-up"));
        // A dry run still needs something to plan.
        let err = inputs_of(&["--dry-run"]).unwrap_err();
        assert!(err.contains("give --event-patterns"), "{err}");
    }

    #[test]
    fn each_process_gets_its_own_replica_id() {
        let given = inputs_of(&[
            "--schedule-expression",
            "rate(5 minutes)",
            "--replica-id",
            "pod-7",
        ])
        .unwrap();
        assert_eq!(given.replica.as_str(), "pod-7");
        let default = inputs_of(&["--schedule-expression", "rate(5 minutes)"]).unwrap();
        let pid = format!("-{}-", std::process::id());
        assert!(
            default.replica.as_str().contains(&pid),
            "{}",
            default.replica
        );
    }

    #[test]
    fn the_log_filter_is_checked_and_rust_log_is_the_fallback() {
        assert!(log_filter(Some("debug"), Some("bogus[".into())).is_ok());
        assert!(log_filter(None, Some("info,eventferry_driver=debug".into())).is_ok());
        assert!(log_filter(None, None).is_ok());
        let err = log_filter(Some("info,aws_config=loud"), None).unwrap_err();
        assert!(
            err.starts_with("--log-level \"info,aws_config=loud\" is not a valid log filter"),
            "{err}"
        );
        let err = log_filter(Some("warning"), None).unwrap_err();
        assert!(err.contains("\"warning\" is not a log level"), "{err}");
        let err = log_filter(None, Some("verbose".into())).unwrap_err();
        assert!(err.starts_with("RUST_LOG \"verbose\""), "{err}");
    }

    #[test]
    fn the_cloudevent_source_has_one_name_and_two_deprecated_ones() {
        let parse = |argv: &[&str]| {
            let mut all = vec!["drive"];
            all.extend_from_slice(argv);
            Cli::try_parse_from(all).expect("flags parse").args
        };
        let args = parse(&["--ce-source", "urn:a"]);
        assert_eq!(
            ce_source(&args, Some("urn:old".into())),
            Some(("--ce-source", "urn:a".into()))
        );
        let args = parse(&["--source", "urn:b"]);
        assert_eq!(ce_source(&args, None), Some(("--source", "urn:b".into())));
        let args = parse(&[]);
        if args.ce_source.is_none() {
            assert_eq!(
                ce_source(&args, Some("urn:c".into())),
                Some((DEPRECATED_SOURCE_VAR, "urn:c".into()))
            );
            assert_eq!(ce_source(&args, None), None);
        }
        assert!(Cli::try_parse_from(["drive", "--source", "a", "--ce-source", "b"]).is_err());
        // `--cleanup` is `--clean-up`.
        assert!(parse(&["--cleanup"]).clean_up);
    }

    #[test]
    fn default_instance_is_stable_and_valid() {
        assert_eq!(default_instance("eventferry"), "eventferry");
        assert_eq!(default_instance("eventferry-orders"), "orders");
        assert_eq!(default_instance("My_Queue"), "my-queue");
        assert_eq!(default_instance(&"q".repeat(80)).len(), 40);
    }
}
