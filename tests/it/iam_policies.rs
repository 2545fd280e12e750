//! Least privilege, checked offline: the policies in `infra/iam/` and every policy document in
//! `template.yaml` (role policies, queue policies and customer-managed policies alike) must name
//! no `*` action (nor `service:*`, nor `NotAction`), and may use a `*` resource only for actions
//! that AWS does not let a policy scope to a resource. The subscription store's policies grant
//! the one document and nothing else: the router reads it, only the writers' policy writes it.
//!
//! No LocalStack needed.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::{json, Value as Json};
use serde_norway::Value as Yaml;

/// Actions that support no resource-level permissions (the Service Authorization Reference lists no
/// resource type for them), so the only resource a policy can give them is `*`. Anything else with
/// a `*` resource fails the test.
const UNSCOPABLE_ACTIONS: &[&str] = &[
    // SQS ListQueues lists queues of the account; it has no resource type.
    "sqs:ListQueues",
    // EventBridge ListRules lists the rules of a bus; it has no resource type.
    "events:ListRules",
    // X-Ray's trace-writing actions have no resource types (the router's Tracing: Active).
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
];

/// Exactly the AWS actions `eventferry drive`, `eventferry cleanup` and `eventferry emit` call
/// (crates/aws/src/{sqs,eventbridge,lambda}.rs as used by functions/driver/src), with the call site.
const DRIVER_ACTIONS: &[&str] = &[
    "sqs:GetQueueUrl", // provision::ensure_queue, sweep (find queue / DLQ by name)
    "sqs:CreateQueue", // provision::ensure_queue
    "sqs:TagQueue",    // CreateQueue with tags (eventferry-owner) needs it; replicas' leases
    "sqs:UntagQueue",  // replicas: release a lease, remove expired leases and closing markers
    "sqs:GetQueueAttributes", // provision (policy, redrive), drive (visibility timeout), sweep
    "sqs:SetQueueAttributes", // provision (policy merge, redrive), cleanup (policy statements)
    "sqs:ListQueueTags", // provision and sweep (ownership check)
    "sqs:DeleteQueue", // cleanup
    "sqs:ListQueues",  // cleanup's sweep
    "sqs:ReceiveMessage", // drive: the ferry's long poll
    "sqs:DeleteMessage", // drive: DeleteMessageBatch after the sink acknowledged
    "sqs:ChangeMessageVisibility", // drive: extend / release a message in flight
    "events:DescribeRule", // provision::ensure_rules
    "events:PutRule",  // provision::ensure_rules
    "events:TagResource", // PutRule with tags needs it
    "events:ListTagsForResource", // provision and sweep (ownership check)
    "events:ListTargetsByRule", // provision, cleanup
    "events:PutTargets", // provision
    "events:RemoveTargets", // cleanup
    "events:DeleteRule", // cleanup
    "events:ListRules", // provision (stale rules of the instance), sweep
    "lambda:InvokeFunction", // drive --sink lambda:<function>
    "events:PutEvents", // emit
];

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// One Allow statement, reduced to what the checks need.
#[derive(Debug)]
struct Statement {
    origin: String,
    actions: Vec<String>,
    /// Literal resource strings (a `!Sub` template counts as its literal text); `None` for
    /// resources computed by CloudFormation (`!GetAtt`, `!Ref`, `!If`), which are never `*`.
    resources: Vec<Option<String>>,
}

fn strings_of_json(v: &Json) -> Vec<String> {
    match v {
        Json::String(s) => vec![s.clone()],
        Json::Array(a) => a.iter().flat_map(strings_of_json).collect(),
        other => panic!("expected a string or a list of strings, got {other}"),
    }
}

fn statements_of_json(origin: &str, doc: &Json) -> Vec<Statement> {
    let list = match &doc["Statement"] {
        Json::Array(a) => a.clone(),
        s @ Json::Object(_) => vec![s.clone()],
        other => panic!("{origin}: Statement is {other}"),
    };
    list.iter()
        .enumerate()
        .map(|(i, s)| {
            let origin = format!("{origin} statement {i} ({})", s["Sid"]);
            assert!(
                s.get("NotAction").is_none() && s.get("NotResource").is_none(),
                "{origin}: NotAction/NotResource grant everything else"
            );
            Statement {
                actions: strings_of_json(&s["Action"]),
                resources: strings_of_json(&s["Resource"])
                    .into_iter()
                    .map(Some)
                    .collect(),
                origin,
            }
        })
        .collect()
}

fn yaml_str(v: &Yaml) -> Option<&str> {
    v.as_str()
}

/// Strings of an Action value (literal strings only: actions are never computed).
fn yaml_actions(origin: &str, v: &Yaml) -> Vec<String> {
    match v {
        Yaml::String(s) => vec![s.clone()],
        Yaml::Sequence(a) => a.iter().flat_map(|x| yaml_actions(origin, x)).collect(),
        other => panic!("{origin}: Action must be literal strings, got {other:?}"),
    }
}

/// Resources of a Resource value: literal strings, `!Sub` text, `!Join ["", [...]]` of those
/// with `!Ref X` as `<X>`, or `None` for other computed values.
fn yaml_resources(v: &Yaml) -> Vec<Option<String>> {
    match v {
        Yaml::String(s) => vec![Some(s.clone())],
        Yaml::Sequence(a) => a.iter().flat_map(yaml_resources).collect(),
        Yaml::Tagged(t) if t.tag == "!Join" => {
            let text = join_parts(v).and_then(|parts| {
                parts
                    .iter()
                    .map(|p| match (ref_of(p), yaml_resources(p).as_slice()) {
                        (Some(r), _) => Some(format!("<{r}>")),
                        (None, [Some(s)]) => Some(s.clone()),
                        _ => None,
                    })
                    .collect::<Option<Vec<String>>>()
            });
            vec![text.map(|parts| parts.concat())]
        }
        Yaml::Tagged(t) if t.tag == "!Sub" => match &t.value {
            Yaml::String(s) => vec![Some(s.clone())],
            Yaml::Sequence(a) => vec![a.first().and_then(yaml_str).map(str::to_owned)],
            _ => vec![None],
        },
        Yaml::Mapping(m) if m.contains_key("Fn::Sub") => {
            vec![m.get("Fn::Sub").and_then(yaml_str).map(str::to_owned)]
        }
        _ => vec![None],
    }
}

fn statements_of_yaml(origin: &str, doc: &Yaml) -> Vec<Statement> {
    let list = match doc.get("Statement") {
        Some(Yaml::Sequence(a)) => a.clone(),
        Some(s @ Yaml::Mapping(_)) => vec![s.clone()],
        other => panic!("{origin}: Statement is {other:?}"),
    };
    list.iter()
        .enumerate()
        .map(|(i, s)| {
            let origin = format!("{origin} statement {i}");
            assert!(
                s.get("NotAction").is_none() && s.get("NotResource").is_none(),
                "{origin}: NotAction/NotResource grant everything else"
            );
            Statement {
                actions: yaml_actions(&origin, s.get("Action").expect("Action")),
                resources: yaml_resources(s.get("Resource").expect("Resource")),
                origin,
            }
        })
        .collect()
}

fn template() -> Yaml {
    let path = repo_root().join("template.yaml");
    let text = std::fs::read_to_string(&path).expect("read template.yaml");
    serde_norway::from_str(&text).expect("template.yaml is YAML")
}

/// Every policy document in the template, with where it is.
fn template_statements(t: &Yaml) -> Vec<Statement> {
    let resources = t
        .get("Resources")
        .and_then(Yaml::as_mapping)
        .expect("Resources");
    let mut out = Vec::new();
    for (name, r) in resources {
        let name = name.as_str().expect("logical id");
        let ty = r.get("Type").and_then(Yaml::as_str).expect("Type");
        let props = r.get("Properties").expect("Properties");
        match ty {
            "AWS::IAM::Role" => {
                for p in props
                    .get("Policies")
                    .and_then(Yaml::as_sequence)
                    .into_iter()
                    .flatten()
                {
                    let pname = p.get("PolicyName").and_then(Yaml::as_str).unwrap_or("?");
                    out.extend(statements_of_yaml(
                        &format!("{name} policy {pname}"),
                        p.get("PolicyDocument").expect("PolicyDocument"),
                    ));
                }
                assert!(
                    props.get("ManagedPolicyArns").is_none(),
                    "{name}: managed policies are not least privilege; write the statements out"
                );
            }
            "AWS::IAM::RolePolicy"
            | "AWS::IAM::Policy"
            | "AWS::IAM::ManagedPolicy"
            | "AWS::SQS::QueuePolicy" => {
                out.extend(statements_of_yaml(
                    name,
                    props.get("PolicyDocument").expect("PolicyDocument"),
                ));
            }
            "AWS::Serverless::Function" => {
                // With its own Role, SAM adds no generated role and no managed policies.
                assert!(
                    props.get("Role").is_some(),
                    "{name}: give the function an explicit Role (SAM's generated one adds \
                     AWSLambdaSQSQueueExecutionRole, SQS actions on every queue)"
                );
                assert!(
                    props.get("Policies").is_none(),
                    "{name}: Policies are ignored with an explicit Role; put them on the role"
                );
            }
            _ => {}
        }
    }
    out
}

/// The resource part of an ARN is only `*` (or `type/*`): nothing is scoped. CloudFormation's
/// pseudo parameters (which hold colons) count as one ARN part each.
fn unscoped(resource: &str) -> bool {
    if resource == "*" {
        return true;
    }
    let resource = resource
        .replace("${AWS::Partition}", "aws")
        .replace("${AWS::Region}", "region")
        .replace("${AWS::AccountId}", "account");
    let parts: Vec<&str> = resource.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", _, _, _, _, rest] => {
            *rest == "*"
                || rest
                    .split_once(['/', ':'])
                    .is_some_and(|(_, name)| name == "*")
        }
        _ => false,
    }
}

/// The failures of one statement, as messages.
fn violations(s: &Statement) -> Vec<String> {
    let mut bad = Vec::new();
    for a in &s.actions {
        if a.contains('*') {
            bad.push(format!("{}: wildcard action {a:?}", s.origin));
        }
    }
    let broad: Vec<&String> = s
        .resources
        .iter()
        .flatten()
        .filter(|r| unscoped(r))
        .collect();
    if !broad.is_empty() {
        for a in &s.actions {
            if !UNSCOPABLE_ACTIONS.contains(&a.as_str()) {
                bad.push(format!(
                    "{}: {a} can be scoped to a resource, but the statement gives it {broad:?}",
                    s.origin
                ));
            }
        }
    }
    bad
}

fn driver_policy() -> Json {
    let path = repo_root().join("infra/iam/driver-policy.json");
    let text = std::fs::read_to_string(&path).expect("read infra/iam/driver-policy.json");
    serde_json::from_str(&text).expect("driver-policy.json is JSON")
}

#[test]
fn driver_policy_has_no_wildcard_actions_or_needless_wildcard_resources() {
    let statements = statements_of_json("driver-policy.json", &driver_policy());
    let bad: Vec<String> = statements.iter().flat_map(violations).collect();
    assert!(bad.is_empty(), "driver-policy.json:\n{}", bad.join("\n"));
}

#[test]
fn router_policy_for_cargo_lambda_deploy_has_no_wildcards() {
    // infra/iam/router-policy.json: the role docs/deploy.md has `cargo lambda deploy` users create.
    let path = repo_root().join("infra/iam/router-policy.json");
    let doc: Json = serde_json::from_str(&std::fs::read_to_string(path).expect("read"))
        .expect("router-policy.json is JSON");
    let statements = statements_of_json("router-policy.json", &doc);
    let bad: Vec<String> = statements.iter().flat_map(violations).collect();
    assert!(bad.is_empty(), "router-policy.json:\n{}", bad.join("\n"));
    // The same actions as the template's router role (the subscription store's read policy
    // included; not the writers' policy, nor the queue policy), plus logs:CreateLogGroup: deployed
    // this way, nothing creates /aws/lambda/<function>, so Lambda does; the stack creates its log
    // group itself.
    let actions = |ss: &[Statement]| -> BTreeSet<String> {
        ss.iter()
            .filter(|s| {
                !s.origin.contains("IngestQueuePolicy")
                    && !s.origin.contains("SubscriptionsWritePolicy")
            })
            .flat_map(|s| s.actions.clone())
            .collect()
    };
    let mut want = actions(&template_statements(&template()));
    assert!(
        !want.contains("logs:CreateLogGroup"),
        "template.yaml creates the router's log group; its role needs no logs:CreateLogGroup"
    );
    want.insert("logs:CreateLogGroup".to_owned());
    assert_eq!(actions(&statements), want);
    // The router reads the subscription store and never writes it.
    let have = actions(&statements);
    for a in ["s3:GetObject", "s3:ListBucket"] {
        assert!(have.contains(a), "router-policy.json lacks {a}: {have:?}");
    }
    assert!(
        !have.contains("s3:PutObject"),
        "router-policy.json: the router never writes the store"
    );
    // Its store statements: the one document, and ListBucket only for that key.
    let store = store_statements(&doc, "router-policy.json");
    assert_eq!(
        store,
        [
            json!({"Sid": "ReadSubscriptions", "Effect": "Allow", "Action": ["s3:GetObject"],
                   "Resource": ["arn:aws:s3:::SUBSCRIPTIONS_BUCKET/subscriptions.json"]}),
            json!({"Sid": "MissingIsNotFound", "Effect": "Allow", "Action": ["s3:ListBucket"],
                   "Resource": ["arn:aws:s3:::SUBSCRIPTIONS_BUCKET"]}),
        ]
    );
}

/// The statements of a JSON policy that name an `s3:` action, with `Action` and `Resource` as
/// lists.
fn store_statements(doc: &Json, origin: &str) -> Vec<Json> {
    doc["Statement"]
        .as_array()
        .unwrap_or_else(|| panic!("{origin}: Statement is not a list"))
        .iter()
        .filter(|st| {
            strings_of_json(&st["Action"])
                .iter()
                .any(|a| a.starts_with("s3:"))
        })
        .map(|st| {
            let mut st = st.clone();
            for key in ["Action", "Resource"] {
                st[key] = json!(strings_of_json(&st[key]));
            }
            st
        })
        .collect()
}

#[test]
fn subscriptions_writer_policy_writes_the_one_document_as_the_template_does() {
    // infra/iam/subscriptions-writer-policy.json: for whoever runs `eventferry subscriptions`
    // against a store not made by the stack.
    let path = repo_root().join("infra/iam/subscriptions-writer-policy.json");
    let doc: Json = serde_json::from_str(&std::fs::read_to_string(path).expect("read"))
        .expect("subscriptions-writer-policy.json is JSON");
    let statements = statements_of_json("subscriptions-writer-policy.json", &doc);
    let bad: Vec<String> = statements.iter().flat_map(violations).collect();
    assert!(
        bad.is_empty(),
        "subscriptions-writer-policy.json:\n{}",
        bad.join("\n")
    );
    let template_actions: BTreeSet<String> = template_statements(&template())
        .iter()
        .filter(|s| s.origin.starts_with("SubscriptionsWritePolicy "))
        .flat_map(|s| s.actions.clone())
        .collect();
    let have: BTreeSet<String> = statements.iter().flat_map(|s| s.actions.clone()).collect();
    assert_eq!(have, template_actions);
    assert_eq!(
        store_statements(&doc, "subscriptions-writer-policy.json"),
        [
            json!({"Sid": "ReadAndWriteSubscriptions", "Effect": "Allow",
                   "Action": ["s3:GetObject", "s3:PutObject"],
                   "Resource": ["arn:aws:s3:::SUBSCRIPTIONS_BUCKET/subscriptions.json"]}),
            json!({"Sid": "MissingIsNotFound", "Effect": "Allow", "Action": ["s3:ListBucket"],
                   "Resource": ["arn:aws:s3:::SUBSCRIPTIONS_BUCKET"]}),
        ]
    );
}

/// The statements of the template's managed policy `name`, as (actions, resource texts,
/// condition) with `!Join` rendered and `!Ref X` as `<X>`.
fn managed_policy(t: &Yaml, name: &str) -> Vec<(Vec<String>, Vec<Option<String>>, Yaml)> {
    let r = &t["Resources"][name];
    assert_eq!(
        r["Type"].as_str(),
        Some("AWS::IAM::ManagedPolicy"),
        "{name}"
    );
    assert_eq!(r["Condition"].as_str(), Some("UsesStore"), "{name}");
    let list = r["Properties"]["PolicyDocument"]["Statement"]
        .as_sequence()
        .unwrap_or_else(|| panic!("{name}: Statement is not a list"));
    list.iter()
        .map(|st| {
            assert_eq!(st["Effect"].as_str(), Some("Allow"), "{name}");
            (
                yaml_actions(name, &st["Action"]),
                yaml_resources(&st["Resource"]),
                st.get("Condition").cloned().unwrap_or(Yaml::Null),
            )
        })
        .collect()
}

#[test]
fn template_store_policies_grant_the_one_document_and_only_the_writers_write() {
    let t = template();
    let object = "arn:${AWS::Partition}:s3:::<SubscriptionsBucket>/subscriptions.json";
    let bucket = "arn:${AWS::Partition}:s3:::<SubscriptionsBucket>";
    let list = (
        vec!["s3:ListBucket".to_owned()],
        vec![Some(bucket.to_owned())],
        Yaml::Null,
    );
    assert_eq!(
        managed_policy(&t, "SubscriptionsReadPolicy"),
        [
            (
                vec!["s3:GetObject".to_owned()],
                vec![Some(object.to_owned())],
                Yaml::Null
            ),
            list.clone()
        ]
    );
    assert_eq!(
        managed_policy(&t, "SubscriptionsWritePolicy"),
        [
            (
                vec!["s3:GetObject".to_owned(), "s3:PutObject".to_owned()],
                vec![Some(object.to_owned())],
                Yaml::Null
            ),
            list
        ]
    );
    // The read policy is attached to the router's role (when the stack deploys the router and
    // it reads the store); the write policy to nothing: operators attach it.
    let resources = &t["Resources"];
    let roles = &resources["SubscriptionsReadPolicy"]["Properties"]["Roles"];
    let text = serde_norway::to_string(roles).expect("YAML");
    assert!(
        text.contains("RouterUsesStore") && text.contains("RouterRole"),
        "SubscriptionsReadPolicy's Roles: {text}"
    );
    assert!(
        resources["SubscriptionsWritePolicy"]["Properties"]
            .get("Roles")
            .is_none(),
        "SubscriptionsWritePolicy is for operators, not for a role of the stack"
    );
    // No other statement of the template names an s3 action.
    let others: Vec<String> = template_statements(&t)
        .iter()
        .filter(|s| !s.origin.starts_with("Subscriptions"))
        .filter(|s| s.actions.iter().any(|a| a.starts_with("s3:")))
        .map(|s| s.origin.clone())
        .collect();
    assert!(
        others.is_empty(),
        "s3 actions outside the store policies: {others:?}"
    );
}

#[test]
fn driver_policy_holds_exactly_the_actions_the_driver_calls() {
    let statements = statements_of_json("driver-policy.json", &driver_policy());
    let have: BTreeSet<&str> = statements
        .iter()
        .flat_map(|s| s.actions.iter().map(String::as_str))
        .collect();
    let want: BTreeSet<&str> = DRIVER_ACTIONS.iter().copied().collect();
    assert_eq!(
        have, want,
        "driver-policy.json must allow exactly what drive/cleanup/emit call"
    );
}

#[test]
fn driver_policy_scopes_resources_to_eventferry_names() {
    let statements = statements_of_json("driver-policy.json", &driver_policy());
    for s in &statements {
        for r in s.resources.iter().flatten() {
            if r == "*" {
                continue; // checked above: only for UNSCOPABLE_ACTIONS
            }
            let name = r.splitn(6, ':').nth(5).unwrap_or_default();
            assert!(
                name.contains("eventferry") || name == "event-bus/default",
                "{}: {r} is not scoped to eventferry names",
                s.origin
            );
        }
    }
}

#[test]
fn template_policies_have_no_wildcard_actions_or_needless_wildcard_resources() {
    let t = template();
    let statements = template_statements(&t);
    // The queue policy, the router role's two policies, its logs policy, invoke and system events.
    assert!(
        statements.len() >= 6,
        "expected the template's policy statements, found {statements:#?}"
    );
    let bad: Vec<String> = statements.iter().flat_map(violations).collect();
    assert!(bad.is_empty(), "template.yaml:\n{}", bad.join("\n"));
}

#[test]
fn template_scopes_invoke_to_subscribers_and_put_events_to_the_system_bus() {
    let t = template();
    let statements = template_statements(&t);
    let with = |action: &str| -> Vec<&Statement> {
        statements
            .iter()
            .filter(|s| s.actions.iter().any(|a| a == action))
            .collect()
    };
    let invoke = with("lambda:InvokeFunction");
    assert_eq!(
        invoke.len(),
        1,
        "one statement grants lambda:InvokeFunction"
    );
    let resources = &t["Resources"];
    let invoke_policy = &resources["RouterInvokePolicy"]["Properties"]["PolicyDocument"]
        ["Statement"][0]["Resource"];
    match invoke_policy {
        Yaml::Tagged(tag) => {
            assert_eq!(tag.tag, "!Ref");
            assert_eq!(tag.value.as_str(), Some("SubscriberFunctionArns"));
        }
        other => panic!("lambda:InvokeFunction must be on !Ref SubscriberFunctionArns: {other:?}"),
    }
    let put = with("events:PutEvents");
    assert_eq!(put.len(), 1, "one statement grants events:PutEvents");
    assert_eq!(
        put[0].resources,
        vec![Some(
            "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/${SystemEventsBusName}"
                .to_owned()
        )]
    );
    // The grant exists only when a system-events bus is given.
    assert_eq!(
        resources["RouterSystemEventsPolicy"]["Condition"].as_str(),
        Some("RouterEmits")
    );
}

/// The `!Ref` target of a tagged value, if it is one.
fn ref_of(v: &Yaml) -> Option<&str> {
    match v {
        Yaml::Tagged(t) if t.tag == "!Ref" => t.value.as_str(),
        _ => None,
    }
}

/// The parts of a `!Join ["", [parts...]]`, if the value is one with an empty delimiter.
fn join_parts(v: &Yaml) -> Option<&Vec<Yaml>> {
    match v {
        Yaml::Tagged(t) if t.tag == "!Join" => {
            let args = t.value.as_sequence()?;
            if !args.first()?.as_str()?.is_empty() {
                return None;
            }
            args.get(1)?.as_sequence()
        }
        _ => None,
    }
}

#[test]
fn template_router_logs_only_to_its_own_log_group_and_its_triggers_wait_for_that() {
    let t = template();
    let resources = &t["Resources"];

    // The stack creates the log group Lambda writes to, /aws/lambda/<generated function name>,
    // with a retention.
    let group = &resources["RouterLogGroup"];
    assert_eq!(group["Type"].as_str(), Some("AWS::Logs::LogGroup"));
    assert_eq!(group["Condition"].as_str(), Some("WithRouter"));
    let parts = join_parts(&group["Properties"]["LogGroupName"])
        .expect("RouterLogGroup's LogGroupName is !Join [\"\", [...]]");
    assert_eq!(parts.len(), 2, "{parts:?}");
    assert_eq!(parts[0].as_str(), Some("/aws/lambda/"));
    assert_eq!(ref_of(&parts[1]), Some("RouterFunction"));
    assert!(
        group["Properties"]["RetentionInDays"].as_u64().is_some(),
        "RouterLogGroup needs a RetentionInDays"
    );

    // One statement grants logs actions: log streams and events, on that log group only.
    let statements = template_statements(&t);
    let logs: Vec<&Statement> = statements
        .iter()
        .filter(|s| s.actions.iter().any(|a| a.starts_with("logs:")))
        .collect();
    assert_eq!(
        logs.len(),
        1,
        "one statement grants logs actions: {logs:#?}"
    );
    assert_eq!(logs[0].origin, "RouterLogsPolicy statement 0");
    assert_eq!(
        logs[0].actions,
        ["logs:CreateLogStream", "logs:PutLogEvents"]
    );
    let policy = &resources["RouterLogsPolicy"];
    assert_eq!(policy["Type"].as_str(), Some("AWS::IAM::RolePolicy"));
    assert_eq!(policy["Condition"].as_str(), Some("WithRouter"));
    assert_eq!(
        ref_of(&policy["Properties"]["RoleName"]),
        Some("RouterRole")
    );
    let resource = &policy["Properties"]["PolicyDocument"]["Statement"][0]["Resource"];
    let parts = join_parts(resource).expect("the logs Resource is !Join [\"\", [...]]");
    let texts: Vec<String> = parts
        .iter()
        .map(|p| match (ref_of(p), yaml_resources(p).as_slice()) {
            (Some(r), _) => format!("<{r}>"),
            (None, [Some(s)]) => s.clone(),
            _ => panic!("unexpected part of the logs Resource: {p:?}"),
        })
        .collect();
    assert_eq!(
        texts.concat(),
        "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:<RouterLogGroup>:*"
    );

    // Every SQS trigger of the router waits for the logs policy; SAM Events on the function
    // would make mappings that cannot.
    assert!(
        resources["RouterFunction"]["Properties"]
            .get("Events")
            .is_none(),
        "RouterFunction: write the SQS triggers as AWS::Lambda::EventSourceMapping resources"
    );
    let mappings: Vec<(&str, &Yaml)> = resources
        .as_mapping()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::Lambda::EventSourceMapping"))
        .map(|(k, r)| (k.as_str().expect("logical id"), r))
        .collect();
    assert_eq!(mappings.len(), 2, "the ingest and retry triggers");
    for (name, m) in mappings {
        let depends: Vec<&str> = match &m["DependsOn"] {
            Yaml::String(s) => vec![s.as_str()],
            Yaml::Sequence(a) => a.iter().filter_map(Yaml::as_str).collect(),
            other => panic!("{name}: DependsOn is {other:?}"),
        };
        assert!(
            depends.contains(&"RouterLogsPolicy"),
            "{name} must DependsOn RouterLogsPolicy: {depends:?}"
        );
        assert_eq!(m["Condition"].as_str(), Some("WithRouter"), "{name}");
        assert_eq!(
            ref_of(&m["Properties"]["FunctionName"]),
            Some("RouterFunction"),
            "{name}"
        );
    }
}

#[test]
fn the_checks_catch_what_they_should() {
    let s = |actions: &[&str], resources: &[&str]| Statement {
        origin: "example".into(),
        actions: actions.iter().map(|a| a.to_string()).collect(),
        resources: resources.iter().map(|r| Some(r.to_string())).collect(),
    };
    assert!(!violations(&s(&["sqs:*"], &["arn:aws:sqs:*:*:eventferry"])).is_empty());
    assert!(!violations(&s(&["*"], &["arn:aws:sqs:*:*:eventferry"])).is_empty());
    assert!(!violations(&s(&["sqs:SendMessage"], &["*"])).is_empty());
    assert!(!violations(&s(&["sqs:SendMessage"], &["arn:aws:sqs:us-east-1:1:*"])).is_empty());
    assert!(!violations(&s(
        &["events:PutEvents"],
        &["arn:aws:events:*:*:event-bus/*"]
    ))
    .is_empty());
    assert!(violations(&s(&["sqs:ListQueues"], &["*"])).is_empty());
    assert!(violations(&s(&["sqs:SendMessage"], &["arn:aws:sqs:*:*:eventferry*"])).is_empty());
    assert!(violations(&s(
        &["logs:PutLogEvents"],
        &["arn:aws:logs:us-east-1:1:log-group:/aws/lambda/x:*"]
    ))
    .is_empty());
    // CloudFormation's pseudo parameters and a rendered !Join: a whole bucket's objects are
    // unscoped, the one document is not.
    assert!(!violations(&s(
        &["s3:GetObject"],
        &["arn:${AWS::Partition}:s3:::<SubscriptionsBucket>/*"]
    ))
    .is_empty());
    assert!(violations(&s(
        &["s3:GetObject"],
        &["arn:${AWS::Partition}:s3:::<SubscriptionsBucket>/subscriptions.json"]
    ))
    .is_empty());
    assert!(!violations(&s(
        &["sqs:SendMessage"],
        &["arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:*"]
    ))
    .is_empty());
    let joined: Yaml =
        serde_norway::from_str(r#"!Join ["", [!Sub "arn:${AWS::Partition}:s3:::", !Ref B, "/*"]]"#)
            .unwrap();
    assert_eq!(
        yaml_resources(&joined),
        [Some("arn:${AWS::Partition}:s3:::<B>/*".to_owned())]
    );
}
