//! The Python peer: `bench/python_peer.py`, the boto3 poller a user would otherwise write
//! (receive, convert to a CloudEvent, POST, batch-delete), to the in-bench HTTP sink. It speaks
//! the reporting-child protocol of [`super::child`].

use std::process::Command;
use std::sync::atomic::Ordering;

use super::child::run_on_queue;
use super::ctx::Ctx;
use super::measure::Row;
use super::queue::{again, create_queue, fill};
use crate::common;

/// One run of the peer on half the messages.
pub async fn python(ctx: &Ctx) -> Row {
    let name = format!("{}-python-c1{}", ctx.run, again());
    let url = create_queue(ctx, &name).await;
    let n = ctx.opts.messages / 2;
    fill(ctx, &url, n).await;
    let before = ctx.sink.count.load(Ordering::Relaxed);
    let mut cmd = Command::new(&ctx.opts.python);
    cmd.arg(common::repo_root().join("bench/python_peer.py"))
        .args([
            "--queue-url",
            &url,
            "--count",
            &n.to_string(),
            "--sink",
            &format!("http://127.0.0.1:{}/events", ctx.sink_port),
            "--endpoint",
            &ctx.opts.endpoint,
        ]);
    let reported = run_on_queue(ctx, &name, &url, cmd).await;
    let deliveries = ctx.sink.count.load(Ordering::Relaxed) - before;
    let row = reported.row("python", "http", 1, n, Some(deliveries));
    row.progress();
    row
}
