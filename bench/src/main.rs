//! eventferry benchmarks outside the main workspace (`make bench`):
//!
//!     eventferry-bench driver [--quick]   # against LocalStack; target/bench/driver.json
//!     eventferry-bench router [--quick]   # criterion routing cost, cold start, size; target/bench/router.json
//!     eventferry-bench floor-variants     # the SDK loop with one setting changed, side by side
//!     eventferry-bench plots              # docs/bench/*.svg from target/bench/*.json
//!
//! The pattern-engine benchmark lives in crates/pattern/bench (`make bench-patterns`).

mod common;
mod driver;
mod plots;
mod router;

/// The router's allocator, for `router` (see Cargo.toml's `router-allocator`).
#[cfg(feature = "router-allocator")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = args.get(1..).unwrap_or_default();
    match args.first().map(String::as_str) {
        Some("driver") => driver::main(rest),
        Some("floor") => driver::floor_main(rest),
        Some("floor-variants") => driver::floor_variants_main(rest),
        Some("router") => router::main(rest),
        Some("plots") => plots::main(rest),
        _ => {
            eprintln!("usage: eventferry-bench driver|router|plots [--quick] [--out FILE]");
            std::process::exit(2);
        }
    }
}
