//! `eventferry status`: what a deployment (an instance on a queue) has in AWS right now: the
//! queue, the instance's rules and their targets, its queue policy statements, and its replicas'
//! leases. Reads only; changes nothing.

use std::process::ExitCode;

use clap::Args;
use eventferry_aws::eventbridge::EventBridge;
use eventferry_aws::sqs::Sqs;
use eventferry_aws::{retry, ErrorKind, StepError};
use eventferry_core::names::InstanceId;
use serde_json::{json, Value};

use crate::cli::{block_on, AwsArgs, RuntimeFlavor};
use crate::drive::default_instance;
use crate::provision::lookup::instance_rules;
use crate::provision::ownership::{is_ours, rule_prefix};
use crate::provision::policy::is_owned_sid;
use crate::provision::ProvisionError;
use crate::replicas::lease::{now_secs, LeaseView};

/// Show a deployment's resources and its live replicas.
///
/// Lists the queue (whether it exists, whether eventferry owns it, its approximate message
/// counts), the instance's rules on --event-bus and the default bus with their targets, the
/// instance's statements in the queue policy, and the replicas' leases (live, expired, and
/// replicas removing the resources as the last one out). Exit 0 when the queue exists, 1 when it
/// does not or an AWS call failed, 2 for bad input.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
    eventferry status --queue-name eventferry-orders\n  \
    eventferry status --queue-name orders --instance orders --json\n\n\
    Exit status: 0 when the queue exists; 1 when it does not or an AWS call failed; 2 for bad \
    input, an unusable AWS setup or a mistyped EVENTFERRY_* variable.")]
pub struct StatusArgs {
    /// The queue the deployment's replicas consume (as given to `drive`).
    #[arg(
        long,
        env = "EVENTFERRY_QUEUE_NAME",
        default_value = crate::drive::args::DEFAULT_QUEUE_NAME,
        value_name = "NAME"
    )]
    pub queue_name: String,
    /// The deployment's instance id (as given to `drive`). Default: derived from --queue-name,
    /// as `drive` derives it.
    #[arg(long, env = "EVENTFERRY_INSTANCE", value_name = "INSTANCE")]
    pub instance: Option<String>,
    /// The event bus of the pattern rules (the default bus is always searched too: schedule
    /// rules live there).
    #[arg(
        long,
        env = "EVENTFERRY_EVENT_BUS",
        default_value = "default",
        value_name = "BUS"
    )]
    pub event_bus: String,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// Run `eventferry status` (builds its own tokio runtime).
pub fn run(args: StatusArgs) -> ExitCode {
    block_on("status", RuntimeFlavor::CurrentThread, run_async(args))
}

async fn run_async(args: StatusArgs) -> ExitCode {
    let instance_text = args
        .instance
        .clone()
        .unwrap_or_else(|| default_instance(&args.queue_name));
    let instance = match InstanceId::new(&instance_text) {
        Ok(id) => id,
        Err(e) => {
            eprintln!("eventferry status: --instance: {e}");
            return ExitCode::from(2);
        }
    };
    let cfg = match args.aws.load().await {
        Ok(cfg) => cfg,
        Err(message) => {
            eprintln!("eventferry status: {message}");
            return ExitCode::from(2);
        }
    };
    match gather(&cfg, &args, &instance).await {
        Ok(status) => {
            if args.json {
                println!("{status}");
            } else {
                print!("{}", render(&status));
            }
            if status["queue"]["exists"] == json!(true) {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("eventferry status: {e}");
            ExitCode::from(1)
        }
    }
}

/// Everything `status` shows, as JSON.
async fn gather(
    cfg: &aws_config::SdkConfig,
    args: &StatusArgs,
    instance: &InstanceId,
) -> Result<Value, ProvisionError> {
    let sqs = Sqs::new(cfg);
    let name = args.queue_name.as_str();
    let url = retry(format!("look up queue {name}"), || sqs.queue_url(name)).await?;
    let queue_and_leases = match &url {
        Some(url) => Some(queue_state(&sqs, name, url, instance).await?),
        None => None,
    };
    let rules = rules(&EventBridge::new(cfg), &args.event_bus, name, instance).await?;
    let (queue, statements, replicas) = queue_and_leases.unwrap_or_else(|| missing(name));
    Ok(json!({
        "instance": instance.as_str(),
        "queue": queue,
        "rules": rules,
        "policy_statements": statements,
        "replicas": replicas,
    }))
}

/// The queue, the instance's policy statements (Sids), and the leases.
async fn queue_state(
    sqs: &Sqs,
    name: &str,
    url: &str,
    instance: &InstanceId,
) -> Result<(Value, Value, Value), StepError> {
    let gone = |e: &StepError| e.kind() == ErrorKind::NotFound;
    let tags = match retry(format!("read the tags of queue {name}"), || sqs.tags(url)).await {
        Ok(tags) => tags,
        Err(e) if gone(&e) => return Ok(missing(name)),
        Err(e) => return Err(e),
    };
    let attrs = match retry(format!("read the attributes of queue {name}"), || {
        sqs.attributes(url)
    })
    .await
    {
        Ok(attrs) => attrs,
        Err(e) if gone(&e) => return Ok(missing(name)),
        Err(e) => return Err(e),
    };
    let count = |key: &str| attrs.get(key).and_then(|v| v.parse::<u64>().ok());
    let queue = json!({
        "name": name,
        "exists": true,
        "url": url,
        "arn": attrs.get("QueueArn"),
        "owned": is_ours(&tags, Some(instance)),
        "messages_visible": count("ApproximateNumberOfMessages"),
        "messages_in_flight": count("ApproximateNumberOfMessagesNotVisible"),
    });
    let prefix = rule_prefix(instance);
    let statements: Vec<Value> = attrs
        .get("Policy")
        .and_then(|p| serde_json::from_str::<Value>(p).ok())
        .map(|doc| match &doc["Statement"] {
            Value::Array(items) => items.clone(),
            single @ Value::Object(_) => vec![single.clone()],
            _ => Vec::new(),
        })
        .unwrap_or_default()
        .into_iter()
        .filter_map(|st| st["Sid"].as_str().map(str::to_owned))
        .filter(|sid| *sid == prefix || is_owned_sid(sid, &prefix))
        .map(Value::String)
        .collect();
    Ok((queue, Value::Array(statements), leases(&tags, instance)))
}

fn missing(name: &str) -> (Value, Value, Value) {
    (
        json!({"name": name, "exists": false}),
        Value::Array(Vec::new()),
        json!({"live": [], "expired": [], "closing": []}),
    )
}

/// Live and expired leases, and closing markers, with seconds to (or since) expiry.
fn leases(tags: &std::collections::HashMap<String, String>, instance: &InstanceId) -> Value {
    let view = LeaseView::read(tags, instance);
    let now = now_secs() as i64;
    let entry = |(id, expires): (&String, &u64)| json!({"replica": id, "expires_in_secs": *expires as i64 - now, "plan": view.plans.get(id)});
    let live: Vec<Value> = view
        .leases
        .iter()
        .filter(|(_, e)| **e as i64 > now)
        .map(entry)
        .collect();
    let expired: Vec<Value> = view
        .leases
        .iter()
        .filter(|(_, e)| **e as i64 <= now)
        .map(entry)
        .collect();
    let closing: Vec<Value> = view
        .closing
        .iter()
        .filter(|(_, e)| **e as i64 > now)
        .map(entry)
        .collect();
    json!({"live": live, "expired": expired, "closing": closing})
}

/// The instance's rules that deliver to queue `queue` (by their tags), on `bus` and the default
/// bus, with their targets.
async fn rules(
    eb: &EventBridge,
    bus: &str,
    queue: &str,
    instance: &InstanceId,
) -> Result<Value, ProvisionError> {
    let mut out = Vec::new();
    for (rule, info) in instance_rules(eb, instance, queue, bus).await? {
        let targets = match retry(format!("list the targets of rule {}", rule.name), || {
            eb.list_targets_by_rule(&rule.name, &rule.bus)
        })
        .await
        {
            Ok(targets) => targets,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(e.into()),
        };
        out.push(json!({
            "name": rule.name,
            "bus": rule.bus,
            "state": info.state,
            "event_pattern": info.event_pattern,
            "schedule_expression": info.schedule_expression,
            "targets": targets.iter().map(|t| t.arn.clone()).collect::<Vec<_>>(),
        }));
    }
    Ok(Value::Array(out))
}

/// The text form of [`gather`]'s JSON.
fn render(status: &Value) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let q = &status["queue"];
    let instance = status["instance"].as_str().unwrap_or_default();
    let name = q["name"].as_str().unwrap_or_default();
    if q["exists"] != json!(true) {
        let _ = writeln!(out, "queue {name}: does not exist");
    } else {
        let owner = if q["owned"] == json!(true) {
            format!("owned by instance {instance}")
        } else {
            "not eventferry's: used, never deleted".to_owned()
        };
        let _ = writeln!(out, "queue {name}: {owner}");
        let _ = writeln!(out, "  url: {}", q["url"].as_str().unwrap_or_default());
        let n = |key: &str| q[key].as_u64().map_or("?".into(), |v| v.to_string());
        let _ = writeln!(
            out,
            "  messages: ~{} visible, ~{} in flight",
            n("messages_visible"),
            n("messages_in_flight")
        );
    }
    let rules = status["rules"].as_array().cloned().unwrap_or_default();
    let _ = writeln!(out, "rules of instance {instance}: {}", rules.len());
    for r in &rules {
        let what = r["event_pattern"]
            .as_str()
            .or(r["schedule_expression"].as_str())
            .unwrap_or_default();
        let targets = r["targets"].as_array().map_or(0, Vec::len);
        let _ = writeln!(
            out,
            "  {} (bus {}, {}, {targets} target(s)): {what}",
            r["name"].as_str().unwrap_or_default(),
            r["bus"].as_str().unwrap_or_default(),
            r["state"].as_str().unwrap_or("?"),
        );
    }
    let sids: Vec<&str> = status["policy_statements"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "queue policy statements of instance {instance}: {}",
        if sids.is_empty() {
            "none".to_owned()
        } else {
            sids.join(", ")
        }
    );
    let list = |key: &str| {
        status["replicas"][key]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    let live = list("live");
    let _ = writeln!(out, "live replicas: {}", live.len());
    for l in &live {
        let plan = l["plan"]
            .as_str()
            .map(|p| format!(", plan {p}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {} (lease expires in {}s{plan})",
            l["replica"].as_str().unwrap_or_default(),
            l["expires_in_secs"]
        );
    }
    for (key, label) in [
        ("expired", "expired leases (replicas gone)"),
        ("closing", "removing the resources now"),
    ] {
        let items = list(key);
        if !items.is_empty() {
            let ids: Vec<&str> = items.iter().filter_map(|l| l["replica"].as_str()).collect();
            let _ = writeln!(out, "{label}: {}", ids.join(", "));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_split_into_live_expired_and_closing() {
        let now = now_secs();
        let tags = std::collections::HashMap::from([
            (
                "eventferry-lease:prod:a".to_owned(),
                format!("{};plan=0a1b2c3d", now + 20),
            ),
            ("eventferry-lease:prod:b".to_owned(), (now - 5).to_string()),
            (
                "eventferry-closing:prod:c".to_owned(),
                (now + 9).to_string(),
            ),
            ("eventferry-lease:dev:d".to_owned(), (now + 20).to_string()),
            ("managed-by".to_owned(), "eventferry".to_owned()),
        ]);
        let v = leases(&tags, &InstanceId::new("prod").unwrap());
        assert_eq!(v["live"][0]["replica"], "a");
        assert_eq!(v["live"][0]["plan"], "0a1b2c3d");
        assert_eq!(v["live"].as_array().unwrap().len(), 1);
        assert_eq!(v["expired"][0]["replica"], "b");
        assert_eq!(v["closing"][0]["replica"], "c");
    }

    #[test]
    fn the_text_form_names_everything() {
        let status = json!({
            "instance": "prod",
            "queue": {"name": "orders", "exists": true, "url": "u", "owned": true,
                      "messages_visible": 3, "messages_in_flight": 1},
            "rules": [{"name": "eventferry-prod-0123abcd", "bus": "default", "state": "ENABLED",
                       "event_pattern": "{\"source\":[\"a\"]}", "schedule_expression": null,
                       "targets": ["arn:aws:sqs:us-east-1:1:orders"]}],
            "policy_statements": ["eventferry-prod"],
            "replicas": {"live": [{"replica": "pod-1", "expires_in_secs": 21, "plan": "0a1b2c3d"}],
                         "expired": [{"replica": "pod-0", "expires_in_secs": -40}], "closing": []},
        });
        let text = render(&status);
        for needle in [
            "queue orders: owned by instance prod",
            "messages: ~3 visible, ~1 in flight",
            "rules of instance prod: 1",
            "eventferry-prod-0123abcd (bus default, ENABLED, 1 target(s)): {\"source\":[\"a\"]}",
            "queue policy statements of instance prod: eventferry-prod",
            "live replicas: 1\n  pod-1 (lease expires in 21s, plan 0a1b2c3d)",
            "expired leases (replicas gone): pod-0",
        ] {
            assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
        }
        let gone = render(
            &json!({"instance": "x", "queue": {"name": "q", "exists": false},
            "rules": [], "policy_statements": [], "replicas": {"live": [], "expired": [], "closing": []}}),
        );
        assert!(gone.starts_with("queue q: does not exist\n"), "{gone}");
    }
}
