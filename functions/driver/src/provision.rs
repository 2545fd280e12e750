//! Provisioning and teardown of the resources `eventferry drive` uses: the queue (and its
//! dead-letter queue), one EventBridge rule per pattern (and one for a schedule), each with the
//! queue as its target, and the queue policy statements that let those rules send.
//!
//! Everything is idempotent and owned:
//!
//! - eventferry's resources carry the tags `managed-by=eventferry` and
//!   `eventferry-owner=<instance>` (rules also `eventferry-queue=<queue>`), set when they are
//!   created; a queue without them is *foreign*: used, never retagged, never deleted;
//! - rule names are deterministic, `eventferry-<instance>-<hash>` with the hash over the queue name
//!   and the canonical pattern (or schedule expression), so a restart adopts the rules it made
//!   instead of adding new ones, and a changed pattern yields a new rule while the old one is
//!   removed;
//! - the queue policy is merged (see [`policy`]): one statement per rule, `Sid` = rule name, and
//!   statements of others are never touched.
//!
//! Transient AWS errors are retried with [`retry`].

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::future::Future;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_sqs::types::QueueAttributeName;
use eventferry_aws::eventbridge::{EventBridge, RuleInfo, RuleTrigger, TargetInfo};
use eventferry_aws::sqs::Sqs;
use eventferry_aws::{AwsError, ErrorKind};
use eventferry_core::names::{canonical_json, rule_name, target_id, InstanceId};
use eventferry_core::schedule::ScheduleExpression;
use serde_json::Value;

#[path = "provision/policy.rs"]
pub mod policy;
#[path = "provision/sweep.rs"]
pub mod sweep;

use policy::{PolicyChange, PolicyError, WantedStatement};

/// Tag marking a resource as created by eventferry.
pub const TAG_MANAGED_BY: &str = "managed-by";
/// Value of [`TAG_MANAGED_BY`].
pub const MANAGED_BY: &str = "eventferry";
/// Tag naming the instance that owns a resource.
pub const TAG_OWNER: &str = "eventferry-owner";
/// Tag naming the queue a rule delivers to.
pub const TAG_QUEUE: &str = "eventferry-queue";
/// Suffix of the dead-letter queue's name.
pub const DLQ_SUFFIX: &str = "-dlq";
/// The default event bus; schedule rules always live there.
pub const DEFAULT_BUS: &str = "default";
/// Longest SQS queue name.
const MAX_QUEUE_NAME: usize = 80;

/// The prefix of every rule name (and queue policy Sid) of `instance`: `eventferry-<instance>`.
pub fn rule_prefix(instance: &InstanceId) -> String {
    format!("eventferry-{instance}")
}

/// What `eventferry drive` wants to exist.
#[derive(Debug, Clone)]
pub struct ProvisionSpec {
    /// The queue to poll; created if missing.
    pub queue_name: String,
    /// The bus the pattern rules listen on (`default` or a custom bus name).
    pub event_bus: String,
    /// Event patterns, already validated; each becomes one rule.
    pub patterns: Vec<Value>,
    /// A `rate(...)`/`cron(...)` expression, already validated; becomes one rule on the default
    /// bus (EventBridge runs schedules only there).
    pub schedule: Option<String>,
    /// The owner of everything created.
    pub instance: InstanceId,
    /// With `Some(n)`: a dead-letter queue `<queue>-dlq` receiving messages after `n` receives.
    pub dlq_max_receive_count: Option<i32>,
    /// The queue's visibility timeout in seconds (only set on a queue eventferry owns).
    pub visibility_timeout: Option<i32>,
}

/// A rule eventferry owns, delivering to the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedRule {
    pub name: String,
    pub arn: String,
    /// The bus the rule is on.
    pub bus: String,
    /// The Id of the rule's target (the queue).
    pub target_id: String,
}

/// What [`provision`] set up.
#[derive(Debug, Clone)]
pub struct Provisioned {
    pub queue_name: String,
    pub queue_url: String,
    pub queue_arn: String,
    /// The account, from the queue ARN.
    pub account: String,
    /// The region, from the queue ARN.
    #[allow(dead_code)] // for callers; the driver does not need it yet
    pub region: String,
    pub dlq_url: Option<String>,
    #[allow(dead_code)] // for callers; the driver does not need it yet
    pub dlq_arn: Option<String>,
    pub rules: Vec<OwnedRule>,
    /// `false` when the queue existed and is not eventferry's (it is then never deleted).
    pub queue_owned: bool,
    /// `false` when there is no DLQ or it existed and is not eventferry's.
    pub dlq_owned: bool,
    pub instance: InstanceId,
    pub summary: ProvisionSummary,
}

/// One line item of a summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Change {
    Created,
    Adopted,
    Updated,
    Removed,
    /// Used but left alone (foreign resources).
    Kept,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Change::Created => "created",
            Change::Adopted => "adopted",
            Change::Updated => "updated",
            Change::Removed => "removed",
            Change::Kept => "kept (not ours)",
        })
    }
}

/// What provisioning did, resource by resource, e.g. `(Created, "queue orders")`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProvisionSummary {
    pub items: Vec<(Change, String)>,
}

impl ProvisionSummary {
    fn push(&mut self, change: Change, what: impl Into<String>) {
        self.items.push((change, what.into()));
    }

    /// The items with this change.
    pub fn with(&self, change: Change) -> impl Iterator<Item = &str> {
        self.items
            .iter()
            .filter(move |(c, _)| *c == change)
            .map(|(_, w)| w.as_str())
    }

    /// How many items have this change.
    #[allow(dead_code)] // for callers and tests
    pub fn count(&self, change: Change) -> usize {
        self.with(change).count()
    }
}

impl fmt::Display for ProvisionSummary {
    /// One line per kind of change, e.g. `created: queue orders, rule eventferry-a-1234abcd`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let changes: BTreeSet<Change> = self.items.iter().map(|(c, _)| *c).collect();
        if changes.is_empty() {
            return f.write_str("nothing to do");
        }
        for (i, change) in changes.into_iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            let items: Vec<&str> = self.with(change).collect();
            write!(f, "{change}: {}", items.join(", "))?;
        }
        Ok(())
    }
}

/// What [`teardown`] removed and what it left alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TeardownReport {
    /// `name (bus)` of each rule deleted.
    pub rules_deleted: Vec<String>,
    /// Sids of the statements removed from a foreign queue's policy.
    pub statements_removed: Vec<String>,
    /// URLs of the queues deleted.
    pub queues_deleted: Vec<String>,
    /// URLs of foreign queues left in place.
    pub queues_kept: Vec<String>,
}

impl fmt::Display for TeardownReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines = [
            ("deleted rules", &self.rules_deleted),
            ("removed policy statements", &self.statements_removed),
            ("deleted queues", &self.queues_deleted),
            ("kept foreign queues", &self.queues_kept),
        ];
        let mut first = true;
        for (label, items) in lines.iter().filter(|(_, items)| !items.is_empty()) {
            if !first {
                writeln!(f)?;
            }
            first = false;
            write!(f, "{label}: {}", items.join(", "))?;
        }
        if first {
            f.write_str("nothing to remove")?;
        }
        Ok(())
    }
}

/// Why provisioning, teardown or cleanup failed.
#[derive(Debug)]
pub enum ProvisionError {
    /// An AWS call failed; `step` says what eventferry was doing.
    Aws { step: String, source: AwsError },
    /// An input is wrong: which one, its value, and what would be right.
    Invalid {
        input: &'static str,
        value: String,
        problem: String,
    },
    /// A resource exists that eventferry must not take over.
    Conflict(String),
    /// A queue's existing policy can't be merged.
    Policy { queue: String, source: PolicyError },
    /// Teardown did what it could; these steps failed.
    Incomplete {
        owner: InstanceId,
        report: Box<TeardownReport>,
        errors: Vec<ProvisionError>,
    },
}

impl ProvisionError {
    fn aws(step: impl Into<String>) -> impl FnOnce(AwsError) -> ProvisionError {
        let step = step.into();
        move |source| ProvisionError::Aws { step, source }
    }

    fn invalid(input: &'static str, value: &str, problem: impl Into<String>) -> Self {
        ProvisionError::Invalid {
            input,
            value: value.to_owned(),
            problem: problem.into(),
        }
    }

    /// The process exit code for this error: 2 for bad input, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            ProvisionError::Invalid { .. } => 2,
            _ => 1,
        }
    }

    /// The AWS error behind this one, if any.
    pub fn aws_error(&self) -> Option<&AwsError> {
        match self {
            ProvisionError::Aws { source, .. } => Some(source),
            ProvisionError::Incomplete { errors, .. } => errors.iter().find_map(Self::aws_error),
            _ => None,
        }
    }
}

impl fmt::Display for ProvisionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProvisionError::Aws { step, source } => {
                write!(f, "{step}: {source}")?;
                if let Some(hint) = source.hint() {
                    write!(f, "; {hint}")?;
                }
                Ok(())
            }
            ProvisionError::Invalid {
                input,
                value,
                problem,
            } => write!(f, "invalid {input} {value:?}: {problem}"),
            ProvisionError::Conflict(message) => f.write_str(message),
            ProvisionError::Policy { queue, source } => write!(f, "queue {queue}: {source}"),
            ProvisionError::Incomplete {
                owner,
                report,
                errors,
            } => {
                write!(f, "teardown incomplete, {} step(s) failed", errors.len())?;
                for e in errors {
                    write!(f, "; {e}")?;
                }
                if **report != TeardownReport::default() {
                    write!(
                        f,
                        "; done so far: {}",
                        report.to_string().replace('\n', "; ")
                    )?;
                }
                write!(f, "; run `eventferry cleanup --owner {owner}` to finish")
            }
        }
    }
}

impl std::error::Error for ProvisionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ProvisionError::Aws { source, .. } => Some(source),
            ProvisionError::Policy { source, .. } => Some(source),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Retry

/// How [`retry`] backs off.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Backoff {
    pub attempts: u32,
    pub base: Duration,
    pub max: Duration,
}

/// Light on purpose: the SDK already retries some errors itself.
pub(crate) const BACKOFF: Backoff = Backoff {
    attempts: 5,
    base: Duration::from_millis(200),
    max: Duration::from_secs(3),
};

/// Run `call` until it succeeds, fails with a non-transient error, or has failed
/// [`BACKOFF`]`.attempts` times; waits between attempts grow exponentially (with jitter) up to
/// [`BACKOFF`]`.max`. Only [`AwsError::is_transient`] errors are retried.
pub(crate) async fn retry<T, F, Fut>(operation: &str, call: F) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    retry_with(BACKOFF, operation, call).await
}

pub(crate) async fn retry_with<T, F, Fut>(
    backoff: Backoff,
    operation: &str,
    mut call: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let mut delay = backoff.base;
    let mut attempt = 1;
    loop {
        match call().await {
            Err(err) if err.is_transient() && attempt < backoff.attempts => {
                let wait = jitter(delay);
                tracing::warn!(
                    operation,
                    attempt,
                    error = %err,
                    wait_ms = wait.as_millis() as u64,
                    "transient AWS error, retrying"
                );
                tokio::time::sleep(wait).await;
                delay = (delay * 2).min(backoff.max);
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// A random duration in `[d/2, d]` ("equal jitter").
fn jitter(d: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(d.as_nanos());
    let fraction = (h.finish() % 1001) as f64 / 1000.0;
    d / 2 + d.mul_f64(fraction / 2.0)
}

// ---------------------------------------------------------------------------------------------
// Pure planning

/// A rule eventferry wants.
#[derive(Debug, Clone, PartialEq, Eq)]
struct WantedRule {
    name: String,
    bus: String,
    trigger: RuleTrigger,
    description: String,
}

fn check_queue_name(input: &'static str, name: &str) -> Result<(), ProvisionError> {
    let problem = if name.is_empty() {
        "it is empty".to_owned()
    } else if name.ends_with(".fifo") {
        "FIFO queues are not supported; use a standard queue name without .fifo".to_owned()
    } else if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        format!("it contains {c:?}; use 1-{MAX_QUEUE_NAME} characters from A-Z a-z 0-9 - _")
    } else if name.len() > MAX_QUEUE_NAME {
        format!(
            "it is {} characters long; use at most {MAX_QUEUE_NAME}",
            name.len()
        )
    } else {
        return Ok(());
    };
    Err(ProvisionError::invalid(input, name, problem))
}

/// Checks the spec and works out the rules it wants.
fn plan(spec: &ProvisionSpec) -> Result<Vec<WantedRule>, ProvisionError> {
    check_queue_name("queue name", &spec.queue_name)?;
    if let Some(n) = spec.dlq_max_receive_count {
        if spec.queue_name.len() + DLQ_SUFFIX.len() > MAX_QUEUE_NAME {
            return Err(ProvisionError::invalid(
                "queue name",
                &spec.queue_name,
                format!(
                    "with a dead-letter queue it may be at most {} characters long (the DLQ is <queue>{DLQ_SUFFIX})",
                    MAX_QUEUE_NAME - DLQ_SUFFIX.len()
                ),
            ));
        }
        if !(1..=1000).contains(&n) {
            return Err(ProvisionError::invalid(
                "DLQ max receive count",
                &n.to_string(),
                "use 1-1000",
            ));
        }
    }
    if let Some(v) = spec.visibility_timeout {
        if !(0..=43_200).contains(&v) {
            return Err(ProvisionError::invalid(
                "visibility timeout",
                &v.to_string(),
                "use 0-43200 seconds",
            ));
        }
    }
    if spec.event_bus.trim().is_empty() {
        return Err(ProvisionError::invalid(
            "event bus",
            &spec.event_bus,
            "use `default` or the name of a custom event bus",
        ));
    }

    let prefix = rule_prefix(&spec.instance);
    let description = |what: &str| {
        format!(
            "eventferry instance {}: {what} to SQS queue {}",
            spec.instance, spec.queue_name
        )
    };
    let mut rules: Vec<WantedRule> = Vec::new();
    for pattern in &spec.patterns {
        if !pattern.is_object() {
            return Err(ProvisionError::invalid(
                "event pattern",
                &pattern.to_string(),
                "use a JSON object, e.g. {\"source\":[\"aws.s3\"]}",
            ));
        }
        let canonical = canonical_json(pattern);
        let name =
            rule_name(&prefix, &format!("{}\n{canonical}", spec.queue_name)).map_err(|e| {
                ProvisionError::invalid("instance id", spec.instance.as_str(), e.to_string())
            })?;
        if rules.iter().any(|r| r.name == name) {
            continue; // the same pattern twice is one rule
        }
        rules.push(WantedRule {
            name,
            bus: spec.event_bus.clone(),
            trigger: RuleTrigger::Pattern(canonical),
            description: description("events matching a pattern"),
        });
    }
    if let Some(schedule) = &spec.schedule {
        let expr = ScheduleExpression::parse(schedule)
            .map_err(|e| ProvisionError::invalid("schedule expression", schedule, e.to_string()))?;
        let expr = expr.as_str().to_owned();
        let name = rule_name(&prefix, &format!("{}\n{expr}", spec.queue_name)).map_err(|e| {
            ProvisionError::invalid("instance id", spec.instance.as_str(), e.to_string())
        })?;
        rules.push(WantedRule {
            name,
            bus: DEFAULT_BUS.to_owned(),
            description: description(&format!("schedule {expr}")),
            trigger: RuleTrigger::Schedule(expr),
        });
    }
    Ok(rules)
}

/// The tags eventferry puts on what it creates.
fn owner_tags(instance: &InstanceId) -> HashMap<String, String> {
    HashMap::from([
        (TAG_MANAGED_BY.to_owned(), MANAGED_BY.to_owned()),
        (TAG_OWNER.to_owned(), instance.as_str().to_owned()),
    ])
}

/// Whether `tags` mark a resource as eventferry's, and (with `Some`) as owned by `owner`.
pub fn is_ours(tags: &HashMap<String, String>, owner: Option<&InstanceId>) -> bool {
    tags.get(TAG_MANAGED_BY).map(String::as_str) == Some(MANAGED_BY)
        && owner.is_none_or(|o| tags.get(TAG_OWNER).map(String::as_str) == Some(o.as_str()))
}

/// `(region, account)` from an ARN `arn:<partition>:<service>:<region>:<account>:...`.
pub fn arn_region_account(arn: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts[..] {
        ["arn", _, _, region, account, _] if !account.is_empty() => {
            Some((region.to_owned(), account.to_owned()))
        }
        _ => None,
    }
}

/// Whether the rule as it is differs from what we want.
fn rule_differs(have: &RuleInfo, want: &WantedRule) -> bool {
    let trigger_differs = match &want.trigger {
        RuleTrigger::Pattern(p) => match have
            .event_pattern
            .as_deref()
            .map(serde_json::from_str::<Value>)
        {
            Some(Ok(v)) => canonical_json(&v) != *p,
            _ => true,
        },
        RuleTrigger::Schedule(s) => have.schedule_expression.as_deref() != Some(s.as_str()),
    };
    trigger_differs
        || have.state.as_deref() != Some("ENABLED")
        || have.description.as_deref() != Some(want.description.as_str())
}

/// The RedrivePolicy document for `dlq_arn`.
fn redrive_policy(dlq_arn: &str, max_receive_count: i32) -> String {
    serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count})
        .to_string()
}

/// Whether an existing RedrivePolicy already says the same (AWS renders the count as a number
/// or a string).
fn redrive_matches(existing: Option<&str>, dlq_arn: &str, max_receive_count: i32) -> bool {
    let Some(Ok(v)) = existing.map(serde_json::from_str::<Value>) else {
        return false;
    };
    let count = match &v["maxReceiveCount"] {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    };
    v["deadLetterTargetArn"].as_str() == Some(dlq_arn)
        && count == Some(i64::from(max_receive_count))
}

// ---------------------------------------------------------------------------------------------
// Provisioning

/// A queue as found or created.
struct QueueState {
    url: String,
    arn: String,
    owned: bool,
}

/// Create the queue `name` (tagged, with `attrs`) or find it. For an existing queue of ours,
/// set the attributes in `attrs` that differ; a foreign queue is left exactly as it is.
async fn ensure_queue(
    sqs: &Sqs,
    label: &str,
    name: &str,
    instance: &InstanceId,
    attrs: HashMap<QueueAttributeName, String>,
    summary: &mut ProvisionSummary,
) -> Result<QueueState, ProvisionError> {
    let found = retry("GetQueueUrl", || sqs.queue_url(name))
        .await
        .map_err(ProvisionError::aws(format!("look up {label} {name}")))?;
    let url = match found {
        Some(url) => url,
        None => {
            let url = retry("CreateQueue", || {
                sqs.create_queue(name, attrs.clone(), owner_tags(instance))
            })
            .await
            .map_err(ProvisionError::aws(format!("create {label} {name}")))?;
            let arn = queue_arn(sqs, label, name, &url).await?.0;
            summary.push(Change::Created, format!("{label} {name}"));
            return Ok(QueueState {
                url,
                arn,
                owned: true,
            });
        }
    };
    let tags = retry("ListQueueTags", || sqs.tags(&url))
        .await
        .map_err(ProvisionError::aws(format!(
            "read the tags of {label} {name}"
        )))?;
    let (arn, current) = queue_arn(sqs, label, name, &url).await?;
    if !is_ours(&tags, Some(instance)) {
        summary.push(
            Change::Kept,
            format!(
                "{label} {name} (not tagged {TAG_MANAGED_BY}={MANAGED_BY}, {TAG_OWNER}={instance}: \
                 used as it is, never retagged or deleted)"
            ),
        );
        return Ok(QueueState {
            url,
            arn,
            owned: false,
        });
    }
    let mut changes = HashMap::new();
    let mut what = Vec::new();
    for (key, value) in attrs {
        let have = current.get(key.as_str()).map(String::as_str);
        let same = match &key {
            QueueAttributeName::SqsManagedSseEnabled => {
                have == Some("true") || current.get("KmsMasterKeyId").is_some_and(|k| !k.is_empty())
            }
            QueueAttributeName::RedrivePolicy => {
                let v: Value = serde_json::from_str(&value).unwrap_or_default();
                redrive_matches(
                    have,
                    v["deadLetterTargetArn"].as_str().unwrap_or_default(),
                    v["maxReceiveCount"].as_i64().unwrap_or_default() as i32,
                )
            }
            _ => have == Some(value.as_str()),
        };
        if !same {
            what.push(key.as_str().to_owned());
            changes.insert(key, value);
        }
    }
    if changes.is_empty() {
        summary.push(Change::Adopted, format!("{label} {name}"));
    } else {
        what.sort();
        retry("SetQueueAttributes", || {
            sqs.set_attributes(&url, changes.clone())
        })
        .await
        .map_err(ProvisionError::aws(format!("update {label} {name}")))?;
        summary.push(
            Change::Updated,
            format!("{label} {name} ({})", what.join(", ")),
        );
    }
    Ok(QueueState {
        url,
        arn,
        owned: true,
    })
}

/// The queue's ARN and all its attributes.
async fn queue_arn(
    sqs: &Sqs,
    label: &str,
    name: &str,
    url: &str,
) -> Result<(String, HashMap<String, String>), ProvisionError> {
    let attrs = retry("GetQueueAttributes", || sqs.attributes(url))
        .await
        .map_err(ProvisionError::aws(format!(
            "read the attributes of {label} {name}"
        )))?;
    match attrs.get("QueueArn") {
        Some(arn) if arn_region_account(arn).is_some() => Ok((arn.clone(), attrs)),
        other => Err(ProvisionError::Conflict(format!(
            "{label} {name}: SQS returned no usable QueueArn ({other:?})"
        ))),
    }
}

/// Create or adopt the queue, DLQ, rules, targets and policy statements `spec` asks for, and
/// remove the rules (and statements) of this instance and queue that it no longer asks for.
pub async fn provision(
    cfg: &SdkConfig,
    spec: &ProvisionSpec,
) -> Result<Provisioned, ProvisionError> {
    let wanted = plan(spec)?;
    let sqs = Sqs::new(cfg);
    let eb = EventBridge::new(cfg);
    let mut summary = ProvisionSummary::default();
    let instance = &spec.instance;
    let queue_name = spec.queue_name.as_str();

    // A foreign queue's redrive policy is not ours to set.
    if spec.dlq_max_receive_count.is_some() {
        if let Some(url) = retry("GetQueueUrl", || sqs.queue_url(queue_name))
            .await
            .map_err(ProvisionError::aws(format!("look up queue {queue_name}")))?
        {
            let tags =
                retry("ListQueueTags", || sqs.tags(&url))
                    .await
                    .map_err(ProvisionError::aws(format!(
                        "read the tags of queue {queue_name}"
                    )))?;
            if !is_ours(&tags, Some(instance)) {
                return Err(ProvisionError::Conflict(format!(
                    "a dead-letter queue was asked for, but queue {queue_name} exists and is not \
                     eventferry's (tags {TAG_MANAGED_BY}={MANAGED_BY}, {TAG_OWNER}={instance} missing), \
                     so eventferry won't change its RedrivePolicy: drop the DLQ option, or use a queue \
                     name eventferry creates"
                )));
            }
        }
    }

    // Dead-letter queue first: the main queue's RedrivePolicy names it.
    let sse = || HashMap::from([(QueueAttributeName::SqsManagedSseEnabled, "true".to_owned())]);
    let dlq = match spec.dlq_max_receive_count {
        Some(_) => {
            let name = format!("{queue_name}{DLQ_SUFFIX}");
            Some(
                ensure_queue(
                    &sqs,
                    "dead-letter queue",
                    &name,
                    instance,
                    sse(),
                    &mut summary,
                )
                .await?,
            )
        }
        None => None,
    };

    let mut attrs = sse();
    if let Some(v) = spec.visibility_timeout {
        attrs.insert(QueueAttributeName::VisibilityTimeout, v.to_string());
    }
    if let (Some(dlq), Some(n)) = (&dlq, spec.dlq_max_receive_count) {
        attrs.insert(
            QueueAttributeName::RedrivePolicy,
            redrive_policy(&dlq.arn, n),
        );
    }
    let queue = ensure_queue(&sqs, "queue", queue_name, instance, attrs, &mut summary).await?;
    let (region, account) = arn_region_account(&queue.arn).expect("checked in queue_arn");

    // Rules: create, adopt or update each one we want.
    let tags = {
        let mut t = owner_tags(instance);
        t.insert(TAG_QUEUE.to_owned(), queue_name.to_owned());
        t
    };
    let target = target_id(&rule_prefix(instance), &queue.arn)
        .map_err(|e| ProvisionError::invalid("instance id", instance.as_str(), e.to_string()))?;
    let mut rules = Vec::with_capacity(wanted.len());
    for want in &wanted {
        let label = format!("rule {} (bus {})", want.name, want.bus);
        let found = retry("DescribeRule", || eb.describe_rule(&want.name, &want.bus))
            .await
            .map_err(ProvisionError::aws(format!("look up {label}")))?;
        let put = || {
            eb.put_rule(
                &want.name,
                &want.bus,
                &want.trigger,
                &want.description,
                &tags,
            )
        };
        let arn = match found {
            None => {
                let arn = retry("PutRule", put)
                    .await
                    .map_err(ProvisionError::aws(format!("create {label}")))?;
                summary.push(Change::Created, label);
                arn
            }
            Some(have) => {
                let rule_tags = retry("ListTagsForResource", || eb.tags(&have.arn))
                    .await
                    .map_err(ProvisionError::aws(format!("read the tags of {label}")))?;
                if !is_ours(&rule_tags, Some(instance)) || have.managed_by.is_some() {
                    return Err(ProvisionError::Conflict(format!(
                        "{label} exists but is not tagged {TAG_MANAGED_BY}={MANAGED_BY}, \
                         {TAG_OWNER}={instance}; eventferry won't take it over: delete it or use \
                         another instance id"
                    )));
                }
                if rule_differs(&have, want) {
                    let arn = retry("PutRule", put)
                        .await
                        .map_err(ProvisionError::aws(format!("update {label}")))?;
                    summary.push(Change::Updated, label);
                    arn
                } else {
                    summary.push(Change::Adopted, label);
                    have.arn
                }
            }
        };
        rules.push(OwnedRule {
            name: want.name.clone(),
            arn,
            bus: want.bus.clone(),
            target_id: target.clone(),
        });
    }

    // Rules of ours for this queue that are no longer wanted.
    let stale = stale_rules(&eb, spec, &wanted).await?;

    // Policy: our statements in, stale ones out, everyone else's untouched.
    let statements: Vec<WantedStatement> = rules
        .iter()
        .map(|r| WantedStatement {
            sid: r.name.clone(),
            rule_arn: r.arn.clone(),
        })
        .collect();
    let stale_names: Vec<String> = stale.iter().map(|r| r.name.clone()).collect();
    let prefix = rule_prefix(instance);
    apply_policy(
        &sqs,
        queue_name,
        &queue.url,
        &queue.arn,
        &account,
        &statements,
        &stale_names,
        |sid| policy::is_owned_sid(sid, &prefix),
        &mut summary,
    )
    .await?;

    // Targets, once the queue accepts the rules' messages.
    for rule in &rules {
        let label = format!("the target of rule {} (bus {})", rule.name, rule.bus);
        let targets = retry("ListTargetsByRule", || {
            eb.list_targets_by_rule(&rule.name, &rule.bus)
        })
        .await
        .map_err(ProvisionError::aws(format!("list {label}")))?;
        if !targets
            .iter()
            .any(|t| t.id == rule.target_id && t.arn == queue.arn)
        {
            let t = [TargetInfo {
                id: rule.target_id.clone(),
                arn: queue.arn.clone(),
            }];
            retry("PutTargets", || eb.put_targets(&rule.name, &rule.bus, &t))
                .await
                .map_err(ProvisionError::aws(format!("set {label}")))?;
            summary.push(
                Change::Created,
                format!(
                    "target {} of rule {} -> queue {queue_name}",
                    rule.target_id, rule.name
                ),
            );
        }
    }

    // Finally remove the stale rules.
    for rule in &stale {
        remove_rule(&eb, &rule.name, &rule.bus).await?;
        summary.push(
            Change::Removed,
            format!("rule {} (bus {})", rule.name, rule.bus),
        );
    }

    Ok(Provisioned {
        queue_name: queue_name.to_owned(),
        queue_url: queue.url,
        queue_arn: queue.arn,
        account,
        region,
        dlq_url: dlq.as_ref().map(|d| d.url.clone()),
        dlq_arn: dlq.as_ref().map(|d| d.arn.clone()),
        dlq_owned: dlq.as_ref().is_some_and(|d| d.owned),
        rules,
        queue_owned: queue.owned,
        instance: instance.clone(),
        summary,
    })
}

/// A rule by name and bus.
#[derive(Debug, Clone)]
struct RuleRef {
    name: String,
    bus: String,
}

/// Rules of this instance for this queue (by tags) that `wanted` no longer has, on the spec's bus
/// and the default bus (where schedule rules live).
async fn stale_rules(
    eb: &EventBridge,
    spec: &ProvisionSpec,
    wanted: &[WantedRule],
) -> Result<Vec<RuleRef>, ProvisionError> {
    let prefix = rule_prefix(&spec.instance);
    let mut buses = vec![spec.event_bus.clone()];
    if spec.event_bus != DEFAULT_BUS {
        buses.push(DEFAULT_BUS.to_owned());
    }
    let mut stale = Vec::new();
    for bus in buses {
        let listing = format!("{prefix}-");
        let found = retry("ListRules", || eb.list_rules(&bus, &listing))
            .await
            .map_err(ProvisionError::aws(format!(
                "list rules {listing}* on bus {bus}"
            )))?;
        for rule in found {
            if wanted.iter().any(|w| w.name == rule.name && w.bus == bus)
                || !policy::is_owned_sid(&rule.name, &prefix)
            {
                continue;
            }
            let tags = match retry("ListTagsForResource", || eb.tags(&rule.arn)).await {
                Ok(tags) => tags,
                Err(e) if e.kind == ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(ProvisionError::aws(format!(
                        "read the tags of rule {} (bus {bus})",
                        rule.name
                    ))(e))
                }
            };
            if is_ours(&tags, Some(&spec.instance))
                && tags.get(TAG_QUEUE).map(String::as_str) == Some(spec.queue_name.as_str())
            {
                stale.push(RuleRef {
                    name: rule.name,
                    bus: bus.clone(),
                });
            }
        }
    }
    Ok(stale)
}

/// Read the queue's policy, merge, and write it back if it changed.
#[allow(clippy::too_many_arguments)]
async fn apply_policy(
    sqs: &Sqs,
    queue_name: &str,
    url: &str,
    queue_arn: &str,
    account: &str,
    wanted: &[WantedStatement],
    remove: &[String],
    owned: impl Fn(&str) -> bool,
    summary: &mut ProvisionSummary,
) -> Result<Vec<String>, ProvisionError> {
    let attrs = retry("GetQueueAttributes", || sqs.attributes(url))
        .await
        .map_err(ProvisionError::aws(format!(
            "read the policy of queue {queue_name}"
        )))?;
    let change = policy::merge(
        attrs.get("Policy").map(String::as_str),
        queue_arn,
        account,
        wanted,
        remove,
        owned,
    )
    .map_err(|source| ProvisionError::Policy {
        queue: queue_name.to_owned(),
        source,
    })?;
    let document = match &change {
        PolicyChange::Unchanged => return Ok(Vec::new()),
        PolicyChange::Set { document, .. } => document.clone(),
        PolicyChange::Clear { .. } => String::new(),
    };
    let set = HashMap::from([(QueueAttributeName::Policy, document)]);
    retry("SetQueueAttributes", || {
        sqs.set_attributes(url, set.clone())
    })
    .await
    .map_err(ProvisionError::aws(format!(
        "set the policy of queue {queue_name}"
    )))?;
    if let PolicyChange::Set {
        added, replaced, ..
    } = &change
    {
        for sid in added {
            summary.push(
                Change::Created,
                format!("policy statement {sid} on queue {queue_name}"),
            );
        }
        for sid in replaced {
            summary.push(
                Change::Updated,
                format!("policy statement {sid} on queue {queue_name}"),
            );
        }
    }
    for sid in change.removed() {
        summary.push(
            Change::Removed,
            format!("policy statement {sid} on queue {queue_name}"),
        );
    }
    Ok(change.removed().to_vec())
}

/// Remove every target of rule `name` on `bus`, then the rule. A rule already gone is fine.
async fn remove_rule(eb: &EventBridge, name: &str, bus: &str) -> Result<bool, ProvisionError> {
    let label = format!("rule {name} (bus {bus})");
    let targets = match retry("ListTargetsByRule", || eb.list_targets_by_rule(name, bus)).await {
        Ok(t) => t,
        Err(e) if e.kind == ErrorKind::NotFound => return Ok(false),
        Err(e) => {
            return Err(ProvisionError::aws(format!("list the targets of {label}"))(
                e,
            ))
        }
    };
    let ids: Vec<String> = targets.into_iter().map(|t| t.id).collect();
    if !ids.is_empty() {
        match retry("RemoveTargets", || eb.remove_targets(name, bus, &ids)).await {
            Ok(()) => {}
            Err(e) if e.kind == ErrorKind::NotFound => return Ok(false),
            Err(e) => {
                return Err(ProvisionError::aws(format!(
                    "remove the targets of {label}"
                ))(e))
            }
        }
    }
    match retry("DeleteRule", || eb.delete_rule(name, bus)).await {
        Ok(()) => Ok(true),
        Err(e) if e.kind == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(ProvisionError::aws(format!("delete {label}"))(e)),
    }
}

/// Delete queue `url`; a queue already gone is fine.
async fn delete_queue(sqs: &Sqs, label: &str, url: &str) -> Result<bool, ProvisionError> {
    match retry("DeleteQueue", || sqs.delete_queue(url)).await {
        Ok(()) => Ok(true),
        Err(e) if e.kind == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(ProvisionError::aws(format!("delete {label} {url}"))(e)),
    }
}

// ---------------------------------------------------------------------------------------------
// Teardown

/// Undo [`provision`]: remove the targets and delete the rules, remove our statements from the
/// policy of a foreign queue, delete the queue and the DLQ if they are ours. Every step runs even
/// if an earlier one failed; failures come back together as [`ProvisionError::Incomplete`].
pub async fn teardown(cfg: &SdkConfig, p: &Provisioned) -> Result<TeardownReport, ProvisionError> {
    let sqs = Sqs::new(cfg);
    let eb = EventBridge::new(cfg);
    let mut report = TeardownReport::default();
    let mut errors = Vec::new();

    for rule in &p.rules {
        match remove_rule(&eb, &rule.name, &rule.bus).await {
            Ok(true) => report
                .rules_deleted
                .push(format!("{} (bus {})", rule.name, rule.bus)),
            Ok(false) => {}
            Err(e) => errors.push(e),
        }
    }

    if p.queue_owned {
        match delete_queue(&sqs, "queue", &p.queue_url).await {
            Ok(true) => report.queues_deleted.push(p.queue_url.clone()),
            Ok(false) => {}
            Err(e) => errors.push(e),
        }
    } else {
        let ours: Vec<String> = p.rules.iter().map(|r| r.name.clone()).collect();
        let mut ignored = ProvisionSummary::default();
        match apply_policy(
            &sqs,
            &p.queue_name,
            &p.queue_url,
            &p.queue_arn,
            &p.account,
            &[],
            &ours,
            |_| false,
            &mut ignored,
        )
        .await
        {
            Ok(removed) => report.statements_removed.extend(removed),
            Err(ProvisionError::Aws { source, .. }) if source.kind == ErrorKind::NotFound => {}
            Err(e) => errors.push(e),
        }
        report.queues_kept.push(p.queue_url.clone());
    }

    if let Some(url) = &p.dlq_url {
        if p.dlq_owned {
            match delete_queue(&sqs, "dead-letter queue", url).await {
                Ok(true) => report.queues_deleted.push(url.clone()),
                Ok(false) => {}
                Err(e) => errors.push(e),
            }
        } else {
            report.queues_kept.push(url.clone());
        }
    }

    if errors.is_empty() {
        Ok(report)
    } else {
        Err(ProvisionError::Incomplete {
            owner: p.instance.clone(),
            report: Box::new(report),
            errors,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn spec() -> ProvisionSpec {
        ProvisionSpec {
            queue_name: "orders".into(),
            event_bus: "default".into(),
            patterns: vec![json!({"source": ["aws.s3"]})],
            schedule: None,
            instance: InstanceId::new("prod").unwrap(),
            dlq_max_receive_count: None,
            visibility_timeout: None,
        }
    }

    #[test]
    fn plan_names_are_deterministic_valid_and_key_order_free() {
        let mut s = spec();
        s.patterns = vec![
            json!({"source": ["aws.s3"], "detail-type": ["Object Created"]}),
            json!({"detail-type": ["Object Created"], "source": ["aws.s3"]}),
            json!({"source": ["aws.ec2"]}),
        ];
        s.schedule = Some("rate(5 minutes)".into());
        let rules = plan(&s).unwrap();
        assert_eq!(rules.len(), 3, "equal patterns give one rule: {rules:?}");
        assert_eq!(plan(&s).unwrap(), rules);
        for r in &rules {
            assert!(r.name.starts_with("eventferry-prod-"), "{}", r.name);
            assert!(r.name.len() <= 64);
            eventferry_core::names::validate_rule_name(&r.name).unwrap();
            assert!(policy::is_owned_sid(&r.name, "eventferry-prod"));
            assert!(r.description.contains("eventferry") && r.description.contains("prod"));
        }
        assert_eq!(rules[2].bus, "default");
        assert_eq!(
            rules[2].trigger,
            RuleTrigger::Schedule("rate(5 minutes)".into())
        );

        // Another queue gives other names; a long instance id still fits.
        let mut other = s.clone();
        other.queue_name = "payments".into();
        assert_ne!(plan(&other).unwrap()[0].name, rules[0].name);
        other.instance = InstanceId::new(&"x".repeat(40)).unwrap();
        for r in plan(&other).unwrap() {
            assert!(r.name.len() <= 64, "{}", r.name);
        }
    }

    #[test]
    fn schedule_rules_go_to_the_default_bus() {
        let mut s = spec();
        s.event_bus = "custom".into();
        s.schedule = Some("cron(0 12 * * ? *)".into());
        let rules = plan(&s).unwrap();
        assert_eq!(rules[0].bus, "custom");
        assert_eq!(rules[1].bus, "default");
    }

    type Mutation = Box<dyn Fn(&mut ProvisionSpec)>;

    #[test]
    fn plan_rejects_bad_input_naming_it() {
        let cases: Vec<(Mutation, &str)> = vec![
            (
                Box::new(|s| s.queue_name = "a b".into()),
                "invalid queue name \"a b\": it contains ' '",
            ),
            (
                Box::new(|s| s.queue_name = "q.fifo".into()),
                "FIFO queues are not supported",
            ),
            (
                Box::new(|s| s.queue_name = "q".repeat(81)),
                "use at most 80",
            ),
            (Box::new(|s| s.queue_name = String::new()), "it is empty"),
            (
                Box::new(|s| {
                    s.queue_name = "q".repeat(78);
                    s.dlq_max_receive_count = Some(3);
                }),
                "at most 76 characters",
            ),
            (
                Box::new(|s| s.dlq_max_receive_count = Some(0)),
                "invalid DLQ max receive count \"0\": use 1-1000",
            ),
            (
                Box::new(|s| s.visibility_timeout = Some(50_000)),
                "use 0-43200 seconds",
            ),
            (
                Box::new(|s| s.schedule = Some("rate(1 minutes)".into())),
                "invalid schedule expression",
            ),
            (
                Box::new(|s| s.patterns = vec![json!([1])]),
                "invalid event pattern",
            ),
            (
                Box::new(|s| s.event_bus = String::new()),
                "invalid event bus",
            ),
        ];
        for (mutate, expected) in cases {
            let mut s = spec();
            mutate(&mut s);
            let err = plan(&s).unwrap_err();
            assert_eq!(err.exit_code(), 2);
            assert!(
                err.to_string().contains(expected),
                "{err} should contain {expected:?}"
            );
        }
    }

    #[test]
    fn arns_are_parsed() {
        assert_eq!(
            arn_region_account("arn:aws:sqs:eu-west-1:123456789012:orders"),
            Some(("eu-west-1".into(), "123456789012".into()))
        );
        assert_eq!(arn_region_account("not-an-arn"), None);
        assert_eq!(arn_region_account("arn:aws:sqs:eu-west-1::orders"), None);
    }

    #[test]
    fn ownership_by_tags() {
        let prod = InstanceId::new("prod").unwrap();
        let dev = InstanceId::new("dev").unwrap();
        let tags = owner_tags(&prod);
        assert!(is_ours(&tags, Some(&prod)));
        assert!(is_ours(&tags, None));
        assert!(!is_ours(&tags, Some(&dev)));
        assert!(!is_ours(&HashMap::new(), None));
        let mut wrong = tags.clone();
        wrong.insert(TAG_MANAGED_BY.into(), "someone-else".into());
        assert!(!is_ours(&wrong, Some(&prod)));
    }

    #[test]
    fn rule_drift_is_detected() {
        let want = plan(&spec()).unwrap().remove(0);
        let same = RuleInfo {
            name: want.name.clone(),
            arn: "arn".into(),
            event_pattern: Some(r#"{ "source" : ["aws.s3"] }"#.into()),
            state: Some("ENABLED".into()),
            description: Some(want.description.clone()),
            ..Default::default()
        };
        assert!(!rule_differs(&same, &want));
        for changed in [
            RuleInfo {
                state: Some("DISABLED".into()),
                ..same.clone()
            },
            RuleInfo {
                description: Some("edited".into()),
                ..same.clone()
            },
            RuleInfo {
                event_pattern: Some(r#"{"source":["aws.ec2"]}"#.into()),
                ..same.clone()
            },
        ] {
            assert!(rule_differs(&changed, &want), "{changed:?}");
        }
    }

    #[test]
    fn redrive_policy_comparison() {
        let p = redrive_policy("arn:aws:sqs:r:1:q-dlq", 5);
        assert!(redrive_matches(Some(&p), "arn:aws:sqs:r:1:q-dlq", 5));
        assert!(redrive_matches(
            Some(r#"{"deadLetterTargetArn":"arn:aws:sqs:r:1:q-dlq","maxReceiveCount":"5"}"#),
            "arn:aws:sqs:r:1:q-dlq",
            5
        ));
        assert!(!redrive_matches(Some(&p), "arn:aws:sqs:r:1:q-dlq", 6));
        assert!(!redrive_matches(None, "arn:aws:sqs:r:1:q-dlq", 5));
    }

    #[test]
    fn summary_display_groups_by_change() {
        let mut s = ProvisionSummary::default();
        assert_eq!(s.to_string(), "nothing to do");
        s.push(Change::Created, "queue q");
        s.push(Change::Adopted, "rule a");
        s.push(Change::Created, "rule b");
        assert_eq!(s.to_string(), "created: queue q, rule b\nadopted: rule a");
        assert_eq!(s.count(Change::Created), 2);
    }

    fn transient() -> AwsError {
        AwsError {
            operation: "Test",
            kind: ErrorKind::Transient,
            code: Some("ThrottlingException".into()),
            message: "slow down".into(),
        }
    }

    const FAST: Backoff = Backoff {
        attempts: 5,
        base: Duration::from_millis(1),
        max: Duration::from_millis(4),
    };

    #[tokio::test]
    async fn retry_retries_transient_errors_only() {
        let calls = AtomicU32::new(0);
        let out = retry_with(FAST, "Test", || async {
            if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                Err(transient())
            } else {
                Ok(7)
            }
        })
        .await;
        assert_eq!(out.unwrap(), 7);
        assert_eq!(calls.load(Ordering::SeqCst), 3);

        let calls = AtomicU32::new(0);
        let out: Result<(), _> = retry_with(FAST, "Test", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(AwsError {
                kind: ErrorKind::AccessDenied,
                ..transient()
            })
        })
        .await;
        assert_eq!(out.unwrap_err().kind, ErrorKind::AccessDenied);
        assert_eq!(calls.load(Ordering::SeqCst), 1, "not retried");

        let calls = AtomicU32::new(0);
        let out: Result<(), _> = retry_with(FAST, "Test", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(transient())
        })
        .await;
        assert!(out.unwrap_err().is_transient());
        assert_eq!(
            calls.load(Ordering::SeqCst),
            5,
            "gives up after the attempts"
        );
    }

    #[test]
    fn jitter_stays_within_half_and_full() {
        let d = Duration::from_millis(800);
        for _ in 0..100 {
            let j = jitter(d);
            assert!(j >= d / 2 && j <= d, "{j:?}");
        }
    }

    #[test]
    fn errors_carry_hints_and_name_the_step() {
        let err = ProvisionError::aws("create queue q")(AwsError {
            operation: "CreateQueue",
            kind: ErrorKind::Unreachable,
            code: None,
            message: "connection refused".into(),
        });
        let text = err.to_string();
        assert!(
            text.starts_with("create queue q: CreateQueue: connection refused; "),
            "{text}"
        );
        assert!(text.contains("--endpoint-url"), "{text}");
        assert_eq!(err.exit_code(), 1);
    }
}
