//! The "Where knowledge lives" chapter: `/api/attribute` and `/api/causal` answer what the
//! engine computes (attribution's parts summing to the logit, the causal sweep cell for
//! cell), refuse bad requests with a sentence naming the field, offer a fact on a facts
//! run, and the page draws the bars and three heatmaps in English and 中文 (photographed).

mod common;

use common::*;
use glassbox::inspect::attribution::attribute;
use glassbox::inspect::causal::{causal_trace, CausalOptions, Corruption};
use serde_json::json;

fn floats(v: &serde_json::Value) -> Vec<f32> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

#[test]
fn the_api_answers_what_the_engine_computes() {
    let dir = char_model(64);
    let server = serve(dir.path());
    let model = glassbox::io::load_model(dir.path()).unwrap();
    let prompt = "To be, or not to be";
    let ids: Vec<u32> = prompt.chars().map(|ch| CHARS.find(ch).unwrap() as u32).collect();

    let res = post(server.addr, "/api/attribute", &json!({"prompt": prompt, "target": "e", "versus": "o"}));
    assert_eq!(res.status, 200, "{}", res.text());
    let body = res.json();
    let expected = attribute(
        &model.params,
        &ids,
        ids.len() - 1,
        Some(CHARS.find('e').unwrap() as u32),
        Some(CHARS.find('o').unwrap() as u32),
    )
    .unwrap();
    let values =
        floats(&json!(body["components"].as_array().unwrap().iter().map(|c| c["value"].clone()).collect::<Vec<_>>()));
    assert_eq!(values, expected.components.iter().map(|c| c.value).collect::<Vec<_>>());
    assert_eq!(body["logit"].as_f64().unwrap() as f32, expected.logit);
    let sum: f32 = values.iter().sum();
    assert!((sum - expected.logit).abs() <= 1e-4 * (1.0 + expected.logit.abs()));
    assert_eq!(body["target"]["id"], CHARS.find('e').unwrap());
    assert_eq!(body["tokens"].as_array().unwrap().len(), ids.len());

    let res = post(server.addr, "/api/causal", &json!({"prompt": prompt, "subject": "not", "corrupt": "replace:bad"}));
    assert_eq!(res.status, 200, "{}", res.text());
    let body = res.json();
    assert_eq!(body["subject"], json!([10, 13]), "the subject found by its text");
    let replacement: Vec<u32> = "bad".chars().map(|ch| CHARS.find(ch).unwrap() as u32).collect();
    let options = CausalOptions {
        subject: 10..13,
        corruption: Corruption::Replace { ids: replacement },
        window: 1,
        target: None,
        versus: None,
    };
    let expected = causal_trace(&model.params, &ids, &options).unwrap();
    for (kind, ours) in expected.kinds.iter().zip(body["kinds"].as_array().unwrap()) {
        assert_eq!(ours["kind"], kind.kind.name());
        let grid: Vec<Vec<f32>> = ours["prob"].as_array().unwrap().iter().map(floats).collect();
        assert_eq!(grid, kind.prob, "{}", kind.kind.name());
    }
    assert_eq!(body["clean"]["prob"].as_f64().unwrap() as f32, expected.clean.prob);

    // bad requests: a sentence naming the field
    let refused = |path: &str, body: serde_json::Value, param: &str, needle: &str| {
        let res = post(server.addr, path, &body);
        assert_eq!(res.status, 400, "{}", res.text());
        let error = &res.json()["error"];
        assert_eq!(error["param"], param, "{error}");
        assert!(error["message"].as_str().unwrap().contains(needle), "{error}");
    };
    refused("/api/causal", json!({"prompt": prompt, "subject": "30..40"}), "subject", "not a range");
    refused("/api/causal", json!({"prompt": prompt, "subject": "xyzzy"}), "subject", "neither a range");
    refused("/api/causal", json!({"prompt": prompt}), "subject", "missing");
    refused("/api/causal", json!({"prompt": prompt, "subject": "0..2", "corrupt": "replace:a"}), "corrupt", "as many");
    refused("/api/causal", json!({"prompt": prompt, "subject": "0..2", "samples": 0}), "samples", "use 1 to");
    refused("/api/causal", json!({"prompt": prompt, "subject": "0..2", "layer": 1}), "layer", "unknown field");
    refused("/api/attribute", json!({"prompt": prompt, "target": "To"}), "target", "2 tokens");
    refused("/api/attribute", json!({"prompt": prompt, "position": 99}), "position", "does not exist");
    let res = post_raw(server.addr, "/api/causal", b"not json");
    assert_eq!(res.status, 400, "{}", res.text());
    // a plain model offers no fact
    assert_eq!(get(server.addr, "/api/knowledge").json()["facts"], false);
}

#[test]
fn a_facts_run_offers_one_of_its_facts_and_the_page_draws_it_in_both_languages() {
    let root = tempfile::tempdir().unwrap();
    let run = facts_run(root.path(), 8, 30);
    let server = serve(&run);
    let example = get(server.addr, "/api/knowledge").json();
    assert_eq!(example["facts"], true);
    let prompt = example["prompt"].as_str().unwrap();
    assert_eq!(prompt.len(), 26, "padded to the task's prompt length: {prompt}");
    let subject = example["subject"].as_str().unwrap();
    let (a, b) = subject.split_once("..").unwrap();
    let name = &prompt[a.parse::<usize>().unwrap()..b.parse::<usize>().unwrap()];
    assert!(prompt.trim_start_matches('.').starts_with(name), "{prompt} names {name} first");

    let _one = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let Some(driver) = Driver::start() else { return };
    let session = driver.session(1280, 900, false);
    let shots = screenshot_dir();
    for lang in ["en", "zh"] {
        session.goto(&format!("{}/knowledge", server.url()));
        session.wait_for("document.body.dataset.ready === '1'", "the knowledge page");
        set_lang(&session, lang);
        session.wait_for("Number(document.body.dataset.traced) > 0", "the trace");
        let drawn = session.js(
            "return [document.querySelectorAll('#kn-causal canvas').length, document.querySelectorAll('#kn-attr .kn-bar').length, document.querySelectorAll('#kn-tokens .why-cell').length]",
        );
        // embed + 2 layers × (2 heads + bias + mlp) + β = 10 bars; 26 tokens
        assert_eq!(drawn, json!([3, 10, 26]), "three heatmaps, every part's bar, every token");
        let head = session.js("return document.getElementById('kn-causal-head').textContent");
        assert!(!head.as_str().unwrap().is_empty());
        session.screenshot_page(&shots.join(format!("{lang}-knowledge.png")));
    }
}
