//! Shared harness for the integration tests: where LocalStack is, how to configure the SDK for it,
//! unique resource names, and bounded waits.
//!
//! The tests talk to a real LocalStack on `127.0.0.1:4566` (`make test` starts it). Set
//! `EVENTFERRY_TEST_ENDPOINT` to use another endpoint.

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_config::SdkConfig;
use eventferry_aws::AwsOptions;

/// The LocalStack endpoint the tests use.
pub fn endpoint() -> String {
    std::env::var("EVENTFERRY_TEST_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:4566".into())
}

/// Credentials and region for LocalStack, set for this process (and the children it starts).
pub fn localstack_env() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: called once, before the test spawns threads that read the environment.
        unsafe {
            std::env::set_var("AWS_ACCESS_KEY_ID", "test");
            std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
            std::env::set_var("AWS_REGION", "us-east-1");
            std::env::remove_var("AWS_PROFILE");
        }
    });
}

/// SDK configuration pointed at LocalStack. Fails the test with a clear message if LocalStack
/// is not answering.
pub async fn localstack() -> SdkConfig {
    localstack_env();
    let url = format!("{}/_localstack/health", endpoint());
    let reachable = tokio::net::TcpStream::connect(
        endpoint()
            .trim_start_matches("http://")
            .trim_end_matches('/'),
    )
    .await
    .is_ok();
    assert!(reachable, "LocalStack is not reachable at {url}: run the tests with `make test`, or `make localstack-up` first");
    eventferry_aws::load(&AwsOptions {
        region: Some("us-east-1".into()),
        endpoint_url: Some(endpoint()),
    })
    .await
}

/// A resource name unique to this test run: `eventferry-it-<tag>-<pid>-<time>-<n>`.
pub fn unique_name(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
        % 1_000_000_000;
    format!(
        "eventferry-it-{tag}-{}-{millis}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Await `fut`, failing the test if it takes longer than `limit`.
pub async fn within<T>(limit: Duration, what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(limit, fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {limit:?} waiting for {what}"),
    }
}
