//! SQS: the queue the driver polls, behind [`MessageQueue`] so the delivery loop can be tested
//! in-process, and [`Sqs`] for provisioning and for the router's retry and dead-letter
//! messages. [`receive_count`] and [`sent_timestamp_millis`] read a message's system attributes
//! for every caller (the driver's `ReceiveMessage` results, the router's Lambda SQS events).

use std::collections::HashMap;
use std::future::Future;

use aws_config::SdkConfig;
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, MessageSystemAttributeName, QueueAttributeName,
    SendMessageBatchRequestEntry,
};
use aws_sdk_sqs::Client;

use crate::error::AwsError;

/// SQS allows at most this many entries in one batch call.
pub const MAX_BATCH: usize = 10;

/// A message as received, with the pieces the driver needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    /// System attributes: `SentTimestamp`, `ApproximateReceiveCount` and `AWSTraceHeader` (the
    /// only ones requested).
    pub attributes: HashMap<String, String>,
}

impl ReceivedMessage {
    /// How many times SQS has handed this message out, including this time.
    pub fn receive_count(&self) -> u32 {
        receive_count(&self.attributes)
    }

    /// When the message was sent, in epoch milliseconds, if SQS said.
    pub fn sent_timestamp_millis(&self) -> Option<i64> {
        sent_timestamp_millis(&self.attributes)
    }

    /// The `AWSTraceHeader` system attribute: the X-Ray trace header, if the message has one.
    pub fn trace_header(&self) -> Option<&str> {
        self.attributes.get("AWSTraceHeader").map(String::as_str)
    }
}

/// `ApproximateReceiveCount` from a message's system attributes (as `ReceiveMessage` or a
/// Lambda SQS event carries them): how many times SQS has handed the message out, this time
/// included; at least 1, and 1 when absent or not a number.
pub fn receive_count(attributes: &HashMap<String, String>) -> u32 {
    attributes
        .get("ApproximateReceiveCount")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1)
}

/// `SentTimestamp` from a message's system attributes: when it was sent, in epoch
/// milliseconds, if SQS said.
pub fn sent_timestamp_millis(attributes: &HashMap<String, String>) -> Option<i64> {
    attributes.get("SentTimestamp").and_then(|v| v.parse().ok())
}

/// One entry of a batch delete: the caller's id for it and the receipt handle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub id: String,
    pub receipt_handle: String,
}

/// The operations the delivery loop performs on its queue.
pub trait MessageQueue: Send + Sync + 'static {
    /// Long-poll for up to `max` messages (1..=10), waiting up to `wait_secs` (0..=20).
    fn receive(
        &self,
        max: i32,
        wait_secs: i32,
    ) -> impl Future<Output = Result<Vec<ReceivedMessage>, AwsError>> + Send;
    /// Delete up to 10 messages; returns the ids of the entries that failed.
    fn delete_batch(
        &self,
        receipts: &[Receipt],
    ) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;
    /// Hide a message for `secs` more seconds (0 makes it visible again at once).
    fn change_visibility(
        &self,
        receipt_handle: &str,
        secs: i32,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// SQS client for provisioning and for the queue operations.
#[derive(Debug, Clone)]
pub struct Sqs {
    client: Client,
}

impl Sqs {
    pub fn new(config: &SdkConfig) -> Self {
        Sqs {
            client: Client::new(config),
        }
    }

    /// Create a queue (or get the URL of an identical one); returns its URL.
    pub async fn create_queue(
        &self,
        name: &str,
        attributes: HashMap<QueueAttributeName, String>,
        tags: HashMap<String, String>,
    ) -> Result<String, AwsError> {
        let out = self
            .client
            .create_queue()
            .queue_name(name)
            .set_attributes(Some(attributes).filter(|a| !a.is_empty()))
            .set_tags(Some(tags).filter(|t| !t.is_empty()))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("CreateQueue", e))?;
        Ok(out.queue_url.unwrap_or_default())
    }

    /// The URL of queue `name`, or `None` if it does not exist.
    pub async fn queue_url(&self, name: &str) -> Result<Option<String>, AwsError> {
        match self.client.get_queue_url().queue_name(name).send().await {
            Ok(out) => Ok(out.queue_url),
            Err(e) => {
                let err = AwsError::from_sdk("GetQueueUrl", e);
                if err.kind == crate::ErrorKind::NotFound {
                    Ok(None)
                } else {
                    Err(err)
                }
            }
        }
    }

    /// All attributes of a queue.
    pub async fn attributes(&self, url: &str) -> Result<HashMap<String, String>, AwsError> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::All)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetQueueAttributes", e))?;
        Ok(out
            .attributes
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k.as_str().to_owned(), v))
            .collect())
    }

    pub async fn set_attributes(
        &self,
        url: &str,
        attributes: HashMap<QueueAttributeName, String>,
    ) -> Result<(), AwsError> {
        self.client
            .set_queue_attributes()
            .queue_url(url)
            .set_attributes(Some(attributes))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("SetQueueAttributes", e))?;
        Ok(())
    }

    pub async fn tags(&self, url: &str) -> Result<HashMap<String, String>, AwsError> {
        let out = self
            .client
            .list_queue_tags()
            .queue_url(url)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ListQueueTags", e))?;
        Ok(out.tags.unwrap_or_default())
    }

    /// Set `tags` on a queue; other tags are left as they are (TagQueue adds or overwrites keys).
    pub async fn tag_queue(
        &self,
        url: &str,
        tags: HashMap<String, String>,
    ) -> Result<(), AwsError> {
        self.client
            .tag_queue()
            .queue_url(url)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("TagQueue", e))?;
        Ok(())
    }

    /// Remove the tags named `keys` from a queue; other tags are left as they are.
    pub async fn untag_queue(&self, url: &str, keys: Vec<String>) -> Result<(), AwsError> {
        self.client
            .untag_queue()
            .queue_url(url)
            .set_tag_keys(Some(keys))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("UntagQueue", e))?;
        Ok(())
    }

    /// URLs of the queues whose names start with `prefix`.
    pub async fn list_queues(&self, prefix: &str) -> Result<Vec<String>, AwsError> {
        let mut urls = Vec::new();
        let mut next = None;
        loop {
            let out = self
                .client
                .list_queues()
                .queue_name_prefix(prefix)
                .set_next_token(next)
                .max_results(1000)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("ListQueues", e))?;
            urls.extend(out.queue_urls.unwrap_or_default());
            next = out.next_token;
            if next.is_none() {
                return Ok(urls);
            }
        }
    }

    pub async fn delete_queue(&self, url: &str) -> Result<(), AwsError> {
        self.client
            .delete_queue()
            .queue_url(url)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DeleteQueue", e))?;
        Ok(())
    }

    /// Send up to 10 bodies in one call; fails if any entry failed.
    pub async fn send_batch(&self, url: &str, bodies: &[String]) -> Result<(), AwsError> {
        let entries = bodies
            .iter()
            .enumerate()
            .map(|(i, body)| {
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(body)
                    .build()
                    .expect("id and body are set")
            })
            .collect();
        let out = self
            .client
            .send_message_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("SendMessageBatch", e))?;
        match out.failed.first() {
            None => Ok(()),
            Some(f) => Err(AwsError {
                operation: "SendMessageBatch",
                kind: if f.sender_fault {
                    crate::ErrorKind::Other
                } else {
                    crate::ErrorKind::Transient
                },
                code: Some(f.code.clone()),
                message: format!(
                    "{} of {} entries failed; first: {} ({})",
                    out.failed.len(),
                    bodies.len(),
                    f.message.as_deref().unwrap_or("no message"),
                    f.code
                ),
            }),
        }
    }

    /// Send one message to the queue at `url`, visible after `delay_secs` (at most 900: more is
    /// sent as 900).
    pub async fn send_message(
        &self,
        url: &str,
        body: String,
        delay_secs: u32,
    ) -> Result<(), AwsError> {
        self.client
            .send_message()
            .queue_url(url)
            .message_body(body)
            .delay_seconds(delay_secs.min(900) as i32)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("SendMessage", e))?;
        Ok(())
    }

    /// The queue at `url` as a [`MessageQueue`].
    pub fn queue(&self, url: impl Into<String>) -> SqsQueue {
        SqsQueue {
            client: self.client.clone(),
            url: url.into(),
        }
    }
}

/// One queue, by URL.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: Client,
    url: String,
}

impl MessageQueue for SqsQueue {
    async fn receive(&self, max: i32, wait_secs: i32) -> Result<Vec<ReceivedMessage>, AwsError> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max)
            .wait_time_seconds(wait_secs)
            // Only what the driver reads: asking for `All` (and for message attributes, which
            // EventBridge never sets) makes every response and its parsing bigger.
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_system_attribute_names(MessageSystemAttributeName::AwsTraceHeader)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ReceiveMessage", e))?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| ReceivedMessage {
                message_id: m.message_id.unwrap_or_default(),
                receipt_handle: m.receipt_handle.unwrap_or_default(),
                body: m.body.unwrap_or_default(),
                attributes: m
                    .attributes
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k.as_str().to_owned(), v))
                    .collect(),
            })
            .collect())
    }

    async fn delete_batch(&self, receipts: &[Receipt]) -> Result<Vec<String>, AwsError> {
        if receipts.is_empty() {
            return Ok(Vec::new());
        }
        let entries = receipts
            .iter()
            .map(|r| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(&r.id)
                    .receipt_handle(&r.receipt_handle)
                    .build()
                    .expect("id and receipt handle are set")
            })
            .collect();
        let out = self
            .client
            .delete_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DeleteMessageBatch", e))?;
        Ok(out.failed.into_iter().map(|f| f.id).collect())
    }

    async fn change_visibility(&self, receipt_handle: &str, secs: i32) -> Result<(), AwsError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(secs)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ChangeMessageVisibility", e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attributes(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn system_attributes_parse_with_safe_defaults() {
        let a = attributes(&[
            ("ApproximateReceiveCount", "3"),
            ("SentTimestamp", "1714557600000"),
        ]);
        assert_eq!(receive_count(&a), 3);
        assert_eq!(sent_timestamp_millis(&a), Some(1_714_557_600_000));
        for odd in ["0", "x", ""] {
            let a = attributes(&[("ApproximateReceiveCount", odd)]);
            assert_eq!(receive_count(&a), 1, "{odd:?}");
        }
        for odd in ["x", "", "1.5"] {
            let a = attributes(&[("SentTimestamp", odd)]);
            assert_eq!(sent_timestamp_millis(&a), None, "{odd:?}");
        }
        assert_eq!(receive_count(&attributes(&[])), 1);
    }
}
