//! The semantic space (语义空间), through the engine's `inspect::space`: a PCA map of
//! chosen words' embeddings (with k-means clusters), the map of the built-in category
//! words with their cluster purity and nearest-word agreement (`inspect::categories`),
//! nearest neighbours by cosine, analogies (A − B + C), and one word's vectors compared
//! across sentences, layer by layer.

use glassbox::inspect::categories::{builtin_categories, cover, score};
use glassbox::inspect::space::{analogy as engine_analogy, context, map as engine_map, neighbors as engine_neighbors};
use glassbox::inspect::space::{resolve_word, Neighbor, Word};
use glassbox::inspect::TokenText;
use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::state::Loaded;
use crate::text;

fn resolve(loaded: &Loaded, word: &str, param: &str) -> ApiResult<Word> {
    resolve_word(word, loaded.tokenizer.as_ref(), loaded.config().vocab_size, false)
        .map_err(|e| ApiError::engine_param(param, e))
}

fn word_json(loaded: &Loaded, word: &Word) -> Value {
    let tokens: Vec<Value> = word.ids.iter().map(|&id| text::view_one(loaded, id)).collect();
    json!({"word": word.word, "spelled": word.spelled, "ids": word.ids, "tokens": tokens})
}

fn neighbor_json(loaded: &Loaded, n: &Neighbor) -> Value {
    json!({"id": n.id, "cosine": n.cosine, "token": text::view_one(loaded, n.id), "text": TokenText::new(loaded.tokenizer.as_ref(), n.id)})
}

/// The 2D PCA map of the words' embeddings; words that do not resolve are listed as skipped.
pub fn map(loaded: &Loaded, words: &[String]) -> ApiResult<Value> {
    let mut resolved: Vec<Word> = Vec::new();
    let mut skipped = Vec::new();
    for word in words {
        match resolve_word(word, loaded.tokenizer.as_ref(), loaded.config().vocab_size, false) {
            Ok(w) if resolved.iter().any(|r| r.ids == w.ids) => {
                skipped.push(json!({"word": word, "reason": "the same tokens as an earlier word"}))
            }
            Ok(w) => resolved.push(w),
            Err(e) => skipped.push(json!({"word": word, "reason": e.to_string()})),
        }
    }
    if resolved.len() < 3 {
        return Err(ApiError::param(
            "words",
            format!(
                "the map needs at least 3 distinct words this vocabulary has; {} of them are usable",
                resolved.len()
            ),
        ));
    }
    let m = engine_map(loaded.params(), resolved, 0).map_err(|e| ApiError::engine_param("words", e))?;
    let points: Vec<Value> = m
        .words
        .iter()
        .zip(&m.projection.coords)
        .zip(&m.clusters)
        .map(|((w, xy), cluster)| {
            let mut p = word_json(loaded, w);
            p["x"] = json!(xy[0]);
            p["y"] = json!(xy[1]);
            p["cluster"] = json!(cluster);
            p
        })
        .collect();
    Ok(json!({
        "points": points,
        "skipped": skipped,
        "explained": m.projection.explained,
        "of": "wte rows (token embeddings; a word of several tokens is their mean)",
        "dim": loaded.config().n_embd,
    }))
}

/// The built-in category words this vocabulary holds as single tokens, mapped and scored:
/// `covered: false` (with the reason) when there are too few of them to be worth a map
/// (see [`glassbox::inspect::categories::Coverage::worth_showing`]), so that the page
/// keeps its own defaults.
pub fn categories(loaded: &Loaded) -> ApiResult<Value> {
    let coverage = match cover(&builtin_categories(), loaded.tokenizer.as_ref(), loaded.config().vocab_size) {
        Ok(coverage) => coverage,
        Err(e) => return Ok(json!({"covered": false, "reason": e.to_string()})),
    };
    if !coverage.worth_showing() {
        return Ok(json!({
            "covered": false,
            "reason": format!(
                "{} of the {} category words are single tokens of this vocabulary, in {} categories of two or more",
                coverage.words.len(),
                coverage.asked,
                coverage.categories.len()
            ),
        }));
    }
    let scores = score(loaded.params(), &coverage).map_err(ApiError::engine)?;
    let words: Vec<Word> = coverage.words.iter().map(|w| w.word.clone()).collect();
    let m = engine_map(loaded.params(), words, 0).map_err(ApiError::engine)?;
    let points: Vec<Value> = m
        .words
        .iter()
        .zip(&m.projection.coords)
        .zip(&coverage.words)
        .map(|((w, xy), labelled)| {
            let mut p = word_json(loaded, w);
            p["x"] = json!(xy[0]);
            p["y"] = json!(xy[1]);
            p["category"] = json!(labelled.category);
            p
        })
        .collect();
    let categories: Vec<Value> = coverage
        .categories
        .iter()
        .enumerate()
        .map(|(index, name)| json!({"name": name, "words": coverage.words_of(index).collect::<Vec<_>>()}))
        .collect();
    Ok(json!({
        "covered": true,
        "categories": categories,
        "points": points,
        "asked": coverage.asked,
        "not_covered": coverage.not_covered,
        "score": {
            "words": scores.words,
            "k": scores.categories,
            "purity": scores.purity,
            "purity_chance": scores.purity_chance,
            "neighbour_agreement": scores.neighbour_agreement,
            "neighbour_chance": scores.neighbour_chance,
        },
        "explained": m.projection.explained,
        "of": "wte rows (token embeddings)",
        "dim": loaded.config().n_embd,
    }))
}

pub fn neighbors(loaded: &Loaded, word: &str, k: usize) -> ApiResult<Value> {
    let w = resolve(loaded, word, "word")?;
    let list: Vec<Value> = engine_neighbors(loaded.params(), &w, k).iter().map(|n| neighbor_json(loaded, n)).collect();
    Ok(json!({"query": word_json(loaded, &w), "neighbors": list}))
}

pub fn analogy(loaded: &Loaded, a: &str, b: &str, c: &str, k: usize) -> ApiResult<Value> {
    let (wa, wb, wc) = (resolve(loaded, a, "a")?, resolve(loaded, b, "b")?, resolve(loaded, c, "c")?);
    let result = engine_analogy(loaded.params(), &wa, &wb, &wc, k);
    let list = |ns: &[Neighbor]| ns.iter().map(|n| neighbor_json(loaded, n)).collect::<Vec<_>>();
    Ok(json!({
        "a": word_json(loaded, &wa),
        "b": word_json(loaded, &wb),
        "c": word_json(loaded, &wc),
        "results": list(&result.with_exclusion),
        "including_inputs": list(&result.without_exclusion),
    }))
}

/// The word's vectors in each sentence, compared at every depth (cosine similarity).
pub fn drift(loaded: &Loaded, word: &str, sentences: &[String]) -> ApiResult<Value> {
    let report = context(loaded.params(), loaded.tokenizer.as_ref(), word, sentences, &Default::default())
        .map_err(|e| ApiError::engine_param("sentences", e))?;
    let mean: Vec<f32> = report
        .similarity
        .iter()
        .map(|m| {
            let pairs: Vec<f32> = m.iter().enumerate().flat_map(|(i, row)| row[i + 1..].iter().copied()).collect();
            pairs.iter().sum::<f32>() / pairs.len().max(1) as f32
        })
        .collect();
    let mut out = serde_json::to_value(&report).map_err(|e| ApiError::internal(e.to_string()))?;
    out["mean_similarity"] = json!(mean);
    Ok(out)
}
