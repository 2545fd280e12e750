//! Counters for `/metrics` (Prometheus text format), `/healthz` and `/readyz`.

use std::fmt::Write;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use crate::replicas::ReplicaCounters;

/// What the driver has done so far. Cheap to update from any task.
#[derive(Debug, Default)]
pub struct Metrics {
    pub received: AtomicU64,
    pub delivered: AtomicU64,
    pub delivery_failures: AtomicU64,
    pub conversion_failures: AtomicU64,
    pub deleted: AtomicU64,
    pub delete_failures: AtomicU64,
    pub visibility_extensions: AtomicU64,
    pub receive_errors: AtomicU64,
    pub in_flight: AtomicI64,
    /// Sink calls the sink throttled (the function did not run; tried again, not a failure), and
    /// the sink calls allowed at once now (drive/throttle.rs; --max-in-flight until a throttle).
    pub sink_throttles: AtomicU64,
    pub sink_concurrency_limit: AtomicI64,
    /// Batches sent to the sink with --sink-batch above 1 (each counted once, throttled tries not
    /// again).
    pub sink_batches: AtomicU64,
    pub ready: AtomicBool,
    /// The lease keeper's counters.
    pub replicas: Arc<ReplicaCounters>,
    /// The `replica` label on every line (empty: no label).
    pub replica: String,
}

impl Metrics {
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition of every metric, each line labelled with the replica.
    pub fn render(&self) -> String {
        let labels = if self.replica.is_empty() {
            String::new()
        } else {
            format!("{{replica=\"{}\"}}", self.replica)
        };
        let mut out = String::new();
        for (name, kind, help, value) in self.samples() {
            let _ = writeln!(out, "# HELP eventferry_{name} {help}");
            let _ = writeln!(out, "# TYPE eventferry_{name} {kind}");
            let _ = writeln!(out, "eventferry_{name}{labels} {value}");
        }
        out
    }

    /// Every metric: name, Prometheus type, help text, value.
    fn samples(&self) -> [(&'static str, &'static str, &'static str, i64); 18] {
        const C: &str = "counter";
        const G: &str = "gauge";
        let r = &self.replicas;
        let n = |v: &AtomicU64| v.load(Ordering::Relaxed) as i64;
        [
            ("received_total", C, "Messages received from SQS", n(&self.received)),
            ("delivered_total", C, "Events the sink acknowledged", n(&self.delivered)),
            ("delivery_failures_total", C, "Deliveries the sink failed or rejected", n(&self.delivery_failures)),
            ("conversion_failures_total", C, "Messages that could not be turned into a CloudEvent", n(&self.conversion_failures)),
            ("deleted_total", C, "Messages deleted after acknowledgement", n(&self.deleted)),
            ("delete_failures_total", C, "Acknowledged messages whose delete failed (they will be redelivered)", n(&self.delete_failures)),
            ("visibility_extensions_total", C, "Visibility extensions for slow deliveries", n(&self.visibility_extensions)),
            ("receive_errors_total", C, "ReceiveMessage calls that failed", n(&self.receive_errors)),
            ("lease_renewals_total", C, "Lease renewals on the queue's tags", n(&r.lease_renewals)),
            ("lease_failures_total", C, "Lease renewals that failed", n(&r.lease_failures)),
            ("reprovisions_total", C, "Times the queue had vanished and was provisioned again", n(&r.reprovisions)),
            ("policy_repairs_total", C, "Times the instance's queue policy statement was missing and was written again", n(&r.policy_repairs)),
            ("sink_batches_total", C, "Batches sent to the sink (--sink-batch above 1); the delivered_total events arrived in them", n(&self.sink_batches)),
            ("sink_throttles_total", C, "Sink calls throttled (Lambda did not run the function); tried again, not failures", n(&self.sink_throttles)),
            ("in_flight", G, "Deliveries in progress", self.in_flight.load(Ordering::Relaxed)),
            ("replicas_live", G, "Live replicas of the instance (this one included) at the last heartbeat", n(&r.replicas_live)),
            ("rules_missing", G, "Rules of this replica's configuration found missing at the last check (restart to re-create)", n(&r.rules_missing)),
            ("sink_concurrency_limit", G, "Sink calls allowed at once now (lowered on throttles, raised on successes)", self.sink_concurrency_limit.load(Ordering::Relaxed)),
        ]
    }
}

/// Serve `/metrics`, `/healthz` and `/readyz` on `addr` until the process ends.
pub async fn serve(
    addr: std::net::SocketAddr,
    metrics: std::sync::Arc<Metrics>,
) -> std::io::Result<()> {
    use axum::http::StatusCode;
    use axum::routing::get;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let m = metrics.clone();
    let app = axum::Router::new()
        .route("/metrics", get(move || async move { m.render() }))
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/readyz",
            get(move || async move {
                if metrics.ready.load(Ordering::Relaxed) {
                    (StatusCode::OK, "ready\n")
                } else {
                    (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
                }
            }),
        );
    axum::serve(listener, app).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        Metrics::add(&m.delivered, 3);
        let text = m.render();
        assert!(text
            .contains("# TYPE eventferry_delivered_total counter\neventferry_delivered_total 3\n"));
        assert!(text.contains("eventferry_in_flight 0\n"));
        assert!(
            text.contains("# TYPE eventferry_replicas_live gauge\neventferry_replicas_live 0\n")
        );
    }

    #[test]
    fn every_line_carries_the_replica() {
        let m = Metrics {
            replica: "pod-1".into(),
            ..Metrics::default()
        };
        Metrics::inc(&m.replicas.lease_renewals);
        let text = m.render();
        assert!(text.contains("eventferry_lease_renewals_total{replica=\"pod-1\"} 1\n"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            assert!(line.contains("{replica=\"pod-1\"} "), "{line}");
        }
    }
}
