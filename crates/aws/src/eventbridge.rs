//! EventBridge: rules, targets, tags and PutEvents.
//!
//! [`EventBridge`] wraps the SDK client with the calls provisioning, cleanup and `emit` need.
//! Every list call follows `NextToken` to the end; every error is an [`AwsError`].

use std::collections::HashMap;

use aws_config::SdkConfig;
use aws_sdk_eventbridge::types::{PutEventsRequestEntry, RuleState, Tag, Target};
use aws_sdk_eventbridge::Client;

use crate::error::{AwsError, ErrorKind};

/// PutEvents accepts at most this many entries in one call.
pub const MAX_PUT_EVENTS_BATCH: usize = 10;
/// PutEvents accepts at most this many bytes of entries in one call (see [`entry_size`]).
pub const MAX_PUT_EVENTS_BYTES: usize = 256 * 1024;
/// PutTargets accepts at most this many targets in one call.
pub const MAX_PUT_TARGETS: usize = 10;
/// RemoveTargets accepts at most this many ids in one call.
pub const MAX_REMOVE_TARGETS: usize = 100;

/// What triggers a rule: an event pattern (JSON text) or a schedule expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleTrigger {
    Pattern(String),
    Schedule(String),
}

/// A rule as EventBridge describes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RuleInfo {
    pub name: String,
    pub arn: String,
    pub event_pattern: Option<String>,
    pub schedule_expression: Option<String>,
    /// `ENABLED`, `DISABLED`, ...
    pub state: Option<String>,
    pub description: Option<String>,
    pub event_bus_name: Option<String>,
    /// Set when an AWS service manages the rule (we never touch those).
    pub managed_by: Option<String>,
}

/// One target of a rule: its Id and the ARN it delivers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetInfo {
    pub id: String,
    pub arn: String,
}

/// One event to put on a bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventEntry {
    pub event_bus: String,
    pub source: String,
    pub detail_type: String,
    /// A JSON object, as text.
    pub detail: String,
    pub resources: Vec<String>,
    /// An X-Ray trace header (`Root=1-…;Parent=…;Sampled=1`): EventBridge passes it on to the
    /// targets, e.g. as an SQS message's `AWSTraceHeader`. Not counted in the entry size.
    pub trace_header: Option<String>,
}

/// Why EventBridge refused one entry of a PutEvents call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryFailure {
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for EntryFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl EventEntry {
    /// The size AWS counts for this entry: 14 bytes for the time, plus the UTF-8 bytes of the
    /// source, detail-type, detail and every resource. The trace header does not count
    /// (AWS's "Calculating PutEvents event entry size" leaves it out).
    pub fn size(&self) -> usize {
        14 + self.source.len()
            + self.detail_type.len()
            + self.detail.len()
            + self.resources.iter().map(String::len).sum::<usize>()
    }
}

/// Split `entries` into PutEvents calls: at most [`MAX_PUT_EVENTS_BATCH`] entries and
/// [`MAX_PUT_EVENTS_BYTES`] per call (an entry too large on its own goes alone, for EventBridge
/// to refuse).
pub fn put_events_batches(entries: &[EventEntry]) -> Vec<&[EventEntry]> {
    let mut batches = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, entry) in entries.iter().enumerate() {
        let size = entry.size();
        if i > start && (i - start == MAX_PUT_EVENTS_BATCH || bytes + size > MAX_PUT_EVENTS_BYTES) {
            batches.push(&entries[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += size;
    }
    if start < entries.len() {
        batches.push(&entries[start..]);
    }
    batches
}

/// The outcome of one PutEvents entry: the event id, or why it failed.
pub type EntryResult = Result<String, EntryFailure>;

/// EventBridge client for provisioning, cleanup and emitting events.
#[derive(Debug, Clone)]
pub struct EventBridge {
    client: Client,
}

impl EventBridge {
    pub fn new(config: &SdkConfig) -> Self {
        EventBridge {
            client: Client::new(config),
        }
    }

    /// Create or update rule `name` on `bus` (enabled); returns its ARN. `tags` apply only when
    /// the rule is created: PutRule leaves the tags of an existing rule alone.
    pub async fn put_rule(
        &self,
        name: &str,
        bus: &str,
        trigger: &RuleTrigger,
        description: &str,
        tags: &HashMap<String, String>,
    ) -> Result<String, AwsError> {
        let mut tag_list: Vec<Tag> = tags
            .iter()
            .map(|(k, v)| {
                Tag::builder()
                    .key(k)
                    .value(v)
                    .build()
                    .expect("key and value are set")
            })
            .collect();
        tag_list.sort_by(|a, b| a.key.cmp(&b.key));
        let mut req = self
            .client
            .put_rule()
            .name(name)
            .event_bus_name(bus)
            .state(RuleState::Enabled)
            .description(description)
            .set_tags(Some(tag_list).filter(|t| !t.is_empty()));
        req = match trigger {
            RuleTrigger::Pattern(p) => req.event_pattern(p),
            RuleTrigger::Schedule(s) => req.schedule_expression(s),
        };
        let out = req
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("PutRule", e))?;
        Ok(out.rule_arn.unwrap_or_default())
    }

    /// Rule `name` on `bus`, or `None` if it does not exist.
    pub async fn describe_rule(&self, name: &str, bus: &str) -> Result<Option<RuleInfo>, AwsError> {
        match self
            .client
            .describe_rule()
            .name(name)
            .event_bus_name(bus)
            .send()
            .await
        {
            Ok(out) => Ok(Some(RuleInfo {
                name: out.name.unwrap_or_else(|| name.to_owned()),
                arn: out.arn.unwrap_or_default(),
                event_pattern: out.event_pattern,
                schedule_expression: out.schedule_expression,
                state: out.state.map(|s| s.as_str().to_owned()),
                description: out.description,
                event_bus_name: out.event_bus_name,
                managed_by: out.managed_by,
            })),
            Err(e) => {
                let err = AwsError::from_sdk("DescribeRule", e);
                if err.kind == ErrorKind::NotFound {
                    Ok(None)
                } else {
                    Err(err)
                }
            }
        }
    }

    /// Every rule on `bus` whose name starts with `prefix` (all pages).
    pub async fn list_rules(&self, bus: &str, prefix: &str) -> Result<Vec<RuleInfo>, AwsError> {
        let mut rules = Vec::new();
        let mut next = None;
        loop {
            let out = self
                .client
                .list_rules()
                .event_bus_name(bus)
                .set_name_prefix(Some(prefix.to_owned()).filter(|p| !p.is_empty()))
                .set_next_token(next)
                .limit(100)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("ListRules", e))?;
            rules.extend(out.rules.unwrap_or_default().into_iter().map(|r| RuleInfo {
                name: r.name.unwrap_or_default(),
                arn: r.arn.unwrap_or_default(),
                event_pattern: r.event_pattern,
                schedule_expression: r.schedule_expression,
                state: r.state.map(|s| s.as_str().to_owned()),
                description: r.description,
                event_bus_name: r.event_bus_name,
                managed_by: r.managed_by,
            }));
            next = out.next_token.filter(|t| !t.is_empty());
            if next.is_none() {
                // Some implementations ignore NamePrefix on some paths; filter here as well.
                rules.retain(|r| r.name.starts_with(prefix));
                return Ok(rules);
            }
        }
    }

    /// The tags of the resource (rule, bus) with ARN `arn`.
    pub async fn tags(&self, arn: &str) -> Result<HashMap<String, String>, AwsError> {
        let out = self
            .client
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ListTagsForResource", e))?;
        Ok(out
            .tags
            .unwrap_or_default()
            .into_iter()
            .map(|t| (t.key, t.value))
            .collect())
    }

    /// Add or replace targets of rule `rule` on `bus`; fails if EventBridge refused any.
    pub async fn put_targets(
        &self,
        rule: &str,
        bus: &str,
        targets: &[TargetInfo],
    ) -> Result<(), AwsError> {
        for chunk in targets.chunks(MAX_PUT_TARGETS) {
            let list = chunk
                .iter()
                .map(|t| {
                    Target::builder()
                        .id(&t.id)
                        .arn(&t.arn)
                        .build()
                        .expect("id and arn are set")
                })
                .collect();
            let out = self
                .client
                .put_targets()
                .rule(rule)
                .event_bus_name(bus)
                .set_targets(Some(list))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("PutTargets", e))?;
            let failed = out.failed_entries.unwrap_or_default();
            if let Some(f) = failed.first() {
                return Err(entry_error(
                    "PutTargets",
                    failed.len(),
                    chunk.len(),
                    f.target_id.as_deref(),
                    f.error_code.as_deref(),
                    f.error_message.as_deref(),
                ));
            }
        }
        Ok(())
    }

    /// The targets of rule `rule` on `bus` (all pages).
    pub async fn list_targets_by_rule(
        &self,
        rule: &str,
        bus: &str,
    ) -> Result<Vec<TargetInfo>, AwsError> {
        let mut targets = Vec::new();
        let mut next = None;
        loop {
            let out = self
                .client
                .list_targets_by_rule()
                .rule(rule)
                .event_bus_name(bus)
                .set_next_token(next)
                .limit(100)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("ListTargetsByRule", e))?;
            targets.extend(
                out.targets
                    .unwrap_or_default()
                    .into_iter()
                    .map(|t| TargetInfo {
                        id: t.id,
                        arn: t.arn,
                    }),
            );
            next = out.next_token.filter(|t| !t.is_empty());
            if next.is_none() {
                return Ok(targets);
            }
        }
    }

    /// Remove targets `ids` from rule `rule` on `bus`; fails if EventBridge refused any.
    pub async fn remove_targets(
        &self,
        rule: &str,
        bus: &str,
        ids: &[String],
    ) -> Result<(), AwsError> {
        for chunk in ids.chunks(MAX_REMOVE_TARGETS) {
            let out = self
                .client
                .remove_targets()
                .rule(rule)
                .event_bus_name(bus)
                .set_ids(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("RemoveTargets", e))?;
            let failed = out.failed_entries.unwrap_or_default();
            if let Some(f) = failed.first() {
                return Err(entry_error(
                    "RemoveTargets",
                    failed.len(),
                    chunk.len(),
                    f.target_id.as_deref(),
                    f.error_code.as_deref(),
                    f.error_message.as_deref(),
                ));
            }
        }
        Ok(())
    }

    /// Delete rule `name` on `bus` (it must have no targets left).
    pub async fn delete_rule(&self, name: &str, bus: &str) -> Result<(), AwsError> {
        self.client
            .delete_rule()
            .name(name)
            .event_bus_name(bus)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DeleteRule", e))?;
        Ok(())
    }

    /// Put up to [`MAX_PUT_EVENTS_BATCH`] events in one call; one result per entry, in order.
    pub async fn put_events_batch(
        &self,
        entries: &[EventEntry],
    ) -> Result<Vec<EntryResult>, AwsError> {
        assert!(
            entries.len() <= MAX_PUT_EVENTS_BATCH,
            "PutEvents takes at most {MAX_PUT_EVENTS_BATCH} entries"
        );
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let list = entries
            .iter()
            .map(|e| {
                PutEventsRequestEntry::builder()
                    .event_bus_name(&e.event_bus)
                    .source(&e.source)
                    .detail_type(&e.detail_type)
                    .detail(&e.detail)
                    .set_resources(Some(e.resources.clone()).filter(|r| !r.is_empty()))
                    .set_trace_header(e.trace_header.clone())
                    .build()
            })
            .collect();
        let out = self
            .client
            .put_events()
            .set_entries(Some(list))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("PutEvents", e))?;
        let results = out.entries.unwrap_or_default();
        Ok((0..entries.len())
            .map(|i| match results.get(i) {
                Some(r) if r.error_code.is_none() && r.event_id.is_some() => {
                    Ok(r.event_id.clone().unwrap_or_default())
                }
                Some(r) => Err(EntryFailure {
                    code: r.error_code.clone().unwrap_or_else(|| "Unknown".into()),
                    message: r
                        .error_message
                        .clone()
                        .unwrap_or_else(|| "no event id returned".into()),
                }),
                None => Err(EntryFailure {
                    code: "MissingResult".into(),
                    message: "PutEvents returned fewer results than entries".into(),
                }),
            })
            .collect())
    }

    /// Put any number of events, in batches of [`put_events_batches`]; one result per entry, in
    /// order. Stops at the first call that fails as a whole.
    pub async fn put_events(&self, entries: &[EventEntry]) -> Result<Vec<EntryResult>, AwsError> {
        let mut results = Vec::with_capacity(entries.len());
        for chunk in put_events_batches(entries) {
            results.extend(self.put_events_batch(chunk).await?);
        }
        Ok(results)
    }
}

/// The entries a [`EventBridge::put_events`] call refused, as one error naming how many and the
/// first one's reason; `None` when every entry was put. Throttling and internal failures are
/// [`ErrorKind::Transient`].
pub fn refused_entries(results: &[EntryResult]) -> Option<AwsError> {
    let failed: Vec<&EntryFailure> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    let first = failed.first()?;
    let kind = match first.code.as_str() {
        "ThrottlingException" | "InternalFailure" | "InternalException" => ErrorKind::Transient,
        _ => ErrorKind::Other,
    };
    Some(AwsError {
        operation: "PutEvents",
        kind,
        code: Some(first.code.clone()),
        message: format!(
            "{} of {} entries failed; first: {first}",
            failed.len(),
            results.len()
        ),
    })
}

/// An error for a batch call that answered but refused some entries.
fn entry_error(
    operation: &'static str,
    failed: usize,
    total: usize,
    id: Option<&str>,
    code: Option<&str>,
    message: Option<&str>,
) -> AwsError {
    let kind = match code {
        Some("ConcurrentModificationException" | "InternalException") => ErrorKind::Transient,
        // The rule or the target is already gone, e.g. removed by another replica's clean-up.
        Some("ResourceNotFoundException") => ErrorKind::NotFound,
        _ => ErrorKind::Other,
    };
    AwsError {
        operation,
        kind,
        code: code.map(str::to_owned),
        message: format!(
            "{failed} of {total} entries failed; first: target {} {} ({})",
            id.unwrap_or("?"),
            message.unwrap_or("no message"),
            code.unwrap_or("no error code"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(detail_len: usize) -> EventEntry {
        EventEntry {
            event_bus: "default".into(),
            source: "s".into(),
            detail_type: "t".into(),
            detail: "x".repeat(detail_len),
            resources: vec!["r".into()],
            trace_header: None,
        }
    }

    #[test]
    fn refused_target_entries_are_classified() {
        let kind = |code| entry_error("RemoveTargets", 1, 1, Some("t"), Some(code), None).kind;
        assert_eq!(kind("ResourceNotFoundException"), ErrorKind::NotFound);
        assert_eq!(
            kind("ConcurrentModificationException"),
            ErrorKind::Transient
        );
        assert_eq!(kind("LimitExceededException"), ErrorKind::Other);
    }

    #[test]
    fn refused_entries_name_the_first_reason() {
        assert!(refused_entries(&[Ok("1".into())]).is_none());
        let refused = |code: &str| {
            Err(EntryFailure {
                code: code.into(),
                message: "no".into(),
            })
        };
        let err = refused_entries(&[Ok("1".into()), refused("ThrottlingException")]).unwrap();
        assert_eq!(
            err.to_string(),
            "PutEvents: 1 of 2 entries failed; first: no (ThrottlingException)"
        );
        assert!(err.is_transient());
        let err = refused_entries(&[refused("AccessDeniedException")]).unwrap();
        assert_eq!(err.kind, ErrorKind::Other);
        assert_eq!(err.code.as_deref(), Some("AccessDeniedException"));
    }

    #[test]
    fn entry_size_counts_like_aws() {
        assert_eq!(entry(10).size(), 14 + 1 + 1 + 10 + 1);
        let traced = EventEntry {
            trace_header: Some(
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".into(),
            ),
            ..entry(10)
        };
        assert_eq!(
            traced.size(),
            entry(10).size(),
            "the trace header is not counted"
        );
    }

    #[test]
    fn batches_respect_count_and_bytes() {
        let small: Vec<EventEntry> = (0..23).map(|_| entry(2)).collect();
        let sizes: Vec<usize> = put_events_batches(&small).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, vec![10, 10, 3]);

        let big: Vec<EventEntry> = (0..5).map(|_| entry(100 * 1024)).collect();
        let sizes: Vec<usize> = put_events_batches(&big).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, vec![2, 2, 1]);

        let huge = vec![entry(300 * 1024), entry(1)];
        let sizes: Vec<usize> = put_events_batches(&huge).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, vec![1, 1], "an oversized entry goes alone");
        assert!(put_events_batches(&[]).is_empty());
    }
}
