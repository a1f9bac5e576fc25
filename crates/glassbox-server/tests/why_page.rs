//! The "Why transformers" chapter: `serve` on a `glassbox compare` folder serves its GPT
//! on every page and reads a text with its LSTM beside it — each token's influence on the
//! last prediction (checked against the engine), the GPT's attention from the last token
//! (each layer's row a distribution), the LSTM's step dependences — and draws the
//! comparison's three charts, in English and 中文 (photographed). On a plain model the
//! chapter says how to get there.

mod common;

use common::*;
use glassbox::inspect::influence::{gpt_influence, recurrent_influence};
use serde_json::json;

#[test]
fn the_api_reads_one_text_with_both_models() {
    let root = tempfile::tempdir().unwrap();
    let dir = comparison(root.path());
    let server = serve(&dir);
    let info = get(server.addr, "/api/why").json();
    assert_eq!(info["available"], true, "{info}");
    assert!(info["lstm"]["describe"].as_str().unwrap().contains("LSTM"), "{info}");
    assert_eq!(info["report"]["reach"]["lstm"]["first_length_below_90"], 32);
    let sample = info["sample"].as_str().unwrap();
    // the opening of the text, cut to the GPT's context of 32 characters
    assert_eq!(sample, "To be, or not to be, that is the");
    // every page serves the comparison's GPT
    assert_eq!(get(server.addr, "/api/model").json()["n_layer"], 2);

    let res = post(server.addr, "/api/why/reach", &json!({"prompt": "To be, or not"}));
    assert_eq!(res.status, 200, "{}", res.text());
    let body = res.json();
    let ids: Vec<u32> = body["tokens"].as_array().unwrap().iter().map(|t| t["id"].as_u64().unwrap() as u32).collect();
    assert_eq!(ids.len(), 13);
    let floats = |v: &serde_json::Value| -> Vec<f32> {
        v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
    };
    let gpt = glassbox::io::load_model(&dir.join("runs/quality-gpt")).unwrap();
    let lstm = glassbox::recurrent::files::load_recurrent(&dir.join("runs/quality-lstm")).unwrap();
    let expected_gpt = gpt_influence(&gpt.params, &ids).unwrap();
    let expected_lstm = recurrent_influence(&lstm.params, &ids).unwrap();
    assert_eq!(floats(&body["gpt"]["influence"]), expected_gpt.per_token);
    assert_eq!(floats(&body["lstm"]["influence"]), expected_lstm.per_token);
    assert_eq!(body["lstm"]["next"], expected_lstm.next);
    assert_eq!(body["gpt"]["next_token"]["id"], expected_gpt.next, "the prediction comes with its text");
    let attention = body["gpt"]["attention"].as_array().unwrap();
    assert_eq!(attention.len(), 2, "one row per layer");
    for row in attention {
        let total: f32 = floats(row).iter().sum();
        assert!((total - 1.0).abs() < 1e-4, "the last token's attention is a distribution: {total}");
    }
    let dependence = body["lstm"]["dependence"].as_array().unwrap();
    assert_eq!(dependence.len(), 13);
    assert!(dependence.iter().all(|step| step.as_array().unwrap().len() == 2), "one per layer");
    // bad input: a field it does not take
    let res = post(server.addr, "/api/why/reach", &json!({"prompt": "To be", "layer": 1}));
    assert_eq!(res.status, 400, "{}", res.text());
}

#[test]
fn a_plain_model_says_how_to_get_the_comparison() {
    let dir = char_model(64);
    let server = serve(dir.path());
    assert_eq!(get(server.addr, "/api/why").json()["available"], false);
    let res = post(server.addr, "/api/why/reach", &json!({"prompt": "To be"}));
    assert_eq!(res.status, 404, "{}", res.text());
    assert!(res.text().contains("glassbox compare"), "{}", res.text());
}

#[test]
fn the_page_draws_both_models_and_three_charts_in_both_languages() {
    let _one = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let Some(driver) = Driver::start() else { return };
    let root = tempfile::tempdir().unwrap();
    let dir = comparison(root.path());
    let server = serve(&dir);
    let session = driver.session(1280, 900, false);
    let shots = screenshot_dir();
    for lang in ["en", "zh"] {
        session.goto(&format!("{}/why", server.url()));
        session.wait_for("document.body.dataset.ready === '1'", "the why page");
        set_lang(&session, lang);
        session.wait_for("Number(document.body.dataset.read) > 1", "the reading");
        let charts = session.js("return ['why-speed-chart', 'why-quality-chart', 'why-reach-chart'].map((id) => document.querySelectorAll('#' + id + ' polyline').length)");
        assert_eq!(charts, json!([2, 2, 2]), "two lines in each chart");
        let cells = session.js("return [document.querySelectorAll('#why-gpt .why-cell').length, document.querySelectorAll('#why-lstm .why-cell').length, document.querySelectorAll('#why-lstm .why-arrow').length]");
        let tokens = session.js("return Number(document.body.dataset.read)").as_u64().unwrap();
        assert_eq!(cells, json!([tokens, tokens, tokens - 1]), "a cell per token, an arrow between steps");
        let verdict = session.js("return document.getElementById('why-verdict').textContent");
        assert!(!verdict.as_str().unwrap().is_empty());
        session.screenshot_page(&shots.join(format!("{lang}-why.png")));
    }
}
