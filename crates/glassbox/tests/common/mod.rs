//! Shared helpers for the integration tests: where the fixtures live, and tolerances.
#![allow(dead_code)]

use std::path::PathBuf;

/// The `shared/` folder with the conformance fixtures: `$GLASSBOX_SHARED`, or `../shared`
/// beside the repository. `None` (with a printed reason) where it is absent and `CI` is
/// unset; under `CI=true` its absence fails the test.
pub fn shared_dir() -> Option<PathBuf> {
    let candidate = match std::env::var_os("GLASSBOX_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    };
    if candidate.join("conformance").is_dir() {
        return Some(candidate);
    }
    let ci = std::env::var("CI").map(|v| !v.is_empty() && v != "false" && v != "0").unwrap_or(false);
    if ci {
        panic!(
            "the shared fixtures are missing at {} (set GLASSBOX_SHARED); under CI they are required",
            candidate.display()
        );
    }
    skip(&format!(
        "shared fixtures not found at {}; set GLASSBOX_SHARED, or CI=true to require them",
        candidate.display()
    ));
    None
}

/// The conformance model folders: tiny, small, hubkeys, gpt2vocab.
pub fn conformance_dirs() -> Vec<PathBuf> {
    let Some(shared) = shared_dir() else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(shared.join("conformance"))
        .expect("read conformance/")
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("config.json").is_file())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 4, "expected at least 4 conformance folders");
    dirs
}

/// The recurrent conformance folders (`conformance-rnn/lstm`, `conformance-rnn/rnn`).
pub fn conformance_rnn_dirs() -> Vec<PathBuf> {
    let Some(shared) = shared_dir() else {
        return Vec::new();
    };
    let dirs: Vec<PathBuf> = ["lstm", "rnn"].iter().map(|name| shared.join("conformance-rnn").join(name)).collect();
    for dir in &dirs {
        assert!(dir.join("config.json").is_file(), "{} is missing", dir.display());
    }
    dirs
}

/// `max|ours − ref| ≤ tol · (1 + max|ref|)`, with a message naming the tensor.
pub fn assert_close(name: &str, ours: &[f32], reference: &[f32], tol: f32) {
    assert_eq!(ours.len(), reference.len(), "{name}: length differs");
    let max_ref = reference.iter().fold(0f32, |m, v| m.max(v.abs()));
    let mut worst = 0f32;
    let mut worst_at = 0;
    for (i, (a, b)) in ours.iter().zip(reference).enumerate() {
        let d = (a - b).abs();
        if d > worst || d.is_nan() {
            worst = d;
            worst_at = i;
            if d.is_nan() {
                break;
            }
        }
    }
    let bound = tol * (1.0 + max_ref);
    assert!(
        worst <= bound,
        "{name}: max |ours - ref| = {worst:e} at index {worst_at} (ours {}, ref {}) exceeds {bound:e}",
        ours[worst_at],
        reference[worst_at]
    );
}

/// Says that the running test is skipped; the test binary counts the skips when it exits.
#[allow(unused_imports)] // not every test file that includes this module skips
pub use glassbox::testing::skip;
