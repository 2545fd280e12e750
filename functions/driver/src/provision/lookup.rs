//! Reading what exists, never changing it: the instance's rules on a queue ([`instance_rules`],
//! shared by provisioning and teardown), and [`Reader`], the only AWS access the dry run's
//! [`preview`](super::preview) gets.
//!
//! [`Reader`] keeps its SQS and EventBridge clients private and offers only read calls
//! (GetQueueUrl, GetQueueAttributes, ListQueueTags, DescribeRule, ListRules, ListTagsForResource,
//! ListTargetsByRule), so no create, put, set, tag, untag or delete call can be reached through
//! it. Every call goes through [`retry`], whose error names the step.

use std::collections::HashMap;

use aws_config::SdkConfig;
use eventferry_aws::eventbridge::{EventBridge, RuleInfo, TargetInfo};
use eventferry_aws::sqs::Sqs;
use eventferry_aws::{retry, ErrorKind};
use eventferry_core::names::InstanceId;

use super::error::ProvisionError;
use super::ownership::{is_ours, rule_prefix, TAG_QUEUE};
use super::plan::{searched_buses, RuleRef};
use super::policy;

/// Every rule of `instance` that delivers to queue `queue_name`, whichever version of eventferry
/// made it: named `eventferry-<instance>-<8 hex>` and tagged with the instance and the queue, on
/// `bus` and the default bus (where schedule rules live). Returns each rule with what ListRules
/// said of it (ARN, pattern or schedule, state).
pub async fn instance_rules(
    eb: &EventBridge,
    instance: &InstanceId,
    queue_name: &str,
    bus: &str,
) -> Result<Vec<(RuleRef, RuleInfo)>, ProvisionError> {
    let prefix = rule_prefix(instance);
    let listing = format!("{prefix}-");
    let mut rules = Vec::new();
    for bus in searched_buses(bus) {
        let found = retry(format!("list rules {listing}* on bus {bus}"), || {
            eb.list_rules(&bus, &listing)
        })
        .await?;
        for rule in found {
            if !policy::is_owned_sid(&rule.name, &prefix) {
                continue;
            }
            let step = format!("read the tags of rule {} (bus {bus})", rule.name);
            let tags = match retry(step, || eb.tags(&rule.arn)).await {
                Ok(tags) => tags,
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => return Err(e.into()),
            };
            if is_ours(&tags, Some(instance))
                && tags.get(TAG_QUEUE).map(String::as_str) == Some(queue_name)
            {
                let rule_ref = RuleRef {
                    name: rule.name.clone(),
                    bus: bus.clone(),
                };
                rules.push((rule_ref, rule));
            }
        }
    }
    Ok(rules)
}

/// Read-only access to SQS and EventBridge (see the module documentation).
pub struct Reader {
    sqs: Sqs,
    eb: EventBridge,
}

impl Reader {
    pub fn new(cfg: &SdkConfig) -> Self {
        Reader {
            sqs: Sqs::new(cfg),
            eb: EventBridge::new(cfg),
        }
    }

    /// The URL of queue `name` (`label`: "queue", "dead-letter queue"), `None` if it does not
    /// exist.
    pub async fn queue_url(
        &self,
        label: &str,
        name: &str,
    ) -> Result<Option<String>, ProvisionError> {
        Ok(retry(format!("look up {label} {name}"), || {
            self.sqs.queue_url(name)
        })
        .await?)
    }

    /// The tags of the queue at `url`.
    pub async fn queue_tags(
        &self,
        label: &str,
        name: &str,
        url: &str,
    ) -> Result<HashMap<String, String>, ProvisionError> {
        Ok(retry(format!("read the tags of {label} {name}"), || {
            self.sqs.tags(url)
        })
        .await?)
    }

    /// All attributes of the queue at `url` (its ARN and Policy among them).
    pub async fn queue_attributes(
        &self,
        label: &str,
        name: &str,
        url: &str,
    ) -> Result<HashMap<String, String>, ProvisionError> {
        Ok(retry(format!("read the attributes of {label} {name}"), || {
            self.sqs.attributes(url)
        })
        .await?)
    }

    /// Rule `name` on `bus` with its tags, `None` if there is no such rule.
    pub async fn rule(
        &self,
        name: &str,
        bus: &str,
    ) -> Result<Option<(RuleInfo, HashMap<String, String>)>, ProvisionError> {
        let label = format!("rule {name} (bus {bus})");
        let found = retry(format!("look up {label}"), || {
            self.eb.describe_rule(name, bus)
        })
        .await?;
        let Some(rule) = found else {
            return Ok(None);
        };
        let tags = retry(format!("read the tags of {label}"), || {
            self.eb.tags(&rule.arn)
        })
        .await?;
        Ok(Some((rule, tags)))
    }

    /// The targets of rule `name` on `bus` (empty if the rule is gone).
    pub async fn targets(&self, name: &str, bus: &str) -> Result<Vec<TargetInfo>, ProvisionError> {
        match retry(
            format!("list the targets of rule {name} (bus {bus})"),
            || self.eb.list_targets_by_rule(name, bus),
        )
        .await
        {
            Ok(targets) => Ok(targets),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e.into()),
        }
    }

    /// [`instance_rules`] through this reader.
    pub async fn instance_rules(
        &self,
        instance: &InstanceId,
        queue_name: &str,
        bus: &str,
    ) -> Result<Vec<(RuleRef, RuleInfo)>, ProvisionError> {
        instance_rules(&self.eb, instance, queue_name, bus).await
    }
}
