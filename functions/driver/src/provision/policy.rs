//! The queue policy merge: pure functions, no I/O.
//!
//! eventferry owns exactly the statements whose `Sid` is the name of one of its rules
//! (`eventferry-<instance>-<8 hex digits>`). Everything else in a policy belongs to someone else
//! and is kept as it is, in its order.

use serde_json::{json, Map, Value};

/// The IAM policy language version used for a policy eventferry creates.
const POLICY_VERSION: &str = "2012-10-17";

/// One statement eventferry wants: EventBridge rule `sid` (its name) with ARN `rule_arn` may
/// send to the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WantedStatement {
    pub sid: String,
    pub rule_arn: String,
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

/// A queue policy that is not a JSON object with a `Statement`: we refuse to rewrite it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the existing queue policy can't be merged: {0}; fix or remove the policy by hand")]
pub struct PolicyError(String);

/// The statement allowing rule `rule_arn` (named `sid`) in `account` to send to `queue_arn`.
pub fn statement(sid: &str, queue_arn: &str, rule_arn: &str, account: &str) -> Value {
    json!({
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": queue_arn,
        "Condition": {
            "ArnEquals": {"aws:SourceArn": rule_arn},
            "StringEquals": {"aws:SourceAccount": account}
        }
    })
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
            Ok(_) => return Err(PolicyError("it is not a JSON object".into())),
            Err(e) => return Err(PolicyError(format!("it is not valid JSON ({e})"))),
        },
    };
    let statements = match doc.remove("Statement") {
        None => Vec::new(),
        Some(Value::Array(items)) => items,
        Some(single @ Value::Object(_)) => vec![single],
        Some(_) => {
            return Err(PolicyError(
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
    let original = statements.clone();

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
                let want = statement(&w.sid, queue_arn, &w.rule_arn, account);
                if *st != want {
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
        out.push(statement(&w.sid, queue_arn, &w.rule_arn, account));
    }

    if out == original {
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

#[cfg(test)]
mod tests {
    use super::*;

    const QUEUE: &str = "arn:aws:sqs:us-east-1:123456789012:orders";
    const ACCOUNT: &str = "123456789012";
    const PREFIX: &str = "eventferry-prod";

    fn wanted(hash: &str) -> WantedStatement {
        WantedStatement {
            sid: format!("{PREFIX}-{hash}"),
            rule_arn: format!("arn:aws:events:us-east-1:{ACCOUNT}:rule/{PREFIX}-{hash}"),
        }
    }

    fn owned(sid: &str) -> bool {
        is_owned_sid(sid, PREFIX)
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

    const FOREIGN: &str = r#"{"Version":"2012-10-17","Id":"theirs","Statement":[
        {"Sid":"AllowSns","Effect":"Allow","Principal":{"Service":"sns.amazonaws.com"},
         "Action":"sqs:SendMessage","Resource":"arn:aws:sqs:us-east-1:123456789012:orders"}]}"#;

    #[test]
    fn new_policy_has_one_statement_per_rule_with_both_conditions() {
        let w = [wanted("0000000a"), wanted("0000000b")];
        let (doc, added, replaced, removed) =
            set(merge(None, QUEUE, ACCOUNT, &w, &[], owned).unwrap());
        assert_eq!(added, vec![w[0].sid.clone(), w[1].sid.clone()]);
        assert!(replaced.is_empty() && removed.is_empty());
        let v: Value = serde_json::from_str(&doc).unwrap();
        assert_eq!(v["Version"], "2012-10-17");
        let st = statements(&doc);
        assert_eq!(st.len(), 2);
        assert_eq!(
            st[0],
            json!({
                "Sid": w[0].sid,
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": QUEUE,
                "Condition": {
                    "ArnEquals": {"aws:SourceArn": w[0].rule_arn},
                    "StringEquals": {"aws:SourceAccount": ACCOUNT}
                }
            })
        );
        // Empty text counts as no policy.
        assert_eq!(
            merge(Some("  "), QUEUE, ACCOUNT, &w, &[], owned).unwrap(),
            merge(None, QUEUE, ACCOUNT, &w, &[], owned).unwrap()
        );
    }

    #[test]
    fn merge_is_idempotent() {
        let w = [wanted("0000000a"), wanted("0000000b")];
        let (doc, ..) = set(merge(Some(FOREIGN), QUEUE, ACCOUNT, &w, &[], owned).unwrap());
        assert_eq!(
            merge(Some(&doc), QUEUE, ACCOUNT, &w, &[], owned).unwrap(),
            PolicyChange::Unchanged
        );
    }

    #[test]
    fn foreign_statements_and_keys_are_kept_in_place() {
        let w = [wanted("0000000a")];
        let (doc, ..) = set(merge(Some(FOREIGN), QUEUE, ACCOUNT, &w, &[], owned).unwrap());
        let v: Value = serde_json::from_str(&doc).unwrap();
        assert_eq!(v["Id"], "theirs");
        assert_eq!(sids(&doc), vec!["AllowSns".to_owned(), w[0].sid.clone()]);
        let original: Value = serde_json::from_str(FOREIGN).unwrap();
        assert_eq!(statements(&doc)[0], original["Statement"][0]);
    }

    #[test]
    fn changed_statement_is_replaced_in_place() {
        let w = [wanted("0000000a")];
        let (doc, ..) = set(merge(Some(FOREIGN), QUEUE, ACCOUNT, &w, &[], owned).unwrap());
        let moved = [WantedStatement {
            rule_arn: format!(
                "arn:aws:events:us-east-1:{ACCOUNT}:rule/custom/{}",
                w[0].sid
            ),
            ..w[0].clone()
        }];
        let (doc2, added, replaced, removed) =
            set(merge(Some(&doc), QUEUE, ACCOUNT, &moved, &[], owned).unwrap());
        assert!(added.is_empty() && removed.is_empty());
        assert_eq!(replaced, vec![w[0].sid.clone()]);
        assert_eq!(sids(&doc2), sids(&doc));
        assert_eq!(
            statements(&doc2)[1]["Condition"]["ArnEquals"]["aws:SourceArn"],
            moved[0].rule_arn
        );
    }

    #[test]
    fn stale_statements_of_ours_are_removed_others_kept() {
        let a = wanted("0000000a");
        let b = wanted("0000000b");
        let (doc, ..) = set(merge(
            Some(FOREIGN),
            QUEUE,
            ACCOUNT,
            &[a.clone(), b.clone()],
            &[],
            owned,
        )
        .unwrap());
        // Another instance whose id starts like ours: `eventferry-prod-eu-0000000c`.
        let other = statement(
            "eventferry-prod-eu-0000000c",
            QUEUE,
            "arn:aws:events:us-east-1:123456789012:rule/eventferry-prod-eu-0000000c",
            ACCOUNT,
        );
        let mut v: Value = serde_json::from_str(&doc).unwrap();
        v["Statement"].as_array_mut().unwrap().push(other);
        let doc = v.to_string();

        // Only `a` wanted now: `b` is ours and goes; the foreign and the other instance's stay.
        let (doc2, added, replaced, removed) = set(merge(
            Some(&doc),
            QUEUE,
            ACCOUNT,
            std::slice::from_ref(&a),
            &[],
            owned,
        )
        .unwrap());
        assert!(added.is_empty() && replaced.is_empty());
        assert_eq!(removed, vec![b.sid.clone()]);
        assert_eq!(
            sids(&doc2),
            vec![
                "AllowSns".to_owned(),
                a.sid.clone(),
                "eventferry-prod-eu-0000000c".to_owned()
            ]
        );
    }

    #[test]
    fn explicit_removals_apply_by_sid_and_the_last_one_clears() {
        let a = wanted("0000000a");
        let (doc, ..) = set(
            merge(None, QUEUE, ACCOUNT, std::slice::from_ref(&a), &[], |_| {
                false
            })
            .unwrap(),
        );
        // Removing the last statement clears the policy.
        assert_eq!(
            merge(
                Some(&doc),
                QUEUE,
                ACCOUNT,
                &[],
                std::slice::from_ref(&a.sid),
                |_| false
            )
            .unwrap(),
            PolicyChange::Clear {
                removed: vec![a.sid.clone()]
            }
        );
        // A Sid that is neither listed nor ours stays.
        assert_eq!(
            merge(Some(FOREIGN), QUEUE, ACCOUNT, &[], &[a.sid], |_| false).unwrap(),
            PolicyChange::Unchanged
        );
    }

    #[test]
    fn teardown_of_a_foreign_queue_keeps_only_theirs() {
        let w = [wanted("0000000a"), wanted("0000000b")];
        let (doc, ..) = set(merge(Some(FOREIGN), QUEUE, ACCOUNT, &w, &[], owned).unwrap());
        let remove: Vec<String> = w.iter().map(|w| w.sid.clone()).collect();
        let (doc2, _, _, removed) =
            set(merge(Some(&doc), QUEUE, ACCOUNT, &[], &remove, |_| false).unwrap());
        assert_eq!(removed, remove);
        let original: Value = serde_json::from_str(FOREIGN).unwrap();
        assert_eq!(
            statements(&doc2),
            original["Statement"].as_array().unwrap().clone()
        );
        // Nothing of ours left: nothing to do, no policy created.
        assert_eq!(
            merge(Some(&doc2), QUEUE, ACCOUNT, &[], &remove, owned).unwrap(),
            PolicyChange::Unchanged
        );
        assert_eq!(
            merge(None, QUEUE, ACCOUNT, &[], &remove, owned).unwrap(),
            PolicyChange::Unchanged
        );
    }

    #[test]
    fn single_statement_object_is_accepted() {
        let single = r#"{"Version":"2012-10-17","Statement":{"Sid":"One","Effect":"Deny","Principal":"*","Action":"sqs:*","Resource":"*"}}"#;
        let (doc, ..) = set(merge(
            Some(single),
            QUEUE,
            ACCOUNT,
            &[wanted("0000000a")],
            &[],
            owned,
        )
        .unwrap());
        assert_eq!(sids(&doc), vec!["One".to_owned(), wanted("0000000a").sid]);
        // Unchanged stays as the owner wrote it.
        assert_eq!(
            merge(Some(single), QUEUE, ACCOUNT, &[], &[], owned).unwrap(),
            PolicyChange::Unchanged
        );
    }

    #[test]
    fn duplicate_sids_of_ours_collapse_to_one() {
        let a = wanted("0000000a");
        let st = statement(&a.sid, QUEUE, &a.rule_arn, ACCOUNT);
        let doc = json!({"Version": "2012-10-17", "Statement": [st.clone(), st]}).to_string();
        let (doc2, added, _, removed) = set(merge(
            Some(&doc),
            QUEUE,
            ACCOUNT,
            std::slice::from_ref(&a),
            &[],
            owned,
        )
        .unwrap());
        assert!(added.is_empty());
        assert_eq!(removed, vec![a.sid.clone()]);
        assert_eq!(sids(&doc2), vec![a.sid]);
    }

    #[test]
    fn unparseable_policies_are_refused() {
        for bad in ["not json", "[]", r#"{"Statement": 5}"#] {
            let err =
                merge(Some(bad), QUEUE, ACCOUNT, &[wanted("0000000a")], &[], owned).unwrap_err();
            assert!(err.to_string().contains("can't be merged"), "{err}");
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
    }
}
