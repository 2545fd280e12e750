//! A minimal Lambda Runtime API served by the bench on 127.0.0.1, for the router's cold start:
//! one event on the first `next`, the answer and its time recorded.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::Value;

#[derive(Default)]
pub struct ApiState {
    pub t0: Mutex<Option<Instant>>,
    next_at: Mutex<Option<Instant>>,
    response_at: Mutex<Option<Instant>>,
    response: Mutex<Option<(String, Vec<u8>)>>,
    served: AtomicBool,
    sink_hits: Mutex<u32>,
    /// Notified when the router has answered.
    pub done: tokio::sync::Notify,
}

/// A minimal Lambda Runtime API: one event on the first `next`, then nothing; the answer is
/// recorded. `/sink` is the subscription's HTTP target.
pub async fn serve_api(state: Arc<ApiState>, event: Value) -> (u16, tokio::task::JoinHandle<()>) {
    use axum::http::{Method, StatusCode, Uri};
    use axum::response::IntoResponse;
    let body = event.to_string();
    let app = axum::Router::new()
        .fallback(
            move |axum::extract::State(s): axum::extract::State<Arc<ApiState>>,
                  method: Method,
                  uri: Uri,
                  request: axum::body::Bytes| {
                let body = body.clone();
                async move {
                    let path = uri.path().to_owned();
                    if method == Method::GET && path == "/2018-06-01/runtime/invocation/next" {
                        if s.served.swap(true, Ordering::SeqCst) {
                            std::future::pending::<()>().await;
                        }
                        *s.next_at.lock().unwrap() = Some(Instant::now());
                        let deadline = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .unwrap()
                            .as_millis()
                            + 30_000;
                        return (
                            StatusCode::OK,
                            [
                                ("lambda-runtime-aws-request-id", "cold-start-1".to_owned()),
                                ("lambda-runtime-deadline-ms", deadline.to_string()),
                                (
                                    "lambda-runtime-invoked-function-arn",
                                    "arn:aws:lambda:us-east-1:000000000000:function:router"
                                        .to_owned(),
                                ),
                                (
                                    "lambda-runtime-trace-id",
                                    "Root=1-00000000-000000000000000000000000;Sampled=0".to_owned(),
                                ),
                                ("content-type", "application/json".to_owned()),
                            ],
                            body,
                        )
                            .into_response();
                    }
                    if method == Method::POST && path == "/sink" {
                        *s.sink_hits.lock().unwrap() += 1;
                        return StatusCode::OK.into_response();
                    }
                    if method == Method::POST && path.starts_with("/2018-06-01/runtime/") {
                        let now = Instant::now();
                        let kind = path.rsplit('/').next().unwrap_or_default().to_owned();
                        s.response_at.lock().unwrap().get_or_insert(now);
                        s.response
                            .lock()
                            .unwrap()
                            .get_or_insert((kind, request.to_vec()));
                        s.done.notify_one();
                        return StatusCode::ACCEPTED.into_response();
                    }
                    StatusCode::NOT_FOUND.into_response()
                }
            },
        )
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the runtime API");
    let port = listener.local_addr().expect("addr").port();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (port, task)
}

/// One cold start, from exec.
pub struct Cold {
    pub init_ms: f64,
    pub first_event_ms: f64,
    pub max_rss_kib: u64,
}

impl ApiState {
    /// The figures of a cold start that began at `t0`, after checking the router answered
    /// `response` and the subscriber got the event once.
    pub fn cold(&self, t0: Instant, max_rss_kib: u64) -> Cold {
        let (kind, body) = self.response.lock().unwrap().clone().expect("an answer");
        assert_eq!(
            kind,
            "response",
            "the router answered {kind}: {}",
            String::from_utf8_lossy(&body)
        );
        assert_eq!(
            *self.sink_hits.lock().unwrap(),
            1,
            "the subscriber got the event once"
        );
        let next = self.next_at.lock().unwrap().expect("next called");
        let resp = self.response_at.lock().unwrap().expect("answered");
        Cold {
            init_ms: next.duration_since(t0).as_secs_f64() * 1e3,
            first_event_ms: resp.duration_since(t0).as_secs_f64() * 1e3,
            max_rss_kib,
        }
    }
}
