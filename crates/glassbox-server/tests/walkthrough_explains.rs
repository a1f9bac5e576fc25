//! The walkthrough explains where a number comes from, in headless Chromium (skipped
//! without chromium and chromedriver, except under `CI=true`): attention drawn as lines
//! whose weights are the engine's pattern; the softmax chapter's raw and sampled
//! distributions, ranked by logit even at τ = 0, in plain percentages; and the
//! autoregressive loop — the sampled token appended and the same pass run again; and on the
//! semantic-space page, the analogy as a parallelogram and a word's path through the layers.

mod common;

use common::*;
use glassbox::model::{forward, Activations};
use serde_json::{json, Value};

const PROMPT: &str = "To be, or not to be";

fn engine(dir: &std::path::Path, ids: &[u32]) -> Activations {
    let model = glassbox::io::load_model(dir).unwrap();
    let mut acts = Activations::default();
    forward(&model.params, ids, 1, ids.len(), &mut acts).unwrap();
    acts
}

#[test]
fn attention_lines_softmax_columns_and_the_loop_show_the_engine_s_numbers() {
    let _one = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let Some(driver) = Driver::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let config = write_char_model(dir.path(), 2, 4, 64, 64, 21);
    let tok = glassbox::tokenizer::Tokenizer::load(dir.path()).unwrap();
    let ids = tok.encode(PROMPT);
    let t = ids.len();
    let acts = engine(dir.path(), &ids);
    let server = serve(dir.path());
    let session = driver.session(1280, 900, false);
    session.goto(&format!("{}/?prompt={}#overview", server.url(), url_encode(PROMPT)));
    session.wait_for("document.body.dataset.ready === '1'", "the walkthrough");
    let shots = screenshot_dir();

    // Layer norm: the five strips on one colour scale, the largest |value| among x, x̂, γ,
    // β and y at the focused position (block 0's ln_1, the last token).
    go(&session, "layernorm");
    let model = glassbox::io::load_model(dir.path()).unwrap();
    let c = config.n_embd;
    let x = &acts.embedded[(t - 1) * c..t * c];
    let y = &acts.blocks[0].ln1_normalized[(t - 1) * c..t * c];
    let (mean, rstd) = (acts.blocks[0].ln1_mean[t - 1], acts.blocks[0].ln1_rstd[t - 1]);
    let tensors = model.params.tensors();
    let (gamma, beta) = (tensors.blocks[0].ln_1_weight, tensors.blocks[0].ln_1_bias);
    let expected = x
        .iter()
        .map(|v| ((v - mean) * rstd).abs())
        .chain(x.iter().map(|v| v.abs()))
        .chain(gamma.iter().chain(beta).chain(y).map(|v| v.abs()))
        .fold(0f32, f32::max) as f64;
    let shown = session.js("return Number(document.getElementById('ln-strips').dataset.max)").as_f64().unwrap();
    assert!((shown - expected).abs() < 1e-4 * expected, "one scale: {shown} vs {expected}");
    assert!(session
        .js("return document.getElementById('ln-scale').textContent")
        .as_str()
        .unwrap()
        .contains("one colour scale"));

    // Attention as lines: block 0, head 2; every line's weight is the engine's, and every
    // weight of at least 1% has its line.
    go(&session, "attention");
    session.eval(
        "const s = document.getElementById('head-select'); s.value = '2'; s.dispatchEvent(new Event('change', {bubbles: true}));",
        json!([]),
    );
    session.wait_for("document.body.dataset.ready === '1' && window.glassbox.state.head === 2", "head 2");
    let lines = session.js(
        "return [...document.querySelectorAll('#attn-arcs line.arc')].map((l) => [Number(l.dataset.q), Number(l.dataset.k), Number(l.dataset.w)])",
    );
    let lines = lines.as_array().unwrap();
    let pattern = &acts.blocks[0].attn_pattern[2 * t * t..3 * t * t];
    for line in lines {
        let (q, k, w) =
            (line[0].as_u64().unwrap() as usize, line[1].as_u64().unwrap() as usize, line[2].as_f64().unwrap());
        assert!(k <= q, "a line to a later key: {line}");
        assert_eq!(w as f32, pattern[q * t + k], "line {q} → {k}");
    }
    let expected =
        (0..t).flat_map(|q| (0..=q).map(move |k| (q, k))).filter(|&(q, k)| pattern[q * t + k] >= 0.01).count();
    assert_eq!(lines.len(), expected, "one line per weight of at least 1%");
    // the pattern's keys are labelled under it, one label a column
    let keys = session.js(
        "return [...document.querySelector('canvas.attn-detail').closest('.fig').querySelectorAll('.keylabels span')].map((s) => s.textContent)",
    );
    let keys = keys.as_array().unwrap();
    assert_eq!(keys.len(), t, "one key label per column");
    assert!(keys.iter().any(|k| !k.as_str().unwrap().is_empty()));
    session.screenshot(&shots.join("walkthrough-attention-lines.png"));

    // How a number is made: hover a cell of mlp.hook_pre; its dot product's terms, the
    // bias and their sum are the engine's, and the sum is the cell.
    go(&session, "mlp");
    let (row, col) = (t - 1, 5usize);
    session.eval(HOVER_CELL, json!(["canvas.mlp-pre", 0, row, col]));
    session.wait_for(
        &format!("(document.querySelector('.product-panel[data-product=\"c_fc\"]') || {{dataset: {{}}}}).dataset.col === '{col}'"),
        "the c_fc receipt",
    );
    let panel = session.js(
        "const p = document.querySelector('.product-panel[data-product=\"c_fc\"]'); return {sum: Number(p.dataset.sum), value: Number(p.dataset.value), row: Number(p.dataset.row), terms: [...p.querySelectorAll('tr.term')].map((r) => [Number(r.dataset.index), Number(r.dataset.product)]), rest: Number(p.querySelector('tr.rest').dataset.product), bias: Number(p.querySelector('tr.bias').dataset.product)}",
    );
    let block = &tensors.blocks[0];
    let cell = acts.blocks[0].mlp_pre[row * 4 * c + col];
    assert_eq!(panel["row"], row);
    assert_eq!(panel["value"].as_f64().unwrap() as f32, cell, "the cell the forward pass wrote");
    let sum = panel["sum"].as_f64().unwrap();
    assert!((sum - cell as f64).abs() < 1e-5 * (1.0 + cell.abs() as f64), "terms sum to the cell: {sum} vs {cell}");
    let terms = panel["terms"].as_array().unwrap();
    assert_eq!(terms.len(), 8);
    let mut listed = 0.0;
    for term in terms {
        let i = term[0].as_u64().unwrap() as usize;
        let expected = acts.blocks[0].ln2_normalized[row * c + i] as f64 * block.c_fc_weight[i * 4 * c + col] as f64;
        assert_eq!(term[1].as_f64().unwrap(), expected, "term {i}");
        listed += expected;
    }
    assert_eq!(panel["bias"].as_f64().unwrap() as f32, block.c_fc_bias[col]);
    let total = listed + panel["rest"].as_f64().unwrap() + panel["bias"].as_f64().unwrap();
    assert!((total - sum).abs() < 1e-9, "listed terms + the rest + bias = the sum");
    // the weight is drawn beside the activations (the engine's picture of it), and what
    // made the cell is lit: row `row` of ln_2's output, the weight's column `col`
    session.wait_for("document.querySelector('.weight-fig[data-product=\"c_fc\"] canvas')", "the c_fc weight");
    let drawn = session.js(
        "const f = document.querySelector('.weight-fig[data-product=\"c_fc\"] .fig'); return {name: f.querySelector('.name').textContent, shape: f.querySelector('.shape').textContent, step: Number(f.dataset.colStep)}",
    );
    let model = glassbox::io::load_model(dir.path()).unwrap();
    let picture =
        glassbox::inspect::products::weight_picture(&model.params, glassbox::inspect::products::Product::CFc, 0, 96)
            .unwrap();
    assert_eq!(drawn["name"], picture.weight);
    assert!(drawn["shape"].as_str().unwrap().contains(&format!("{}, {}", c, 4 * c)), "{drawn}");
    assert_eq!(drawn["step"], picture.col_step);
    let sent = post(server.addr, "/api/weight", &json!({"product": "c_fc", "layer": 0, "side": 96})).json();
    let sent: Vec<f32> = sent["data"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect();
    assert_eq!(sent, picture.data);
    session.eval(HOVER_CELL, json!(["canvas.mlp-pre", 0, row, col + 1]));
    session.wait_for(
        &format!("(document.querySelector('.weight-fig[data-product=\"c_fc\"] .band.hl.col') || {{dataset: {{}}}}).dataset.index === '{}'", (col + 1) / picture.col_step),
        "the weight's column lit",
    );
    let lit_row = session.js("return document.querySelector('[data-input-of=\"c_fc\"] .band.hl.row').dataset.index");
    assert_eq!(lit_row, row.to_string(), "the input's row lit");
    session.screenshot(&shots.join("walkthrough-mlp-receipt.png"));

    // Softmax at τ = 0: one token kept, the cut rows are the runners-up by logit, and no
    // percentage is written with an exponent.
    go(&session, "softmax");
    session.eval(
        "const n = document.getElementById('temperature'); n.value = '0'; n.dispatchEvent(new Event('input', {bubbles: true}));",
        json!([]),
    );
    let v = config.vocab_size;
    let logits = &acts.logits[(t - 1) * v..t * v];
    let mut order: Vec<usize> = (0..v).collect();
    order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]).then(a.cmp(&b)));
    let rows = session.js(
        "return [...document.querySelectorAll('#softmax-bars .bar-row:not(.head)')].map((r) => ({id: Number(r.dataset.id), p: Number(r.dataset.p), cut: r.classList.contains('cut'), vals: [...r.querySelectorAll('.val')].map((v) => v.textContent)}))",
    );
    let rows = rows.as_array().unwrap();
    assert_eq!(rows[0]["id"], order[0] as u64);
    assert_eq!(rows[0]["p"], 1.0);
    let cut: Vec<u64> = rows.iter().filter(|r| r["cut"] == true).map(|r| r["id"].as_u64().unwrap()).collect();
    assert_eq!(cut, order[1..4].iter().map(|&i| i as u64).collect::<Vec<_>>(), "the runners-up, not ids 0, 1, 2");
    for row in rows {
        for shown in row["vals"].as_array().unwrap() {
            let text = shown.as_str().unwrap();
            assert!(!text.contains('e') && text.ends_with('%'), "plain percentages: {text}");
        }
    }
    // the raw column is softmax(logits) at τ = 1
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let z: f64 = logits.iter().map(|&l| (l as f64 - max).exp()).sum();
    let raw0 = ((logits[order[0]] as f64 - max).exp()) / z;
    let shown_raw =
        session.js("return Number(document.querySelector('#softmax-bars .bar-row:not(.head)').dataset.raw)");
    assert!((shown_raw.as_f64().unwrap() - raw0).abs() < 1e-6, "{shown_raw} vs {raw0}");

    // The loop: sample (greedy), append, run again — one token longer, ending in the pick.
    session.js("document.getElementById('sample').click()");
    session.wait_for("document.getElementById('append-run')", "the append button");
    session.js("document.getElementById('append-run').click()");
    session.wait_for(
        &format!("document.body.dataset.ready === '1' && window.glassbox.state.data.T === {}", t + 1),
        "the longer prompt",
    );
    let new_ids: Value = session.js("return window.glassbox.state.data.ids");
    let mut expected_ids: Vec<u64> = ids.iter().map(|&i| i as u64).collect();
    expected_ids.push(order[0] as u64);
    assert_eq!(new_ids, json!(expected_ids));
    assert_eq!(session.js("return document.body.dataset.chapter"), "softmax", "the loop stays on the softmax chapter");
    let note = session.js("return document.getElementById('loop-note').textContent");
    assert!(note.as_str().unwrap().contains('1'), "{note}");
    // the new last position's logits are the engine's for the longer prompt
    let longer: Vec<u32> = expected_ids.iter().map(|&i| i as u32).collect();
    let acts2 = engine(dir.path(), &longer);
    let sent = session.js("return window.glassbox.state.data.logits.values");
    let sent: Vec<f32> = sent.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect();
    assert_eq!(sent, acts2.logits[t * v..(t + 1) * v].to_vec());
    session.screenshot(&shots.join("walkthrough-softmax-loop.png"));
}

#[test]
fn the_analogy_and_the_drift_are_drawn_on_their_own_maps() {
    let _one = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let Some(driver) = Driver::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    write_char_model(dir.path(), 2, 2, 32, 32, 4);
    let server = serve(dir.path());
    let session = driver.session(1280, 900, false);
    session.goto(&format!("{}/space", server.url()));
    session.wait_for("document.body.dataset.ready === '1' && document.getElementById('an-para')", "the parallelogram");
    let words: Vec<String> = ["#an-a", "#an-b", "#an-c"]
        .iter()
        .map(|sel| session.js(&format!("return document.querySelector('{sel}').value")).as_str().unwrap().to_string())
        .collect();
    let analogy =
        post(server.addr, "/api/space/analogy", &json!({"a": words[0], "b": words[1], "c": words[2], "k": 8})).json();
    let top = analogy["results"][0]["id"].as_u64().unwrap();
    let map = post(server.addr, "/api/space/map", &json!({"words": [words[0], words[1], words[2], format!("#{top}")]}))
        .json();
    let drawn = session.js(
        "const o = {}; document.querySelectorAll('#an-para circle').forEach((c) => { o[c.dataset.id] = [Number(c.dataset.x), Number(c.dataset.y)]; }); return o;",
    );
    for (i, id) in ["a", "b", "c", "d"].iter().enumerate() {
        let point = &map["points"][i];
        assert_eq!(drawn[id], json!([point["x"], point["y"]]), "{id}: the map's own coordinates");
    }
    // the hollow corner is a − b + c (PCA is linear: the projection of a − b + c)
    for axis in 0..2 {
        let at = |id: &str| drawn[id][axis].as_f64().unwrap();
        assert!((at("x") - (at("a") - at("b") + at("c"))).abs() < 1e-9, "{drawn}");
    }
    session.screenshot(&screenshot_dir().join("space-parallelogram.png"));

    // the drift: each sentence's path through the layers, all starting at one point
    session.wait_for("document.getElementById('drift-map')", "the drift map");
    let points = session.js(
        "return [...document.querySelectorAll('#drift-map circle')].map((c) => [Number(c.dataset.text), Number(c.dataset.layer), Number(c.dataset.x), Number(c.dataset.y)])",
    );
    let points = points.as_array().unwrap();
    let sentences =
        session.js("return document.getElementById('dr-sentences').value.split('\\n').filter(Boolean).length");
    let texts = sentences.as_u64().unwrap() as usize;
    assert!(texts >= 2);
    assert_eq!(points.len(), texts * (2 + 2), "embed, 2 blocks' inputs, the output: per sentence");
    let starts: Vec<&Value> = points.iter().filter(|p| p[1] == 0).collect();
    assert_eq!(starts.len(), texts);
    assert!(starts.iter().all(|p| p[2] == starts[0][2] && p[3] == starts[0][3]), "one starting point: {starts:?}");
}

#[test]
fn a_slow_answer_says_the_model_is_running_and_the_keyboard_reaches_every_value() {
    let _one = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let Some(driver) = Driver::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    write_char_model(dir.path(), 1, 2, 16, 32, 4);
    let mut options = glassbox_server::ServeOptions::new(dir.path());
    options.port = 0;
    options.work_delay = Some(std::time::Duration::from_millis(900));
    let server = glassbox_server::start(options).expect("start server");
    let session = driver.session(1280, 900, false);
    session.goto(&format!("{}/?prompt=hello#mlp", server.url()));
    // while the walkthrough is computed: "Running the model…" beside Run, then gone
    session.wait_for("!document.getElementById('busy').classList.contains('hidden')", "the loading indicator");
    assert_eq!(session.js("return document.getElementById('stage').getAttribute('aria-busy')"), "true");
    session.wait_for("document.body.dataset.ready === '1'", "the walkthrough");
    session.wait_for("document.getElementById('busy').classList.contains('hidden')", "the indicator gone");
    session.wait_for("document.querySelector('canvas.mlp-pre')", "the MLP chapter");
    // Tab to a matrix and walk it with the arrows: the value shows as on hover, and the
    // receipt of that cell follows
    let tip = session.js(
        "const c = document.querySelector('canvas.mlp-pre'); c.focus(); for (const key of ['ArrowDown', 'ArrowRight', 'ArrowRight']) c.dispatchEvent(new KeyboardEvent('keydown', {key, bubbles: true})); const t = document.getElementById('tip'); return t && t.classList.contains('on') ? t.textContent : ''",
    );
    assert!(tip.as_str().unwrap().contains("[1, 2]"), "the cursor cell's value: {tip}");
    session.wait_for(
        "(document.querySelector('.product-panel[data-product=\"c_fc\"]') || {dataset: {}}).dataset.col === '2'",
        "the receipt of the cursor cell",
    );
    assert_eq!(session.js("return document.querySelector('.product-panel[data-product=\"c_fc\"]').dataset.row"), "1");
    assert_eq!(session.js("return document.querySelector('canvas.mlp-pre').tabIndex"), 0);
    assert_eq!(
        session.js("return document.body.dataset.chapter"),
        "mlp",
        "the arrows moved the cursor, not the chapter"
    );
    // the colour key folds away to one button, and stays folded on the next page
    session.js("document.querySelector('#legend .legend-toggle').click()");
    assert_eq!(session.js("return document.getElementById('legend').classList.contains('folded')"), true);
    let folded_width = session.js("return document.getElementById('legend').getBoundingClientRect().width");
    assert!(folded_width.as_f64().unwrap() < 60.0, "folded to a small button: {folded_width}px");
    session.goto(&format!("{}/playground", server.url()));
    session.wait_for("document.body.dataset.ready === '1'", "the playground");
    assert_eq!(session.js("return document.getElementById('legend').classList.contains('folded')"), true);
    // the playground's key has only what applies there: the probability scale
    assert_eq!(session.js("return document.querySelectorAll('#legend > span').length"), 1);
}
