//! Support for the project's own test suites, not for users: reporting tests that did not
//! run because an optional fixture (`../shared`) or program (a browser) is missing.
//!
//! libtest has no "skipped" outcome decided at run time, so a test that returns early
//! counts as passed. [`skip`] makes that visible twice: a line where the test runs, and,
//! when the test binary exits, one line after libtest's own summary that counts the tests
//! skipped and names them.

use std::io::Write;
use std::sync::Mutex;

/// The tests skipped in this process, with the first reason given for each.
static SKIPPED: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

extern "C" {
    fn atexit(callback: extern "C" fn()) -> std::ffi::c_int;
}

/// Says that the running test is skipped (`test NAME ... SKIPPED (reason)`, straight to
/// stderr, which the harness does not capture), and counts it for the line printed when
/// the test binary exits.
pub fn skip(reason: &str) {
    let test = std::thread::current().name().unwrap_or("(unnamed)").to_string();
    let _ = writeln!(std::io::stderr().lock(), "test {test} ... SKIPPED ({reason})");
    let mut skipped = SKIPPED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if skipped.is_empty() {
        // SAFETY: `report` is a plain function that stays valid for the whole process.
        unsafe {
            atexit(report);
        }
    }
    if !skipped.iter().any(|(name, _)| *name == test) {
        skipped.push((test, reason.to_string()));
    }
}

/// Runs when the test binary exits, after libtest's "test result" line.
extern "C" fn report() {
    let skipped = SKIPPED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if skipped.is_empty() {
        return;
    }
    let names: Vec<&str> = skipped.iter().map(|(name, _)| name.as_str()).collect();
    let _ = writeln!(
        std::io::stderr().lock(),
        "SKIPPED: {} test{} of this suite did not run and {} counted as passed above: {} ({})",
        skipped.len(),
        if skipped.len() == 1 { "" } else { "s" },
        if skipped.len() == 1 { "is" } else { "are" },
        names.join(", "),
        skipped[0].1
    );
}
