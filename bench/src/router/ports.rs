//! No-op ports: every call answers at once, so only the router's own work is measured. The
//! system-event sinks: [`NoSink`] consumes nothing (`EVENTFERRY_SYSTEM_EVENTS=off`), [`NoPutEvents`]
//! is shaped like the PutEvents sink (entries built, batched and encoded, no call).

use bytes::Bytes;
use criterion::black_box;
use eventferry_aws::eventbridge::put_events_batches;
use eventferry_aws::lambda::{InvocationMode, InvokeOutcome, Invoker};
use eventferry_aws::AwsError;
use eventferry_core::invocation::InvocationResult;
use eventferry_router::adapters::system_entries;
use eventferry_router::ports::{
    EmitError, HttpAnswer, HttpPoster, PostError, QueueWriter, ResponseReceiver, SinkNeeds,
    SystemSink,
};
use serde_json::json;

pub struct NoInvoke;
impl Invoker for NoInvoke {
    async fn invoke(
        &self,
        _function: &str,
        payload: Bytes,
        _mode: InvocationMode,
    ) -> Result<InvokeOutcome, AwsError> {
        black_box(payload);
        Ok(InvokeOutcome::Ok {
            status: 200,
            payload: b"{}".to_vec(),
        })
    }
}
pub struct NoHttp;
impl HttpPoster for NoHttp {
    async fn post(
        &self,
        _url: &str,
        _headers: &[(String, String)],
        body: Vec<u8>,
    ) -> Result<HttpAnswer, PostError> {
        black_box(body);
        Ok(HttpAnswer {
            status: 200,
            body: Vec::new(),
        })
    }
}
pub struct NoQueue;
impl QueueWriter for NoQueue {
    async fn send(&self, _url: &str, body: String, _delay: u32) -> Result<(), AwsError> {
        black_box(body);
        Ok(())
    }
}
/// No consumer: the handler builds no system event for it.
pub struct NoSink;
impl SystemSink for NoSink {
    fn needs(&self) -> SinkNeeds {
        SinkNeeds::Nothing
    }
    async fn emit(&self, events: &[cloudevents::Event]) -> Result<(), EmitError> {
        black_box(events.len());
        Ok(())
    }
}

/// The PutEvents sink without the call: the router's own entries (`system_entries`, large data
/// left out), split by `eventferry_aws`'s batcher, each call's request body encoded as JSON
/// the way the SDK sends it.
pub struct NoPutEvents;
impl SystemSink for NoPutEvents {
    async fn emit(&self, events: &[cloudevents::Event]) -> Result<(), EmitError> {
        let entries = system_entries("bench-bus", events);
        for batch in put_events_batches(&entries) {
            let body = json!({"Entries": batch.iter().map(|e| json!({
                "EventBusName": e.event_bus,
                "Source": e.source,
                "DetailType": e.detail_type,
                "Detail": e.detail,
                "TraceHeader": e.trace_header,
            })).collect::<Vec<_>>()});
            black_box(serde_json::to_vec(&body).expect("JSON"));
        }
        Ok(())
    }
}
pub struct NoReceiver;
impl ResponseReceiver for NoReceiver {
    fn receive(&self, _event: &cloudevents::Event, result: &InvocationResult) {
        black_box(result);
    }
}
