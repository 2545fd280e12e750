//! `eventferry drive` flags. Every flag also reads an `EVENTFERRY_*` environment variable.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, ValueEnum};

use super::sink::SinkMode;

/// The queue `drive` uses without --queue-name. Not `eventferry`: that is the SAM stack's queue
/// (template.yaml), which the stack's router consumes.
pub const DEFAULT_QUEUE_NAME: &str = "eventferry-driver";

/// The log filter without --log-level, EVENTFERRY_LOG or RUST_LOG.
pub const DEFAULT_LOG_FILTER: &str = "info,aws_config=error,aws_runtime=error";

/// The longest `--sink-batch-wait`.
pub const MAX_BATCH_WAIT: Duration = Duration::from_secs(10);

/// `--sink-batch-wait`: a number with the unit `ms` or `s` (`50ms`, `1.5s`, `0`), 0 to 10 s.
pub fn parse_batch_wait(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let fix = "give a duration with its unit, from 0 to 10s, e.g. 50ms or 1s";
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else if text == "0" {
        ("0", 1.0)
    } else {
        return Err(format!("{text:?} has no unit (ms or s): {fix}"));
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of ms or s: {fix}"))?;
    let secs = value * scale;
    if !secs.is_finite() || !(0.0..=MAX_BATCH_WAIT.as_secs_f64()).contains(&secs) {
        return Err(format!("{text:?} is out of range: {fix}"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Invocation {
    /// RequestResponse: the function's result acknowledges the event.
    Sync,
    /// Event: Lambda accepting the event acknowledges it.
    Async,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Create EventBridge rules and an SQS queue, then deliver every event as a CloudEvent to a sink.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
        eventferry drive --event-patterns @events/demo-patterns.json --sink http://127.0.0.1:8080/events --clean-up\n  \
        eventferry drive --schedule-expression 'rate(5 minutes)' --queue-name eventferry-ticks --sink lambda:my-function --dry-run\n\n\
        Exit status: 0 after a clean shutdown (or a --dry-run plan); 2 for bad input or an unusable AWS setup (nothing is created), including a mistyped EVENTFERRY_* variable and an invalid --log-level; 1 for a failure while running (or a --dry-run plan a real run would refuse, or another plan live on the instance); 130 after a second signal.\n\
        Signals: SIGTERM or SIGINT drains in-flight deliveries (up to --drain-timeout), flushes deletes and, with --clean-up, removes what the instance owns if no other replica is alive (see docs/replicas.md). A second signal exits at once (status 130); unacknowledged messages come back, so nothing is lost. A driver killed without --clean-up leaves its rules filling the queue: `eventferry cleanup --instance <INSTANCE>` sweeps them.")]
pub struct DriveArgs {
    /// EventBridge event patterns: a JSON array of patterns (or one pattern object), @FILE, or - for stdin.
    /// Each pattern becomes its own rule. All are validated before any AWS call.
    #[arg(long, env = "EVENTFERRY_EVENT_PATTERNS", value_name = "JSON|@FILE")]
    pub event_patterns: Option<String>,

    /// A schedule for a rule that fires on its own: rate(5 minutes) or cron(0 12 * * ? *).
    #[arg(long, env = "EVENTFERRY_SCHEDULE_EXPRESSION", value_name = "EXPR")]
    pub schedule_expression: Option<String>,

    /// AWS region. Default: the standard AWS chain (AWS_REGION, profile, ...).
    #[arg(long, env = "EVENTFERRY_REGION")]
    pub region: Option<String>,

    /// Endpoint for every AWS service (e.g. http://127.0.0.1:4566 for LocalStack). Default:
    /// AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_<SERVICE>, else AWS itself.
    #[arg(long, env = "EVENTFERRY_ENDPOINT_URL", value_name = "URL")]
    pub endpoint_url: Option<String>,

    /// Event bus the rules are created on.
    #[arg(long, env = "EVENTFERRY_EVENT_BUS", default_value = "default")]
    pub event_bus: String,

    /// Name of the SQS queue the rules deliver to. An existing queue that is not ours is used but
    /// never deleted; one that a CloudFormation stack manages (e.g. the SAM template's `eventferry`
    /// queue, which its router consumes) is used with a warning naming the stack.
    #[arg(
        long,
        env = "EVENTFERRY_QUEUE_NAME",
        default_value = DEFAULT_QUEUE_NAME,
        value_name = "NAME"
    )]
    pub queue_name: String,

    /// Owner id tagged on everything this driver creates ([a-z0-9-], at most 40); `eventferry cleanup
    /// --instance` sweeps by it. Default: derived from --queue-name (without its `eventferry-`
    /// prefix; `driver` for the default queue), so a restart adopts the same resources.
    #[arg(long, env = "EVENTFERRY_INSTANCE")]
    pub instance: Option<String>,

    /// This replica's id in its lease on the queue (see docs/replicas.md): letters, digits and
    /// `_ . : / = + @ -`, at most 64. Give each replica its own, e.g. the pod name. Default:
    /// `<hostname>-<pid>-<random>`.
    #[arg(long, env = "EVENTFERRY_REPLICA_ID", value_name = "ID")]
    pub replica_id: Option<String>,

    /// How long this replica's lease lasts without renewal, in seconds (3-3600); it is renewed
    /// every third of it. A replica killed with SIGKILL stops counting as live this long after its
    /// last renewal, so `--clean-up` on the last replica out may wait up to this long.
    #[arg(
        long,
        env = "EVENTFERRY_LEASE_TTL",
        default_value_t = 30,
        value_name = "SECONDS"
    )]
    pub lease_ttl: u64,

    /// Start even if live replicas of this --instance run another plan (other patterns, schedule,
    /// bus or queue), and remove their rules that this one does not want: for a rolling update
    /// that changes the patterns. Without it, such a start is refused (exit 1) before anything
    /// changes, since two plans on one instance remove each other's rules.
    #[arg(long, env = "EVENTFERRY_REPLACE_PLAN")]
    pub replace_plan: bool,

    /// Long-poll wait of each ReceiveMessage call, in seconds (0-20).
    #[arg(
        long,
        env = "EVENTFERRY_DURATION",
        default_value_t = 20,
        value_name = "SECONDS"
    )]
    pub duration: i64,

    /// CloudEvent `source` for every event (a URI-reference). Default: the event bus ARN
    /// (EventBridge events) or the queue ARN (other messages). The router reads the same variable.
    /// Deprecated, still accepted with a warning: the flag --source (the name `emit` uses for the
    /// EventBridge source) and the variable EVENTFERRY_CE_SOURCE.
    #[arg(long = "ce-source", env = "EVENTFERRY_SOURCE", value_name = "URI")]
    pub ce_source: Option<String>,

    /// Deprecated name of --ce-source.
    #[arg(long = "source", hide = true, conflicts_with = "ce_source")]
    pub deprecated_source: Option<String>,

    /// CloudEvent `type` for EventBridge events, from {source}, {detail-type}, {account}, {region}.
    /// The default keeps Dispatch-style `aws.s3` types.
    #[arg(long, env = "EVENTFERRY_TYPE_FORMAT", default_value = "{source}")]
    pub type_format: String,

    /// At shutdown, after draining, if this is the last live replica of the instance, delete what
    /// the instance owns on the queue: targets, rules, the queue policy statement, queue and DLQ.
    /// With other replicas alive (their leases renewed), everything stays for them. (`--cleanup`
    /// is the same flag; the `eventferry cleanup` command sweeps what a killed driver left.)
    #[arg(long, visible_alias = "cleanup", env = "EVENTFERRY_CLEAN_UP")]
    pub clean_up: bool,

    /// Validate everything, print the plan to stdout and exit 0, creating, changing and deleting
    /// nothing: the queue, DLQ, rules, targets and queue policy statement a real run would
    /// create, adopt, update or remove (stale rules of the instance on the queue), diffed against
    /// what exists, and whether the queue policy stays within AWS's limits. Exit 1 when a real run
    /// would fail (e.g. a rule of that name that is not ours). Receives nothing.
    #[arg(long, env = "EVENTFERRY_DRY_RUN")]
    pub dry_run: bool,

    /// Look at the messages of an EXISTING queue (--queue-name) without consuming them: receive,
    /// convert, print the CloudEvents to stdout; never deliver, never delete. Provisions nothing
    /// and takes no lease (exit 2 if the queue does not exist). Each message comes back after the
    /// queue's visibility timeout (which --peek does not change) and is printed again if still
    /// peeking then; other consumers get it only once that timeout has run out.
    /// --event-patterns and --schedule-expression are optional here and not used.
    #[arg(long, env = "EVENTFERRY_PEEK", conflicts_with_all = ["dry_run", "clean_up"])]
    pub peek: bool,

    /// Start a new trace for an event that arrives without trace context: a random, sampled W3C
    /// `traceparent` (trace id starting with the time, as X-Ray's do). Without it, an event has a
    /// `traceparent` only when its message had an `AWSTraceHeader` or it was a CloudEvent with one.
    #[arg(long, env = "EVENTFERRY_TRACE_NEW")]
    pub trace_new: bool,

    /// Export one OpenTelemetry span per delivery (queue, message id, event id, sink, outcome; a
    /// child of the event's `traceparent`) to this OTLP/HTTP collector base URL, e.g.
    /// http://127.0.0.1:4318 (`/v1/traces` is appended; http:// or https://, the latter checked
    /// against the system's root certificates). Protobuf, or JSON with
    /// OTEL_EXPORTER_OTLP_PROTOCOL=http/json. Off by default: then nothing of it runs.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT", value_name = "URL")]
    pub otlp_endpoint: Option<String>,

    /// Where events go: an http(s):// URL (CloudEvents HTTP binding), `stdout` (NDJSON structured
    /// CloudEvents) or `lambda:<name|arn>`. Default: $K_SINK if set, otherwise stdout, with a
    /// warning at start: printed events are deleted from the queue like delivered ones.
    #[arg(
        long,
        env = "EVENTFERRY_SINK",
        value_name = "URL|stdout|lambda:FUNCTION"
    )]
    pub sink: Option<String>,

    /// HTTP content mode: binary (ce-* headers) or structured (application/cloudevents+json).
    #[arg(long, env = "EVENTFERRY_SINK_MODE", value_enum, default_value_t = SinkMode::Binary)]
    pub sink_mode: SinkMode,

    /// Extra HTTP header for the sink, `Name: value` (repeatable). Values are never logged.
    #[arg(
        long = "sink-header",
        env = "EVENTFERRY_SINK_HEADERS",
        hide_env_values = true,
        value_delimiter = '\n',
        value_name = "NAME: VALUE"
    )]
    pub sink_headers: Vec<String>,

    /// Timeout of one HTTP delivery, in seconds. A delivery that times out is a failure and is retried.
    #[arg(
        long,
        env = "EVENTFERRY_SINK_TIMEOUT",
        default_value_t = 30,
        value_name = "SECONDS"
    )]
    pub sink_timeout: u64,

    /// Accept any TLS certificate from an https sink. Only for local testing; loudly logged.
    #[arg(long, env = "EVENTFERRY_INSECURE_SKIP_TLS_VERIFY")]
    pub insecure_skip_tls_verify: bool,

    /// Deliver up to N events in one request (1-100; 1, the default, sends each event on its
    /// own). With N > 1 every request is a batch, even of one event: HTTP sinks get the
    /// CloudEvents batched content mode (Content-Type application/cloudevents-batch+json, a JSON
    /// array of structured events; --sink-mode is not used), Lambda sinks a JSON array of
    /// structured CloudEvents as the payload (split over several invokes only where Lambda's
    /// payload limit requires), stdout one line per event, flushed once per batch. A 2xx answer
    /// (or an invoke without FunctionError) acknowledges every event of the batch and only then
    /// are their messages deleted; any other answer fails every event of it (each message backs
    /// off and counts toward the DLQ as a failed delivery). A batch is sent when it holds N
    /// events or --sink-batch-wait after its first, and at once at shutdown. Must not exceed
    /// --max-in-flight (a batch's messages are in flight while it fills).
    #[arg(
        long,
        env = "EVENTFERRY_SINK_BATCH",
        default_value_t = 1,
        value_name = "N"
    )]
    pub sink_batch: usize,

    /// With --sink-batch above 1: the longest a batch waits for more events after its first,
    /// e.g. 50ms or 1s (0 to 10s; 0 sends what has arrived at once).
    #[arg(
        long,
        env = "EVENTFERRY_SINK_BATCH_WAIT",
        default_value = "50ms",
        value_parser = parse_batch_wait,
        value_name = "DURATION"
    )]
    pub sink_batch_wait: Duration,

    /// For lambda: sinks, wait for the function's result (sync) or only for Lambda to accept the event (async).
    #[arg(long, env = "EVENTFERRY_INVOCATION", value_enum, default_value_t = Invocation::Sync)]
    pub invocation: Invocation,

    /// Number of poll tasks, each receiving up to 10 messages per call.
    #[arg(long, env = "EVENTFERRY_CONCURRENCY", default_value_t = 2)]
    pub concurrency: usize,

    /// Threads that run the driver's tasks (tokio's workers), 1-256. The driver mostly waits on
    /// the network: one thread spends about a fifth less CPU per message than one per core (no
    /// wake-ups across threads) at the same throughput. Raise it only when that one core is busy.
    #[arg(
        long,
        env = "EVENTFERRY_WORKER_THREADS",
        default_value_t = 1,
        value_parser = clap::value_parser!(u16).range(1..=256),
        value_name = "N"
    )]
    pub worker_threads: u16,

    /// Queue visibility timeout in seconds (set on queues we create). Slow deliveries are extended
    /// every half of it, so they are never handed out twice while running.
    #[arg(
        long,
        env = "EVENTFERRY_VISIBILITY_TIMEOUT",
        default_value_t = 30,
        value_name = "SECONDS"
    )]
    pub visibility_timeout: i32,

    /// Deliveries in progress at most, across all poll tasks.
    #[arg(long, env = "EVENTFERRY_MAX_IN_FLIGHT", default_value_t = 100)]
    pub max_in_flight: usize,

    /// Events per second at most that this replica hands to the sink (a token bucket holding one
    /// second, at most 10). Applied before each receive: messages held back are not received at
    /// all, so they stay in the queue, never age toward the visibility timeout and never count
    /// toward the DLQ. Retries count too, and so does every event of a --sink-batch. A receive
    /// waits for 50 ms worth of tokens (at least one), so at high rates it still asks for up to
    /// 10 messages. Default: no limit.
    #[arg(long, env = "EVENTFERRY_MAX_RATE", value_name = "EVENTS_PER_SECOND")]
    pub max_rate: Option<f64>,

    /// At shutdown, how long in-flight deliveries may finish before they are abandoned (their messages come back).
    #[arg(
        long,
        env = "EVENTFERRY_DRAIN_TIMEOUT",
        default_value_t = 30,
        value_name = "SECONDS"
    )]
    pub drain_timeout: u64,

    /// Create a dead-letter queue `<queue>-dlq` and a redrive policy on the queue.
    #[arg(long, env = "EVENTFERRY_DLQ")]
    pub dlq: bool,

    /// With --dlq: receives before a message moves to the DLQ (1-1000).
    #[arg(long, env = "EVENTFERRY_MAX_RECEIVE_COUNT", default_value_t = 5)]
    pub max_receive_count: i32,

    /// Serve /metrics (Prometheus), /healthz and /readyz on this address, e.g. 127.0.0.1:9464.
    #[arg(long, env = "EVENTFERRY_METRICS_ADDR", value_name = "ADDR:PORT")]
    pub metrics_addr: Option<SocketAddr>,

    /// Log format on stderr.
    #[arg(long, env = "EVENTFERRY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Log filter (tracing-subscriber's EnvFilter syntax), e.g. debug or info,eventferry_driver=debug.
    /// An invalid filter is refused (exit 2). Without this flag or EVENTFERRY_LOG, RUST_LOG is
    /// read; without any, `info,aws_config=error,aws_runtime=error`.
    #[arg(long, env = "EVENTFERRY_LOG", value_name = "FILTER")]
    pub log_level: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_waits_have_a_unit_and_a_bound() {
        assert_eq!(parse_batch_wait("50ms"), Ok(Duration::from_millis(50)));
        assert_eq!(parse_batch_wait(" 1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_batch_wait("0"), Ok(Duration::ZERO));
        assert_eq!(parse_batch_wait("10s"), Ok(MAX_BATCH_WAIT));
        for (bad, says) in [
            ("50", "has no unit"),
            ("fast", "has no unit"),
            ("xms", "is not a number"),
            ("11s", "out of range"),
            ("-1ms", "out of range"),
        ] {
            let err = parse_batch_wait(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
            assert!(err.contains("e.g. 50ms"), "{bad}: {err}");
        }
    }
}
