//! The server's resident memory returns to its baseline after load (issue 10): after
//! 1,000 mixed API requests, and after a burst of 16 concurrent heaviest requests (the
//! walkthrough of the longest prompt it takes, and full-context generations), it is within
//! 20% of what it was after one request of each kind (settled). The server runs in a child
//! process (this test binary again, told by `GLASSBOX_MEMORY_SERVE` to serve until its
//! stdin closes), so that its `/proc/PID/status` counts the server alone, not the clients.
//!
//! ```text
//! cargo test --release -p glassbox-server --test memory -- --nocapture
//! GLASSBOX_MEMORY_MODEL=DIR cargo test … # another model directory (with a tokenizer)
//! ```

mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Command, Stdio};

use common::*;
use serde_json::{json, Value};

/// VmRSS of process `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/PID/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// The resident memory's parts and the thread count of process `pid`, for the record.
fn breakdown(pid: u32) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let parts: Vec<&str> = status
        .lines()
        .filter(|l| l.starts_with("RssAnon") || l.starts_with("RssFile") || l.starts_with("Threads"))
        .collect();
    parts.join(" ").split_whitespace().collect::<Vec<_>>().join(" ")
}

/// One request of kind `i` (of 12), checked to succeed.
fn mixed(addr: SocketAddr, i: usize, prompt: &str) {
    let short: String = prompt.chars().take(8).collect();
    let res = match i % 12 {
        0 => post(addr, "/api/tokenize", &json!({"prompt": prompt})),
        1 => post(addr, "/api/walkthrough", &json!({"prompt": short})),
        2 => post(addr, "/api/generate", &json!({"prompt": short, "max_tokens": 8, "seed": i})),
        3 => post(addr, "/v1/completions", &json!({"prompt": short, "max_tokens": 8, "seed": i})),
        4 => post(addr, "/v1/completions", &json!({"prompt": short, "max_tokens": 8, "stream": true, "logprobs": 3})),
        5 => post(addr, "/api/space/neighbors", &json!({"word": "e", "k": 20})),
        6 => post(addr, "/api/space/analogy", &json!({"a": "a", "b": "b", "c": "c"})),
        7 => post(addr, "/api/space/map", &json!({"words": ["a", "b", "c", "d", "e", "f", "g"]})),
        8 => post(addr, "/api/space/drift", &json!({"word": "e", "sentences": ["the tree", "he ate"]})),
        9 => post(addr, "/api/training/attention", &json!({"prompt": short})),
        10 => get(addr, "/api/model"),
        _ => post(addr, "/api/walkthrough", &json!({"ids": [1, 2, 3, 99999]})), // a 400
    };
    let expected = if i % 12 == 11 { 400 } else { 200 };
    assert_eq!(res.status, expected, "request kind {}: {}", i % 12, res.text());
}

#[test]
fn memory_returns_to_baseline_after_mixed_requests_and_a_burst() {
    if let Some(dir) = std::env::var_os("GLASSBOX_MEMORY_SERVE") {
        // The child: serve until the parent closes stdin.
        let server = serve(std::path::Path::new(&dir));
        println!("listening on {}", server.addr);
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        return;
    }
    let made = tempfile::tempdir().unwrap();
    let dir = match std::env::var_os("GLASSBOX_MEMORY_MODEL") {
        Some(d) => std::path::PathBuf::from(d),
        None => {
            // 8 layers, 8 heads, 256 dims, context 128: 6.4 M parameters, 26 MB of weights (the
            // allocator's slack of 2-3 MB is then a small share, as with real models)
            write_char_model(made.path(), 8, 8, 256, 128, 11);
            made.path().to_path_buf()
        }
    };
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["memory_returns_to_baseline_after_mixed_requests_and_a_burst", "--exact", "--nocapture"])
        .env("GLASSBOX_MEMORY_SERVE", &dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the server process");
    let pid = child.id();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr: SocketAddr = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("listening on ").map(|a| a.parse().unwrap()))
        .expect("the server's address");
    let rss = || rss_kib(pid);
    let info = get(addr, "/api/model").json();
    let n_ctx = info["n_ctx"].as_u64().unwrap() as usize;
    let longest = info["max_walkthrough_tokens"].as_u64().unwrap() as usize;
    let prompt = "the tree he ate ".repeat(64);

    let walk: String = "e".repeat(longest);
    let heaviest = move |i: usize| {
        if i.is_multiple_of(2) {
            post(addr, "/api/walkthrough", &json!({"prompt": walk}))
        } else {
            post(addr, "/v1/completions", &json!({"prompt": "e", "max_tokens": n_ctx - 1, "seed": i}))
        }
    };
    // One request of each kind, the heaviest included.
    for i in 0..12 {
        mixed(addr, i, &prompt);
    }
    assert_eq!(heaviest(0).status, 200);
    assert_eq!(heaviest(1).status, 200);
    // Each measurement is settled the same way: the lowest of 4 s of samples, by when the
    // server has trimmed its heap (0.5–1 s after work ends) and its idle blocking threads
    // have ended (2 s).
    let settled = || {
        let mut lowest = u64::MAX;
        eventually(80, || {
            lowest = lowest.min(rss());
            false
        });
        lowest
    };
    let baseline = settled();
    let bound = baseline + baseline / 5;
    let at_baseline = breakdown(pid);

    for i in 0..1000 {
        mixed(addr, i, &prompt);
    }
    let after_mixed = settled();

    // The heaviest: the walkthrough at its longest prompt, and generations filling the context.
    let threads: Vec<_> = (0..16)
        .map(|i| {
            let heaviest = heaviest.clone();
            std::thread::spawn(move || heaviest(i).status)
        })
        .collect();
    let statuses: Vec<u16> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(statuses.iter().all(|&s| s == 200), "all 16 served: {statuses:?}");
    let after_burst = settled();
    let stats: Value = get(addr, "/api/stats").json();
    let at_end = breakdown(pid);
    drop(child.stdin.take()); // the server process ends
    let _ = child.wait();
    eprintln!(
        "memory: model {} ({} params); RSS baseline {baseline} KiB, after 1,000 mixed {after_mixed} KiB ({:+.1}%), after 16 concurrent heaviest {after_burst} KiB ({:+.1}%); {} generations",
        dir.display(),
        info["params"]["total"],
        (after_mixed as f64 / baseline as f64 - 1.0) * 100.0,
        (after_burst as f64 / baseline as f64 - 1.0) * 100.0,
        stats["generations_finished"]
    );
    eprintln!("memory: server process at the baseline: {at_baseline}; at the end: {at_end}");
    assert!(after_mixed <= bound, "after 1,000 mixed requests: {after_mixed} KiB against {baseline} KiB");
    assert!(after_burst <= bound, "after the burst: {after_burst} KiB against {baseline} KiB");
}
