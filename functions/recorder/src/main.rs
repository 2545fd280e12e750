//! `recorder`: an example subscriber with an observable effect. Every invoke payload (for the
//! router: the structured CloudEvent) is sent, unchanged, as one message to the SQS queue whose
//! URL is in `RECORDER_QUEUE_URL`. Answers `{"recorded": <id or null>}`.

use eventferry_router::adapters::SqsWriter;
use eventferry_router::ports::QueueWriter;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let queue_url = std::env::var("RECORDER_QUEUE_URL")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or(
            "RECORDER_QUEUE_URL is not set: set it to the URL of the SQS queue the recorder \
             writes each event to",
        )?;
    let aws = eventferry_aws::load(&Default::default()).await;
    let sqs = SqsWriter::new(&aws);
    let (sqs, queue_url) = (&sqs, queue_url.as_str());
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let body = event.payload.to_string();
        sqs.send(queue_url, body, 0).await.map_err(Error::from)?;
        Ok::<_, Error>(json!({"recorded": event.payload.get("id")}))
    }))
    .await
}
