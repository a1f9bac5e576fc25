//! `/api/training/meaning`: each snapshot a run kept, scored as the engine scores it
//! (`glassbox::inspect::meaning`), a few per request with the rest `pending`, rescored when
//! a snapshot's file changes; a model without snapshots says so; a query parameter is
//! refused like everywhere else. And the training page in headless Chromium (skipped
//! without chromium and chromedriver, except under `CI=true`): its meaning chart draws the
//! purity, agreement and analogy lines, each beside its chance or baseline.

mod common;

use std::path::Path;

use common::*;
use glassbox::inspect::analogy_eval::builtin_questions;
use glassbox::inspect::categories::builtin_categories;
use glassbox::inspect::meaning::score_space;
use glassbox::io::{load_model, load_model_with_tokenizer, save_model};
use glassbox::testing::write_category_model;
use serde_json::{json, Value};

/// A run whose own model is [`write_category_model`]'s, with snapshots at `steps`: the
/// last one is that model, the others have its embedding rows shifted by `i + 1` tokens
/// (the further from the end, the more), and a log with a validation loss per snapshot.
fn category_run(dir: &Path, steps: &[usize]) {
    write_category_model(dir);
    let (model, tokenizer) = load_model_with_tokenizer(dir).unwrap();
    let mut log = String::new();
    for (i, &step) in steps.iter().enumerate() {
        let snapshot = dir.join(format!("checkpoints/step-{step}"));
        let mut params = load_model(dir).unwrap().params;
        let shift = steps.len() - 1 - i;
        params.tensors_mut().wte.rotate_left(shift * model.config.n_embd);
        save_model(&snapshot, &model.config, &params).unwrap();
        tokenizer.as_ref().unwrap().save(&snapshot).unwrap();
        log.push_str(&format!("{}\n", json!({"step": step, "val_loss": 5.0 - i as f64})));
    }
    std::fs::write(dir.join("log.jsonl"), log).unwrap();
}

/// What the engine scores for the model in `dir`, as the route writes it: through JSON
/// text, as the answer comes (serde_json's parser may land a float one ulp from the value
/// it printed, so both sides take the same road).
fn engine_score(dir: &Path, run: &Path) -> Value {
    let (_, tokenizer) = load_model_with_tokenizer(run).unwrap();
    let model = load_model(dir).unwrap();
    let score = score_space(&model.params, tokenizer.as_ref(), &builtin_questions(), &builtin_categories()).unwrap();
    serde_json::from_str(&serde_json::to_string(&score).unwrap()).unwrap()
}

#[test]
fn each_snapshot_is_scored_a_few_at_a_time_and_again_when_it_changes() {
    let dir = tempfile::tempdir().unwrap();
    let steps = [10, 20, 30, 40, 50, 60];
    category_run(dir.path(), &steps);
    let server = serve(dir.path());

    let first = get(server.addr, "/api/training/meaning").json();
    assert_eq!(first["has_checkpoints"], true);
    let scored = first["rows"].as_array().unwrap().len();
    assert!(scored > 0 && scored < steps.len(), "a few per request: {first}");
    assert_eq!(first["pending"].as_u64().unwrap() as usize, steps.len() - scored);
    let second = get(server.addr, "/api/training/meaning").json();
    let rows = second["rows"].as_array().unwrap();
    assert_eq!(second["pending"], 0, "{second}");
    let listed: Vec<u64> = rows.iter().map(|r| r["step"].as_u64().unwrap()).collect();
    assert_eq!(listed, steps.map(|s| s as u64));
    for (i, row) in rows.iter().enumerate() {
        let snapshot = dir.path().join(format!("checkpoints/step-{}", steps[i]));
        let expected = engine_score(&snapshot, dir.path());
        assert_eq!(row["analogy"], expected["analogy"], "step {}", steps[i]);
        assert_eq!(row["clusters"], expected["clusters"], "step {}", steps[i]);
        assert_eq!(row["val_loss"], 5.0 - i as f64);
        assert_eq!(row["model"], format!("checkpoints/step-{}", steps[i]));
    }
    assert_eq!(rows[5]["clusters"]["purity"], 1.0);
    assert!(rows[0]["clusters"]["purity"].as_f64().unwrap() < 1.0, "{}", rows[0]);

    // the first snapshot rewritten with the unshifted model: scored again
    let last = dir.path().join("checkpoints/step-60");
    let first_snapshot = dir.path().join("checkpoints/step-10");
    std::fs::copy(last.join("model.safetensors"), first_snapshot.join("model.safetensors")).unwrap();
    let again = get(server.addr, "/api/training/meaning").json();
    assert_eq!(again["rows"][0]["clusters"]["purity"], 1.0, "{again}");

    let res = get(server.addr, "/api/training/meaning?step=3");
    assert_eq!(res.status, 400);
    assert_eq!(res.json()["error"]["param"], "step");

    // a model directory without snapshots
    let plain = char_model(32);
    let other = serve(plain.path());
    let answer = get(other.addr, "/api/training/meaning").json();
    assert_eq!(answer, json!({"rows": [], "pending": 0, "has_checkpoints": false}));
}

#[test]
fn the_training_page_draws_meaning_forming() {
    let Some(driver) = Driver::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let steps = [100, 200, 300, 400, 500, 600];
    category_run(dir.path(), &steps);
    let server = serve(dir.path());
    let session = driver.session(1280, 900, false);
    session.goto(&format!("{}/training", server.url()));
    session.wait_for("document.body.dataset.ready === '1'", "the training page");
    session.wait_for("document.body.dataset.meaningRows === '6'", "every snapshot scored");
    // a finished run's log does not grow: not "live"
    assert_eq!(session.js("return document.getElementById('tr-live').classList.contains('on')"), false);
    // purity, its chance, agreement, its chance (the analogy lines where questions are covered)
    let lines = session.js("return document.querySelectorAll('#meaning-chart polyline').length").as_u64().unwrap();
    assert!(lines >= 4, "{lines} lines");
    let dashed = session
        .js("return document.querySelectorAll('#meaning-chart polyline[stroke-dasharray]').length")
        .as_u64()
        .unwrap();
    assert_eq!(dashed * 2, lines, "each score beside its chance or baseline");
    let kv = session.js("return document.querySelector('#tr-meaning-kv').textContent");
    assert!(kv.as_str().unwrap().contains("100.0%"), "{kv}");
    // the replay slider's checkpoint is marked on the chart
    assert_eq!(session.js("return document.querySelectorAll('#meaning-chart line.marker').length"), 0);
    session.js(
        "const s = document.querySelector('#tr-slider'); s.value = '2'; s.dispatchEvent(new Event('input')); return 0",
    );
    assert!(
        eventually(100, || session.js("return document.querySelectorAll('#meaning-chart line.marker').length") == 1),
        "a marker at the replayed step"
    );
    session.screenshot(&screenshot_dir().join("training-meaning.png"));
}
