//! The HTTP transport of eventferry: what the driver's HTTP sink and the router's HTTP targets
//! (subscriptions, plugins, the HTTP system-event sink) use to put a request on the wire.
//!
//! Layers point one way: `eventferry_core::binding` turns a CloudEvent into headers and a body
//! (the CloudEvents HTTP binding, binary or structured mode); this crate POSTs headers and a
//! body. Both the driver and the router go through [`Poster`], so the same event leaves the
//! project in one wire form.
//!
//! The client is hyper's pooled client (keep-alive connections, HTTP/2 where TLS negotiates it)
//! with rustls on ring and proxies from the environment ([`connect`]). It has no redirect or
//! retry layer of its own: a 3xx is an answer like any other, not a 2xx, so it never acknowledges
//! an event (a 302 followed as a GET would drop the body), and retries are the caller's.
//!
//! Errors ([`PostError`]) name the URL without its `user:password` and never carry a header
//! value: headers may hold credentials.

mod connect;

use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, HOST, PROXY_AUTHORIZATION};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;

/// What an HTTP target answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpAnswer {
    pub status: u16,
    pub body: Vec<u8>,
}

impl HttpAnswer {
    /// Any 2xx status.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// How a POST failed without an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostErrorKind {
    /// No answer within the timeout.
    Timeout,
    /// No connection: refused, unresolvable, or the TLS handshake failed.
    Connect,
    /// The request could not be built or sent (a bad URL or header), or the answer broke off.
    Request,
}

/// A POST that got no answer: which URL (without `user:password`), what kind of failure, and
/// the client's own words with their causes (e.g. `invalid peer certificate: UnknownIssuer`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("POST {url}: {message}")]
pub struct PostError {
    pub url: String,
    pub kind: PostErrorKind,
    pub message: String,
}

impl PostError {
    /// A TLS certificate the client refused (its own words say `certificate`).
    pub fn is_certificate(&self) -> bool {
        self.message.contains("certificate")
    }
}

/// The HTTP client could not be created (e.g. no TLS backend).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot build the HTTP client: {0}")]
pub struct ClientError(String);

/// An `http://` or `https://` URL parsed once, for every POST to it: what it is called in
/// errors (without `user:password`), and the `Authorization: Basic` its `user:password` asks
/// for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    uri: http::Uri,
    /// `Host`, made once (hyper would format it for every request to a non-default port).
    host: HeaderValue,
    shown: String,
    basic_auth: Option<HeaderValue>,
}

impl Target {
    /// Parses `url` (WHATWG rules, as browsers do: spaces and non-ASCII are percent-encoded).
    /// The error says what is wrong, without the URL's password.
    pub fn parse(url: &str) -> Result<Self, String> {
        Self::from_url(url::Url::parse(url).map_err(|e| format!("not a valid URL: {e}"))?)
    }

    /// [`Target::parse`] for a URL the caller has parsed already.
    pub fn from_url(mut parsed: url::Url) -> Result<Self, String> {
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!(
                "the scheme {:?} is not http or https",
                parsed.scheme()
            ));
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err("the URL has no host".to_owned());
        }
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let basic_auth = if !parsed.username().is_empty() || parsed.password().is_some() {
            let user = decode(parsed.username());
            let password = parsed.password().map(decode).unwrap_or_default();
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            let mut value = HeaderValue::from_str(&format!("Basic {token}"))
                .map_err(|_| "the URL's user or password cannot be sent in a header".to_owned())?;
            value.set_sensitive(true);
            Some(value)
        } else {
            None
        };
        let shown = parsed.to_string();
        let uri = shown
            .parse::<http::Uri>()
            .map_err(|e| format!("not a valid HTTP URI: {e}"))?;
        // The URL parser already dropped a default port (`:80` for http, `:443` for https).
        let host = uri
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
            .ok_or_else(|| "the URL's host cannot be sent in a Host header".to_owned())?;
        Ok(Target {
            uri,
            host,
            shown,
            basic_auth,
        })
    }

    /// The URL without `user:password`.
    pub fn as_str(&self) -> &str {
        &self.shown
    }
}

/// POSTs requests with one pooled hyper client, each within a timeout.
#[derive(Clone)]
pub struct Poster {
    /// hyper's client is about 500 bytes: shared, so a `Poster` is small to hold and to clone.
    client: std::sync::Arc<Client<connect::Connector, Full<Bytes>>>,
    connector: connect::Connector,
    timeout: Duration,
}

impl std::fmt::Debug for Poster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Poster")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Poster {
    /// A client whose every request (connecting, sending, and reading the whole answer) times
    /// out after `timeout`. `accept_invalid_certs` turns TLS certificate verification off: for
    /// local testing only.
    pub fn new(timeout: Duration, accept_invalid_certs: bool) -> Result<Self, ClientError> {
        let connector = connect::Connector::new(accept_invalid_certs)
            .map_err(|e| ClientError(e.to_string()))?;
        Ok(Self::with_connector(connector, timeout))
    }

    fn with_connector(connector: connect::Connector, timeout: Duration) -> Self {
        let timer = hyper_util::rt::TokioTimer::new();
        let client = Client::builder(hyper_util::rt::TokioExecutor::new())
            .pool_timer(timer.clone())
            .timer(timer)
            .build(connector.clone());
        Poster {
            client: std::sync::Arc::new(client),
            connector,
            timeout,
        }
    }

    /// POST `body` to `url` with `headers`, in this order. `Err` only when there was no answer;
    /// any status, 2xx or not, is an [`HttpAnswer`].
    pub async fn post(
        &self,
        url: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> Result<HttpAnswer, PostError> {
        match Target::parse(url) {
            Ok(target) => self.post_to(&target, headers, body).await,
            Err(message) => Err(PostError {
                url: without_userinfo(url),
                kind: PostErrorKind::Request,
                message,
            }),
        }
    }

    /// [`Poster::post`] to a URL parsed once by the caller: what a sink that POSTs every event
    /// to the same URL uses.
    pub async fn post_to(
        &self,
        target: &Target,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> Result<HttpAnswer, PostError> {
        let failed = |kind, message| PostError {
            url: target.shown.clone(),
            kind,
            message,
        };
        let mut map = header_map(headers).map_err(|m| failed(PostErrorKind::Request, m))?;
        if let Some(auth) = &target.basic_auth {
            map.entry(AUTHORIZATION).or_insert_with(|| auth.clone());
        }
        map.entry(HOST).or_insert_with(|| target.host.clone());
        if let Some(auth) = self.connector.proxy_auth(&target.uri) {
            map.entry(PROXY_AUTHORIZATION).or_insert(auth);
        }
        let mut request = http::Request::new(Full::new(Bytes::from(body)));
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = target.uri.clone();
        *request.headers_mut() = map;
        let exchange = async {
            let response = self.client.request(request).await.map_err(|e| {
                let kind = if e.is_connect() {
                    PostErrorKind::Connect
                } else {
                    PostErrorKind::Request
                };
                (kind, error_text(&e))
            })?;
            let status = response.status().as_u16();
            let body = response
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes().to_vec())
                .unwrap_or_default();
            Ok(HttpAnswer { status, body })
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err((kind, message))) => Err(failed(kind, message)),
            Err(_) => Err(failed(
                PostErrorKind::Timeout,
                format!("no answer within {:?}", self.timeout),
            )),
        }
    }
}

/// The headers as a map, in order, every value marked sensitive (kept out of `Debug` output).
/// The error names the header, never its value.
fn header_map(headers: &[(String, String)]) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("header name {name:?} is not a valid HTTP header name"))?;
        let mut value = HeaderValue::from_str(value)
            .map_err(|_| format!("header {name}: the value is not a valid HTTP header value"))?;
        value.set_sensitive(true);
        map.append(name, value);
    }
    Ok(map)
}

/// The client's error text followed by each cause that adds something, e.g. `client error
/// (Connect): invalid peer certificate: UnknownIssuer`. hyper's errors never hold the URL.
fn error_text(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// `url` with any `user:password` removed. Text that is not a URL loses whatever sits between
/// `://` and an `@` before the path, so a malformed URL's password is not shown either.
pub fn without_userinfo(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if !parsed.username().is_empty() || parsed.password().is_some() => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.to_string()
        }
        Ok(_) => url.to_owned(),
        Err(_) => {
            let Some(start) = url.find("://").map(|i| i + 3) else {
                return url.to_owned();
            };
            let rest = &url[start..];
            let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
            match authority.rfind('@') {
                Some(at) => format!("{}{}", &url[..start], &rest[at + 1..]),
                None => url.to_owned(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_credentials_only() {
        assert_eq!(
            without_userinfo("https://user:s3cr3t@example.com/x?q=1"),
            "https://example.com/x?q=1"
        );
        assert_eq!(
            without_userinfo("http://127.0.0.1:8080/events"),
            "http://127.0.0.1:8080/events"
        );
        assert_eq!(without_userinfo("not a url"), "not a url");
        assert_eq!(without_userinfo("http://u:s3cr3t@[::1/x"), "http://[::1/x");
    }

    #[test]
    fn bad_headers_are_named_but_never_echoed() {
        let err = header_map(&[("X-Key".into(), "line\nbreak-s3cr3t".into())]).unwrap_err();
        assert!(err.contains("x-key"), "{err}");
        assert!(!err.contains("s3cr3t"), "{err}");
        let err = header_map(&[("bad name".into(), "v".into())]).unwrap_err();
        assert!(err.contains("\"bad name\""), "{err}");
        let map = header_map(&[("A".into(), "1".into()), ("a".into(), "2".into())]).unwrap();
        let values: Vec<_> = map.get_all("a").iter().collect();
        assert_eq!(values, ["1", "2"]);
        assert!(values[0].is_sensitive());
    }

    /// Reads up to the end of a request head (or the end of the stream).
    async fn read_head(stream: &mut (impl tokio::io::AsyncRead + Unpin)) -> Vec<u8> {
        use tokio::io::AsyncReadExt;
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = stream.read(&mut buf).await {
            seen.extend_from_slice(&buf[..n]);
            if n == 0 || seen.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
        seen
    }

    /// A server on 127.0.0.1 that reads one request head per connection, keeps it, and answers
    /// `answer` (then closes). Returns its port and the heads it read.
    async fn one_shot_server(
        answer: &'static str,
    ) -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
        use tokio::io::AsyncWriteExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let heads = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = heads.clone();
        tokio::spawn(async move {
            while let Ok((mut tcp, _)) = listener.accept().await {
                let seen = read_head(&mut tcp).await;
                kept.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&seen).into_owned());
                let _ = tcp.write_all(answer.as_bytes()).await;
                let _ = tcp.shutdown().await;
            }
        });
        (port, heads)
    }

    const OK: &str = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok";

    #[tokio::test]
    async fn a_urls_user_is_sent_as_basic_auth_and_never_shown() {
        let (port, heads) = one_shot_server(OK).await;
        let poster = Poster::new(Duration::from_secs(5), false).unwrap();
        let target =
            Target::parse(&format!("http://us%40er:p%3Ass@127.0.0.1:{port}/e?q=1")).unwrap();
        assert_eq!(target.as_str(), format!("http://127.0.0.1:{port}/e?q=1"));
        let answer = poster
            .post_to(&target, &[("ce-id".into(), "1".into())], b"{}".to_vec())
            .await
            .unwrap();
        assert_eq!((answer.status, answer.body.as_slice()), (200, &b"ok"[..]));
        let head = heads.lock().unwrap()[0].to_lowercase();
        assert!(head.starts_with("post /e?q=1 http/1.1\r\n"), "{head}");
        // base64("us@er:p:ss")
        assert!(
            head.contains("authorization: basic dxnazxi6cdpzcw==\r\n"),
            "{head}"
        );
        assert!(head.contains("ce-id: 1\r\n"), "{head}");
        assert!(
            head.contains(&format!("host: 127.0.0.1:{port}\r\n")),
            "{head}"
        );
        let default_port = Target::parse("https://u:p@sink.example:443/e").unwrap();
        assert_eq!(default_port.host, "sink.example");
        assert!(!format!("{target:?}").contains("p%3Ass"));

        let err = Target::parse("ftp://x/").unwrap_err();
        assert!(err.contains("\"ftp\" is not http or https"), "{err}");
        let err = poster
            .post("http://user:s3cr3t@[::1", &[], vec![])
            .await
            .unwrap_err();
        assert_eq!(err.kind, PostErrorKind::Request);
        assert!(!err.to_string().contains("s3cr3t"), "{err}");
    }

    #[tokio::test]
    async fn redirects_are_answers_not_followed() {
        let (port, heads) = one_shot_server(
            "HTTP/1.1 302 Found\r\nlocation: /elsewhere\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        )
        .await;
        let poster = Poster::new(Duration::from_secs(5), false).unwrap();
        let answer = poster
            .post(
                &format!("http://127.0.0.1:{port}/events"),
                &[],
                b"{}".to_vec(),
            )
            .await
            .unwrap();
        assert_eq!(answer.status, 302);
        assert!(!answer.is_success());
        assert_eq!(
            heads.lock().unwrap().len(),
            1,
            "one request, no GET after it"
        );
    }

    #[tokio::test]
    async fn a_silent_target_times_out() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        // Accepts and never answers.
        let _held = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((tcp, _)) = listener.accept().await {
                open.push(tcp);
            }
        });
        let poster = Poster::new(Duration::from_millis(200), false).unwrap();
        let err = poster
            .post(&format!("http://127.0.0.1:{port}/events"), &[], vec![])
            .await
            .unwrap_err();
        assert_eq!(err.kind, PostErrorKind::Timeout, "{err}");
        assert!(err.to_string().contains("no answer within 200ms"), "{err}");
    }

    fn through_proxy(port: u16) -> Poster {
        through_proxy_trusting(port, false)
    }

    fn through_proxy_trusting(port: u16, accept_invalid_certs: bool) -> Poster {
        use hyper_util::client::proxy::matcher::Matcher;
        let proxy = format!("http://pu:pp@127.0.0.1:{port}");
        let matcher = Matcher::builder().http(proxy.clone()).https(proxy).build();
        let connector =
            connect::Connector::with_proxies(accept_invalid_certs, Some(matcher)).unwrap();
        Poster::with_connector(connector, Duration::from_secs(5))
    }

    /// A TLS server for `localhost` with a self-signed certificate, answering 202 to one
    /// request per connection. Returns its port.
    async fn tls_server() -> u16 {
        use std::sync::Arc;
        use tokio::io::AsyncWriteExt;
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.key_pair.serialize_der().into());
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    continue;
                };
                let _ = read_head(&mut tls).await;
                let _ = tls
                    .write_all(
                        b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                    )
                    .await;
                let _ = tls.shutdown().await;
            }
        });
        port
    }

    /// A proxy that answers CONNECT with 200 and then pipes bytes to 127.0.0.1 (whatever host
    /// was asked for, at its port). Returns its port and the CONNECT heads it read.
    async fn tunnelling_proxy() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let heads = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = heads.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let mut seen = Vec::new();
                let mut buf = [0u8; 1];
                // Byte by byte up to the blank line: nothing of the tunnel is read here.
                while !seen.ends_with(b"\r\n\r\n") {
                    match client.read(&mut buf).await {
                        Ok(1) => seen.push(buf[0]),
                        _ => break,
                    }
                }
                let head = String::from_utf8_lossy(&seen).into_owned();
                kept.lock().unwrap().push(head.clone());
                let target_port: u16 = head
                    .split_whitespace()
                    .nth(1)
                    .and_then(|authority| authority.rsplit(':').next())
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(443);
                let Ok(mut upstream) =
                    tokio::net::TcpStream::connect(("127.0.0.1", target_port)).await
                else {
                    continue;
                };
                let _ = client
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await;
                tokio::spawn(async move {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                });
            }
        });
        (port, heads)
    }

    #[tokio::test]
    async fn https_inside_a_tunnel_is_tls_to_the_target() {
        let target = tls_server().await;
        let (proxy, heads) = tunnelling_proxy().await;
        let url = format!("https://localhost:{target}/events");
        // Verified: the self-signed certificate is refused inside the tunnel, as it is directly.
        let err = through_proxy(proxy)
            .post(&url, &[], b"{}".to_vec())
            .await
            .unwrap_err();
        assert!(err.is_certificate(), "{err}");
        // Not verified (--insecure-skip-tls-verify): the request goes through.
        let answer = through_proxy_trusting(proxy, true)
            .post(&url, &[], b"{}".to_vec())
            .await
            .unwrap();
        assert_eq!(answer.status, 202);
        let heads = heads.lock().unwrap();
        assert_eq!(heads.len(), 2, "{heads:?}");
        for head in heads.iter() {
            assert!(
                head.to_lowercase()
                    .starts_with(&format!("connect localhost:{target} http/1.1\r\n")),
                "{head}"
            );
        }
    }

    #[tokio::test]
    async fn http_goes_to_the_proxy_in_absolute_form_with_its_credentials() {
        let (port, heads) = one_shot_server(OK).await;
        let answer = through_proxy(port)
            .post("http://sink.example:8080/events", &[], b"{}".to_vec())
            .await
            .unwrap();
        assert_eq!(answer.status, 200);
        let head = heads.lock().unwrap()[0].to_lowercase();
        assert!(
            head.starts_with("post http://sink.example:8080/events http/1.1\r\n"),
            "{head}"
        );
        // base64("pu:pp")
        assert!(
            head.contains(
                "proxy-authorization: basic chu6chA=\r\n"
                    .to_lowercase()
                    .as_str()
            ),
            "{head}"
        );
    }

    #[tokio::test]
    async fn https_goes_through_a_connect_tunnel() {
        // The proxy refuses the tunnel: the request fails to connect, and the proxy saw CONNECT.
        let (port, heads) =
            one_shot_server("HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n").await;
        let err = through_proxy(port)
            .post("https://sink.example/events", &[], b"{}".to_vec())
            .await
            .unwrap_err();
        assert_eq!(err.kind, PostErrorKind::Connect, "{err}");
        let head = heads.lock().unwrap()[0].to_lowercase();
        assert!(
            head.starts_with("connect sink.example:443 http/1.1\r\n"),
            "{head}"
        );
        assert!(
            head.contains(
                "proxy-authorization: basic chu6chA=\r\n"
                    .to_lowercase()
                    .as_str()
            ),
            "{head}"
        );
    }

    #[tokio::test]
    async fn unanswered_posts_say_why_without_secrets() {
        // A port nothing listens on: bind one, then free it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let poster = Poster::new(Duration::from_secs(5), false).unwrap();
        let url = format!("http://user:s3cr3t@127.0.0.1:{port}/events");
        let err = poster
            .post(
                &url,
                &[("authorization".into(), "Bearer t0k3n".into())],
                vec![],
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind, PostErrorKind::Connect);
        assert_eq!(err.url, format!("http://127.0.0.1:{port}/events"));
        let text = err.to_string();
        assert!(
            text.starts_with(&format!(
                "POST http://127.0.0.1:{port}/events: client error (Connect)"
            )),
            "{text}"
        );
        assert!(
            !text.contains("s3cr3t") && !text.contains("t0k3n"),
            "{text}"
        );
    }
}
