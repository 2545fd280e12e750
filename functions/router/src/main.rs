//! `router`: the Lambda bootstrap. Reads the configuration once (a bad subscription fails the
//! init with a message naming it and the field), then serves invocations. With
//! `EVENTFERRY_SUBSCRIPTIONS_STORE` the subscriptions come from the store instead, refreshed
//! at runtime (`eventferry_router::store`).

use std::time::Duration;

use aws_config::SdkConfig;
use eventferry_aws::lambda::Lambda;
use eventferry_aws::s3::{S3Document, S3};
use eventferry_core::subscription::Config;
use eventferry_http::Poster;
use eventferry_router::adapters::{
    ConfiguredSystemSink, EventBridgeSystemSink, HttpSystemSink, LogReceiver, LogSystemSink,
    SqsWriter,
};
use eventferry_router::config::{
    bundle_dirs, default_log_filter, load_subscriptions, log_filter, Settings, SinkConfig,
    DEPRECATED_SOURCE,
};
use eventferry_router::store::{store_settings, LiveHandler};
use eventferry_router::{Handler, Ports};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

// As the driver's: glibc malloc and free were about a fifth of the handler's CPU per event
// (make bench-router, perf); the router bench runs on it too (bench feature router-allocator).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_logging();
    let env = |name: &str| std::env::var(name).ok();
    let loaded = store_settings(env).and_then(|store| match store {
        Some(store) => Ok((load_settings()?, Source::Store(store))),
        None => load_configuration().map(|(settings, config)| (settings, Source::Fixed(config))),
    });
    let (settings, source) = match loaded {
        Ok(v) => v,
        Err(message) => {
            tracing::error!(error = %message, "router init failed");
            report_init_error(&message).await;
            return Err(message.into());
        }
    };
    let aws = eventferry_aws::load(&Default::default()).await;
    let ports = ports(&settings, &aws)?;
    match source {
        Source::Fixed(config) => {
            let handler = Handler::new(config, settings, ports, Box::new(LogReceiver));
            let handler = &handler;
            lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
                handler
                    .respond(event.payload, &event.context.request_id)
                    .await
                    .map_err(Error::from)
            }))
            .await
        }
        Source::Store((bucket, key, refresh)) => {
            let template = Handler::new(Config::default(), settings, ports, Box::new(LogReceiver));
            let store = S3Document::new(S3::new(&aws), bucket, key);
            let handler = LiveHandler::new(store, refresh, template);
            // Load at init, so that the first invocation does not wait for it and the log says
            // which version is served from the start.
            handler.refresh().await;
            let handler = &handler;
            lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
                handler
                    .respond(event.payload, &event.context.request_id)
                    .await
                    .map_err(Error::from)
            }))
            .await
        }
    }
}

/// Where the subscriptions come from: read once at init, or a store refreshed at runtime
/// (bucket, key, interval).
enum Source {
    Fixed(Config),
    Store((String, String, Duration)),
}

/// JSON logs without timestamps (CloudWatch stamps each line), filtered by `RUST_LOG`
/// ([`log_filter`]; an invalid filter logs at info and says why).
fn init_logging() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let rust_log = std::env::var("RUST_LOG").ok();
    let (filter, invalid) = match log_filter(rust_log.as_deref()) {
        Ok(filter) => (filter, None),
        Err(why) => (default_log_filter(), Some(why)),
    };
    tracing_subscriber::fmt()
        .json()
        .with_current_span(false)
        .without_time()
        .finish()
        .with(filter)
        .init();
    if let Some(why) = invalid {
        tracing::warn!("{why}");
    }
}

/// The settings and the subscriptions read once (inline, file or bundled), or why init fails.
fn load_configuration() -> Result<(Settings, Config), String> {
    let env = |name: &str| std::env::var(name).ok();
    let settings = load_settings()?;
    let (config, origin) = load_subscriptions(env, &bundle_dirs()).map_err(|e| e.to_string())?;
    tracing::info!(
        subscriptions = config.subscriptions.len(),
        plugins = config.plugins.len(),
        from = %origin,
        "router ready"
    );
    Ok((settings, config))
}

/// The settings, or why init fails; warns about settings that work but lose something.
fn load_settings() -> Result<Settings, String> {
    let env = |name: &str| std::env::var(name).ok();
    let settings = Settings::from_env(env).map_err(|e| e.to_string())?;
    if env(DEPRECATED_SOURCE).is_some() {
        tracing::warn!(
            "{DEPRECATED_SOURCE} is deprecated: set EVENTFERRY_SOURCE, the name the driver reads \
             (EVENTFERRY_SOURCE wins when both are set)"
        );
    }
    if settings.retry_queue_url.is_none() {
        tracing::warn!(
            "EVENTFERRY_RETRY_QUEUE_URL is not set: failures of an event that some subscriber \
             handled are recorded but not retried (retrying would re-invoke that subscriber)"
        );
    }
    Ok(settings)
}

/// The adapters behind the handler's ports, from the default AWS configuration.
fn ports(
    settings: &Settings,
    aws: &SdkConfig,
) -> Result<Ports<Lambda, Poster, SqsWriter, ConfiguredSystemSink>, Error> {
    let poster = Poster::new(Duration::from_secs(settings.http_timeout_secs), false)?;
    let sink = match &settings.sink {
        SinkConfig::Off => ConfiguredSystemSink::Off,
        SinkConfig::Log => ConfiguredSystemSink::Log(LogSystemSink::new(false)),
        SinkConfig::LogPayload => ConfiguredSystemSink::Log(LogSystemSink::new(true)),
        SinkConfig::EventBridge(bus) => {
            ConfiguredSystemSink::EventBridge(EventBridgeSystemSink::new(aws, bus))
        }
        SinkConfig::Http(url) => {
            ConfiguredSystemSink::Http(HttpSystemSink::new(poster.clone(), url))
        }
    };
    Ok(Ports {
        // The router decides about retries: the SDK must not re-run a failing function.
        invoker: Lambda::without_retries(aws),
        http: poster,
        queue: SqsWriter::new(aws),
        sink,
    })
}

/// Tells the Runtime API why init failed (what Lambda shows as Runtime.InitError); best effort.
async fn report_init_error(message: &str) {
    let Ok(api) = std::env::var("AWS_LAMBDA_RUNTIME_API") else {
        return;
    };
    let Ok(poster) = Poster::new(Duration::from_secs(2), false) else {
        return;
    };
    let body = serde_json::json!({"errorType": "Runtime.InitError", "errorMessage": message});
    let headers = [(
        "Lambda-Runtime-Function-Error-Type".to_owned(),
        "Runtime.InitError".to_owned(),
    )];
    let _ = poster
        .post(
            &format!("http://{api}/2018-06-01/runtime/init/error"),
            &headers,
            body.to_string().into_bytes(),
        )
        .await;
}
