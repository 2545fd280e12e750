//! Throughput where LocalStack is not the limit (section `rtt`): the floor and the driver side by
//! side at every concurrency, with every AWS call going through a proxy that holds each answer
//! from LocalStack for a fixed time (`--rtt-ms`, default 20), as the round trip to an AWS
//! endpoint does. On loopback LocalStack's SQS saturates at the floor's own rate (one Python
//! interpreter, about 3,000 messages/s at c=1), so the throughput rows of the other sections
//! compare the emulator with itself; with a round trip per call neither client reaches that limit
//! below c=8, and what the driver overlaps (the next receive while the sink and the delete work)
//! shows, as it would against AWS.
//!
//! One round, on fewer messages than the other sections (`--rtt-messages`, default 5,000): with a
//! fixed wait per call, a run's rate varies little from one round to the next.

use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::ctx::Ctx;
use super::drive::{self, Variant};
use super::floor::{floor_run, FloorRun};
use super::measure::Row;
use crate::common::{met, one_decimal, ratio};

/// A TCP proxy on 127.0.0.1 to `upstream` (`host:port`): requests go through at once, and each
/// chunk of an answer is written to the client `delay` after it arrived, in order. Returns the
/// proxy's port; it serves until the bench ends.
async fn delaying_proxy(upstream: String, delay: Duration) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the rtt proxy");
    let port = listener.local_addr().expect("proxy address").port();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(relay(client, upstream.clone(), delay));
        }
    });
    port
}

/// One client connection: to the upstream as it comes, back with `delay`.
async fn relay(client: TcpStream, upstream: String, delay: Duration) {
    let Ok(server) = TcpStream::connect(&upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_server, mut to_server) = server.into_split();
    let requests = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut from_client, &mut to_server).await;
        let _ = to_server.shutdown().await;
    });
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let answers = tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n @ 1..) = from_server.read(&mut buf).await {
            if tx
                .send((Instant::now() + delay, buf[..n].to_vec()))
                .is_err()
            {
                break;
            }
        }
    });
    while let Some((at, chunk)) = rx.recv().await {
        tokio::time::sleep_until(at).await;
        if to_client.write_all(&chunk).await.is_err() {
            break;
        }
    }
    let _ = to_client.shutdown().await;
    requests.abort();
    answers.abort();
}

/// `host:port` of an `http://` endpoint.
fn host_port(endpoint: &str) -> String {
    let rest = endpoint.strip_prefix("http://").unwrap_or_else(|| {
        panic!("the rtt section proxies plain HTTP; AWS_ENDPOINT_URL is {endpoint}")
    });
    rest.trim_end_matches('/').to_owned()
}

/// The floor and the driver (HTTP sink) through the proxy at every concurrency, in that order at
/// each; prints the table and the verdict, and returns them for driver.json.
pub async fn section(ctx: &Ctx) -> Value {
    let rtt = ctx.opts.rtt;
    let port = delaying_proxy(host_port(&ctx.opts.endpoint), rtt).await;
    let endpoint = format!("http://127.0.0.1:{port}");
    let ms = rtt.as_millis();
    let sink: &'static str = Box::leak(format!("rtt={ms}ms").into_boxed_str());
    let label: &'static str = Box::leak(format!("http rtt={ms}ms").into_boxed_str());
    let messages = ctx.opts.rtt_messages;
    let mut pairs: Vec<(Row, Row)> = Vec::new();
    for &c in &ctx.opts.concurrencies {
        let floor = floor_run(
            ctx,
            c,
            &FloorRun {
                variant: "default",
                endpoint: &endpoint,
                messages,
                who: "floor",
                sink,
            },
        )
        .await;
        let variant = Variant {
            label,
            tag: "rtt",
            flags: Vec::new(),
            messages: Some(messages),
            program: None,
            endpoint: Some(endpoint.clone()),
        };
        let driver = drive::variant(ctx, &variant, c).await;
        pairs.push((floor, driver));
    }
    print_table(ms, messages, &pairs);
    let ratios: Vec<f64> = pairs.iter().map(|(f, d)| d.rate() / f.rate()).collect();
    let met_all = !ratios.is_empty() && ratios.iter().all(|&x| x >= 1.0);
    println!(
        "\n| target | measured | |\n|---|---|---|\n| throughput ≥ floor at every concurrency, {ms} ms per call | {} | {} |",
        pairs
            .iter()
            .zip(&ratios)
            .map(|((f, _), &x)| format!("c={}: {}", f.concurrency, ratio(x)))
            .collect::<Vec<_>>()
            .join(", "),
        met(met_all)
    );
    json!({
        "rtt_ms": ms,
        "messages_per_run": messages,
        "runs": pairs.iter().flat_map(|(f, d)| [f.to_json(), d.to_json()]).collect::<Vec<_>>(),
        "throughput_to_floor": ratios,
        "met": met_all,
    })
}

fn print_table(ms: u128, messages: usize, pairs: &[(Row, Row)]) {
    let cores = |r: &Row| {
        r.localstack_cpu
            .map(|v| format!("{v:.2}"))
            .unwrap_or_else(|| "—".into())
    };
    println!(
        "\n## Throughput with a round trip per AWS call (every answer held {ms} ms by a proxy; {messages} messages per run, one round; HTTP sink)\n"
    );
    println!("| concurrency | floor msgs/s | driver msgs/s | driver × floor | floor CPU µs/msg | driver CPU µs/msg | LocalStack cores (floor / driver) |");
    println!("|---|---|---|---|---|---|---|");
    for (f, d) in pairs {
        println!(
            "| {} | {:.0} | {:.0} | {} | {} | {} | {} / {} |",
            f.concurrency,
            f.rate(),
            d.rate(),
            ratio(d.rate() / f.rate()),
            one_decimal(f.window_us()),
            one_decimal(d.window_us()),
            cores(f),
            cores(d)
        );
    }
}
