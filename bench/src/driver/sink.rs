//! The in-bench HTTP sink: 200 at once; counts, and records (ce-id, arrival) when asked.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

#[derive(Default)]
pub struct SinkState {
    pub count: AtomicU64,
    pub record: AtomicBool,
    pub arrivals: Mutex<Vec<(String, Instant)>>,
}

/// Serves the sink on a free port of 127.0.0.1 (any path) and returns the port.
pub async fn serve_sink(state: Arc<SinkState>) -> u16 {
    use axum::http::{HeaderMap, StatusCode};
    let app = axum::Router::new()
        .fallback(
            |axum::extract::State(s): axum::extract::State<Arc<SinkState>>,
             headers: HeaderMap,
             _body: axum::body::Bytes| async move {
                s.count.fetch_add(1, Ordering::Relaxed);
                if s.record.load(Ordering::Relaxed) {
                    let now = Instant::now();
                    if let Some(id) = headers.get("ce-id").and_then(|v| v.to_str().ok()) {
                        s.arrivals.lock().unwrap().push((id.to_owned(), now));
                    }
                }
                StatusCode::OK
            },
        )
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the sink");
    let port = listener.local_addr().expect("local addr").port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}
