//! `/api/space/categories`: on a model whose vocabulary holds the built-in category words,
//! the covered words mapped with their categories and the purity and agreement scores
//! beside their chance levels; on one that does not (a character model), `covered: false`
//! so the page keeps its own defaults; unknown fields are refused like everywhere else.
//! And the semantic-space page in headless Chromium (skipped without chromium and
//! chromedriver, except under `CI=true`): its default map is the category words, coloured
//! by category, with a legend and the scores.

mod common;

use common::*;
use glassbox::inspect::categories::builtin_categories;
use glassbox::testing::write_category_model;
use serde_json::{json, Value};

#[test]
fn a_vocabulary_with_the_category_words_gets_them_mapped_and_scored() {
    let dir = tempfile::tempdir().unwrap();
    let (_, single) = write_category_model(dir.path());
    let server = serve(dir.path());
    let res = post(server.addr, "/api/space/categories", &json!({}));
    assert_eq!(res.status, 200, "{}", res.text());
    let answer = res.json();
    assert_eq!(answer["covered"], true, "{answer}");

    let builtin = builtin_categories();
    let names: Vec<&str> =
        answer["categories"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    let expected: Vec<&str> = builtin.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, expected);
    for (category, words) in answer["categories"].as_array().unwrap().iter().zip(&single) {
        assert_eq!(&category["words"], &json!(words), "{}", category["name"]);
    }
    // every point is a word of the category its index names, with a place on the map
    let points = answer["points"].as_array().unwrap();
    let covered: usize = single.iter().map(Vec::len).sum();
    assert_eq!(points.len(), covered);
    for p in points {
        let category = p["category"].as_u64().unwrap() as usize;
        let word = p["word"].as_str().unwrap();
        assert!(single[category].iter().any(|w| w == word), "{word} is not of {}", names[category]);
        assert_eq!(p["ids"].as_array().unwrap().len(), 1, "{word} is one token");
        assert!(p["x"].as_f64().unwrap().is_finite() && p["y"].as_f64().unwrap().is_finite());
    }
    let asked: usize = builtin.iter().map(|c| c.words.len()).sum();
    assert_eq!(answer["asked"], asked);
    assert_eq!(answer["not_covered"].as_array().unwrap().len(), asked - covered);

    // each category along its own axis: the clusters and the nearest words find them all
    let score = &answer["score"];
    assert_eq!(score["k"], 8);
    assert_eq!(score["words"], covered);
    assert_eq!(score["purity"], 1.0);
    assert_eq!(score["neighbour_agreement"], 1.0);
    let same: usize = single.iter().map(|w| w.len() * (w.len() - 1)).sum();
    let chance = same as f64 / (covered * (covered - 1)) as f64;
    assert!((score["neighbour_chance"].as_f64().unwrap() - chance).abs() < 1e-9, "{score}");
    let purity_chance = score["purity_chance"].as_f64().unwrap();
    assert!(purity_chance > 1.0 / 8.0 && purity_chance < 0.5, "{purity_chance}");

    // the request is checked like every other: no fields are known
    let res = post(server.addr, "/api/space/categories", &json!({"words": ["king"]}));
    assert_eq!(res.status, 400, "{}", res.text());
    assert_eq!(res.json()["error"]["param"], "words");
}

#[test]
fn a_character_vocabulary_is_not_covered() {
    let dir = char_model(64);
    let server = serve(dir.path());
    let answer: Value = post(server.addr, "/api/space/categories", &json!({})).json();
    assert_eq!(answer["covered"], false, "{answer}");
    assert!(answer["reason"].as_str().unwrap().contains("0 of the"), "{answer}");
    assert!(answer.get("points").is_none());
}

#[test]
fn the_space_page_maps_the_category_words_by_category() {
    let Some(driver) = Driver::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (_, single) = write_category_model(dir.path());
    let covered: usize = single.iter().map(Vec::len).sum();
    let server = serve(dir.path());
    let session = driver.session(1280, 800, false);
    session.goto(&format!("{}/space", server.url()));
    session.wait_for("document.body.dataset.ready === '1'", "the space page");
    let points = session.js("return document.querySelectorAll('#map-svg .pt').length");
    assert_eq!(points.as_u64().unwrap() as usize, covered, "the default map is the covered category words");
    // one colour per category: the circles of a category's words share a fill
    let fills = session.js(
        "return [...document.querySelectorAll('#map-svg .pt')].map((g) => [g.querySelector('text').textContent, g.querySelector('circle').getAttribute('fill')])",
    );
    let fill_of = |word: &str| {
        fills.as_array().unwrap().iter().find(|p| p[0] == word).unwrap_or_else(|| panic!("{word} not drawn"))[1].clone()
    };
    for words in &single {
        assert!(words.iter().all(|w| fill_of(w) == fill_of(&words[0])), "{words:?}");
    }
    assert_ne!(fill_of(&single[0][0]), fill_of(&single[1][0]), "royalty and family differ");
    let legend =
        session.js("return [...document.querySelectorAll('#map-legend .legend-item')].map((n) => n.textContent)");
    let legend: Vec<&str> = legend.as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(legend.len(), 8);
    assert!(legend[0].starts_with("royalty") && legend[7].starts_with("time"), "{legend:?}");
    let scores = session.js("return document.querySelector('#map-scores').textContent");
    let scores = scores.as_str().unwrap();
    assert!(scores.contains("purity 100.0%") && scores.contains("chance"), "{scores}");
    session.screenshot(&screenshot_dir().join("space-categories.png"));
    // Shakespeare's examples in the other panels
    assert_eq!(session.js("return document.querySelector('#nb-word').value"), "king");
    // … except where they do not fit: this model's context is too short for two of the
    // three "grave" sentences, so the comparison is left empty, with a note saying why
    let note = session.js("return document.querySelector('#dr-note').textContent");
    assert!(note.as_str().unwrap().contains("longer than this model's context"), "{note}");
    assert_eq!(session.js("return document.querySelector('#dr-word').value"), "");
    // other words: the plain map, coloured by k-means, without the category notes
    session.js("document.querySelector('#map-words').value = 'king queen horse dog'; document.querySelector('#map-form').requestSubmit(); return 0");
    assert!(
        eventually(100, || session.js("return document.querySelectorAll('#map-svg .pt').length") == 4),
        "the map redrawn with four words"
    );
    assert_eq!(session.js("return document.querySelector('#map-legend') === null"), true);
}
