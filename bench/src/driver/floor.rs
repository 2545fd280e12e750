//! The SQS API floor: a minimal aws-sdk-sqs loop, ReceiveMessage (10, long poll) then
//! DeleteMessageBatch, at 1, 2, 4 and 8 tasks. The bench runs it as a child process of itself
//! ([`floor`]), the child being `eventferry-bench floor --queue-url U --count N --concurrency C`
//! ([`floor_main`]).

use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName};
use serde_json::json;

use super::child::run_on_queue;
use super::ctx::Ctx;
use super::measure::Row;
use super::queue::{again, create_queue, fill};
use super::variants;
use crate::common;

/// One floor run at `concurrency` tasks on a fresh, filled queue.
pub async fn floor(ctx: &Ctx, concurrency: usize) -> Row {
    floor_variant(ctx, concurrency, "default").await
}

/// One floor run with the SDK configuration `variant` ([`super::variants::config`]).
pub async fn floor_variant(ctx: &Ctx, concurrency: usize, variant: &str) -> Row {
    let who: &'static str = if variant == "default" {
        "floor"
    } else {
        // A handful per bench run.
        Box::leak(variant.to_owned().into_boxed_str())
    };
    let run = FloorRun {
        variant,
        endpoint: &ctx.opts.endpoint,
        messages: ctx.opts.messages,
        who,
        sink: "-",
    };
    floor_run(ctx, concurrency, &run).await
}

/// What one floor run varies: the SDK configuration, the endpoint its calls go to, the messages,
/// and the labels of its row.
pub struct FloorRun<'a> {
    pub variant: &'a str,
    pub endpoint: &'a str,
    pub messages: usize,
    pub who: &'static str,
    pub sink: &'static str,
}

/// One floor run at `concurrency` tasks on a fresh queue filled with `run.messages`.
pub async fn floor_run(ctx: &Ctx, concurrency: usize, run: &FloorRun<'_>) -> Row {
    let variant = run.variant;
    let tag = if variant == "default" {
        String::new()
    } else {
        format!("-{}", variant.replace('+', "-"))
    };
    let name = format!("{}-floor-c{concurrency}{tag}{}", ctx.run, again());
    let url = create_queue(ctx, &name).await;
    fill(ctx, &url, run.messages).await;
    let mut cmd = Command::new(std::env::current_exe().expect("current exe"));
    cmd.args([
        "floor",
        "--queue-url",
        &url,
        "--count",
        &run.messages.to_string(),
        "--concurrency",
        &concurrency.to_string(),
        "--endpoint",
        run.endpoint,
        "--variant",
        variant,
    ]);
    let row = run_on_queue(ctx, &name, &url, cmd).await.row(
        run.who,
        run.sink,
        concurrency,
        run.messages,
        None,
    );
    row.progress();
    row
}

// ---------------------------------------------------------------------------------------------
// The floor child

/// `--queue-url U --count N [--concurrency C] [--wait S] [--endpoint E] [--variant V]`.
struct FloorArgs {
    url: String,
    count: u64,
    concurrency: usize,
    wait: i32,
    endpoint: String,
    variant: String,
}

impl FloorArgs {
    fn parse(args: &[String]) -> FloorArgs {
        FloorArgs {
            url: common::opt(args, "--queue-url")
                .expect("--queue-url")
                .to_owned(),
            count: common::opt(args, "--count")
                .expect("--count")
                .parse()
                .expect("--count N"),
            concurrency: common::opt(args, "--concurrency")
                .unwrap_or("1")
                .parse()
                .expect("--concurrency N"),
            wait: common::opt(args, "--wait")
                .unwrap_or("1")
                .parse()
                .expect("--wait S"),
            endpoint: common::opt(args, "--endpoint")
                .unwrap_or("http://127.0.0.1:4566")
                .to_owned(),
            variant: common::opt(args, "--variant")
                .unwrap_or("default")
                .to_owned(),
        }
    }
}

/// The child: receives and deletes `--count` messages, prints `first` at the first batch and
/// `{"seconds": …, "messages": …}` at the end, then waits for its stdin to close.
pub fn floor_main(args: &[String]) {
    let args = FloorArgs::parse(args);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(floor_child(args));
}

/// What the poll tasks share.
#[derive(Clone)]
struct Poller {
    sqs: aws_sdk_sqs::Client,
    url: String,
    count: u64,
    wait: i32,
    deleted: Arc<AtomicU64>,
    first: Arc<OnceLock<Instant>>,
    done: Arc<tokio::sync::Notify>,
    end: Arc<OnceLock<Instant>>,
}

async fn floor_child(args: FloorArgs) {
    let poller = Poller {
        sqs: aws_sdk_sqs::Client::new(&variants::config(&args.endpoint, &args.variant).await),
        url: args.url,
        count: args.count,
        wait: args.wait,
        deleted: Arc::new(AtomicU64::new(0)),
        first: Arc::default(),
        done: Arc::new(tokio::sync::Notify::new()),
        end: Arc::default(),
    };
    for _ in 0..args.concurrency {
        tokio::spawn(poller.clone().poll());
    }
    poller.done.notified().await;
    let seconds = poller
        .end
        .get()
        .expect("end set")
        .duration_since(*poller.first.get().expect("first set"))
        .as_secs_f64();
    println!(
        "{}",
        json!({"seconds": seconds, "messages": poller.deleted.load(Ordering::Relaxed)})
    );
    // Alive until the bench closes our stdin: it reads our CPU and peak RSS from /proc
    // after this line, and a process that has exited has neither.
    let _ = std::io::Write::flush(&mut std::io::stdout());
    let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new());
    std::process::exit(0);
}

impl Poller {
    /// One task: receive, delete, until `count` messages are deleted.
    async fn poll(self) {
        while self.deleted.load(Ordering::Relaxed) < self.count {
            let out = self
                .sqs
                .receive_message()
                .queue_url(&self.url)
                .max_number_of_messages(10)
                .wait_time_seconds(self.wait)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .message_attribute_names("All")
                .send()
                .await
                .expect("ReceiveMessage");
            let messages = out.messages.unwrap_or_default();
            if messages.is_empty() {
                continue;
            }
            self.first.get_or_init(|| {
                println!("first");
                Instant::now()
            });
            let ok = self.delete(&messages).await;
            if self.deleted.fetch_add(ok, Ordering::Relaxed) + ok >= self.count {
                self.end.get_or_init(Instant::now);
                self.done.notify_one();
            }
        }
    }

    /// DeleteMessageBatch of `messages`; how many were deleted.
    async fn delete(&self, messages: &[Message]) -> u64 {
        let entries: Vec<DeleteMessageBatchRequestEntry> = messages
            .iter()
            .enumerate()
            .map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                    .build()
                    .expect("id and handle set")
            })
            .collect();
        let out = self
            .sqs
            .delete_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await
            .expect("DeleteMessageBatch");
        out.successful.len() as u64
    }
}
