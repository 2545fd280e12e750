//! The harness's HTTP sink: fails a share of requests at random and hangs on a few past the
//! queue's visibility timeout; counts the 2xx answers per chaos id.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;

use crate::rng::Rng;

#[derive(Default)]
pub struct SinkState {
    /// chaos id -> number of 2xx answers.
    pub delivered: HashMap<u64, u32>,
    pub requests: u64,
    pub failed: u64,
    pub hung: u64,
    pub foreign: u64,
}

pub struct Sink {
    pub state: Mutex<SinkState>,
    pub rng: Mutex<Rng>,
    /// Only events of this run count; others are answered 400.
    pub run: String,
    pub fail_rate: f64,
    pub hang_rate: f64,
    pub hang: Duration,
}

impl Sink {
    pub fn unique(&self) -> u64 {
        self.state.lock().unwrap().delivered.len() as u64
    }
}

/// Serves the sink on a free port of 127.0.0.1; returns its URL.
pub async fn start_sink(sink: Arc<Sink>) -> String {
    use axum::body::Bytes;
    use axum::http::StatusCode;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind sink");
    let url = format!("http://{}/events", listener.local_addr().unwrap());
    let handler = move |body: Bytes| {
        let sink = sink.clone();
        async move {
            let value: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let id = value["detail"]["chaos_id"].as_u64();
            let ours = value["detail"]["run"].as_str() == Some(sink.run.as_str());
            let (Some(id), true) = (id, ours) else {
                sink.state.lock().unwrap().foreign += 1;
                return StatusCode::BAD_REQUEST;
            };
            let roll = sink.rng.lock().unwrap().f64();
            sink.state.lock().unwrap().requests += 1;
            let status = if roll < sink.hang_rate {
                // Hang past the visibility timeout, then answer 200 or 503 (half each).
                sink.state.lock().unwrap().hung += 1;
                tokio::time::sleep(sink.hang).await;
                if sink.rng.lock().unwrap().f64() < 0.5 {
                    StatusCode::OK
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                }
            } else if roll < sink.hang_rate + sink.fail_rate {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::OK
            };
            let mut st = sink.state.lock().unwrap();
            if status == StatusCode::OK {
                *st.delivered.entry(id).or_default() += 1;
            } else {
                st.failed += 1;
            }
            status
        }
    };
    let app = axum::Router::new().route("/events", axum::routing::post(handler));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    url
}
