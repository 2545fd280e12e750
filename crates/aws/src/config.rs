//! Loading the shared AWS configuration.

use aws_config::{BehaviorVersion, Region, SdkConfig};

/// Overrides on top of the standard AWS configuration chain.
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    /// Region; `None` keeps the chain's answer (`AWS_REGION`, profile, IMDS).
    pub region: Option<String>,
    /// Endpoint for every service; `None` keeps `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>`.
    pub endpoint_url: Option<String>,
}

/// Load configuration from the standard chain, with `opts` applied on top.
pub async fn load(opts: &AwsOptions) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(region) = &opts.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(url) = &opts.endpoint_url {
        loader = loader.endpoint_url(url.clone());
    }
    loader.load().await
}
