//! `eventferry subscriptions ...`: check a router subscriptions file, and see which subscriptions
//! an event matches and why, offline. The logic lives in `eventferry_core::{subscription, route}`,
//! the same code the router runs. [`store`] changes the subscriptions in the router's store.

mod store;

use std::process::ExitCode;

use clap::{Args, Subcommand};
use cloudevents::Event;
use eventferry_core::event_view::EventView;
use eventferry_core::mapping::{from_eventbridge, MappingOptions, TypeFormat};
use eventferry_core::route::{Explanation, Router};
use eventferry_core::structured::{parse_structured_value, to_structured_json};
use eventferry_core::subscription::{Config, Format, Subscription};
use serde_json::{json, Value};

use crate::cli::{read_arg, ArgSource};

/// `eventferry subscriptions` subcommands.
#[derive(Subcommand)]
pub enum SubscriptionsCommand {
    /// Check a subscriptions file (YAML or JSON): print a summary, or the first error (naming the
    /// subscription and the field) and exit 2.
    Validate(ValidateArgs),
    /// List the subscriptions and plugins an event matches, with the checks that decided it. Exits
    /// 0 when something matched, 1 when nothing did, 2 on errors.
    Match(MatchArgs),
    /// create, list, get, delete, apply: the subscriptions in the router's store.
    #[command(flatten)]
    Store(store::StoreCommand),
}

/// Arguments of `subscriptions validate`.
#[derive(Args)]
#[command(after_help = "Examples:\n  \
    eventferry subscriptions validate events/demo-subscriptions.yaml\n\n\
    Exit status: 0 for a valid file; 2 for an invalid or unreadable one.")]
pub struct ValidateArgs {
    /// The subscriptions file (FILE or @FILE; `-` for stdin): `.json` is read as JSON, anything
    /// else as YAML.
    #[arg(value_name = "FILE")]
    file: String,
}

/// Arguments of `subscriptions match`.
#[derive(Args)]
#[command(after_help = "Examples:\n  \
    eventferry subscriptions match events/demo-subscriptions.yaml --event @event.json --all\n  \
    eventferry subscriptions match subs.yaml --event - --json < event.json\n\n\
    Exit status: 0 when something matched; 1 when nothing did; 2 on errors.")]
pub struct MatchArgs {
    /// The subscriptions file (FILE or @FILE; `-` for stdin).
    #[arg(value_name = "FILE")]
    file: String,

    /// The event: a structured CloudEvent or an EventBridge event (mapped as the router maps it),
    /// as inline JSON, `@FILE`, or `-` for stdin.
    #[arg(long, value_name = "E")]
    event: String,

    /// Also show the subscriptions that did not match, with the check that failed.
    #[arg(long)]
    all: bool,

    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,

    /// How an EventBridge event's type is formed (as the router's EVENTFERRY_TYPE_FORMAT).
    #[arg(long, value_name = "TEMPLATE", default_value = "{source}")]
    type_format: String,

    /// The event bus in an EventBridge event's CloudEvent source (as EVENTFERRY_EVENT_BUS).
    #[arg(long, value_name = "NAME", default_value = "default")]
    event_bus: String,
}

pub fn run(cmd: SubscriptionsCommand) -> ExitCode {
    let result = match cmd {
        SubscriptionsCommand::Validate(args) => validate(&args),
        SubscriptionsCommand::Match(args) => matching(&args),
        SubscriptionsCommand::Store(cmd) => return store::run(cmd),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

/// The subscriptions file: FILE or @FILE (`.json` is JSON, anything else YAML), or `-` / `@-`
/// for stdin (YAML, which also reads JSON).
fn load(file: &str) -> Result<Config, String> {
    let from = ArgSource::of_stream(file);
    let (text, shown) = match from {
        ArgSource::File(path) => (
            std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?,
            path.to_owned(),
        ),
        other => (other.read("FILE")?, "stdin".to_owned()),
    };
    Config::parse(&text, Format::from_path(&shown), &shown).map_err(|e| e.to_string())
}

fn validate(args: &ValidateArgs) -> Result<ExitCode, String> {
    let config = load(&args.file)?;
    println!(
        "valid: {} subscription(s), {} plugin(s)",
        config.subscriptions.len(),
        config.plugins.len()
    );
    for sub in config.subscriptions.iter().chain(&config.plugins) {
        println!("  {}", summary_line(sub));
    }
    Ok(ExitCode::SUCCESS)
}

/// One line about a subscription: kind, name, types, target and mode.
fn summary_line(sub: &Subscription) -> String {
    let types = match &sub.types {
        None => "every type".to_owned(),
        Some(types) => types.join(", "),
    };
    format!(
        "{} {:?}: {} -> {} ({})",
        sub.kind,
        sub.name,
        types,
        sub.target.label(),
        sub.mode
    )
}

/// The `--event` argument as JSON.
fn read_event(arg: &str) -> Result<Value, String> {
    let text = read_arg("--event", arg)?;
    serde_json::from_str(&text).map_err(|e| format!("the event is not valid JSON: {e}"))
}

fn matching(args: &MatchArgs) -> Result<ExitCode, String> {
    if ArgSource::of_stream(&args.file) == ArgSource::Stdin
        && ArgSource::of(&args.event) == ArgSource::Stdin
    {
        return Err("only one of FILE and --event can be read from stdin".into());
    }
    let config = load(&args.file)?;
    let event = event_of(read_event(&args.event)?, args)?;
    let explanations = explain_all(&config, &EventView::new(&event));
    let json_event = to_structured_json(&event);
    let shown = explanations.iter().filter(|(_, x)| args.all || x.matched);
    if args.json {
        print_json(&json_event, shown);
    } else {
        let matched = explanations.iter().filter(|(_, x)| x.matched).count();
        println!(
            "event {} (type {}, source {}): {} match(es)",
            json_event["id"], json_event["type"], json_event["source"], matched
        );
        print_text(shown);
    }
    Ok(if explanations.iter().any(|(_, x)| x.matched) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The event as the router sees it: a structured CloudEvent as it is, an EventBridge event
/// mapped as the router maps it.
fn event_of(value: Value, args: &MatchArgs) -> Result<Event, String> {
    if value.get("specversion").is_some() {
        parse_structured_value(&value).map_err(|e| e.to_string())
    } else if value.get("detail-type").is_some() {
        let options = MappingOptions::default()
            .with_type_format(TypeFormat::new(&args.type_format).map_err(|e| e.to_string())?)
            .with_event_bus(&args.event_bus)
            .map_err(|e| e.to_string())?;
        from_eventbridge(value, &options).map_err(|e| e.to_string())
    } else {
        Err(
            "the event is neither a structured CloudEvent (specversion, id, source, type) nor an \
             EventBridge event (detail-type, detail, ...)"
                .into(),
        )
    }
}

/// Every subscription and plugin with the explanation of whether the event matches it.
fn explain_all<'a>(config: &'a Config, view: &EventView) -> Vec<(&'a Subscription, Explanation)> {
    let mut explanations = Vec::new();
    let subscriptions = Router::new(config.subscriptions.clone());
    let plugins = Router::new(config.plugins.clone());
    for (router, list) in [
        (&subscriptions, &config.subscriptions),
        (&plugins, &config.plugins),
    ] {
        // The router's own answer decides; the explanation says why.
        let routed: Vec<&str> = router.route(view).iter().map(|s| &*s.name).collect();
        for (sub, explanation) in list.iter().zip(router.explain(view)) {
            debug_assert_eq!(routed.contains(&&*sub.name), explanation.matched);
            explanations.push((sub, explanation));
        }
    }
    explanations
}

fn print_json<'a>(
    json_event: &Value,
    shown: impl Iterator<Item = &'a (&'a Subscription, Explanation)>,
) {
    let items: Vec<Value> = shown
        .map(|(sub, x)| {
            json!({
                "kind": sub.kind.to_string(),
                "name": sub.name,
                "matched": x.matched,
                "target": sub.target.label(),
                "mode": sub.mode.to_string(),
                "checks": x.checks.iter().map(|c| json!({"passed": c.passed, "check": c.what})).collect::<Vec<_>>(),
            })
        })
        .collect();
    println!(
        "{}",
        json!({"event": {"id": json_event["id"], "type": json_event["type"], "source": json_event["source"]}, "matches": items})
    );
}

fn print_text<'a>(shown: impl Iterator<Item = &'a (&'a Subscription, Explanation)>) {
    for (sub, x) in shown {
        println!(
            "{} {} {:?} -> {} ({})",
            if x.matched { "MATCH   " } else { "no match" },
            sub.kind,
            sub.name,
            sub.target.label(),
            sub.mode
        );
        for check in &x.checks {
            println!(
                "    [{}] {}",
                if check.passed { "x" } else { " " },
                check.what
            );
        }
    }
}
