//! Shared helpers for the server's tests: fixture folders, small models with a character
//! tokenizer, a plain HTTP/1.1 client over `std::net` (also for streaming and for hanging
//! up mid-stream), and a WebDriver client for headless Chromium (via chromedriver).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use glassbox::tokenizer::{CharTokenizer, Tokenizer};
use glassbox::GptConfig;
use serde_json::{json, Value};

/// Whether `CI` is set (to anything but empty, `false` or `0`).
pub fn under_ci() -> bool {
    std::env::var("CI").map(|v| !v.is_empty() && v != "false" && v != "0").unwrap_or(false)
}

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
    if under_ci() {
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

/// tiny shakespeare's 65 characters.
pub const CHARS: &str = "\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Writes a randomly initialised model with a character tokenizer into `dir`.
pub fn write_char_model(
    dir: &Path,
    n_layer: usize,
    n_head: usize,
    n_embd: usize,
    n_ctx: usize,
    seed: u64,
) -> GptConfig {
    let chars: Vec<char> = CHARS.chars().collect();
    let config = GptConfig::new(n_layer, n_head, n_embd, chars.len(), n_ctx);
    let params = glassbox::model::Params::init_random(&config, seed);
    glassbox::io::save_model(dir, &config, &params).expect("save model");
    Tokenizer::Char(CharTokenizer::from_chars(chars).expect("chars")).save(dir).expect("save tokenizer");
    config
}

/// A small char model in a fresh temporary directory.
pub fn char_model(n_ctx: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    write_char_model(dir.path(), 2, 2, 32, n_ctx, 7);
    dir
}

/// Starts a server on a free loopback port.
pub fn serve(dir: &Path) -> glassbox_server::RunningServer {
    let mut options = glassbox_server::ServeOptions::new(dir);
    options.port = 0;
    glassbox_server::start(options).expect("start server")
}

pub fn serve_with_delay(dir: &Path, delay: Duration) -> glassbox_server::RunningServer {
    let mut options = glassbox_server::ServeOptions::new(dir);
    options.port = 0;
    options.token_delay = Some(delay);
    glassbox_server::start(options).expect("start server")
}

// ---------------------------------------------------------------- HTTP over std::net

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): status {} body {}", self.status, self.text()))
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(120))).expect("timeout");
    stream
}

fn write_request(stream: &mut TcpStream, addr: SocketAddr, method: &str, path: &str, body: Option<&[u8]>) {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAccept: */*\r\n");
    if let Some(body) = body {
        head.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).expect("write head");
    if let Some(body) = body {
        // A large body may be refused before it is all sent; that is fine.
        let _ = stream.write_all(body);
    }
}

/// Reads the status line and headers.
fn read_head(reader: &mut BufReader<TcpStream>) -> (u16, Vec<(String, String)>) {
    let mut line = String::new();
    reader.read_line(&mut line).expect("status line");
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {line:?}"));
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).expect("header");
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    (status, headers)
}

fn read_body(reader: &mut BufReader<TcpStream>, headers: &[(String, String)]) -> Vec<u8> {
    let get = |n: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)).map(|(_, v)| v.clone());
    if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        let mut body = Vec::new();
        loop {
            let mut size = String::new();
            if reader.read_line(&mut size).unwrap_or(0) == 0 {
                break;
            }
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            let mut chunk = vec![0; n];
            reader.read_exact(&mut chunk).expect("chunk");
            body.extend_from_slice(&chunk);
            let mut crlf = String::new();
            let _ = reader.read_line(&mut crlf);
        }
        body
    } else if let Some(n) = get("content-length").and_then(|v| v.parse::<usize>().ok()) {
        let mut body = vec![0; n];
        reader.read_exact(&mut body).expect("body");
        body
    } else {
        let mut body = Vec::new();
        let _ = reader.read_to_end(&mut body);
        body
    }
}

pub fn request(addr: SocketAddr, method: &str, path: &str, body: Option<&[u8]>) -> Response {
    let mut stream = connect(addr);
    write_request(&mut stream, addr, method, path, body);
    let mut reader = BufReader::new(stream);
    let (status, headers) = read_head(&mut reader);
    let body = read_body(&mut reader, &headers);
    Response { status, headers, body }
}

pub fn get(addr: SocketAddr, path: &str) -> Response {
    request(addr, "GET", path, None)
}

pub fn post(addr: SocketAddr, path: &str, body: &Value) -> Response {
    request(addr, "POST", path, Some(body.to_string().as_bytes()))
}

pub fn post_raw(addr: SocketAddr, path: &str, body: &[u8]) -> Response {
    request(addr, "POST", path, Some(body))
}

/// A streaming response being read event by event (server-sent events).
pub struct EventStream {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    reader: BufReader<TcpStream>,
    chunked: bool,
    buffer: String,
}

impl EventStream {
    pub fn open(addr: SocketAddr, path: &str, body: &Value) -> EventStream {
        let mut stream = connect(addr);
        write_request(&mut stream, addr, "POST", path, Some(body.to_string().as_bytes()));
        let mut reader = BufReader::new(stream);
        let (status, headers) = read_head(&mut reader);
        let chunked = headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
        EventStream { status, headers, reader, chunked, buffer: String::new() }
    }

    fn fill(&mut self) -> bool {
        if self.chunked {
            let mut size = String::new();
            if self.reader.read_line(&mut size).unwrap_or(0) == 0 {
                return false;
            }
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 {
                return false;
            }
            let mut chunk = vec![0; n];
            if self.reader.read_exact(&mut chunk).is_err() {
                return false;
            }
            let mut crlf = String::new();
            let _ = self.reader.read_line(&mut crlf);
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
            true
        } else {
            let mut line = String::new();
            match self.reader.read_line(&mut line) {
                Ok(0) | Err(_) => false,
                Ok(_) => {
                    self.buffer.push_str(&line);
                    true
                }
            }
        }
    }

    /// The next event as (event name, data), or `None` at the end of the stream.
    pub fn next_event(&mut self) -> Option<(String, String)> {
        loop {
            if let Some(cut) = self.buffer.find("\n\n") {
                let block: String = self.buffer[..cut].to_string();
                self.buffer.drain(..cut + 2);
                let mut name = "message".to_string();
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.strip_prefix(' ').unwrap_or(v));
                    }
                }
                if data.is_empty() && name == "message" {
                    continue;
                }
                return Some((name, data));
            }
            if !self.fill() {
                return None;
            }
        }
    }
}

/// Waits (bounded: about `tries` × 50 ms) until `check` holds; returns whether it did.
pub fn eventually(tries: usize, mut check: impl FnMut() -> bool) -> bool {
    for _ in 0..tries {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    check()
}

// ---------------------------------------------------------------- a browser via WebDriver

fn find_program(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in names {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

/// Chromium and chromedriver, or `None` (with a printed reason) when either is missing and
/// `CI` is unset; under `CI=true` a missing browser fails the test.
pub fn browser_programs() -> Option<(PathBuf, PathBuf)> {
    let chromium = find_program("CHROMIUM", &["chromium", "chromium-browser", "google-chrome"]);
    let driver = find_program("CHROMEDRIVER", &["chromedriver"]);
    match (chromium, driver) {
        (Some(c), Some(d)) => Some((c, d)),
        (c, d) => {
            let missing = if c.is_none() { "chromium" } else { "chromedriver" };
            if under_ci() {
                panic!("{missing} is not installed; under CI the browser tests are required (apt-get install -y chromium chromium-driver)");
            }
            skip(&format!(
                "{missing} is not installed: apt-get install -y chromium chromium-driver, or CI=true to require it"
            ));
            let _ = d;
            None
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// A chromedriver process (killed on drop).
pub struct Driver {
    child: Child,
    pub addr: SocketAddr,
    chromium: PathBuf,
}

impl Driver {
    pub fn start() -> Option<Driver> {
        let (chromium, driver) = browser_programs()?;
        let port = free_port();
        let child = Command::new(&driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {}: {e}", driver.display()));
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let ready = eventually(200, || {
            TcpStream::connect(addr).is_ok() && request(addr, "GET", "/status", None).json()["value"]["ready"] == true
        });
        assert!(ready, "chromedriver did not become ready on {addr}");
        Some(Driver { child, addr, chromium })
    }

    /// A new headless browser session; `phone` emulates a 390 px wide phone.
    pub fn session(&self, width: u32, height: u32, phone: bool) -> Session {
        let profile = tempfile::tempdir().expect("profile dir");
        let mut args = vec![
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-dev-shm-usage".into(),
            "--hide-scrollbars".into(),
            format!("--user-data-dir={}", profile.path().display()),
            format!("--window-size={width},{height}"),
        ];
        args.push("--force-device-scale-factor=1".into());
        let mut options = json!({"binary": self.chromium.display().to_string(), "args": args});
        if phone {
            options["mobileEmulation"] =
                json!({"deviceMetrics": {"width": width, "height": height, "pixelRatio": 2.0, "touch": true}});
        }
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": options}}});
        let res = post(self.addr, "/session", &caps);
        let value = res.json();
        let id = value["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {value}")).to_string();
        let session = Session { driver: self.addr, id, _profile: profile };
        if !phone {
            // The viewport itself, not the window around it, is width × height.
            let metrics = json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false});
            session.call(
                "POST",
                "/goog/cdp/execute",
                Some(json!({"cmd": "Emulation.setDeviceMetricsOverride", "params": metrics})),
            );
        }
        session
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Session {
    driver: SocketAddr,
    pub id: String,
    _profile: tempfile::TempDir,
}

impl Session {
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{path}", self.id);
        let res = match body {
            Some(b) => post(self.driver, &path, &b),
            None => request(self.driver, method, &path, None),
        };
        let value = res.json();
        if res.status != 200 {
            panic!("WebDriver {method} {path} failed ({}): {}", res.status, value);
        }
        value["value"].clone()
    }

    pub fn goto(&self, url: &str) {
        self.call("POST", "/url", Some(json!({"url": url})));
    }

    /// Runs JavaScript (a function body; `arguments` are `args`) and returns its result.
    pub fn eval(&self, script: &str, args: Value) -> Value {
        self.call("POST", "/execute/sync", Some(json!({"script": script, "args": args})))
    }

    pub fn js(&self, script: &str) -> Value {
        self.eval(script, json!([]))
    }

    /// Waits (bounded) until the expression is truthy; panics with `what` if it never is.
    pub fn wait_for(&self, expression: &str, what: &str) {
        let script = format!("try {{ return !!({expression}); }} catch (e) {{ return false; }}");
        let ok = eventually(400, || self.js(&script) == Value::Bool(true));
        if !ok {
            let error = self
                .js("const e = document.querySelector('.error-box:not(.hidden)'); return e ? e.textContent : null;");
            panic!("timed out waiting for {what} ({expression}); page error: {error}");
        }
    }

    /// Saves a PNG of the viewport to `path`.
    pub fn screenshot(&self, path: &Path) {
        let value = self.call("GET", "/screenshot", None);
        let png = base64_decode(value.as_str().expect("base64 screenshot"));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("screenshot dir");
        }
        std::fs::write(path, png).expect("write screenshot");
    }

    /// Saves a PNG of the whole page, below the fold too (at most 9000 px tall).
    pub fn screenshot_page(&self, path: &Path) {
        let size = self.js("return [document.documentElement.scrollWidth, document.documentElement.scrollHeight]");
        let (width, height) = (size[0].as_f64().unwrap(), size[1].as_f64().unwrap().min(9000.0));
        let clip = json!({"x": 0, "y": 0, "width": width, "height": height, "scale": 1});
        let params = json!({"format": "png", "captureBeyondViewport": true, "clip": clip});
        let value =
            self.call("POST", "/goog/cdp/execute", Some(json!({"cmd": "Page.captureScreenshot", "params": params})));
        let png = base64_decode(value["data"].as_str().expect("base64 screenshot"));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("screenshot dir");
        }
        std::fs::write(path, png).expect("write screenshot");
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = request(self.driver, "DELETE", &format!("/session/{}", self.id), None);
    }
}

/// Where screenshots go: `<workspace>/target/screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots")
}

pub fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for &c in text.as_bytes() {
        let Some(v) = value(c) else { continue };
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// One browser at a time: the machine has two cores.
pub static BROWSER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Says that the running test is skipped; the test binary counts the skips when it exits.
#[allow(unused_imports)] // not every test file that includes this module skips
pub use glassbox::testing::skip;

/// Sends `head` (the request line and headers, without the blank line that ends them)
/// and `body` as they are, and reads the answer; for requests the helpers above would
/// write correctly.
pub fn raw_request(addr: SocketAddr, head: &str, body: &[u8]) -> Response {
    let mut stream = connect(addr);
    stream.write_all(format!("{head}\r\n\r\n").as_bytes()).expect("write head");
    let _ = stream.write_all(body);
    let mut reader = BufReader::new(stream);
    let (status, headers) = read_head(&mut reader);
    let body = read_body(&mut reader, &headers);
    Response { status, headers, body }
}

/// Starts a server with options adjusted by `adjust`.
pub fn serve_with(
    dir: &Path,
    adjust: impl FnOnce(&mut glassbox_server::ServeOptions),
) -> glassbox_server::RunningServer {
    let mut options = glassbox_server::ServeOptions::new(dir);
    options.port = 0;
    adjust(&mut options);
    glassbox_server::start(options).expect("start server")
}

// ---------- the walkthrough page, driven ----------

/// `s` percent-encoded for a query string (`?prompt=…`).
pub fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Opens chapter `chapter` of the walkthrough and waits until it is drawn (a new render,
/// with everything it needs loaded).
pub fn go(session: &Session, chapter: &str) {
    let renders: u64 = session.js("return Number(document.body.dataset.renders || 0)").as_u64().unwrap();
    session.eval("window.glassbox.go(arguments[0])", json!([chapter]));
    session.wait_for(
        &format!("document.body.dataset.chapter === '{chapter}' && Number(document.body.dataset.renders) > {renders} && document.body.dataset.ready === '1'"),
        &format!("chapter {chapter}"),
    );
}

/// Hovers the centre of cell (r, c) of the `index`-th canvas matching `selector` and
/// returns the tooltip's text.
pub const HOVER_CELL: &str = r#"
    const [sel, index, r, c] = arguments;
    const canvas = document.querySelectorAll(sel)[index];
    const box = canvas.getBoundingClientRect();
    const x = box.left + (c + 0.5) * box.width / canvas.width;
    const y = box.top + (r + 0.5) * box.height / canvas.height;
    canvas.dispatchEvent(new PointerEvent('pointermove', { clientX: x, clientY: y, bubbles: true }));
    const tip = document.getElementById('tip');
    return tip ? tip.textContent : '';"#;

/// The walkthrough's chapters, in order (`#overview` … `#lens`).
pub const CHAPTERS: [&str; 12] = [
    "overview",
    "tokenization",
    "embedding",
    "layernorm",
    "attention",
    "residual",
    "mlp",
    "stack",
    "final_ln",
    "head",
    "softmax",
    "lens",
];

/// Switches the page to `lang` (`en` or `zh`) with its header button, unless it is there.
pub fn set_lang(session: &Session, lang: &str) {
    session.js(&format!(
        "if (!document.documentElement.lang.startsWith('{lang}')) document.getElementById('lang-{lang}').click()"
    ));
    session.wait_for(&format!("document.documentElement.lang.startsWith('{lang}')"), "the language switch");
}

/// A `--task repeat` run (the induction task) of `steps` steps in `root/run`, evaluating
/// and keeping a snapshot every `every` steps (step 0, the random start, included).
pub fn repeat_run(root: &Path, steps: usize, every: usize) -> PathBuf {
    use glassbox::train::{DataSource, NewRun, OptionChanges, ShapeRequest, Trainer};
    let run = root.join("run");
    let spec = NewRun {
        dir: run.clone(),
        data: DataSource::Task { name: "repeat".into() },
        shape: ShapeRequest::default(),
        options: OptionChanges {
            steps: Some(steps),
            eval_every: Some(every),
            keep_checkpoints: Some(true),
            checkpoint_every: Some(every),
            ..OptionChanges::default()
        },
        overwrite: false,
    };
    Trainer::create(spec, &mut |_, _, _| {}).unwrap().run(&mut |_| {}).unwrap();
    run
}

/// A `glassbox compare` folder in miniature: a GPT and an LSTM trained a few steps on the
/// same short text (`runs/quality-gpt`, `runs/quality-lstm`), and a `compare.json` with a
/// speed, quality and reach section in the shape `compare` writes (its numbers are inputs
/// for the page, not results under test).
pub fn comparison(root: &Path) -> PathBuf {
    use glassbox::train::{DataSource, NewRun, OptionChanges, ShapeRequest, Trainer};
    let dir = root.join("compare");
    std::fs::create_dir_all(dir.join("runs")).unwrap();
    let text = dir.join("text.txt");
    std::fs::write(
        &text,
        "To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n".repeat(40),
    )
    .unwrap();
    let shapes = [
        (
            "gpt",
            ShapeRequest { layers: Some(2), heads: Some(2), embd: Some(32), block: Some(32), ..Default::default() },
        ),
        (
            "lstm",
            ShapeRequest {
                arch: Some("lstm".into()),
                layers: Some(2),
                embd: Some(32),
                hidden: Some(40),
                block: Some(32),
                ..Default::default()
            },
        ),
    ];
    for (arch, shape) in shapes {
        let spec = NewRun {
            dir: dir.join("runs").join(format!("quality-{arch}")),
            data: DataSource::Text { path: text.clone(), tokenizer: "char".into() },
            shape,
            options: OptionChanges {
                steps: Some(30),
                eval_every: Some(10),
                eval_batches: Some(2),
                checkpoint_every: Some(0),
                ..OptionChanges::default()
            },
            overwrite: false,
        };
        Trainer::create(spec, &mut |_, _, _| {}).unwrap().run(&mut |_| {}).unwrap();
    }
    let curve = |start: f64| json!([{"seconds": 0.0, "val_loss": start}, {"seconds": 1.5, "val_loss": start - 1.0}]);
    let forward = |slope: f64| json!([{"T": 16, "ms": 1.0}, {"T": 256, "ms": slope * 16.0}]);
    let runs = |accuracy: f64| {
        json!([{"length": 8, "distance": 9, "letter_accuracy": 1.0, "string_accuracy": 1.0},
        {"length": 32, "distance": 33, "letter_accuracy": accuracy, "string_accuracy": accuracy}])
    };
    let report = json!({
        "seed": 1337,
        "speed": {"forward_ms": {"gpt": forward(0.5), "lstm": forward(1.0)},
                  "train_tokens_per_s": {"gpt": 25000.0, "lstm": 24000.0}},
        "quality": {"gpt": {"steps": 30, "curve": curve(3.5)}, "lstm": {"steps": 30, "curve": curve(3.6)}},
        "reach": {"gpt": {"runs": runs(1.0), "first_length_below_90": null},
                  "lstm": {"runs": runs(0.2), "first_length_below_90": 32}},
    });
    std::fs::write(dir.join("compare.json"), serde_json::to_string_pretty(&report).unwrap()).unwrap();
    dir
}

/// A `--task facts:N` run trained `steps` steps in `root/facts` (a small model: 2 layers).
pub fn facts_run(root: &Path, people: usize, steps: usize) -> PathBuf {
    use glassbox::train::{DataSource, NewRun, OptionChanges, ShapeRequest, Trainer};
    let run = root.join("facts");
    let spec = NewRun {
        dir: run.clone(),
        data: DataSource::Task { name: format!("facts:{people}") },
        shape: ShapeRequest { layers: Some(2), heads: Some(2), embd: Some(32), ..ShapeRequest::default() },
        options: OptionChanges { steps: Some(steps), eval_every: Some(steps), ..OptionChanges::default() },
        overwrite: false,
    };
    Trainer::create(spec, &mut |_, _, _| {}).unwrap().run(&mut |_| {}).unwrap();
    run
}
