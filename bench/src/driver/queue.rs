//! The queues every run starts from: a fresh queue filled with the same EventBridge-shaped
//! messages, deleted after the run.

use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use futures::{stream, StreamExt};
use serde_json::{json, Value};

use super::ctx::{Ctx, REGION};

/// An EventBridge event as a rule delivers it to SQS (about 600 bytes).
fn envelope(run_num: u64, i: usize, source: &str) -> Value {
    json!({
        "version": "0",
        "id": format!("{run_num:08x}-0000-4000-8000-{i:012x}"),
        "detail-type": "Order Placed",
        "source": source,
        "account": "000000000000",
        "time": "2026-11-23T10:00:00Z",
        "region": REGION,
        "resources": [format!("arn:aws:s3:::eventferry-bench/orders/{i}")],
        "detail": {
            "orderId": format!("order-{i}"),
            "customer": {"id": format!("c-{}", i % 977), "tier": (["gold", "silver", "bronze"][i % 3])},
            "total": (i * 37) % 1000,
            "currency": "EUR",
            "items": [
                {"sku": format!("sku-{}", i % 113), "qty": 1 + i % 4, "price": 12.5},
                {"sku": format!("sku-{}", i % 71), "qty": 1, "price": 99.0}
            ],
            "shipping": {"country": "DE", "city": "Berlin", "zip": "10115", "express": i.is_multiple_of(2)}
        }
    })
}

/// `-K` for the K-th call after the first, else nothing: a fresh queue name for every run, as
/// runs come back with `--rounds` and SQS refuses a name deleted less than 60 s ago.
pub fn again() -> String {
    static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    match RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) {
        0 => String::new(),
        k => format!("-{k}"),
    }
}

pub async fn create_queue(ctx: &Ctx, name: &str) -> String {
    ctx.sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateQueue {name}: {e:?}"))
        .queue_url
        .expect("CreateQueue returns a URL")
}

pub async fn delete_queue(ctx: &Ctx, url: &str) {
    if let Err(e) = ctx.sqs.delete_queue().queue_url(url).send().await {
        eprintln!("warning: DeleteQueue {url}: {e:?}");
    }
}

/// Fills `url` with `n` messages (SendMessageBatch, 8 at a time) and checks the count.
pub async fn fill(ctx: &Ctx, url: &str, n: usize) {
    let source = format!("{}.orders", ctx.run);
    let batches: Vec<Vec<SendMessageBatchRequestEntry>> = (0..n)
        .collect::<Vec<_>>()
        .chunks(10)
        .map(|chunk| {
            chunk
                .iter()
                .map(|&i| {
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(envelope(ctx.run_num, i, &source).to_string())
                        .build()
                        .expect("id and body set")
                })
                .collect()
        })
        .collect();
    stream::iter(batches)
        .map(|entries| {
            let sqs = ctx.sqs.clone();
            let url = url.to_owned();
            async move {
                sqs.send_message_batch()
                    .queue_url(url)
                    .set_entries(Some(entries))
                    .send()
                    .await
            }
        })
        .buffer_unordered(8)
        .for_each(|r| async move {
            let r = r.unwrap_or_else(|e| panic!("SendMessageBatch: {e:?}"));
            assert!(
                r.failed.is_empty(),
                "SendMessageBatch failures: {:?}",
                r.failed
            );
        })
        .await;
    let have = approximate_count(ctx, url).await;
    assert_eq!(have, n, "the queue holds {have} messages, expected {n}");
}

/// ApproximateNumberOfMessages of `url` (0 when it does not parse).
async fn approximate_count(ctx: &Ctx, url: &str) -> usize {
    use aws_sdk_sqs::types::QueueAttributeName;
    let attrs = ctx
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .expect("GetQueueAttributes");
    attrs
        .attributes
        .and_then(|a| {
            a.get(&QueueAttributeName::ApproximateNumberOfMessages)
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}
