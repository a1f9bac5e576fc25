//! The semantic space (语义空间): token embeddings (the rows of `wte`) as points, compared
//! by cosine similarity. Nearest neighbours of a word; analogies (A − B + C, the
//! `king − man + woman` arithmetic); a 2-D map (PCA) of chosen words; and how the same
//! word's vector drifts through the layers in different sentences (context).
//!
//! Words: with a BPE tokenizer a word is looked up as it appears inside a sentence, with a
//! leading space (` king`), unless the spelling without the space is a single token and the
//! spaced one is not (or `exact` asks for the text as typed). A word of several tokens is
//! the mean of its tokens' vectors, and results say so. `#123` names token id 123 directly.

use super::intervention::{forward_with_interventions, Interventions};
use super::pca::{kmeans, pca_2d, Projection};
use super::TokenText;
use crate::error::{excerpt, Error, Result};
use crate::model::{Activations, Params};
use crate::tokenizer::Tokenizer;
use serde::Serialize;

/// A word (or token) resolved to token ids.
#[derive(Clone, Debug, Serialize)]
pub struct Word {
    /// As the user typed it.
    pub word: String,
    /// The tokens it became (several: its vector is their mean).
    pub ids: Vec<u32>,
    /// The exact text that was tokenized (` king` for `king` with BPE).
    pub spelled: String,
}

impl Word {
    pub fn is_multi_token(&self) -> bool {
        self.ids.len() > 1
    }
}

/// Resolves `word` to token ids (see the module notes).
pub fn resolve_word(word: &str, tokenizer: Option<&Tokenizer>, vocab_size: usize, exact: bool) -> Result<Word> {
    let shown = excerpt(word); // for messages: a 1 MB "word" is not echoed whole
    if let Some(number) = word.strip_prefix('#').filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())) {
        let id: u32 = number.parse().map_err(|_| Error::input(format!("'{shown}' is not a token id")))?;
        if id as usize >= vocab_size {
            return Err(Error::input(format!(
                "token id {id} is not in the vocabulary: this model has ids 0 to {}",
                vocab_size - 1
            )));
        }
        return Ok(Word { word: word.to_string(), ids: vec![id], spelled: word.to_string() });
    }
    if word.is_empty() {
        return Err(Error::input("an empty word has no tokens; give a word (or #ID for a token id)"));
    }
    let tokenizer = tokenizer.ok_or_else(|| {
        Error::input(format!(
            "'{shown}': this model directory has no tokenizer, so words cannot be looked up; name tokens by id as #12"
        ))
    })?;
    let (spelled, ids) = match tokenizer {
        Tokenizer::Char(_) => {
            let ids = tokenizer
                .encode_checked(word)
                .map_err(|e| Error::input(format!("'{shown}' is not in this model's vocabulary: {e}")))?;
            (word.to_string(), ids)
        }
        Tokenizer::Bpe(_) => {
            let plain = tokenizer.encode(word);
            if exact || word.starts_with(' ') {
                (word.to_string(), plain)
            } else {
                let spaced_text = format!(" {word}");
                let spaced = tokenizer.encode(&spaced_text);
                if spaced.len() > 1 && plain.len() == 1 {
                    (word.to_string(), plain)
                } else {
                    (spaced_text, spaced)
                }
            }
        }
    };
    if ids.is_empty() {
        return Err(Error::input(format!("'{shown}' has no tokens in this model's vocabulary")));
    }
    if let Some(&bad) = ids.iter().find(|&&id| id as usize >= vocab_size) {
        return Err(Error::input(format!(
            "'{shown}' encodes to token {bad}, beyond this model's {vocab_size} embeddings; the tokenizer and the model disagree"
        )));
    }
    Ok(Word { word: word.to_string(), ids, spelled })
}

/// A word (or `#ID`) that must be one token of this model (a logit belongs to one token);
/// `flag` names the option in the message (`--target`).
pub fn single_token(flag: &str, word: &str, tokenizer: Option<&Tokenizer>, vocab_size: usize) -> Result<u32> {
    let resolved =
        resolve_word(word, tokenizer, vocab_size, false).map_err(|e| Error::input(format!("{flag}: {e}")))?;
    match resolved.ids[..] {
        [id] => Ok(id),
        _ => Err(Error::input(format!(
            "{flag} '{}' is {} tokens ({}) in this model's vocabulary, and a logit belongs to one token; give a \
             single token (a shorter word, or #ID)",
            excerpt(word),
            resolved.ids.len(),
            resolved.ids.iter().map(|id| format!("#{id}")).collect::<Vec<_>>().join(" ")
        ))),
    }
}

/// The mean of the `wte` rows of `ids`.
pub fn embedding_of(params: &Params, ids: &[u32]) -> Vec<f32> {
    let c = params.config.n_embd;
    let wte = params.tensors().wte;
    let mut out = vec![0f32; c];
    for &id in ids {
        for (o, &x) in out.iter_mut().zip(&wte[id as usize * c..(id as usize + 1) * c]) {
            *o += x / ids.len() as f32;
        }
    }
    out
}

/// Cosine similarity, in f64, clamped to [−1, 1]; identical vectors give exactly 1.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut dot, mut na, mut nb) = (0f64, 0f64, 0f64);
    for (&x, &y) in a.iter().zip(b) {
        dot += x as f64 * y as f64;
        na += x as f64 * x as f64;
        nb += y as f64 * y as f64;
    }
    if na == 0.0 || nb == 0.0 {
        return 0.0;
    }
    (dot / (na * nb).sqrt()).clamp(-1.0, 1.0) as f32
}

/// A token and its cosine similarity to the query.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Neighbor {
    pub id: u32,
    pub cosine: f32,
}

/// The `k` tokens whose embeddings are most similar to `vector`, leaving out `exclude`.
pub fn nearest(params: &Params, vector: &[f32], k: usize, exclude: &[u32]) -> Vec<Neighbor> {
    let c = params.config.n_embd;
    let wte = params.tensors().wte;
    let scores: Vec<f32> = wte.chunks_exact(c).map(|row| cosine(vector, row)).collect();
    let mut masked = scores.clone();
    for &id in exclude {
        if let Some(s) = masked.get_mut(id as usize) {
            *s = f32::NEG_INFINITY;
        }
    }
    super::lens::top_indices(&masked, k)
        .into_iter()
        .filter(|&i| masked[i].is_finite())
        .map(|i| Neighbor { id: i as u32, cosine: scores[i] })
        .collect()
}

/// The neighbours of a word, its own tokens left out.
pub fn neighbors(params: &Params, word: &Word, k: usize) -> Vec<Neighbor> {
    nearest(params, &embedding_of(params, &word.ids), k, &word.ids)
}

/// A − B + C, answered both ways: leaving out the tokens of A, B and C (the usual
/// convention, since the nearest vector to A − B + C is often A or C itself) and not.
#[derive(Clone, Debug, Serialize)]
pub struct Analogy {
    pub with_exclusion: Vec<Neighbor>,
    pub without_exclusion: Vec<Neighbor>,
}

pub fn analogy(params: &Params, a: &Word, b: &Word, c: &Word, k: usize) -> Analogy {
    let (va, vb, vc) = (embedding_of(params, &a.ids), embedding_of(params, &b.ids), embedding_of(params, &c.ids));
    let target: Vec<f32> = va.iter().zip(&vb).zip(&vc).map(|((x, y), z)| x - y + z).collect();
    let exclude: Vec<u32> = a.ids.iter().chain(&b.ids).chain(&c.ids).copied().collect();
    Analogy {
        with_exclusion: nearest(params, &target, k, &exclude),
        without_exclusion: nearest(params, &target, k, &[]),
    }
}

/// The words' embeddings projected to 2-D, with a k-means cluster for each.
#[derive(Clone, Debug)]
pub struct Map {
    pub words: Vec<Word>,
    pub projection: Projection,
    pub clusters: Vec<usize>,
}

/// PCA of the words' embeddings (with `clusters` k-means groups; 0 picks about √(n/2)).
pub fn map(params: &Params, words: Vec<Word>, clusters: usize) -> Result<Map> {
    if words.len() < 2 {
        return Err(Error::input("a map needs at least two words (or a model whose whole vocabulary is small)"));
    }
    let vectors: Vec<Vec<f32>> = words.iter().map(|w| embedding_of(params, &w.ids)).collect();
    let k = if clusters == 0 { ((words.len() as f32 / 2.0).sqrt().round() as usize).clamp(1, 8) } else { clusters };
    Ok(Map { projection: pca_2d(&vectors), clusters: kmeans(&vectors, k), words })
}

impl Map {
    /// The map as a standalone SVG document, coloured by k-means cluster.
    pub fn to_svg(&self, title: &str, tokenizer: Option<&Tokenizer>) -> String {
        self.to_svg_by_group(title, tokenizer, &self.clusters, &[])
    }

    /// The map coloured by the words' groups (`groups[i]` is word i's, an index into
    /// `legend`, the names a legend beside the plot gives them; none: no legend).
    pub fn to_svg_by_group(
        &self,
        title: &str,
        tokenizer: Option<&Tokenizer>,
        groups: &[usize],
        legend: &[String],
    ) -> String {
        let points: Vec<super::svg::Point> = self
            .words
            .iter()
            .zip(&self.projection.coords)
            .zip(groups)
            .map(|((w, xy), &group)| super::svg::Point {
                x: xy[0],
                y: xy[1],
                label: if w.word.starts_with('#') && w.ids.len() == 1 {
                    TokenText::new(tokenizer, w.ids[0]).display
                } else {
                    w.word.clone()
                },
                group,
            })
            .collect();
        super::svg::scatter_svg(
            title,
            &format!("PC1 ({:.1}% of variance)", 100.0 * self.projection.explained[0]),
            &format!("PC2 ({:.1}% of variance)", 100.0 * self.projection.explained[1]),
            &points,
            legend,
        )
    }
}

/// One sentence of a context comparison.
#[derive(Clone, Debug, Serialize)]
pub struct ContextText {
    pub text: String,
    /// The positions of the word's tokens in it.
    pub positions: Vec<usize>,
    /// The word's token ids there.
    pub ids: Vec<u32>,
}

/// The same word in different sentences, layer by layer.
#[derive(Clone, Debug, Serialize)]
pub struct ContextReport {
    pub word: String,
    pub texts: Vec<ContextText>,
    /// The row names: `hook_embed` (wte[id]: the token embedding alone, context-free),
    /// then `blocks.L.hook_resid_pre` for each block (block 0's includes the position
    /// embedding), then the last block's `hook_resid_post`.
    pub layers: Vec<String>,
    /// `similarity[layer][i][j]`: cosine between the word's vector in text i and text j.
    pub similarity: Vec<Vec<Vec<f32>>>,
    /// `path[i][layer]`: the word's vector in text i at each layer, as a point of one 2-D
    /// map (PCA of all texts' and layers' vectors, each scaled to length 1 first, so the
    /// map shows directions, as the cosines do). Every path starts at the same point: the
    /// token embedding knows no context.
    pub path: Vec<Vec<[f32; 2]>>,
    /// The share of the variance the map's two axes explain.
    pub path_explained: [f32; 2],
}

/// Compares the vectors of `word` at every layer across `texts`.
pub fn context(
    params: &Params,
    tokenizer: Option<&Tokenizer>,
    word: &str,
    texts: &[String],
    interventions: &Interventions,
) -> Result<ContextReport> {
    let config = &params.config;
    if texts.len() < 2 {
        return Err(Error::input("context compares a word across sentences: give at least two, --in TEXT --in TEXT"));
    }
    let tokenizer = tokenizer.ok_or_else(|| {
        Error::input("this model directory has no tokenizer, so sentences cannot be tokenized for `space context`")
    })?;
    // the spellings to look for: the resolved one first, then the others
    let mut variants: Vec<Vec<u32>> = vec![resolve_word(word, Some(tokenizer), config.vocab_size, false)?.ids];
    if let Tokenizer::Bpe(_) = tokenizer {
        for spelling in [format!(" {}", word.trim_start()), word.trim_start().to_string()] {
            let ids = tokenizer.encode(&spelling);
            if !ids.is_empty() && !variants.contains(&ids) {
                variants.push(ids);
            }
        }
    }
    let c = config.n_embd;
    let rows = config.n_layer + 2;
    let mut layers = vec!["hook_embed".to_string()];
    layers.extend((0..config.n_layer).map(|l| format!("blocks.{l}.hook_resid_pre")));
    layers.push(format!("blocks.{}.hook_resid_post", config.n_layer - 1));
    let mut found = Vec::new();
    let mut vectors: Vec<Vec<Vec<f32>>> = Vec::new(); // [text][layer][C]
    let mut acts = Activations::default();
    for (n, text) in texts.iter().enumerate() {
        let ids = tokenizer
            .encode_checked(text)
            .map_err(|e| Error::input(format!("sentence {} cannot be tokenized: {e}", n + 1)))?;
        if ids.len() > config.n_ctx {
            return Err(Error::input(format!(
                "sentence {} is {} tokens but this model's context holds at most {}; shorten it",
                n + 1,
                ids.len(),
                config.n_ctx
            )));
        }
        let hit =
            variants.iter().find_map(|v| ids.windows(v.len()).position(|w| w == v.as_slice()).map(|p| (p, v.clone())));
        let Some((start, word_ids)) = hit else {
            return Err(Error::input(format!(
                "'{}' does not occur in sentence {} (\"{}\") as the same tokens; each sentence must contain the word",
                excerpt(word),
                n + 1,
                excerpt(text)
            )));
        };
        forward_with_interventions(params, &ids, 1, ids.len(), &mut acts, interventions)?;
        let positions: Vec<usize> = (start..start + word_ids.len()).collect();
        let mean_at = |x: &[f32]| {
            let mut out = vec![0f32; c];
            for &p in &positions {
                for (o, &v) in out.iter_mut().zip(&x[p * c..(p + 1) * c]) {
                    *o += v / positions.len() as f32;
                }
            }
            out
        };
        let mut per_layer = Vec::with_capacity(rows);
        per_layer.push(embedding_of(params, &word_ids));
        for l in 0..config.n_layer {
            per_layer.push(mean_at(acts.resid_pre(l)));
        }
        per_layer.push(mean_at(acts.final_resid()));
        vectors.push(per_layer);
        found.push(ContextText { text: text.clone(), positions, ids: word_ids });
    }
    let similarity = (0..rows)
        .map(|l| {
            (0..texts.len())
                .map(|i| (0..texts.len()).map(|j| cosine(&vectors[i][l], &vectors[j][l])).collect())
                .collect()
        })
        .collect();
    let unit = |v: &Vec<f32>| {
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(f32::MIN_POSITIVE);
        v.iter().map(|x| x / norm).collect::<Vec<f32>>()
    };
    let all: Vec<Vec<f32>> = vectors.iter().flat_map(|per_layer| per_layer.iter().map(unit)).collect();
    let projection = super::pca::pca_2d(&all);
    let path = projection.coords.chunks(rows).map(<[[f32; 2]]>::to_vec).collect();
    Ok(ContextReport {
        word: word.to_string(),
        texts: found,
        layers,
        similarity,
        path,
        path_explained: projection.explained,
    })
}
