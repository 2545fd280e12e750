//! template.yaml, deployed for real: LocalStack's CloudFormation (with the SAM transform) creates
//! the stack with `DeployRouter=false` (LocalStack cannot run a Lambda without Docker); the test
//! checks the queues, the queue policy and its conditions, and the rules; an event put on the bus
//! lands in the ingest queue; deleting the stack removes everything. The rules' names are generated
//! by CloudFormation (the outputs say which); a stack name of 128 characters, the most
//! CloudFormation allows, deploys too, and no generated name passes 64 characters.
//!
//! The only change to the template is the one `sam package` makes: `CodeUri: .` becomes an S3
//! location (the transform wants one; the function is conditioned out, so nothing is read there).

use std::collections::HashMap;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_cloudformation::types::{Capability, Parameter, StackStatus};
use aws_sdk_sqs::types::QueueAttributeName;
use eventferry_tests::{
    localstack, put_event, queues_with_prefix, rules_with_prefix, short_queue_name, unique_name,
    within,
};
use serde_json::{json, Value};

const STACK_LIMIT: Duration = Duration::from_secs(120);

fn template_body() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
    let text = std::fs::read_to_string(&path).expect("read template.yaml");
    let local = "      CodeUri: .\n";
    assert_eq!(
        text.matches(local).count(),
        1,
        "template.yaml should have exactly one `CodeUri: .` (the router)"
    );
    text.replace(
        local,
        "      CodeUri: s3://eventferry-it-unused/router.zip\n",
    )
}

/// Deletes the stack when dropped, unless the test already did (it runs on failure too).
struct StackGuard {
    name: String,
    config: SdkConfig,
    deleted: bool,
}

impl Drop for StackGuard {
    fn drop(&mut self) {
        if self.deleted {
            return;
        }
        let (name, config) = (self.name.clone(), self.config.clone());
        // A fresh runtime on its own thread: Drop cannot await, and the test's runtime may be
        // unwinding.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let cfn = aws_sdk_cloudformation::Client::new(&config);
                let _ = tokio::time::timeout(
                    Duration::from_secs(30),
                    cfn.delete_stack().stack_name(&name).send(),
                )
                .await;
                eprintln!("deploy test: deleted stack {name} (cleanup after failure)");
            });
        })
        .join();
    }
}

/// The stack's status, or `None` once it is gone.
async fn stack_status(cfn: &aws_sdk_cloudformation::Client, name: &str) -> Option<StackStatus> {
    match cfn.describe_stacks().stack_name(name).send().await {
        Ok(out) => out
            .stacks()
            .first()
            .and_then(|s| s.stack_status().cloned())
            .filter(|s| *s != StackStatus::DeleteComplete),
        Err(e) => {
            let msg = format!("{:?}", e.into_service_error());
            assert!(msg.contains("does not exist"), "DescribeStacks: {msg}");
            None
        }
    }
}

async fn stack_events(cfn: &aws_sdk_cloudformation::Client, name: &str) -> String {
    match cfn.describe_stack_events().stack_name(name).send().await {
        Ok(out) => out
            .stack_events()
            .iter()
            .map(|e| {
                format!(
                    "{} {:?} {}",
                    e.logical_resource_id().unwrap_or_default(),
                    e.resource_status(),
                    e.resource_status_reason().unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Err(e) => format!("(no events: {e})"),
    }
}

fn param(key: &str, value: &str) -> Parameter {
    Parameter::builder()
        .parameter_key(key)
        .parameter_value(value)
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn template_deploys_to_localstack_routes_an_event_and_deletes_cleanly() {
    let config = localstack().await;
    let cfn = aws_sdk_cloudformation::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let eb = aws_sdk_eventbridge::Client::new(&config);

    let stack = unique_name("deploy");
    let queue_name = format!("{stack}-q");
    let source = format!("{stack}.source");
    let pattern = json!({"source": [source], "detail-type": ["order placed"]}).to_string();

    within(
        Duration::from_secs(30),
        "CreateStack",
        cfn.create_stack()
            .stack_name(&stack)
            .template_body(template_body())
            .capabilities(Capability::CapabilityAutoExpand)
            .capabilities(Capability::CapabilityIam)
            .parameters(param("DeployRouter", "false"))
            .parameters(param("QueueName", &queue_name))
            .parameters(param("EventPattern", &pattern))
            .parameters(param("ScheduleExpression", "rate(1 hour)"))
            .parameters(param("MaxReceiveCount", "4"))
            .send(),
    )
    .await
    .expect("CreateStack");
    let mut guard = StackGuard {
        name: stack.clone(),
        config: config.clone(),
        deleted: false,
    };

    // 1. The stack comes up.
    let status = within(STACK_LIMIT, "CREATE_COMPLETE", async {
        loop {
            match stack_status(&cfn, &stack).await {
                Some(StackStatus::CreateInProgress) => {
                    tokio::time::sleep(Duration::from_millis(500)).await
                }
                other => return other,
            }
        }
    })
    .await;
    assert_eq!(
        status,
        Some(StackStatus::CreateComplete),
        "stack events:\n{}",
        stack_events(&cfn, &stack).await
    );

    let described = cfn
        .describe_stacks()
        .stack_name(&stack)
        .send()
        .await
        .expect("DescribeStacks");
    let outputs: HashMap<String, String> = described.stacks()[0]
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
        .collect();
    let out = |k: &str| -> String {
        outputs
            .get(k)
            .unwrap_or_else(|| panic!("output {k} missing: {outputs:?}"))
            .clone()
    };
    let (queue_url, queue_arn) = (out("QueueUrl"), out("QueueArn"));
    let (dlq_url, dlq_arn) = (out("DeadLetterQueueUrl"), out("DeadLetterQueueArn"));
    let (pattern_arn, schedule_arn) = (out("PatternRuleArn"), out("ScheduleRuleArn"));
    let pattern_rule = rule_name_output(&outputs, "PatternRuleName", &pattern_arn);
    let schedule_rule = rule_name_output(&outputs, "ScheduleRuleName", &schedule_arn);
    assert!(
        queue_arn.ends_with(&format!(":{queue_name}")),
        "{queue_arn}"
    );
    assert!(
        dlq_arn.ends_with(&format!(":{queue_name}-dlq")),
        "{dlq_arn}"
    );
    // DeployRouter=false: no router, no role, no retry queue.
    for k in ["RouterFunctionArn", "RetryQueueUrl"] {
        assert!(
            !outputs.contains_key(k),
            "{k} with DeployRouter=false: {outputs:?}"
        );
    }
    let resources = cfn
        .list_stack_resources()
        .stack_name(&stack)
        .send()
        .await
        .expect("ListStackResources");
    let mut logical: Vec<&str> = resources
        .stack_resource_summaries()
        .iter()
        .filter_map(|r| r.logical_resource_id())
        .collect();
    logical.sort_unstable();
    assert_eq!(
        logical,
        [
            "DeadLetterQueue",
            "IngestQueue",
            "IngestQueuePolicy",
            "PatternRule",
            "ScheduleRule"
        ]
    );

    // 2. The queue: SSE, redrive to the DLQ, and the policy with its conditions.
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .expect("GetQueueAttributes")
        .attributes
        .unwrap_or_default();
    let attr = |k: QueueAttributeName| attrs.get(&k).cloned().unwrap_or_default();
    assert_eq!(attr(QueueAttributeName::SqsManagedSseEnabled), "true");
    let redrive: Value =
        serde_json::from_str(&attr(QueueAttributeName::RedrivePolicy)).expect("RedrivePolicy");
    assert_eq!(redrive["deadLetterTargetArn"], json!(dlq_arn));
    assert_eq!(
        redrive["maxReceiveCount"].to_string().trim_matches('"'),
        "4"
    );
    let policy: Value = serde_json::from_str(&attr(QueueAttributeName::Policy)).expect("Policy");
    let statements = policy["Statement"].as_array().expect("statements");
    assert_eq!(statements.len(), 1, "{policy}");
    let st = &statements[0];
    assert_eq!(st["Effect"], "Allow");
    assert_eq!(st["Principal"]["Service"], "events.amazonaws.com");
    assert_eq!(st["Action"], "sqs:SendMessage");
    assert_eq!(st["Resource"], json!(queue_arn));
    let mut sources: Vec<String> = match &st["Condition"]["ArnEquals"]["aws:SourceArn"] {
        Value::Array(a) => a.iter().map(|v| v.as_str().unwrap().to_owned()).collect(),
        Value::String(s) => vec![s.clone()],
        other => panic!("aws:SourceArn is {other}: {policy}"),
    };
    sources.sort();
    let mut rule_arns = vec![pattern_arn.clone(), schedule_arn.clone()];
    rule_arns.sort();
    assert_eq!(sources, rule_arns, "{policy}");
    assert_eq!(
        st["Condition"]["StringEquals"]["aws:SourceAccount"],
        "000000000000"
    );
    let dlq_attrs = sqs
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::SqsManagedSseEnabled)
        .send()
        .await
        .expect("GetQueueAttributes (DLQ)")
        .attributes
        .unwrap_or_default();
    assert_eq!(
        dlq_attrs
            .get(&QueueAttributeName::SqsManagedSseEnabled)
            .map(String::as_str),
        Some("true")
    );

    // The rules: the pattern on the default bus, the schedule, each targeting the queue.
    let rule = eb
        .describe_rule()
        .name(&pattern_rule)
        .send()
        .await
        .expect("DescribeRule pattern");
    assert_eq!(rule.arn(), Some(pattern_arn.as_str()));
    let got: Value = serde_json::from_str(rule.event_pattern().expect("pattern")).unwrap();
    assert_eq!(got, serde_json::from_str::<Value>(&pattern).unwrap());
    let rule = eb
        .describe_rule()
        .name(&schedule_rule)
        .send()
        .await
        .expect("DescribeRule schedule");
    assert_eq!(rule.arn(), Some(schedule_arn.as_str()));
    assert_eq!(rule.schedule_expression(), Some("rate(1 hour)"));
    for name in [&pattern_rule, &schedule_rule] {
        assert_eq!(
            rule_targets(&config, name).await,
            [queue_arn.as_str()],
            "targets of {name}"
        );
    }

    // 3. PutEvents: a non-matching event, then a matching one; only the matching one arrives.
    let other_id = put_event(&config, "default", &source, "order cancelled", r#"{"n":0}"#).await;
    let id = put_event(&config, "default", &source, "order placed", r#"{"n":1}"#).await;
    let bodies = receive_until(&config, &queue_url, &id).await;
    let event = bodies.iter().find(|b| b["id"] == json!(id)).unwrap();
    assert_eq!(event["source"], json!(source));
    assert_eq!(event["detail"], json!({"n": 1}));
    assert!(
        !bodies.iter().any(|b| b["id"] == json!(other_id)),
        "the non-matching event reached the queue: {bodies:?}"
    );

    // 4. Delete the stack: the stack, the queues and the rules are gone.
    cfn.delete_stack()
        .stack_name(&stack)
        .send()
        .await
        .expect("DeleteStack");
    let status = within(STACK_LIMIT, "the stack to be deleted", async {
        loop {
            match stack_status(&cfn, &stack).await {
                Some(StackStatus::DeleteInProgress) => {
                    tokio::time::sleep(Duration::from_millis(500)).await
                }
                other => return other,
            }
        }
    })
    .await;
    assert_eq!(
        status,
        None,
        "stack not deleted; events:\n{}",
        stack_events(&cfn, &stack).await
    );
    guard.deleted = true;
    assert_eq!(
        queues_with_prefix(&config, &stack).await,
        Vec::<String>::new()
    );
    for name in [&pattern_rule, &schedule_rule] {
        assert_eq!(
            rules_with_prefix(&config, "default", name).await,
            Vec::<String>::new()
        );
    }
}

/// Receives from the queue until the event `id` arrives (at most 30 s); every body received.
async fn receive_until(config: &SdkConfig, queue_url: &str, id: &str) -> Vec<Value> {
    let sqs = aws_sdk_sqs::Client::new(config);
    within(
        Duration::from_secs(30),
        "the event in the ingest queue",
        async {
            let mut bodies: Vec<Value> = Vec::new();
            loop {
                let got = sqs
                    .receive_message()
                    .queue_url(queue_url)
                    .max_number_of_messages(10)
                    .wait_time_seconds(1)
                    .send()
                    .await
                    .expect("ReceiveMessage");
                for m in got.messages() {
                    bodies.push(serde_json::from_str(m.body().unwrap_or_default()).expect("JSON"));
                }
                if bodies.iter().any(|b| b["id"] == json!(id)) {
                    return bodies;
                }
            }
        },
    )
    .await
}

/// The rule name in output `key`: at most 64 characters, and the last part of the rule's ARN.
fn rule_name_output(outputs: &HashMap<String, String>, key: &str, arn: &str) -> String {
    let name = outputs
        .get(key)
        .unwrap_or_else(|| panic!("output {key} missing: {outputs:?}"))
        .clone();
    assert!(
        (1..=64).contains(&name.len()),
        "{key} {name:?} is {} characters; EventBridge allows 1 to 64",
        name.len()
    );
    assert_eq!(
        arn.rsplit_once(":rule/").map(|(_, n)| n),
        Some(name.as_str()),
        "{key} is not the name in the rule's ARN"
    );
    name
}

/// The ARNs of the targets of rule `name` on the default bus.
async fn rule_targets(config: &SdkConfig, name: &str) -> Vec<String> {
    aws_sdk_eventbridge::Client::new(config)
        .list_targets_by_rule()
        .rule(name)
        .send()
        .await
        .expect("ListTargetsByRule")
        .targets()
        .iter()
        .map(|t| t.arn().to_owned())
        .collect()
}

/// Creates the stack with `params` and waits for CREATE_COMPLETE; returns the guard and outputs.
async fn create_stack(
    config: &SdkConfig,
    stack: &str,
    params: &[(&str, &str)],
) -> (StackGuard, HashMap<String, String>) {
    let cfn = aws_sdk_cloudformation::Client::new(config);
    let mut req = cfn
        .create_stack()
        .stack_name(stack)
        .template_body(template_body())
        .capabilities(Capability::CapabilityAutoExpand)
        .capabilities(Capability::CapabilityIam);
    for (k, v) in params {
        req = req.parameters(param(k, v));
    }
    within(Duration::from_secs(30), "CreateStack", req.send())
        .await
        .expect("CreateStack");
    let guard = StackGuard {
        name: stack.to_owned(),
        config: config.clone(),
        deleted: false,
    };
    let status = within(STACK_LIMIT, "CREATE_COMPLETE", async {
        loop {
            match stack_status(&cfn, stack).await {
                Some(StackStatus::CreateInProgress) => {
                    tokio::time::sleep(Duration::from_millis(500)).await
                }
                other => return other,
            }
        }
    })
    .await;
    assert_eq!(
        status,
        Some(StackStatus::CreateComplete),
        "stack events:\n{}",
        stack_events(&cfn, stack).await
    );
    let described = cfn
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .expect("DescribeStacks");
    let outputs = described.stacks()[0]
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
        .collect();
    (guard, outputs)
}

/// Deletes the stack and waits until it is gone.
async fn delete_stack(config: &SdkConfig, mut guard: StackGuard) {
    let cfn = aws_sdk_cloudformation::Client::new(config);
    cfn.delete_stack()
        .stack_name(&guard.name)
        .send()
        .await
        .expect("DeleteStack");
    let status = within(STACK_LIMIT, "the stack to be deleted", async {
        loop {
            match stack_status(&cfn, &guard.name).await {
                Some(StackStatus::DeleteInProgress) => {
                    tokio::time::sleep(Duration::from_millis(500)).await
                }
                other => return other,
            }
        }
    })
    .await;
    assert_eq!(
        status,
        None,
        "stack not deleted; events:\n{}",
        stack_events(&cfn, &guard.name).await
    );
    guard.deleted = true;
}

/// A schedule alone (no pattern): one rule, on the default bus, and the policy names only it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_alone_makes_one_rule_and_deletes_cleanly() {
    let config = localstack().await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let stack = unique_name("deploy-sched");
    let queue_name = format!("{stack}-q");
    let (guard, outputs) = create_stack(
        &config,
        &stack,
        &[
            ("DeployRouter", "false"),
            ("QueueName", &queue_name),
            ("ScheduleExpression", "rate(5 minutes)"),
        ],
    )
    .await;
    for k in ["PatternRuleArn", "PatternRuleName"] {
        assert!(
            !outputs.contains_key(k),
            "{k} without a pattern: {outputs:?}"
        );
    }
    let schedule_arn = outputs.get("ScheduleRuleArn").expect("ScheduleRuleArn");
    let schedule_rule = rule_name_output(&outputs, "ScheduleRuleName", schedule_arn);
    // The stack's only rule, and it exists on the default bus.
    let resources = aws_sdk_cloudformation::Client::new(&config)
        .list_stack_resources()
        .stack_name(&stack)
        .send()
        .await
        .expect("ListStackResources");
    let rules: Vec<&str> = resources
        .stack_resource_summaries()
        .iter()
        .filter(|r| r.resource_type() == Some("AWS::Events::Rule"))
        .filter_map(|r| r.logical_resource_id())
        .collect();
    assert_eq!(rules, ["ScheduleRule"]);
    assert_eq!(
        rules_with_prefix(&config, "default", &schedule_rule).await,
        std::slice::from_ref(&schedule_rule)
    );
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(outputs.get("QueueUrl").expect("QueueUrl"))
        .attribute_names(QueueAttributeName::Policy)
        .send()
        .await
        .expect("GetQueueAttributes")
        .attributes
        .unwrap_or_default();
    let policy: Value =
        serde_json::from_str(attrs.get(&QueueAttributeName::Policy).expect("Policy")).unwrap();
    let source_arn = &policy["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"];
    let sources: Vec<&str> = match source_arn {
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        Value::String(s) => vec![s.as_str()],
        other => panic!("aws:SourceArn is {other}: {policy}"),
    };
    assert_eq!(sources, [schedule_arn.as_str()], "{policy}");

    delete_stack(&config, guard).await;
    assert_eq!(
        queues_with_prefix(&config, &stack).await,
        Vec::<String>::new()
    );
    assert_eq!(
        rules_with_prefix(&config, "default", &schedule_rule).await,
        Vec::<String>::new()
    );
}

/// The longest stack name CloudFormation allows (128 characters) deploys: every name the stack
/// holds is generated within its service's limit (rules 64, queues 80), the rules route an event,
/// and the stack deletes cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_128_character_stack_name_deploys_with_names_within_the_limits() {
    let config = localstack().await;
    let cfn = aws_sdk_cloudformation::Client::new(&config);
    let base = unique_name("deploy-long");
    let stack = format!("{base}-{}", "n".repeat(127 - base.len()));
    assert_eq!(stack.len(), 128);
    let queue_name = short_queue_name("eventferry-it", "deploy-long");
    let source = format!("{queue_name}.source");
    let pattern = json!({"source": [source]}).to_string();
    let (guard, outputs) = create_stack(
        &config,
        &stack,
        &[
            ("DeployRouter", "false"),
            ("QueueName", &queue_name),
            ("EventPattern", &pattern),
            ("ScheduleExpression", "rate(1 hour)"),
        ],
    )
    .await;
    let out = |k: &str| -> &str {
        outputs
            .get(k)
            .unwrap_or_else(|| panic!("output {k} missing: {outputs:?}"))
    };
    let pattern_rule = rule_name_output(&outputs, "PatternRuleName", out("PatternRuleArn"));
    let schedule_rule = rule_name_output(&outputs, "ScheduleRuleName", out("ScheduleRuleArn"));

    // Every resource of the stack, by its physical id: a rule's is its name (LocalStack prefixes
    // "<bus>|"), a queue's its URL.
    let described = cfn
        .describe_stack_resources()
        .stack_name(&stack)
        .send()
        .await
        .expect("DescribeStackResources");
    let (mut rules, mut queues) = (Vec::new(), Vec::new());
    for r in described.stack_resources() {
        let (logical, physical) = (
            r.logical_resource_id().unwrap_or_default(),
            r.physical_resource_id().unwrap_or_default(),
        );
        match r.resource_type().unwrap_or_default() {
            "AWS::Events::Rule" => {
                let name = physical.rsplit('|').next().unwrap_or_default();
                assert!(
                    (1..=64).contains(&name.len()),
                    "{logical}: rule name {name:?} is {} characters (EventBridge: 1 to 64)",
                    name.len()
                );
                rules.push(name.to_owned());
            }
            "AWS::SQS::Queue" => {
                let name = physical.rsplit('/').next().unwrap_or_default();
                assert!(
                    name.starts_with(&queue_name) && name.len() <= 80,
                    "{logical}: queue name {name:?} ({} characters) should be built from \
                     QueueName {queue_name:?}, within SQS's 80",
                    name.len()
                );
                queues.push(name.to_owned());
            }
            "AWS::SQS::QueuePolicy" => {}
            other => panic!("{logical}: unexpected resource type {other} in the stack"),
        }
    }
    rules.sort();
    let mut want_rules = vec![pattern_rule.clone(), schedule_rule.clone()];
    want_rules.sort();
    assert_eq!(rules, want_rules);
    queues.sort();
    assert_eq!(queues, [queue_name.clone(), format!("{queue_name}-dlq")]);
    for name in [&pattern_rule, &schedule_rule] {
        assert_eq!(
            rule_targets(&config, name).await,
            [out("QueueArn")],
            "targets of {name}"
        );
    }

    // The pattern rule, under its generated name, routes an event to the queue.
    let id = put_event(&config, "default", &source, "checked", r#"{"n":1}"#).await;
    let bodies = receive_until(&config, out("QueueUrl"), &id).await;
    let event = bodies.iter().find(|b| b["id"] == json!(id)).unwrap();
    assert_eq!(event["source"], json!(source));

    delete_stack(&config, guard).await;
    assert_eq!(
        queues_with_prefix(&config, &queue_name).await,
        Vec::<String>::new()
    );
    for name in [&pattern_rule, &schedule_rule] {
        assert_eq!(
            rules_with_prefix(&config, "default", name).await,
            Vec::<String>::new()
        );
    }
}

/// Offline: no resource in template.yaml takes a name built from the stack name (a long stack
/// name would pass the 64-character limits of rules, functions and roles); the rules, the
/// function and the role have no name at all, so CloudFormation generates one. Covers the
/// router's resources, which LocalStack cannot deploy without Docker.
#[test]
fn template_builds_no_resource_name_from_the_stack_name() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
    let text = std::fs::read_to_string(&path).expect("read template.yaml");
    let t: serde_norway::Value = serde_norway::from_str(&text).expect("template.yaml is YAML");
    let resources = t["Resources"].as_mapping().expect("Resources");
    let mut names_checked = 0;
    for (logical, r) in resources {
        let logical = logical.as_str().expect("logical id");
        let Some(props) = r["Properties"].as_mapping() else {
            continue;
        };
        for (key, value) in props {
            let key = key.as_str().expect("property name");
            if !key.ends_with("Name") {
                continue;
            }
            names_checked += 1;
            let value = serde_norway::to_string(value).expect("YAML");
            assert!(
                !value.contains("AWS::StackName"),
                "{logical}.{key} is built from the stack name: {value}"
            );
        }
    }
    assert!(names_checked >= 4, "expected name properties to check");
    for (logical, key) in [
        ("PatternRule", "Name"),
        ("ScheduleRule", "Name"),
        ("RouterFunction", "FunctionName"),
        ("RouterRole", "RoleName"),
    ] {
        assert!(
            t["Resources"][logical]["Properties"].get(key).is_none(),
            "{logical} has a {key}: let CloudFormation generate it"
        );
    }
}
