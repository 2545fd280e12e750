//! Stamps the git commit into `eventferry --version` (`EVENTFERRY_BUILD_COMMIT`).
//!
//! `git rev-parse --short HEAD`, or `unknown` when git or the repository is missing (a source
//! tarball, a build image without git). Cargo reruns this only when HEAD moves: HEAD itself, the
//! branch's ref file and packed-refs are watched; without git only this file is.

use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (!text.is_empty()).then_some(text)
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let commit = git(&["rev-parse", "--short", "HEAD"]);
    if commit.is_some() {
        let mut watched = vec![git(&["rev-parse", "--git-path", "HEAD"])];
        if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
            watched.push(git(&["rev-parse", "--git-path", &branch]));
        }
        watched.push(git(&["rev-parse", "--git-path", "packed-refs"]));
        // Only files that exist: a missing one would make cargo rerun this on every build.
        for path in watched.into_iter().flatten() {
            if Path::new(&path).exists() {
                println!("cargo:rerun-if-changed={path}");
            }
        }
    }
    let commit = commit.unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=EVENTFERRY_BUILD_COMMIT={commit}");
}
