//! S3, for one object used as a small document store: read it unless it is unchanged (an
//! `If-None-Match` GET that S3 answers with 304), and write it only if nobody else wrote it
//! since it was read (S3 conditional writes: `If-Match` on the ETag read, `If-None-Match: *`
//! to create). Two writers therefore never lose each other's change: the loser gets
//! [`Written::Conflict`] and reads again.
//!
//! [`S3Document`] is that object as the router's subscription store. A write whose answer was
//! lost and that is retried meets its own ETag change and comes back as a conflict: the caller
//! reads again and sees its change already made.

use aws_config::SdkConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use eventferry_core::subscription::live::{self, DocumentStore, StoreFailure};

use crate::error::{AwsError, ErrorKind};

/// An S3 client.
#[derive(Debug, Clone)]
pub struct S3 {
    client: Client,
}

/// What a conditional read found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// The object has the ETag the caller already has.
    Unchanged,
    /// The object, with its ETag.
    Found { body: Vec<u8>, etag: String },
    /// No such object (the bucket exists).
    Missing,
}

/// Which version of the object a write expects to replace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// The object must not exist yet (`If-None-Match: *`).
    Absent,
    /// The object must still have this ETag (`If-Match`).
    Etag(String),
}

/// What a conditional write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// Written; the new ETag.
    Done { etag: String },
    /// Somebody else wrote (or created, or deleted) the object first: read it again.
    Conflict,
}

impl S3 {
    pub fn new(config: &SdkConfig) -> Self {
        // LocalStack and other S3-compatible endpoints want path-style addressing; AWS accepts
        // it for bucket names without dots, which is what the template creates.
        let path_style = config.endpoint_url().is_some();
        let conf = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(path_style)
            .build();
        S3 {
            client: Client::from_conf(conf),
        }
    }

    /// GetObject, conditional on `known` (the ETag the caller holds) when given.
    pub async fn fetch(
        &self,
        bucket: &str,
        key: &str,
        known: Option<&str>,
    ) -> Result<Fetched, AwsError> {
        let answer = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .set_if_none_match(known.map(str::to_owned))
            .send()
            .await;
        let output = match answer {
            Ok(output) => output,
            Err(err) => {
                if err.raw_response().map(|r| r.status().as_u16()) == Some(304) {
                    return Ok(Fetched::Unchanged);
                }
                if err.code() == Some("NoSuchKey") {
                    return Ok(Fetched::Missing);
                }
                return Err(classify(AwsError::from_sdk("GetObject", err)));
            }
        };
        let etag = output.e_tag().unwrap_or_default().to_owned();
        let body = output
            .body
            .collect()
            .await
            .map_err(|e| AwsError {
                operation: "GetObject",
                kind: ErrorKind::Transient,
                code: None,
                message: format!("reading the body of s3://{bucket}/{key}: {e}"),
            })?
            .into_bytes()
            .to_vec();
        Ok(Fetched::Found { body, etag })
    }

    /// PutObject, only if the object is still as `expect` says.
    pub async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
        expect: &Expect,
    ) -> Result<Written, AwsError> {
        let request = self
            .client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body));
        let request = match expect {
            Expect::Absent => request.if_none_match("*"),
            Expect::Etag(etag) => request.if_match(etag),
        };
        match request.send().await {
            Ok(output) => Ok(Written::Done {
                etag: output.e_tag().unwrap_or_default().to_owned(),
            }),
            // 412: the condition failed. 409 ConditionalRequestConflict: a concurrent
            // conditional write to the same key is in progress. Both mean "read again".
            Err(err)
                if matches!(
                    err.code(),
                    Some("PreconditionFailed" | "ConditionalRequestConflict")
                ) || matches!(
                    err.raw_response().map(|r| r.status().as_u16()),
                    Some(409 | 412)
                ) =>
            {
                Ok(Written::Conflict)
            }
            Err(err) => Err(classify(AwsError::from_sdk("PutObject", err))),
        }
    }

    /// CreateBucket; an existing bucket of this account is fine.
    pub async fn create_bucket(&self, bucket: &str, region: Option<&str>) -> Result<(), AwsError> {
        let mut request = self.client.create_bucket().bucket(bucket);
        if let Some(region) = region.filter(|r| *r != "us-east-1") {
            request = request.create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(region.into())
                    .build(),
            );
        }
        match request.send().await {
            Ok(_) => Ok(()),
            Err(err) if err.code() == Some("BucketAlreadyOwnedByYou") => Ok(()),
            Err(err) => Err(classify(AwsError::from_sdk("CreateBucket", err))),
        }
    }

    /// DeleteObject (absent is fine).
    pub async fn delete_object(&self, bucket: &str, key: &str) -> Result<(), AwsError> {
        self.client
            .delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map(|_| ())
            .map_err(|err| classify(AwsError::from_sdk("DeleteObject", err)))
    }

    /// DeleteBucket (it must be empty).
    pub async fn delete_bucket(&self, bucket: &str) -> Result<(), AwsError> {
        self.client
            .delete_bucket()
            .bucket(bucket)
            .send()
            .await
            .map(|_| ())
            .map_err(|err| classify(AwsError::from_sdk("DeleteBucket", err)))
    }
}

/// S3's own codes for a missing bucket or key are not in the shared table.
fn classify(mut error: AwsError) -> AwsError {
    if matches!(error.code.as_deref(), Some("NoSuchBucket" | "NoSuchKey")) {
        error.kind = ErrorKind::NotFound;
    }
    if matches!(error.code.as_deref(), Some("SlowDown")) {
        error.kind = ErrorKind::Transient;
    }
    error
}

/// One S3 object as the subscription store ([`DocumentStore`]): versions are ETags.
#[derive(Debug, Clone)]
pub struct S3Document {
    s3: S3,
    bucket: String,
    key: String,
}

/// `s3://bucket/key`, split; why not otherwise.
pub fn parse_s3_url(url: &str) -> Result<(String, String), String> {
    let rest = url.strip_prefix("s3://").ok_or_else(|| {
        format!("{url:?} is not an S3 URL: write s3://BUCKET/KEY, e.g. s3://my-bucket/subscriptions.json")
    })?;
    match rest.split_once('/') {
        Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() => {
            Ok((bucket.to_owned(), key.to_owned()))
        }
        _ => Err(format!(
            "{url:?} needs a bucket and a key: write s3://BUCKET/KEY, e.g. s3://my-bucket/subscriptions.json"
        )),
    }
}

impl S3Document {
    pub fn new(s3: S3, bucket: impl Into<String>, key: impl Into<String>) -> Self {
        S3Document {
            s3,
            bucket: bucket.into(),
            key: key.into(),
        }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    pub fn key(&self) -> &str {
        &self.key
    }
}

impl DocumentStore for S3Document {
    fn location(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    async fn fetch(&self, known: Option<&str>) -> Result<live::Fetched, StoreFailure> {
        let fetched = crate::retry::retry("read the subscriptions", || {
            self.s3.fetch(&self.bucket, &self.key, known)
        })
        .await
        .map_err(|e| StoreFailure(e.to_string()))?;
        Ok(match fetched {
            Fetched::Unchanged => live::Fetched::Unchanged,
            Fetched::Missing => live::Fetched::Missing,
            Fetched::Found { body, etag } => live::Fetched::Found {
                text: String::from_utf8(body)
                    .map_err(|_| StoreFailure(format!("{} is not UTF-8 text", self.location())))?,
                version: etag,
            },
        })
    }

    async fn put(
        &self,
        text: String,
        expect: Option<&str>,
    ) -> Result<Option<String>, StoreFailure> {
        let expect = match expect {
            Some(etag) => Expect::Etag(etag.to_owned()),
            None => Expect::Absent,
        };
        let written = crate::retry::retry("write the subscriptions", || {
            self.s3.put(
                &self.bucket,
                &self.key,
                text.clone().into_bytes(),
                "application/json",
                &expect,
            )
        })
        .await
        .map_err(|e| StoreFailure(e.to_string()))?;
        Ok(match written {
            Written::Done { etag } => Some(etag),
            Written::Conflict => None,
        })
    }
}
