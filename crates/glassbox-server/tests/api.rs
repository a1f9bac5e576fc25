//! The HTTP API, spoken to over a real socket: the OpenAI-compatible completions (whole
//! and streamed), their error bodies, cancellation when a client hangs up, and the `/api`
//! routes the pages use, checked against the engine itself.

mod common;

use std::io::Write;
use std::time::Duration;

use common::*;
use glassbox::model::{forward, Activations};
use serde_json::{json, Value};

fn assert_openai_error(res: &Response, status: u16, param: Option<&str>) -> Value {
    assert_eq!(res.status, status, "status for body {}", res.text());
    let body = res.json();
    let error = &body["error"];
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "message in {body}");
    assert!(error["type"].is_string(), "type in {body}");
    assert!(error.as_object().unwrap().contains_key("param"), "param key in {body}");
    assert!(error.as_object().unwrap().contains_key("code"), "code key in {body}");
    if let Some(p) = param {
        assert_eq!(error["param"], p, "param in {body}");
    }
    body
}

#[test]
fn models_and_a_whole_completion() {
    let dir = char_model(64);
    let server = serve(dir.path());
    let models = get(server.addr, "/v1/models").json();
    assert_eq!(models["object"], "list");
    let id = models["data"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(get(server.addr, &format!("/v1/models/{id}")).status, 200);
    assert_openai_error(&get(server.addr, "/v1/models/nope"), 404, None);

    let body = json!({"model": id, "prompt": "To be", "max_tokens": 12, "temperature": 0.7, "seed": 3, "logprobs": 3});
    let a = post(server.addr, "/v1/completions", &body);
    assert_eq!(a.status, 200, "{}", a.text());
    let a = a.json();
    assert_eq!(a["object"], "text_completion");
    let choice = &a["choices"][0];
    assert_eq!(choice["finish_reason"], "length");
    assert_eq!(a["usage"]["prompt_tokens"], 5);
    assert_eq!(a["usage"]["completion_tokens"], 12);
    assert_eq!(a["usage"]["total_tokens"], 17);
    let lp = &choice["logprobs"];
    assert_eq!(lp["tokens"].as_array().unwrap().len(), 12);
    assert_eq!(lp["tokens"].as_array().unwrap().concat_strings(), choice["text"].as_str().unwrap());
    for (token_lp, top) in lp["token_logprobs"].as_array().unwrap().iter().zip(lp["top_logprobs"].as_array().unwrap()) {
        assert!(token_lp.as_f64().unwrap() <= 0.0);
        assert!(top.as_object().unwrap().len() <= 3 && !top.as_object().unwrap().is_empty());
    }
    // Same seed, same text; a greedy completion equals the engine's own greedy generation.
    let b = post(server.addr, "/v1/completions", &body).json();
    assert_eq!(a["choices"][0]["text"], b["choices"][0]["text"]);
    let greedy =
        post(server.addr, "/v1/completions", &json!({"prompt": "To be", "max_tokens": 8, "temperature": 0})).json();
    let model = glassbox::io::load_model(dir.path()).unwrap();
    let tok = glassbox::tokenizer::Tokenizer::load(dir.path()).unwrap();
    let mut sampler = glassbox::sample::Sampler::new(Default::default()).unwrap();
    let (ids, _) =
        glassbox::sample::generate(&model.params, &tok.encode("To be"), 8, None, &mut sampler, &mut |_| true).unwrap();
    assert_eq!(greedy["choices"][0]["text"].as_str().unwrap(), tok.decode(&ids).unwrap());
    // Token ids as the prompt, echo and stop sequences.
    let echoed = post(
        server.addr,
        "/v1/completions",
        &json!({"prompt": tok.encode("To be"), "max_tokens": 8, "temperature": 0, "echo": true}),
    )
    .json();
    assert_eq!(echoed["choices"][0]["text"].as_str().unwrap(), format!("To be{}", tok.decode(&ids).unwrap()));
    let full = tok.decode(&ids).unwrap();
    let stop: String = full.chars().skip(3).take(2).collect();
    let stopped = post(
        server.addr,
        "/v1/completions",
        &json!({"prompt": "To be", "max_tokens": 8, "temperature": 0, "stop": stop}),
    )
    .json();
    let expected: String = full.chars().take(full.find(&stop).map(|b| full[..b].chars().count()).unwrap()).collect();
    assert_eq!(stopped["choices"][0]["text"].as_str().unwrap(), expected);
    assert_eq!(stopped["choices"][0]["finish_reason"], "stop");
}

trait Concat {
    fn concat_strings(&self) -> String;
}
impl Concat for Vec<Value> {
    fn concat_strings(&self) -> String {
        self.iter().map(|v| v.as_str().unwrap()).collect()
    }
}

#[test]
fn streamed_completions_arrive_token_by_token_and_end_with_done() {
    let dir = char_model(64);
    let server = serve(dir.path());
    let body = json!({"prompt": "To be", "max_tokens": 10, "temperature": 0, "stream": true, "logprobs": 2});
    let mut events = EventStream::open(server.addr, "/v1/completions", &body);
    assert_eq!(events.status, 200);
    assert!(events
        .headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("content-type") && v.starts_with("text/event-stream")));
    let mut text = String::new();
    let mut chunks = 0;
    let mut finish = None;
    let mut done = false;
    while let Some((_, data)) = events.next_event() {
        if data == "[DONE]" {
            done = true;
            assert!(events.next_event().is_none(), "nothing after [DONE]");
            break;
        }
        let chunk: Value = serde_json::from_str(&data).unwrap();
        assert_eq!(chunk["object"], "text_completion");
        let choice = &chunk["choices"][0];
        text.push_str(choice["text"].as_str().unwrap());
        if choice["finish_reason"].is_string() {
            finish = Some(choice["finish_reason"].as_str().unwrap().to_string());
        } else {
            chunks += 1;
            assert_eq!(choice["logprobs"]["tokens"].as_array().unwrap().len(), 1, "one token per chunk");
        }
    }
    assert!(done, "the stream ends with data: [DONE]");
    assert_eq!(chunks, 10, "one chunk per generated token");
    assert_eq!(finish.as_deref(), Some("length"));
    let whole =
        post(server.addr, "/v1/completions", &json!({"prompt": "To be", "max_tokens": 10, "temperature": 0})).json();
    assert_eq!(whole["choices"][0]["text"].as_str().unwrap(), text);
}

#[test]
fn a_client_that_hangs_up_stops_the_generation() {
    // A long context and a pause after every token (a test hook), so the generation is
    // certainly still running when the client goes away.
    let dir = tempfile::tempdir().unwrap();
    write_char_model(dir.path(), 1, 2, 16, 512, 3);
    let server = serve_with_delay(dir.path(), Duration::from_millis(20));
    let max_tokens = 500;
    let body = json!({"prompt": "To be", "max_tokens": max_tokens, "temperature": 1.0, "stream": true});
    let mut events = EventStream::open(server.addr, "/v1/completions", &body);
    assert_eq!(events.status, 200);
    let (_, first) = events.next_event().expect("a first chunk");
    assert!(first.contains("text_completion"));
    let stats = || get(server.addr, "/api/stats").json();
    assert_eq!(stats()["generations_active"], 1, "the generation runs while the client reads");
    drop(events); // hang up
    assert!(eventually(400, || stats()["generations_active"] == 0), "the generation stopped: {}", stats());
    let s = stats();
    assert_eq!(s["generations_cancelled"], 1, "{s}");
    let produced = s["tokens_generated"].as_u64().unwrap();
    assert!(produced < max_tokens as u64, "stopped early: {produced} of {max_tokens} tokens");

    // The playground's stream stops the same way.
    let mut events = EventStream::open(server.addr, "/api/generate", &json!({"prompt": "To be", "max_tokens": 400}));
    assert_eq!(events.next_event().unwrap().0, "start");
    assert_eq!(events.next_event().unwrap().0, "token");
    drop(events);
    assert!(eventually(400, || stats()["generations_active"] == 0));
    assert_eq!(stats()["generations_cancelled"], 2);
}

#[test]
fn bad_requests_get_openai_error_bodies() {
    let dir = char_model(32);
    let server = serve(dir.path());
    let a = server.addr;
    let res = post_raw(a, "/v1/completions", b"{not json");
    let body = assert_openai_error(&res, 400, None);
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_openai_error(&post_raw(a, "/v1/completions", b""), 400, None);
    assert_openai_error(&post_raw(a, "/v1/completions", b"[1, 2]"), 400, None);
    assert_openai_error(&post_raw(a, "/v1/completions", &[0xff, 0xfe, 0x00]), 400, None);
    assert_openai_error(&post(a, "/v1/completions", &json!({"max_tokens": 3})), 400, Some("prompt"));
    assert_openai_error(&post(a, "/v1/completions", &json!({"prompt": 42})), 400, Some("prompt"));
    let res = post(a, "/v1/completions", &json!({"prompt": "To be", "max_tokens": 40}));
    let body = assert_openai_error(&res, 400, Some("max_tokens"));
    assert_eq!(body["error"]["code"], "context_length_exceeded");
    assert_openai_error(
        &post(a, "/v1/completions", &json!({"prompt": "To be", "temperature": -0.5})),
        400,
        Some("temperature"),
    );
    assert_openai_error(
        &post(a, "/v1/completions", &json!({"prompt": "To be", "temperature": "hot"})),
        400,
        Some("temperature"),
    );
    assert_openai_error(&post(a, "/v1/completions", &json!({"prompt": "To be", "top_p": 1.5})), 400, Some("top_p"));
    assert_openai_error(
        &post(a, "/v1/completions", &json!({"prompt": "To be", "max_tokens": -1})),
        400,
        Some("max_tokens"),
    );
    assert_openai_error(&post(a, "/v1/completions", &json!({"prompt": "To be", "n": 2})), 400, Some("n"));
    assert_openai_error(&post(a, "/v1/completions", &json!({"prompt": "To be", "logprobs": 9})), 400, Some("logprobs"));
    assert_openai_error(&post(a, "/v1/completions", &json!({"prompt": [1, 2, 999]})), 400, Some("prompt"));
    assert_openai_error(&post(a, "/v1/completions", &json!({"prompt": "日本"})), 400, Some("prompt"));
    // Over 1 MiB: 413, with the same error shape.
    let mut big = b"{\"prompt\": \"".to_vec();
    big.extend(std::iter::repeat_n(b'a', (1 << 20) + 10));
    big.extend_from_slice(b"\"}");
    let body = assert_openai_error(&post_raw(a, "/v1/completions", &big), 413, None);
    assert_eq!(body["error"]["code"], "request_too_large");
    // Unknown paths and methods.
    assert_openai_error(&get(a, "/v1/chat/completions"), 404, None);
    assert_openai_error(&get(a, "/api/nothing"), 404, None);
    assert_eq!(get(a, "/no/such/page").status, 404);
    assert_openai_error(&get(a, "/v1/completions"), 405, None);
    // The /api routes refuse bad bodies the same way, and the server is still fine after.
    for path in [
        "/api/walkthrough",
        "/api/generate",
        "/api/tokenize",
        "/api/space/map",
        "/api/space/neighbors",
        "/api/space/analogy",
        "/api/space/drift",
        "/api/training/attention",
    ] {
        assert_openai_error(&post_raw(a, path, b"\x00garbage"), 400, None);
        assert_openai_error(
            &post(
                a,
                path,
                &json!({"prompt": ["not", "text"], "words": 3, "word": 5, "sentences": "x", "layer": -1, "ids": "x"}),
            ),
            400,
            None,
        );
    }
    assert_openai_error(&post(a, "/api/walkthrough", &json!({"prompt": "To be", "layer": 9})), 400, Some("layer"));
    assert_eq!(get(a, "/v1/models").status, 200);
}

#[test]
fn the_walkthrough_json_is_the_engine_s_forward_pass() {
    let dir = char_model(64);
    let server = serve(dir.path());
    let prompt = "To be, or not";
    let res = post(server.addr, "/api/walkthrough", &json!({"prompt": prompt, "layer": 1, "position": 4}));
    assert_eq!(res.status, 200, "{}", res.text());
    let page = res.json();
    // The engine's walkthrough (the JSON of `glassbox explain --json`), unchanged.
    let w = &page["walkthrough"];
    assert_eq!(w["schema"], "glassbox.walkthrough/1");
    let model = glassbox::io::load_model(dir.path()).unwrap();
    let tok = glassbox::tokenizer::Tokenizer::load(dir.path()).unwrap();
    let ids = tok.encode(prompt);
    let t = ids.len();
    let mut acts = Activations::default();
    forward(&model.params, &ids, 1, t, &mut acts).unwrap();
    let floats = |v: &Value| -> Vec<f32> {
        v.as_array().unwrap().iter().map(|x| x.as_f64().map_or(f32::NEG_INFINITY, |f| f as f32)).collect()
    };
    assert_eq!(w["tokens"].as_array().unwrap().len(), t);
    assert_eq!(w["focus"], 4);
    assert_eq!(page["layer"], 1);
    let (c, v) = (32, 65);
    let sums: Vec<f32> = w["embedding"]["rows"].as_array().unwrap().iter().flat_map(|r| floats(&r["sum"])).collect();
    assert_eq!(sums, acts.embedded, "every embedding row, in full");
    assert_eq!(w["blocks"][1]["ln_1"]["mean"].as_f64().unwrap() as f32, acts.blocks[1].ln1_mean[4]);
    assert_eq!(floats(&w["blocks"][1]["ln_1"]["x"]), acts.blocks[0].resid_post[4 * c..5 * c]);
    for l in 0..2 {
        for h in 0..2 {
            for q in 0..t {
                let row = floats(&w["blocks"][l]["attention"]["heads"][h]["pattern"][q]);
                assert_eq!(row, acts.blocks[l].attn_pattern[h * t * t + q * t..h * t * t + q * t + q + 1]);
            }
        }
    }
    // The largest logits, best first, and every logit of the focused position.
    for entry in w["logits"]["top"].as_array().unwrap() {
        let id = entry["id"].as_u64().unwrap() as usize;
        assert_eq!(entry["logit"].as_f64().unwrap() as f32, acts.logits[4 * v + id]);
    }
    assert_eq!(floats(&page["focus_logits"]), acts.logits[4 * v..5 * v]);
    let predicted = glassbox::sample::argmax(&acts.logits[4 * v..5 * v]);
    assert_eq!(w["lens"]["cells"][2][4]["top"][0]["id"], predicted, "the lens's last row is the model's output");
    assert_eq!(w["tokens"][0]["text"], "T");
    assert_eq!(w["tokens"][0]["bytes"], json!([b'T']));
    // The block's full tensors, from the engine's trace.
    let tensors = &page["tensors"];
    assert_eq!(floats(&tensors["blocks.1.mlp.hook_post"]["data"]), acts.blocks[1].mlp_post);
    assert_eq!(tensors["blocks.1.mlp.hook_post"]["shape"], json!([t, 4 * c]));
    assert_eq!(tensors["blocks.1.attn.hook_q"]["shape"], json!([t, 2, 16]));
    assert_eq!(floats(&tensors["blocks.1.attn.hook_z"]["data"]), acts.blocks[1].z);
    // A prompt longer than the walkthrough shows is refused with a reason.
    let long = "a".repeat(65);
    let res = post(server.addr, "/api/walkthrough", &json!({"prompt": long}));
    assert_eq!(res.status, 400);
}

#[test]
fn conformance_models_work_with_ids_and_with_gpt2_s_vocabulary() {
    let Some(shared) = shared_dir() else { return };
    // tiny has no tokenizer: prompts are token ids.
    let server = serve(&shared.join("conformance/tiny"));
    let info = get(server.addr, "/api/model").json();
    assert_eq!(info["tokenizer"]["kind"], "ids");
    let w = post(server.addr, "/api/walkthrough", &json!({"prompt": "1 2 3 4"})).json();
    let ids: Vec<u64> =
        w["walkthrough"]["tokens"].as_array().unwrap().iter().map(|t| t["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, [1, 2, 3, 4]);
    assert_eq!(w["walkthrough"]["tokens"][0]["label"], "#1");
    let res = post(server.addr, "/api/walkthrough", &json!({"prompt": "hello"}));
    assert_openai_error(&res, 400, Some("prompt"));
    let c =
        post(server.addr, "/v1/completions", &json!({"prompt": [1, 2, 3], "max_tokens": 4, "temperature": 0})).json();
    assert_eq!(c["usage"]["completion_tokens"].as_u64().unwrap() + 3, c["usage"]["total_tokens"].as_u64().unwrap());
    drop(server);

    // gpt2vocab has GPT-2's vocab.json + merges.txt: Chinese splits into partial tokens,
    // each shown with the character it helps to form.
    let server = serve(&shared.join("conformance/gpt2vocab"));
    let t = post(server.addr, "/api/tokenize", &json!({"prompt": "Hello 你好"})).json();
    let tokens = t["tokens"].as_array().unwrap();
    assert_eq!(tokens[0]["text"], "Hello");
    let partial: Vec<&Value> = tokens.iter().filter(|t| t["whole"] == false).collect();
    assert!(!partial.is_empty(), "你好 takes byte-level pieces: {t}");
    assert!(partial.iter().all(|p| p["parts"].as_array().unwrap().iter().any(|x| x["part_of"].is_string())));
    let w = post(server.addr, "/api/walkthrough", &json!({"prompt": "Hello 你好"})).json();
    assert_eq!(w["focus_logits"].as_array().unwrap().len(), 50257);
    let parts: Vec<&Value> =
        w["walkthrough"]["tokens"].as_array().unwrap().iter().filter(|t| t["part_of"].is_string()).collect();
    assert!(!parts.is_empty());
    let c = post(server.addr, "/v1/completions", &json!({"prompt": "Hello", "max_tokens": 5, "temperature": 0})).json();
    assert_eq!(c["usage"]["completion_tokens"], 5);
}

#[test]
fn the_training_log_is_read_as_it_grows_and_checkpoints_replay() {
    let dir = tempfile::tempdir().unwrap();
    write_char_model(dir.path(), 2, 2, 32, 64, 1);
    for step in [10, 20] {
        write_char_model(&dir.path().join(format!("checkpoints/step-{step}")), 2, 2, 32, 64, step);
    }
    let log_path = dir.path().join("log.jsonl");
    let mut log = std::fs::File::create(&log_path).unwrap();
    writeln!(log, "{}", json!({"step": 1, "loss": 4.1, "lr": 0.001, "grad_norm": 1.0, "tokens": 512, "ms": 10.0}))
        .unwrap();
    writeln!(log, "{}", json!({"step": 2, "loss": 3.9, "lr": 0.001, "grad_norm": 1.0, "tokens": 512, "ms": 10.0}))
        .unwrap();
    write!(log, "{{\"step\": 3, \"lo").unwrap(); // a line being written
    log.flush().unwrap();
    let server = serve(dir.path());
    let first = get(server.addr, "/api/training/log").json();
    assert_eq!(first["is_run"], true);
    assert_eq!(first["rows"].as_array().unwrap().len(), 2, "the unfinished line waits");
    let next = first["next"].as_u64().unwrap();
    writeln!(log, "ss\": 3.7}}").unwrap();
    writeln!(log, "{}", json!({"step": 3, "val_loss": 3.8})).unwrap();
    log.flush().unwrap();
    let second = get(server.addr, &format!("/api/training/log?from={next}")).json();
    let rows = second["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["loss"], 3.7);
    assert_eq!(rows[1]["val_loss"], 3.8);
    assert_eq!(get(server.addr, "/api/training/checkpoints").json()["steps"], json!([10, 20]));
    let a10 = post(server.addr, "/api/training/attention", &json!({"step": 10, "prompt": "To be"})).json();
    let a20 = post(server.addr, "/api/training/attention", &json!({"step": 20, "prompt": "To be"})).json();
    assert_eq!(a10["step"], 10);
    assert_ne!(a10["attention"][1]["heads"][0]["data"], a20["attention"][1]["heads"][0]["data"]);
    let current = post(server.addr, "/api/training/attention", &json!({"prompt": "To be"})).json();
    assert!(current["step"].is_null());
    assert_openai_error(
        &post(server.addr, "/api/training/attention", &json!({"step": 15, "prompt": "To be"})),
        400,
        Some("step"),
    );
    // A model directory that is not a run says so.
    let plain = char_model(32);
    let other = serve(plain.path());
    assert_eq!(get(other.addr, "/api/training/log").json()["is_run"], false);
}

#[test]
fn a_model_rewritten_by_training_is_reloaded() {
    let dir = char_model(32);
    let server = serve(dir.path());
    let before = post(server.addr, "/api/walkthrough", &json!({"prompt": "To"})).json();
    // What `glassbox train` does at a checkpoint: a new model.safetensors, renamed into place.
    std::thread::sleep(Duration::from_millis(20)); // a different modification time
    write_char_model(dir.path(), 2, 2, 32, 32, 99);
    let after = post(server.addr, "/api/walkthrough", &json!({"prompt": "To"})).json();
    assert_ne!(before["focus_logits"], after["focus_logits"]);
    assert_eq!(get(server.addr, "/api/stats").json()["model_reloads"], 1);
}

#[test]
fn the_semantic_space_answers() {
    let dir = char_model(64);
    let server = serve(dir.path());
    let map = post(server.addr, "/api/space/map", &json!({"words": ["a", "b", "c", "d", "e", "zz", "a", "日"]})).json();
    assert_eq!(map["points"].as_array().unwrap().len(), 6, "{map}");
    assert_eq!(map["points"][5]["ids"].as_array().unwrap().len(), 2, "a word of two tokens is their mean");
    assert_eq!(map["skipped"].as_array().unwrap().len(), 2, "the repeated word and the unknown character");
    let nb = post(server.addr, "/api/space/neighbors", &json!({"word": "a", "k": 5})).json();
    let list = nb["neighbors"].as_array().unwrap();
    assert_eq!(list.len(), 5);
    assert!(list.windows(2).all(|w| w[0]["cosine"].as_f64() >= w[1]["cosine"].as_f64()));
    let an = post(server.addr, "/api/space/analogy", &json!({"a": "A", "b": "a", "c": "b"})).json();
    assert_eq!(an["results"].as_array().unwrap().len(), 8);
    let dr = post(server.addr, "/api/space/drift", &json!({"word": "o", "sentences": ["To be or not", "Good morrow"]}))
        .json();
    assert_eq!(dr["texts"].as_array().unwrap().len(), 2);
    // the token embedding, each block's input, the last block's output
    assert_eq!(dr["similarity"].as_array().unwrap().len(), 4);
    assert_eq!(dr["mean_similarity"][0], 1.0, "the same token embedding in both");
    let missing =
        post(server.addr, "/api/space/drift", &json!({"word": "q", "sentences": ["To be or not", "Good morrow"]}));
    assert_openai_error(&missing, 400, Some("sentences"));
}

#[test]
fn the_pages_and_their_assets_are_served_from_the_binary() {
    let dir = char_model(32);
    let server = serve(dir.path());
    for page in ["/", "/playground", "/space", "/training", "/api-docs"] {
        let res = get(server.addr, page);
        assert_eq!(res.status, 200, "{page}");
        assert!(res.header("content-type").unwrap().starts_with("text/html"));
        let html = res.text();
        // Offline: nothing from outside.
        assert!(!html.contains("http://") && !html.contains("https://"), "{page} loads nothing from outside");
    }
    for asset in ["app.css", "common.js", "i18n.js", "walkthrough.js", "playground.js", "space.js", "training.js"] {
        let res = get(server.addr, &format!("/assets/{asset}"));
        assert_eq!(res.status, 200, "{asset}");
        let text = res.text();
        assert!(
            !text.contains("https://") && !text.contains("http://") && !text.contains("@import"),
            "{asset} loads nothing from outside"
        );
    }
    assert!(get(server.addr, "/assets/common.js").header("content-type").unwrap().contains("javascript"));
    assert_eq!(get(server.addr, "/assets/nope.js").status, 404);
    assert_eq!(get(server.addr, "/assets/../Cargo.toml").status, 404);
}

#[test]
fn weight_pictures_are_the_engine_s_and_bad_requests_say_why() {
    let dir = char_model(32);
    let model = glassbox::io::load_model(dir.path()).unwrap();
    let server = serve(dir.path());
    use glassbox::inspect::products::{weight_picture, Product};
    for (name, product, layer, side) in
        [("c_fc", Product::CFc, 0, 8), ("head", Product::Head, 0, 64), ("c_attn", Product::CAttn, 0, 256)]
    {
        let res = post(server.addr, "/api/weight", &json!({"product": name, "layer": layer, "side": side}));
        assert_eq!(res.status, 200, "{}", res.text());
        let sent = res.json();
        let picture = weight_picture(&model.params, product, layer, side).unwrap();
        assert_eq!(sent["weight"], picture.weight);
        assert_eq!(sent["shape"], json!(picture.shape));
        assert_eq!(
            (sent["rows"].as_u64(), sent["cols"].as_u64()),
            (Some(picture.rows as u64), Some(picture.cols as u64))
        );
        assert_eq!(sent["col_step"], picture.col_step);
        let data: Vec<f32> = sent["data"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect();
        assert_eq!(data, picture.data, "{name}");
    }
    for (body, param) in [
        (json!({"product": "c_xx", "layer": 0}), "product"),
        (json!({"layer": 0}), "product"),
        (json!({"product": "c_fc", "layer": 99}), "layer"),
        (json!({"product": "c_fc", "side": 0}), "side"),
        (json!({"product": "c_fc", "side": 100000}), "side"),
        (json!({"product": "c_fc", "rows": 3}), "rows"),
    ] {
        let res = post(server.addr, "/api/weight", &body);
        assert_eq!(res.status, 400, "{body}: {}", res.text());
        let error = res.json();
        assert_eq!(error["error"]["param"], param, "{error}");
        assert!(error["error"]["message"].as_str().unwrap().len() > 10);
    }
    assert_eq!(post_raw(server.addr, "/api/weight", b"not json").status, 400);
}
