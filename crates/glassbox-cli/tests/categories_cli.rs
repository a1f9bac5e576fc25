//! `space map` by category, from the outside: on a byte-level BPE vocabulary of more than
//! 300 tokens, a map without words places the built-in category words the vocabulary
//! holds, colours them by category with a legend, and prints purity and nearest-word
//! agreement beside their chance levels; `--categories FILE` reads categories of one's
//! own, and a malformed file gets one sentence naming its line and exit code 2.
//!
//! The model is built by hand ([`glassbox::testing::write_category_model`]): each
//! category's single-token words point along one axis of their own, so the clusters must
//! find the categories exactly.

mod common;

use common::{assert_bad_input, glassbox, text};
use glassbox::inspect::categories::builtin_categories;
use glassbox::testing::{write_category_model, CATEGORY_MODEL_LEARNED};
use serde_json::Value;

fn ok(args: &[&str]) -> String {
    let out = glassbox(args);
    assert!(out.status.success(), "glassbox {args:?} failed: {}", text(&out.stderr));
    text(&out.stdout)
}

/// The fill colour of each labelled point of the SVG, in order: (label, colour).
fn point_colours(svg: &str) -> Vec<(String, String)> {
    svg.split(r#"<g class="point"><title>"#)
        .skip(1)
        .map(|point| {
            let label = point[..point.find(" (").unwrap()].to_string();
            let fill = point.split(r#"fill=""#).nth(1).unwrap();
            (label, fill[..fill.find('"').unwrap()].to_string())
        })
        .collect()
}

#[test]
fn a_map_without_words_places_the_category_words_coloured_by_category() {
    let dir = tempfile::tempdir().unwrap();
    let (vocab, single) = write_category_model(dir.path());
    assert!(vocab > 300, "the vocabulary must be too large to map whole: {vocab}");
    let d = dir.path().to_str().unwrap();
    let svg_path = dir.path().join("map.svg");
    let svg_arg = svg_path.to_str().unwrap();
    let builtin = builtin_categories();
    let asked: usize = builtin.iter().map(|c| c.words.len()).sum();
    let covered: usize = single.iter().map(Vec::len).sum();

    let printed = ok(&["space", d, "map", "--out", svg_arg]);
    assert!(printed.contains(&format!("mapped {covered} points")), "{printed}");
    assert!(printed.contains(&format!("{covered} of {asked} words are single tokens")), "{printed}");
    let not_covered = format!("not covered ({}:", asked - covered);
    assert!(printed.contains(&not_covered), "{printed}");
    // the seventh royal word is the first not learned
    assert!(printed.contains(&format!(": {} ", builtin[0].words[CATEGORY_MODEL_LEARNED])), "{printed}");
    let royalty = printed.lines().find(|l| l.trim_start().starts_with("royalty (6)")).unwrap();
    assert!(royalty.contains("king queen prince"), "{royalty}");
    // each category along its own axis: the clusters are the categories, each word's nearest
    // is of its category; by chance, a shuffled label lands in the commonest category less
    // often, and a random other word is of the same category in Σ m(m−1) / n(n−1) of pairs
    let same: usize = single.iter().map(|w| w.len() * (w.len() - 1)).sum();
    let chance = 100.0 * same as f64 / (covered * (covered - 1)) as f64;
    assert!(printed.contains("k-means (k = 8) purity 100.0% (chance "), "{printed}");
    let agreement = format!("nearest word of the same category 100.0% (chance {chance:.1}%)");
    assert!(printed.contains(&agreement), "{agreement}: {printed}");
    assert!(printed.contains("purity:"), "the purity is explained: {printed}");

    let svg = std::fs::read_to_string(&svg_path).unwrap();
    let legend = &svg[svg.find(r#"<g class="legend""#).expect("a legend")..];
    for category in &builtin {
        assert!(legend.contains(&format!(">{}</text>", category.name)), "{} missing from the legend", category.name);
    }
    let points = point_colours(&svg);
    assert_eq!(points.len(), covered);
    let colour_of = |word: &str| points.iter().find(|(label, _)| label == word).unwrap().1.clone();
    for (category, words) in builtin.iter().zip(&single) {
        let first = colour_of(&words[0]);
        for word in &words[1..] {
            assert_eq!(colour_of(word), first, "{word} is coloured as {} is", words[0]);
        }
        // and the legend gives that colour the category's name
        let entry = legend.split("<g>").find(|e| e.contains(&format!(">{}</text>", category.name))).unwrap();
        assert!(entry.contains(&format!(r#"fill="{first}""#)), "{entry}");
    }
    let distinct: std::collections::BTreeSet<String> = points.iter().map(|(_, c)| c.clone()).collect();
    assert_eq!(distinct.len(), builtin.len(), "one colour per category");

    let json: Value = serde_json::from_str(&ok(&["space", d, "map", "--out", svg_arg, "--json"])).unwrap();
    assert_eq!(json["categories"].as_array().unwrap().len(), 8);
    assert_eq!(json["points"].as_array().unwrap().len(), covered);
    assert_eq!(json["points"][0]["word"], "king");
    assert_eq!(json["points"][0]["category"], "royalty");
    assert_eq!(json["score"]["purity"], 1.0);
    assert_eq!(json["not_covered"].as_array().unwrap().len(), asked - covered);
    let chance = json["score"]["purity_chance"].as_f64().unwrap();
    assert!(chance > 0.125 && chance < 0.5, "a shuffle credits little more than the largest share: {chance}");
}

#[test]
fn categories_of_one_s_own_colour_the_map_and_bad_files_name_their_line() {
    let dir = tempfile::tempdir().unwrap();
    write_category_model(dir.path());
    let d = dir.path().to_str().unwrap();
    let svg_path = dir.path().join("map.svg");
    let svg_arg = svg_path.to_str().unwrap();
    let file = dir.path().join("mine.txt");
    let f = file.to_str().unwrap();

    // two categories, one with a word the vocabulary splits ("emperor") and one unknown word
    std::fs::write(&file, ": crowns\nking queen\n  prince emperor\n\n: beasts\nhorse dog lion 猫\n").unwrap();
    let printed = ok(&["space", d, "map", "--categories", f, "--out", svg_arg]);
    assert!(printed.contains("mapped 6 points") && printed.contains("6 of 8 words"), "{printed}");
    assert!(printed.contains("not covered (2:") && printed.contains("emperor 猫"), "{printed}");
    assert!(printed.contains("k-means (k = 2) purity 100.0%"), "{printed}");
    // 2·3·2 / (6·5)
    assert!(printed.contains("nearest word of the same category 100.0% (chance 40.0%)"), "{printed}");
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    assert!(svg.contains(">crowns</text>") && svg.contains(">beasts</text>"), "legend");

    // words given explicitly: coloured by the category they belong to, the rest apart
    let json: Value = serde_json::from_str(&ok(&[
        "space",
        d,
        "map",
        "king",
        "horse",
        "one",
        "queen",
        "--categories",
        f,
        "--out",
        svg_arg,
        "--json",
    ]))
    .unwrap();
    let categories: Vec<&Value> = json["points"].as_array().unwrap().iter().map(|p| &p["category"]).collect();
    assert_eq!(categories, [&Value::from("crowns"), &Value::from("beasts"), &Value::Null, &Value::from("crowns")]);
    assert!(json["score"].is_null(), "one word of 'beasts' cannot be scored: {json}");
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    assert!(svg.contains(">(no category)</text>"), "words of no category get a legend entry");
    let colours = point_colours(&svg);
    assert_eq!(colours[0].1, colours[3].1, "king and queen share a colour");
    assert_ne!(colours[0].1, colours[2].1);

    // without categories, words given are coloured by k-means as before
    let json: Value =
        serde_json::from_str(&ok(&["space", d, "map", "king", "queen", "horse", "--out", svg_arg, "--json"])).unwrap();
    let points = json["points"].as_array().unwrap();
    assert_eq!(points.len(), 3);
    assert!(points.iter().all(|p| p["cluster"].is_u64() && p.get("category").is_none()), "{json}");
    assert!(!std::fs::read_to_string(&svg_path).unwrap().contains("legend"), "no legend without categories");

    // malformed files: one sentence naming the file and the line
    std::fs::write(&file, "king queen\n: crowns\nprince\n").unwrap();
    let err = glassbox(&["space", d, "map", "--categories", f, "--out", svg_arg]);
    assert_bad_input(&err, "mine.txt line 1");
    assert!(text(&err.stderr).contains("before any category"), "{}", text(&err.stderr));
    std::fs::write(&file, ": crowns\nking queen\n\n: beasts\n\n: time\nday night\n").unwrap();
    let err = glassbox(&["space", d, "map", "--categories", f, "--out", svg_arg]);
    assert_bad_input(&err, "mine.txt line 4");
    assert!(text(&err.stderr).contains("'beasts' has no words"), "{}", text(&err.stderr));
    std::fs::write(&file, b": crowns\nking\n\xff queen\n").unwrap();
    assert_bad_input(&glassbox(&["space", d, "map", "--categories", f, "--out", svg_arg]), "mine.txt line 3");
    let missing = dir.path().join("no-such.txt");
    assert_bad_input(
        &glassbox(&["space", d, "map", "--categories", missing.to_str().unwrap(), "--out", svg_arg]),
        "no-such.txt",
    );
    // categories this vocabulary does not hold as single tokens cannot be mapped
    std::fs::write(&file, ": made-up\nxyzzy plugh\n: more\nfrobozz quux\n").unwrap();
    assert_bad_input(&glassbox(&["space", d, "map", "--categories", f, "--out", svg_arg]), "name the words to map");
}
