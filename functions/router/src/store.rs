//! Subscriptions from a store, refreshed at runtime: `EVENTFERRY_SUBSCRIPTIONS_STORE` names the
//! document (`s3://BUCKET/KEY`, written by `eventferry subscriptions create / delete / apply`),
//! `EVENTFERRY_SUBSCRIPTIONS_REFRESH_SECONDS` how often the router looks at it (default 30).
//!
//! [`LiveHandler`] wraps the [`Handler`]: before an invocation it reads the store if the interval
//! has passed (a conditional GET: an unchanged document costs a 304), builds a handler for a new
//! valid version, and logs the version it serves. When the store cannot be read or holds an
//! invalid document, it keeps serving the last good version, logs why, and says so in the
//! `SubscriptionsStale` metric (CloudWatch embedded metric format, one line per refresh).
//! Before any version was loaded, it fails the invocation, so that SQS delivers the batch
//! again instead of dropping it.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use eventferry_aws::lambda::Invoker;
use eventferry_core::subscription::live::{DocumentStore, Live, Refresh};
use serde_json::{json, Value};

use crate::handler::{Answer, Handler, HandlerError};
use crate::ports::{HttpPoster, QueueWriter, SystemSink};

/// The variable naming the store.
pub const STORE_VAR: &str = "EVENTFERRY_SUBSCRIPTIONS_STORE";
/// The variable with the refresh interval in seconds.
pub const REFRESH_VAR: &str = "EVENTFERRY_SUBSCRIPTIONS_REFRESH_SECONDS";
/// The default refresh interval.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(30);

/// The store's settings, from the environment; `None` when no store is configured.
pub fn store_settings(
    var: impl Fn(&str) -> Option<String>,
) -> Result<Option<(String, String, Duration)>, String> {
    let Some(url) = var(STORE_VAR).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let (bucket, key) = eventferry_aws::s3::parse_s3_url(&url)
        .map_err(|reason| format!("{STORE_VAR}={url:?} is invalid: {reason}"))?;
    for other in ["EVENTFERRY_SUBSCRIPTIONS", "EVENTFERRY_SUBSCRIPTIONS_FILE"] {
        if var(other).is_some_and(|v| !v.is_empty()) {
            return Err(format!(
                "both {STORE_VAR} and {other} are set: set one (the store is changed at runtime \
                 with `eventferry subscriptions`, {other} is read once)"
            ));
        }
    }
    let refresh = match var(REFRESH_VAR).filter(|v| !v.is_empty()) {
        None => DEFAULT_REFRESH,
        Some(text) => match text.parse::<u64>() {
            Ok(n @ 1..=3600) => Duration::from_secs(n),
            _ => {
                return Err(format!(
                    "{REFRESH_VAR}={text:?} is invalid: write whole seconds from 1 to 3600"
                ))
            }
        },
    };
    Ok(Some((bucket, key, refresh)))
}

/// The handler of the version served, shared with invocations in flight.
type Served<I, H, Q, S> = RwLock<Option<Arc<Handler<I, H, Q, S>>>>;

/// A [`Handler`] whose subscriptions come from a [`DocumentStore`] and change at runtime.
pub struct LiveHandler<D, I, H, Q, S> {
    store: D,
    live: tokio::sync::Mutex<Live>,
    /// The handler of the version served; `None` until one was loaded.
    current: Served<I, H, Q, S>,
    /// Builds the handler of a new version (the settings and ports stay).
    template: Handler<I, H, Q, S>,
    function: String,
}

impl<D, I, H, Q, S> LiveHandler<D, I, H, Q, S>
where
    D: DocumentStore,
    I: Invoker,
    H: HttpPoster,
    Q: QueueWriter,
    S: SystemSink,
{
    /// `template` carries the settings and ports (its own subscriptions are not served).
    pub fn new(store: D, refresh: Duration, template: Handler<I, H, Q, S>) -> Self {
        LiveHandler {
            store,
            live: tokio::sync::Mutex::new(Live::new(refresh)),
            current: RwLock::new(None),
            template,
            function: std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default(),
        }
    }

    /// Refreshes if due, then handles the payload with the version served (as [`Handler::respond`]).
    pub async fn respond(&self, payload: Value, request_id: &str) -> Result<Answer, HandlerError> {
        self.refresh().await;
        let current = self.current.read().expect("not poisoned").clone();
        match current {
            Some(handler) => handler.respond(payload, request_id).await,
            None => {
                let why = self
                    .live
                    .lock()
                    .await
                    .stale()
                    .unwrap_or("not read yet")
                    .to_owned();
                Err(HandlerError::Redeliver {
                    event: "of this invocation".into(),
                    reason: format!(
                        "no subscriptions loaded yet from {} ({why})",
                        self.store.location()
                    ),
                })
            }
        }
    }

    /// Reads the store if the interval has passed; logs and reports what happened.
    pub async fn refresh(&self) {
        let mut live = self.live.lock().await;
        let now = Instant::now();
        if !live.due(now) {
            return;
        }
        match live.refresh(&self.store, now).await {
            Refresh::Unchanged => {}
            Refresh::Updated {
                config,
                version,
                previous,
            } => {
                // An S3 ETag, shown without its quotes (as the CLI shows it).
                let version = version.trim_matches('"');
                tracing::info!(
                    store = %self.store.location(),
                    %version,
                    previous = previous.as_deref().unwrap_or("none").trim_matches('"'),
                    subscriptions = config.subscriptions.len(),
                    plugins = config.plugins.len(),
                    "serving subscriptions version {version}"
                );
                let handler = Arc::new(self.template.with_config(config));
                *self.current.write().expect("not poisoned") = Some(handler);
            }
            Refresh::Kept { reason } => match live.version().map(|v| v.trim_matches('"')) {
                Some(version) => tracing::error!(
                    store = %self.store.location(),
                    %reason,
                    version,
                    "cannot refresh the subscriptions: still serving version {version}"
                ),
                None => tracing::error!(
                    store = %self.store.location(),
                    %reason,
                    "cannot load the subscriptions: invocations fail until they load"
                ),
            },
        }
        println!(
            "{}",
            metric_line(
                &self.function,
                live.stale().is_some(),
                live.version().is_some()
            )
        );
    }

    /// The version served, if any.
    pub async fn version(&self) -> Option<String> {
        self.live.lock().await.version().map(str::to_owned)
    }
}

/// One CloudWatch embedded-metric-format line: `SubscriptionsStale` is 1 while the router
/// serves an older version than the store's (or none), `SubscriptionsLoaded` 1 once a version
/// is served.
pub fn metric_line(function: &str, stale: bool, loaded: bool) -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    json!({
        "_aws": {
            "Timestamp": millis,
            "CloudWatchMetrics": [{
                "Namespace": "eventferry",
                "Dimensions": [["FunctionName"]],
                "Metrics": [
                    {"Name": "SubscriptionsStale", "Unit": "Count"},
                    {"Name": "SubscriptionsLoaded", "Unit": "Count"}
                ]
            }]
        },
        "FunctionName": function,
        "SubscriptionsStale": u8::from(stale),
        "SubscriptionsLoaded": u8::from(loaded),
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn settings_name_the_variable_and_the_right_form() {
        assert_eq!(store_settings(vars(&[])).unwrap(), None);
        let (bucket, key, refresh) = store_settings(vars(&[(STORE_VAR, "s3://b/dir/subs.json")]))
            .unwrap()
            .unwrap();
        assert_eq!((bucket.as_str(), key.as_str()), ("b", "dir/subs.json"));
        assert_eq!(refresh, DEFAULT_REFRESH);
        let err = store_settings(vars(&[(STORE_VAR, "b/k")])).unwrap_err();
        assert!(
            err.contains(STORE_VAR) && err.contains("s3://BUCKET/KEY"),
            "{err}"
        );
        let err = store_settings(vars(&[(STORE_VAR, "s3://b/k"), (REFRESH_VAR, "0")])).unwrap_err();
        assert!(err.contains("1 to 3600"), "{err}");
        let err = store_settings(vars(&[
            (STORE_VAR, "s3://b/k"),
            ("EVENTFERRY_SUBSCRIPTIONS", "[]"),
        ]))
        .unwrap_err();
        assert!(err.contains("set one"), "{err}");
    }

    #[test]
    fn the_metric_line_is_embedded_metric_format() {
        let line: Value = serde_json::from_str(&metric_line("router", true, true)).unwrap();
        assert_eq!(line["SubscriptionsStale"], 1);
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            "eventferry"
        );
        assert_eq!(line["FunctionName"], "router");
    }
}
