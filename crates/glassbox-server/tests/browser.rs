//! The pages in a real browser (headless Chromium driven over WebDriver by chromedriver):
//! what a person would see. Each test starts the server on a free loopback port, opens a
//! page, works it, asserts on the DOM and the canvas pixels, and saves screenshots under
//! `target/screenshots/` (1280×800 and a 390 px phone).
//!
//! Needs `chromium` and `chromedriver` (Debian: `apt-get install chromium chromium-driver`);
//! without them the tests say so and pass, except under `CI=true`, where they fail.

mod common;

use std::io::Write;

use common::*;
use glassbox::model::{forward, Activations};
use serde_json::{json, Value};

const PROMPT: &str = "To be, or not";

/// The engine's own forward pass over `prompt`, for comparing with the page.
fn engine(dir: &std::path::Path, prompt: &str) -> (glassbox::io::Model, Vec<u32>, Activations) {
    let model = glassbox::io::load_model(dir).unwrap();
    let tok = glassbox::tokenizer::Tokenizer::load(dir).unwrap();
    let ids = tok.encode(prompt);
    let mut acts = Activations::default();
    forward(&model.params, &ids, 1, ids.len(), &mut acts).unwrap();
    (model, ids, acts)
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

/// How many pixels of each canvas differ from the page's paper colour.
const INKED_PIXELS: &str = r#"
    return [...document.querySelectorAll(arguments[0])].map((c) => {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) {
        if (Math.abs(d[i] - 247) + Math.abs(d[i + 1] - 245) + Math.abs(d[i + 2] - 240) > 12) n++;
      }
      return n;
    });"#;

const SOFTMAX_ROWS: &str = r#"
    return [...document.querySelectorAll('#softmax-bars .bar-row:not(.head)')].map((r) => ({
      p: Number(r.dataset.p), shown: r.querySelector('.val:not(.raw)').textContent, label: r.querySelector('.label').textContent,
    }));"#;

fn shown_percent(text: &str) -> f64 {
    let t = text.trim().trim_end_matches('%');
    t.parse::<f64>().unwrap_or_else(|_| panic!("a percentage: {text:?}")) / 100.0
}

fn set_input(session: &Session, selector: &str, value: &str) {
    session.eval(
        "const n = document.querySelector(arguments[0]); n.value = arguments[1]; n.dispatchEvent(new Event('input', {bubbles: true})); n.dispatchEvent(new Event('change', {bubbles: true}));",
        json!([selector, value]),
    );
}

#[test]
fn the_walkthrough_draws_the_engine_s_numbers() {
    let _one = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let Some(driver) = Driver::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let config = write_char_model(dir.path(), 4, 4, 64, 64, 11);
    let server = serve(dir.path());
    let (model, ids, acts) = engine(dir.path(), PROMPT);
    let t = ids.len();
    let session = driver.session(1280, 800, false);
    session.goto(&format!("{}/?prompt={}#overview", server.url(), url_encode(PROMPT)));
    session.wait_for("document.body.dataset.ready === '1'", "the walkthrough to load");
    let shots = screenshot_dir();
    for (i, chapter) in CHAPTERS.iter().enumerate() {
        go(&session, chapter);
        session.screenshot(&shots.join(format!("walkthrough-{:02}-{chapter}.png", i + 1)));
    }

    // Attention: a canvas for every layer × head, each with ink on it, and a receipt on hover.
    go(&session, "attention");
    let inked = session.eval(INKED_PIXELS, json!(["#attn-grid canvas"]));
    let inked = f64s(&inked);
    assert_eq!(inked.len(), config.n_layer * config.n_head, "one heatmap per layer × head");
    assert!(inked.iter().all(|&n| n > 0.0), "every heatmap has drawn: {inked:?}");
    let (layer, head, q, k) = (2usize, 3usize, t - 1, 2usize);
    let tip = session.eval(HOVER_CELL, json!(["#attn-grid canvas", layer * config.n_head + head, q, k]));
    let tip = tip.as_str().unwrap();
    assert!(tip.contains("query") && tip.contains("key") && tip.contains("weight"), "{tip}");
    let expected = acts.blocks[layer].attn_pattern[head * t * t + q * t + k];
    let shown: f64 =
        tip.split("weight = ").nth(1).unwrap().split_whitespace().next().unwrap().replace('−', "-").parse().unwrap();
    assert!((shown - expected as f64).abs() <= 5e-5, "attention weight on the page {shown} vs engine {expected}");

    // Layer norm: E[x] of the focused (last) position in block 0's ln_1 is the engine's.
    go(&session, "layernorm");
    let mean: f64 =
        session.js("return Number(document.querySelector('[data-testid=ln-mean]').dataset.value)").as_f64().unwrap();
    let engine_mean = acts.blocks[0].ln1_mean[t - 1] as f64;
    assert!((mean - engine_mean).abs() <= 1e-7 * (1.0 + engine_mean.abs()), "E[x] page {mean} vs engine {engine_mean}");
    let var: f64 =
        session.js("return Number(document.querySelector('[data-testid=ln-var]').dataset.value)").as_f64().unwrap();
    let r = acts.blocks[0].ln1_rstd[t - 1] as f64;
    let engine_var = 1.0 / (r * r) - 1e-5;
    assert!((var - engine_var).abs() <= 1e-4 * engine_var, "Var[x] page {var} vs engine {engine_var}");

    // Softmax: the listed probabilities sum to 1, match the engine, and follow the controls.
    go(&session, "softmax");
    let v = config.vocab_size;
    let logits = &acts.logits[(t - 1) * v..t * v];
    // (the engine's probabilities; with top-k, renormalized over the k kept, as the sampler does)
    let check = |temperature: f32, top_k: usize| -> Vec<Value> {
        let rows = session.js(SOFTMAX_ROWS);
        let rows = rows.as_array().unwrap().clone();
        let shown: f64 = rows.iter().map(|r| shown_percent(r["shown"].as_str().unwrap())).sum();
        assert!((shown - 1.0).abs() <= 0.01, "shown probabilities sum to {shown}: {rows:?}");
        let exact: f64 = rows.iter().map(|r| r["p"].as_f64().unwrap()).sum();
        assert!((exact - 1.0).abs() <= 1e-9, "probabilities sum to {exact}");
        if temperature > 0.0 {
            let probs = glassbox::kernels::softmax::softmax(logits, temperature);
            let top = glassbox::sample::argmax(logits) as usize;
            let mut sorted: Vec<f64> = probs.iter().map(|&p| p as f64).collect();
            sorted.sort_by(|a, b| b.total_cmp(a));
            let kept: f64 = sorted.iter().take(top_k).sum();
            let page_top = rows[0]["p"].as_f64().unwrap() * kept;
            assert!(
                (page_top - probs[top] as f64).abs() <= 1e-6,
                "top probability page {page_top} vs engine {} (id {top}); rows {rows:?}",
                probs[top]
            );
        }
        rows
    };
    let at_1 = check(1.0, v);
    let renders = session.js("return Number(document.body.dataset.softmaxDraws)").as_u64().unwrap();
    set_input(&session, "#temperature", "0.5");
    session.wait_for(&format!("Number(document.body.dataset.softmaxDraws) > {renders}"), "the bars to redraw");
    let at_half = check(0.5, v);
    assert!(at_half[0]["p"].as_f64() > at_1[0]["p"].as_f64(), "a lower temperature sharpens the distribution");
    assert_ne!(at_1[0]["shown"], at_half[0]["shown"], "the numbers shown change with the temperature");
    set_input(&session, "#top-k", "3");
    let kept = session.js(
        "return [...document.querySelectorAll('#softmax-bars .bar-row')].filter((r) => Number(r.dataset.p) > 0).length",
    );
    assert_eq!(kept, 3, "top-k 3 keeps three tokens");
    check(0.5, 3);
    session.screenshot(&shots.join("walkthrough-softmax-controls.png"));

    // The language switch changes the chapter text.
    let english =
        session.js("return document.getElementById('chapter-text').textContent").as_str().unwrap().to_string();
    session.js("document.getElementById('lang-zh').click()");
    session.wait_for("document.documentElement.lang === 'zh-CN'", "Chinese");
    let chinese =
        session.js("return document.getElementById('chapter-text').textContent").as_str().unwrap().to_string();
    assert_ne!(english, chinese);
    assert!(chinese.contains("温度"), "the Chinese softmax chapter says 温度: {chinese}");
    assert!(session.js("return document.querySelector('.nav a.on').textContent").as_str().unwrap().contains("逐步"));
    go(&session, "layernorm");
    assert!(session
        .js("return document.querySelector('#chapter h2').textContent")
        .as_str()
        .unwrap()
        .contains("层归一化"));
    session.screenshot(&shots.join("walkthrough-zh-layernorm.png"));
    session.js("document.getElementById('lang-en').click()");
    session.wait_for("document.documentElement.lang === 'en'", "English");

    // Keys step through the chapters.
    let before = session.js("return document.body.dataset.chapter");
    session.js("document.dispatchEvent(new KeyboardEvent('keydown', {key: 'ArrowRight', bubbles: true}))");
    session.wait_for("document.body.dataset.chapter === 'attention'", "→ to go to the next chapter");
    assert_eq!(before, "layernorm");

    // A phone: no sideways scrolling, screenshots of the main chapters.
    let phone = driver.session(390, 844, true);
    phone.goto(&format!("{}/?prompt={}#overview", server.url(), url_encode(PROMPT)));
    phone.wait_for("document.body.dataset.ready === '1'", "the walkthrough on a phone");
    for chapter in ["overview", "tokenization", "layernorm", "attention", "softmax", "lens"] {
        go(&phone, chapter);
        let overflow = phone
            .js("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
            .as_i64()
            .unwrap();
        assert!(overflow <= 1, "the {chapter} chapter scrolls sideways by {overflow}px on a phone");
        phone.screenshot(&shots.join(format!("phone-walkthrough-{chapter}.png")));
    }
    drop(model);
}

#[test]
fn the_playground_streams_tints_and_continues_from_an_alternative() {
    let _one = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let Some(driver) = Driver::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    write_char_model(dir.path(), 2, 4, 64, 128, 5);
    let server = serve(dir.path());
    let session = driver.session(1280, 800, false);
    session.goto(&format!("{}/playground", server.url()));
    session.wait_for("document.body.dataset.ready === '1'", "the playground");
    set_input(&session, "#pg-prompt", "To be");
    set_input(&session, "#pg-max", "24");
    set_input(&session, "#pg-seed", "7");
    session.js("document.getElementById('pg-go').click()");
    session.wait_for("document.body.dataset.pg === 'done'", "the generation to finish");
    let probs = session.js("return [...document.querySelectorAll('#pg-out .gt')].map((s) => Number(s.dataset.p))");
    let probs = f64s(&probs);
    assert_eq!(probs.len(), 24, "every generated token is shown");
    assert!(probs.iter().all(|p| *p > 0.0 && *p <= 1.0));
    let tints =
        session.js("return new Set([...document.querySelectorAll('#pg-out .gt')].map((s) => s.style.background)).size");
    assert!(tints.as_u64().unwrap() > 1, "tokens are tinted by their probabilities");
    session.js("document.querySelectorAll('#pg-out .gt')[2].click()");
    let alts = session.js("return [...document.querySelectorAll('#pg-alts .alt')].map((a) => ({p: Number(a.dataset.p), id: Number(a.dataset.id), chosen: a.classList.contains('chosen')}))");
    let alts = alts.as_array().unwrap().clone();
    let top5 = &alts[..5];
    assert!(
        alts.len() == 5 || (alts.len() == 6 && alts[5]["chosen"] == true),
        "the five alternatives the model weighed (and the sampled token if not among them): {alts:?}"
    );
    assert_eq!(alts.iter().filter(|a| a["chosen"] == true).count(), 1, "the chosen token is marked");
    let sum: f64 = top5.iter().map(|a| a["p"].as_f64().unwrap()).sum();
    assert!(sum <= 1.0 + 1e-6);
    assert!(top5.windows(2).all(|w| w[0]["p"].as_f64() >= w[1]["p"].as_f64()), "most probable first");
    session.screenshot(&screenshot_dir().join("playground.png"));
    // Continue from an alternative that was not chosen.
    let alt = alts.iter().position(|a| a["chosen"] == false).unwrap();
    let alt_id = alts[alt]["id"].as_u64().unwrap();
    let prompt_len = session.js("return window.glassbox.state.promptIds.length").as_u64().unwrap();
    session.eval(
        "[...document.querySelectorAll('#pg-alts .alt')][arguments[0]].querySelector('button').click()",
        json!([alt]),
    );
    session.wait_for(
        &format!(
            "window.glassbox.state.promptIds.length === {} && document.body.dataset.pg === 'done'",
            prompt_len + 3
        ),
        "the continuation",
    );
    let last = session.js("const s = window.glassbox.state; return s.promptIds[s.promptIds.length - 1]");
    assert_eq!(last.as_u64().unwrap(), alt_id, "the new prompt ends with the chosen alternative");
    // the branch left behind is shown (its text from the branch point on), and one click
    // brings it back as it was
    let branch = session.js("return document.querySelector('#pg-branch:not(.hidden) .branch-old').textContent");
    assert!(!branch.as_str().unwrap().is_empty(), "the earlier continuation is shown: {branch}");
    session.js("document.getElementById('pg-branch-back').click()");
    let restored = session.js("return window.glassbox.state.steps.map((s) => Number(s.p))");
    assert_eq!(f64s(&restored), probs, "the earlier continuation, back as it was");
    assert_eq!(session.js("return document.getElementById('pg-branch').classList.contains('hidden')"), true);
    // tokens are reachable from the keyboard: Enter on one shows its alternatives
    session.js(
        "const g = document.querySelectorAll('#pg-out .gt')[4]; g.focus(); g.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', bubbles: true}))",
    );
    assert_eq!(session.js("return window.glassbox.state.selected"), 4);
    assert_eq!(session.js("return document.querySelectorAll('#pg-out .gt[tabindex=\"0\"]').length"), 24);
    let phone = driver.session(390, 844, true);
    phone.goto(&format!("{}/playground?run=1", server.url()));
    phone.wait_for("document.body.dataset.pg === 'done'", "the playground on a phone");
    phone.screenshot(&screenshot_dir().join("phone-playground.png"));
}

#[test]
fn the_semantic_space_page_maps_and_searches() {
    let _one = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let Some(driver) = Driver::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    write_char_model(dir.path(), 2, 2, 32, 64, 3);
    let server = serve(dir.path());
    let session = driver.session(1280, 800, false);
    session.goto(&format!("{}/space", server.url()));
    session.wait_for("document.body.dataset.ready === '1'", "the space page");
    let points = session.js("return document.querySelectorAll('#map-svg .pt').length").as_u64().unwrap();
    assert!(points >= 20, "the map places the default tokens: {points}");
    let labels = session.js("return [...document.querySelectorAll('#map-svg .pt text')].map((t) => t.textContent)");
    assert!(labels.as_array().unwrap().iter().any(|l| l == "a"));
    assert_eq!(session.js("return document.querySelectorAll('#nb-list .bar-row').length"), 10);
    assert_eq!(session.js("return document.querySelectorAll('#an-list .bar-row').length"), 8);
    // the word compared across the three sentences at each depth: embedding, 2 block inputs, output
    let drawn = f64s(&session.eval(INKED_PIXELS, json!(["#dr-out canvas"])));
    assert_eq!(drawn.len(), 4, "one similarity square per depth");
    assert!(drawn.iter().all(|&n| n > 0.0));
    assert_eq!(session.js("return document.querySelectorAll('#drift-svg circle').length"), 4);
    session.screenshot(&screenshot_dir().join("space.png"));
    session.js("window.scrollTo(0, document.body.scrollHeight)");
    session.screenshot(&screenshot_dir().join("space-bottom.png"));
    let phone = driver.session(390, 844, true);
    phone.goto(&format!("{}/space", server.url()));
    phone.wait_for("document.body.dataset.ready === '1'", "the space page on a phone");
    phone.screenshot(&screenshot_dir().join("phone-space.png"));
    session.goto(&format!("{}/api-docs", server.url()));
    session.wait_for("document.body.dataset.ready === '1'", "the API page");
    session.screenshot(&screenshot_dir().join("api-docs.png"));
}

#[test]
fn the_training_page_follows_the_log_and_replays_checkpoints() {
    let _one = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let Some(driver) = Driver::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    write_char_model(dir.path(), 2, 2, 32, 64, 1);
    for step in [100, 200, 300] {
        write_char_model(&dir.path().join(format!("checkpoints/step-{step}")), 2, 2, 32, 64, step);
    }
    let mut log = std::fs::File::create(dir.path().join("log.jsonl")).unwrap();
    let line = |step: u64| {
        let loss = 4.2 * (-(step as f64) / 120.0).exp() + 1.4 + 0.05 * ((step * 7919 % 13) as f64 / 13.0);
        json!({"step": step, "loss": loss, "lr": 1e-3 * (step as f64 / 300.0).min(1.0), "grad_norm": 0.8, "tokens": 4096, "ms": 31.0})
    };
    for step in 1..=300 {
        writeln!(log, "{}", line(step)).unwrap();
        if step % 50 == 0 {
            writeln!(log, "{}", json!({"step": step, "val_loss": 4.2 * (-(step as f64) / 130.0).exp() + 1.5})).unwrap();
        }
    }
    log.flush().unwrap();
    let server = serve(dir.path());
    let session = driver.session(1280, 800, false);
    session.goto(&format!("{}/training", server.url()));
    session.wait_for("document.body.dataset.ready === '1'", "the training page");
    assert_eq!(session.js("return Number(document.body.dataset.rows)"), 306);
    assert_eq!(
        session.js("return document.querySelectorAll('#loss-chart polyline').length"),
        3,
        "the train loss raw and smoothed, and the validation loss"
    );
    // round y ticks: evenly spaced by 1, 2 or 5 × a power of ten
    let ticks = f64s(&session.js(
        "return [...document.querySelectorAll('#loss-chart text')].filter((t) => Number(t.getAttribute('x')) < 30 && !t.classList.contains('axis-title')).map((t) => Number(t.textContent))",
    ));
    assert!(ticks.len() >= 3, "{ticks:?}");
    let step = (ticks[0] - ticks[1]).abs();
    let mantissa = step / 10f64.powf(step.log10().floor());
    assert!([1.0, 2.0, 5.0].iter().any(|m| (mantissa - m).abs() < 1e-6), "tick step {step}: {ticks:?}");
    assert!(ticks.windows(2).all(|w| ((w[0] - w[1]).abs() - step).abs() < 1e-9), "{ticks:?}");
    // a log read in full at the first visit is history: not "live"
    assert_eq!(session.js("return document.getElementById('tr-live').classList.contains('on')"), false);
    // The replay: the current model first, then checkpoint 100 from the slider.
    let inked = f64s(&session.eval(INKED_PIXELS, json!(["#tr-attn canvas"])));
    assert!(inked.len() == 1 && inked[0] > 0.0, "the attention heatmap has drawn");
    set_input(&session, "#tr-slider", "0");
    session.wait_for("document.body.dataset.replayStep === '100'", "checkpoint 100");
    session.screenshot(&screenshot_dir().join("training.png"));
    // Training goes on: the page picks up new lines by itself.
    for step in 301..=320 {
        writeln!(log, "{}", line(step)).unwrap();
    }
    log.flush().unwrap();
    session.wait_for("Number(document.body.dataset.rows) === 326", "the new log lines");
    assert_eq!(
        session.js("return document.getElementById('tr-live').classList.contains('on')"),
        true,
        "it grows: live"
    );
    let phone = driver.session(390, 844, true);
    phone.goto(&format!("{}/training", server.url()));
    phone.wait_for("document.body.dataset.ready === '1'", "the training page on a phone");
    let overflow = phone
        .js("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        .as_i64()
        .unwrap();
    assert!(overflow <= 1, "the training page scrolls sideways by {overflow}px on a phone");
    phone.screenshot(&screenshot_dir().join("phone-training.png"));
}

#[test]
fn gpt2_tokens_that_split_a_character_are_shown_honestly() {
    let Some(shared) = shared_dir() else { return };
    let _one = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let Some(driver) = Driver::start() else { return };
    let server = serve(&shared.join("conformance/gpt2vocab"));
    let session = driver.session(1280, 800, false);
    session.goto(&format!("{}/?prompt={}#tokenization", server.url(), url_encode("Hello 你好, world")));
    session.wait_for("document.body.dataset.ready === '1'", "the walkthrough");
    let partial = session.js("return document.querySelectorAll('#strip .tok.partial').length").as_u64().unwrap();
    assert!(partial >= 2, "你好 is split into partial tokens: {partial}");
    let strip = session.js("return document.getElementById('strip').textContent").as_str().unwrap().to_string();
    assert!(!strip.contains('\u{fffd}'), "no replacement characters: {strip}");
    let table = session.js("return document.querySelector('#stage table').textContent").as_str().unwrap().to_string();
    assert!(table.contains("你") && table.contains("好"), "the table names the characters: {table}");
    session.screenshot(&screenshot_dir().join("walkthrough-gpt2vocab-tokens.png"));
}
