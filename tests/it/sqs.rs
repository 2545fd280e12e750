//! The real SQS slice: create a queue, send 25 messages, long-poll them back, batch-delete, check
//! every body, delete the queue. Against LocalStack, no mocks.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use eventferry_aws::sqs::{MessageQueue, Receipt, Sqs, MAX_BATCH};
use eventferry_tests::{localstack, unique_name, within};

#[tokio::test]
async fn send_receive_delete_25_messages() {
    let config = localstack().await;
    let sqs = Sqs::new(&config);
    let name = unique_name("sqs");
    let url = sqs
        .create_queue(&name, HashMap::new(), HashMap::new())
        .await
        .expect("create queue");
    assert!(
        url.ends_with(&name),
        "queue URL {url} should end with the queue name"
    );

    let sent: Vec<String> = (0..25)
        .map(|i| format!(r#"{{"n":{i},"queue":"{name}"}}"#))
        .collect();
    for chunk in sent.chunks(MAX_BATCH) {
        sqs.send_batch(&url, chunk).await.expect("send batch");
    }

    let queue = sqs.queue(&url);
    let mut received = BTreeSet::new();
    within(Duration::from_secs(60), "25 messages", async {
        while received.len() < sent.len() {
            let batch = queue.receive(10, 2).await.expect("receive");
            let receipts: Vec<Receipt> = batch
                .iter()
                .enumerate()
                .map(|(i, m)| Receipt {
                    id: i.to_string(),
                    receipt_handle: m.receipt_handle.clone(),
                })
                .collect();
            for m in &batch {
                assert!(
                    m.sent_timestamp_millis().is_some(),
                    "SentTimestamp attribute requested"
                );
                assert_eq!(m.receive_count(), 1, "no message should be seen twice");
                assert!(received.insert(m.body.clone()), "duplicate body {}", m.body);
            }
            let failed = queue.delete_batch(&receipts).await.expect("delete batch");
            assert!(failed.is_empty(), "delete failed for {failed:?}");
        }
    })
    .await;
    assert_eq!(
        received,
        sent.iter().cloned().collect::<BTreeSet<_>>(),
        "every body arrives exactly"
    );

    // Deleted means gone: nothing comes back after a short poll.
    let left = queue.receive(10, 1).await.expect("receive after delete");
    assert!(left.is_empty(), "messages left after delete: {left:?}");

    sqs.delete_queue(&url).await.expect("delete queue");
    assert_eq!(
        sqs.queue_url(&name).await.expect("get queue url"),
        None,
        "queue is gone"
    );
}
