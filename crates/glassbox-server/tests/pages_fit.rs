//! The pages at common widths and with the models people actually open, in headless
//! Chromium (skipped without chromium and chromedriver, except under `CI=true`):
//!
//! - the walkthrough is never wider than the window, with a long prompt on a character
//!   model and a 30-token Chinese prompt on a byte-level BPE model, at 1400, 1024 and 800
//!   px, in English and 中文: Run and Next stay on screen, every header link is visible;
//! - the letter sorter (the model `glassbox demo` trains): the walkthrough opens on its
//!   example problem with the answer positions marked, the playground writes the whole
//!   answer with its defaults, the semantic-space page opens without an error, and a Max
//!   new tokens beyond the context is clamped with a note rather than refused;
//! - the walkthrough's first paint of the default prompt on a nanoGPT-shaped character
//!   model fetches at most 500 KB, and a token click or a layer change reuses what the
//!   page has.

mod common;

use common::*;
use glassbox::train::{DataSource, NewRun, OptionChanges, ShapeRequest, Trainer};
use serde_json::json;

/// 56 characters of tiny Shakespeare's alphabet: 56 tokens on a character model.
const LONG_PROMPT: &str = "First Citizen: Before we proceed any further, hear me sp";

/// Where the page overflows the window, if it does: the document's width, Run's and Next's
/// boxes, and each header link (inside the window and not cut by the header).
const FIT: &str = r#"
    const w = window.innerWidth;
    const box = (sel) => { const n = document.querySelector(sel); if (!n) return null; const r = n.getBoundingClientRect(); return [r.left, r.right, r.width]; };
    const nav = document.querySelector('.top .nav').getBoundingClientRect();
    const links = [...document.querySelectorAll('.top .nav a')].map((a) => {
      const r = a.getBoundingClientRect();
      return { text: a.textContent, left: r.left, right: r.right, ok: r.width > 0 && r.left >= Math.max(0, nav.left) - 0.5 && r.right <= Math.min(w, nav.right) + 0.5 };
    });
    return { w, page: document.documentElement.scrollWidth, body: document.body.scrollWidth, run: box('#run'), next: box('#next'), links };"#;

fn assert_fits(session: &Session, what: &str) {
    let fit = session.js(FIT);
    let w = fit["w"].as_f64().unwrap();
    assert!(
        fit["page"].as_f64().unwrap() <= w && fit["body"].as_f64().unwrap() <= w,
        "{what}: wider than the window: {fit}"
    );
    for button in ["run", "next"] {
        if let Some(b) = fit[button].as_array() {
            let (left, right, width) = (b[0].as_f64().unwrap(), b[1].as_f64().unwrap(), b[2].as_f64().unwrap());
            assert!(width > 0.0 && left >= 0.0 && right <= w + 0.5, "{what}: #{button} is off screen: {fit}");
        }
    }
    let links = fit["links"].as_array().unwrap();
    assert_eq!(links.len(), 7, "{what}: {fit}");
    for link in links {
        assert_eq!(link["ok"], true, "{what}: header link {} is hidden: {fit}", link["text"]);
    }
}

/// A byte-level BPE model of 340 tokens learned on Chinese and English text: few enough
/// merges that the Chinese prompt is about 30 tokens, some of them parts of a character.
fn write_bpe_model(dir: &std::path::Path) -> Vec<u32> {
    let text = "今天天气很好，我们去公园散步。机器学习让计算机从数据中学习规律。语言模型预测下一个词。\
                The model reads the text and predicts the next token. "
        .repeat(40);
    let bpe = glassbox::tokenizer::train_bpe(&text, 340, &mut |_, _| {}).unwrap();
    let tokenizer = glassbox::tokenizer::Tokenizer::Bpe(bpe);
    let config = glassbox::config::GptConfig::new(2, 2, 32, tokenizer.vocab_size(), 64);
    let params = glassbox::model::Params::init_random(&config, 3);
    glassbox::io::save_model(dir, &config, &params).unwrap();
    tokenizer.save(dir).unwrap();
    tokenizer.encode(CHINESE_PROMPT)
}

const CHINESE_PROMPT: &str = "今天天气很好，我们去公园散步。语言模型预测下一个词，机器学习";

#[test]
fn the_walkthrough_fits_the_window_at_every_width_and_language() {
    let _one = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let Some(driver) = Driver::start() else { return };
    let char_dir = tempfile::tempdir().unwrap();
    write_char_model(char_dir.path(), 2, 2, 32, 64, 9);
    let bpe_dir = tempfile::tempdir().unwrap();
    let ids = write_bpe_model(bpe_dir.path());
    assert!((25..=40).contains(&ids.len()), "a prompt of about 30 tokens: {}", ids.len());
    let shots = screenshot_dir();
    for (dir, prompt, name) in [(char_dir.path(), LONG_PROMPT, "char"), (bpe_dir.path(), CHINESE_PROMPT, "bpe-zh")] {
        let server = serve(dir);
        for width in [1400u32, 1024, 800] {
            let session = driver.session(width, 860, false);
            session.goto(&format!("{}/?prompt={}#overview", server.url(), url_encode(prompt)));
            session.wait_for("document.body.dataset.ready === '1'", "the walkthrough");
            for lang in ["en", "zh"] {
                set_lang(&session, lang);
                for chapter in ["overview", "tokenization", "attention", "mlp", "lens"] {
                    go(&session, chapter);
                    assert_fits(&session, &format!("{name}, {width} px, {lang}, {chapter}"));
                }
                session.screenshot(&shots.join(format!("fit-{name}-{width}-{lang}.png")));
            }
            // the strip shows every token of the prompt
            let chips = session.js("return document.querySelectorAll('#strip .tok').length").as_u64().unwrap();
            let expected = if name == "char" { LONG_PROMPT.len() } else { ids.len() };
            assert_eq!(chips as usize, expected, "{name} at {width} px");
            if name == "bpe-zh" && width == 1400 {
                bpe_merges_are_the_engine_s(&session, dir);
            }
            set_lang(&session, "en");
        }
    }
}

/// The tokenization chapter's merges: the engine's, stage by stage, ending in the prompt's ids.
fn bpe_merges_are_the_engine_s(session: &Session, dir: &std::path::Path) {
    go(session, "tokenization");
    let tok = glassbox::tokenizer::Tokenizer::load(dir).unwrap();
    let pieces = tok.explain(CHINESE_PROMPT, false).unwrap();
    let shown = session
        .js("return window.glassbox.state.data.raw.merges.map((p) => p.stages.map((s) => s.tokens.map((t) => t.id)))");
    let shown = shown.as_array().unwrap();
    assert_eq!(shown.len(), pieces.len());
    for (piece, stages) in pieces.iter().zip(shown) {
        let stages = stages.as_array().unwrap();
        assert_eq!(stages.len(), piece.steps.len() + 1, "bytes, then one stage per merge");
        assert_eq!(stages[0], json!(piece.start));
        assert_eq!(stages[stages.len() - 1], json!(piece.ids));
        for pair in stages.windows(2) {
            assert_eq!(pair[1].as_array().unwrap().len() + 1, pair[0].as_array().unwrap().len(), "a merge joins two");
        }
    }
    let drawn = session.js("return document.querySelectorAll('#merges .merge-piece').length");
    assert_eq!(drawn, pieces.len());
    session.screenshot(&screenshot_dir().join("walkthrough-merges.png"));
}

/// A sorter run as `glassbox demo` leaves it: a run directory of the `sort` task.
fn sorter_run(dir: &std::path::Path) {
    let spec = NewRun {
        dir: dir.to_path_buf(),
        data: DataSource::Task { name: "sort".into() },
        shape: ShapeRequest::default(),
        options: OptionChanges { steps: Some(2), eval_every: Some(0), ..OptionChanges::default() },
        overwrite: true,
    };
    let mut trainer = Trainer::create(spec, &mut |_, _, _| {}).unwrap();
    trainer.run(&mut |_| {}).unwrap();
}

#[test]
fn the_sorter_opens_on_its_own_problem_on_every_page() {
    let _one = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let Some(driver) = Driver::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    sorter_run(dir.path());
    let server = serve(dir.path());
    let model = get(server.addr, "/api/model").json();
    assert_eq!(model["task"]["name"], "sort", "{model}");
    assert_eq!(model["task"]["prompt"], "CBABBC");
    assert_eq!(model["task"]["answer"], "ABBBCC");
    // the walkthrough's prompt: the problem and the answer as the model reads it in training
    assert_eq!(model["default_prompt"], "CBABBCABBBC");
    let shots = screenshot_dir();
    let session = driver.session(1280, 800, false);

    session.goto(&format!("{}/#overview", server.url()));
    session.wait_for("document.body.dataset.ready === '1'", "the walkthrough");
    let marked = session.js(
        "return [...document.querySelectorAll('#strip .tok')].map((t, i) => t.classList.contains('writes-answer') ? i : -1).filter((i) => i >= 0)",
    );
    // position 5 (the last letter of the problem) writes the first answer letter, 10 the sixth
    assert_eq!(marked, json!([5, 6, 7, 8, 9, 10]));
    session.screenshot(&shots.join("sorter-walkthrough.png"));

    // the playground: the problem, six new tokens, the whole answer
    session.goto(&format!("{}/playground", server.url()));
    session.wait_for("document.body.dataset.ready === '1'", "the playground");
    assert_eq!(session.js("return document.getElementById('pg-prompt').value"), "CBABBC");
    assert_eq!(session.js("return document.getElementById('pg-max').value"), "6");
    session.js("document.getElementById('pg-go').click()");
    session.wait_for("document.body.dataset.pg === 'done'", "the generation to finish");
    let generated = session.js("return document.querySelectorAll('#pg-out .gt').length");
    assert_eq!(generated, 6, "the whole answer fits the context of 11");
    assert_eq!(session.js("return document.getElementById('pg-note').textContent"), "");
    // more than fits: clamped, with a note, never refused by the browser
    session.eval(
        "const n = document.getElementById('pg-max'); n.value = arguments[0]; n.dispatchEvent(new Event('input', {bubbles: true}));",
        json!(["48"]),
    );
    session.js("document.getElementById('pg-go').click()");
    session.wait_for(
        "document.body.dataset.pg === 'done' && document.getElementById('pg-note').textContent !== ''",
        "the clamped generation",
    );
    let note = session.js("return document.getElementById('pg-note').textContent");
    let note = note.as_str().unwrap();
    assert!(note.contains("48") && note.contains("11") && note.contains(" 6 "), "{note}");
    assert_eq!(session.js("return document.querySelectorAll('#pg-out .gt').length"), 6);
    session.screenshot(&shots.join("sorter-playground.png"));

    // the semantic space: the sorter's own letters, no error box
    session.goto(&format!("{}/space", server.url()));
    session.wait_for("document.body.dataset.ready === '1'", "the semantic-space page");
    let errors = session.js("return [...document.querySelectorAll('.error-box')].filter((e) => !e.classList.contains('hidden')).map((e) => e.textContent)");
    assert_eq!(errors, json!([]), "the sorter's space page opens clean");
    let points = session.js("return document.querySelectorAll('#map-svg .pt').length");
    assert_eq!(points, 3, "A, B and C on the map");
    let skipped = session.js("return document.body.textContent.includes('Skipped')");
    assert_eq!(skipped, false);
    session.screenshot(&shots.join("sorter-space.png"));
}

/// Bytes of every `/api/walkthrough` answer the page has fetched so far.
const WALKTHROUGH_BYTES: &str = r#"
    return performance.getEntriesByType('resource').filter((e) => e.name.includes('/api/walkthrough')).map((e) => e.decodedBodySize);"#;

fn fetched(session: &Session) -> Vec<u64> {
    session.js(WALKTHROUGH_BYTES).as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect()
}

#[test]
fn the_first_paint_is_small_and_a_click_reuses_what_the_page_has() {
    let _one = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let Some(driver) = Driver::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    // nanoGPT's Shakespeare shape: 4 layers, 4 heads, 128 dimensions, context 64
    write_char_model(dir.path(), 4, 4, 128, 64, 5);
    let server = serve(dir.path());
    let default_prompt = get(server.addr, "/api/model").json()["default_prompt"].as_str().unwrap().to_string();
    let session = driver.session(1280, 800, false);
    session.goto(&server.url());
    session.wait_for("document.body.dataset.ready === '1'", "the walkthrough");
    assert_eq!(session.js("return document.getElementById('prompt').value"), default_prompt.as_str());
    let first = fetched(&session);
    assert_eq!(first.len(), 1, "{first:?}");
    assert!(first[0] > 10_000 && first[0] <= 500_000, "first paint: {} bytes", first[0]);

    // a chapter that draws a block's tensors fetches them once
    go(&session, "mlp");
    let after_mlp = fetched(&session);
    assert_eq!(after_mlp.len(), 2, "{after_mlp:?}");
    go(&session, "attention"); // the patterns of every head, once
    assert_eq!(fetched(&session).len(), 3);
    go(&session, "residual");
    go(&session, "mlp");
    assert_eq!(fetched(&session).len(), 3, "the same block's tensors are reused");
    // a token click: a new focus, the same tensors
    session.js("document.querySelectorAll('#strip .tok')[2].click()");
    session.wait_for("window.glassbox.state.position === 2 && document.body.dataset.ready === '1'", "the new focus");
    let after_click = fetched(&session);
    assert_eq!(after_click.len(), 4, "{after_click:?}");
    assert!(after_click[3] < after_mlp[1], "the click fetched the focus, not the block again: {after_click:?}");
    // another layer: its tensors, once
    let pick_layer = |layer: &str| {
        session.eval(
            "const s = document.getElementById('layer-select'); s.value = arguments[0]; s.dispatchEvent(new Event('change', {bubbles: true}));",
            json!([layer]),
        );
        session.wait_for(
            &format!("document.body.dataset.ready === '1' && window.glassbox.state.layer === {layer}"),
            &format!("layer {layer}"),
        );
    };
    pick_layer("3");
    assert_eq!(fetched(&session).len(), 5);
    pick_layer("0");
    assert_eq!(fetched(&session).len(), 5, "layer 0's tensors are still here");
}

#[test]
fn the_walkthrough_route_sends_the_parts_asked_for() {
    let dir = char_model(32);
    let server = serve(dir.path());
    let all = post(server.addr, "/api/walkthrough", &json!({"prompt": "To be", "layer": 1})).json();
    for key in ["walkthrough", "tensors", "focus_logits", "model"] {
        assert!(all.get(key).is_some(), "{key} in the default answer");
    }
    let block =
        post(server.addr, "/api/walkthrough", &json!({"prompt": "To be", "layer": 1, "parts": ["block"]})).json();
    assert!(block.get("walkthrough").is_none() && block.get("focus_logits").is_none());
    assert_eq!(block["tensors"], all["tensors"], "the same tensors either way");
    let focus =
        post(server.addr, "/api/walkthrough", &json!({"prompt": "To be", "parts": ["walkthrough", "focus_logits"]}))
            .json();
    assert_eq!(focus["walkthrough"], all["walkthrough"]);
    assert_eq!(focus["focus_logits"], all["focus_logits"]);
    assert!(focus.get("tensors").is_none());
    // the summary, the rows and the patterns: the whole walkthrough, in three answers
    let part = |name: &str| {
        post(server.addr, "/api/walkthrough", &json!({"prompt": "To be", "parts": [name]})).json()["walkthrough"]
            .clone()
    };
    let mut merged = part("summary");
    assert!(merged["embedding"].get("rows").is_none(), "the summary leaves the rows out");
    assert!(merged["blocks"][0]["attention"]["heads"][0].get("pattern").is_none());
    merged["embedding"]["rows"] = part("embedding_rows")["embedding"]["rows"].clone();
    let patterns = part("attention_patterns");
    for (l, block) in merged["blocks"].as_array_mut().unwrap().iter_mut().enumerate() {
        for (h, head) in block["attention"]["heads"].as_array_mut().unwrap().iter_mut().enumerate() {
            let from = &patterns["blocks"][l]["attention"]["heads"][h];
            assert_eq!(from["head"], h);
            head["pattern"] = from["pattern"].clone();
            head["scores"] = from["scores"].clone();
        }
    }
    assert_eq!(merged, all["walkthrough"]);
    // every number as the engine has it, in its shortest f32 form
    let model = glassbox::io::load_model(dir.path()).unwrap();
    let ids: Vec<u32> =
        all["walkthrough"]["tokens"].as_array().unwrap().iter().map(|t| t["id"].as_u64().unwrap() as u32).collect();
    let mut acts = glassbox::model::Activations::default();
    glassbox::model::forward(&model.params, &ids, 1, ids.len(), &mut acts).unwrap();
    let v = model.config.vocab_size;
    let last = &acts.logits[(ids.len() - 1) * v..ids.len() * v];
    let sent: Vec<f32> = all["focus_logits"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect();
    assert_eq!(sent, last, "the logits read back bit for bit");
    for bad in [
        json!({"prompt": "To be", "parts": ["everything"]}),
        json!({"prompt": "To be", "parts": []}),
        json!({"prompt": "To be", "parts": "block"}),
    ] {
        let res = post(server.addr, "/api/walkthrough", &bad);
        assert_eq!(res.status, 400, "{bad}");
        assert_eq!(res.json()["error"]["param"], "parts", "{bad}");
    }
}
