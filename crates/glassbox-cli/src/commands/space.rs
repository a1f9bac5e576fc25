//! `glassbox space MODEL …`: the semantic space (语义空间) of token embeddings.
//!
//! ```text
//! glassbox space MODEL neighbors WORD            nearest tokens by cosine similarity
//! glassbox space MODEL analogy A B C             A − B + C (king − man + woman)
//! glassbox space MODEL map [WORD…] --out map.svg the words on a 2-D PCA map (SVG)
//! glassbox space MODEL context WORD --in TEXT --in TEXT
//!                                                the word's vector layer by layer, per sentence
//! glassbox space MODEL eval [--analogies FILE]    analogy accuracy (questions-words.txt format)
//! ```
//!
//! A word of several tokens is the mean of its tokens' vectors (and the output says so);
//! `#123` names token id 123.

use super::explain::{bar, fit, quoted, Style};
use super::trace::{load, InterventionArgs};
use crate::output::say;
use anyhow::Result;
use glassbox::inspect::analogy_eval::{builtin_questions, evaluate, parse_questions, SectionScore};
use glassbox::inspect::space::{analogy, context, map, neighbors, resolve_word, Neighbor, Word};
use glassbox::inspect::TokenText;
use glassbox::tokenizer::Tokenizer;
use glassbox::Error;
use std::path::PathBuf;

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
    /// when it has at most 300 tokens.
    Map {
        /// The words to place (#ID for a token id); none: every token of a small vocabulary.
        words: Vec<String>,
        /// The SVG file to write.
        #[arg(long, value_name = "FILE.svg")]
        out: PathBuf,
        /// Colour groups (k-means on direction); 0 picks about √(n/2).
        #[arg(long, default_value_t = 0)]
        clusters: usize,
        /// Tokenize the words exactly as typed (BPE: no leading space added).
        #[arg(long)]
        exact: bool,
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
        SpaceCommand::Map { words, out, clusters, exact } => {
            let resolved: Vec<Word> = if words.is_empty() {
                if v > 300 {
                    return Err(Error::input(format!(
                        "name the words to map (this vocabulary has {v} tokens, too many to draw): space map king queen man woman --out map.svg"
                    ))
                    .into());
                }
                (0..v as u32).map(|id| resolve_word(&format!("#{id}"), tok, v, true)).collect::<Result<_, _>>()?
            } else {
                words.iter().map(|w| resolve_word(w, tok, v, exact)).collect::<Result<_, _>>()?
            };
            let multi: Vec<&Word> = resolved.iter().filter(|w| w.is_multi_token()).collect();
            let m = map(&model.params, resolved.clone(), clusters)?;
            let title = format!("token embeddings of {} — PCA", args.model.display());
            let svg = m.to_svg(&title, tok);
            glassbox::io::write_atomic(&out, |w| w.write_all(svg.as_bytes()))?;
            say!(
                "{} {} points to {}  ·  PC1 {:.1}% and PC2 {:.1}% of the variance",
                s.bold("mapped"),
                m.words.len(),
                out.display(),
                100.0 * m.projection.explained[0],
                100.0 * m.projection.explained[1]
            );
            for w in multi {
                say!("  {}", s.dim(&describe_word(w, tok)));
            }
            for (w, (xy, cluster)) in m.words.iter().zip(m.projection.coords.iter().zip(&m.clusters)).take(40) {
                let label =
                    if w.word.starts_with('#') { TokenText::new(tok, w.ids[0]).display } else { w.word.clone() };
                say!("  {}  ({:>8.3}, {:>8.3})  group {}", fit(&label, 16), xy[0], xy[1], cluster);
            }
            if m.words.len() > 40 {
                say!("  {}", s.dim(&format!("… and {} more in the SVG", m.words.len() - 40)));
            }
        }
        SpaceCommand::Context { word, texts, interventions } => {
            let interventions = interventions.parse(&model.config)?;
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
        SpaceCommand::Eval { analogies, json } => {
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
