//! `glassbox demo meaning`: meaning is geometry, shown in minutes. Trains a GPT on the
//! complete works of Shakespeare (carried inside the binary, see `corpus.rs`) with a
//! byte-level BPE vocabulary of 4,096 tokens, so that common words are single tokens, then
//! opens its semantic space (语义空间): each word's nearest words, king − man + woman, the
//! analogy evaluation against its baseline, how well words fall into categories, one word
//! in three sentences, and a map — printed, and written as an SVG.
//!
//! The run keeps a model snapshot at every tenth of training (`checkpoints/step-N/`), so
//! that `space RUN eval --checkpoints` and the training page can replay the space forming;
//! while it trains, each snapshot's nearest words to " king" are printed as they change.
//! Deterministic for a seed and thread count. Ctrl-C checkpoints and says how to resume.

use super::demo::{refuse_to_replace, snapshot_every, Args, Style};
use super::train::{human, Spinner, TrainBar};
use crate::corpus;
use crate::interrupt::Interrupt;
use crate::output::say;
use anyhow::Result;
use glassbox::inspect::analogy_eval::{builtin_questions, evaluate};
use glassbox::inspect::categories::{builtin_categories, cover, score};
use glassbox::inspect::space::{analogy, context, map, neighbors, resolve_word, Map, Neighbor};
use glassbox::inspect::{Interventions, TokenText};
use glassbox::io::load_model;
use glassbox::model::Params;
use glassbox::tokenizer::Tokenizer;
use glassbox::train::run_dir::kept_checkpoint_dir;
use glassbox::train::{DataSource, Event, NewRun, OptionChanges, ShapeRequest, Trainer};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Where the demo saves its run unless told otherwise; the corpus goes beside it.
const DEFAULT_OUT: &str = "runs/meaning";
/// The vocabulary: large enough that whole words are tokens, small enough to train fast.
const TOKENIZER: &str = "bpe:4096";
/// The recipe: the `baby` shape (4 layers, 4 heads, 128 dims, context 64), batch 16.
const BATCH: usize = 16;
pub const STEPS: usize = 3000;
/// The words whose neighbours are shown, the analogy, and one word in three sentences.
const NEIGHBOUR_WORDS: [&str; 5] = ["king", "man", "France", "three", "love"];
const ANALOGY: [&str; 3] = ["king", "man", "woman"];
const CONTEXT_WORD: &str = "grave";
const CONTEXT_TEXTS: [&str; 3] = ["a grave and serious man", "dig a grave", "a most grave and reverend lord"];

pub fn run(args: Args) -> Result<()> {
    let style = Style::detect();
    let replace = args.force || (args.out.is_none() && holds_an_earlier_demo(Path::new(DEFAULT_OUT)));
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_OUT));
    refuse_to_replace(&out, replace)?;
    let steps = args.steps.unwrap_or(STEPS);
    let cadence = snapshot_every(steps);
    say!(
        "{}",
        style.bold("glassbox demo meaning — a GPT reads Shakespeare, and its words become a semantic space (语义空间)")
    );
    let corpus_path = out.parent().unwrap_or(Path::new("")).join(corpus::FILE_NAME);
    corpus::write_to(&corpus_path)?;
    say!(
        "corpus: {} — the complete plays and poems, {} characters (public domain; carried inside glassbox)",
        corpus_path.display(),
        human(corpus::TEXT_BYTES as f64)
    );
    let started = Instant::now();
    let spinner = Spinner::new();
    let mut prep = |stage: &str, done: usize, total: usize| spinner.show(stage, done, total);
    let options = OptionChanges {
        batch: Some(BATCH),
        steps: Some(steps),
        seed: Some(args.seed),
        eval_every: Some(cadence),
        checkpoint_every: Some(cadence),
        keep_checkpoints: Some(true),
        ..OptionChanges::default()
    };
    let spec = NewRun {
        dir: out.clone(),
        data: DataSource::Text { path: corpus_path.clone(), tokenizer: TOKENIZER.into() },
        shape: ShapeRequest { preset: Some("baby".into()), ..ShapeRequest::default() },
        options,
        overwrite: replace,
    };
    let mut trainer = Trainer::create(spec, &mut prep)?;
    spinner.finish();
    let prepared = started.elapsed().as_secs_f64();
    let c = &trainer.gpt()?.config;
    let threads = rayon::current_num_threads();
    say!(
        "tokenizer: byte-level BPE of {} tokens, learned from the first 90% of the text ({prepared:.1} s with the tokenizing)",
        c.vocab_size
    );
    say!(
        "model: {} layers, {} heads, {} dims, context {} — {} parameters; {steps} steps × {BATCH} sequences on {threads} thread{}, seed {}",
        c.n_layer,
        c.n_head,
        c.n_embd,
        c.n_ctx,
        human(c.num_params() as f64),
        if threads == 1 { "" } else { "s" },
        args.seed
    );
    say!(
        "{}",
        style.dim(&format!(
            "each row of wte is a token's vector of {} numbers; watch the words nearest \" king\" change:",
            c.n_embd
        ))
    );
    let tokenizer = trainer.tokenizer.clone();
    say!("  step {:>5}  (random weights)       king ≈ {}", 0, nearest_words(trainer.gpt()?, &tokenizer, "king", 5));

    let interrupt = Interrupt::install()?;
    let mut bar = TrainBar::new(&trainer);
    let mut val_loss = None;
    let run_dir = out.clone();
    let trained = Instant::now();
    trainer.run_until(
        &mut |event| match event {
            Event::Eval(e) => val_loss = Some(e.val_loss),
            Event::Checkpoint { step, .. } => {
                let snapshot = kept_checkpoint_dir(&run_dir, *step);
                let words = match load_model(&snapshot) {
                    Ok(model) => nearest_words(&model.params, &tokenizer, "king", 5),
                    Err(e) => format!("(snapshot unreadable: {e})"),
                };
                let loss = val_loss.map_or(String::new(), |l| format!("val loss {l:.3}"));
                bar.println(&format!("  step {step:>5}  {loss:<20}  king ≈ {words}"));
            }
            other => bar.event(other),
        },
        &|| interrupt.requested(),
    )?;
    bar.finish();
    if trainer.step < trainer.options.steps {
        let _ = writeln!(
            std::io::stderr(),
            "{} at step {} of {}: checkpoint saved in {}; continue with: {} train --resume --out {}",
            interrupt.name(),
            trainer.step,
            trainer.options.steps,
            out.display(),
            super::program(),
            super::shell_word(&out.display().to_string())
        );
        std::process::exit(interrupt.exit_code());
    }
    let minutes = started.elapsed().as_secs_f64() / 60.0;
    say!(
        "\ntrained {} steps in {:.1} min ({:.1} min in all); val loss {}; saved in {}, with a snapshot every {cadence} steps in {}",
        trainer.step,
        trained.elapsed().as_secs_f64() / 60.0,
        minutes,
        val_loss.map_or("—".into(), |l| format!("{l:.3}")),
        out.display(),
        kept_checkpoint_dir(&out, cadence).parent().unwrap_or(&out).display()
    );
    report(trainer.gpt()?, &tokenizer, &out, &style)?;
    next_steps(&out, &style);
    Ok(())
}

/// The words nearest `word`, as `queen, prince, duke`.
fn nearest_words(params: &Params, tokenizer: &Tokenizer, word: &str, k: usize) -> String {
    match resolve_word(word, Some(tokenizer), params.config.vocab_size, false) {
        Ok(w) => neighbors(params, &w, k).iter().map(|n| token(tokenizer, n.id)).collect::<Vec<_>>().join(", "),
        Err(e) => e.to_string(),
    }
}

/// A token as text, its leading space dropped (` queen` reads `queen`).
fn token(tokenizer: &Tokenizer, id: u32) -> String {
    let text = TokenText::new(Some(tokenizer), id).display;
    text.strip_prefix(' ').map(str::to_string).unwrap_or(text)
}

fn with_cosines(tokenizer: &Tokenizer, list: &[Neighbor]) -> String {
    list.iter().map(|n| format!("{} {:.2}", token(tokenizer, n.id), n.cosine)).collect::<Vec<_>>().join(", ")
}

/// What the trained space holds: neighbours, the analogy, its evaluation, categories,
/// context, and the map.
fn report(params: &Params, tokenizer: &Tokenizer, out: &Path, style: &Style) -> Result<()> {
    let v = params.config.vocab_size;
    let tok = Some(tokenizer);
    say!("\n{}", style.bold("nearest words (cosine similarity of the token vectors, rows of wte):"));
    for word in NEIGHBOUR_WORDS {
        let w = resolve_word(word, tok, v, false)?;
        let note = if w.is_multi_token() { style.dim(" (several tokens: their mean)") } else { String::new() };
        say!("  {:<8} → {}{note}", word, with_cosines(tokenizer, &neighbors(params, &w, 6)));
    }

    let [a, b, c] = ANALOGY.map(|w| resolve_word(w, tok, v, false));
    let (a, b, c) = (a?, b?, c?);
    let result = analogy(params, &a, &b, &c, 5);
    say!(
        "\n{} {}",
        style.bold(&format!("analogy: {} − {} + {} ≈", ANALOGY[0], ANALOGY[1], ANALOGY[2])),
        with_cosines(tokenizer, &result.with_exclusion)
    );
    say!("  {}", style.dim("(the three query words left out of the answers, the usual convention)"));

    let eval = evaluate(params, tok, &builtin_questions())?;
    let o = &eval.overall;
    let pct = |x: Option<f64>| x.map_or("—".to_string(), |r| format!("{:.1}%", 100.0 * r));
    say!(
        "\n{} {} of {} built-in questions (king : queen :: lord : lady, one : two, England : London …) have four single-token words;",
        style.bold("analogy evaluation:"),
        o.covered,
        o.questions
    );
    say!(
        "  b − a + c lands on d for {} of them — the baseline \"d is simply c's nearest word\" gets {}",
        style.bold(&pct(o.accuracy_excluding_query)),
        pct(o.accuracy_baseline)
    );
    for s in &eval.sections {
        say!(
            "  {}",
            style.dim(&format!(
                "{:<18} {:>4} covered  {:>6} right  baseline {:>6}",
                s.name,
                s.covered,
                pct(s.accuracy_excluding_query),
                pct(s.accuracy_baseline)
            ))
        );
    }

    let coverage = cover(&builtin_categories(), tok, v)?;
    let scores = score(params, &coverage)?;
    say!(
        "\n{} {} words in {} categories; k-means, which is not told the categories, groups them with purity {} (chance {:.1}%);",
        style.bold("categories:"),
        scores.words,
        scores.categories,
        style.bold(&format!("{:.1}%", 100.0 * scores.purity)),
        100.0 * scores.purity_chance
    );
    say!(
        "  a word's nearest word is of its own category for {} of them (chance {:.1}%)",
        style.bold(&format!("{:.1}%", 100.0 * scores.neighbour_agreement)),
        100.0 * scores.neighbour_chance
    );

    let texts: Vec<String> = CONTEXT_TEXTS.iter().map(|t| t.to_string()).collect();
    let drift = context(params, tok, CONTEXT_WORD, &texts, &Interventions::default())?;
    let last = drift.similarity.last().expect("layers");
    say!("\n{} \"{CONTEXT_WORD}\" in three sentences, after the last block:", style.bold("context:"));
    for (i, t) in texts.iter().enumerate() {
        say!("  [{}] {t}", i + 1);
    }
    let (serious, noun_1, noun_3) = (last[0][2], last[0][1], last[1][2]);
    say!(
        "  cosine [1]·[3] {serious:.3} (both \"serious\"), [1]·[2] {noun_1:.3}, [2]·[3] {noun_3:.3} (against the noun); at the embedding all three are 1.000"
    );
    say!(
        "  {}",
        style.dim(if serious > noun_1.max(noun_3) {
            "the two adjective uses end closest: context has pulled the word's vector toward its sense"
        } else {
            "the two adjective uses are not the closest pair: this small model does not yet separate the senses"
        })
    );

    let categories: Vec<usize> = coverage.words.iter().map(|w| w.category).collect();
    let words = coverage.words.iter().map(|w| w.word.clone()).collect();
    let space_map = map(params, words, coverage.categories.len())?;
    let svg_path = out.join("map.svg");
    let title = "Shakespeare's words: token embeddings (PCA), coloured by category";
    let svg = space_map.to_svg_by_group(title, tok, &categories, &coverage.categories);
    glassbox::io::write_atomic(&svg_path, |w| w.write_all(svg.as_bytes()))?;
    say!(
        "\n{} (PCA of the {} category words' vectors: PC1 {:.1}%, PC2 {:.1}% of their variance; {})",
        style.bold("the map"),
        space_map.words.len(),
        100.0 * space_map.projection.explained[0],
        100.0 * space_map.projection.explained[1],
        svg_path.display()
    );
    for line in text_map(&space_map, &categories, &coverage.categories, style, 76, 22) {
        say!("{line}");
    }
    Ok(())
}

/// The map as lines of text: each word at its place (a word that would overlap another
/// moves a little, or is left out and counted), coloured by its category (`categories[i]`
/// indexes `names`) on a terminal, with the legend below.
fn text_map(
    m: &Map,
    categories: &[usize],
    names: &[String],
    style: &Style,
    width: usize,
    height: usize,
) -> Vec<String> {
    let (xs, ys): (Vec<f32>, Vec<f32>) = m.projection.coords.iter().map(|p| (p[0], p[1])).unzip();
    let range = |v: &[f32]| {
        let (lo, hi) = v.iter().fold((f32::MAX, f32::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
        (lo, (hi - lo).max(1e-6))
    };
    let ((x0, dx), (y0, dy)) = (range(&xs), range(&ys));
    let mut cells: Vec<Vec<Option<(char, usize)>>> = vec![vec![None; width]; height];
    let mut left_out = 0;
    for ((word, p), &category) in m.words.iter().zip(&m.projection.coords).zip(categories) {
        let label: Vec<char> = word.word.chars().collect();
        let n = label.len().min(width);
        let col = (((p[0] - x0) / dx) * (width - n) as f32).round() as isize;
        let row = (((y0 + dy - p[1]) / dy) * (height - 1) as f32).round() as isize;
        // try the spot, then a few shifts around it
        let spots = [(0, 0), (0, 1), (0, -1), (1, 0), (-1, 0), (0, 3), (0, -3), (1, 2), (-1, -2), (2, 0), (-2, 0)];
        let free = |r: isize, c: isize, cells: &Vec<Vec<Option<(char, usize)>>>| {
            r >= 0
                && (r as usize) < height
                && c >= 1
                && (c as usize) + n < width
                && (c - 1..=c + n as isize).all(|x| cells[r as usize][x as usize].is_none())
        };
        match spots.iter().map(|(dr, dc)| (row + dr, col + dc)).find(|&(r, c)| free(r, c, &cells)) {
            Some((r, c)) => {
                for (i, &ch) in label.iter().take(n).enumerate() {
                    cells[r as usize][c as usize + i] = Some((ch, category));
                }
            }
            None => left_out += 1,
        }
    }
    let mut lines: Vec<String> = cells
        .iter()
        .map(|row| {
            let mut line = String::from("  │");
            let mut i = 0;
            while i < row.len() {
                match row[i] {
                    Some((_, category)) => {
                        let word: String =
                            row[i..].iter().map_while(|c| c.filter(|c| c.1 == category).map(|c| c.0)).collect();
                        i += word.chars().count();
                        line += &style.category(category, &word);
                    }
                    None => {
                        line.push(' ');
                        i += 1;
                    }
                }
            }
            line.trim_end().to_string()
        })
        .collect();
    lines.push(format!("  └{}", "─".repeat(width)));
    let legend: Vec<String> = names.iter().enumerate().map(|(i, name)| style.category(i, name)).collect();
    lines.push(format!("  {}", legend.join("  ")));
    if left_out > 0 {
        lines.push(style.dim(&format!("  ({left_out} words did not fit without overlapping; the SVG has them all)")));
    }
    lines
}

fn next_steps(out: &Path, style: &Style) {
    say!("\n{}", style.bold("try next:"));
    let (glassbox, dir) = (super::program(), super::shell_word(&out.display().to_string()));
    let next = [
        (
            format!("{glassbox} serve {dir}"),
            "then open http://127.0.0.1:8080/space (the map, neighbours, analogies) and /training (the space forming)",
        ),
        (format!("{glassbox} space {dir} neighbors love"), "any word's nearest words"),
        (format!("{glassbox} space {dir} analogy father man woman"), "your own analogy"),
        (format!("{glassbox} space {dir} eval"), "the analogy evaluation, section by section"),
        (format!("{glassbox} space {dir} eval --checkpoints"), "the scores at every snapshot: the space forming"),
        (format!("{glassbox} generate {dir} 'ROMEO:'"), "what the model writes"),
    ];
    let width = next.iter().map(|(command, _)| command.chars().count()).max().unwrap_or(0);
    for (command, what) in next {
        say!("  {}  {}", style.bold(&format!("{command:<width$}")), style.dim(what));
    }
}

/// Whether `dir` holds a run this demo made: the built-in corpus through `bpe:4096`, with
/// the demo's cadence of kept snapshots. A run trained by `train` (other settings) is not.
fn holds_an_earlier_demo(dir: &Path) -> bool {
    let Some(run) = glassbox::train::checkpoint::saved_run(dir) else { return false };
    let options = &run["options"];
    let steps = options["steps"].as_u64().unwrap_or(0) as usize;
    let data = &run["data"];
    data["kind"] == "text"
        && data["tokenizer"] == TOKENIZER
        && data["path"].as_str().is_some_and(|p| p.ends_with(corpus::FILE_NAME))
        && options["keep_checkpoints"] == true
        && options["batch"] == BATCH
        && options["checkpoint_every"].as_u64() == Some(snapshot_every(steps) as u64)
        && options["eval_every"] == options["checkpoint_every"]
}
