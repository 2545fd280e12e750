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
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(https_client());
    if let Some(region) = &opts.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(url) = &opts.endpoint_url {
        loader = loader.endpoint_url(url.clone());
    }
    loader.load().await
}

/// The SDK's default HTTPS client (hyper 1, rustls with the system's root certificates, proxy
/// settings from the environment), on ring rather than aws-lc-rs: one crypto library for the
/// whole binary (eventferry-http's rustls uses ring too), 1.8 MB less in the router's bootstrap. The SDK
/// crates are built without `default-https-client`, so a config must be given this client (as
/// [`load`] does): one without any fails each call with "No HTTP client was available".
pub fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::proxy::ProxyConfig;
    use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
    use aws_smithy_http_client::{Builder, ConnectorBuilder};
    Builder::new().build_with_connector_fn(|settings, components| {
        let mut conn =
            ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(CryptoMode::Ring));
        conn.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            conn.set_sleep_impl(components.sleep_impl());
        }
        conn.set_proxy_config(Some(ProxyConfig::from_env()));
        conn.build()
    })
}
