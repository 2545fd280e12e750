use super::*;
use crate::invocation::Status;
use crate::subscription::Mode;

fn result(sub: &str, attempt: u32, status: Status) -> InvocationResult {
    InvocationResult {
        subscription: sub.into(),
        target: sub.into(),
        mode: Mode::Sync,
        attempt,
        status,
        status_code: None,
        duration_ms: 1,
        error: (status == Status::Failed).then(|| "boom".into()),
        response: None,
    }
}

#[test]
fn decisions_never_redeliver_after_a_success() {
    let ok = result("ok", 1, Status::Succeeded);
    let accepted = result("async", 1, Status::Accepted);
    let bad = result("bad", 1, Status::Failed);
    let no_queue = RetryPolicy::default();
    let queue = RetryPolicy {
        retry_queue: true,
        dead_letter_queue: true,
        ..RetryPolicy::default()
    };
    // All succeeded.
    assert_eq!(
        decide(&[ok.clone(), accepted.clone()], &no_queue).disposition,
        Disposition::Ack
    );
    assert_eq!(decide(&[], &no_queue).disposition, Disposition::Ack);
    // Nothing succeeded, no queue: the input redelivers.
    let d = decide(std::slice::from_ref(&bad), &no_queue);
    assert_eq!(d.disposition, Disposition::Redeliver);
    assert_eq!(d.failed, vec![("bad".into(), PairAction::Redeliver)]);
    // Something succeeded, no queue: never redeliver.
    let d = decide(&[ok.clone(), bad.clone()], &no_queue);
    assert_eq!(d.disposition, Disposition::Ack);
    assert!(
        matches!(&d.failed[..], [(name, PairAction::Drop { reason })] if &**name == "bad" && reason.contains("re-invoke"))
    );
    // With a queue: each failure is retried on its own, the input acknowledged.
    let d = decide(
        &[ok.clone(), bad.clone(), result("bad2", 1, Status::Failed)],
        &queue,
    );
    assert_eq!(d.disposition, Disposition::Ack);
    assert_eq!(
        d.failed,
        vec![
            (
                "bad".into(),
                PairAction::Retry {
                    attempt: 2,
                    delay_secs: 10
                }
            ),
            (
                "bad2".into(),
                PairAction::Retry {
                    attempt: 2,
                    delay_secs: 10
                }
            ),
        ]
    );
    // Attempts used up: dead letter, or drop without a DLQ.
    let last = result("bad", 3, Status::Failed);
    assert_eq!(
        decide(std::slice::from_ref(&last), &queue).failed[0].1,
        PairAction::DeadLetter
    );
    let no_dlq = RetryPolicy {
        dead_letter_queue: false,
        ..queue.clone()
    };
    assert!(matches!(
        decide(&[last], &no_dlq).failed[0].1,
        PairAction::Drop { .. }
    ));
    // A failed write falls back to redelivery only when nothing succeeded.
    assert_eq!(
        after_write_failure(std::slice::from_ref(&bad), "x").0,
        Disposition::Redeliver
    );
    assert_eq!(after_write_failure(&[ok, bad], "x").0, Disposition::Ack);
}

#[test]
fn backoff_doubles_and_is_capped() {
    let p = RetryPolicy {
        base_delay_secs: 10,
        max_delay_secs: 900,
        ..RetryPolicy::default()
    };
    assert_eq!([2, 3, 4, 5].map(|n| p.delay_before(n)), [10, 20, 40, 80]);
    assert_eq!(p.delay_before(40), 900);
    let zero = RetryPolicy {
        base_delay_secs: 0,
        ..p
    };
    assert_eq!(zero.delay_before(5), 0);
}
