//! `glassbox demo`: README's first command. Trains the letter sorter of the LLM
//! Visualization from scratch (3 layers, 3 heads, 48 dims, vocabulary A B C) into
//! `runs/sorter`, shows its held-out accuracy climbing, sorts a few examples, then walks one
//! of them through the model — tokens, embedding, each block (layer norm, the clearest
//! attention head, the residual stream), the softmax that picked each letter — with every
//! number read from the activations of one forward pass. Ends with what to try next.
//! Like every command that writes a directory, it refuses to replace one that holds
//! something unless given `--force` — except its own earlier run in the default
//! `runs/sorter`, so that README's first command can be run again.
//! `glassbox demo meaning` is the second demo, in `demo_meaning.rs`.

use super::train::TrainBar;
use crate::output::say;
use anyhow::Result;
use glassbox::kernels::softmax::softmax;
use glassbox::model::{forward, Activations};
use glassbox::train::run_dir::holds_a_model;
use glassbox::train::{DataSource, Event, NewRun, OptionChanges, ShapeRequest, Task, TrainOptions, Trainer};
use glassbox::Error;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    /// Which demo: `sorter` (a tiny GPT learns to sort letters, under a minute) or `meaning`
    /// (a GPT reads Shakespeare and its words become a semantic space, about 6 minutes).
    #[arg(value_enum, default_value_t = Which::Sorter)]
    pub which: Which,
    /// Where to save the trained model (a model directory other commands load) [default:
    /// runs/sorter or runs/meaning, where the same demo's earlier run is replaced].
    #[arg(long, value_name = "RUN")]
    pub out: Option<PathBuf>,
    /// Replace --out if it already holds something.
    #[arg(long)]
    pub force: bool,
    /// Training steps [default: 600 for sorter, 3000 for meaning].
    #[arg(long)]
    pub steps: Option<usize>,
    /// Seeds the initial weights and the order of the training examples.
    #[arg(long, default_value_t = 1337)]
    pub seed: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Which {
    /// The letter sorter: 3 layers, 3 heads, 48 dims, vocabulary A B C.
    Sorter,
    /// A word model of Shakespeare's complete works and its semantic space.
    Meaning,
}

/// Where the demo saves its run unless told otherwise.
const DEFAULT_OUT: &str = "runs/sorter";

/// The example walked through the model, and the others shown sorted.
const WALKTHROUGH: &str = "CBABBC";
const EXAMPLES: [&str; 5] = ["CBABBC", "ACBCAB", "CCCAAA", "BABABA", "CAB"];

pub fn run(args: Args) -> Result<()> {
    match args.which {
        Which::Sorter => sorter(args),
        Which::Meaning => super::demo_meaning::run(args),
    }
}

fn sorter(args: Args) -> Result<()> {
    let style = Style::detect();
    let replace = args.force || (args.out.is_none() && holds_an_earlier_demo(Path::new(DEFAULT_OUT)));
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_OUT));
    refuse_to_replace(&out, replace)?;
    let task = Task::from_name("sort")?;
    say!("{}", style.bold("glassbox demo — a tiny GPT learns to sort letters, then shows you how it does it"));
    say!("task: {}. The model reads six letters and must write them sorted, one letter at a time.", task.describe());
    let started = Instant::now();
    // a snapshot at every tenth of training, and of the random start: the training page
    // replays how the sorter learned to look
    let steps = args.steps.unwrap_or(TrainOptions::for_task(&task).steps);
    let options = OptionChanges {
        steps: Some(steps),
        seed: Some(args.seed),
        eval_every: Some(100),
        checkpoint_every: Some(snapshot_every(steps)),
        keep_checkpoints: Some(true),
        ..OptionChanges::default()
    };
    let spec = NewRun {
        dir: out.clone(),
        data: DataSource::Task { name: "sort".into() },
        shape: ShapeRequest::default(),
        options,
        overwrite: replace,
    };
    let mut trainer = Trainer::create(spec, &mut |_, _, _| {})?;
    let c = &trainer.gpt()?.config;
    say!(
        "model: {} layers, {} heads, {} dims, context {}, vocabulary {} ({}) — {} parameters, trained from scratch on {} thread{}\n",
        c.n_layer,
        c.n_head,
        c.n_embd,
        c.n_ctx,
        c.vocab_size,
        task.alphabet,
        c.num_params(),
        rayon::current_num_threads(),
        if rayon::current_num_threads() == 1 { "" } else { "s" }
    );
    let examples = trainer.options.accuracy_examples;
    let mut bar = TrainBar::new(&trainer);
    let last = trainer.run(&mut |event| match event {
        Event::Eval(e) => {
            let accuracy = e.accuracy.unwrap_or(0.0);
            let line = format!(
                "step {:>4}   loss {:.4}   sorts {:>5.1}% of {examples} unseen examples  {}",
                e.step,
                e.val_loss,
                accuracy * 100.0,
                style.cyan(&meter(accuracy, 20))
            );
            bar.println(&line);
        }
        other => bar.event(other),
    })?;
    bar.finish();
    let seconds = started.elapsed().as_secs_f64();
    let accuracy = last.and_then(|e| e.accuracy).unwrap_or(0.0);
    say!(
        "\ntrained {} steps in {seconds:.1} s: {} of {examples} held-out examples sorted exactly ({:.1}%); saved in {}, \
         with a snapshot every {} steps in {}\n",
        trainer.step,
        style.bold(&format!("{}", (accuracy * examples as f32).round() as usize)),
        accuracy * 100.0,
        out.display(),
        snapshot_every(steps),
        out.join("checkpoints").display()
    );

    // the model at work
    let prompts: Vec<Vec<u32>> = EXAMPLES.iter().map(|e| pad_prompt(&task, e)).collect::<Result<_, _>>()?;
    let answers = trainer.complete(&prompts)?;
    say!("{}", style.bold("the model sorts:"));
    for (prompt, answer) in prompts.iter().zip(&answers) {
        let right = task.answer(prompt) == *answer;
        say!(
            "  {}  →  {}  {}",
            task.render(prompt),
            style.bold(&task.render(answer)),
            if right {
                style.green("✓")
            } else {
                style.red("✗ (should be ") + &task.render(&task.answer(prompt)) + ")"
            }
        );
    }
    say!();
    walkthrough(&trainer, &task, &answers[0], &style)?;
    say!("\n{}", style.bold("try next:"));
    let (glassbox, dir) = (super::program(), super::shell_word(&out.display().to_string()));
    let next = [
        (
            format!("{glassbox} serve {dir}"),
            "then open http://127.0.0.1:8080 and watch every number as you type; /training replays how it learned",
        ),
        (format!("{glassbox} explain {dir} ABCCBA"), "the full walkthrough of one prompt, stage by stage"),
        (format!("{glassbox} train --task reverse"), "another task; --data FILE.txt trains a GPT on your own text"),
    ];
    let width = next.iter().map(|(command, _)| command.chars().count()).max().unwrap_or(0);
    for (command, what) in next {
        say!("  {}  {}", style.bold(&format!("{command:<width$}")), style.dim(what));
    }
    Ok(())
}

/// The demos' cadence of kept snapshots: ten over the run.
pub(super) fn snapshot_every(steps: usize) -> usize {
    (steps / 10).max(1)
}

/// Whether `dir` holds a run the demo made: the sort task, trained with the demo's
/// settings (a snapshot every tenth of the run). A run trained by `train`, even on the
/// sort task, is not.
fn holds_an_earlier_demo(dir: &Path) -> bool {
    let Some(run) = glassbox::train::checkpoint::saved_run(dir) else { return false };
    let options = &run["options"];
    let steps = options["steps"].as_u64().unwrap_or(0) as usize;
    run["data"] == serde_json::json!({"kind": "task", "name": "sort"})
        && options["checkpoint_every"].as_u64() == Some(snapshot_every(steps) as u64)
        && options["keep_checkpoints"] == true
        && options["eval_every"] == 100
}

/// The demo replaces a run only when told to (or when it is the demo's own earlier run in
/// the default place): a run could have been trained for hours.
pub(super) fn refuse_to_replace(out: &Path, force: bool) -> Result<()> {
    if holds_a_model(out) && !force {
        return Err(Error::input(format!(
            "{} already holds a model (an earlier demo?); pass --force to replace it, or --out DIR to keep it",
            out.display()
        ))
        .into());
    }
    Ok(glassbox::io::check_target(out, force)?)
}

/// A prompt of six letters: shorter examples ("CAB") are repeated to length.
fn pad_prompt(task: &Task, text: &str) -> glassbox::Result<Vec<u32>> {
    let ids = task.parse(text)?;
    Ok(ids.iter().cycle().take(task.prompt_len).copied().collect())
}

/// One forward pass over the prompt and the model's answer, read stage by stage.
fn walkthrough(trainer: &Trainer, task: &Task, answer: &[u32], style: &Style) -> Result<()> {
    let prompt = task.parse(WALKTHROUGH)?;
    let full: Vec<u32> = prompt.iter().chain(answer).copied().collect();
    let ids = &full[..task.seq_len()];
    let params = trainer.gpt()?;
    let config = &params.config;
    let (t_len, c, h) = (ids.len(), config.n_embd, config.n_head);
    let mut acts = Activations::default();
    forward(params, ids, 1, t_len, &mut acts)?;
    let first = task.prompt_len - 1; // the position whose output is the first sorted letter
    let letters: Vec<char> = task.render(ids).chars().collect();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    let row = |buffer: &[f32], t: usize| -> f32 { norm(&buffer[t * c..(t + 1) * c]) };

    say!(
        "{}",
        style.bold(&format!(
            "inside the model: {} → {} (one forward pass; every number below is read from it)",
            WALKTHROUGH,
            task.render(answer)
        ))
    );
    let cells = |f: &dyn Fn(usize) -> String| (0..t_len).map(f).collect::<Vec<_>>().join("");
    say!("  position     {}", cells(&|t| format!("{t:>6}")));
    say!(
        "  token        {}   (the model wrote the last {} itself, one per step)",
        cells(&|t| format!("{:>6}", letters[t])),
        t_len - task.prompt_len
    );
    say!("  id           {}", cells(&|t| format!("{:>6}", ids[t])));
    say!(
        "  embedding    {}   |x| of x = wte[id] + wpe[position], {c} numbers per token",
        cells(&|t| format!("{:>6.2}", row(&acts.embedded, t)))
    );
    for (layer, block) in acts.blocks.iter().enumerate() {
        say!("  {}", style.bold(&format!("block {layer}")));
        let (mean, scale) = (block.ln1_mean[first], 1.0 / block.ln1_rstd[first]);
        say!(
            "    layer norm   at '{}' (position {first}): E[x] = {mean:+.3}, √(Var[x]+ε) = {scale:.3} → x̂ = (x − E[x]) / {scale:.3}, then ×γ + β",
            letters[first]
        );
        // the head whose answer rows are most concentrated
        let pattern = &block.attn_pattern;
        let weight = |head: usize, q: usize, k: usize| pattern[(head * t_len + q) * t_len + k];
        let focus = |head: usize| -> f32 {
            (first..t_len).map(|q| (0..=q).map(|k| weight(head, q, k)).fold(0f32, f32::max)).sum::<f32>()
                / (t_len - first) as f32
        };
        let best = (0..h).max_by(|&a, &b| focus(a).total_cmp(&focus(b))).unwrap_or(0);
        say!("    attention    head {best} (the most focused of {h}; rows: the positions that write the answer)");
        say!("                       {}", letters.iter().map(|l| format!("{l} ")).collect::<String>());
        for q in first..t_len {
            let cells: String =
                (0..t_len).map(|k| if k > q { "  ".to_string() } else { shade(weight(best, q, k)) }).collect();
            let top = (0..=q).max_by(|&a, &b| weight(best, q, a).total_cmp(&weight(best, q, b))).unwrap_or(0);
            say!(
                "      {:>2} '{}' reads {}  strongest: position {top} '{}' ({:.0}%)",
                q,
                letters[q],
                style.cyan(&cells),
                letters[top],
                weight(best, q, top) * 100.0
            );
        }
        say!(
            "    residual     |x| at position {first}: {:.2} → +attention {:.2} → +MLP {:.2}",
            row(acts.resid_pre(layer), first),
            row(&block.resid_mid, first),
            row(&block.resid_post, first)
        );
    }
    let v = config.vocab_size;
    say!("  {}", style.bold("final layer norm → head (x · wteᵀ) → logits → softmax: the next letter at each position"));
    for (t, letter) in letters.iter().enumerate().skip(first) {
        let probs = softmax(&acts.logits[t * v..(t + 1) * v], 1.0);
        let picked = glassbox::sample::argmax(&probs) as usize;
        let shown: Vec<String> = (0..v)
            .map(|i| {
                let text = format!("{} {:>5.1}%", task.alphabet.as_bytes()[i] as char, probs[i] * 100.0);
                if i == picked {
                    style.bold(&text)
                } else {
                    style.dim(&text)
                }
            })
            .collect();
        say!(
            "    after position {t:>2} '{letter}':  {}  → writes {}",
            shown.join("   "),
            style.green(&(task.alphabet.as_bytes()[picked] as char).to_string())
        );
    }
    Ok(())
}

/// An attention weight as a two-character cell.
fn shade(weight: f32) -> String {
    let glyph = match weight {
        w if w >= 0.75 => '█',
        w if w >= 0.5 => '▓',
        w if w >= 0.25 => '▒',
        w if w >= 0.1 => '░',
        _ => '·',
    };
    format!("{glyph} ")
}

/// A bar of `width` cells filled to `fraction`.
fn meter(fraction: f32, width: usize) -> String {
    let filled = ((fraction.clamp(0.0, 1.0) * width as f32).round()) as usize;
    format!("{}{}", "█".repeat(filled), "░".repeat(width - filled))
}

/// ANSI styling when stdout is a terminal (and NO_COLOR is unset).
pub(super) struct Style {
    on: bool,
}

impl Style {
    pub(super) fn detect() -> Self {
        Style { on: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none() }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    pub(super) fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }
    pub(super) fn dim(&self, text: &str) -> String {
        self.paint("2", text)
    }
    fn cyan(&self, text: &str) -> String {
        self.paint("36", text)
    }
    fn green(&self, text: &str) -> String {
        self.paint("32", text)
    }
    fn red(&self, text: &str) -> String {
        self.paint("31", text)
    }
    /// One of eight distinct colours, for the `index`-th category of a map.
    pub(super) fn category(&self, index: usize, text: &str) -> String {
        const COLOURS: [&str; 8] = ["1;31", "1;32", "1;33", "1;34", "1;35", "1;36", "38;5;208", "38;5;250"];
        self.paint(COLOURS[index % COLOURS.len()], text)
    }
}
