//! A load generator for streamed completions, measuring what wrk cannot: the time to the
//! first token of each stream. N clients on loopback, each posting `/v1/completions` with
//! `stream: true` back to back for a fixed time, reading every event to `data: [DONE]`.
//!
//! ```text
//! cargo run --release -p glassbox-server --example loadgen -- ADDR [CLIENTS] [SECONDS] [MAX_TOKENS]
//! ```
//! Prints requests/s, tokens/s, errors, and p50/p99 of the time to first token and of
//! the whole request. Only loopback addresses are accepted.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
struct Totals {
    requests: AtomicU64,
    tokens: AtomicU64,
    errors: AtomicU64,
    first_token: Mutex<Vec<f64>>,
    whole: Mutex<Vec<f64>>,
}

/// One streamed completion: (time to first token, total time, tokens), or an error.
fn one(addr: SocketAddr, body: &str) -> Result<(f64, f64, u64), String> {
    let start = Instant::now();
    let mut stream = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(Duration::from_secs(60))).map_err(|e| e.to_string())?;
    write!(
        stream,
        "POST /v1/completions HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).map_err(|e| e.to_string())?;
    if !line.contains(" 200 ") {
        return Err(format!("status line {line:?}"));
    }
    let mut first = None;
    let mut tokens = 0;
    loop {
        line.clear();
        if reader.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
            return Err("the stream ended before [DONE]".into());
        }
        let Some(data) = line.trim_end().strip_prefix("data: ") else { continue };
        if data == "[DONE]" {
            break;
        }
        if data.contains("\"error\"") {
            return Err(data.to_string());
        }
        if data.contains("\"finish_reason\":null") {
            tokens += 1;
            first.get_or_insert_with(|| start.elapsed().as_secs_f64());
        }
    }
    Ok((first.unwrap_or(f64::NAN), start.elapsed().as_secs_f64(), tokens))
}

fn percentile(values: &mut [f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    values[((values.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let addr: SocketAddr =
        args.next().and_then(|a| a.parse().ok()).expect("usage: loadgen ADDR [CLIENTS] [SECONDS] [MAX_TOKENS]");
    assert!(addr.ip().is_loopback(), "loadgen sends traffic to loopback addresses only");
    let clients: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(32);
    let seconds: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(30);
    let max_tokens: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(32);
    let body = format!(
        "{{\"prompt\": \"First Citizen:\\nBefore we proceed\", \"max_tokens\": {max_tokens}, \"temperature\": 0.8, \"stream\": true}}"
    );
    let totals = Arc::new(Totals::default());
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let (totals, stop, body) = (totals.clone(), stop.clone(), body.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match one(addr, &body) {
                        Ok((ttft, whole, tokens)) => {
                            totals.requests.fetch_add(1, Ordering::Relaxed);
                            totals.tokens.fetch_add(tokens, Ordering::Relaxed);
                            totals.first_token.lock().unwrap().push(ttft);
                            totals.whole.lock().unwrap().push(whole);
                        }
                        Err(e) => {
                            if totals.errors.fetch_add(1, Ordering::Relaxed) < 5 {
                                eprintln!("error: {e}");
                            }
                        }
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let requests = totals.requests.load(Ordering::Relaxed);
    let tokens = totals.tokens.load(Ordering::Relaxed);
    let mut ttft = totals.first_token.lock().unwrap().clone();
    let mut whole = totals.whole.lock().unwrap().clone();
    println!("clients {clients}, {elapsed:.1} s, max_tokens {max_tokens}");
    println!(
        "requests {requests} ({:.1}/s), errors {}",
        requests as f64 / elapsed,
        totals.errors.load(Ordering::Relaxed)
    );
    println!("tokens {tokens} ({:.0}/s)", tokens as f64 / elapsed);
    println!(
        "time to first token: p50 {:.1} ms, p99 {:.1} ms",
        percentile(&mut ttft, 0.5) * 1e3,
        percentile(&mut ttft, 0.99) * 1e3
    );
    println!(
        "whole request: p50 {:.1} ms, p99 {:.1} ms",
        percentile(&mut whole, 0.5) * 1e3,
        percentile(&mut whole, 0.99) * 1e3
    );
}
