//! The subscription store (#17) end to end: `eventferry subscriptions` writes an S3 object in
//! LocalStack, and the router under `cargo lambda watch` (EVENTFERRY_SUBSCRIPTIONS_STORE, a
//! 1-second refresh) follows it without a restart: a created subscription is invoked, an invalid
//! document is refused while the last good version stays served, a deleted subscription stops,
//! and two concurrent creates both survive. A router whose store cannot be read yet fails its
//! invocations (so SQS delivers the batch again) instead of dropping events.

use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use eventferry_aws::lambda::InvokeOutcome;
use eventferry_tests::watch::{Queues, Watch};
use eventferry_tests::{localstack, run_eventferry, unique_name};
use serde_json::{json, Value};

/// A bucket of its own, emptied and deleted on drop (best effort).
struct Bucket {
    s3: aws_sdk_s3::Client,
    name: String,
}

impl Bucket {
    async fn create() -> Bucket {
        let config = localstack().await;
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&config)
                .force_path_style(true)
                .build(),
        );
        let name = unique_name("ef-store").to_lowercase().replace('_', "-");
        s3.create_bucket()
            .bucket(&name)
            .send()
            .await
            .expect("create bucket");
        Bucket { s3, name }
    }

    fn url(&self) -> String {
        format!("s3://{}/subscriptions.json", self.name)
    }

    async fn put_raw(&self, text: &str) {
        self.s3
            .put_object()
            .bucket(&self.name)
            .key("subscriptions.json")
            .body(ByteStream::from(text.as_bytes().to_vec()))
            .send()
            .await
            .expect("put object");
    }

    async fn cleanup(self) {
        let _ = self
            .s3
            .delete_object()
            .bucket(&self.name)
            .key("subscriptions.json")
            .send()
            .await;
        let _ = self.s3.delete_bucket().bucket(&self.name).send().await;
    }
}

async fn cli(args: &[&str], store: &str) -> (Option<i32>, String, String) {
    run_eventferry(
        args,
        &[("EVENTFERRY_SUBSCRIPTIONS_STORE", store)],
        Duration::from_secs(60),
    )
    .await
}

/// A CloudEvent of type `ty`, invoked directly: the router answers with what it matched.
fn event(ty: &str, id: &str) -> Value {
    json!({"specversion": "1.0", "id": id, "source": "/tests/store", "type": ty,
           "datacontenttype": "application/json", "data": {"n": 1}})
}

async fn matched(watch: &Watch, ty: &str, id: &str) -> Vec<String> {
    match watch.invoke_router(&event(ty, id)).await {
        InvokeOutcome::Ok { payload, .. } => {
            let answer: Value = serde_json::from_slice(&payload).expect("JSON answer");
            answer["matched"]
                .as_array()
                .unwrap_or_else(|| panic!("no `matched` in {answer}"))
                .iter()
                .map(|m| m.as_str().unwrap().to_owned())
                .collect()
        }
        other => panic!(
            "the router failed: {other:?}\n--- watch log ---\n{}",
            watch.log_tail()
        ),
    }
}

/// Invokes the router until `want(matched)` holds, at most 30 s (the refresh is 1 s); returns
/// how long it took.
async fn until_matched(
    watch: &Watch,
    ty: &str,
    what: &str,
    want: impl Fn(&[String]) -> bool,
) -> Duration {
    let start = Instant::now();
    for i in 0.. {
        let got = matched(watch, ty, &format!("probe-{i}")).await;
        if want(&got) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{what}: still matched {got:?} after 30 s\n--- watch log ---\n{}",
            watch.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    unreachable!()
}

#[tokio::test]
async fn the_router_follows_the_store_without_a_restart() {
    let bucket = Bucket::create().await;
    let store = bucket.url();
    let queues = Queues::create(&["recorded"]).await;
    let ty = format!("com.example.{}", unique_name("store").replace('-', "."));
    let watch = Watch::start(
        9441,
        &[
            ("EVENTFERRY_SUBSCRIPTIONS_STORE", store.clone()),
            ("EVENTFERRY_SUBSCRIPTIONS_REFRESH_SECONDS", "1".into()),
            ("RECORDER_QUEUE_URL", queues.url("recorded")),
        ],
    )
    .await;

    // No document yet: a valid, empty version; nothing matches.
    assert!(matched(&watch, &ty, "before").await.is_empty());

    // create: invoked within the refresh interval.
    let (code, out, err) = cli(
        &[
            "subscriptions",
            "create",
            "rec",
            "--event-type",
            &ty,
            "--function",
            "recorder",
        ],
        &store,
    )
    .await;
    assert_eq!(code, Some(0), "create: {out}\n{err}");
    let took = until_matched(&watch, &ty, "after create", |m| m == ["rec"]).await;
    eprintln!("the router served the new subscription after {took:?}");
    let recorded = queues.take("recorded", 1).await;
    assert_eq!(recorded[0]["type"], ty.as_str());
    let log = watch.log_text();
    assert!(
        log.contains("serving subscriptions version"),
        "the version served is logged\n{}",
        watch.log_tail()
    );

    // An invalid document (written around the CLI, which refuses it): the last good version
    // stays, and the log says why.
    bucket
        .put_raw(r#"{"subscriptions": [{"name": "broken", "function": "recorder", "mode": "sometimes"}]}"#)
        .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(matched(&watch, &ty, "while-invalid").await, ["rec"]);
    queues.take("recorded", 1).await;
    let log = watch.log_text();
    assert!(
        log.contains("cannot refresh the subscriptions: still serving version")
            && log.contains("sometimes"),
        "the refusal and its reason are logged\n{}",
        watch.log_tail()
    );
    assert!(
        log.contains("\"SubscriptionsStale\":1"),
        "the stale metric is reported\n{}",
        watch.log_tail()
    );
    // The CLI refuses to edit the invalid document, and `apply` replaces it.
    let (code, _, err) = cli(&["subscriptions", "delete", "rec"], &store).await;
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("apply -f"), "{err}");
    let file = std::env::temp_dir().join(format!("{}.yaml", unique_name("subs")));
    std::fs::write(
        &file,
        format!("subscriptions:\n  - {{name: rec, types: [{ty}], function: recorder}}\n"),
    )
    .unwrap();
    let (code, out, err) = cli(
        &["subscriptions", "apply", "-f", file.to_str().unwrap()],
        &store,
    )
    .await;
    let _ = std::fs::remove_file(&file);
    assert_eq!(code, Some(0), "apply: {out}\n{err}");
    assert!(
        out.contains("replaced the stored document is invalid"),
        "{out}"
    );

    // delete: no longer invoked.
    let (code, out, err) = cli(&["subscriptions", "delete", "rec"], &store).await;
    assert_eq!(code, Some(0), "delete: {out}\n{err}");
    until_matched(&watch, &ty, "after delete", |m| m.is_empty()).await;

    // Two concurrent creates: both survive.
    let one = [
        "subscriptions",
        "create",
        "one",
        "--event-type",
        &ty,
        "--function",
        "recorder",
    ];
    let two = [
        "subscriptions",
        "create",
        "two",
        "--event-type",
        &ty,
        "--function",
        "recorder",
        "--mode",
        "async",
    ];
    let (a, b) = tokio::join!(cli(&one, &store), cli(&two, &store));
    assert_eq!(a.0, Some(0), "create one: {}\n{}", a.1, a.2);
    assert_eq!(b.0, Some(0), "create two: {}\n{}", b.1, b.2);
    let (code, out, err) = cli(&["subscriptions", "list"], &store).await;
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.starts_with("NAME") && out.contains("one ") && out.contains("two "),
        "{out}"
    );
    until_matched(&watch, &ty, "after the concurrent creates", |m| {
        m.len() == 2 && m.contains(&"one".to_owned()) && m.contains(&"two".to_owned())
    })
    .await;

    drop(watch);
    queues.cleanup().await;
    bucket.cleanup().await;
}

#[tokio::test]
async fn a_router_whose_store_cannot_be_read_redelivers() {
    let missing = format!(
        "s3://{}/subscriptions.json",
        unique_name("ef-nobucket").to_lowercase()
    );
    let watch = Watch::start(
        9442,
        &[
            ("EVENTFERRY_SUBSCRIPTIONS_STORE", missing.clone()),
            ("EVENTFERRY_SUBSCRIPTIONS_REFRESH_SECONDS", "1".into()),
        ],
    )
    .await;
    let outcome = watch.invoke_router(&event("com.example.any", "e1")).await;
    let InvokeOutcome::FunctionError { payload, .. } = &outcome else {
        panic!(
            "expected a failed invocation (events delivered again), got {outcome:?}\n{}",
            watch.log_tail()
        );
    };
    let text = String::from_utf8_lossy(payload);
    assert!(
        text.contains("no subscriptions loaded yet") && text.contains(&missing),
        "{text}"
    );
    assert!(
        watch.log_text().contains("cannot load the subscriptions"),
        "{}",
        watch.log_tail()
    );
}
