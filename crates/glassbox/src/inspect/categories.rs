//! Words by category — royalty, family, the body, numbers, places, feelings, animals, time —
//! the ground truth the semantic space (语义空间) is held against: do the embeddings of
//! words of one category lie together? Pipeline position: after training, beside
//! [`super::analogy_eval`]; reads only the token embeddings (`wte`).
//!
//! Two measures, each with its chance level, over the words the vocabulary holds as single
//! tokens (a word of several tokens is not counted, as in the analogy evaluation):
//! - **cluster purity**: k-means (by direction, k = the number of categories) knows
//!   nothing of the categories; each cluster is credited with its most common category,
//!   and purity is the share of words so credited. Chance: the same clusters with the
//!   category labels shuffled (mean over 200 seeded shuffles).
//! - **neighbour agreement**: the share of words whose nearest other word (cosine) is of
//!   their own category. Chance: the share of pairs of different words of one category.
//!
//! Categories of one's own are read by [`parse_categories`], in the manner of
//! questions-words.txt: a line `: name` starts a category, the lines after it hold its
//! words, separated by white space.

use super::pca::kmeans;
use super::space::{cosine, embedding_of, resolve_word, Word};
use crate::error::{excerpt, Error, Result};
use crate::model::Params;
use crate::rng::Rng;
use crate::tokenizer::Tokenizer;
use serde::Serialize;

/// A named list of words.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Category {
    pub name: String,
    pub words: Vec<String>,
}

/// The built-in categories, written for a model trained on Shakespeare's plays (words
/// the plays use often, so a small BPE vocabulary tends to hold them whole).
pub fn builtin_categories() -> Vec<Category> {
    const LISTS: &[(&str, &[&str])] = &[
        (
            "royalty",
            &[
                "king",
                "queen",
                "prince",
                "princess",
                "duke",
                "duchess",
                "lord",
                "lady",
                "emperor",
                "earl",
                "sovereign",
                "majesty",
                "knight",
                "noble",
            ],
        ),
        (
            "family",
            &[
                "father", "mother", "son", "daughter", "brother", "sister", "husband", "wife", "uncle", "aunt",
                "cousin", "child", "nephew", "widow", "kinsman",
            ],
        ),
        (
            "body",
            &[
                "hand", "eye", "head", "heart", "face", "arm", "foot", "tongue", "lips", "hair", "blood", "ear",
                "cheek", "brow", "breast", "bones",
            ],
        ),
        (
            "numbers",
            &[
                "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "twenty", "hundred",
                "thousand",
            ],
        ),
        (
            "places",
            &[
                "England", "France", "Rome", "London", "Venice", "Italy", "Paris", "Egypt", "Athens", "Scotland",
                "Wales", "Spain", "Denmark", "Greece", "Milan", "Naples", "York",
            ],
        ),
        (
            "feelings",
            &[
                "love", "hate", "fear", "joy", "grief", "sorrow", "anger", "rage", "hope", "pity", "shame", "despair",
                "woe", "delight", "pride",
            ],
        ),
        (
            "animals",
            &[
                "horse", "dog", "lion", "wolf", "bear", "fox", "bird", "eagle", "serpent", "lamb", "sheep", "ass",
                "cat", "deer", "dove", "crow", "hawk", "goose",
            ],
        ),
        (
            "time",
            &[
                "day",
                "night",
                "morning",
                "evening",
                "hour",
                "year",
                "week",
                "month",
                "winter",
                "summer",
                "spring",
                "today",
                "tomorrow",
                "yesterday",
            ],
        ),
    ];
    LISTS
        .iter()
        .map(|(name, words)| Category { name: name.to_string(), words: words.iter().map(|w| w.to_string()).collect() })
        .collect()
}

/// Reads categories written as `: name` lines, each followed by lines of words separated
/// by white space (blank lines are skipped). `source` names the file in errors, which give
/// its line number: bytes that are not UTF-8, a word before the first `: name` line, a `:`
/// without a name, a name used twice, a category without words.
pub fn parse_categories(bytes: &[u8], source: &str) -> Result<Vec<Category>> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = 1 + bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count();
        Error::input(format!("{source} line {line}: the bytes are not UTF-8 text; save the categories as UTF-8"))
    })?;
    // each category with the line number of its `: name` line
    let mut categories: Vec<(Category, usize)> = Vec::new();
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
                    "{source} line {number}: a category line needs a name after the colon, as ': animals'"
                )));
            }
            if let Some((_, first)) = categories.iter().find(|(c, _)| c.name == name) {
                return Err(Error::input(format!(
                    "{source} line {number}: the category '{}' was already started on line {first}; give each category one name",
                    excerpt(name)
                )));
            }
            categories.push((Category { name: name.to_string(), words: Vec::new() }, number));
            continue;
        }
        let Some((category, _)) = categories.last_mut() else {
            return Err(Error::input(format!(
                "{source} line {number}: the words '{}' come before any category; start with a line ': name'",
                excerpt(line)
            )));
        };
        category.words.extend(line.split_whitespace().map(String::from));
    }
    if let Some((empty, number)) = categories.iter().find(|(c, _)| c.words.is_empty()) {
        return Err(Error::input(format!(
            "{source} line {number}: the category '{}' has no words; put its words on the lines after ': {}'",
            excerpt(&empty.name),
            excerpt(&empty.name)
        )));
    }
    if categories.is_empty() {
        return Err(Error::input(format!(
            "{source} has no categories; write a line ': name' and the category's words on the lines after it"
        )));
    }
    Ok(categories.into_iter().map(|(c, _)| c).collect())
}

/// A word the vocabulary holds as one token, with its category.
#[derive(Clone, Debug, Serialize)]
pub struct LabelledWord {
    pub word: Word,
    /// Index into [`Coverage::categories`].
    pub category: usize,
}

/// Which of the categories' words this vocabulary can place.
#[derive(Clone, Debug, Serialize)]
pub struct Coverage {
    /// The categories that keep at least two words (one word cannot cluster).
    pub categories: Vec<String>,
    pub words: Vec<LabelledWord>,
    /// Words left out: several tokens, unknown to the tokenizer, or a token already
    /// placed (each token is counted once, under its first category).
    pub not_covered: Vec<String>,
    /// The words asked for in all.
    pub asked: usize,
}

impl Coverage {
    /// Whether enough words are covered for the categories to be worth showing by
    /// default (the web page's map): at least [`SHOW_MIN_CATEGORIES`] categories and
    /// [`SHOW_MIN_WORDS`] words.
    pub fn worth_showing(&self) -> bool {
        self.categories.len() >= SHOW_MIN_CATEGORIES && self.words.len() >= SHOW_MIN_WORDS
    }

    /// The words of category `index`, as asked for.
    pub fn words_of(&self, index: usize) -> impl Iterator<Item = &str> {
        self.words.iter().filter(move |w| w.category == index).map(|w| w.word.word.as_str())
    }
}

/// Fewest categories a default map by category shows.
pub const SHOW_MIN_CATEGORIES: usize = 2;
/// Fewest covered words a default map by category shows.
pub const SHOW_MIN_WORDS: usize = 12;

/// Looks up every word of `categories` (as [`resolve_word`] spells it: ` king` with BPE)
/// and keeps the single tokens.
pub fn cover(categories: &[Category], tokenizer: Option<&Tokenizer>, vocab_size: usize) -> Result<Coverage> {
    if tokenizer.is_none() {
        return Err(Error::input(
            "this model directory has no tokenizer, so the category words cannot be looked up; use a model saved with its tokenizer",
        ));
    }
    let mut kept: Vec<(String, Vec<Word>)> = Vec::new();
    let mut not_covered = Vec::new();
    let mut seen: Vec<u32> = Vec::new();
    let mut asked = 0;
    for category in categories {
        let mut words = Vec::new();
        for word in &category.words {
            asked += 1;
            match resolve_word(word, tokenizer, vocab_size, false) {
                Ok(w) if w.ids.len() == 1 && !seen.contains(&w.ids[0]) => {
                    seen.push(w.ids[0]);
                    words.push(w);
                }
                _ => not_covered.push(word.clone()),
            }
        }
        kept.push((category.name.clone(), words));
    }
    let mut coverage = Coverage { categories: Vec::new(), words: Vec::new(), not_covered, asked };
    for (name, words) in kept {
        if words.len() < 2 {
            coverage.not_covered.extend(words.into_iter().map(|w| w.word));
            continue;
        }
        let index = coverage.categories.len();
        coverage.categories.push(name);
        coverage.words.extend(words.into_iter().map(|word| LabelledWord { word, category: index }));
    }
    Ok(coverage)
}

/// How well the embeddings group the covered words by category.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CategoryScore {
    /// Words counted (single tokens of categories with at least two of them).
    pub words: usize,
    pub categories: usize,
    /// Each word's k-means cluster (k = `categories`), in the order of [`Coverage::words`].
    pub clusters: Vec<usize>,
    /// Share of words in their cluster's most common category.
    pub purity: f64,
    /// The mean purity of the same clusters with the labels shuffled.
    pub purity_chance: f64,
    /// Share of words whose nearest other word is of their category.
    pub neighbour_agreement: f64,
    /// The share a random nearest word would reach.
    pub neighbour_chance: f64,
}

/// Purity of `clusters` against `labels` (both numbered from 0).
pub fn purity(clusters: &[usize], labels: &[usize]) -> f64 {
    if clusters.is_empty() {
        return 0.0;
    }
    let k = clusters.iter().max().map_or(0, |m| m + 1);
    let c = labels.iter().max().map_or(0, |m| m + 1);
    let mut counts = vec![0usize; k * c];
    for (&cluster, &label) in clusters.iter().zip(labels) {
        counts[cluster * c + label] += 1;
    }
    let credited: usize = counts.chunks_exact(c).map(|row| row.iter().copied().max().unwrap_or(0)).sum();
    credited as f64 / clusters.len() as f64
}

/// Scores the covered words on the model's embeddings. Deterministic: k-means starts from
/// the first word, the shuffles from a fixed seed.
pub fn score(params: &Params, coverage: &Coverage) -> Result<CategoryScore> {
    let n = coverage.words.len();
    if coverage.categories.len() < 2 {
        return Err(Error::input(format!(
            "only {} of the categories have two or more words this vocabulary holds as single tokens; clusters cannot \
             be compared with categories (a larger or word-level vocabulary places more of them)",
            coverage.categories.len()
        )));
    }
    let vectors: Vec<Vec<f32>> = coverage.words.iter().map(|w| embedding_of(params, &w.word.ids)).collect();
    let labels: Vec<usize> = coverage.words.iter().map(|w| w.category).collect();
    let clusters = kmeans(&vectors, coverage.categories.len());
    let measured = purity(&clusters, &labels);
    let mut rng = Rng::new(0x9E37_79B9_7F4A_7C15);
    let mut shuffled = labels.clone();
    const SHUFFLES: usize = 200;
    let mut chance_sum = 0.0;
    for _ in 0..SHUFFLES {
        for i in (1..n).rev() {
            shuffled.swap(i, rng.below(i + 1));
        }
        chance_sum += purity(&clusters, &shuffled);
    }
    // nearest other word among the covered ones
    let mut agree = 0;
    for i in 0..n {
        let nearest = (0..n)
            .filter(|&j| j != i)
            .max_by(|&a, &b| {
                cosine(&vectors[i], &vectors[a]).total_cmp(&cosine(&vectors[i], &vectors[b])).then(b.cmp(&a))
            })
            .expect("at least four words");
        agree += usize::from(labels[nearest] == labels[i]);
    }
    let same_pairs: usize = (0..coverage.categories.len())
        .map(|c| {
            let m = labels.iter().filter(|&&l| l == c).count();
            m * m.saturating_sub(1)
        })
        .sum();
    Ok(CategoryScore {
        words: n,
        categories: coverage.categories.len(),
        clusters,
        purity: measured,
        purity_chance: chance_sum / SHUFFLES as f64,
        neighbour_agreement: agree as f64 / n as f64,
        neighbour_chance: same_pairs as f64 / (n * (n - 1)) as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::GptConfig;
    use crate::tokenizer::CharTokenizer;

    #[test]
    fn purity_credits_each_cluster_with_its_commonest_label() {
        assert_eq!(purity(&[0, 0, 1, 1], &[0, 0, 1, 1]), 1.0);
        assert_eq!(purity(&[0, 0, 0, 0], &[0, 0, 1, 1]), 0.5);
        // cluster 0 holds labels {0, 0, 1}: 2 credited; cluster 1 holds {1}: 1 credited
        assert_eq!(purity(&[0, 0, 0, 1], &[0, 0, 1, 1]), 0.75);
    }

    /// A character model whose letters a–d point one way and w–z another: the clusters
    /// find the two categories, and a category of one single-token word is dropped.
    #[test]
    fn separated_categories_score_full_purity_above_chance() {
        let alphabet = "abcdwxyzq";
        let tokenizer = Tokenizer::Char(CharTokenizer::from_chars(alphabet.chars().collect()).unwrap());
        let config = GptConfig::new(1, 1, 4, alphabet.len(), 4);
        let mut params = Params::zeros(&config);
        let wte = params.tensors_mut().wte;
        for (i, ch) in alphabet.chars().enumerate() {
            let row = &mut wte[i * 4..(i + 1) * 4];
            let wobble = 0.05 * i as f32;
            row.copy_from_slice(&match ch {
                'a'..='d' => [1.0, wobble, 0.0, 0.0],
                'w'..='z' => [0.0, 0.0, 1.0, wobble],
                _ => [0.0, 1.0, 0.0, 0.0],
            });
        }
        let categories = [
            Category { name: "first".into(), words: "abcd".chars().map(String::from).collect() },
            Category { name: "last".into(), words: vec!["w".into(), "x".into(), "yz".into(), "z".into(), "y".into()] },
            Category { name: "lonely".into(), words: vec!["q".into(), "é".into()] },
        ];
        let coverage = cover(&categories, Some(&tokenizer), alphabet.len()).unwrap();
        assert_eq!(coverage.categories, vec!["first", "last"]);
        assert_eq!(coverage.words.len(), 8);
        assert_eq!(coverage.asked, 11);
        // "yz" is two tokens, "é" unknown, "q" alone in its category
        assert_eq!(coverage.not_covered, vec!["yz", "é", "q"]);
        let s = score(&params, &coverage).unwrap();
        assert_eq!(s.purity, 1.0);
        assert_eq!(s.neighbour_agreement, 1.0);
        // 4 + 4 words: a shuffled clustering of two clusters of four is credited 2 or 3
        // or 4 per cluster, on average well under 1; a random neighbour is of the same
        // category 3 times in 7
        assert!(s.purity_chance > 0.5 && s.purity_chance < 0.8, "{}", s.purity_chance);
        assert!((s.neighbour_chance - 3.0 / 7.0).abs() < 1e-12);
        assert_eq!(s.clusters[..4], [s.clusters[0]; 4]);
        assert_ne!(s.clusters[0], s.clusters[4]);
    }

    #[test]
    fn categories_are_read_from_colon_lines_and_their_words() {
        let text = "\n: animals\nhorse dog\n  cat\n\n:  time \nday night\tweek\n";
        let parsed = parse_categories(text.as_bytes(), "c.txt").unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(
            parsed[0],
            Category { name: "animals".into(), words: vec!["horse".into(), "dog".into(), "cat".into()] }
        );
        assert_eq!(parsed[1].name, "time");
        assert_eq!(parsed[1].words, vec!["day", "night", "week"]);
    }

    #[test]
    fn malformed_categories_are_named_by_file_and_line() {
        let message = |text: &[u8]| parse_categories(text, "mine.txt").unwrap_err().to_string();
        let early = message(b"\nhorse dog\n: animals\ncat\n");
        assert!(
            early.contains("mine.txt line 2") && early.contains("'horse dog'") && early.contains(": name"),
            "{early}"
        );
        let empty = message(b": animals\nhorse\n: time\n\n: body\nhand\n");
        assert!(empty.contains("mine.txt line 3") && empty.contains("'time' has no words"), "{empty}");
        let last_empty = message(b": animals\nhorse\n: time\n");
        assert!(last_empty.contains("line 3") && last_empty.contains("'time'"), "{last_empty}");
        let nameless = message(b": animals\nhorse\n:\nday\n");
        assert!(nameless.contains("line 3") && nameless.contains("name after the colon"), "{nameless}");
        let twice = message(b": animals\nhorse\n: animals\ndog\n");
        assert!(twice.contains("line 3") && twice.contains("line 1"), "{twice}");
        let not_utf8 = message(b": animals\nhorse\nd\xffg\n");
        assert!(not_utf8.contains("mine.txt line 3") && not_utf8.contains("UTF-8"), "{not_utf8}");
        assert!(message(b"\n\n").contains("no categories"));
    }
}
