//! Watching a model learn, on a real run of `--task repeat` (the induction task) with
//! kept snapshots: `/api/training/learning` reports each snapshot's heads as the engine's
//! head detector scores them and its embedding map turned onto the next snapshot's (the
//! best rotation or reflection, every distance kept); the attention replay writes a sample
//! at each checkpoint as the engine's generation loop would; and the training page (in
//! headless Chromium; skipped without chromium and chromedriver except under `CI=true`)
//! shows every head, the sample, the map moving, the heads over training, and plays.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use glassbox::inspect::learning::{head_scores, map_words, own_map};
use glassbox::io::{load_model, load_model_with_tokenizer};
use glassbox::sample::{generate_within, FullContext, Limits, Sampler, SamplingOptions};
use glassbox::train::tasks::Task;
use serde_json::{json, Value};

/// The snapshots of a 60-step `--task repeat` run kept every 20 steps: step 0 (the
/// random start), 20, 40 and 60.
const STEPS: [u64; 4] = [0, 20, 40, 60];

fn snapshot(run: &Path, step: u64) -> PathBuf {
    run.join(format!("checkpoints/step-{step}"))
}

/// A value through JSON text, as the server's answer comes.
fn as_json(value: &impl serde::Serialize) -> Value {
    serde_json::from_str(&serde_json::to_string(value).unwrap()).unwrap()
}

fn points(value: &Value) -> Vec<[f64; 2]> {
    value.as_array().unwrap().iter().map(|p| [p[0].as_f64().unwrap(), p[1].as_f64().unwrap()]).collect()
}

fn distance(a: [f64; 2], b: [f64; 2]) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

fn squared_gap(a: &[[f64; 2]], b: &[[f64; 2]]) -> f64 {
    a.iter().zip(b).map(|(p, q)| distance(*p, *q).powi(2)).sum()
}

#[test]
fn every_snapshot_reports_its_heads_and_a_map_lined_up_with_the_next() {
    let root = tempfile::tempdir().unwrap();
    let run = repeat_run(root.path(), 60, 20);
    let server = serve(&run);

    let answer = get(server.addr, "/api/training/learning").json();
    assert_eq!(answer["has_checkpoints"], true);
    assert_eq!(answer["pending"], 0, "four snapshots fit one request: {answer}");
    assert_eq!(answer["errors"], json!([]));
    let rows = answer["rows"].as_array().unwrap();
    let listed: Vec<u64> = rows.iter().map(|r| r["step"].as_u64().unwrap()).collect();
    assert_eq!(listed, STEPS);

    // the words: the task's whole vocabulary, the marker and 26 letters
    let (_, tokenizer) = load_model_with_tokenizer(&run).unwrap();
    let words = map_words(tokenizer.as_ref(), 27).unwrap();
    assert_eq!(answer["map_words"], as_json(&words));
    assert_eq!(answer["map_words"]["labels"][0], "^");
    assert_eq!(answer["map_words"]["grouped_by"], "characters");

    let mut own_maps = Vec::new();
    for (row, step) in rows.iter().zip(STEPS) {
        let model = load_model(&snapshot(&run, step)).unwrap();
        // the heads, as the engine's detector scores this snapshot
        assert_eq!(row["heads"], as_json(&head_scores(&model.params).unwrap()), "step {step}");
        assert_eq!(row["heads"]["scores"].as_array().unwrap().len(), 2 * 4);
        let (own, explained) = own_map(&model.params, &words);
        assert_eq!(row["explained"], as_json(&explained));
        own_maps.push(own.iter().map(|p| [p[0] as f64, p[1] as f64]).collect::<Vec<_>>());
    }
    let shown: Vec<Vec<[f64; 2]>> = rows.iter().map(|r| points(&r["map"])).collect();
    // the last map keeps its own frame
    for (a, b) in shown[3].iter().zip(&own_maps[3]) {
        assert!(distance(*a, *b) < 1e-5, "{a:?} vs {b:?}");
    }
    for i in 0..3 {
        // turned, never stretched: every distance within the map is kept
        for a in 0..27 {
            for b in 0..27 {
                let (d_shown, d_own) = (distance(shown[i][a], shown[i][b]), distance(own_maps[i][a], own_maps[i][b]));
                assert!((d_shown - d_own).abs() < 1e-4, "step {}: {d_shown} vs {d_own}", STEPS[i]);
            }
        }
        // and turned onto the next map at least as well as any flip of its axes would be
        let gap = squared_gap(&shown[i], &shown[i + 1]);
        for (sx, sy) in [(1.0, 1.0), (-1.0, 1.0), (1.0, -1.0), (-1.0, -1.0)] {
            let flipped: Vec<[f64; 2]> = own_maps[i].iter().map(|p| [sx * p[0], sy * p[1]]).collect();
            let other = squared_gap(&flipped, &shown[i + 1]);
            assert!(gap <= other + 1e-6, "step {}: aligned gap {gap} > flipped gap {other}", STEPS[i]);
        }
    }

    let refused = get(server.addr, "/api/training/learning?step=3");
    assert_eq!(refused.status, 400);
    assert_eq!(refused.json()["error"]["param"], "step");

    let plain = char_model(32);
    let other = serve(plain.path());
    assert_eq!(
        get(other.addr, "/api/training/learning").json(),
        json!({"rows": [], "pending": 0, "has_checkpoints": false})
    );
}

/// What the engine generates from `prompt` with these settings.
fn engine_sample(dir: &Path, prompt: &[u32], temperature: f32, max_new: usize, end: Option<u32>) -> Vec<u32> {
    let model = load_model(dir).unwrap();
    let limits = Limits { max_new_tokens: max_new, end_of_text: end, full_context: FullContext::Slide };
    let mut sampler = Sampler::new(SamplingOptions { temperature, seed: 1337, ..SamplingOptions::default() }).unwrap();
    generate_within(&model.params, prompt, &limits, &mut sampler, &mut |_| true).unwrap().0
}

fn ids(views: &Value) -> Vec<u32> {
    views.as_array().unwrap().iter().map(|v| v["id"].as_u64().unwrap() as u32).collect()
}

#[test]
fn the_replay_writes_a_sample_at_each_checkpoint() {
    let root = tempfile::tempdir().unwrap();
    let run = repeat_run(root.path(), 60, 20);
    let server = serve(&run);
    let task = Task::from_name("repeat").unwrap();
    let problem = task.example_prompt();
    for step in [0, 60] {
        let answer = post(server.addr, "/api/training/attention", &json!({"step": step, "prompt": "^abcab"})).json();
        let sample = &answer["sample"];
        assert_eq!(ids(&sample["prompt"]), problem, "the task's own problem: {sample}");
        assert_eq!(ids(&sample["expected"]), task.answer(&problem));
        assert_eq!(sample["temperature"], 0.0);
        let greedy = engine_sample(&snapshot(&run, step), &problem, 0.0, task.answer_len, None);
        assert_eq!(ids(&sample["tokens"]), greedy, "step {step}");
    }

    // a text model continues the prompt, sampled at τ 0.8 with seed 1337
    let text = char_model(32);
    let other = serve(text.path());
    let answer = post(other.addr, "/api/training/attention", &json!({"prompt": "hello"})).json();
    let sample = &answer["sample"];
    assert_eq!(sample["expected"], Value::Null);
    assert_eq!(sample["temperature"].as_f64().unwrap() as f32, 0.8);
    let prompt = ids(&sample["prompt"]);
    assert_eq!(prompt, ids(&answer["tokens"]));
    let expected = engine_sample(text.path(), &prompt, 0.8, 64, None);
    assert_eq!(ids(&sample["tokens"]), expected);
    assert_eq!(expected.len(), 64, "the context slides: a full sample");
}

#[test]
fn the_training_page_shows_every_head_the_sample_the_map_moving_and_plays() {
    let Some(driver) = Driver::start() else { return };
    let root = tempfile::tempdir().unwrap();
    let run = repeat_run(root.path(), 60, 20);
    let server = serve(&run);
    for (width, shot) in [(1280, "training-learn.png"), (800, "training-learn-800.png")] {
        let session = driver.session(width, 1000, false);
        session.goto(&format!("{}/training", server.url()));
        session.wait_for("document.body.dataset.ready === '1'", "the training page");
        session.wait_for("document.body.dataset.learningRows === '4'", "every snapshot measured");
        let wider = session.js("return document.documentElement.scrollWidth - window.innerWidth").as_i64().unwrap();
        assert!(wider <= 1, "the page is {wider}px wider than the window at {width}px");
        // every head of the current model: 2 layers × 4 heads, each with its scores
        assert_eq!(session.js("return document.querySelectorAll('#tr-heads-grid canvas.head-thumb').length"), 8);
        let under = session.js("return document.querySelector('#tr-heads-grid .head-cell .mono').textContent");
        assert!(under.as_str().unwrap().starts_with("ind "), "{under}");
        // the heads over training: two scores, two losses and ln V
        assert_eq!(session.js("return document.querySelectorAll('#heads-chart polyline').length"), 2);
        assert_eq!(session.js("return document.querySelectorAll('#heads-loss-chart polyline').length"), 3);
        // the sample: the nine answer letters, each marked right or wrong
        assert_eq!(
            session.js("return document.querySelectorAll('#tr-sample .sample-token.right, #tr-sample .sample-token.wrong').length"),
            9
        );
        // the map: all 27 tokens, at the current model
        assert_eq!(session.js("return document.querySelectorAll('#learn-map g.pt').length"), 27);
        assert_eq!(session.js("return document.querySelector('#learn-map').dataset.step"), "60");
        let place = "return document.querySelector('#learn-map g.pt[data-i=\"5\"]').getAttribute('transform')";
        let at_end = session.js(place);

        // back to the random start: every view follows
        session.js("const s = document.querySelector('#tr-slider'); s.value = '0'; s.dispatchEvent(new Event('input')); return 0");
        session.wait_for("document.body.dataset.replayStep === '0'", "the replay at step 0");
        session.wait_for("document.querySelector('#learn-map').dataset.step === '0'", "the map at step 0");
        assert!(eventually(100, || session.js(place) != at_end), "the point moved");
        assert_eq!(session.js("return document.querySelectorAll('#heads-chart line.marker').length"), 1);

        // a click on a head shows it large
        session.js("document.querySelectorAll('#tr-heads-grid .head-cell')[6].click(); return 0");
        let name = session.js("return document.querySelector('#tr-attn .fig-head .name').textContent");
        assert!(name.as_str().unwrap().ends_with("blocks.1.attn.hook_pattern[2]"), "{name}");

        // play runs through every checkpoint to the current model and stops
        session.js("document.querySelector('#tr-play').click(); return 0");
        session.wait_for("document.body.dataset.replayStep === '20'", "play reaches step 20");
        session.wait_for("document.body.dataset.replayStep === 'current'", "play reaches the end");
        session.wait_for("document.querySelector('#tr-play').textContent === 'Play'", "play stops at the end");
        session.screenshot_page(&screenshot_dir().join(shot));
    }
}
