//! The queue policy merge: pure functions, no I/O.
//!
//! eventferry owns one statement per instance on a queue: `Sid` = the instance's rule prefix
//! (`eventferry-<instance>`), allowing EventBridge to send from any rule of the instance
//! (`ArnLike aws:SourceArn` on the rule-name pattern, on the default bus and the instance's custom
//! bus) in the queue's account. Older versions wrote one statement per rule (`Sid` = the rule
//! name, `eventferry-<instance>-<8 hex digits>`); those are the instance's too and are migrated
//! away. Everything else in a policy belongs to someone else and is kept as it is, in its order.
//! [`check_limits`] holds a document to AWS's queue policy limits before it is written;
//! [`PolicyWrites`], [`pause_after_write`] and [`POLICY_ATTEMPTS`] are the rules of the
//! write-and-verify loop that outlasts a racing writer.

use std::time::Duration;

use eventferry_aws::retry::jittered;
use serde_json::{json, Map, Value};

use super::ownership::DEFAULT_BUS;

/// The IAM policy language version used for a policy eventferry creates.
const POLICY_VERSION: &str = "2012-10-17";

/// AWS's limits on a queue policy (SQS quotas): statements, bytes, and conditions per statement.
/// Other owners' statements count too.
pub const MAX_STATEMENTS: usize = 20;
/// See [`MAX_STATEMENTS`].
pub const MAX_POLICY_BYTES: usize = 8_192;
/// See [`MAX_STATEMENTS`].
pub const MAX_CONDITIONS: usize = 10;

/// One statement eventferry wants: EventBridge may send to the queue from the rules whose ARNs
/// match `source_arns` (`ArnLike` patterns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WantedStatement {
    pub sid: String,
    pub source_arns: Vec<String>,
}

/// What to do with a queue's `Policy` attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyChange {
    /// Nothing to change.
    Unchanged,
    /// Set the policy to this document.
    Set {
        document: String,
        added: Vec<String>,
        replaced: Vec<String>,
        removed: Vec<String>,
    },
    /// No statement is left: remove the policy (set it to the empty string).
    Clear { removed: Vec<String> },
}

impl PolicyChange {
    /// Sids of the statements this change removes.
    pub fn removed(&self) -> &[String] {
        match self {
            PolicyChange::Unchanged => &[],
            PolicyChange::Set { removed, .. } | PolicyChange::Clear { removed } => removed,
        }
    }
}

/// Why a queue policy can't be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The existing policy is not a JSON object with a `Statement`: we refuse to rewrite it.
    #[error("the existing queue policy can't be merged: {0}; fix or remove the policy by hand")]
    Unmergeable(String),
    /// The merged policy would break one of AWS's limits.
    #[error(
        "the queue policy would break AWS's limit of {limit} ({found}); statements of other \
         owners count too: remove the ones no longer needed, or give eventferry a queue of its own"
    )]
    OverLimit { limit: String, found: String },
    /// A writer racing ours kept replacing the policy: after `writes` writes a re-read still
    /// differs (`differs`: what).
    #[error(
        "the policy did not stay as written: after {writes} writes a re-read still shows \
         {differs}; another writer keeps replacing the queue's policy (another eventferry \
         instance, a deployment tool?): stop it or let it finish, then run again"
    )]
    Overwritten { writes: u32, differs: String },
    /// The queue ARN is not `arn:<partition>:sqs:<region>:<account>:<name>`.
    #[error("can't build the rule ARN patterns from queue ARN {0:?}")]
    QueueArn(String),
}

impl PolicyError {
    /// [`PolicyError::Overwritten`]: `change` is what a re-read after `writes` writes still needs.
    pub fn overwritten(change: &PolicyChange, writes: u32) -> Self {
        let mut differs = Vec::new();
        if let PolicyChange::Set {
            added, replaced, ..
        } = change
        {
            differs.extend(added.iter().map(|sid| format!("statement {sid} missing")));
            differs.extend(
                replaced
                    .iter()
                    .map(|sid| format!("statement {sid} changed")),
            );
        }
        differs.extend(
            change
                .removed()
                .iter()
                .map(|sid| format!("statement {sid} back")),
        );
        PolicyError::Overwritten {
            writes,
            differs: differs.join(", "),
        }
    }
}

/// How often a policy is written before giving up on a writer that keeps overwriting it.
pub const POLICY_ATTEMPTS: u32 = 8;

/// What the writes of one policy update did, over all its attempts.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PolicyWrites {
    /// How often the policy was written (0: it was as wanted).
    pub writes: u32,
    pub added: Vec<String>,
    pub replaced: Vec<String>,
    pub removed: Vec<String>,
}

impl PolicyWrites {
    /// Count one write of `change`; each Sid is listed once.
    pub fn record(&mut self, change: &PolicyChange) {
        fn note(into: &mut Vec<String>, sids: &[String]) {
            for sid in sids {
                if !into.contains(sid) {
                    into.push(sid.clone());
                }
            }
        }
        self.writes += 1;
        if let PolicyChange::Set {
            added, replaced, ..
        } = change
        {
            note(&mut self.added, added);
            note(&mut self.replaced, replaced);
        }
        note(&mut self.removed, change.removed());
    }
}

/// The pause before re-reading a policy just written for the `writes`-th time: 100-500 ms the
/// first time, then up to 1, 2, 4, 8 s (SQS may take a while to show a new attribute value
/// everywhere), jittered so that racing writers do not write again in step.
pub fn pause_after_write(writes: u32) -> Duration {
    let ceiling = Duration::from_millis(500) * 2u32.pow(writes.saturating_sub(1).min(4));
    jittered(Duration::from_millis(100), ceiling)
}

/// The statement allowing EventBridge rules matching `source_arns` in `account` to send to
/// `queue_arn`.
pub fn statement(sid: &str, queue_arn: &str, source_arns: &[String], account: &str) -> Value {
    let source = match source_arns {
        [one] => json!(one),
        many => json!(many),
    };
    json!({
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": queue_arn,
        "Condition": {
            "ArnLike": {"aws:SourceArn": source},
            "StringEquals": {"aws:SourceAccount": account}
        }
    })
}

/// The ARN patterns of the rules named `<rule_prefix>-<8 characters>` on the default bus, and on
/// `bus` when it is a custom bus (pattern rules live there, schedule rules on the default bus):
/// `arn:<partition>:events:<region>:<account>:rule/[<bus>/]<rule_prefix>-????????`, partition,
/// region and account taken from `queue_arn`. `?` matches one character, so another instance
/// whose id starts with this one's (`prod` and `prod-eu`) is not matched.
pub fn rule_arn_patterns(
    queue_arn: &str,
    rule_prefix: &str,
    bus: &str,
) -> Result<Vec<String>, PolicyError> {
    let parts: Vec<&str> = queue_arn.splitn(6, ':').collect();
    let ["arn", partition, "sqs", region, account, _] = parts[..] else {
        return Err(PolicyError::QueueArn(queue_arn.to_owned()));
    };
    if [partition, region, account].iter().any(|p| p.is_empty()) {
        return Err(PolicyError::QueueArn(queue_arn.to_owned()));
    }
    let base = format!("arn:{partition}:events:{region}:{account}:rule");
    let name = format!("{rule_prefix}-????????");
    // A bus given by ARN (`arn:...:event-bus/<name>`) appears in rule ARNs by its name.
    let bus = bus.rsplit_once(":event-bus/").map_or(bus, |(_, name)| name);
    let mut patterns = vec![format!("{base}/{name}")];
    if bus != DEFAULT_BUS {
        patterns.push(format!("{base}/{bus}/{name}"));
    }
    Ok(patterns)
}

/// The one statement of the instance whose rule prefix is `rule_prefix`, on queue `queue_arn`,
/// with its pattern rules on `bus`.
pub fn instance_statement(
    queue_arn: &str,
    rule_prefix: &str,
    bus: &str,
) -> Result<WantedStatement, PolicyError> {
    Ok(WantedStatement {
        sid: rule_prefix.to_owned(),
        source_arns: rule_arn_patterns(queue_arn, rule_prefix, bus)?,
    })
}

/// Whether `sid` is a statement of the instance whose rule prefix is `rule_prefix`: its one
/// statement (`Sid` = the prefix) or a per-rule statement of older versions
/// ([`is_owned_sid`]).
pub fn is_instance_sid(sid: &str, rule_prefix: &str) -> bool {
    sid == rule_prefix || is_owned_sid(sid, rule_prefix)
}

/// Whether `sid` names a rule of the instance whose rule prefix is `rule_prefix`
/// (`{rule_prefix}-{8 lower-case hex digits}`, the shape `names::rule_name` produces).
pub fn is_owned_sid(sid: &str, rule_prefix: &str) -> bool {
    sid.strip_prefix(rule_prefix)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|hash| {
            hash.len() == 8
                && hash
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

/// A queue policy's top-level keys (without `Statement`) and its statements; a new document
/// (just `Version`) when there is no policy.
fn parse_policy(existing: Option<&str>) -> Result<(Map<String, Value>, Vec<Value>), PolicyError> {
    let mut doc: Map<String, Value> = match existing.map(str::trim).filter(|s| !s.is_empty()) {
        None => {
            let mut doc = Map::new();
            doc.insert("Version".into(), json!(POLICY_VERSION));
            doc
        }
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(doc)) => doc,
            Ok(_) => return Err(PolicyError::Unmergeable("it is not a JSON object".into())),
            Err(e) => {
                return Err(PolicyError::Unmergeable(format!(
                    "it is not valid JSON ({e})"
                )))
            }
        },
    };
    let statements = match doc.remove("Statement") {
        None => Vec::new(),
        Some(Value::Array(items)) => items,
        Some(single @ Value::Object(_)) => vec![single],
        Some(_) => {
            return Err(PolicyError::Unmergeable(
                "its Statement is neither an object nor an array".into(),
            ))
        }
    };
    Ok((doc, statements))
}

/// Merge eventferry's statements into `existing` (the queue's `Policy`; `None` or empty when it
/// has none):
///
/// - every `wanted` statement is present, exactly as [`statement`] builds it (added at the end,
///   or replaced in place if a statement with its Sid differs);
/// - statements whose Sid is in `remove`, or for which `owned` says it is ours and which are not
///   wanted, are removed;
/// - every other statement, and every other top-level key, is kept as it is.
pub fn merge(
    existing: Option<&str>,
    queue_arn: &str,
    account: &str,
    wanted: &[WantedStatement],
    remove: &[String],
    owned: impl Fn(&str) -> bool,
) -> Result<PolicyChange, PolicyError> {
    let (mut doc, statements) = parse_policy(existing)?;
    let had_policy = existing.is_some_and(|s| !s.trim().is_empty());

    let wanted_sid = |sid: &str| wanted.iter().any(|w| w.sid == sid);
    let mut out = Vec::with_capacity(statements.len() + wanted.len());
    let (mut added, mut replaced, mut removed) = (Vec::new(), Vec::new(), Vec::new());
    let mut seen: Vec<&str> = Vec::new();
    for st in &statements {
        let sid = st.get("Sid").and_then(Value::as_str);
        match sid {
            Some(sid) if wanted_sid(sid) => {
                if seen.contains(&sid) {
                    // A duplicate Sid of ours: keep one.
                    removed.push(sid.to_owned());
                    continue;
                }
                seen.push(sid);
                let w = wanted.iter().find(|w| w.sid == sid).expect("wanted");
                let want = statement(&w.sid, queue_arn, &w.source_arns, account);
                if normalized(st) != normalized(&want) {
                    replaced.push(sid.to_owned());
                }
                out.push(want);
            }
            Some(sid) if remove.iter().any(|r| r == sid) || owned(sid) => {
                removed.push(sid.to_owned());
            }
            _ => out.push(st.clone()),
        }
    }
    let mut missing: Vec<&WantedStatement> = wanted
        .iter()
        .filter(|w| !seen.contains(&w.sid.as_str()))
        .collect();
    missing.sort_by(|a, b| a.sid.cmp(&b.sid));
    missing.dedup_by(|a, b| a.sid == b.sid);
    for w in missing {
        added.push(w.sid.clone());
        out.push(statement(&w.sid, queue_arn, &w.source_arns, account));
    }

    if added.is_empty() && replaced.is_empty() && removed.is_empty() {
        return Ok(PolicyChange::Unchanged);
    }
    if out.is_empty() {
        return Ok(if had_policy {
            PolicyChange::Clear { removed }
        } else {
            PolicyChange::Unchanged
        });
    }
    doc.insert("Statement".into(), Value::Array(out));
    Ok(PolicyChange::Set {
        document: serde_json::to_string(&doc).expect("a JSON map serializes"),
        added,
        replaced,
        removed,
    })
}

/// A statement as AWS may render it back: a one-element list is its element, a list of strings is
/// in order. Two statements mean the same if their normalized forms are equal.
fn normalized(v: &Value) -> Value {
    match v {
        Value::Array(items) if items.len() == 1 => normalized(&items[0]),
        Value::Array(items) => {
            let mut items: Vec<Value> = items.iter().map(normalized).collect();
            items.sort_by_key(|i| i.to_string());
            Value::Array(items)
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), normalized(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The conditions of a statement, counted the strictest way: every value of every key of every
/// operator (`{"ArnLike": {"aws:SourceArn": [a, b]}}` is 2).
fn condition_count(statement: &Value) -> usize {
    let Some(Value::Object(operators)) = statement.get("Condition") else {
        return 0;
    };
    operators
        .values()
        .filter_map(Value::as_object)
        .flat_map(|keys| keys.values())
        .map(|values| values.as_array().map_or(1, Vec::len))
        .sum()
}

/// Check a policy `document` (as it would be written) against AWS's queue policy limits: at most
/// [`MAX_STATEMENTS`] statements, [`MAX_POLICY_BYTES`] bytes, [`MAX_CONDITIONS`] conditions per
/// statement. The error names the limit and what the document has.
pub fn check_limits(document: &str) -> Result<(), PolicyError> {
    let over = |limit: String, found: String| Err(PolicyError::OverLimit { limit, found });
    if document.len() > MAX_POLICY_BYTES {
        return over(
            format!("{MAX_POLICY_BYTES} bytes"),
            format!("it would be {} bytes", document.len()),
        );
    }
    let (_, statements) = parse_policy(Some(document))?;
    if statements.len() > MAX_STATEMENTS {
        return over(
            format!("{MAX_STATEMENTS} statements"),
            format!("it would hold {}", statements.len()),
        );
    }
    for (i, st) in statements.iter().enumerate() {
        let n = condition_count(st);
        if n > MAX_CONDITIONS {
            let sid = st.get("Sid").and_then(Value::as_str).unwrap_or("(no Sid)");
            return over(
                format!("{MAX_CONDITIONS} conditions per statement"),
                format!("statement {} ({sid}) has {n}", i + 1),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUEUE: &str = "arn:aws:sqs:us-east-1:123456789012:orders";
    const ACCOUNT: &str = "123456789012";
    const PREFIX: &str = "eventferry-prod";

    /// The instance's one statement, rules on the default bus.
    fn ours() -> WantedStatement {
        instance_statement(QUEUE, PREFIX, "default").unwrap()
    }

    /// An old per-rule statement (`Sid` = rule name).
    fn legacy(hash: &str) -> Value {
        let name = format!("{PREFIX}-{hash}");
        json!({
            "Sid": name,
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": QUEUE,
            "Condition": {
                "ArnEquals": {"aws:SourceArn": format!("arn:aws:events:us-east-1:{ACCOUNT}:rule/{name}")},
                "StringEquals": {"aws:SourceAccount": ACCOUNT}
            }
        })
    }

    fn owned(sid: &str) -> bool {
        is_instance_sid(sid, PREFIX)
    }

    fn statements(doc: &str) -> Vec<Value> {
        let v: Value = serde_json::from_str(doc).unwrap();
        v["Statement"].as_array().unwrap().clone()
    }

    fn sids(doc: &str) -> Vec<String> {
        statements(doc)
            .iter()
            .map(|s| s["Sid"].as_str().unwrap_or("").to_owned())
            .collect()
    }

    fn set(change: PolicyChange) -> (String, Vec<String>, Vec<String>, Vec<String>) {
        match change {
            PolicyChange::Set {
                document,
                added,
                replaced,
                removed,
            } => (document, added, replaced, removed),
            other => panic!("expected Set, got {other:?}"),
        }
    }

    fn policy_of(statements: Vec<Value>) -> String {
        json!({"Version": "2012-10-17", "Statement": statements}).to_string()
    }

    const FOREIGN: &str = r#"{"Version":"2012-10-17","Id":"theirs","Statement":[
        {"Sid":"AllowSns","Effect":"Allow","Principal":{"Service":"sns.amazonaws.com"},
         "Action":"sqs:SendMessage","Resource":"arn:aws:sqs:us-east-1:123456789012:orders"}]}"#;

    #[test]
    fn rule_arn_patterns_follow_the_queue_arn_and_the_bus() {
        assert_eq!(
            rule_arn_patterns(QUEUE, PREFIX, "default").unwrap(),
            ["arn:aws:events:us-east-1:123456789012:rule/eventferry-prod-????????"]
        );
        // Another partition and region; a custom bus adds its own pattern (schedule rules stay
        // on the default bus); a bus given by ARN counts by its name.
        let cn = "arn:aws-cn:sqs:cn-north-1:111122223333:orders";
        let want = [
            "arn:aws-cn:events:cn-north-1:111122223333:rule/eventferry-prod-????????",
            "arn:aws-cn:events:cn-north-1:111122223333:rule/orders-bus/eventferry-prod-????????",
        ];
        assert_eq!(rule_arn_patterns(cn, PREFIX, "orders-bus").unwrap(), want);
        assert_eq!(
            rule_arn_patterns(
                cn,
                PREFIX,
                "arn:aws-cn:events:cn-north-1:111122223333:event-bus/orders-bus"
            )
            .unwrap(),
            want
        );
        for bad in [
            "orders",
            "arn:aws:sqs:us-east-1::orders",
            "arn:aws:sns:r:1:t",
        ] {
            let err = rule_arn_patterns(bad, PREFIX, "default").unwrap_err();
            assert!(err.to_string().contains(bad), "{err}");
        }
    }

    #[test]
    fn new_policy_has_one_statement_for_the_instance_with_both_conditions() {
        let w = instance_statement(QUEUE, PREFIX, "custom").unwrap();
        let (doc, added, replaced, removed) =
            set(merge(None, QUEUE, ACCOUNT, std::slice::from_ref(&w), &[], owned).unwrap());
        assert_eq!(added, vec![PREFIX.to_owned()]);
        assert!(replaced.is_empty() && removed.is_empty());
        let v: Value = serde_json::from_str(&doc).unwrap();
        assert_eq!(v["Version"], "2012-10-17");
        assert_eq!(
            statements(&doc),
            vec![json!({
                "Sid": "eventferry-prod",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": QUEUE,
                "Condition": {
                    "ArnLike": {"aws:SourceArn": [
                        "arn:aws:events:us-east-1:123456789012:rule/eventferry-prod-????????",
                        "arn:aws:events:us-east-1:123456789012:rule/custom/eventferry-prod-????????"
                    ]},
                    "StringEquals": {"aws:SourceAccount": ACCOUNT}
                }
            })]
        );
        // One pattern (default bus) is written as a string.
        let (doc, ..) = set(merge(None, QUEUE, ACCOUNT, &[ours()], &[], owned).unwrap());
        assert_eq!(
            statements(&doc)[0]["Condition"]["ArnLike"]["aws:SourceArn"],
            "arn:aws:events:us-east-1:123456789012:rule/eventferry-prod-????????"
        );
        // Empty text counts as no policy.
        assert_eq!(
            merge(Some("  "), QUEUE, ACCOUNT, &[ours()], &[], owned).unwrap(),
            merge(None, QUEUE, ACCOUNT, &[ours()], &[], owned).unwrap()
        );
    }

    #[test]
    fn merge_is_idempotent_also_when_aws_renders_lists_differently() {
        let w = [instance_statement(QUEUE, PREFIX, "custom").unwrap()];
        let (doc, ..) = set(merge(Some(FOREIGN), QUEUE, ACCOUNT, &w, &[], owned).unwrap());
        assert_eq!(
            merge(Some(&doc), QUEUE, ACCOUNT, &w, &[], owned).unwrap(),
            PolicyChange::Unchanged
        );
        // The same statement with its list reversed and the account as a one-element list.
        let mut v: Value = serde_json::from_str(&doc).unwrap();
        let st = &mut v["Statement"][1]["Condition"];
        st["ArnLike"]["aws:SourceArn"]
            .as_array_mut()
            .unwrap()
            .reverse();
        st["StringEquals"]["aws:SourceAccount"] = json!([ACCOUNT]);
        assert_eq!(
            merge(Some(&v.to_string()), QUEUE, ACCOUNT, &w, &[], owned).unwrap(),
            PolicyChange::Unchanged
        );
    }

    #[test]
    fn foreign_statements_and_keys_are_kept_in_place() {
        let (doc, ..) = set(merge(Some(FOREIGN), QUEUE, ACCOUNT, &[ours()], &[], owned).unwrap());
        let v: Value = serde_json::from_str(&doc).unwrap();
        assert_eq!(v["Id"], "theirs");
        assert_eq!(sids(&doc), vec!["AllowSns".to_owned(), PREFIX.to_owned()]);
        let original: Value = serde_json::from_str(FOREIGN).unwrap();
        assert_eq!(statements(&doc)[0], original["Statement"][0]);
    }

    #[test]
    fn changed_statement_is_replaced_in_place() {
        let (doc, ..) = set(merge(Some(FOREIGN), QUEUE, ACCOUNT, &[ours()], &[], owned).unwrap());
        let moved = instance_statement(QUEUE, PREFIX, "custom").unwrap();
        let (doc2, added, replaced, removed) = set(merge(
            Some(&doc),
            QUEUE,
            ACCOUNT,
            std::slice::from_ref(&moved),
            &[],
            owned,
        )
        .unwrap());
        assert!(added.is_empty() && removed.is_empty());
        assert_eq!(replaced, vec![PREFIX.to_owned()]);
        assert_eq!(sids(&doc2), sids(&doc));
        assert_eq!(
            statements(&doc2)[1]["Condition"]["ArnLike"]["aws:SourceArn"],
            json!(moved.source_arns)
        );
    }

    #[test]
    fn old_per_rule_statements_are_migrated_to_the_one_statement() {
        // Another instance whose id starts like ours keeps its statement.
        let other = json!({"Sid": "eventferry-prod-eu-0000000c", "Effect": "Allow",
                           "Principal": {"Service": "events.amazonaws.com"},
                           "Action": "sqs:SendMessage", "Resource": QUEUE});
        let original: Value = serde_json::from_str(FOREIGN).unwrap();
        let theirs = original["Statement"][0].clone();
        let doc = policy_of(vec![
            theirs.clone(),
            legacy("0000000a"),
            other.clone(),
            legacy("0000000b"),
        ]);
        let (doc2, added, replaced, removed) =
            set(merge(Some(&doc), QUEUE, ACCOUNT, &[ours()], &[], owned).unwrap());
        assert_eq!(added, vec![PREFIX.to_owned()]);
        assert!(replaced.is_empty());
        assert_eq!(
            removed,
            vec![format!("{PREFIX}-0000000a"), format!("{PREFIX}-0000000b")]
        );
        assert_eq!(
            sids(&doc2),
            vec![
                "AllowSns".to_owned(),
                "eventferry-prod-eu-0000000c".to_owned(),
                PREFIX.to_owned()
            ]
        );
        assert_eq!(statements(&doc2)[1], other);
    }

    #[test]
    fn explicit_removals_apply_by_sid_and_the_last_one_clears() {
        let (doc, ..) = set(merge(None, QUEUE, ACCOUNT, &[ours()], &[], |_| false).unwrap());
        // Removing the last statement clears the policy.
        assert_eq!(
            merge(
                Some(&doc),
                QUEUE,
                ACCOUNT,
                &[],
                &[PREFIX.to_owned()],
                |_| false
            )
            .unwrap(),
            PolicyChange::Clear {
                removed: vec![PREFIX.to_owned()]
            }
        );
        // A Sid that is neither listed nor ours stays.
        assert_eq!(
            merge(
                Some(FOREIGN),
                QUEUE,
                ACCOUNT,
                &[],
                &[PREFIX.to_owned()],
                |_| false
            )
            .unwrap(),
            PolicyChange::Unchanged
        );
    }

    #[test]
    fn teardown_of_a_foreign_queue_keeps_only_theirs() {
        let (doc, ..) = set(merge(Some(FOREIGN), QUEUE, ACCOUNT, &[ours()], &[], owned).unwrap());
        let mut v: Value = serde_json::from_str(&doc).unwrap();
        v["Statement"]
            .as_array_mut()
            .unwrap()
            .push(legacy("0000000a"));
        let (doc2, _, _, removed) =
            set(merge(Some(&v.to_string()), QUEUE, ACCOUNT, &[], &[], owned).unwrap());
        assert_eq!(
            removed,
            vec![PREFIX.to_owned(), format!("{PREFIX}-0000000a")]
        );
        let original: Value = serde_json::from_str(FOREIGN).unwrap();
        assert_eq!(
            statements(&doc2),
            original["Statement"].as_array().unwrap().clone()
        );
        // Nothing of ours left: nothing to do, no policy created.
        assert_eq!(
            merge(Some(&doc2), QUEUE, ACCOUNT, &[], &[], owned).unwrap(),
            PolicyChange::Unchanged
        );
        assert_eq!(
            merge(None, QUEUE, ACCOUNT, &[], &[], owned).unwrap(),
            PolicyChange::Unchanged
        );
    }

    #[test]
    fn single_statement_object_is_accepted() {
        let single = r#"{"Version":"2012-10-17","Statement":{"Sid":"One","Effect":"Deny","Principal":"*","Action":"sqs:*","Resource":"*"}}"#;
        let (doc, ..) = set(merge(Some(single), QUEUE, ACCOUNT, &[ours()], &[], owned).unwrap());
        assert_eq!(sids(&doc), vec!["One".to_owned(), PREFIX.to_owned()]);
        // Unchanged stays as the owner wrote it.
        assert_eq!(
            merge(Some(single), QUEUE, ACCOUNT, &[], &[], owned).unwrap(),
            PolicyChange::Unchanged
        );
    }

    #[test]
    fn duplicate_sids_of_ours_collapse_to_one() {
        let w = ours();
        let st = statement(&w.sid, QUEUE, &w.source_arns, ACCOUNT);
        let doc = policy_of(vec![st.clone(), st]);
        let (doc2, added, _, removed) = set(merge(
            Some(&doc),
            QUEUE,
            ACCOUNT,
            std::slice::from_ref(&w),
            &[],
            owned,
        )
        .unwrap());
        assert!(added.is_empty());
        assert_eq!(removed, vec![w.sid.clone()]);
        assert_eq!(sids(&doc2), vec![w.sid]);
    }

    #[test]
    fn unparseable_policies_are_refused() {
        for bad in ["not json", "[]", r#"{"Statement": 5}"#] {
            let err = merge(Some(bad), QUEUE, ACCOUNT, &[ours()], &[], owned).unwrap_err();
            assert!(err.to_string().contains("can't be merged"), "{err}");
            assert!(check_limits(bad).is_err());
        }
    }

    #[test]
    fn owned_sid_shape() {
        assert!(is_owned_sid("eventferry-prod-0123abcd", PREFIX));
        assert!(!is_owned_sid("eventferry-prod-0123ABCD", PREFIX));
        assert!(!is_owned_sid("eventferry-prod-eu-0123abcd", PREFIX));
        assert!(!is_owned_sid("eventferry-prod-0123abc", PREFIX));
        assert!(!is_owned_sid("eventferry-prodx0123abcd", PREFIX));
        assert!(!is_owned_sid("AllowSns", PREFIX));
        assert!(is_instance_sid("eventferry-prod", PREFIX));
        assert!(is_instance_sid("eventferry-prod-0123abcd", PREFIX));
        assert!(!is_instance_sid("eventferry-prod-eu", PREFIX));
        assert!(!is_instance_sid("eventferry-pro", PREFIX));
    }

    #[test]
    fn writes_are_recorded_once_per_sid_and_an_overwrite_names_what_differs() {
        let (doc, ..) = set(merge(Some(FOREIGN), QUEUE, ACCOUNT, &[ours()], &[], owned).unwrap());
        let first = merge(None, QUEUE, ACCOUNT, &[ours()], &[], owned).unwrap();
        let mut writes = PolicyWrites::default();
        writes.record(&first);
        writes.record(&first);
        let legacy_doc = policy_of(vec![legacy("0000000a")]);
        let migrate = merge(Some(&legacy_doc), QUEUE, ACCOUNT, &[ours()], &[], owned).unwrap();
        writes.record(&migrate);
        assert_eq!(
            writes,
            PolicyWrites {
                writes: 3,
                added: vec![PREFIX.to_owned()],
                replaced: vec![],
                removed: vec![format!("{PREFIX}-0000000a")],
            }
        );
        assert_eq!(
            merge(Some(&doc), QUEUE, ACCOUNT, &[ours()], &[], owned).unwrap(),
            PolicyChange::Unchanged,
            "a re-read that shows our write ends the loop"
        );
        let err = PolicyError::overwritten(&migrate, POLICY_ATTEMPTS);
        assert!(
            err.to_string().starts_with(
                "the policy did not stay as written: after 8 writes a re-read still shows \
                 statement eventferry-prod missing, statement eventferry-prod-0000000a back; \
                 another writer"
            ),
            "{err}"
        );
        for writes in 1..=POLICY_ATTEMPTS {
            let pause = pause_after_write(writes);
            assert!(pause >= Duration::from_millis(100), "{pause:?}");
            assert!(pause <= Duration::from_secs(8), "{pause:?}");
        }
        assert!(pause_after_write(1) <= Duration::from_millis(500));
    }

    #[test]
    fn twenty_five_patterns_make_a_policy_within_all_limits() {
        use super::super::plan::plan_rules;
        use super::super::report::ProvisionSpec;
        use eventferry_core::names::InstanceId;

        let instance = InstanceId::new(&"p".repeat(40)).unwrap();
        let prefix = super::super::ownership::rule_prefix(&instance);
        let spec = ProvisionSpec {
            queue_name: "q".repeat(76),
            event_bus: "b".repeat(256),
            patterns: (0..25)
                .map(|i| json!({"source": [format!("com.example.{i}")]}))
                .collect(),
            schedule: Some("rate(5 minutes)".into()),
            instance,
            dlq_max_receive_count: Some(3),
            visibility_timeout: None,
        };
        assert_eq!(plan_rules(&spec).unwrap().len(), 26);
        let queue = format!(
            "arn:aws-us-gov:sqs:us-gov-west-1:{ACCOUNT}:{}",
            spec.queue_name
        );
        let w = instance_statement(&queue, &prefix, &spec.event_bus).unwrap();
        let (doc, ..) = set(merge(
            Some(FOREIGN),
            &queue,
            ACCOUNT,
            std::slice::from_ref(&w),
            &[],
            |sid| is_instance_sid(sid, &prefix),
        )
        .unwrap());
        check_limits(&doc).unwrap();
        assert_eq!(sids(&doc), vec!["AllowSns".to_owned(), prefix]);
        assert!(doc.len() < MAX_POLICY_BYTES / 4, "{} bytes", doc.len());
        assert_eq!(condition_count(&statements(&doc)[1]), 3);
    }

    #[test]
    fn a_queue_already_full_of_foreign_statements_is_a_clear_error() {
        let foreign = |i: usize| {
            json!({"Sid": format!("Theirs{i}"), "Effect": "Allow",
                   "Principal": {"Service": "sns.amazonaws.com"},
                   "Action": "sqs:SendMessage", "Resource": QUEUE})
        };
        let full = policy_of((0..MAX_STATEMENTS).map(foreign).collect());
        check_limits(&full).unwrap();
        let (doc, ..) = set(merge(Some(&full), QUEUE, ACCOUNT, &[ours()], &[], owned).unwrap());
        let err = check_limits(&doc).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the queue policy would break AWS's limit of 20 statements (it would hold 21); \
             statements of other owners count too: remove the ones no longer needed, or give \
             eventferry a queue of its own"
        );

        // Bytes: few statements, one of them huge.
        let mut big = foreign(0);
        big["Resource"] = json!(format!("{QUEUE}{}", "x".repeat(MAX_POLICY_BYTES)));
        let err = check_limits(&policy_of(vec![big])).unwrap_err();
        assert!(err.to_string().contains("limit of 8192 bytes"), "{err}");

        // Conditions: 11 values in one statement.
        let mut conditioned = foreign(1);
        conditioned["Condition"] = json!({
            "ArnLike": {"aws:SourceArn": (0..10).map(|i| format!("arn:aws:sns:r:1:t{i}")).collect::<Vec<_>>()},
            "StringEquals": {"aws:SourceAccount": ACCOUNT}
        });
        let err = check_limits(&policy_of(vec![foreign(0), conditioned])).unwrap_err();
        assert!(
            err.to_string()
                .contains("limit of 10 conditions per statement (statement 2 (Theirs1) has 11)"),
            "{err}"
        );
    }
}
