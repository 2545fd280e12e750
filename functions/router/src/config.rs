//! The router's configuration, from environment variables; read and validated once at init.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `EVENTFERRY_SUBSCRIPTIONS` | inline subscriptions, JSON | – |
//! | `EVENTFERRY_SUBSCRIPTIONS_FILE` | path of a YAML or JSON subscriptions file | `subscriptions.yaml` / `.yml` / `.json` next to the binary (or in `LAMBDA_TASK_ROOT`) |
//! | `EVENTFERRY_MAX_CONCURRENCY` | invocations in flight at once, per router instance | 10 |
//! | `EVENTFERRY_RETRY_QUEUE_URL` | SQS queue for retry messages (one per failed event and subscription) | none: see [`eventferry_core::route::decide`] |
//! | `EVENTFERRY_DLQ_URL` | SQS queue for pairs whose attempts are used up | none |
//! | `EVENTFERRY_MAX_ATTEMPTS` | attempts per event and subscription, the first included | 3 |
//! | `EVENTFERRY_RETRY_DELAY_SECONDS` | delay before the first retry; doubles per attempt, at most 900 | 10 |
//! | `EVENTFERRY_SYSTEM_EVENTS` | `log`, `off`, `eventbridge:<bus name or ARN>` or `http:<url>` | `log` |
//! | `EVENTFERRY_SYSTEM_SOURCE` | `source` of system events | `urn:eventferry:router` |
//! | `EVENTFERRY_HTTP_TIMEOUT_SECONDS` | timeout of one HTTP target call | 10 |
//! | `EVENTFERRY_TYPE_FORMAT`, `EVENTFERRY_EVENT_BUS`, `EVENTFERRY_CE_SOURCE` | how EventBridge envelopes map to CloudEvents (as the driver's `--type-format`, `--event-bus`, `--source`) | `{source}`, `default`, the bus ARN |

use std::path::{Path, PathBuf};

use eventferry_core::mapping::{MappingOptions, TypeFormat};
use eventferry_core::route::RetryPolicy;
use eventferry_core::subscription::{Config, Format};
use eventferry_core::system::SystemEvents;

/// Where system events go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkConfig {
    Off,
    Log,
    EventBridge(String),
    Http(String),
}

/// Everything but the subscriptions.
#[derive(Debug, Clone)]
pub struct Settings {
    pub mapping: MappingOptions,
    pub retry: RetryPolicy,
    pub retry_queue_url: Option<String>,
    pub dlq_url: Option<String>,
    pub max_concurrency: usize,
    pub system: SystemEvents,
    pub sink: SinkConfig,
    pub http_timeout_secs: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            mapping: MappingOptions::default(),
            retry: RetryPolicy::default(),
            retry_queue_url: None,
            dlq_url: None,
            max_concurrency: 10,
            system: SystemEvents::default(),
            sink: SinkConfig::Log,
            http_timeout_secs: 10,
        }
    }
}

/// A configuration error, naming the variable and what it should be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InitError {
    #[error("{0}")]
    Subscriptions(#[from] eventferry_core::subscription::ConfigError),
    #[error("{var}={value:?} is invalid: {reason}")]
    Var {
        var: &'static str,
        value: String,
        reason: String,
    },
    #[error("cannot read the subscriptions file {path}: {reason}")]
    Read { path: String, reason: String },
    #[error(
        "no subscriptions: set EVENTFERRY_SUBSCRIPTIONS (inline JSON) or \
         EVENTFERRY_SUBSCRIPTIONS_FILE (a YAML or JSON file), or bundle subscriptions.yaml next \
         to the binary (looked in {looked})"
    )]
    NoSubscriptions { looked: String },
    #[error("both EVENTFERRY_SUBSCRIPTIONS and EVENTFERRY_SUBSCRIPTIONS_FILE are set: set one")]
    BothSources,
}

impl Settings {
    /// Reads the settings from `var` (the environment, or a map in tests).
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Settings, InitError> {
        let get = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let number = |name: &'static str, min: u64, max: u64| -> Result<Option<u64>, InitError> {
            get(name)
                .map(|v| {
                    v.trim()
                        .parse::<u64>()
                        .ok()
                        .filter(|n| (min..=max).contains(n))
                        .ok_or_else(|| InitError::Var {
                            var: name,
                            value: v.clone(),
                            reason: format!("use a whole number from {min} to {max}"),
                        })
                })
                .transpose()
        };
        let mut s = Settings::default();
        if let Some(n) = number("EVENTFERRY_MAX_CONCURRENCY", 1, 1000)? {
            s.max_concurrency = n as usize;
        }
        if let Some(n) = number("EVENTFERRY_MAX_ATTEMPTS", 1, 1000)? {
            s.retry.max_attempts = n as u32;
        }
        if let Some(n) = number("EVENTFERRY_RETRY_DELAY_SECONDS", 0, 900)? {
            s.retry.base_delay_secs = n as u32;
        }
        if let Some(n) = number("EVENTFERRY_HTTP_TIMEOUT_SECONDS", 1, 900)? {
            s.http_timeout_secs = n;
        }
        let queue_url = |name: &'static str| -> Result<Option<String>, InitError> {
            get(name)
                .map(|v| {
                    let v = v.trim().to_owned();
                    if v.starts_with("http://") || v.starts_with("https://") {
                        Ok(v)
                    } else {
                        Err(InitError::Var {
                            var: name,
                            value: v,
                            reason: "use the queue URL, e.g. \
                                     https://sqs.us-east-1.amazonaws.com/123456789012/router-retry"
                                .into(),
                        })
                    }
                })
                .transpose()
        };
        s.retry_queue_url = queue_url("EVENTFERRY_RETRY_QUEUE_URL")?;
        s.dlq_url = queue_url("EVENTFERRY_DLQ_URL")?;
        s.retry.retry_queue = s.retry_queue_url.is_some();
        s.retry.dead_letter_queue = s.dlq_url.is_some();
        if let Some(v) = get("EVENTFERRY_SYSTEM_EVENTS") {
            let v = v.trim();
            s.sink = match v.split_once(':') {
                _ if v == "log" => SinkConfig::Log,
                _ if v == "off" => SinkConfig::Off,
                Some(("eventbridge", bus)) if !bus.is_empty() => {
                    SinkConfig::EventBridge(bus.to_owned())
                }
                Some(("http", _)) if v.len() > 5 && url_ok(&v[5..]) => {
                    SinkConfig::Http(v[5..].to_owned())
                }
                _ => {
                    return Err(InitError::Var {
                        var: "EVENTFERRY_SYSTEM_EVENTS",
                        value: v.to_owned(),
                        reason: "use log, off, eventbridge:<bus name or ARN> or http:<url>, e.g. \
                                 http:https://example.com/system-events"
                            .into(),
                    })
                }
            };
        }
        if let Some(v) = get("EVENTFERRY_SYSTEM_SOURCE") {
            s.system = SystemEvents::new(&v).map_err(|reason| InitError::Var {
                var: "EVENTFERRY_SYSTEM_SOURCE",
                value: v.clone(),
                reason,
            })?;
        }
        if let Some(v) = get("EVENTFERRY_TYPE_FORMAT") {
            let format = TypeFormat::new(&v).map_err(|e| InitError::Var {
                var: "EVENTFERRY_TYPE_FORMAT",
                value: v.clone(),
                reason: e.to_string(),
            })?;
            s.mapping = s.mapping.with_type_format(format);
        }
        if let Some(v) = get("EVENTFERRY_EVENT_BUS") {
            s.mapping = s.mapping.with_event_bus(&v).map_err(|e| InitError::Var {
                var: "EVENTFERRY_EVENT_BUS",
                value: v.clone(),
                reason: e.to_string(),
            })?;
        }
        if let Some(v) = get("EVENTFERRY_CE_SOURCE") {
            s.mapping = s.mapping.with_source(&v).map_err(|e| InitError::Var {
                var: "EVENTFERRY_CE_SOURCE",
                value: v.clone(),
                reason: e.to_string(),
            })?;
        }
        Ok(s)
    }
}

fn url_ok(url: &str) -> bool {
    url.starts_with("http://") || url.starts_with("https://")
}

/// Names of a bundled subscriptions file, in the order they are looked for.
pub const BUNDLED: [&str; 3] = [
    "subscriptions.yaml",
    "subscriptions.yml",
    "subscriptions.json",
];

/// Loads and validates the subscriptions: inline `EVENTFERRY_SUBSCRIPTIONS`, else
/// `EVENTFERRY_SUBSCRIPTIONS_FILE`, else a bundled file in one of `dirs`.
pub fn load_subscriptions(
    var: impl Fn(&str) -> Option<String>,
    dirs: &[PathBuf],
) -> Result<(Config, String), InitError> {
    let get = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    match (
        get("EVENTFERRY_SUBSCRIPTIONS"),
        get("EVENTFERRY_SUBSCRIPTIONS_FILE"),
    ) {
        (Some(_), Some(_)) => Err(InitError::BothSources),
        (Some(inline), None) => Ok((
            Config::parse(&inline, Format::Json, "EVENTFERRY_SUBSCRIPTIONS")?,
            "EVENTFERRY_SUBSCRIPTIONS".into(),
        )),
        (None, Some(path)) => read_file(Path::new(path.trim())),
        (None, None) => {
            for dir in dirs {
                for name in BUNDLED {
                    let path = dir.join(name);
                    if path.is_file() {
                        return read_file(&path);
                    }
                }
            }
            Err(InitError::NoSubscriptions {
                looked: dirs
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        }
    }
}

fn read_file(path: &Path) -> Result<(Config, String), InitError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| InitError::Read {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    Ok((
        Config::parse(&text, Format::from_path(&shown), &shown)?,
        shown,
    ))
}

/// Where a bundled subscriptions file is looked for: next to the binary, then
/// `LAMBDA_TASK_ROOT`.
pub fn bundle_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
    {
        dirs.push(dir);
    }
    if let Ok(root) = std::env::var("LAMBDA_TASK_ROOT") {
        dirs.push(PathBuf::from(root));
    }
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn defaults_and_overrides() {
        let s = Settings::from_env(env(&[])).unwrap();
        assert_eq!(s.sink, SinkConfig::Log);
        assert!(!s.retry.retry_queue);
        let s = Settings::from_env(env(&[
            ("EVENTFERRY_MAX_CONCURRENCY", "4"),
            (
                "EVENTFERRY_RETRY_QUEUE_URL",
                "http://127.0.0.1:4566/000000000000/r",
            ),
            ("EVENTFERRY_DLQ_URL", "http://127.0.0.1:4566/000000000000/d"),
            ("EVENTFERRY_MAX_ATTEMPTS", "5"),
            ("EVENTFERRY_RETRY_DELAY_SECONDS", "0"),
            ("EVENTFERRY_SYSTEM_EVENTS", "eventbridge:ops"),
            ("EVENTFERRY_TYPE_FORMAT", "{source}.{detail-type}"),
        ]))
        .unwrap();
        assert_eq!(s.max_concurrency, 4);
        assert!(s.retry.retry_queue && s.retry.dead_letter_queue);
        assert_eq!(s.retry.max_attempts, 5);
        assert_eq!(s.retry.base_delay_secs, 0);
        assert_eq!(s.sink, SinkConfig::EventBridge("ops".into()));
        let s = Settings::from_env(env(&[(
            "EVENTFERRY_SYSTEM_EVENTS",
            "http:http://127.0.0.1:1/x",
        )]))
        .unwrap();
        assert_eq!(s.sink, SinkConfig::Http("http://127.0.0.1:1/x".into()));
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (var, value, expected) in [
            (
                "EVENTFERRY_MAX_CONCURRENCY",
                "0",
                "EVENTFERRY_MAX_CONCURRENCY=\"0\" is invalid: use a whole number from 1 to 1000",
            ),
            (
                "EVENTFERRY_RETRY_DELAY_SECONDS",
                "901",
                "EVENTFERRY_RETRY_DELAY_SECONDS=\"901\" is invalid",
            ),
            (
                "EVENTFERRY_RETRY_QUEUE_URL",
                "retry",
                "EVENTFERRY_RETRY_QUEUE_URL=\"retry\" is invalid: use the queue URL",
            ),
            (
                "EVENTFERRY_SYSTEM_EVENTS",
                "kafka:x",
                "EVENTFERRY_SYSTEM_EVENTS=\"kafka:x\" is invalid",
            ),
            (
                "EVENTFERRY_TYPE_FORMAT",
                "{nope}",
                "EVENTFERRY_TYPE_FORMAT=\"{nope}\" is invalid: type format",
            ),
        ] {
            let err = Settings::from_env(env(&[(var, value)]))
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(expected), "{err}");
        }
    }

    #[test]
    fn subscriptions_come_from_one_place() {
        let inline = r#"[{"name":"a","types":["t"],"function":"f"}]"#;
        let (config, origin) =
            load_subscriptions(env(&[("EVENTFERRY_SUBSCRIPTIONS", inline)]), &[]).unwrap();
        assert_eq!(config.subscriptions[0].name, "a");
        assert_eq!(origin, "EVENTFERRY_SUBSCRIPTIONS");
        let both = load_subscriptions(
            env(&[
                ("EVENTFERRY_SUBSCRIPTIONS", inline),
                ("EVENTFERRY_SUBSCRIPTIONS_FILE", "x"),
            ]),
            &[],
        );
        assert_eq!(both.unwrap_err(), InitError::BothSources);
        let missing = load_subscriptions(
            env(&[("EVENTFERRY_SUBSCRIPTIONS_FILE", "/nonexistent/s.yaml")]),
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(
            missing.starts_with("cannot read the subscriptions file /nonexistent/s.yaml"),
            "{missing}"
        );
        let none = load_subscriptions(env(&[]), &[PathBuf::from("/nonexistent")])
            .unwrap_err()
            .to_string();
        assert!(none.contains("looked in /nonexistent"), "{none}");
        let bad = load_subscriptions(
            env(&[(
                "EVENTFERRY_SUBSCRIPTIONS",
                r#"[{"name":"a","types":["t"],"function":"f","mode":"later"}]"#,
            )]),
            &[],
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            bad,
            "subscription \"a\" (subscriptions[0]), field \"mode\": must be sync or async, got \"later\""
        );
    }

    #[test]
    fn a_bundled_file_is_found() {
        let dir =
            std::env::temp_dir().join(format!("eventferry-router-bundle-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("subscriptions.yml"),
            "- {name: b, types: [t], function: f}\n",
        )
        .unwrap();
        let (config, origin) =
            load_subscriptions(env(&[]), &[PathBuf::from("/nonexistent"), dir.clone()]).unwrap();
        assert_eq!(config.subscriptions[0].name, "b");
        assert!(origin.ends_with("subscriptions.yml"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
