//! How a [`crate::Poster`] reaches a target: TCP, TLS (rustls on ring, Mozilla's roots, ALPN h2
//! and http/1.1), and the proxies the environment names (`HTTP_PROXY`, `HTTPS_PROXY`,
//! `ALL_PROXY`, `NO_PROXY`, lower case too), the same variables the SDK's client reads.
//!
//! - `https://` through a proxy: a `CONNECT` tunnel, then TLS to the target inside it.
//! - `http://` through a proxy: the request goes to the proxy in absolute form, with
//!   `Proxy-Authorization` when the proxy URL has a user (see [`Connector::proxy_auth`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::uri::Scheme;
use http::{HeaderValue, Uri};
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::net::TcpStream;
use tower_service::Service;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The proxy variables [`Matcher::from_env`] reads. With none set, no request asks the matcher.
const PROXY_VARIABLES: [&str; 6] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// Opens connections for hyper's pooled client, which clones it for every request: one `Arc`.
#[derive(Clone)]
pub(crate) struct Connector(Arc<Parts>);

struct Parts {
    /// Straight to the target: TCP, then TLS for `https://`.
    direct: HttpsConnector<HttpConnector>,
    /// Only when the environment names a proxy.
    proxies: Option<Proxies>,
}

struct Proxies {
    matcher: Matcher,
    /// To a proxy: TCP, then TLS for an `https://` proxy (HTTP/1 only: `CONNECT` is HTTP/1).
    to_proxy: HttpsConnector<HttpConnector>,
    /// TLS to the target inside a tunnel.
    in_tunnel: Arc<ClientConfig>,
}

impl Connector {
    /// With the proxies the environment names.
    pub(crate) fn new(accept_invalid_certs: bool) -> Result<Self, rustls::Error> {
        let proxies = PROXY_VARIABLES
            .iter()
            .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
            .then(Matcher::from_env);
        Self::with_proxies(accept_invalid_certs, proxies)
    }

    pub(crate) fn with_proxies(
        accept_invalid_certs: bool,
        matcher: Option<Matcher>,
    ) -> Result<Self, rustls::Error> {
        let target = tls_config(accept_invalid_certs)?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        let proxies = match matcher {
            None => None,
            Some(matcher) => {
                // hyper-rustls sets ALPN itself (h2 and http/1.1 for `direct`); the tunnel's TLS
                // has to.
                let mut in_tunnel = target.clone();
                in_tunnel.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
                let to_proxy = hyper_rustls::HttpsConnectorBuilder::new()
                    .with_tls_config(tls_config(false)?)
                    .https_or_http()
                    .enable_http1()
                    .wrap_connector(http.clone());
                Some(Proxies {
                    matcher,
                    to_proxy,
                    in_tunnel: Arc::new(in_tunnel),
                })
            }
        };
        let direct = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(target)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        Ok(Connector(Arc::new(Parts { direct, proxies })))
    }

    /// The `Proxy-Authorization` an `http://` request to `uri` needs: its proxy's user, if a
    /// proxy takes it. (`https://` requests send it in the tunnel's `CONNECT` instead.)
    pub(crate) fn proxy_auth(&self, uri: &Uri) -> Option<HeaderValue> {
        if uri.scheme() != Some(&Scheme::HTTP) {
            return None;
        }
        let intercept = self.0.proxies.as_ref()?.matcher.intercept(uri)?;
        intercept.basic_auth().cloned()
    }

    async fn connect(self, dst: Uri) -> Result<Conn, BoxError> {
        let parts = &self.0;
        let found = parts
            .proxies
            .as_ref()
            .and_then(|p| Some((p, p.matcher.intercept(&dst)?)));
        let Some((proxies, proxy)) = found else {
            let io = parts.direct.clone().call(dst).await?;
            return Ok(Conn::new(MaybeHttpsStream::Http(io), false));
        };
        if dst.scheme() != Some(&Scheme::HTTPS) {
            let io = proxies.to_proxy.clone().call(proxy.uri().clone()).await?;
            return Ok(Conn::new(MaybeHttpsStream::Http(io), true));
        }
        let mut tunnel = Tunnel::new(proxy.uri().clone(), proxies.to_proxy.clone());
        if let Some(auth) = proxy.basic_auth() {
            tunnel = tunnel.with_auth(auth.clone());
        }
        let tunneled = tunnel.call(dst.clone()).await?;
        let host = dst.host().ok_or("the URL has no host")?;
        let name =
            ServerName::try_from(host.trim_start_matches('[').trim_end_matches(']'))?.to_owned();
        let tls = tokio_rustls::TlsConnector::from(proxies.in_tunnel.clone())
            .connect(name, TokioIo::new(tunneled))
            .await?;
        Ok(Conn::new(MaybeHttpsStream::from(tls), false))
    }
}

impl Service<Uri> for Connector {
    type Response = Conn;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Conn, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        Box::pin(self.clone().connect(dst))
    }
}

/// rustls on ring with Mozilla's roots, or with no verification at all (local testing only).
fn tls_config(accept_invalid_certs: bool) -> Result<ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    Ok(if accept_invalid_certs {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth()
    } else {
        let roots =
            rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        builder.with_root_certificates(roots).with_no_client_auth()
    })
}

/// Accepts any certificate for any name; handshake signatures are still checked.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

type Tcp = MaybeHttpsStream<TokioIo<TcpStream>>;

/// One connection: plain, TLS, to a proxy (`proxied`: requests go in absolute form), or TLS
/// inside a proxy's tunnel.
pub(crate) struct Conn {
    io: MaybeHttpsStream<Tcp>,
    proxied: bool,
}

impl Conn {
    fn new(io: MaybeHttpsStream<Tcp>, proxied: bool) -> Self {
        Conn { io, proxied }
    }
}

impl Connection for Conn {
    fn connected(&self) -> Connected {
        self.io.connected().proxy(self.proxied)
    }
}

impl hyper::rt::Read for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
