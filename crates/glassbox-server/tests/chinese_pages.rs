//! In 中文 every page speaks Chinese: headless Chromium (skipped without chromium and
//! chromedriver, except under `CI=true`) switches to 中文, opens every chapter of the
//! walkthrough, the playground, the semantic space, the training page and the "Why
//! transformers" page, lists every visible text node, and checks each word in Latin
//! letters against an allow-list of names and symbols. Text marked `translate="no"` (token chips, hook and weight names,
//! the model's own words, generated text), code, and `commands` in backticks are data,
//! not language, and are not checked. Every page is photographed in both languages
//! (`target/screenshots/{en,zh}-*.png`), to be looked at.

mod common;

use common::*;
use glassbox::testing::write_category_model;

/// Every visible text node outside data (see the module comment).
const VISIBLE_TEXT: &str = r#"
    const out = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      const node = walker.currentNode, text = node.nodeValue.trim(), parent = node.parentElement;
      if (!text || !parent) continue;
      if (parent.closest('[translate="no"], code, kbd, pre, script, style, textarea, option, #tip')) continue;
      if (!parent.getClientRects().length) continue;
      const style = getComputedStyle(parent);
      if (style.visibility === 'hidden' || style.display === 'none') continue;
      out.push(text);
    }
    return out;"#;

/// Latin-letter words a Chinese page may use: names (of the product, models, formats,
/// functions) and the loanwords the notes themselves use in Chinese text.
const ALLOWED: &[&str] = &[
    "glassbox",
    "EN",
    "GPT",
    "LSTM",
    "RNN",
    "BPE",
    "MLP",
    "GELU",
    "softmax",
    "logit",
    "logits",
    "token",
    "tokens",
    "PCA",
    "API",
    "JSON",
    "OpenAI",
    "nat",
    "nats",
    "wte",
    "wpe",
    "ln",
    "ln_f",
    "Transformer",
    "TransformerLens",
    "Olsson",
    "Meng",
    "rstd",
    "Hugging",
    "Face",
    "UTF",
    "safetensors",
    "numpy",
    "PyTorch",
    "k-means",
    "means",
    "top",
    "top-k",
    "top-p",
    "cos",
    "exp",
    "max",
    "argmax",
    "id",
    "ids",
    "bias",
    "weight",
    "tanh",
    "sqrt",
    "SVG",
    "PNG",
    "HTTP",
    "POST",
    "GET",
    "Ctrl",
    "Enter",
    // the technique's name, the variance's symbol, and the three vectors' names, which
    // the Chinese text gives beside its own terms: 查询（query）
    "lens",
    "Var",
    "query",
    "key",
    "value",
];

/// Words that are neither allowed nor code (one letter, or holding a digit, `_` or `.`:
/// a symbol or an identifier such as `c_fc` or `h.0`).
fn english_words(text: &str) -> Vec<String> {
    // `commands` in backticks and --flags are code
    let mut plain = String::new();
    for (i, part) in text.split('`').enumerate() {
        if i % 2 == 0 {
            plain.push_str(part);
            plain.push(' ');
        }
    }
    let mut words = Vec::new();
    for raw in plain.split(|c: char| !(c.is_ascii_alphanumeric() || "_.-'".contains(c))) {
        if raw.starts_with("--") {
            continue;
        }
        let word = raw.trim_matches(|c: char| ".-'".contains(c));
        if !word.chars().any(|c| c.is_ascii_alphabetic()) {
            continue;
        }
        let code = word.chars().count() == 1 || word.contains(|c: char| c.is_ascii_digit() || c == '_' || c == '.');
        if !code && !ALLOWED.contains(&word) {
            words.push(word.to_string());
        }
    }
    words
}

fn check(session: &Session, page: &str, found: &mut Vec<String>) {
    let texts = session.js(VISIBLE_TEXT);
    for text in texts.as_array().unwrap() {
        let text = text.as_str().unwrap();
        let words = english_words(text);
        if !words.is_empty() {
            found.push(format!("{page}: {text:?} ({})", words.join(", ")));
        }
    }
}

#[test]
fn the_words_are_recognised() {
    assert_eq!(english_words("第 0 层 · `glassbox heads RUN` --keep-checkpoints c_fc h.0 q k"), Vec::<String>::new());
    assert_eq!(english_words("模型 loss 曲线 (token)"), vec!["loss".to_string()]);
}

#[test]
fn every_page_in_chinese_has_no_english_text() {
    let _one = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let Some(driver) = Driver::start() else { return };
    // a character model for the walkthrough and the playground, a word vocabulary with the
    // category words for the semantic space, a run with snapshots for the training page
    let chars = tempfile::tempdir().unwrap();
    write_char_model(chars.path(), 2, 4, 64, 64, 12);
    let words = tempfile::tempdir().unwrap();
    write_category_model(words.path());
    let root = tempfile::tempdir().unwrap();
    let run = repeat_run(root.path(), 20, 10);
    let (text, space, training) = (serve(chars.path()), serve(words.path()), serve(&run));
    let compared = tempfile::tempdir().unwrap();
    let why = serve(&comparison(compared.path()));
    let facts_root = tempfile::tempdir().unwrap();
    let facts = serve(&facts_run(facts_root.path(), 8, 30));
    let session = driver.session(1280, 900, false);
    let shots = screenshot_dir();
    let mut found = Vec::new();
    let pages = [
        (format!("{}/playground?run=1", text.url()), "playground", "document.body.dataset.pg === 'done'"),
        (format!("{}/space", space.url()), "space", "document.body.dataset.ready === '1'"),
        (format!("{}/training", training.url()), "training", "document.body.dataset.learningRows === '3'"),
        (format!("{}/why", why.url()), "why", "Number(document.body.dataset.read) > 1"),
        (format!("{}/knowledge", facts.url()), "knowledge", "Number(document.body.dataset.traced) > 0"),
    ];
    for lang in ["en", "zh"] {
        session.goto(&format!("{}/?prompt={}", text.url(), url_encode("To be, or not to be")));
        session.wait_for("document.body.dataset.ready === '1'", "the walkthrough");
        set_lang(&session, lang);
        for chapter in CHAPTERS {
            go(&session, chapter);
            if lang == "zh" {
                check(&session, &format!("walkthrough/{chapter}"), &mut found);
            }
            session.screenshot(&shots.join(format!("{lang}-walkthrough-{chapter}.png")));
        }
        if lang == "zh" {
            // a refusal says in Chinese what happened, then gives the server's sentence
            session.eval(
                "const p = document.getElementById('prompt'); p.value = arguments[0]; document.getElementById('run').click()",
                serde_json::json!(["x".repeat(100)]),
            );
            session.wait_for("!document.getElementById('error').classList.contains('hidden')", "the refusal");
            let said = session.js("return document.getElementById('error').textContent");
            assert!(said.as_str().unwrap().starts_with("服务器拒绝了这个请求"), "{said}");
        }
        for (url, page, ready) in &pages {
            session.goto(url);
            session.wait_for(ready, page);
            // each server is its own origin, with its own stored language
            set_lang(&session, lang);
            if lang == "zh" {
                check(&session, page, &mut found);
            }
            session.screenshot_page(&shots.join(format!("{lang}-{page}.png")));
        }
    }
    assert!(found.is_empty(), "English on the 中文 pages:\n{}", found.join("\n"));
}
