//! Any invoke payload — an SQS batch, an EventBridge event, a structured CloudEvent, an HTTP
//! request from a Function URL or API Gateway, a retry message, or none of these — is handled
//! without panicking: recognised and routed, or refused with a reason. HTTP requests always get
//! an HTTP answer.
//!
//! Run: `cd functions/router/fuzz && cargo +nightly fuzz run router_input`. A fixed-seed smoke
//! run of the same property is in `make test` (tests/it/reliability.rs).
#![no_main]

use std::sync::OnceLock;

use eventferry_core::subscription::{Config, Format};
use eventferry_router::config::Settings;
use eventferry_router::ports::Offline;
use eventferry_router::{Handler, Ports};
use libfuzzer_sys::fuzz_target;

type OfflineHandler = Handler<Offline, Offline, Offline, Offline>;

fn handler() -> &'static (tokio::runtime::Runtime, OfflineHandler) {
    static HANDLER: OnceLock<(tokio::runtime::Runtime, OfflineHandler)> = OnceLock::new();
    HANDLER.get_or_init(|| {
        let subscriptions = include_str!("../../../../events/subscriptions.yaml");
        let config = Config::parse(subscriptions, Format::Yaml, "subscriptions.yaml")
            .expect("events/subscriptions.yaml is valid");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        let handler = Handler::new(
            config,
            Settings::default(),
            Ports::offline(),
            Box::new(Offline),
        );
        (runtime, handler)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(payload) = serde_json::from_slice::<serde_json::Value>(data) else {
        return; // the Lambda runtime rejects a payload that is not JSON before the handler runs
    };
    let is_http = payload.get("requestContext").is_some();
    let (runtime, handler) = handler();
    let result = runtime.block_on(handler.handle(payload, "fuzz"));
    if is_http {
        if let Ok(response) = result {
            let status = response["statusCode"].as_u64().unwrap_or(0);
            assert!((200..600).contains(&status), "{response}");
        }
    }
});
