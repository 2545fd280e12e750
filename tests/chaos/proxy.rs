//! The fault-injecting TCP proxy: driver -> proxy -> LocalStack. A cut refuses new connections
//! and resets the live ones.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::log::log;

pub struct Proxy {
    pub port: u16,
    cut: Arc<AtomicBool>,
    /// Bumped at every cut: live connections watch it and close.
    epoch: watch::Sender<u64>,
    pub connections: Arc<AtomicU64>,
}

/// Listens on a free port of 127.0.0.1 and forwards to `upstream` (host:port).
pub async fn start_proxy(upstream: String) -> Proxy {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
    let port = listener.local_addr().unwrap().port();
    let cut = Arc::new(AtomicBool::new(false));
    let (epoch, _) = watch::channel(0u64);
    let connections = Arc::new(AtomicU64::new(0));
    let (c, e, n) = (cut.clone(), epoch.clone(), connections.clone());
    tokio::spawn(async move {
        loop {
            let Ok((mut inbound, _)) = listener.accept().await else {
                continue;
            };
            if c.load(Ordering::SeqCst) {
                // Cut: refuse by closing at once.
                drop(inbound);
                continue;
            }
            n.fetch_add(1, Ordering::Relaxed);
            let mut rx = e.subscribe();
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let Ok(mut outbound) = TcpStream::connect(&upstream).await else {
                    return;
                };
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                    _ = rx.changed() => {
                        // Reset rather than close politely: a cut link does not say goodbye.
                        // A zero linger never blocks on drop, which is what the deprecation
                        // warns about.
                        #[allow(deprecated)]
                        let _ = inbound.set_linger(Some(Duration::ZERO));
                    }
                }
            });
        }
    });
    Proxy {
        port,
        cut,
        epoch,
        connections,
    }
}

impl Proxy {
    pub async fn cut_for(&self, d: Duration) {
        log(format!(
            "proxy: cutting the driver <-> LocalStack path for {d:?}"
        ));
        self.cut.store(true, Ordering::SeqCst);
        self.epoch.send_modify(|e| *e += 1);
        tokio::time::sleep(d).await;
        self.cut.store(false, Ordering::SeqCst);
        log("proxy: path restored");
    }
}
