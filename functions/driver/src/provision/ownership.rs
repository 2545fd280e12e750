//! What marks a resource as eventferry's, and whose it is: the tags set when a resource is
//! created, and the name prefix of an instance's rules (which is also the prefix of its queue
//! policy statements' Sids). Also the few ARN fields provisioning reads.

use std::collections::HashMap;

use eventferry_core::names::InstanceId;

/// Tag marking a resource as created by eventferry.
pub const TAG_MANAGED_BY: &str = "managed-by";
/// Value of [`TAG_MANAGED_BY`].
pub const MANAGED_BY: &str = "eventferry";
/// Tag naming the instance that owns a resource.
pub const TAG_OWNER: &str = "eventferry-owner";
/// Tag naming the queue a rule delivers to.
pub const TAG_QUEUE: &str = "eventferry-queue";
/// The default event bus; schedule rules always live there.
pub const DEFAULT_BUS: &str = "default";

/// The prefix of every rule name (and queue policy Sid) of `instance`: `eventferry-<instance>`.
pub fn rule_prefix(instance: &InstanceId) -> String {
    format!("eventferry-{instance}")
}

/// The tags eventferry puts on what it creates.
pub fn owner_tags(instance: &InstanceId) -> HashMap<String, String> {
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

/// The account from an ARN `arn:<partition>:<service>:<region>:<account>:...`.
pub fn arn_account(arn: &str) -> Option<&str> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts[..] {
        ["arn", _, _, _, account, _] if !account.is_empty() => Some(account),
        _ => None,
    }
}

/// The queue name in an SQS ARN (`arn:<partition>:sqs:<region>:<account>:<name>`).
pub fn sqs_queue_name(arn: &str) -> Option<&str> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts[..] {
        ["arn", _, "sqs", _, _, name] if !name.is_empty() => Some(name),
        _ => None,
    }
}

/// The last path segment of a queue URL: the queue's name.
pub fn queue_name_of_url(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_are_parsed() {
        assert_eq!(
            arn_account("arn:aws:sqs:eu-west-1:123456789012:orders"),
            Some("123456789012")
        );
        assert_eq!(arn_account("not-an-arn"), None);
        assert_eq!(arn_account("arn:aws:sqs:eu-west-1::orders"), None);
    }

    #[test]
    fn sqs_arns() {
        assert_eq!(
            sqs_queue_name("arn:aws:sqs:us-east-1:000000000000:orders"),
            Some("orders")
        );
        assert_eq!(
            sqs_queue_name("arn:aws:lambda:us-east-1:0:function:f"),
            None
        );
        assert_eq!(sqs_queue_name("nope"), None);
        assert_eq!(
            queue_name_of_url("http://sqs.local:4566/000000000000/orders"),
            "orders"
        );
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
}
