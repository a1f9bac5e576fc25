//! Analogy evaluation of the semantic space: how often `b − a + c` lands on `d` for
//! questions `a b c d` (king queen man woman), in the `questions-words.txt` format of
//! Mikolov et al. (2013): `: section` lines, then one question of four words a line.
//!
//! Honest counting:
//! - a question is *covered* only when all four words are single tokens (looked up as in
//!   [`super::space::resolve_word`], ` king` with its leading space under BPE); a question
//!   the vocabulary cannot represent is never counted right or wrong;
//! - accuracy is reported with the three query words left out of the answers (the usual
//!   convention), without leaving them out, and against the baseline "the nearest
//!   neighbour of `c` alone" (`c` itself left out; Linzen 2016), which the offset
//!   method must beat to show a relation rather than mere similarity.
//!
//! The arithmetic is `space analogy`'s: `b − a + c` on the raw rows of `wte`, answers
//! ranked by cosine similarity; ties go to the lower token id.

use super::space::resolve_word;
use crate::error::{excerpt, Error, Result};
use crate::model::Params;
use crate::tokenizer::Tokenizer;
use rayon::prelude::*;
use serde::Serialize;

/// A named group of analogy questions, each `[a, b, c, d]`: a is to b as c is to d.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuestionSection {
    pub name: String,
    pub questions: Vec<[String; 4]>,
}

/// Parses the `questions-words.txt` format: `: section` starts a section; every other
/// non-blank line is four whitespace-separated words. `source` names the text in errors.
pub fn parse_questions(text: &str, source: &str) -> Result<Vec<QuestionSection>> {
    let mut sections: Vec<QuestionSection> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix(':') {
            let name = name.trim();
            if name.is_empty() {
                return Err(Error::input(format!(
                    "{source} line {number}: a section line needs a name after the colon, as ': capital-common-countries'"
                )));
            }
            sections.push(QuestionSection { name: name.to_string(), questions: Vec::new() });
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let question: [&str; 4] = words.as_slice().try_into().map_err(|_| {
            Error::input(format!(
                "{source} line {number}: '{}' is not a question; write four words 'a b c d' (a is to b as c is to d) or ': section'",
                excerpt(line)
            ))
        })?;
        if sections.is_empty() {
            sections.push(QuestionSection { name: "questions".to_string(), questions: Vec::new() });
        }
        sections.last_mut().expect("a section").questions.push(question.map(String::from));
    }
    if sections.iter().all(|s| s.questions.is_empty()) {
        return Err(Error::input(format!(
            "{source} has no questions; write lines of four words 'a b c d' under ': section' lines"
        )));
    }
    Ok(sections)
}

/// The built-in questions, written for a model trained on Shakespeare's plays: every
/// ordered pair of two word pairs of a section that share no word (`a b c d` from `a b`
/// and `c d`). Places are cities of their countries that the plays name.
pub fn builtin_questions() -> Vec<QuestionSection> {
    const SECTIONS: &[(&str, &[(&str, &str)])] = &[
        (
            "family-and-rank",
            &[
                ("king", "queen"),
                ("lord", "lady"),
                ("father", "mother"),
                ("son", "daughter"),
                ("brother", "sister"),
                ("husband", "wife"),
                ("man", "woman"),
                ("prince", "princess"),
                ("duke", "duchess"),
                ("uncle", "aunt"),
                ("boy", "girl"),
                ("master", "mistress"),
            ],
        ),
        ("pronouns", &[("he", "she"), ("his", "her"), ("him", "her"), ("himself", "herself")]),
        (
            "number-successor",
            &[
                ("one", "two"),
                ("two", "three"),
                ("three", "four"),
                ("four", "five"),
                ("five", "six"),
                ("six", "seven"),
                ("seven", "eight"),
                ("eight", "nine"),
                ("nine", "ten"),
            ],
        ),
        (
            "number-ordinal",
            &[
                ("one", "first"),
                ("two", "second"),
                ("three", "third"),
                ("four", "fourth"),
                ("five", "fifth"),
                ("six", "sixth"),
                ("ten", "tenth"),
            ],
        ),
        (
            "plural",
            &[
                ("lord", "lords"),
                ("king", "kings"),
                ("man", "men"),
                ("woman", "women"),
                ("eye", "eyes"),
                ("hand", "hands"),
                ("heart", "hearts"),
                ("friend", "friends"),
                ("son", "sons"),
                ("word", "words"),
            ],
        ),
        (
            "country-city",
            &[
                ("England", "London"),
                ("France", "Paris"),
                ("Italy", "Rome"),
                ("Greece", "Athens"),
                ("Egypt", "Alexandria"),
                ("Austria", "Vienna"),
                ("Denmark", "Elsinore"),
            ],
        ),
    ];
    SECTIONS
        .iter()
        .map(|(name, pairs)| QuestionSection { name: name.to_string(), questions: all_pairs(pairs) })
        .collect()
}

/// `a b c d` for every ordered pair of distinct pairs `(a, b)`, `(c, d)` sharing no word.
fn all_pairs(pairs: &[(&str, &str)]) -> Vec<[String; 4]> {
    let mut out = Vec::new();
    for &(a, b) in pairs {
        for &(c, d) in pairs {
            if [a, b].iter().any(|w| *w == c || *w == d) {
                continue;
            }
            out.push([a, b, c, d].map(String::from));
        }
    }
    out
}

/// How one section (or all of them) scored.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SectionScore {
    pub name: String,
    pub questions: usize,
    /// Questions whose four words are single tokens: the only ones counted.
    pub covered: usize,
    /// Right answers of `b − a + c`, the three query words left out.
    pub right_excluding_query: usize,
    /// Right answers of `b − a + c` over every token.
    pub right_including_query: usize,
    /// Right answers of the nearest neighbour of `c` alone (`c` left out).
    pub right_baseline: usize,
    /// The three rates over the covered questions (none when nothing is covered).
    pub accuracy_excluding_query: Option<f64>,
    pub accuracy_including_query: Option<f64>,
    pub accuracy_baseline: Option<f64>,
}

impl SectionScore {
    fn new(name: &str) -> SectionScore {
        SectionScore {
            name: name.to_string(),
            questions: 0,
            covered: 0,
            right_excluding_query: 0,
            right_including_query: 0,
            right_baseline: 0,
            accuracy_excluding_query: None,
            accuracy_including_query: None,
            accuracy_baseline: None,
        }
    }

    fn add(&mut self, other: &SectionScore) {
        self.questions += other.questions;
        self.covered += other.covered;
        self.right_excluding_query += other.right_excluding_query;
        self.right_including_query += other.right_including_query;
        self.right_baseline += other.right_baseline;
    }

    fn finish(mut self) -> SectionScore {
        let rate = |right: usize| (self.covered > 0).then(|| right as f64 / self.covered as f64);
        self.accuracy_excluding_query = rate(self.right_excluding_query);
        self.accuracy_including_query = rate(self.right_including_query);
        self.accuracy_baseline = rate(self.right_baseline);
        self
    }
}

/// The evaluation: each section, then all of them together.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AnalogyEval {
    pub sections: Vec<SectionScore>,
    pub overall: SectionScore,
}

/// The token embeddings scaled to unit length, so that a dot product ranks by cosine.
struct UnitRows {
    rows: Vec<f32>,
    dim: usize,
}

impl UnitRows {
    fn new(params: &Params) -> UnitRows {
        let dim = params.config.n_embd;
        let mut rows = params.tensors().wte.to_vec();
        for row in rows.chunks_exact_mut(dim) {
            let norm = row.iter().map(|&x| x as f64 * x as f64).sum::<f64>().sqrt();
            if norm > 0.0 {
                row.iter_mut().for_each(|x| *x = (*x as f64 / norm) as f32);
            }
        }
        UnitRows { rows, dim }
    }

    fn row(&self, id: u32) -> &[f32] {
        &self.rows[id as usize * self.dim..(id as usize + 1) * self.dim]
    }

    /// In one pass over the vocabulary, the tokens most similar (cosine) to `target`
    /// leaving out `query` and not, and the token most similar to `c` leaving out `c`
    /// (`query[2]`); ties go to the lower id.
    fn answers(&self, target: &[f32], query: [u32; 3]) -> Answers {
        let c = query[2];
        let c_row = self.row(c);
        let (mut excluding, mut including, mut baseline) = (Best::default(), Best::default(), Best::default());
        for (id, row) in self.rows.chunks_exact(self.dim).enumerate() {
            let id = id as u32;
            let (mut to_target, mut to_c) = (0f64, 0f64);
            for ((&t, &x), &r) in target.iter().zip(c_row).zip(row) {
                to_target += t as f64 * r as f64;
                to_c += x as f64 * r as f64;
            }
            including.offer(id, to_target);
            if !query.contains(&id) {
                excluding.offer(id, to_target);
            }
            if id != c {
                baseline.offer(id, to_c);
            }
        }
        Answers { excluding: excluding.id, including: including.id, baseline: baseline.id }
    }
}

/// The best-scoring token so far.
#[derive(Default)]
struct Best {
    id: Option<u32>,
    score: f64,
}

impl Best {
    fn offer(&mut self, id: u32, score: f64) {
        if self.id.is_none() || score > self.score {
            *self = Best { id: Some(id), score };
        }
    }
}

/// The answers to one question: `b − a + c` with and without the query words, and `c`'s neighbour.
struct Answers {
    excluding: Option<u32>,
    including: Option<u32>,
    baseline: Option<u32>,
}

/// Scores `sections` on the model's token embeddings. Words are looked up with the
/// model's tokenizer; a word it cannot spell, or spells as several tokens, leaves its
/// question uncovered.
pub fn evaluate(params: &Params, tokenizer: Option<&Tokenizer>, sections: &[QuestionSection]) -> Result<AnalogyEval> {
    if tokenizer.is_none() {
        return Err(Error::input(
            "this model directory has no tokenizer, so the questions' words cannot be looked up; evaluate a model saved with its tokenizer",
        ));
    }
    let vocab_size = params.config.vocab_size;
    let single_token = |word: &str| -> Option<u32> {
        match resolve_word(word, tokenizer, vocab_size, false) {
            Ok(w) if w.ids.len() == 1 => Some(w.ids[0]),
            _ => None,
        }
    };
    let unit = UnitRows::new(params);
    let wte = params.tensors().wte;
    let mut overall = SectionScore::new("overall");
    let mut scores = Vec::with_capacity(sections.len());
    for section in sections {
        let mut score = SectionScore::new(&section.name);
        score.questions = section.questions.len();
        let covered: Vec<[u32; 4]> = section
            .questions
            .iter()
            .filter_map(|q| q.iter().map(|w| single_token(w)).collect::<Option<Vec<u32>>>())
            .map(|ids| [ids[0], ids[1], ids[2], ids[3]])
            .collect();
        score.covered = covered.len();
        // each question on its own thread's share; the counts do not depend on the order
        let right: Vec<[usize; 3]> = covered
            .par_iter()
            .map(|&[a, b, c, d]| {
                let raw = |id: u32| &wte[id as usize * unit.dim..(id as usize + 1) * unit.dim];
                let target: Vec<f32> = (0..unit.dim).map(|i| raw(b)[i] - raw(a)[i] + raw(c)[i]).collect();
                let answers = unit.answers(&target, [a, b, c]);
                [answers.excluding, answers.including, answers.baseline].map(|x| usize::from(x == Some(d)))
            })
            .collect();
        score.right_excluding_query = right.iter().map(|r| r[0]).sum();
        score.right_including_query = right.iter().map(|r| r[1]).sum();
        score.right_baseline = right.iter().map(|r| r[2]).sum();
        overall.add(&score);
        scores.push(score.finish());
    }
    Ok(AnalogyEval { sections: scores, overall: overall.finish() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::GptConfig;
    use crate::tokenizer::CharTokenizer;

    /// A character model whose embeddings hold a gender direction (dimension 0) and one
    /// dimension per concept: K(ing)/Q(ueen), M(an)/W(oman), P(rince)/S (princess, its
    /// concept twice as strong, so that P's nearest neighbour is S), then unrelated letters.
    fn gendered_model() -> (Params, Tokenizer) {
        let chars = "KQMWPSabcd";
        let n = 10;
        let config = GptConfig::new(1, 1, n, chars.chars().count(), 8);
        let mut params = Params::init_random(&config, 3);
        let wte = params.tensors_mut().wte;
        wte.iter_mut().for_each(|x| *x = 0.0);
        let mut set = |id: usize, dim: usize, value: f32| wte[id * n + dim] = value;
        for (pair, strength) in [(0, 1.0), (1, 1.0), (2, 2.0)] {
            set(2 * pair, 0, 1.0);
            set(2 * pair, 1 + pair, strength);
            set(2 * pair + 1, 0, -1.0);
            set(2 * pair + 1, 1 + pair, strength);
        }
        for id in 6..10 {
            set(id, id - 2, 1.0);
        }
        (params, Tokenizer::Char(CharTokenizer::from_chars(chars.chars().collect()).unwrap()))
    }

    const QUESTIONS: &str = "\
: gender
K Q M W
K Q P S
M W K Q

M W P S
P S K Q
P S M W
: unspellable
KQ Q M W
K Q M z
";

    #[test]
    fn the_built_in_relation_is_found_every_time_and_beats_the_baseline() {
        let (params, tokenizer) = gendered_model();
        let sections = parse_questions(QUESTIONS, "test").unwrap();
        let eval = evaluate(&params, Some(&tokenizer), &sections).unwrap();
        let gender = &eval.sections[0];
        assert_eq!((gender.questions, gender.covered), (6, 6));
        assert_eq!(gender.accuracy_excluding_query, Some(1.0));
        assert_eq!(gender.accuracy_including_query, Some(1.0), "b − a + c equals d exactly");
        // c's nearest neighbour is d only for c = P (cos(P, S) = 3/5 beats cos(P, K) = 1/√10)
        assert_eq!(gender.right_baseline, 2);
        assert_eq!(eval.overall.accuracy_baseline, Some(2.0 / 6.0));
    }

    #[test]
    fn questions_the_vocabulary_cannot_spell_are_not_counted() {
        let (params, tokenizer) = gendered_model();
        let sections = parse_questions(QUESTIONS, "test").unwrap();
        let eval = evaluate(&params, Some(&tokenizer), &sections).unwrap();
        // "KQ" is two tokens and "z" no token at all
        let unspellable = &eval.sections[1];
        assert_eq!((unspellable.questions, unspellable.covered), (2, 0));
        assert_eq!(unspellable.accuracy_excluding_query, None);
        assert_eq!((eval.overall.questions, eval.overall.covered), (8, 6));
        assert_eq!(eval.overall.accuracy_excluding_query, Some(1.0), "the uncovered are not wrong");
        assert!(evaluate(&params, None, &sections).is_err());
    }

    #[test]
    fn a_malformed_line_is_named_by_its_number() {
        let err = parse_questions(": s\nK Q M W\n\nK Q M\n", "q.txt").unwrap_err().to_string();
        assert!(err.contains("q.txt line 4") && err.contains("'K Q M'"), "{err}");
        let long = format!(": s\n{}\n", "word ".repeat(100));
        let err = parse_questions(&long, "q.txt").unwrap_err().to_string();
        assert!(err.contains("line 2") && err.len() < 300, "{err}");
        let err = parse_questions(":\nK Q M W\n", "q.txt").unwrap_err().to_string();
        assert!(err.contains("line 1"), "{err}");
        assert!(parse_questions("\n: empty\n", "q.txt").is_err());
        let loose = parse_questions("a b c d\n", "q.txt").unwrap();
        assert_eq!(loose[0].questions, vec![["a", "b", "c", "d"].map(String::from)]);
    }

    #[test]
    fn the_built_in_set_pairs_every_two_pairs_that_share_no_word() {
        let set = builtin_questions();
        let count = |name: &str| set.iter().find(|s| s.name == name).unwrap().questions.len();
        assert_eq!(count("family-and-rank"), 12 * 11, "12 pairs, no word shared");
        // 9 successor pairs; neighbours in the sequence share a word (8 such pairs, both orders)
        assert_eq!(count("number-successor"), 9 * 8 - 2 * 8);
        // his/her and him/her share "her"
        assert_eq!(count("pronouns"), 4 * 3 - 2);
        for section in &set {
            for q in &section.questions {
                assert!(q[2] != q[0] && q[3] != q[1] && q[2] != q[1] && q[3] != q[0], "{q:?}");
            }
        }
    }
}
