//! Watching a model learn: what each snapshot a run kept (`train --keep-checkpoints`)
//! does at its step, for the training page's replay — every head's previous-token and
//! induction score ([`heads`](super::heads), so the induction bump of Olsson et al. 2022
//! shows beside the loss) and the token embeddings' 2-D map.
//!
//! Each snapshot's map is its own PCA, and PCA's axes have no fixed sign or order: two
//! snapshots a few steps apart can come out mirrored or turned. [`align_maps`] turns every
//! map onto the one after it (the last stays as it is) with the rotation or reflection that
//! brings its points closest (orthogonal Procrustes), after scaling each to a root-mean-
//! square radius of 1. Distances within a map are kept; only the frame changes, so a point
//! moves between frames only as far as the model moved it.
//! Pipeline position: after training, on each snapshot's `wte` and a forward pass of the
//! head detector; used by the server's `/api/training/learning`.

use super::categories::{builtin_categories, cover};
use super::heads::{detect_heads, HeadOptions, HeadReport};
use super::pca::pca_2d;
use super::space::embedding_of;
use super::TokenText;
use crate::error::{Error, Result};
use crate::model::Params;
use crate::tokenizer::Tokenizer;
use serde::Serialize;

/// A vocabulary up to this size is mapped whole (a character or task model); a larger one
/// maps the built-in category words.
pub const WHOLE_VOCABULARY_MAP: usize = 300;

/// The points every snapshot's map places: the same words, in the same order.
#[derive(Clone, Debug, Serialize)]
pub struct MapWords {
    /// How each point is labelled.
    pub labels: Vec<String>,
    /// The token ids whose mean embedding is the point (one id for every point here).
    pub ids: Vec<Vec<u32>>,
    /// Each point's group, an index into `group_names`.
    pub groups: Vec<usize>,
    /// For a character vocabulary the kinds of character (`vowel`, `consonant`, `digit`,
    /// `space`, `punctuation`, `other`, the page translates them); otherwise the built-in
    /// categories' names.
    pub group_names: Vec<String>,
    /// `characters` or `categories`: what the groups are.
    pub grouped_by: &'static str,
}

/// Kinds of character, in the order a legend lists them.
const CHARACTER_KINDS: [&str; 6] = ["vowel", "consonant", "digit", "space", "punctuation", "other"];

fn character_kind(text: &str) -> usize {
    let mut chars = text.chars();
    let (Some(c), None) = (chars.next(), chars.next()) else { return 5 };
    match c {
        c if "aeiouAEIOUàáâäèéêëìíîïòóôöùúûüÀÁÂÄÈÉÊËÌÍÎÏÒÓÔÖÙÚÛÜ".contains(c) => {
            0
        }
        c if c.is_alphabetic() => 1,
        c if c.is_numeric() => 2,
        c if c.is_whitespace() => 3,
        c if c.is_ascii_punctuation() => 4,
        _ => 5,
    }
}

/// The words to map: a small vocabulary whole, grouped by kind of character; a large
/// one's built-in category words that are single tokens, grouped by category.
pub fn map_words(tokenizer: Option<&Tokenizer>, vocab_size: usize) -> Result<MapWords> {
    if vocab_size <= WHOLE_VOCABULARY_MAP {
        let texts: Vec<TokenText> = (0..vocab_size as u32).map(|id| TokenText::new(tokenizer, id)).collect();
        let groups = texts.iter().map(|t| t.text.as_deref().map_or(5, character_kind)).collect();
        return Ok(MapWords {
            labels: texts.into_iter().map(|t| t.display).collect(),
            ids: (0..vocab_size as u32).map(|id| vec![id]).collect(),
            groups,
            group_names: CHARACTER_KINDS.iter().map(|s| s.to_string()).collect(),
            grouped_by: "characters",
        });
    }
    let coverage = cover(&builtin_categories(), tokenizer, vocab_size)?;
    if !coverage.worth_showing() {
        return Err(Error::input(format!(
            "the vocabulary holds only {} of the built-in category words as single tokens, too few to map",
            coverage.words.len()
        )));
    }
    Ok(MapWords {
        labels: coverage.words.iter().map(|w| w.word.word.clone()).collect(),
        ids: coverage.words.iter().map(|w| w.word.ids.clone()).collect(),
        groups: coverage.words.iter().map(|w| w.category).collect(),
        group_names: coverage.categories,
        grouped_by: "categories",
    })
}

/// One snapshot's own map: the PCA of the words' embeddings, scaled to a root-mean-square
/// radius of 1, and the share of variance each axis explains.
pub fn own_map(params: &Params, words: &MapWords) -> (Vec<[f32; 2]>, [f32; 2]) {
    let vectors: Vec<Vec<f32>> = words.ids.iter().map(|ids| embedding_of(params, ids)).collect();
    let projection = pca_2d(&vectors);
    (unit_rms(projection.coords), projection.explained)
}

fn unit_rms(mut points: Vec<[f32; 2]>) -> Vec<[f32; 2]> {
    let n = points.len().max(1) as f64;
    let rms = (points.iter().map(|p| (p[0] as f64).powi(2) + (p[1] as f64).powi(2)).sum::<f64>() / n).sqrt();
    if rms > 0.0 {
        for p in &mut points {
            *p = [(p[0] as f64 / rms) as f32, (p[1] as f64 / rms) as f32];
        }
    }
    points
}

/// The orthogonal 2×2 matrix `R` (a rotation, or a rotation after mirroring the second
/// axis) that minimises Σ |R·aᵢ − bᵢ|², as rows: `[[r00, r01], [r10, r11]]`.
///
/// For a rotation by θ, Σ bᵢ·(R aᵢ) = cos θ · Σ(aₓbₓ + a_y b_y) + sin θ · Σ(aₓb_y − a_y bₓ),
/// largest at θ = atan2(second sum, first sum); the mirrored case is the same with a_y
/// negated. The better of the two wins.
pub fn best_orthogonal(from: &[[f32; 2]], to: &[[f32; 2]]) -> [[f32; 2]; 2] {
    let fit = |mirror: f64| {
        let (mut along, mut across) = (0f64, 0f64);
        for (a, b) in from.iter().zip(to) {
            let (ax, ay) = (a[0] as f64, mirror * a[1] as f64);
            let (bx, by) = (b[0] as f64, b[1] as f64);
            along += ax * bx + ay * by;
            across += ax * by - ay * bx;
        }
        (along.hypot(across), across.atan2(along))
    };
    let (plain, mirrored) = (fit(1.0), fit(-1.0));
    let (mirror, theta) = if mirrored.0 > plain.0 { (-1.0, mirrored.1) } else { (1.0, plain.1) };
    let (s, c) = theta.sin_cos();
    // R = rotation(θ) · diag(1, mirror)
    [[c as f32, (-s * mirror) as f32], [s as f32, (c * mirror) as f32]]
}

fn apply(r: &[[f32; 2]; 2], points: &mut [[f32; 2]]) {
    for p in points {
        *p = [r[0][0] * p[0] + r[0][1] * p[1], r[1][0] * p[0] + r[1][1] * p[1]];
    }
}

/// Turns each map onto the next one (already turned), from the second-to-last back to
/// the first; the last map keeps its frame.
pub fn align_maps(maps: &mut [Vec<[f32; 2]>]) {
    for i in (0..maps.len().saturating_sub(1)).rev() {
        let (earlier, later) = maps.split_at_mut(i + 1);
        let r = best_orthogonal(&earlier[i], &later[0]);
        apply(&r, &mut earlier[i]);
    }
}

/// The most logits (batch × sequence × vocabulary) the head detector computes for one
/// snapshot: 16 sequences for a small vocabulary, fewer for GPT-2's.
const HEAD_LOGITS_BUDGET: usize = 24 << 20;

/// Every head's scores on repeated random sequences ([`detect_heads`] with its defaults,
/// fewer sequences where the vocabulary is large), the same sequences for every snapshot.
pub fn head_scores(params: &Params) -> Result<HeadReport> {
    let config = &params.config;
    let n = (config.n_ctx.saturating_sub(1) / 2).min(50);
    let per_sequence = (2 * n + 1) * config.vocab_size;
    let sequences = (HEAD_LOGITS_BUDGET / per_sequence.max(1)).clamp(1, 16);
    detect_heads(params, &HeadOptions { sequences, ..HeadOptions::default() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turned(points: &[[f32; 2]], degrees: f32, mirror: bool) -> Vec<[f32; 2]> {
        let (s, c) = degrees.to_radians().sin_cos();
        points
            .iter()
            .map(|p| {
                let y = if mirror { -p[1] } else { p[1] };
                [c * p[0] - s * y, s * p[0] + c * y]
            })
            .collect()
    }

    const SHAPE: [[f32; 2]; 5] = [[1.0, 0.2], [-0.5, 0.9], [0.3, -1.1], [-0.8, -0.4], [0.0, 0.4]];

    #[test]
    fn a_turned_or_mirrored_copy_is_turned_back() {
        for (degrees, mirror) in [(0.0, false), (40.0, false), (-170.0, false), (25.0, true), (180.0, true)] {
            let copy = turned(&SHAPE, degrees, mirror);
            let r = best_orthogonal(&copy, &SHAPE);
            let mut back = copy.clone();
            apply(&r, &mut back);
            for (b, p) in back.iter().zip(&SHAPE) {
                assert!(
                    (b[0] - p[0]).abs() < 1e-5 && (b[1] - p[1]).abs() < 1e-5,
                    "{degrees}° {mirror}: {b:?} vs {p:?}"
                );
            }
            // orthogonal: RᵀR = I
            let dot = |i: usize, j: usize| r[0][i] * r[0][j] + r[1][i] * r[1][j];
            assert!((dot(0, 0) - 1.0).abs() < 1e-6 && (dot(1, 1) - 1.0).abs() < 1e-6 && dot(0, 1).abs() < 1e-6);
        }
    }

    #[test]
    fn aligning_keeps_the_last_frame_and_every_distance() {
        let frames = vec![turned(&SHAPE, 100.0, true), turned(&SHAPE, -30.0, false), SHAPE.to_vec()];
        let mut aligned = frames.clone();
        align_maps(&mut aligned);
        assert_eq!(aligned[2], SHAPE.to_vec());
        for (frame, original) in aligned.iter().zip(&frames) {
            for i in 0..SHAPE.len() {
                for j in 0..SHAPE.len() {
                    let d = |f: &[[f32; 2]]| ((f[i][0] - f[j][0]).powi(2) + (f[i][1] - f[j][1]).powi(2)).sqrt();
                    assert!((d(frame) - d(original)).abs() < 1e-5);
                }
            }
            // the same shape, so each lands on the last
            for (a, b) in frame.iter().zip(&SHAPE) {
                assert!((a[0] - b[0]).abs() < 1e-5 && (a[1] - b[1]).abs() < 1e-5);
            }
        }
    }

    #[test]
    fn a_small_vocabulary_is_mapped_whole_by_kind_of_character() {
        let tokenizer =
            Tokenizer::Char(crate::tokenizer::CharTokenizer::from_chars("\n ,aBz7é".chars().collect()).unwrap());
        let words = map_words(Some(&tokenizer), 8).unwrap();
        assert_eq!(words.labels, ["\\n", " ", ",", "a", "B", "z", "7", "é"]);
        let kinds: Vec<&str> = words.groups.iter().map(|&g| words.group_names[g].as_str()).collect();
        assert_eq!(kinds, ["space", "space", "punctuation", "vowel", "consonant", "consonant", "digit", "vowel"]);
        assert_eq!(words.grouped_by, "characters");
    }

    #[test]
    fn each_map_has_unit_rms_radius() {
        let points = unit_rms(vec![[3.0, 4.0], [-3.0, -4.0]]);
        assert_eq!(points, vec![[0.6, 0.8], [-0.6, -0.8]]);
    }
}
