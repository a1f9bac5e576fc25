//! The inspection commands from the outside: `trace` writes what Hugging Face computes,
//! `explain --json` holds layer norms that satisfy their formula, `lens`, `heads` and
//! `space` run and say what they found, a map is an SVG that parses, and bad input gets
//! one sentence and exit code 2.

mod common;

use glassbox::config::GptConfig;
use glassbox::io::safetensors::SafetensorsFile;
use glassbox::io::save_model;
use glassbox::model::Params;
use glassbox::tokenizer::{CharTokenizer, Tokenizer};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn glassbox(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_glassbox")).args(args).env("NO_COLOR", "1").output().expect("run glassbox")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn ok(args: &[&str]) -> String {
    let out = glassbox(args);
    assert!(out.status.success(), "glassbox {args:?} failed: {}", stderr(&out));
    stdout(&out)
}

/// Runs a command that must fail as bad input: exit code 2, one sentence on stderr.
fn bad_input(args: &[&str]) -> String {
    let out = glassbox(args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "glassbox {args:?} should exit 2; stderr: {err}");
    assert!(err.starts_with("error: ") && err.trim_end().lines().count() == 1, "one sentence: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// The conformance folders (tiny, small, hubkeys, gpt2vocab), or none with a note.
fn conformance() -> Vec<PathBuf> {
    let shared = match std::env::var_os("GLASSBOX_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    };
    let root = shared.join("conformance");
    if !root.is_dir() {
        let ci = std::env::var("CI").map(|v| !v.is_empty() && v != "false" && v != "0").unwrap_or(false);
        assert!(!ci, "the shared fixtures are missing at {} (set GLASSBOX_SHARED)", root.display());
        common::skip(&format!("no fixtures at {}; set GLASSBOX_SHARED", root.display()));
        return Vec::new();
    }
    let mut dirs: Vec<PathBuf> =
        std::fs::read_dir(root).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    dirs
}

fn close(name: &str, ours: &[f32], theirs: &[f32]) {
    assert_eq!(ours.len(), theirs.len(), "{name}: length");
    let max_ref = theirs.iter().fold(0f32, |m, v| m.max(v.abs()));
    let worst = ours.iter().zip(theirs).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(worst <= 1e-4 * (1.0 + max_ref), "{name}: max |ours − ref| = {worst:e}");
}

#[test]
fn trace_writes_what_hugging_face_computes() {
    for dir in conformance() {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let expected = SafetensorsFile::open(&dir.join("expected.safetensors")).unwrap();
        let (ids, shape) = expected.read_i64("input_ids").unwrap();
        let rows: Vec<String> =
            ids.chunks(shape[1]).map(|r| r.iter().map(i64::to_string).collect::<Vec<_>>().join(",")).collect();
        let out_dir = tempfile::tempdir().unwrap();
        let file = out_dir.path().join("trace.safetensors");
        let mut args = vec!["trace", dir.to_str().unwrap(), "--out", file.to_str().unwrap(), "--grads"];
        for row in &rows {
            args.extend(["--ids", row.as_str()]);
        }
        let printed = ok(&args);
        assert!(
            printed.contains("wrote") && printed.contains("blocks.{0..") && printed.contains("load_file"),
            "{printed}"
        );
        let traced = SafetensorsFile::open(&file).unwrap();
        let read = |key: &str| traced.read_f32(key).unwrap_or_else(|e| panic!("{name}: {e}")).0;
        let reference = |key: &str| expected.read_f32(key).unwrap().0;
        let n_layer = (0..).take_while(|l| traced.tensors.contains_key(&format!("blocks.{l}.hook_resid_post"))).count();
        assert!(n_layer >= 2);
        close(&format!("{name} logits"), &read("logits"), &reference("logits"));
        for layer in 0..n_layer {
            if layer + 1 < n_layer {
                let key = format!("hidden_states.{}", layer + 1);
                close(
                    &format!("{name} resid_post {layer}"),
                    &read(&format!("blocks.{layer}.hook_resid_post")),
                    &reference(&key),
                );
            }
            let key = format!("attentions.{layer}");
            close(
                &format!("{name} pattern {layer}"),
                &read(&format!("blocks.{layer}.attn.hook_pattern")),
                &reference(&key),
            );
        }
        close(
            &format!("{name} ln_final"),
            &read("ln_final.hook_normalized"),
            &reference(&format!("hidden_states.{n_layer}")),
        );
        let mut grads = 0;
        for key in traced.tensors.keys().filter(|k| k.starts_with("grad.")) {
            let theirs = if expected.tensors.contains_key(key) {
                key.clone()
            } else {
                key.replacen("grad.transformer.", "grad.", 1)
            };
            close(&format!("{name} {key}"), &read(key), &reference(&theirs));
            grads += 1;
        }
        assert_eq!(grads, 2 + 12 * n_layer + 2, "{name}: every parameter's gradient");
    }
}

#[test]
fn trace_records_only_the_hooks_asked_for_and_applies_ablations() {
    let Some(dir) = conformance().into_iter().find(|d| d.ends_with("small")) else { return };
    let out_dir = tempfile::tempdir().unwrap();
    let file = out_dir.path().join("t.safetensors");
    let d = dir.to_str().unwrap();
    ok(&[
        "trace",
        d,
        "--ids",
        "5,6,7,8,9",
        "--out",
        file.to_str().unwrap(),
        "--hooks",
        "blocks.1.attn.hook_z,logits",
        "--ablate",
        "blocks.1.attn.head.2",
    ]);
    let traced = SafetensorsFile::open(&file).unwrap();
    assert_eq!(traced.tensors.keys().collect::<Vec<_>>(), ["blocks.1.attn.hook_z", "logits"]);
    let (z, shape) = traced.read_f32("blocks.1.attn.hook_z").unwrap();
    assert_eq!(shape, vec![5, 4, 16]);
    for pos in 0..5 {
        for head in 0..4 {
            let part = &z[(pos * 4 + head) * 16..(pos * 4 + head + 1) * 16];
            assert_eq!(part.iter().all(|&v| v == 0.0), head == 2, "position {pos} head {head}");
        }
    }
    assert!(traced.metadata["interventions"].contains("zero blocks.1.attn.hook_z head 2"));
    let listed = ok(&["trace", d, "--ids", "5,6,7", "--list"]);
    assert!(listed.contains("blocks.2.attn.hook_pattern") && listed.contains("[4, 3, 3]"), "{listed}");
}

/// Recomputes a layer norm from the walkthrough's numbers.
fn check_layer_norm(name: &str, ln: &Value) {
    let v = |k: &str| -> Vec<f64> { ln[k].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect() };
    let (x, gamma, beta, out) = (v("x"), v("gamma"), v("beta"), v("normalized"));
    let (mean, var, eps) = (ln["mean"].as_f64().unwrap(), ln["var"].as_f64().unwrap(), ln["epsilon"].as_f64().unwrap());
    let n = x.len() as f64;
    let mean_x = x.iter().sum::<f64>() / n;
    let var_x = x.iter().map(|a| (a - mean_x).powi(2)).sum::<f64>() / n;
    assert!((mean - mean_x).abs() < 1e-5 * (1.0 + mean_x.abs() + var_x.sqrt()), "{name}: E[x]");
    assert!((var - var_x).abs() < 1e-4 * (1.0 + var_x), "{name}: Var[x] {var} vs {var_x}");
    let max_out = out.iter().fold(0f64, |m, a| m.max(a.abs()));
    for i in 0..x.len() {
        let expect = (x[i] - mean) / (var + eps).sqrt() * gamma[i] + beta[i];
        assert!((out[i] - expect).abs() < 1e-4 * (1.0 + max_out), "{name}[{i}]: {} vs {expect}", out[i]);
    }
}

#[test]
fn explain_prints_the_walkthrough_and_its_json_holds_together() {
    let Some(dir) = conformance().into_iter().find(|d| d.ends_with("gpt2vocab")) else { return };
    let d = dir.to_str().unwrap();
    let json: Value = serde_json::from_str(&ok(&["explain", d, "The bank raised its rates", "--json"])).unwrap();
    assert_eq!(json["schema"], "glassbox.walkthrough/1");
    assert_eq!(json["model"]["n_layer"], 2);
    let tokens = json["tokens"].as_array().unwrap();
    assert_eq!(tokens[1]["text"], " bank");
    assert_eq!(json["focus"].as_u64().unwrap() as usize, tokens.len() - 1);
    for block in json["blocks"].as_array().unwrap() {
        check_layer_norm("ln_1", &block["ln_1"]);
        check_layer_norm("ln_2", &block["ln_2"]);
        let heads = block["attention"]["heads"].as_array().unwrap();
        assert_eq!(heads.len(), 2);
        assert_eq!(heads[0]["pattern"].as_array().unwrap().len(), tokens.len());
    }
    check_layer_norm("ln_f", &json["ln_f"]);
    assert_eq!(json["logits"]["top"].as_array().unwrap().len(), 200);
    assert!(json["logits"]["all"].is_null(), "50257 logits are summarised by the top 200");
    let predicted = json["softmax"]["predicted"].as_u64().unwrap();
    assert!(json["vocab"][predicted.to_string()]["display"].is_string());

    // the terminal rendering prints the same numbers, read from the same arena
    let text = ok(&["explain", d, "The bank raised its rates"]);
    for chapter in [
        "Tokens",
        "Embedding",
        "Block 0",
        "Layer norm 1",
        "Self-attention",
        "MLP",
        "residual stream",
        "Final layer norm",
        "logits",
        "Softmax",
        "Logit lens",
    ] {
        assert!(text.contains(chapter), "missing chapter {chapter}:\n{text}");
    }
    let ln_f_mean = json["ln_f"]["mean"].as_f64().unwrap();
    assert!(text.contains(&format!("E[x] = {ln_f_mean:.5}")), "ln_f's E[x] {ln_f_mean:.5} printed:\n{text}");
    // another focus position, and an ablation, change the numbers
    let other: Value =
        serde_json::from_str(&ok(&["explain", d, "The bank raised its rates", "--json", "--position", "1"])).unwrap();
    assert_eq!(other["focus"], 1);
    assert_ne!(other["ln_f"]["mean"], json["ln_f"]["mean"]);
    let ablated: Value = serde_json::from_str(&ok(&[
        "explain",
        d,
        "The bank raised its rates",
        "--json",
        "--ablate",
        "blocks.1.attn.head.0",
    ]))
    .unwrap();
    assert_eq!(ablated["interventions"][0], "zero blocks.1.attn.hook_z head 0");
    assert_ne!(ablated["logits"]["top"][0], json["logits"]["top"][0]);
    assert_eq!(
        ablated["blocks"][0]["ln_2"]["mean"], json["blocks"][0]["ln_2"]["mean"],
        "block 0 is upstream of the ablation"
    );
}

#[test]
fn lens_ends_at_the_models_own_prediction() {
    let Some(dir) = conformance().into_iter().find(|d| d.ends_with("gpt2vocab")) else { return };
    let d = dir.to_str().unwrap();
    let lens: Value = serde_json::from_str(&ok(&["lens", d, "The bank raised its rates", "--json"])).unwrap();
    let layers = lens["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 3);
    let last = lens["cells"][2].as_array().unwrap();
    for (t, cell) in last.iter().enumerate() {
        assert_eq!(cell["final_token_rank"], 1);
        assert_eq!(cell["kl_to_final"], 0.0);
        assert_eq!(cell["top"][0]["id"], lens["final_tokens"][t]);
    }
    let text = ok(&["lens", d, "The bank raised its rates"]);
    assert!(text.contains("blocks.0.hook_resid_pre") && text.contains("KL"), "{text}");
}

/// A model directory with a character vocabulary and hand-set token embeddings.
fn char_model(dir: &Path, chars: &str, rows: &[(usize, Vec<f32>)], n_embd: usize, n_ctx: usize) {
    let chars: Vec<char> = chars.chars().collect();
    let config = GptConfig::new(2, 2, n_embd, chars.len(), n_ctx);
    let mut params = Params::init_random(&config, 11);
    let wte = params.tensors_mut().wte;
    for (id, row) in rows {
        wte[id * n_embd..(id + 1) * n_embd].copy_from_slice(row);
    }
    save_model(dir, &config, &params).unwrap();
    Tokenizer::Char(CharTokenizer::from_chars(chars).unwrap()).save(dir).unwrap();
}

#[test]
fn analogy_returns_the_relation_built_into_a_model() {
    // K(ing) = royal + male, Q(ueen) = royal − male, M(an) = male, W(oman) = −male, the rest elsewhere
    let n = 8;
    let row = |values: &[f32]| {
        let mut v = vec![0.0; n];
        v[..values.len()].copy_from_slice(values);
        v
    };
    let mut rows = vec![(0, row(&[1.0, 1.0])), (1, row(&[1.0, -1.0])), (2, row(&[0.0, 1.0])), (3, row(&[0.0, -1.0]))];
    for id in 4..10 {
        let mut v = vec![0.0; n];
        v[2 + id % 6] = 1.0;
        rows.push((id, v));
    }
    let dir = tempfile::tempdir().unwrap();
    char_model(dir.path(), "KQMWabcdef", &rows, n, 16);
    let d = dir.path().to_str().unwrap();
    let text = ok(&["space", d, "analogy", "K", "M", "W", "--top", "3"]);
    let after = |marker: &str| text.split(marker).nth(1).unwrap().lines().nth(1).unwrap().to_string();
    let first = after("leaving out the three query words");
    assert!(first.contains("\"Q\"") && first.contains("1.0000"), "K − M + W should be Q:\n{text}");
    let first_any = after("over every token");
    assert!(first_any.contains("\"Q\""), "{text}");
    let near = ok(&["space", d, "neighbors", "K", "--top", "2"]);
    assert!(near.lines().nth(2).unwrap().contains("\"M\""), "K's nearest is M (both male):\n{near}");
    let multi = ok(&["space", d, "neighbors", "KQ"]);
    assert!(multi.contains("2 tokens") && multi.contains("mean"), "{multi}");
    // words the vocabulary cannot spell
    let err = bad_input(&["space", d, "neighbors", "Kz"]);
    assert!(err.contains("not in this model's vocabulary"), "{err}");
    let err = bad_input(&["space", d, "analogy", "K", "M", "#42"]);
    assert!(err.contains("ids 0 to 9"), "{err}");
}

#[test]
fn space_eval_scores_a_relation_built_into_a_model_against_the_baseline() {
    // gender is dimension 0; each pair has its own dimension: K/Q, M/W, and P/S twice as
    // strong, so that S is P's nearest neighbour (cos 3/5) and the baseline gets P's questions
    let n = 10;
    let unit = |entries: &[(usize, f32)]| {
        let mut v = vec![0.0; n];
        entries.iter().for_each(|&(i, x)| v[i] = x);
        v
    };
    let mut rows = Vec::new();
    for (pair, strength) in [(0, 1.0), (1, 1.0), (2, 2.0)] {
        rows.push((2 * pair, unit(&[(0, 1.0), (1 + pair, strength)])));
        rows.push((2 * pair + 1, unit(&[(0, -1.0), (1 + pair, strength)])));
    }
    for id in 6..10 {
        rows.push((id, unit(&[(id - 2, 1.0)])));
    }
    let dir = tempfile::tempdir().unwrap();
    char_model(dir.path(), "KQMWPSabcd", &rows, n, 16);
    let d = dir.path().to_str().unwrap();
    let questions = dir.path().join("questions.txt");
    // every ordered pair of the three pairs; then words of two tokens ("KQ") and none ("z")
    std::fs::write(
        &questions,
        ": gender\nK Q M W\nK Q P S\nM W K Q\nM W P S\nP S K Q\nP S M W\n\n: multi-token\nKQ Q M W\nK Q M z\nK Q Ma W\n",
    )
    .unwrap();
    let q = questions.to_str().unwrap();
    let json: Value = serde_json::from_str(&ok(&["space", d, "eval", "--analogies", q, "--json"])).unwrap();
    let gender = &json["sections"][0];
    assert_eq!(gender["name"], "gender");
    assert_eq!((gender["questions"].as_u64(), gender["covered"].as_u64()), (Some(6), Some(6)));
    assert_eq!(gender["accuracy_excluding_query"], 1.0);
    // c = P in "K Q P S" and "M W P S": the baseline is right on 2 of 6
    assert_eq!(gender["right_baseline"], 2);
    let multi = &json["sections"][1];
    assert_eq!((multi["questions"].as_u64(), multi["covered"].as_u64()), (Some(3), Some(0)));
    assert!(multi["accuracy_excluding_query"].is_null(), "nothing covered, nothing scored: {multi}");
    let overall = &json["overall"];
    assert_eq!((overall["questions"].as_u64(), overall["covered"].as_u64()), (Some(9), Some(6)));
    assert_eq!(overall["accuracy_excluding_query"], 1.0, "uncovered questions are not wrong");
    let text = ok(&["space", d, "eval", "--analogies", q]);
    let line = text.lines().find(|l| l.trim_start().starts_with("gender")).unwrap();
    assert!(line.contains("100.0%") && line.contains("33.3%"), "{text}");
    assert!(text.contains("baseline") && text.lines().any(|l| l.trim_start().starts_with("overall")), "{text}");
    // the built-in set: a letter vocabulary spells none of its words as one token
    let builtin: Value = serde_json::from_str(&ok(&["space", d, "eval", "--json"])).unwrap();
    assert_eq!(builtin["overall"]["covered"], 0);
    assert!(builtin["overall"]["questions"].as_u64().unwrap() > 100);
    // a malformed line, named by its number
    std::fs::write(&questions, ": gender\nK Q M W\n\nK Q M\n").unwrap();
    let err = bad_input(&["space", d, "eval", "--analogies", q]);
    assert!(err.contains("line 4") && err.contains("'K Q M'") && err.contains("four words"), "{err}");
    let err = bad_input(&["space", d, "eval", "--analogies", "/no/such/questions.txt"]);
    assert!(err.contains("/no/such/questions.txt"), "{err}");
}

/// A minimal XML well-formedness check: one root, every tag closed in order, attributes
/// quoted, no raw `<` or `&` outside markup and entities.
fn well_formed(xml: &str) -> Result<usize, String> {
    let body = xml.trim_start();
    let body = match body.strip_prefix("<?xml") {
        Some(rest) => &rest[rest.find("?>").ok_or("unclosed XML declaration")? + 2..],
        None => body,
    };
    let (mut stack, mut elements, mut roots) = (Vec::<String>::new(), 0, 0);
    let mut rest = body;
    while let Some(open) = rest.find('<') {
        let text = &rest[..open];
        check_text(text)?;
        if stack.is_empty() && !text.trim().is_empty() {
            return Err(format!("text outside the root: {text:?}"));
        }
        let close = rest[open..].find('>').ok_or("unclosed tag")? + open;
        let tag = &rest[open + 1..close];
        if let Some(name) = tag.strip_prefix('/') {
            let top = stack.pop().ok_or(format!("</{name}> closes nothing"))?;
            if top != name.trim() {
                return Err(format!("</{name}> closes <{top}>"));
            }
        } else {
            let self_closing = tag.ends_with('/');
            let inner = tag.trim_end_matches('/');
            let name: String = inner.chars().take_while(|c| !c.is_whitespace()).collect();
            if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || "-_:.".contains(c)) {
                return Err(format!("bad tag name in <{tag}>"));
            }
            let mut attrs = inner[name.len()..].trim();
            while !attrs.is_empty() {
                let eq = attrs.find('=').ok_or(format!("attribute without value in <{tag}>"))?;
                let quote = attrs[eq + 1..].chars().next().ok_or("missing quote")?;
                if quote != '"' && quote != '\'' {
                    return Err(format!("unquoted attribute in <{tag}>"));
                }
                let end = attrs[eq + 2..].find(quote).ok_or("unclosed attribute")? + eq + 2;
                check_text(&attrs[eq + 2..end])?;
                attrs = attrs[end + 1..].trim_start();
            }
            if stack.is_empty() {
                roots += 1;
            }
            elements += 1;
            if !self_closing {
                stack.push(name);
            }
        }
        rest = &rest[close + 1..];
    }
    check_text(rest)?;
    if !stack.is_empty() || roots != 1 || !rest.trim().is_empty() {
        return Err(format!("unbalanced: open {stack:?}, {roots} roots"));
    }
    Ok(elements)
}

fn check_text(text: &str) -> Result<(), String> {
    if text.contains('<') || text.chars().any(|c| (c as u32) < 0x20 && !"\t\n\r".contains(c)) {
        return Err(format!("raw markup or control character in {text:?}"));
    }
    let mut parts = text.split('&');
    parts.next();
    for part in parts {
        let entity = &part[..part.find(';').ok_or(format!("bare & in {text:?}"))?];
        if !["amp", "lt", "gt", "quot", "apos"].contains(&entity) && !entity.starts_with('#') {
            return Err(format!("unknown entity &{entity};"));
        }
    }
    Ok(())
}

#[test]
fn a_map_is_an_svg_with_a_labelled_point_per_word() {
    let Some(dir) = conformance().into_iter().find(|d| d.ends_with("gpt2vocab")) else { return };
    let out_dir = tempfile::tempdir().unwrap();
    let svg_path = out_dir.path().join("map.svg");
    let words = ["king", "queen", "man", "woman", "Paris", "London", "<tag>", "R&D", "你好"];
    let mut args = vec!["space", dir.to_str().unwrap(), "map"];
    args.extend(words);
    args.extend(["--out", svg_path.to_str().unwrap()]);
    let printed = ok(&args);
    assert!(printed.contains("mapped 9 points") && printed.contains("their mean"), "{printed}");
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    let elements = well_formed(&svg).unwrap_or_else(|e| panic!("not well-formed XML: {e}\n{svg}"));
    assert!(elements > 9 * 3);
    assert!(svg.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert_eq!(svg.matches("<circle").count(), 9);
    for label in ["king", "queen", "&lt;tag&gt;", "R&amp;D", "你好"] {
        assert!(svg.contains(&format!(">{label}</text>")), "label {label} missing");
    }
    assert!(well_formed("<svg><g></svg>").is_err() && well_formed("<svg>a & b</svg>").is_err());
}

#[test]
fn context_is_one_at_the_token_embedding_and_less_deeper() {
    let Some(dir) = conformance().into_iter().find(|d| d.ends_with("gpt2vocab")) else { return };
    let text = ok(&[
        "space",
        dir.to_str().unwrap(),
        "context",
        "bank",
        "--in",
        "I sat by the river bank",
        "--in",
        "The bank raised its interest rate",
    ]);
    let value = |layer: &str| -> f64 {
        let line =
            text.lines().find(|l| l.trim_start().starts_with(layer)).unwrap_or_else(|| panic!("{layer}:\n{text}"));
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    assert_eq!(value("hook_embed"), 1.0);
    for layer in ["blocks.0.hook_resid_pre", "blocks.1.hook_resid_pre", "blocks.1.hook_resid_post"] {
        assert!(value(layer) < 0.9999, "{layer}: {}", value(layer));
    }
    let err = bad_input(&["space", dir.to_str().unwrap(), "context", "bank", "--in", "no such word", "--in", "bank"]);
    assert!(err.contains("does not occur in sentence 1"), "{err}");
}

#[test]
fn heads_scores_every_head_and_the_two_repetitions() {
    let Some(dir) = conformance().into_iter().find(|d| d.ends_with("tiny")) else { return };
    let json: Value =
        serde_json::from_str(&ok(&["heads", dir.to_str().unwrap(), "--json", "--sequences", "4"])).unwrap();
    assert_eq!(json["n"], 15, "(32 − 1) / 2");
    assert_eq!(json["scores"].as_array().unwrap().len(), 4);
    for s in json["scores"].as_array().unwrap() {
        for key in ["previous_token", "duplicate_token", "induction"] {
            let v = s[key].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&v), "{key} {v}");
        }
    }
    assert!(json["loss_first"].as_f64().unwrap() > 0.0 && json["loss_second"].as_f64().unwrap() > 0.0);
    let text = ok(&["heads", dir.to_str().unwrap(), "--ablate", "blocks.0.attn.head.1"]);
    assert!(text.contains("induction") && text.contains("zero blocks.0.attn.hook_z head 1"), "{text}");
}

#[test]
fn bad_input_gets_a_sentence_and_exit_code_2() {
    let Some(dir) = conformance().into_iter().find(|d| d.ends_with("tiny")) else { return };
    let d = dir.to_str().unwrap();
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("t.safetensors");
    let f = file.to_str().unwrap();
    let err = bad_input(&["trace", d, "--ids", "1,2", "--out", f, "--hooks", "blocks.*.attn.hook_nothing"]);
    assert!(err.contains("matches no hook"), "{err}");
    let err = bad_input(&["trace", d, "--ids", "1,2", "--out", f, "--hooks", "blocks.7.*"]);
    assert!(err.contains("matches no hook"), "{err}");
    let err = bad_input(&["trace", d, "--ids", "1,2", "--out", f, "--ablate", "blocks.0.attn.head.2"]);
    assert!(err.contains("head 2 does not exist") && err.contains("0 to 1"), "{err}");
    let err = bad_input(&["lens", d, "--ids", "1,2", "--scale", "blocks.9.hook_resid_post=2"]);
    assert!(err.contains("layer 9 does not exist"), "{err}");
    let err = bad_input(&["explain", d, "--ids", "1,2", "--patch", "blocks.0.hook_resid_mid=missing.safetensors"]);
    assert!(err.contains("missing.safetensors"), "{err}");
    let long: Vec<String> = (0..33).map(|i| (i % 50).to_string()).collect();
    let long = long.join(",");
    for cmd in ["explain", "lens", "trace"] {
        let mut args = vec![cmd, d, "--ids", long.as_str()];
        if cmd == "trace" {
            args.extend(["--out", f]);
        }
        let err = bad_input(&args);
        assert!(err.contains("33 tokens") && err.contains("at most 32"), "{err}");
    }
    let err = bad_input(&["explain", d, "--ids", "1,2", "--position", "5"]);
    assert!(err.contains("--position 5"), "{err}");
    let err = bad_input(&["explain", d, "hello"]);
    assert!(err.contains("no tokenizer"), "{err}");
    let err = bad_input(&["space", d, "neighbors", "king"]);
    assert!(err.contains("no tokenizer") && err.contains("#12"), "{err}");
    let err = bad_input(&["heads", d, "--n", "40"]);
    assert!(err.contains("2 to 15"), "{err}");
    let err = bad_input(&["trace", d, "--ids", "1,2", "--ids", "3", "--out", f]);
    assert!(err.contains("equal length"), "{err}");
    assert!(!file.exists(), "nothing written on bad input");
}

/// The worked example of README.md (the issue's induction-head claims): a 2-layer model
/// trained on `--task repeat` grows a previous-token head in layer 0 and induction heads in
/// layer 1, and predicts the second copy of a random sequence far better than the first;
/// knocking out the heads undoes that; a 1-layer model trained the same way has no head
/// that attends like an induction head. Trains two small models: about 40 s on two cores.
#[test]
fn induction_forms_in_two_layers_and_ablation_undoes_it() {
    let runs = tempfile::tempdir().unwrap();
    let train = |layers: &str| {
        let out = runs.path().join(format!("repeat-{layers}"));
        ok(&["train", "--task", "repeat", "--layers", layers, "--threads", "2", "--out", out.to_str().unwrap()]);
        out
    };
    let heads = |dir: &Path, extra: &[&str]| -> Value {
        let mut args = vec!["heads", dir.to_str().unwrap(), "--json"];
        args.extend(extra);
        serde_json::from_str(&ok(&args)).unwrap()
    };
    let losses = |report: &Value| (report["loss_first"].as_f64().unwrap(), report["loss_second"].as_f64().unwrap());
    // the strongest head of a layer by one score: (head, score)
    let strongest = |report: &Value, layer: u64, score: &str| -> (u64, f64) {
        let scores = report["scores"].as_array().unwrap().iter().filter(|s| s["layer"] == layer);
        scores
            .map(|s| (s["head"].as_u64().unwrap(), s[score].as_f64().unwrap()))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap()
    };

    let two = train("2");
    let report = heads(&two, &[]);
    let (previous_head, previous_score) = strongest(&report, 0, "previous_token");
    let (induction_head, induction_score) = strongest(&report, 1, "induction");
    assert!(previous_score >= 0.5, "best previous-token head in layer 0: {previous_score}");
    assert!(induction_score >= 0.5, "best induction head in layer 1: {induction_score}");
    let (first, second) = losses(&report);
    assert!(second < 0.25 * first && second < 0.5, "second repetition {second} vs first {first}");
    // knocking out the strongest induction head alone raises the second copy's loss; the
    // previous-token head it reads from, or all of layer 1's heads, bring it back up
    let ablate = |hook: String| losses(&heads(&two, &["--ablate", &hook]));
    let (_, without_induction_head) = ablate(format!("blocks.1.attn.head.{induction_head}"));
    assert!(without_induction_head > 1.3 * second, "{without_induction_head} vs {second}");
    let (_, without_previous_head) = ablate(format!("blocks.0.attn.head.{previous_head}"));
    assert!(without_previous_head > 3.0 * second, "{without_previous_head} vs {second}");
    let (ablated_first, without_layer_1) = ablate("blocks.1.attn.hook_z".into());
    assert!(without_layer_1 > 0.5 * ablated_first && without_layer_1 > 4.0 * second, "{without_layer_1} vs {second}");
    // the trained model's embeddings, mapped: an SVG with a point per token
    let svg = runs.path().join("map.svg");
    ok(&["space", two.to_str().unwrap(), "map", "--out", svg.to_str().unwrap()]);
    well_formed(&std::fs::read_to_string(&svg).unwrap()).unwrap();

    // and the terminal names the head
    let text = ok(&["heads", two.to_str().unwrap()]);
    assert!(text.contains(&format!("blocks.1.attn.head.{induction_head} attends like an induction head")), "{text}");

    let one = train("1");
    let text = ok(&["heads", one.to_str().unwrap()]);
    assert!(text.contains("no head attends like an induction head"), "{text}");
    let report = heads(&one, &[]);
    let (_, one_layer_induction) = strongest(&report, 0, "induction");
    assert!(one_layer_induction <= 0.2, "1 layer: a head with induction score {one_layer_induction}");
    let (_, one_layer_second) = losses(&report);
    assert!(one_layer_second > 2.0 * second, "1 layer: {one_layer_second}, 2 layers: {second}");
}

#[test]
fn generate_applies_interventions() {
    let Some(dir) = conformance().into_iter().find(|d| d.ends_with("tiny")) else { return };
    let d = dir.to_str().unwrap();
    let base = ["generate", d, "--ids", "3,1,4", "--temperature", "0", "--max-new-tokens", "5", "--format", "ids"];
    let plain = ok(&base);
    // scaling by 1 goes through the recomputing path and changes nothing
    let mut same = base.to_vec();
    same.extend(["--scale", "blocks.0.hook_mlp_out=1"]);
    assert_eq!(ok(&same), plain);
    // with the final layer norm's output zeroed every logit is 0: greedy takes token 0 each time
    let mut flat = base.to_vec();
    flat.extend(["--ablate", "ln_final.hook_normalized"]);
    assert_eq!(ok(&flat).trim(), "3,1,4,0,0,0,0,0");
    let mut bad = base.to_vec();
    bad.extend(["--ablate", "blocks.0.attn.head.7"]);
    assert!(bad_input(&bad).contains("head 7 does not exist"));
}

/// `bench trace` runs its four variants and reports what it recorded (the timings
/// themselves are for BENCHMARKS.md, not for a test).
#[test]
fn bench_trace_reports_every_hook_recorded() {
    let out = ok(&["bench", "trace", "--preset", "sorter", "--tokens", "8", "--rounds", "2"]);
    let report: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    // the sorter has 3 layers of a dozen or more hooks each, plus the embeddings and the end
    let hooks = report["hooks"].as_u64().unwrap();
    assert!(hooks > 3 * 10, "{report}");
    assert!(report["recorded_mb"].as_f64().unwrap() > 0.0);
    for key in ["forward_ms", "trace_nothing_ms", "trace_all_ms", "trace_all_fresh_arena_ms"] {
        assert!(report[key].as_f64().unwrap() > 0.0, "{key}: {report}");
    }
}

#[test]
fn lens_says_which_positions_its_grid_shows() {
    let dir = tempfile::tempdir().unwrap();
    let run = common::sorter_run(dir.path());
    let run = run.to_str().unwrap();
    let text = ok(&["lens", run, "CBABBCABC"]);
    assert!(text.contains("the last 8 of 9 positions"), "{text}");
    let header = |text: &str| text.lines().find(|l| l.contains("reading \\ position")).unwrap().to_string();
    assert!(!header(&text).contains("0: \"C\""), "{text}");
    let all = ok(&["lens", run, "CBABBCABC", "--positions", "9"]);
    assert!(!all.contains("positions (--positions"), "{all}");
    assert!(header(&all).contains("0: \"C\"") && header(&all).contains("8: \"C\""), "{all}");
    let two = ok(&["lens", run, "CBABBCABC", "--positions", "2"]);
    assert!(two.contains("the last 2 of 9 positions") && !header(&two).contains("6: "), "{two}");
    bad_input(&["lens", run, "CBA", "--positions", "0"]);
}

#[test]
fn an_ablated_head_is_marked_and_never_named_the_best() {
    let dir = tempfile::tempdir().unwrap();
    let run = common::sorter_run(dir.path());
    let run = run.to_str().unwrap();
    let plain: Value = serde_json::from_str(&ok(&["heads", run, "--json"])).unwrap();
    let best = |report: &Value, kind: &str| {
        report["scores"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["ablated"] == false)
            .max_by(|a, b| a[kind].as_f64().unwrap().total_cmp(&b[kind].as_f64().unwrap()))
            .map(|s| format!("blocks.{}.attn.head.{}", s["layer"], s["head"]))
            .unwrap()
    };
    // knock out the strongest induction head: it is marked, and another is the strongest
    let strongest = best(&plain, "induction");
    let ablated: Value = serde_json::from_str(&ok(&["heads", run, "--json", "--ablate", &strongest])).unwrap();
    let marked: Vec<String> = ablated["scores"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["ablated"] == true)
        .map(|s| format!("blocks.{}.attn.head.{}", s["layer"], s["head"]))
        .collect();
    assert_eq!(marked, std::slice::from_ref(&strongest));
    let text = ok(&["heads", run, "--ablate", &strongest]);
    assert!(text.contains(&format!("ablated: {strongest}")), "{text}");
    let named = text.lines().find(|l| l.contains("strongest induction")).unwrap();
    assert!(!named.contains(&strongest), "{named}");
    assert!(named.contains(&best(&ablated, "induction")), "{named}");
    // a whole block's attention output knocks out all its heads
    let block: Value = serde_json::from_str(&ok(&["heads", run, "--json", "--ablate", "blocks.1.attn"])).unwrap();
    let off: Vec<bool> = block["scores"].as_array().unwrap().iter().map(|s| s["ablated"] == true).collect();
    assert_eq!(off, [false, false, false, true, true, true, false, false, false]);
}
