//! No-op ports: every call answers at once, so only the router's own work is measured.

use criterion::black_box;
use eventferry_aws::lambda::{InvocationMode, InvokeOutcome, Invoker};
use eventferry_aws::AwsError;
use eventferry_core::invocation::InvocationResult;
use eventferry_router::ports::{
    EmitError, HttpAnswer, HttpPoster, PostError, QueueWriter, ResponseReceiver, SystemSink,
};

pub struct NoInvoke;
impl Invoker for NoInvoke {
    async fn invoke(
        &self,
        _function: &str,
        payload: Vec<u8>,
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
pub struct NoSink;
impl SystemSink for NoSink {
    async fn emit(&self, events: &[cloudevents::Event]) -> Result<(), EmitError> {
        black_box(events.len());
        Ok(())
    }
}
pub struct NoReceiver;
impl ResponseReceiver for NoReceiver {
    fn receive(&self, _event: &cloudevents::Event, result: &InvocationResult) {
        black_box(result);
    }
}
