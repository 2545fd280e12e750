//! Provisioning, teardown and cleanup against a real LocalStack: queues (SSE, tags, DLQ and
//! redrive), rules and targets (deterministic names, tags, custom bus ARNs), the merged queue
//! policy, adoption on restart, removal of stale rules, foreign queues, and the sweep after a
//! crash.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_sqs::types::QueueAttributeName;
use eventferry_aws::eventbridge::{EventBridge, EventEntry};
use eventferry_aws::sqs::{MessageQueue, Receipt, Sqs};
use eventferry_core::names::InstanceId;
use eventferry_driver::provision::sweep::{sweep, Owner, SweepSpec};
use eventferry_driver::provision::{
    ensure_policy, provision, teardown, Change, ProvisionError, ProvisionSpec, Provisioned,
    TeardownReport,
};
use eventferry_tests::{localstack, unique_name, within};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(60);

/// A unique instance id (at most 40 characters of `[a-z0-9-]`).
fn instance(tag: &str) -> InstanceId {
    let unique = unique_name(tag);
    let id = unique.trim_start_matches("eventferry-it-");
    InstanceId::new(id).unwrap_or_else(|e| panic!("instance id from {unique:?}: {e}"))
}

/// A pattern matching events from `source` with `detail_type`.
fn pattern(source: &str, detail_type: &str) -> Value {
    json!({"source": [source], "detail-type": [detail_type]})
}

fn spec(queue: &str, instance: &InstanceId, patterns: Vec<Value>) -> ProvisionSpec {
    ProvisionSpec {
        queue_name: queue.to_owned(),
        event_bus: "default".into(),
        patterns,
        schedule: None,
        instance: instance.clone(),
        dlq_max_receive_count: None,
        visibility_timeout: None,
    }
}

async fn run_provision(cfg: &SdkConfig, spec: &ProvisionSpec) -> Provisioned {
    match within(WAIT, "provision", provision(cfg, spec)).await {
        Ok(p) => p,
        Err(e) => panic!("provision failed: {e}"),
    }
}

async fn run_teardown(cfg: &SdkConfig, p: &Provisioned) -> TeardownReport {
    match within(WAIT, "teardown", teardown(cfg, p)).await {
        Ok(r) => r,
        Err(e) => panic!("teardown failed: {e}"),
    }
}

fn eb_client(cfg: &SdkConfig) -> aws_sdk_eventbridge::Client {
    aws_sdk_eventbridge::Client::new(cfg)
}

/// Names of the rules on `bus` starting with `prefix`.
async fn rule_names(cfg: &SdkConfig, bus: &str, prefix: &str) -> BTreeSet<String> {
    EventBridge::new(cfg)
        .list_rules(bus, prefix)
        .await
        .expect("list rules")
        .into_iter()
        .map(|r| r.name)
        .collect()
}

async fn rule_tags(cfg: &SdkConfig, arn: &str) -> HashMap<String, String> {
    EventBridge::new(cfg).tags(arn).await.expect("rule tags")
}

async fn queue_attr(cfg: &SdkConfig, url: &str, name: &str) -> Option<String> {
    Sqs::new(cfg)
        .attributes(url)
        .await
        .expect("queue attributes")
        .get(name)
        .cloned()
}

/// The queue's policy statements (empty without a policy).
async fn statements(cfg: &SdkConfig, url: &str) -> Vec<Value> {
    match queue_attr(cfg, url, "Policy").await {
        Some(p) if !p.trim().is_empty() => {
            let doc: Value = serde_json::from_str(&p).expect("policy is JSON");
            match &doc["Statement"] {
                Value::Array(items) => items.clone(),
                single @ Value::Object(_) => vec![single.clone()],
                other => panic!("unexpected Statement {other}"),
            }
        }
        _ => Vec::new(),
    }
}

fn sids(statements: &[Value]) -> BTreeSet<String> {
    statements
        .iter()
        .filter_map(|s| s["Sid"].as_str().map(str::to_owned))
        .collect()
}

/// Put one event; panics if EventBridge refused it.
async fn put_event(cfg: &SdkConfig, bus: &str, source: &str, detail_type: &str, detail: Value) {
    let results = EventBridge::new(cfg)
        .put_events(&[EventEntry {
            event_bus: bus.to_owned(),
            source: source.to_owned(),
            detail_type: detail_type.to_owned(),
            detail: detail.to_string(),
            resources: vec![],
            trace_header: None,
        }])
        .await
        .expect("PutEvents");
    assert_eq!(results.len(), 1);
    results[0].as_ref().expect("event accepted");
}

/// Receive (and delete) messages until `done` says the bodies seen so far are enough; then poll
/// once more so that late extra messages show up too. Returns every body seen.
async fn drain(cfg: &SdkConfig, url: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let queue = Sqs::new(cfg).queue(url);
    let mut bodies: Vec<Value> = Vec::new();
    within(WAIT, "the expected messages", async {
        loop {
            let batch = queue.receive(10, 1).await.expect("receive");
            let receipts: Vec<Receipt> = batch
                .iter()
                .enumerate()
                .map(|(i, m)| Receipt {
                    id: i.to_string(),
                    receipt_handle: m.receipt_handle.clone(),
                })
                .collect();
            bodies.extend(
                batch
                    .iter()
                    .map(|m| serde_json::from_str(&m.body).expect("EventBridge sends JSON")),
            );
            queue.delete_batch(&receipts).await.expect("delete");
            if done(&bodies) && batch.is_empty() {
                return;
            }
        }
    })
    .await;
    bodies
}

async fn queue_exists(cfg: &SdkConfig, name: &str) -> bool {
    Sqs::new(cfg)
        .queue_url(name)
        .await
        .expect("GetQueueUrl")
        .is_some()
}

/// What a test made, swept if the test fails (panics) before its own teardown: the owners'
/// rules and queues under `queue_prefix`, then `foreign_queues` and `buses`. Runs on its own
/// thread and runtime, since it runs while the test's runtime unwinds.
#[derive(Default)]
struct Leftovers {
    owners: Vec<InstanceId>,
    queue_prefix: String,
    foreign_queues: Vec<String>,
    buses: Vec<String>,
}

impl Leftovers {
    fn guard(self) -> SweepOnPanic {
        SweepOnPanic(self)
    }
}

/// Sweeps its [`Leftovers`] when dropped during a panic.
struct SweepOnPanic(Leftovers);

impl Drop for SweepOnPanic {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let this = std::mem::take(&mut self.0);
        let swept = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let cfg = localstack().await;
                let buses = this.buses.iter().map(String::as_str).chain(["default"]);
                for bus in buses {
                    for owner in &this.owners {
                        let spec = SweepSpec {
                            owner: Owner::One(owner.clone()),
                            event_bus: bus.to_owned(),
                            queue_prefix: this.queue_prefix.clone(),
                            dry_run: false,
                            force: true,
                        };
                        let _ = tokio::time::timeout(WAIT, sweep(&cfg, &spec)).await;
                    }
                }
                let sqs = Sqs::new(&cfg);
                for name in &this.foreign_queues {
                    if let Ok(Some(url)) = sqs.queue_url(name).await {
                        let _ = sqs.delete_queue(&url).await;
                    }
                }
                for bus in &this.buses {
                    let _ = eb_client(&cfg).delete_event_bus().name(bus).send().await;
                }
            })
        })
        .join();
        if swept.is_err() {
            eprintln!("could not sweep after the failed test; run `eventferry cleanup`");
        }
    }
}

#[tokio::test]
async fn provision_creates_everything_delivers_and_teardown_removes_it() {
    let cfg = localstack().await;
    let id = instance("prov");
    let queue = unique_name("prov");
    let _leftovers = Leftovers {
        owners: vec![id.clone()],
        queue_prefix: queue.clone(),
        ..Default::default()
    }
    .guard();
    let source = format!("com.eventferry.it.{id}");
    let s = spec(
        &queue,
        &id,
        vec![pattern(&source, "Wanted"), pattern(&source, "AlsoWanted")],
    );
    let p = run_provision(&cfg, &s).await;
    let prefix = format!("eventferry-{id}-");

    // The queue: ours, SSE on, tagged.
    assert!(p.queue_owned);
    assert!(p.queue_url.ends_with(&queue), "{}", p.queue_url);
    assert_eq!(p.account, "000000000000");
    assert_eq!(
        p.queue_arn,
        format!("arn:aws:sqs:us-east-1:000000000000:{queue}")
    );
    assert_eq!(
        queue_attr(&cfg, &p.queue_url, "SqsManagedSseEnabled")
            .await
            .as_deref(),
        Some("true")
    );
    let tags = Sqs::new(&cfg).tags(&p.queue_url).await.unwrap();
    assert_eq!(
        tags.get("managed-by").map(String::as_str),
        Some("eventferry")
    );
    assert_eq!(
        tags.get("eventferry-owner").map(String::as_str),
        Some(id.as_str())
    );
    assert!(p
        .summary
        .with(Change::Created)
        .any(|w| w == format!("queue {queue}")));

    // Two rules, named within AWS's limits, tagged, with the queue as target.
    assert_eq!(p.rules.len(), 2);
    assert_eq!(
        rule_names(&cfg, "default", &prefix).await,
        p.rules.iter().map(|r| r.name.clone()).collect()
    );
    let eb = eb_client(&cfg);
    for rule in &p.rules {
        assert!(
            rule.name.starts_with(&prefix) && rule.name.len() <= 64,
            "{}",
            rule.name
        );
        assert!(rule.target_id.len() <= 64);
        assert_eq!(
            rule.arn,
            format!("arn:aws:events:us-east-1:000000000000:rule/{}", rule.name)
        );
        let described = eb
            .describe_rule()
            .name(&rule.name)
            .send()
            .await
            .expect("describe rule");
        assert_eq!(
            described.state.map(|s| s.as_str().to_owned()).as_deref(),
            Some("ENABLED")
        );
        let description = described.description.unwrap_or_default();
        assert!(
            description.contains("eventferry") && description.contains(id.as_str()),
            "{description}"
        );
        let tags = rule_tags(&cfg, &rule.arn).await;
        assert_eq!(
            tags.get("managed-by").map(String::as_str),
            Some("eventferry")
        );
        assert_eq!(
            tags.get("eventferry-owner").map(String::as_str),
            Some(id.as_str())
        );
        assert_eq!(tags.get("eventferry-queue"), Some(&queue));
        let targets = EventBridge::new(&cfg)
            .list_targets_by_rule(&rule.name, "default")
            .await
            .unwrap();
        assert_eq!(targets.len(), 1, "{targets:?}");
        assert_eq!(targets[0].id, rule.target_id);
        assert_eq!(targets[0].arn, p.queue_arn);
    }

    // The policy: one statement for the instance, allowing its rules by ARN pattern.
    let st = statements(&cfg, &p.queue_url).await;
    assert_eq!(st.len(), 1, "{st:?}");
    let s = &st[0];
    assert_eq!(s["Sid"], format!("eventferry-{id}"));
    assert_eq!(s["Effect"], "Allow");
    assert_eq!(s["Principal"], json!({"Service": "events.amazonaws.com"}));
    assert_eq!(s["Action"], "sqs:SendMessage");
    assert_eq!(s["Resource"], p.queue_arn.as_str());
    assert_eq!(
        s["Condition"]["ArnLike"]["aws:SourceArn"],
        format!("arn:aws:events:us-east-1:000000000000:rule/eventferry-{id}-????????")
    );
    assert_eq!(
        s["Condition"]["StringEquals"]["aws:SourceAccount"],
        "000000000000"
    );

    // A matching event lands in the queue; a non-matching one (put first) does not.
    put_event(&cfg, "default", &source, "Unwanted", json!({"n": 0})).await;
    put_event(&cfg, "default", &source, "Wanted", json!({"n": 1})).await;
    let bodies = drain(&cfg, &p.queue_url, |b| {
        b.iter().any(|m| m["detail-type"] == "Wanted")
    })
    .await;
    assert_eq!(
        bodies.len(),
        1,
        "only the matching event arrives: {bodies:?}"
    );
    assert_eq!(bodies[0]["source"], source.as_str());
    assert_eq!(bodies[0]["detail"], json!({"n": 1}));

    // Teardown leaves nothing of ours.
    let report = run_teardown(&cfg, &p).await;
    assert_eq!(report.rules_deleted.len(), 2, "{report}");
    assert_eq!(report.queues_deleted, vec![p.queue_url.clone()]);
    assert!(rule_names(&cfg, "default", &prefix).await.is_empty());
    assert!(!queue_exists(&cfg, &queue).await, "queue deleted");
    // Teardown again is harmless.
    let again = run_teardown(&cfg, &p).await;
    assert!(
        again.rules_deleted.is_empty() && again.queues_deleted.is_empty(),
        "{again}"
    );
}

#[tokio::test]
async fn provisioning_twice_adopts_and_changed_patterns_replace_stale_rules() {
    let cfg = localstack().await;
    let id = instance("adopt");
    let queue = unique_name("adopt");
    let _leftovers = Leftovers {
        owners: vec![id.clone()],
        queue_prefix: queue.clone(),
        ..Default::default()
    }
    .guard();
    let source = format!("com.eventferry.it.{id}");
    let (a, b, c) = (
        pattern(&source, "A"),
        pattern(&source, "B"),
        pattern(&source, "C"),
    );
    let prefix = format!("eventferry-{id}-");

    let first = run_provision(&cfg, &spec(&queue, &id, vec![a.clone(), b.clone()])).await;
    let names_first = rule_names(&cfg, "default", &prefix).await;
    assert_eq!(names_first.len(), 2);

    // A restart with the same spec adopts: same rules, same statements, nothing created.
    let second = run_provision(&cfg, &spec(&queue, &id, vec![b.clone(), a.clone()])).await;
    println!("second provision:\n{}", second.summary);
    assert_eq!(
        second.summary.with(Change::Created).count(),
        0,
        "{}",
        second.summary
    );
    assert_eq!(
        second.summary.with(Change::Removed).count(),
        0,
        "{}",
        second.summary
    );
    assert_eq!(
        second.summary.with(Change::Adopted).count(),
        3,
        "{}",
        second.summary
    );
    assert!(second.summary.to_string().contains("adopted: "));
    assert_eq!(rule_names(&cfg, "default", &prefix).await, names_first);
    let arns = |p: &Provisioned| {
        p.rules
            .iter()
            .map(|r| r.arn.clone())
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(arns(&first), arns(&second));
    assert_eq!(statements(&cfg, &second.queue_url).await.len(), 1);

    // A changed pattern set: B's rule and statement go, C's come, A's stays.
    let rule_of = |p: &Provisioned, pattern: &Value| {
        let name = provision_rule_name(&id, &queue, pattern);
        p.rules.iter().find(|r| r.name == name).cloned()
    };
    let rule_b = rule_of(&first, &b).expect("rule for B");
    let third = run_provision(&cfg, &spec(&queue, &id, vec![a.clone(), c.clone()])).await;
    println!("third provision:\n{}", third.summary);
    let rule_c = rule_of(&third, &c).expect("rule for C");
    let names_third = rule_names(&cfg, "default", &prefix).await;
    assert_eq!(names_third.len(), 2, "{names_third:?}");
    assert!(!names_third.contains(&rule_b.name), "stale rule removed");
    assert!(names_third.contains(&rule_c.name));
    assert!(third
        .summary
        .with(Change::Removed)
        .any(|w| w.starts_with(&format!("rule {}", rule_b.name))));
    assert!(third
        .summary
        .with(Change::Created)
        .any(|w| w.starts_with(&format!("rule {}", rule_c.name))));
    let sids_now = sids(&statements(&cfg, &third.queue_url).await);
    assert_eq!(
        sids_now,
        BTreeSet::from([format!("eventferry-{id}")]),
        "one statement covers the rules, old and new"
    );

    // Events of the removed pattern no longer arrive; the new one's do.
    put_event(&cfg, "default", &source, "B", json!({})).await;
    put_event(&cfg, "default", &source, "C", json!({})).await;
    let bodies = drain(&cfg, &third.queue_url, |b| {
        b.iter().any(|m| m["detail-type"] == "C")
    })
    .await;
    let types: Vec<&str> = bodies
        .iter()
        .filter_map(|m| m["detail-type"].as_str())
        .collect();
    assert_eq!(types, vec!["C"]);

    run_teardown(&cfg, &third).await;
    assert!(rule_names(&cfg, "default", &prefix).await.is_empty());
    assert!(!queue_exists(&cfg, &queue).await);
}

/// The rule name provisioning gives `pattern` (mirrors the module's scheme, via its own plan).
fn provision_rule_name(id: &InstanceId, queue: &str, pattern: &Value) -> String {
    eventferry_core::names::rule_name(
        &eventferry_driver::provision::ownership::rule_prefix(id),
        &format!(
            "{queue}\n{}",
            eventferry_core::names::canonical_json(pattern)
        ),
    )
    .unwrap()
}

#[tokio::test]
async fn foreign_queue_is_used_its_policy_kept_and_never_deleted() {
    let cfg = localstack().await;
    let sqs = Sqs::new(&cfg);
    let id = instance("foreign");
    let queue = unique_name("foreign");
    let _leftovers = Leftovers {
        owners: vec![id.clone()],
        queue_prefix: queue.clone(),
        foreign_queues: vec![queue.clone()],
        ..Default::default()
    }
    .guard();
    let source = format!("com.eventferry.it.{id}");
    let url = sqs
        .create_queue(&queue, HashMap::new(), HashMap::new())
        .await
        .expect("create foreign queue");
    let arn = queue_attr(&cfg, &url, "QueueArn").await.unwrap();
    let theirs = json!({
        "Sid": "TheirSnsTopic",
        "Effect": "Allow",
        "Principal": {"Service": "sns.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": arn,
    });
    let policy = json!({"Version": "2012-10-17", "Id": "theirs", "Statement": [theirs]});
    sqs.set_attributes(
        &url,
        HashMap::from([(QueueAttributeName::Policy, policy.to_string())]),
    )
    .await
    .expect("set their policy");

    // A DLQ would mean changing their RedrivePolicy: refused, naming the queue.
    let mut with_dlq = spec(&queue, &id, vec![pattern(&source, "X")]);
    with_dlq.dlq_max_receive_count = Some(3);
    match within(WAIT, "provision", provision(&cfg, &with_dlq)).await {
        Err(e @ ProvisionError::Conflict(_)) => {
            assert!(e.to_string().contains(&queue), "{e}")
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(
        !queue_exists(&cfg, &format!("{queue}-dlq")).await,
        "no DLQ made"
    );

    let p = run_provision(&cfg, &spec(&queue, &id, vec![pattern(&source, "X")])).await;
    assert!(!p.queue_owned);
    assert_eq!(p.queue_url, url);
    assert_eq!(p.summary.with(Change::Kept).count(), 1, "{}", p.summary);
    assert!(sqs.tags(&url).await.unwrap().is_empty(), "never retagged");
    let st = statements(&cfg, &url).await;
    assert_eq!(st.len(), 2, "{st:?}");
    assert_eq!(st[0], theirs, "their statement kept as it was");
    assert_eq!(st[1]["Sid"], format!("eventferry-{id}"));

    // Events still arrive.
    put_event(&cfg, "default", &source, "X", json!({"k": "v"})).await;
    let bodies = drain(&cfg, &url, |b| !b.is_empty()).await;
    assert_eq!(bodies.len(), 1);

    // An older version's per-rule statement is the instance's too.
    let mut doc: Value =
        serde_json::from_str(&queue_attr(&cfg, &url, "Policy").await.unwrap()).unwrap();
    let mut legacy = doc["Statement"][1].clone();
    legacy["Sid"] = json!(p.rules[0].name);
    doc["Statement"].as_array_mut().unwrap().push(legacy);
    sqs.set_attributes(
        &url,
        HashMap::from([(QueueAttributeName::Policy, doc.to_string())]),
    )
    .await
    .expect("add an old per-rule statement");

    // Teardown: our rule and statements go, the queue and their statement stay.
    let report = run_teardown(&cfg, &p).await;
    assert_eq!(report.queues_kept, vec![url.clone()]);
    assert!(report.queues_deleted.is_empty());
    assert_eq!(
        report.statements_removed,
        vec![format!("eventferry-{id}"), p.rules[0].name.clone()]
    );
    assert!(
        queue_exists(&cfg, &queue).await,
        "foreign queue never deleted"
    );
    assert_eq!(statements(&cfg, &url).await, vec![theirs]);
    let doc: Value =
        serde_json::from_str(&queue_attr(&cfg, &url, "Policy").await.unwrap()).unwrap();
    assert_eq!(doc["Id"], "theirs");
    assert!(rule_names(&cfg, "default", &format!("eventferry-{id}-"))
        .await
        .is_empty());

    sqs.delete_queue(&url).await.expect("delete foreign queue");
}

#[tokio::test]
async fn custom_bus_rules_have_bus_in_arn_and_schedule_goes_to_default() {
    let cfg = localstack().await;
    let eb = eb_client(&cfg);
    let bus = unique_name("bus");
    eb.create_event_bus()
        .name(&bus)
        .send()
        .await
        .expect("create bus");
    let id = instance("bus");
    let queue = unique_name("bus");
    let _leftovers = Leftovers {
        owners: vec![id.clone()],
        queue_prefix: queue.clone(),
        buses: vec![bus.clone()],
        ..Default::default()
    }
    .guard();
    let source = format!("com.eventferry.it.{id}");
    let mut s = spec(&queue, &id, vec![pattern(&source, "OnCustom")]);
    s.event_bus = bus.clone();
    s.schedule = Some("rate(1 day)".into());
    let p = run_provision(&cfg, &s).await;
    let prefix = format!("eventferry-{id}-");

    assert_eq!(p.rules.len(), 2);
    let on_bus = p
        .rules
        .iter()
        .find(|r| r.bus == bus)
        .expect("rule on the custom bus");
    assert_eq!(
        on_bus.arn,
        format!(
            "arn:aws:events:us-east-1:000000000000:rule/{bus}/{}",
            on_bus.name
        )
    );
    let scheduled = p
        .rules
        .iter()
        .find(|r| r.bus == "default")
        .expect("schedule rule");
    assert_eq!(
        scheduled.arn,
        format!(
            "arn:aws:events:us-east-1:000000000000:rule/{}",
            scheduled.name
        )
    );
    let described = eb
        .describe_rule()
        .name(&scheduled.name)
        .send()
        .await
        .expect("describe schedule rule");
    assert_eq!(
        described.schedule_expression.as_deref(),
        Some("rate(1 day)")
    );
    assert_eq!(
        rule_names(&cfg, &bus, &prefix).await,
        BTreeSet::from([on_bus.name.clone()])
    );
    // One statement: the rules on the default bus (schedule) and on the custom bus.
    let st = statements(&cfg, &p.queue_url).await;
    assert_eq!(sids(&st), BTreeSet::from([format!("eventferry-{id}")]));
    assert_eq!(
        st[0]["Condition"]["ArnLike"]["aws:SourceArn"],
        json!([
            format!("arn:aws:events:us-east-1:000000000000:rule/eventferry-{id}-????????"),
            format!("arn:aws:events:us-east-1:000000000000:rule/{bus}/eventferry-{id}-????????"),
        ])
    );

    // An event on the custom bus arrives; the same event on the default bus does not.
    put_event(
        &cfg,
        "default",
        &source,
        "OnCustom",
        json!({"bus": "default"}),
    )
    .await;
    put_event(&cfg, &bus, &source, "OnCustom", json!({"bus": "custom"})).await;
    let bodies = drain(&cfg, &p.queue_url, |b| {
        b.iter().any(|m| m["detail"]["bus"] == "custom")
    })
    .await;
    assert_eq!(bodies.len(), 1, "{bodies:?}");

    // Adopted on restart, on both buses.
    let again = run_provision(&cfg, &s).await;
    assert_eq!(
        again.summary.with(Change::Created).count(),
        0,
        "{}",
        again.summary
    );

    run_teardown(&cfg, &p).await;
    assert!(rule_names(&cfg, &bus, &prefix).await.is_empty());
    assert!(rule_names(&cfg, "default", &prefix).await.is_empty());
    assert!(!queue_exists(&cfg, &queue).await);
    eb.delete_event_bus()
        .name(&bus)
        .send()
        .await
        .expect("delete bus");
}

#[tokio::test]
async fn dlq_gets_sse_tags_and_the_redrive_policy() {
    let cfg = localstack().await;
    let id = instance("dlq");
    let queue = unique_name("dlq");
    let _leftovers = Leftovers {
        owners: vec![id.clone()],
        queue_prefix: queue.clone(),
        ..Default::default()
    }
    .guard();
    let source = format!("com.eventferry.it.{id}");
    let mut s = spec(&queue, &id, vec![pattern(&source, "D")]);
    s.dlq_max_receive_count = Some(4);
    s.visibility_timeout = Some(45);
    let p = run_provision(&cfg, &s).await;

    let dlq_url = p.dlq_url.clone().expect("a DLQ");
    assert!(p.dlq_owned);
    assert!(dlq_url.ends_with(&format!("{queue}-dlq")), "{dlq_url}");
    let dlq_arn = queue_attr(&cfg, &dlq_url, "QueueArn").await.unwrap();
    assert_eq!(
        dlq_arn,
        format!("arn:aws:sqs:us-east-1:000000000000:{queue}-dlq")
    );
    assert_eq!(
        queue_attr(&cfg, &dlq_url, "SqsManagedSseEnabled")
            .await
            .as_deref(),
        Some("true")
    );
    let tags = Sqs::new(&cfg).tags(&dlq_url).await.unwrap();
    assert_eq!(
        tags.get("managed-by").map(String::as_str),
        Some("eventferry")
    );
    assert_eq!(
        tags.get("eventferry-owner").map(String::as_str),
        Some(id.as_str())
    );

    let redrive: Value = serde_json::from_str(
        &queue_attr(&cfg, &p.queue_url, "RedrivePolicy")
            .await
            .expect("RedrivePolicy"),
    )
    .unwrap();
    assert_eq!(redrive["deadLetterTargetArn"], dlq_arn.as_str());
    let count = match &redrive["maxReceiveCount"] {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    };
    assert_eq!(count, Some(4));
    assert_eq!(
        queue_attr(&cfg, &p.queue_url, "VisibilityTimeout")
            .await
            .as_deref(),
        Some("45")
    );

    // A restart adopts both queues; a changed count updates the main queue.
    let again = run_provision(&cfg, &s).await;
    assert_eq!(
        again.summary.with(Change::Created).count(),
        0,
        "{}",
        again.summary
    );
    assert_eq!(
        again.summary.with(Change::Updated).count(),
        0,
        "{}",
        again.summary
    );
    s.dlq_max_receive_count = Some(7);
    let changed = run_provision(&cfg, &s).await;
    assert!(
        changed
            .summary
            .with(Change::Updated)
            .any(|w| w.contains("RedrivePolicy")),
        "{}",
        changed.summary
    );
    let redrive: Value = serde_json::from_str(
        &queue_attr(&cfg, &p.queue_url, "RedrivePolicy")
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        redrive["maxReceiveCount"].to_string().trim_matches('"'),
        "7"
    );

    let report = run_teardown(&cfg, &changed).await;
    assert_eq!(report.queues_deleted.len(), 2, "{report}");
    assert!(!queue_exists(&cfg, &queue).await);
    assert!(!queue_exists(&cfg, &format!("{queue}-dlq")).await);
}

#[tokio::test]
async fn cleanup_sweeps_what_a_crashed_driver_left_and_nothing_else() {
    let cfg = localstack().await;
    let sqs = Sqs::new(&cfg);
    let crashed = instance("crash");
    let alive = instance("alive");
    let base = unique_name("sweep");
    let (q_crashed, q_alive, q_foreign) = (
        format!("{base}-a"),
        format!("{base}-b"),
        format!("{base}-c"),
    );
    let source = format!("com.eventferry.it.{crashed}");
    let _leftovers = Leftovers {
        owners: vec![crashed.clone(), alive.clone()],
        queue_prefix: base.clone(),
        foreign_queues: vec![q_foreign.clone()],
        ..Default::default()
    }
    .guard();

    // The crashed instance: its own queue with DLQ, two pattern rules and a schedule rule, plus a
    // rule delivering to someone else's queue.
    let mut s = spec(
        &q_crashed,
        &crashed,
        vec![pattern(&source, "One"), pattern(&source, "Two")],
    );
    s.dlq_max_receive_count = Some(2);
    s.schedule = Some("rate(7 days)".into());
    let crashed_p = run_provision(&cfg, &s).await;
    let foreign_url = sqs
        .create_queue(&q_foreign, HashMap::new(), HashMap::new())
        .await
        .expect("create foreign queue");
    let foreign_p = run_provision(
        &cfg,
        &spec(&q_foreign, &crashed, vec![pattern(&source, "Three")]),
    )
    .await;
    assert!(!foreign_p.queue_owned);
    // Their own statement on the foreign queue, next to ours.
    let foreign_arn = queue_attr(&cfg, &foreign_url, "QueueArn").await.unwrap();
    let theirs = json!({"Sid": "Theirs", "Effect": "Allow", "Principal": {"AWS": "000000000000"},
                        "Action": "sqs:SendMessage", "Resource": foreign_arn});
    let mut doc: Value =
        serde_json::from_str(&queue_attr(&cfg, &foreign_url, "Policy").await.unwrap()).unwrap();
    doc["Statement"]
        .as_array_mut()
        .unwrap()
        .insert(0, theirs.clone());
    sqs.set_attributes(
        &foreign_url,
        HashMap::from([(QueueAttributeName::Policy, doc.to_string())]),
    )
    .await
    .unwrap();

    // Another instance that is still running: must survive.
    let alive_p = run_provision(&cfg, &spec(&q_alive, &alive, vec![pattern(&source, "One")])).await;

    // The crash: no teardown. A dry run lists and changes nothing.
    let crashed_prefix = format!("eventferry-{crashed}-");
    let before = rule_names(&cfg, "default", &crashed_prefix).await;
    assert_eq!(before.len(), 4, "{before:?}");
    let sweep_spec = |dry_run| SweepSpec {
        owner: Owner::One(crashed.clone()),
        event_bus: "default".into(),
        queue_prefix: base.clone(),
        dry_run,
        force: false,
    };
    let dry = within(WAIT, "dry-run sweep", sweep(&cfg, &sweep_spec(true)))
        .await
        .expect("dry run");
    println!("dry run:\n{dry}");
    assert!(dry.errors.is_empty(), "{:?}", dry.errors);
    assert_eq!(dry.rules.len(), 4, "{dry}");
    assert_eq!(dry.queues.len(), 2, "queue and DLQ: {dry}");
    assert_eq!(dry.statements.len(), 1, "{dry}");
    assert!(dry.to_string().contains("would delete"));
    assert_eq!(rule_names(&cfg, "default", &crashed_prefix).await, before);
    assert!(queue_exists(&cfg, &q_crashed).await);
    // --all-owned (dry run only: other tests' resources share this LocalStack) sees both
    // instances' rules and queues under the prefix.
    let all = within(
        WAIT,
        "all-owned dry run",
        sweep(
            &cfg,
            &SweepSpec {
                owner: Owner::AllOwned,
                ..sweep_spec(true)
            },
        ),
    )
    .await
    .expect("all-owned dry run");
    for rule in crashed_p.rules.iter().chain(&alive_p.rules) {
        assert!(
            all.rules.iter().any(|r| r.starts_with(&rule.name)),
            "{} missing from {all}",
            rule.name
        );
    }
    assert_eq!(all.queues.len(), 3, "{all}");
    assert_eq!(rule_names(&cfg, "default", &crashed_prefix).await, before);

    let done = within(WAIT, "sweep", sweep(&cfg, &sweep_spec(false)))
        .await
        .expect("sweep");
    println!("sweep:\n{done}");
    assert!(done.errors.is_empty(), "{:?}", done.errors);
    assert_eq!(done.rules.len(), 4, "{done}");
    assert_eq!(
        done.queues.iter().cloned().collect::<BTreeSet<_>>(),
        BTreeSet::from([
            crashed_p.queue_url.clone(),
            crashed_p.dlq_url.clone().unwrap()
        ])
    );
    assert!(rule_names(&cfg, "default", &crashed_prefix)
        .await
        .is_empty());
    assert!(!queue_exists(&cfg, &q_crashed).await);
    assert!(!queue_exists(&cfg, &format!("{q_crashed}-dlq")).await);
    // The foreign queue stays with only their statement.
    assert!(queue_exists(&cfg, &q_foreign).await);
    assert_eq!(statements(&cfg, &foreign_url).await, vec![theirs]);
    // Listing by tags: nothing of the crashed instance is left under the prefix.
    let mut left = Vec::new();
    for url in sqs.list_queues(&base).await.unwrap() {
        let tags = sqs.tags(&url).await.unwrap();
        if tags.get("eventferry-owner").map(String::as_str) == Some(crashed.as_str()) {
            left.push(url);
        }
    }
    assert!(left.is_empty(), "{left:?}");
    // The running instance is untouched.
    assert_eq!(
        rule_names(&cfg, "default", &format!("eventferry-{alive}-"))
            .await
            .len(),
        1
    );
    assert!(queue_exists(&cfg, &q_alive).await);

    // A second sweep finds nothing.
    let again = within(WAIT, "second sweep", sweep(&cfg, &sweep_spec(false)))
        .await
        .expect("second sweep");
    assert!(again.is_empty(), "{again}");

    run_teardown(&cfg, &alive_p).await;
    sqs.delete_queue(&foreign_url).await.unwrap();
}

#[tokio::test]
async fn reprovisioning_right_after_teardown_waits_out_queue_deleted_recently() {
    let cfg = localstack().await;
    let sqs = Sqs::new(&cfg);
    let id = instance("again");
    let queue = unique_name("again");
    let _leftovers = Leftovers {
        owners: vec![id.clone()],
        queue_prefix: queue.clone(),
        ..Default::default()
    }
    .guard();
    let source = format!("com.eventferry.it.{id}");
    let s = spec(&queue, &id, vec![pattern(&source, "Again")]);
    let first = run_provision(&cfg, &s).await;
    let report = run_teardown(&cfg, &first).await;
    assert_eq!(report.queues_deleted, vec![first.queue_url.clone()]);

    // SQS (and LocalStack with SQS_DELAY_RECENTLY_DELETED=1) refuses the name for 60 s.
    let refused = sqs
        .create_queue(&queue, HashMap::new(), HashMap::new())
        .await
        .expect_err("CreateQueue of a name deleted a moment ago is refused");
    assert!(refused.has_code("QueueDeletedRecently"), "{refused:?}");

    // Provisioning again at once waits it out (about 60 s) and then creates everything.
    let again = match within(
        Duration::from_secs(120),
        "provision after a teardown",
        provision(&cfg, &s),
    )
    .await
    {
        Ok(p) => p,
        Err(e) => panic!("provision after a teardown failed: {e}"),
    };
    assert!(again.queue_owned);
    assert!(
        again
            .summary
            .with(Change::Created)
            .any(|w| w == format!("queue {queue}")),
        "{}",
        again.summary
    );
    assert!(queue_exists(&cfg, &queue).await);
    run_teardown(&cfg, &again).await;
}

#[tokio::test]
async fn twenty_five_patterns_share_one_statement_and_old_per_rule_statements_migrate() {
    let cfg = localstack().await;
    let sqs = Sqs::new(&cfg);
    let id = instance("many");
    let queue = unique_name("many");
    let _leftovers = Leftovers {
        owners: vec![id.clone()],
        queue_prefix: queue.clone(),
        ..Default::default()
    }
    .guard();
    let source = format!("com.eventferry.it.{id}");
    let patterns: Vec<Value> = (0..25)
        .map(|i| pattern(&source, &format!("Kind{i}")))
        .collect();
    let mut s = spec(&queue, &id, patterns);
    s.schedule = Some("rate(1 day)".into());
    let p = run_provision(&cfg, &s).await;
    assert_eq!(p.rules.len(), 26);
    let ours = format!("eventferry-{id}");
    let st = statements(&cfg, &p.queue_url).await;
    assert_eq!(sids(&st), BTreeSet::from([ours.clone()]), "{st:?}");

    // What an older eventferry left: one statement per rule, next to someone else's.
    let theirs = json!({"Sid": "Theirs", "Effect": "Allow", "Principal": {"AWS": "000000000000"},
                        "Action": "sqs:SendMessage", "Resource": p.queue_arn});
    let mut old: Vec<Value> = vec![theirs.clone()];
    old.extend(p.rules.iter().take(3).map(|r| {
        json!({"Sid": r.name, "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
               "Action": "sqs:SendMessage", "Resource": p.queue_arn,
               "Condition": {"ArnEquals": {"aws:SourceArn": r.arn}}})
    }));
    let policy = json!({"Version": "2012-10-17", "Statement": old});
    sqs.set_attributes(
        &p.queue_url,
        HashMap::from([(QueueAttributeName::Policy, policy.to_string())]),
    )
    .await
    .expect("set the old policy");

    let again = run_provision(&cfg, &s).await;
    let removed: BTreeSet<String> = again
        .summary
        .with(Change::Removed)
        .map(str::to_owned)
        .collect();
    assert_eq!(removed.len(), 3, "{}", again.summary);
    let st = statements(&cfg, &p.queue_url).await;
    assert_eq!(st.len(), 2, "{st:?}");
    assert_eq!(st[0], theirs, "their statement kept as it was");
    assert_eq!(st[1]["Sid"], ours.as_str());

    // An event of the 25th pattern arrives.
    put_event(&cfg, "default", &source, "Kind24", json!({"n": 24})).await;
    let bodies = drain(&cfg, &p.queue_url, |b| !b.is_empty()).await;
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert_eq!(bodies[0]["detail-type"], "Kind24");

    run_teardown(&cfg, &again).await;
    assert!(!queue_exists(&cfg, &queue).await);
}

/// Remove the queue's policy.
async fn clear_policy(cfg: &SdkConfig, url: &str) {
    Sqs::new(cfg)
        .set_attributes(
            url,
            HashMap::from([(QueueAttributeName::Policy, String::new())]),
        )
        .await
        .expect("clear the policy");
}

#[tokio::test]
async fn two_instances_provisioning_one_queue_at_once_both_keep_their_statement() {
    let cfg = localstack().await;
    let (a, b) = (instance("race-a"), instance("race-b"));
    let queue = unique_name("race");
    let _leftovers = Leftovers {
        owners: vec![a.clone(), b.clone()],
        queue_prefix: queue.clone(),
        ..Default::default()
    }
    .guard();
    let source = format!("com.eventferry.it.{a}");
    let spec_a = spec(&queue, &a, vec![pattern(&source, "A")]);
    let spec_b = spec(&queue, &b, vec![pattern(&source, "B")]);
    let want = BTreeSet::from([format!("eventferry-{a}"), format!("eventferry-{b}")]);
    let (pa, pb) = tokio::join!(
        within(WAIT, "provision a", provision(&cfg, &spec_a)),
        within(WAIT, "provision b", provision(&cfg, &spec_b)),
    );
    let pa = pa.unwrap_or_else(|e| panic!("provision a: {e}"));
    let pb = pb.unwrap_or_else(|e| panic!("provision b: {e}"));
    assert_eq!(pa.queue_url, pb.queue_url);
    assert!(
        pa.queue_owned != pb.queue_owned,
        "one of them owns the queue"
    );
    let st = statements(&cfg, &pa.queue_url).await;
    assert_eq!(sids(&st), want, "{st:?}");
    assert_eq!(st.len(), 2, "{st:?}");

    // Rounds of the policy step alone, from an empty policy: both read it empty at the same
    // moment and write their own statement, so the second write drops the first; the re-read
    // after the write sees that and writes again.
    for round in 0..5 {
        clear_policy(&cfg, &pa.queue_url).await;
        let (ra, rb) = tokio::join!(
            within(WAIT, "ensure_policy a", ensure_policy(&cfg, &pa)),
            within(WAIT, "ensure_policy b", ensure_policy(&cfg, &pb)),
        );
        assert!(ra.unwrap_or_else(|e| panic!("round {round}: a: {e}")));
        assert!(rb.unwrap_or_else(|e| panic!("round {round}: b: {e}")));
        let st = statements(&cfg, &pa.queue_url).await;
        assert_eq!(sids(&st), want, "round {round}: {st:?}");
        assert_eq!(st.len(), 2, "round {round}: {st:?}");
    }
    // With both statements in place there is nothing to repair.
    for p in [&pa, &pb] {
        let repaired = within(WAIT, "ensure_policy", ensure_policy(&cfg, p))
            .await
            .expect("ensure_policy");
        assert!(!repaired);
    }
    clear_policy(&cfg, &pa.queue_url).await;

    // A statement a racing writer dropped is put back by ensure_policy.
    assert!(within(WAIT, "ensure_policy", ensure_policy(&cfg, &pa))
        .await
        .expect("ensure_policy"));
    assert_eq!(
        sids(&statements(&cfg, &pa.queue_url).await),
        BTreeSet::from([format!("eventferry-{a}")])
    );

    // The queue's non-owner leaves first (its statement goes), then the owner (the queue goes).
    let (owner, guest) = if pa.queue_owned { (pa, pb) } else { (pb, pa) };
    let report = run_teardown(&cfg, &guest).await;
    assert_eq!(report.queues_kept, vec![guest.queue_url.clone()]);
    run_teardown(&cfg, &owner).await;
    assert!(!queue_exists(&cfg, &queue).await);
}

#[tokio::test]
async fn three_replicas_provisioning_one_spec_at_once_make_each_resource_once() {
    let cfg = localstack().await;
    let id = instance("trio");
    let queue = unique_name("trio");
    let _leftovers = Leftovers {
        owners: vec![id.clone()],
        queue_prefix: queue.clone(),
        ..Default::default()
    }
    .guard();
    let source = format!("com.eventferry.it.{id}");
    let mut s = spec(
        &queue,
        &id,
        vec![pattern(&source, "One"), pattern(&source, "Two")],
    );
    s.dlq_max_receive_count = Some(3);
    let (p1, p2, p3) = tokio::join!(
        within(WAIT, "replica 1", provision(&cfg, &s)),
        within(WAIT, "replica 2", provision(&cfg, &s)),
        within(WAIT, "replica 3", provision(&cfg, &s)),
    );
    let all: Vec<Provisioned> = [p1, p2, p3]
        .into_iter()
        .enumerate()
        .map(|(i, p)| p.unwrap_or_else(|e| panic!("replica {}: {e}", i + 1)))
        .collect();
    for p in &all {
        assert!(p.queue_owned && p.dlq_owned, "{}", p.summary);
        assert_eq!(p.queue_url, all[0].queue_url);
    }
    let sqs = Sqs::new(&cfg);
    assert_eq!(
        sqs.list_queues(&queue).await.unwrap().len(),
        2,
        "queue + DLQ"
    );
    let prefix = format!("eventferry-{id}-");
    let names = rule_names(&cfg, "default", &prefix).await;
    assert_eq!(names.len(), 2, "{names:?}");
    for name in &names {
        let targets = EventBridge::new(&cfg)
            .list_targets_by_rule(name, "default")
            .await
            .unwrap();
        assert_eq!(targets.len(), 1, "{name}: {targets:?}");
        assert_eq!(targets[0].arn, all[0].queue_arn);
    }
    let st = statements(&cfg, &all[0].queue_url).await;
    assert_eq!(
        sids(&st),
        BTreeSet::from([format!("eventferry-{id}")]),
        "{st:?}"
    );
    assert_eq!(st.len(), 1, "{st:?}");

    run_teardown(&cfg, &all[0]).await;
    assert!(!queue_exists(&cfg, &queue).await);
}

#[tokio::test]
async fn teardown_removes_every_rule_of_the_instance_on_the_queue_whatever_version_made_it() {
    let cfg = localstack().await;
    let id = instance("last");
    let stranger = instance("stranger");
    let queue = unique_name("last");
    let other_queue = format!("{queue}-other");
    let _leftovers = Leftovers {
        owners: vec![id.clone(), stranger.clone()],
        queue_prefix: queue.clone(),
        ..Default::default()
    }
    .guard();
    let source = format!("com.eventferry.it.{id}");
    let (x, z) = (pattern(&source, "X"), pattern(&source, "Z"));

    // An older replica knows only pattern X and no DLQ; a newer one adds Z, a schedule and a DLQ.
    let old = run_provision(&cfg, &spec(&queue, &id, vec![x.clone()])).await;
    let mut newer = spec(&queue, &id, vec![x.clone(), z.clone()]);
    newer.schedule = Some("rate(3 days)".into());
    newer.dlq_max_receive_count = Some(2);
    let new = run_provision(&cfg, &newer).await;
    assert_eq!(new.rules.len(), 3);
    // The same instance on another queue, and another instance on this queue: both stay.
    let elsewhere = run_provision(&cfg, &spec(&other_queue, &id, vec![x.clone()])).await;
    let guest = run_provision(&cfg, &spec(&queue, &stranger, vec![x.clone()])).await;
    assert!(!guest.queue_owned);

    // The older replica is the last one out: it removes what the newer one made too.
    let report = run_teardown(&cfg, &old).await;
    println!("teardown:\n{report}");
    let deleted: BTreeSet<String> = report.rules_deleted.iter().cloned().collect();
    let expected: BTreeSet<String> = new
        .rules
        .iter()
        .map(|r| format!("{} (bus {})", r.name, r.bus))
        .collect();
    assert_eq!(deleted, expected);
    assert_eq!(
        report
            .queues_deleted
            .iter()
            .cloned()
            .collect::<BTreeSet<_>>(),
        BTreeSet::from([new.queue_url.clone(), new.dlq_url.clone().unwrap()])
    );
    assert!(!queue_exists(&cfg, &queue).await);
    assert!(!queue_exists(&cfg, &format!("{queue}-dlq")).await);
    let left = rule_names(&cfg, "default", &format!("eventferry-{id}-")).await;
    assert_eq!(
        left,
        elsewhere.rules.iter().map(|r| r.name.clone()).collect(),
        "the instance's rule for the other queue stays"
    );
    assert_eq!(
        rule_names(&cfg, "default", &format!("eventferry-{stranger}-"))
            .await
            .len(),
        1,
        "another instance's rule stays"
    );

    run_teardown(&cfg, &guest).await;
    run_teardown(&cfg, &elsewhere).await;
    assert!(rule_names(&cfg, "default", &format!("eventferry-{id}-"))
        .await
        .is_empty());
}
