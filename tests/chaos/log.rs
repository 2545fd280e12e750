//! Progress on stderr, with the wall-clock time.

use std::time::{SystemTime, UNIX_EPOCH};

pub fn log(msg: impl AsRef<str>) {
    eprintln!("chaos: [{}] {}", clock(), msg.as_ref());
}

fn clock() -> String {
    let s = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    format!("{:02}:{:02}:{:02}", (s / 3600) % 24, (s / 60) % 60, s % 60)
}
