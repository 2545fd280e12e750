//! The HTTP transport of eventferry: what the driver's HTTP sink and the router's HTTP targets
//! (subscriptions, plugins, the HTTP system-event sink) use to put a request on the wire.
//!
//! Layers point one way: `eventferry_core::binding` turns a CloudEvent into headers and a body
//! (the CloudEvents HTTP binding, binary or structured mode); this crate POSTs headers and a
//! body. Both the driver and the router go through [`Poster::post`], so the same event leaves
//! the project in one wire form.
//!
//! Errors ([`PostError`]) name the URL without its `user:password` and never carry a header
//! value: headers may hold credentials.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

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

/// POSTs requests with one reqwest client (connection pool, timeout per request).
#[derive(Debug, Clone)]
pub struct Poster {
    client: reqwest::Client,
}

impl Poster {
    /// A client whose every request times out after `timeout`. `accept_invalid_certs` turns TLS
    /// certificate verification off: for local testing only.
    pub fn new(timeout: Duration, accept_invalid_certs: bool) -> Result<Self, ClientError> {
        reqwest::Client::builder()
            .timeout(timeout)
            .danger_accept_invalid_certs(accept_invalid_certs)
            .build()
            .map(|client| Poster { client })
            .map_err(|e| ClientError(error_text(&e)))
    }

    /// POST `body` to `url` with `headers`, in this order. `Err` only when there was no answer;
    /// any status, 2xx or not, is an [`HttpAnswer`].
    pub async fn post(
        &self,
        url: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> Result<HttpAnswer, PostError> {
        match reqwest::Url::parse(url) {
            Ok(parsed) => self.send(parsed, url, headers, body).await,
            // reqwest's own words for a URL it cannot use.
            Err(_) => self.send(url, url, headers, body).await,
        }
    }

    /// [`Poster::post`] to a URL parsed once by the caller: what a sink that POSTs every event
    /// to the same URL uses, so the URL is not parsed again per request.
    pub async fn post_to(
        &self,
        url: &reqwest::Url,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> Result<HttpAnswer, PostError> {
        self.send(url.clone(), url.as_str(), headers, body).await
    }

    async fn send(
        &self,
        url: impl reqwest::IntoUrl,
        text: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> Result<HttpAnswer, PostError> {
        // The URL is parsed to hide its userinfo only when there is an error to name it in: not
        // on every delivery.
        let failed = |kind, message| PostError {
            url: without_userinfo(text),
            kind,
            message,
        };
        let headers = header_map(headers).map_err(|m| failed(PostErrorKind::Request, m))?;
        let response = self
            .client
            .post(url)
            .headers(headers)
            .body(body)
            .send()
            .await
            .map_err(|e| failed(kind_of(&e), error_text(&e)))?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map(|b| b.to_vec())
            .unwrap_or_default();
        Ok(HttpAnswer { status, body })
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

fn kind_of(err: &reqwest::Error) -> PostErrorKind {
    if err.is_timeout() {
        PostErrorKind::Timeout
    } else if err.is_connect() {
        PostErrorKind::Connect
    } else {
        PostErrorKind::Request
    }
}

/// reqwest's error text without the URL (the caller names it, without secrets), followed by
/// each cause that adds something, e.g. `error sending request: client error (Connect): invalid
/// peer certificate: UnknownIssuer`.
pub fn error_text(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    if let Some(url) = err.url() {
        text = text.replace(&format!(" for url ({url})"), "");
    }
    let mut source = std::error::Error::source(err);
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

/// `url` with any `user:password` removed; unchanged if it is not a URL.
pub fn without_userinfo(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) if !parsed.username().is_empty() || parsed.password().is_some() => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.to_string()
        }
        _ => url.to_owned(),
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
                "POST http://127.0.0.1:{port}/events: error sending request"
            )),
            "{text}"
        );
        assert!(
            !text.contains("s3cr3t") && !text.contains("t0k3n"),
            "{text}"
        );
    }
}
