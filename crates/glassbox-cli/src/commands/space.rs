//! `glassbox space MODEL …`: the semantic space (语义空间) of token embeddings.
//!
//! ```text
//! glassbox space MODEL neighbors WORD            nearest tokens by cosine similarity
//! glassbox space MODEL analogy A B C             A − B + C (king − man + woman)
//! glassbox space MODEL map [WORD…] --out map.svg the words on a 2-D PCA map (SVG)
//! glassbox space MODEL map [--categories FILE] --out map.svg
//!                                                words by category, coloured by it, with
//!                                                cluster purity and nearest-word agreement
//! glassbox space MODEL context WORD --in TEXT --in TEXT
//!                                                the word's vector layer by layer, per sentence
//! glassbox space MODEL eval [--analogies FILE]    analogy accuracy (questions-words.txt format)
//! glassbox space RUN eval --checkpoints          analogy accuracy and cluster purity of every
//!                                                snapshot the run kept: the space forming
//! ```
//!
//! A word of several tokens is the mean of its tokens' vectors (and the output says so);
//! `#123` names token id 123.

use super::explain::{bar, fit, quoted, Style};
use super::trace::{load, InterventionArgs};
use crate::output::say;
use anyhow::Result;
use glassbox::inspect::analogy_eval::{builtin_questions, evaluate, parse_questions, QuestionSection, SectionScore};
use glassbox::inspect::categories::{builtin_categories, cover, parse_categories, score, Category, CategoryScore};
use glassbox::inspect::meaning::{meaning_over_training, MeaningAtStep};
use glassbox::inspect::space::{analogy, context, map, neighbors, resolve_word, Neighbor, Word};
use glassbox::inspect::TokenText;
use glassbox::io::Model;
use glassbox::tokenizer::Tokenizer;
use glassbox::Error;
use serde_json::json;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// Model directory (Hugging Face GPT-2 layout or a glassbox run).
    model: PathBuf,
    #[command(subcommand)]
    command: SpaceCommand,
}

#[derive(clap::Subcommand)]
enum SpaceCommand {
    /// The tokens whose embeddings are most similar (cosine) to a word's.
    Neighbors {
        /// A word (its tokens' mean vector if it has several) or #ID for a token id.
        word: String,
        /// How many neighbours to list.
        #[arg(long, default_value_t = 10)]
        top: usize,
        /// Tokenize the word exactly as typed (BPE: no leading space added).
        #[arg(long)]
        exact: bool,
    },
    /// A − B + C: which token's embedding is nearest (king − man + woman ≈ queen?).
    Analogy {
        /// The word to start from (king).
        a: String,
        /// The word to subtract (man).
        b: String,
        /// The word to add (woman).
        c: String,
        /// How many answers to list.
        #[arg(long, default_value_t = 5)]
        top: usize,
        /// Tokenize the words exactly as typed (BPE: no leading space added).
        #[arg(long)]
        exact: bool,
    },
    /// A 2-D map (PCA) of words' embeddings, as an SVG; without words, the whole vocabulary
    /// when it has at most 300 tokens, else the words of the built-in categories (royalty,
    /// family, the body, …) it holds, coloured by category and scored.
    Map {
        /// The words to place (#ID for a token id); none: every token of a small vocabulary,
        /// or the category words a larger one holds as single tokens.
        words: Vec<String>,
        /// The SVG file to write.
        #[arg(long, value_name = "FILE.svg")]
        out: PathBuf,
        /// Colour groups (k-means on direction) where the map is not coloured by category;
        /// 0 picks about √(n/2).
        #[arg(long, default_value_t = 0)]
        clusters: usize,
        /// Tokenize the words exactly as typed (BPE: no leading space added).
        #[arg(long)]
        exact: bool,
        /// Colour by these categories (': name' lines, each followed by its words); without
        /// words, map the categories' words. Default without words on a vocabulary of more
        /// than 300 tokens: the built-in categories.
        #[arg(long, value_name = "FILE")]
        categories: Option<PathBuf>,
        /// Print the points, categories and scores as JSON (the SVG is still written).
        #[arg(long)]
        json: bool,
    },
    /// The same word in different sentences: cosine similarity of its vectors at every layer.
    Context {
        /// The word to follow through the layers; each sentence must contain it.
        word: String,
        /// A sentence containing the word (give two or more).
        #[arg(long = "in", value_name = "TEXT", required = true)]
        texts: Vec<String>,
        #[command(flatten)]
        interventions: InterventionArgs,
    },
    /// Analogy accuracy: how often b − a + c is nearest to d, per section, against the
    /// baseline "nearest neighbour of c"; questions with a word of several tokens are not counted.
    Eval {
        /// Questions in the questions-words.txt format (': section' lines, then 'a b c d');
        /// default: a built-in set written for a Shakespeare-trained BPE vocabulary.
        #[arg(long, value_name = "FILE")]
        analogies: Option<PathBuf>,
        /// Score every snapshot the run kept (train --keep-checkpoints), step by step: the
        /// analogies (all sections together) and the built-in categories' cluster purity.
        #[arg(long)]
        checkpoints: bool,
        /// Print the scores as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "—".to_string(), |r| format!("{:.1}%", 100.0 * r))
}

fn score_line(score: &SectionScore) -> String {
    format!(
        "{}  {:>9}  {:>8}  {:>10}  {:>10}  {:>9}",
        fit(&score.name, 20),
        score.questions,
        score.covered,
        percent(score.accuracy_excluding_query),
        percent(score.accuracy_including_query),
        percent(score.accuracy_baseline)
    )
}

fn describe_word(w: &Word, tokenizer: Option<&Tokenizer>) -> String {
    // in context, a byte-level token holding part of a character reads as `part of "你"`
    let tokens: Vec<String> = match tokenizer.and_then(|t| t.views(&w.ids).ok()) {
        Some(views) => views.iter().map(|v| v.label()).collect(),
        None => w.ids.iter().map(|&id| quoted(&TokenText::new(tokenizer, id).display)).collect(),
    };
    if w.is_multi_token() {
        format!("'{}' is {} tokens ({}): its vector is their mean", w.word, w.ids.len(), tokens.join(" + "))
    } else {
        format!("'{}' is token {} {}", w.word, w.ids[0], tokens[0])
    }
}

fn neighbor_table(s: &Style, list: &[Neighbor], tokenizer: Option<&Tokenizer>) {
    for (rank, nb) in list.iter().enumerate() {
        let text = quoted(&TokenText::new(tokenizer, nb.id).display);
        say!(
            "    {:>2}. {} {:>7}  {:>7.4}  {}",
            rank + 1,
            fit(&text, 18),
            nb.id,
            nb.cosine,
            s.cyan(&bar(nb.cosine.max(0.0), 24))
        );
    }
}

/// What `space map` was asked for.
struct MapRequest<'a> {
    model_dir: &'a Path,
    words: Vec<String>,
    out: PathBuf,
    clusters: usize,
    exact: bool,
    json: bool,
}

fn map_title(request: &MapRequest) -> String {
    format!("token embeddings of {} — PCA", request.model_dir.display())
}

fn write_svg(out: &Path, svg: &str) -> Result<()> {
    glassbox::io::write_atomic(out, |w| w.write_all(svg.as_bytes()))?;
    Ok(())
}

fn mapped_line(s: &Style, points: usize, out: &Path, explained: [f32; 2]) {
    say!(
        "{} {} points to {}  ·  PC1 {:.1}% and PC2 {:.1}% of the variance",
        s.bold("mapped"),
        points,
        out.display(),
        100.0 * explained[0],
        100.0 * explained[1]
    );
}

/// The words given (or every token of a small vocabulary), coloured by k-means cluster.
fn map_words(model: &Model, tok: Option<&Tokenizer>, request: &MapRequest) -> Result<()> {
    let v = model.config.vocab_size;
    let s = Style::stdout();
    let resolved: Vec<Word> = if request.words.is_empty() {
        (0..v as u32).map(|id| resolve_word(&format!("#{id}"), tok, v, true)).collect::<Result<_, _>>()?
    } else {
        request.words.iter().map(|w| resolve_word(w, tok, v, request.exact)).collect::<Result<_, _>>()?
    };
    let m = map(&model.params, resolved, request.clusters)?;
    write_svg(&request.out, &m.to_svg(&map_title(request), tok))?;
    let label = |w: &Word| if w.word.starts_with('#') { TokenText::new(tok, w.ids[0]).display } else { w.word.clone() };
    if request.json {
        let points: Vec<_> = m
            .words
            .iter()
            .zip(m.projection.coords.iter().zip(&m.clusters))
            .map(|(w, (xy, cluster))| json!({"word": label(w), "ids": w.ids, "x": xy[0], "y": xy[1], "cluster": cluster}))
            .collect();
        say!("{}", json!({"svg": request.out, "explained": m.projection.explained, "points": points}));
        return Ok(());
    }
    mapped_line(&s, m.words.len(), &request.out, m.projection.explained);
    for w in m.words.iter().filter(|w| w.is_multi_token()) {
        say!("  {}", s.dim(&describe_word(w, tok)));
    }
    for (w, (xy, cluster)) in m.words.iter().zip(m.projection.coords.iter().zip(&m.clusters)).take(40) {
        say!("  {}  ({:>8.3}, {:>8.3})  group {}", fit(&label(w), 16), xy[0], xy[1], cluster);
    }
    if m.words.len() > 40 {
        say!("  {}", s.dim(&format!("… and {} more in the SVG", m.words.len() - 40)));
    }
    Ok(())
}

/// The scores in one line, each beside its chance level.
fn score_summary(score: &CategoryScore) -> String {
    format!(
        "k-means (k = {}) purity {} (chance {}) · nearest word of the same category {} (chance {})",
        score.categories,
        percent(Some(score.purity)),
        percent(Some(score.purity_chance)),
        percent(Some(score.neighbour_agreement)),
        percent(Some(score.neighbour_chance))
    )
}

/// Words coloured by category: the categories' words this vocabulary holds as single
/// tokens, or the words given with the category each belongs to (words of none form a
/// group of their own); scored when two categories have two words each.
fn map_by_category(
    model: &Model,
    tok: Option<&Tokenizer>,
    request: &MapRequest,
    categories: &[Category],
    source: &str,
) -> Result<()> {
    let v = model.config.vocab_size;
    let s = Style::stdout();
    let given = !request.words.is_empty();
    // with words given, each category keeps the words among them
    let asked: Vec<Category> = if given {
        categories
            .iter()
            .map(|c| Category {
                name: c.name.clone(),
                words: c.words.iter().filter(|w| request.words.contains(w)).cloned().collect(),
            })
            .collect()
    } else {
        categories.to_vec()
    };
    let coverage = cover(&asked, tok, v)?;
    // the map's words, the legend's category names, and each word's index into them
    let (resolved, mut legend, groups): (Vec<Word>, Vec<String>, Vec<Option<usize>>) = if given {
        let resolved: Vec<Word> =
            request.words.iter().map(|w| resolve_word(w, tok, v, request.exact)).collect::<Result<_, _>>()?;
        let named: Vec<&Category> = asked.iter().filter(|c| !c.words.is_empty()).collect();
        let groups = request.words.iter().map(|w| named.iter().position(|c| c.words.contains(w))).collect();
        (resolved, named.iter().map(|c| c.name.clone()).collect(), groups)
    } else {
        if coverage.categories.len() < 2 {
            return Err(Error::input(format!(
                "{source}: {} of {} words are single tokens of this {v}-token vocabulary, in {} categories of two \
                 words or more, too few to map; name the words to map (space map king queen man woman --out \
                 map.svg) or give --categories FILE with words this vocabulary holds",
                coverage.words.len(),
                coverage.asked,
                coverage.categories.len()
            ))
            .into());
        }
        let words = coverage.words.iter().map(|w| w.word.clone()).collect();
        (words, coverage.categories.clone(), coverage.words.iter().map(|w| Some(w.category)).collect())
    };
    let named = legend.len();
    if groups.iter().any(Option::is_none) {
        legend.push("(no category)".to_string());
    }
    let group_of: Vec<usize> = groups.iter().map(|g| g.unwrap_or(named)).collect();
    let scores = if coverage.categories.len() >= 2 { Some(score(&model.params, &coverage)?) } else { None };
    let m = map(&model.params, resolved, request.clusters)?;
    write_svg(&request.out, &m.to_svg_by_group(&map_title(request), tok, &group_of, &legend))?;
    if request.json {
        let points: Vec<_> = m
            .words
            .iter()
            .zip(m.projection.coords.iter().zip(&group_of))
            .map(|(w, (xy, &group))| {
                json!({"word": w.word, "ids": w.ids, "x": xy[0], "y": xy[1], "category": legend[..named].get(group)})
            })
            .collect();
        say!(
            "{}",
            json!({
                "svg": request.out,
                "source": source,
                "explained": m.projection.explained,
                "categories": legend[..named],
                "points": points,
                "asked": coverage.asked,
                "not_covered": coverage.not_covered,
                "score": scores,
            })
        );
        return Ok(());
    }
    mapped_line(&s, m.words.len(), &request.out, m.projection.explained);
    for w in m.words.iter().filter(|w| w.is_multi_token()) {
        say!("  {}", s.dim(&describe_word(w, tok)));
    }
    say!(
        "{} {source}: {} of {} words are single tokens of this vocabulary",
        s.bold("coloured by category —"),
        coverage.words.len(),
        coverage.asked
    );
    for (index, name) in coverage.categories.iter().enumerate() {
        let words: Vec<&str> = coverage.words_of(index).collect();
        say!("  {} {}", s.cyan(&fit(&format!("{name} ({})", words.len()), 18)), words.join(" "));
    }
    if !coverage.not_covered.is_empty() {
        const SHOWN: usize = 12;
        let more = coverage.not_covered.len().saturating_sub(SHOWN);
        let tail = if more > 0 { format!(" … and {more} more") } else { String::new() };
        say!(
            "  {}",
            s.dim(&format!(
                "not covered ({}: several tokens, unknown, or a category left with one word): {}{tail}",
                coverage.not_covered.len(),
                coverage.not_covered[..coverage.not_covered.len().min(SHOWN)].join(" ")
            ))
        );
    }
    match &scores {
        Some(score) => {
            say!("  {}", s.bold(&score_summary(score)));
            say!(
                "  {}",
                s.dim(
                    "purity: k-means groups the words by direction knowing nothing of the categories; each group is \
                     credited with its commonest category, and purity is the share of words so credited"
                )
            );
        }
        None => say!("  {}", s.dim("not scored: that needs two categories with two single-token words each")),
    }
    Ok(())
}

/// `space RUN eval --checkpoints`: one row per kept snapshot, printed as it is scored.
fn eval_checkpoints(run: &Path, sections: &[QuestionSection], source: &str, json: bool) -> Result<()> {
    let s = Style::stdout();
    let categories = builtin_categories();
    if !json {
        say!("{}", s.bold(&format!("the semantic space over training — {}", run.display())));
        say!(
            "  {}",
            s.dim(&format!(
                "analogies: {source}, all sections together, over the questions whose four words are single tokens;"
            ))
        );
        say!(
            "  {}",
            s.dim(
                "clusters: the built-in category words, k-means purity and nearest-word agreement beside their chance"
            )
        );
        say!(
            "  {}",
            s.dim(&format!(
                "{:>7}  {:>8}  {:>7}  {:>9}  {:>9}  {:>8}  {:>15}  {:>15}",
                "step",
                "val loss",
                "covered",
                "excluding",
                "including",
                "baseline",
                "purity (chance)",
                "agree (chance)"
            ))
        );
    }
    let row_line = |row: &MeaningAtStep| {
        let a = &row.score.analogy;
        let with_chance = |value: f64, chance: f64| format!("{} ({})", percent(Some(value)), percent(Some(chance)));
        let (purity, agree) = match &row.score.clusters {
            Some(c) => (with_chance(c.purity, c.purity_chance), with_chance(c.neighbour_agreement, c.neighbour_chance)),
            None => ("—".into(), "—".into()),
        };
        format!(
            "{:>7}  {:>8}  {:>7}  {:>9}  {:>9}  {:>8}  {:>15}  {:>15}  {}",
            row.step,
            row.val_loss.map_or_else(|| "—".into(), |l| format!("{l:.4}")),
            a.covered,
            percent(a.accuracy_excluding_query),
            percent(a.accuracy_including_query),
            percent(a.accuracy_baseline),
            purity,
            agree,
            s.cyan(&bar(row.score.clusters.as_ref().map_or(0.0, |c| c.purity as f32), 16))
        )
    };
    let rows = meaning_over_training(run, sections, &categories, |row| {
        if !json {
            say!("  {}", row_line(row));
        }
    })?;
    if json {
        say!("{}", json!({"run": run, "questions": source, "rows": rows}));
        return Ok(());
    }
    if let Some(last) = rows.last() {
        if last.score.clusters.is_none() {
            say!(
                "  {}",
                s.dim("clusters not scored: this vocabulary holds fewer than two categories' words as single tokens")
            );
        }
        if last.score.analogy.covered == 0 {
            say!("  {}", s.dim("no analogy question is covered: its words are not single tokens of this vocabulary"));
        }
    }
    Ok(())
}

pub fn run(args: Args) -> Result<()> {
    let (model, tokenizer) = load(&args.model)?;
    let tok = tokenizer.as_ref();
    let v = model.config.vocab_size;
    let s = Style::stdout();
    match args.command {
        SpaceCommand::Neighbors { word, top, exact } => {
            let w = resolve_word(&word, tok, v, exact)?;
            say!("{}  {}", s.bold("nearest tokens to"), describe_word(&w, tok));
            say!("  {}", s.dim("cosine similarity of token embeddings (rows of wte), the word's own tokens left out"));
            neighbor_table(&s, &neighbors(&model.params, &w, top), tok);
        }
        SpaceCommand::Analogy { a, b, c, top, exact } => {
            let (wa, wb, wc) =
                (resolve_word(&a, tok, v, exact)?, resolve_word(&b, tok, v, exact)?, resolve_word(&c, tok, v, exact)?);
            say!("{}", s.bold(&format!("{a} − {b} + {c} ≈ ?")));
            for w in [&wa, &wb, &wc] {
                say!("  {}", s.dim(&describe_word(w, tok)));
            }
            let result = analogy(&model.params, &wa, &wb, &wc, top);
            say!("  {}", s.bold("leaving out the three query words (the usual convention):"));
            neighbor_table(&s, &result.with_exclusion, tok);
            say!("  {}", s.bold("over every token (the query words often win: A − B + C stays near A and C):"));
            neighbor_table(&s, &result.without_exclusion, tok);
        }
        SpaceCommand::Map { words, out, clusters, exact, categories, json } => {
            let request = MapRequest { model_dir: &args.model, words, out, clusters, exact, json };
            match categories {
                Some(path) => {
                    let bytes = std::fs::read(&path).map_err(|e| Error::reading(&path, e))?;
                    let list = parse_categories(&bytes, &path.display().to_string())?;
                    map_by_category(&model, tok, &request, &list, &path.display().to_string())?;
                }
                None if request.words.is_empty() && v > 300 => {
                    map_by_category(&model, tok, &request, &builtin_categories(), "the built-in categories")?
                }
                None => map_words(&model, tok, &request)?,
            }
        }
        SpaceCommand::Context { word, texts, interventions } => {
            let interventions = interventions.parse(&model.params, tokenizer.as_ref())?;
            let report = context(&model.params, tok, &word, &texts, &interventions)?;
            say!("{}", s.bold(&format!("'{word}' in {} sentences, layer by layer", texts.len())));
            for (i, t) in report.texts.iter().enumerate() {
                let tokens: Vec<String> = t.ids.iter().map(|&id| quoted(&TokenText::new(tok, id).display)).collect();
                let note = if t.ids.len() > 1 { " (mean of these tokens)" } else { "" };
                say!(
                    "  {} {}  {}",
                    s.cyan(&format!("[{}]", i + 1)),
                    t.text,
                    s.dim(&format!("— {} at position {:?}{note}", tokens.join(" + "), t.positions))
                );
            }
            for line in interventions.describe() {
                say!("  {} {line}", s.yellow("intervention:"));
            }
            let n = texts.len();
            let pairs: Vec<(usize, usize)> = (0..n).flat_map(|i| (i + 1..n).map(move |j| (i, j))).collect();
            let header: Vec<String> =
                pairs.iter().take(6).map(|(i, j)| format!("{:>14}", format!("cos [{}]·[{}]", i + 1, j + 1))).collect();
            say!();
            say!("  {}", s.dim(&format!("{:<30} {}", "layer", header.join(" "))));
            for (l, name) in report.layers.iter().enumerate() {
                let cells: Vec<String> =
                    pairs.iter().take(6).map(|&(i, j)| format!("{:>14.4}", report.similarity[l][i][j])).collect();
                let first = report.similarity[l][pairs[0].0][pairs[0].1];
                say!("  {:<30} {}  {}", name, cells.join(" "), s.cyan(&bar(first.max(0.0), 20)));
            }
            say!(
                "  {}",
                s.dim("hook_embed is the token embedding wte[id] alone: context-free, so the same token gives exactly 1.0000;")
            );
            say!(
                "  {}",
                s.dim("blocks.0.hook_resid_pre adds the position embedding; each block then mixes in the context")
            );
        }
        SpaceCommand::Eval { analogies, checkpoints, json } => {
            let (sections, source) = match &analogies {
                Some(path) => {
                    let text = std::fs::read_to_string(path).map_err(|e| {
                        Error::input(format!(
                            "cannot read the analogy questions {}: {e}; give a UTF-8 text file in the questions-words.txt format",
                            path.display()
                        ))
                    })?;
                    (parse_questions(&text, &path.display().to_string())?, path.display().to_string())
                }
                None => (builtin_questions(), "the built-in questions".to_string()),
            };
            if checkpoints {
                return eval_checkpoints(&args.model, &sections, &source, json);
            }
            let eval = evaluate(&model.params, tok, &sections)?;
            if json {
                say!("{}", serde_json::to_string(&eval)?);
                return Ok(());
            }
            say!("{}", s.bold(&format!("analogies a : b :: c : d — {source}, answer b − a + c")));
            say!("  {}", s.dim("covered: all four words are single tokens; the other questions are not counted"));
            say!(
                "  {}",
                s.dim("accuracy over the covered: excluding a, b, c from the answers (the usual convention), including them,")
            );
            say!("  {}", s.dim("and the baseline: is d simply c's nearest neighbour? (Linzen 2016)"));
            say!(
                "  {}",
                s.dim(&format!(
                    "{}  {:>9}  {:>8}  {:>10}  {:>10}  {:>9}",
                    fit("section", 20),
                    "questions",
                    "covered",
                    "excluding",
                    "including",
                    "baseline"
                ))
            );
            for score in &eval.sections {
                say!("  {}", score_line(score));
            }
            say!("  {}", s.bold(&score_line(&eval.overall)));
        }
    }
    Ok(())
}
