//! Links the router's release bootstrap for Lambda (Linux) as a non-PIE executable.
//!
//! A position-independent executable carries a dynamic relocation for every pointer in its data
//! (vtables, string tables, the SDK's static config): about 0.85 MB of `.rela.dyn` in the arm64
//! bootstrap (issue #17 asks for at most 8 MB). Linked at a fixed address, the linker resolves them
//! and the loader has nothing to patch at start. What is given up is address randomisation of the
//! executable's own image (libraries, heap and stack are still randomised); a Lambda function
//! runs in a single-tenant Firecracker micro-VM, and takes no untrusted code.
fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let linux = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux");
    let release = std::env::var("PROFILE").as_deref() == Ok("release");
    if linux && release {
        println!("cargo::rustc-link-arg-bins=-no-pie");
    }
}
