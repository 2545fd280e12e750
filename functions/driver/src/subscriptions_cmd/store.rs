//! `eventferry subscriptions create / list / get / delete / apply`: the router's subscriptions
//! in its store (`--store s3://BUCKET/KEY`, the router's `EVENTFERRY_SUBSCRIPTIONS_STORE`),
//! changed at runtime in the spirit of `dispatch create subscription`.
//!
//! Every write goes through `eventferry_core::subscription::live::edit`: it validates the whole
//! result with the router's own code before storing it, and stores it only if nobody else
//! wrote since it was read (an S3 conditional write), so two writers never lose each other's
//! change. The router picks a change up within its refresh interval.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use eventferry_aws::s3::{parse_s3_url, S3Document, S3};
use eventferry_core::subscription::live::{edit, overwrite, Edited, StoreError};
use eventferry_core::subscription::store::{
    now_stamp, ApplyReport, Document, EditError, NewEntry, Row,
};
use eventferry_core::subscription::{Format, Kind};
use serde_json::{json, Value};

use crate::cli::{block_on, read_arg, ArgSource, AwsArgs, RuntimeFlavor};

/// Where the subscriptions are stored; shared by every store subcommand.
#[derive(Args, Clone)]
pub struct StoreArgs {
    /// The subscription store: s3://BUCKET/KEY, the router's EVENTFERRY_SUBSCRIPTIONS_STORE
    /// (the stack output `SubscriptionsStore` of template.yaml).
    #[arg(long, env = "EVENTFERRY_SUBSCRIPTIONS_STORE", value_name = "S3_URL")]
    pub store: String,
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// The store subcommands.
#[derive(Subcommand)]
pub enum StoreCommand {
    /// Add a subscription (or, with --plugin, a plugin) to the store; the router invokes its
    /// target within its refresh interval. Exit status: 0 created; 1 a store error or the name
    /// is taken; 2 invalid input.
    #[command(after_help = "Examples:\n  \
        eventferry subscriptions create hello-s3 --event-type aws.s3 --function hello-py\n  \
        eventferry subscriptions create big-orders --event-type demo.shop \\\n      \
        --filter '{\"exact\": {\"awsdetailtype\": \"OrderPlaced\"}}' \\\n      \
        --pattern '{\"data\": {\"detail\": {\"total\": [{\"numeric\": [\">=\", 100]}]}}}' \\\n      \
        --function recorder --mode async\n  \
        eventferry subscriptions create audit --http https://audit.example.com/in \\\n      \
        --header 'Authorization=Bearer xyz'")]
    Create(Box<CreateArgs>),
    /// List the stored subscriptions and plugins: NAME | EVENT TYPE | TARGET | MODE | CREATED.
    #[command(after_help = "Examples:\n  \
        eventferry subscriptions list --store s3://my-bucket/subscriptions.json\n  \
        eventferry subscriptions list --json")]
    List(ListArgs),
    /// Print one stored subscription or plugin as JSON, as stored (header values hidden).
    /// Exit status: 0 found; 1 not found or a store error; 2 invalid input.
    #[command(after_help = "Examples:\n  \
        eventferry subscriptions get hello-s3\n  \
        eventferry subscriptions get hello-s3 --store s3://my-bucket/subscriptions.json")]
    Get(GetArgs),
    /// Remove a subscription or plugin from the store; the router stops invoking it within its
    /// refresh interval. Exit status: 0 deleted; 1 not found or a store error.
    #[command(after_help = "Examples:\n  \
        eventferry subscriptions delete hello-s3\n  \
        eventferry subscriptions delete hello-s3 --store s3://my-bucket/subscriptions.json")]
    Delete(GetArgs),
    /// Make the store hold exactly the subscriptions of FILE (YAML or JSON, the router's file
    /// format), for GitOps: entries not in FILE are removed. Prints what was added, changed and
    /// removed. Exit status: 0 applied; 1 a store error; 2 an invalid FILE (nothing stored).
    #[command(after_help = "Examples:\n  \
        eventferry subscriptions apply -f events/demo-subscriptions.yaml\n  \
        eventferry subscriptions apply -f subs.yaml --dry-run")]
    Apply(ApplyArgs),
}

/// Arguments of `subscriptions create`.
#[derive(Args)]
pub struct CreateArgs {
    /// The subscription's name, unique among the stored subscriptions and plugins.
    #[arg(value_name = "NAME")]
    name: String,
    /// An exact CloudEvent type to match (repeat for several); none matches every type.
    #[arg(long = "event-type", value_name = "TYPE")]
    event_types: Vec<String>,
    /// The Lambda function to invoke (name or ARN). Give this or --http.
    #[arg(long, value_name = "FUNCTION", conflicts_with = "http")]
    function: Option<String>,
    /// The HTTP endpoint to POST events to. Give this or --function.
    #[arg(long, value_name = "URL")]
    http: Option<String>,
    /// A header for an --http target, NAME=VALUE (repeat for several); values are never printed.
    #[arg(long = "header", value_name = "NAME=VALUE", requires = "http")]
    headers: Vec<String>,
    /// An exact CloudEvent source to match.
    #[arg(long, value_name = "SOURCE")]
    source: Option<String>,
    /// A CloudEvents Subscriptions API filter as JSON, e.g. '{"prefix": {"subject": "order/"}}'
    /// (repeat for several, all must hold; @FILE reads a file).
    #[arg(long = "filter", value_name = "JSON")]
    filters: Vec<String>,
    /// An EventBridge pattern over the CloudEvent's JSON form, data included (JSON, @FILE).
    #[arg(long, value_name = "JSON")]
    pattern: Option<String>,
    /// sync (wait for the function's answer) or async (Lambda's Event invocation; function
    /// targets only) [default: sync]
    #[arg(long, value_name = "MODE")]
    mode: Option<String>,
    /// What the target receives: application/cloudevents+json (structured), application/json
    /// (the data alone, functions), or a media type for HTTP binary mode [default: structured
    /// for functions, binary for HTTP]
    #[arg(long, value_name = "MEDIA_TYPE")]
    content_type: Option<String>,
    /// Free text kept with the subscription.
    #[arg(long, value_name = "TEXT")]
    description: Option<String>,
    /// Store it as a plugin (a subscription to system events, e.g. --event-type
    /// eventferry.event.received).
    #[arg(long)]
    plugin: bool,
    #[command(flatten)]
    store: StoreArgs,
}

/// Arguments of `subscriptions list`.
#[derive(Args)]
pub struct ListArgs {
    /// Print JSON (one object: the version and the entries as stored, header values hidden).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    store: StoreArgs,
}

/// Arguments of `subscriptions get` and `delete`.
#[derive(Args)]
pub struct GetArgs {
    /// The subscription's or plugin's name.
    #[arg(value_name = "NAME")]
    name: String,
    #[command(flatten)]
    store: StoreArgs,
}

/// Arguments of `subscriptions apply`.
#[derive(Args)]
pub struct ApplyArgs {
    /// The subscriptions file (FILE or @FILE; `-` for stdin): `.json` is JSON, anything else YAML.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file: String,
    /// Say what would change, and store nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    store: StoreArgs,
}

/// Runs a store subcommand (builds its own tokio runtime).
pub fn run(cmd: StoreCommand) -> ExitCode {
    let name = match &cmd {
        StoreCommand::Create(_) => "subscriptions create",
        StoreCommand::List(_) => "subscriptions list",
        StoreCommand::Get(_) => "subscriptions get",
        StoreCommand::Delete(_) => "subscriptions delete",
        StoreCommand::Apply(_) => "subscriptions apply",
    };
    block_on(name, RuntimeFlavor::CurrentThread, async move {
        match run_async(cmd).await {
            Ok(code) => code,
            Err(Failure::Input(message)) => {
                eprintln!("eventferry {name}: {message}");
                ExitCode::from(2)
            }
            Err(Failure::Store(message)) => {
                eprintln!("eventferry {name}: {message}");
                ExitCode::from(1)
            }
        }
    })
}

/// Why a store subcommand failed: bad input (exit 2) or the store (exit 1).
enum Failure {
    Input(String),
    Store(String),
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Edit(edit) => match edit {
                EditError::Invalid(_) => Failure::Input(edit.to_string()),
                other => Failure::Store(other.to_string()),
            },
            other => Failure::Store(other.to_string()),
        }
    }
}

async fn open(args: &StoreArgs) -> Result<S3Document, Failure> {
    let (bucket, key) =
        parse_s3_url(&args.store).map_err(|e| Failure::Input(format!("--store: {e}")))?;
    let cfg = args.aws.load().await.map_err(Failure::Input)?;
    Ok(S3Document::new(S3::new(&cfg), bucket, key))
}

async fn run_async(cmd: StoreCommand) -> Result<ExitCode, Failure> {
    match cmd {
        StoreCommand::Create(args) => create(*args).await,
        StoreCommand::List(args) => list(args).await,
        StoreCommand::Get(args) => get(args).await,
        StoreCommand::Delete(args) => delete(args).await,
        StoreCommand::Apply(args) => apply(args).await,
    }
}

/// A JSON-valued flag (inline JSON or @FILE).
fn json_flag(flag: &str, text: &str) -> Result<Value, Failure> {
    let text = read_arg(flag, text).map_err(Failure::Input)?;
    serde_json::from_str(&text)
        .map_err(|e| Failure::Input(format!("{flag} is not valid JSON ({e}): {text}")))
}

fn new_entry(args: &CreateArgs) -> Result<NewEntry, Failure> {
    if args.function.is_none() && args.http.is_none() {
        return Err(Failure::Input(
            "give the target: --function FUNCTION (a Lambda name or ARN) or --http URL".into(),
        ));
    }
    let headers = args
        .headers
        .iter()
        .map(|h| {
            h.split_once('=')
                .map(|(k, v)| (k.trim().to_owned(), v.to_owned()))
                .filter(|(k, _)| !k.is_empty())
                .ok_or_else(|| {
                    Failure::Input(format!(
                        "--header {:?} must be NAME=VALUE, e.g. 'Authorization=Bearer xyz'",
                        h.split('=').next().unwrap_or_default()
                    ))
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let filters = if args.filters.is_empty() {
        None
    } else {
        Some(Value::Array(
            args.filters
                .iter()
                .map(|f| json_flag("--filter", f))
                .collect::<Result<_, _>>()?,
        ))
    };
    Ok(NewEntry {
        name: args.name.clone(),
        types: args.event_types.clone(),
        source: args.source.clone(),
        filters,
        pattern: args
            .pattern
            .as_deref()
            .map(|p| json_flag("--pattern", p))
            .transpose()?,
        function: args.function.clone(),
        http: args.http.clone(),
        headers,
        mode: args.mode.clone(),
        content_type: args.content_type.clone(),
        description: args.description.clone(),
    })
}

async fn create(args: CreateArgs) -> Result<ExitCode, Failure> {
    let entry = new_entry(&args)?.to_value();
    let kind = if args.plugin {
        Kind::Plugin
    } else {
        Kind::Subscription
    };
    let store = open(&args.store).await?;
    let stamp = now_stamp();
    let edited = edit(&store, |doc| {
        doc.create(kind, entry.clone(), &stamp).map(|_| Some(()))
    })
    .await?;
    println!(
        "created {kind} {:?} in {} (version {})",
        args.name,
        args.store.store,
        shown_version(&edited.version)
    );
    Ok(ExitCode::SUCCESS)
}

/// The stored document (validated) and its version; an absent document is empty.
async fn read(store: &S3Document) -> Result<(Document, String), Failure> {
    let mut held = Document::default();
    // An edit that stores nothing is a validated read.
    let edited = edit(store, |doc| {
        held = doc.clone();
        Ok::<Option<()>, EditError>(None)
    })
    .await?;
    Ok((held, edited.version))
}

async fn list(args: ListArgs) -> Result<ExitCode, Failure> {
    let store = open(&args.store).await?;
    let (doc, version) = read(&store).await?;
    let config = doc
        .validate(&args.store.store)
        .map_err(|e| Failure::Store(e.to_string()))?;
    let rows = doc.rows(&config);
    if args.json {
        let entries: Vec<Value> = rows
            .iter()
            .filter_map(|r| doc.get(&r.name).map(|(kind, v)| shown(kind, v)))
            .collect();
        println!(
            "{}",
            json!({"store": args.store.store, "version": shown_version(&version), "entries": entries})
        );
    } else {
        print!("{}", table(&rows));
    }
    Ok(ExitCode::SUCCESS)
}

/// A version (an S3 ETag) as people read it: without its quotes.
fn shown_version(version: &str) -> &str {
    version.trim_matches('"')
}

/// An entry for printing: its kind added, header values hidden.
fn shown(kind: Kind, entry: &Value) -> Value {
    let mut entry = entry.clone();
    if let Some(headers) = entry.get_mut("headers").and_then(Value::as_object_mut) {
        for value in headers.values_mut() {
            *value = "(hidden)".into();
        }
    }
    entry["kind"] = kind.to_string().into();
    entry
}

/// The list table, Dispatch's columns; plugins are marked.
fn table(rows: &[Row]) -> String {
    let headers = ["NAME", "EVENT TYPE", "TARGET", "MODE", "CREATED"];
    let cells: Vec<[String; 5]> = rows
        .iter()
        .map(|r| {
            let name = match r.kind {
                Kind::Subscription => r.name.clone(),
                Kind::Plugin => format!("{} (plugin)", r.name),
            };
            [
                name,
                r.event_type.clone(),
                r.target.clone(),
                r.mode.clone(),
                r.created.clone(),
            ]
        })
        .collect();
    let mut widths = headers.map(str::len);
    for row in &cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cols: [&str; 5]| {
        let mut out = String::new();
        for (i, (col, w)) in cols.iter().zip(widths).enumerate() {
            if i + 1 == cols.len() {
                out.push_str(col);
            } else {
                out.push_str(&format!("{col:<w$} | "));
            }
        }
        out.trim_end().to_owned() + "\n"
    };
    let mut out = line(headers);
    for row in &cells {
        out.push_str(&line([&row[0], &row[1], &row[2], &row[3], &row[4]]));
    }
    if rows.is_empty() {
        out.push_str("(no subscriptions: add one with `eventferry subscriptions create`)\n");
    }
    out
}

async fn get(args: GetArgs) -> Result<ExitCode, Failure> {
    let store = open(&args.store).await?;
    let (doc, _) = read(&store).await?;
    match doc.get(&args.name) {
        Some((kind, entry)) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&shown(kind, entry)).expect("JSON")
            );
            Ok(ExitCode::SUCCESS)
        }
        None => {
            eprintln!(
                "eventferry subscriptions get: no subscription or plugin is named {:?} in {}",
                args.name, args.store.store
            );
            Ok(ExitCode::from(1))
        }
    }
}

async fn delete(args: GetArgs) -> Result<ExitCode, Failure> {
    let store = open(&args.store).await?;
    let edited = edit(&store, |doc| doc.delete(&args.name).map(Some)).await?;
    let kind = edited.value.map_or(Kind::Subscription, |(kind, _)| kind);
    println!(
        "deleted {kind} {:?} from {} (version {})",
        args.name,
        args.store.store,
        shown_version(&edited.version)
    );
    Ok(ExitCode::SUCCESS)
}

async fn apply(args: ApplyArgs) -> Result<ExitCode, Failure> {
    let from = ArgSource::of_stream(&args.file);
    let (text, shown_as) = match from {
        ArgSource::File(path) => (
            std::fs::read_to_string(path)
                .map_err(|e| Failure::Input(format!("cannot read {path}: {e}")))?,
            path.to_owned(),
        ),
        other => (
            other.read("FILE").map_err(Failure::Input)?,
            "stdin".to_owned(),
        ),
    };
    let (desired, _) = Document::parse(&text, Format::from_path(&shown_as), &shown_as)
        .map_err(|e| Failure::Input(e.to_string()))?;
    let store = open(&args.store).await?;
    let stamp = now_stamp();
    let mut preview = None;
    let edited = edit(&store, |doc| {
        let report = doc.apply(desired.clone(), &stamp);
        // Validated again as a whole, as every write is.
        doc.validate(&shown_as)?;
        if args.dry_run {
            preview = Some(report);
            return Ok(None);
        }
        Ok(Some(report))
    })
    .await;
    let edited = match edited {
        // The store holds an invalid document: the file replaces it (this is the way out).
        Err(StoreError::Corrupt { source, .. }) => {
            let what = format!("the stored document is invalid ({source})");
            if args.dry_run {
                println!("would replace {what}");
                return Ok(ExitCode::SUCCESS);
            }
            let mut fresh = Document::default();
            let report = fresh.apply(desired, &stamp);
            let written = overwrite(&store, &fresh).await?;
            println!("replaced {what}");
            Edited {
                value: Some(report),
                version: written.version,
                attempts: written.attempts,
            }
        }
        other => other?,
    };
    let Some(report) = edited.value else {
        print_report(&preview.unwrap_or_default(), true);
        return Ok(ExitCode::SUCCESS);
    };
    print_report(&report, false);
    println!(
        "stored in {} (version {})",
        args.store.store,
        shown_version(&edited.version)
    );
    Ok(ExitCode::SUCCESS)
}

fn print_report(report: &ApplyReport, dry_run: bool) {
    let verb = |done: &'static str, would: &'static str| if dry_run { would } else { done };
    for (names, done, would) in [
        (&report.added, "added", "would add"),
        (&report.changed, "changed", "would change"),
        (&report.removed, "removed", "would remove"),
    ] {
        for name in names {
            println!("{} {name}", verb(done, would));
        }
    }
    println!(
        "{} added, {} changed, {} removed, {} unchanged{}",
        report.added.len(),
        report.changed.len(),
        report.removed.len(),
        report.unchanged.len(),
        if dry_run {
            " (dry run: nothing stored)"
        } else {
            ""
        }
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_dispatchs_columns() {
        let rows = vec![
            Row {
                name: "hello".into(),
                kind: Kind::Subscription,
                event_type: "aws.s3".into(),
                target: "function hello-py".into(),
                mode: "sync".into(),
                created: "2026-12-02T05:00:00Z".into(),
            },
            Row {
                name: "gate".into(),
                kind: Kind::Plugin,
                event_type: "eventferry.event.received".into(),
                target: "function gatekeeper".into(),
                mode: "sync".into(),
                created: "-".into(),
            },
        ];
        let text = table(&rows);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "NAME          | EVENT TYPE                | TARGET              | MODE | CREATED"
        );
        assert!(lines[1].starts_with("hello         | aws.s3 "), "{text}");
        assert!(
            lines[2].starts_with("gate (plugin) | eventferry.event.received"),
            "{text}"
        );
        assert!(table(&[]).contains("no subscriptions"));
    }
}
