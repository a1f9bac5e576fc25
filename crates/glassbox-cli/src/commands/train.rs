//! `glassbox train`: trains a GPT (or, with `--arch lstm|rnn`, a recurrent network) from scratch on a text file (`--data`) or a built-in task
//! (`--task`), into a run directory (`--out`) that every other command loads as a model.
//! Draws a progress bar (step, loss, tokens/s, ETA), prints each evaluation, and with
//! `--resume` continues a run from its last checkpoint. Ctrl-C or SIGTERM finishes the
//! step, writes a checkpoint, says how to resume and exits with 130 or 143 (128 + the
//! signal, as a shell reports a process the signal ended); a second Ctrl-C exits at once.
//! The engine's `train::Trainer` does the work; this file turns flags into its options and
//! its events into lines.

use crate::interrupt::Interrupt;
use crate::output::say;
use anyhow::Result;
use glassbox::train::{
    DataSource, EvalReport, Event, NewRun, OptionChanges, ResumeRequest, ShapeRequest, StepReport, Trainer,
};
use glassbox::Error;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct Args {
    /// A UTF-8 text file to train on: the first 90% trains, the last 10% validates.
    #[arg(long, conflicts_with = "task", value_name = "FILE")]
    data: Option<PathBuf>,
    /// A built-in task instead of a file: sort, reverse, add, repeat, or the reach tests
    /// copy[:N] (copy N letters, default 16) and recall[:N] (N key–value pairs, default 8), or
    /// facts[:N] (N invented people's city, colour and job, default 48: where knowledge lives).
    #[arg(long, value_name = "NAME")]
    task: Option<String>,
    /// How --data becomes tokens: char, bpe:N (train N tokens on the training split), gpt2,
    /// or a model directory's tokenizer. [default: char]
    #[arg(long, value_name = "char|bpe:N|gpt2|DIR")]
    tokenizer: Option<String>,
    /// The architecture: gpt, or the transformer's predecessors lstm and rnn (tanh), trained
    /// the same way on the same data. [default: gpt]
    #[arg(long, value_name = "gpt|lstm|rnn")]
    arch: Option<String>,
    /// A GPT shape by name: baby, sorter, gpt2, gpt2-medium (the vocabulary comes from the
    /// tokenizer). [default: baby for text, the task's own model for a task]
    #[arg(long)]
    preset: Option<String>,
    /// Transformer blocks (or recurrent layers). [default for lstm/rnn: 2]
    #[arg(long)]
    layers: Option<usize>,
    /// Attention heads per block (GPT only).
    #[arg(long)]
    heads: Option<usize>,
    /// Width of the residual stream (or of a recurrent model's token vectors).
    #[arg(long)]
    embd: Option<usize>,
    /// Width of a recurrent model's state h (and c). [default: twice --embd]
    #[arg(long)]
    hidden: Option<usize>,
    /// Context length (tokens per training sequence for text).
    #[arg(long)]
    block: Option<usize>,
    /// Sequences per micro-batch. [default: 12 for text, 64 for a task]
    #[arg(long)]
    batch: Option<usize>,
    /// Optimizer steps. [default: 2000 for text; sort 600, reverse 1500, add 4000, repeat 1500, copy 1500, recall 3000, facts 3000]
    #[arg(long)]
    steps: Option<usize>,
    /// Peak learning rate. [default: 1e-3 for text, 3e-3 for a task]
    #[arg(long)]
    lr: Option<f64>,
    /// The learning rate the cosine decays to. [default: a tenth of --lr]
    #[arg(long)]
    min_lr: Option<f64>,
    /// Steps of linear warmup. [default: 100, at most a tenth of --steps]
    #[arg(long)]
    warmup: Option<usize>,
    /// AdamW weight decay, on matrices and embeddings only. [default: 0.1]
    #[arg(long)]
    weight_decay: Option<f64>,
    /// AdamW β₁. [default: 0.9]
    #[arg(long)]
    beta1: Option<f64>,
    /// AdamW β₂. [default: 0.99, nanoGPT's choice for few tokens per step]
    #[arg(long)]
    beta2: Option<f64>,
    /// Clip gradients to this global L2 norm; 0 turns clipping off. [default: 1.0]
    #[arg(long)]
    grad_clip: Option<f32>,
    /// Micro-batches accumulated into one step. [default: 1]
    #[arg(long)]
    accum: Option<usize>,
    /// Evaluate every N steps (and at the end). [default: 250 for text, 100 for a task]
    #[arg(long)]
    eval_every: Option<usize>,
    /// Validation batches per evaluation (always the same ones). [default: 20 for text]
    #[arg(long)]
    eval_batches: Option<usize>,
    /// Save a checkpoint every N steps (and at the end). [default: 500]
    #[arg(long)]
    checkpoint_every: Option<usize>,
    /// Keep a model snapshot at every checkpoint in RUN/checkpoints/step-N/, and one of the
    /// random start (step-0), for replaying how the model learned.
    #[arg(long)]
    keep_checkpoints: bool,
    /// Seeds the initial weights and the order of the data. [default: 1337]
    #[arg(long)]
    seed: Option<u64>,
    /// The run directory. [default: runs/TASK or runs/FILE-STEM]
    #[arg(long, value_name = "RUN")]
    out: Option<PathBuf>,
    /// Continue the run in --out from its last checkpoint.
    #[arg(long)]
    resume: bool,
    /// Replace --out if it already holds something (a model or other files).
    #[arg(long, conflicts_with = "resume")]
    force: bool,
}

pub fn run(args: Args) -> Result<()> {
    let nothing = || -> anyhow::Error {
        Error::input(
            "nothing to train on: give --data FILE.txt (a text file) or --task sort|reverse|add|repeat|copy|recall|facts",
        )
        .into()
    };
    if !args.resume && args.data.is_none() && args.task.is_none() {
        return Err(nothing());
    }
    let out = match (&args.out, &args.data, &args.task) {
        (Some(out), _, _) => out.clone(),
        (None, _, Some(task)) => PathBuf::from("runs").join(task),
        (None, Some(data), None) => {
            PathBuf::from("runs").join(data.file_stem().map_or("text".into(), |s| s.to_string_lossy().into_owned()))
        }
        (None, None, None) => {
            return Err(Error::input("--resume needs the run directory: --resume --out RUN").into());
        }
    };
    let shape = ShapeRequest {
        arch: args.arch.clone(),
        preset: args.preset.clone(),
        layers: args.layers,
        heads: args.heads,
        embd: args.embd,
        block: args.block,
        hidden: args.hidden,
    };
    let options = OptionChanges {
        batch: args.batch,
        steps: args.steps,
        lr: args.lr,
        min_lr: args.min_lr,
        warmup: args.warmup,
        weight_decay: args.weight_decay,
        beta1: args.beta1,
        beta2: args.beta2,
        grad_clip: args.grad_clip,
        accum: args.accum,
        eval_every: args.eval_every,
        eval_batches: args.eval_batches,
        accuracy_examples: None,
        checkpoint_every: args.checkpoint_every,
        keep_checkpoints: args.keep_checkpoints.then_some(true),
        seed: args.seed,
    };
    let spinner = Spinner::new();
    let mut prep = |stage: &str, done: usize, total: usize| spinner.show(stage, done, total);
    let mut trainer = if args.resume {
        let request = ResumeRequest {
            data_path: args.data.clone(),
            task: args.task.clone(),
            tokenizer: args.tokenizer.clone(),
            shape,
            options,
        };
        Trainer::resume(&out, request, &mut prep)?
    } else {
        let data = match (&args.data, &args.task) {
            (_, Some(name)) => DataSource::Task { name: name.clone() },
            (Some(path), None) => DataSource::Text {
                path: path.clone(),
                tokenizer: args.tokenizer.clone().unwrap_or_else(|| "char".into()),
            },
            (None, None) => return Err(nothing()),
        };
        if args.task.is_some() && args.tokenizer.is_some() {
            return Err(Error::input("--tokenizer applies to --data; a task brings its own vocabulary").into());
        }
        Trainer::create(NewRun { dir: out.clone(), data, shape, options, overwrite: args.force }, &mut prep)?
    };
    spinner.finish();
    print_header(&trainer, args.resume);
    if trainer.step >= trainer.options.steps {
        say!(
            "{} already reached step {} of {}; pass a larger --steps to train further",
            out.display(),
            trainer.step,
            trainer.options.steps
        );
        return Ok(());
    }
    let started = Instant::now();
    let first_step = trainer.step;
    let interrupt = Interrupt::install()?;
    let mut bar = TrainBar::new(&trainer);
    let last = trainer.run_until(&mut |event| bar.event(event), &|| interrupt.requested())?;
    bar.finish();
    if trainer.step < trainer.options.steps {
        // stderr, unbuffered; a closed stderr must not turn a clean stop into a panic
        let _ = writeln!(
            std::io::stderr(),
            "{} at step {} of {}: checkpoint saved in {}; continue with: glassbox train --resume --out {}",
            interrupt.name(),
            trainer.step,
            trainer.options.steps,
            out.display(),
            out.display()
        );
        std::process::exit(interrupt.exit_code());
    }
    let seconds = started.elapsed().as_secs_f64();
    let steps = trainer.step - first_step;
    let tokens = steps * trainer.options.batch * trainer.options.accum * trainer.seq;
    say!(
        "done: {steps} steps in {seconds:.1} s ({:.0} tokens/s){}; saved in {}",
        tokens as f64 / seconds,
        last.as_ref().map_or(String::new(), |e| format!("; {}", describe_eval(e))),
        out.display()
    );
    print_next_steps(&trainer);
    Ok(())
}

fn print_header(trainer: &Trainer, resumed: bool) {
    let c = &trainer.config;
    let o = &trainer.options;
    let what = match (&trainer.task, &trainer.data) {
        (Some(task), _) => format!("the {} task: {}", task.spec(), task.describe()),
        (None, DataSource::Text { path, .. }) => format!("{} ({})", path.display(), trainer.tokenizer.describe()),
        (None, DataSource::Task { name }) => name.clone(),
    };
    let verb = if resumed { format!("resuming at step {}", trainer.step) } else { "training".into() };
    say!("{verb} on {what} → {}", trainer.dir.display());
    say!("model: {} — {} parameters", c.describe(), human(c.num_params() as f64));
    say!(
        "{} steps × {} sequences{} × {} tokens; lr {} → {} (warmup {}), AdamW β ({}, {}), weight decay {}, clip {}; {} threads",
        o.steps,
        o.batch,
        if o.accum > 1 { format!(" × {} micro-batches", o.accum) } else { String::new() },
        trainer.seq,
        short(o.lr),
        short(o.min_lr),
        o.warmup,
        o.adamw.beta1,
        o.adamw.beta2,
        o.adamw.weight_decay,
        o.grad_clip,
        rayon::current_num_threads()
    );
}

fn print_next_steps(trainer: &Trainer) {
    let (glassbox, dir) = (super::program(), super::shell_word(&trainer.dir.display().to_string()));
    let (prompt, length) = match &trainer.task {
        Some(task) => (Some(task.render(&task.example_prompt())), format!("{} --temperature 0", task.answer_len)),
        None => (opening_words(trainer), "200".to_string()),
    };
    match prompt.map(|p| super::shell_word(&p)) {
        Some(prompt) => {
            say!("next: {glassbox} generate {dir} {prompt} --max-new-tokens {length}");
            say!("      {glassbox} explain {dir} {prompt}");
        }
        None => say!("next: {glassbox} generate {dir} --ids 0 --max-new-tokens {length}"),
    }
}

/// A prompt the model has seen: the start of the training text's first line (at most its
/// first three words, 24 characters and half the context in tokens), which the tokenizer
/// trained on that text can encode.
fn opening_words(trainer: &Trainer) -> Option<String> {
    use std::io::Read;
    let DataSource::Text { path, .. } = &trainer.data else { return None };
    let mut head = Vec::new();
    std::fs::File::open(path).ok()?.take(4096).read_to_end(&mut head).ok()?;
    let text = head.utf8_chunks().next()?.valid();
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    let words = line.split_whitespace().take(3).collect::<Vec<_>>().join(" ");
    let fits = |prompt: &str| trainer.tokenizer.encode(prompt).len() <= (trainer.config.window() / 2).max(1);
    let mut prompt: String = words.chars().take(24).collect();
    while prompt.chars().count() > 1 && !fits(&prompt) {
        prompt.pop();
    }
    Some(prompt.trim_end().to_string()).filter(|p| !p.is_empty())
}

/// A learning rate for people: 1e-3, 3e-4, 2.5e-4 (no float noise such as 1.0000000000000002e-4).
fn short(x: f64) -> String {
    let text = format!("{x:.4e}");
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
    format!("{mantissa}e{exponent}")
}

/// "0.08M", "12.3M": a count for people.
pub fn human(n: f64) -> String {
    if n >= 1e9 {
        format!("{:.2}B", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.2}M", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.1}k", n / 1e3)
    } else {
        format!("{n:.0}")
    }
}

pub fn describe_eval(e: &EvalReport) -> String {
    match e.accuracy {
        Some(a) => format!("val loss {:.4}, accuracy {:.1}%", e.val_loss, a * 100.0),
        None => format!("val loss {:.4}", e.val_loss),
    }
}

/// A spinner for the preparation stages (reading, BPE training, tokenizing).
pub struct Spinner {
    bar: ProgressBar,
}

impl Spinner {
    pub fn new() -> Self {
        let bar = ProgressBar::new_spinner();
        bar.set_style(ProgressStyle::with_template("{spinner} {msg} {elapsed}").expect("template"));
        bar.enable_steady_tick(Duration::from_millis(120));
        Spinner { bar }
    }

    pub fn show(&self, stage: &str, done: usize, total: usize) {
        if total > 0 {
            self.bar.set_message(format!("{stage} {done}/{total}"));
        } else {
            self.bar.set_message(stage.to_string());
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Drop for Spinner {
    /// Also on an early return with an error: the message must not follow a stale spinner.
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// The progress bar of the training loop; evaluations print as lines above it.
pub struct TrainBar {
    bar: ProgressBar,
    tokens: f64,
    seconds: f64,
}

impl TrainBar {
    pub fn new(trainer: &Trainer) -> Self {
        let bar = ProgressBar::new(trainer.options.steps as u64);
        bar.set_style(
            ProgressStyle::with_template("{bar:32.cyan/blue} step {pos}/{len}  {msg}  ETA {eta}")
                .expect("template")
                .progress_chars("█▉▊▋▌▍▎▏ "),
        );
        bar.set_position(trainer.step as u64);
        bar.reset_eta();
        TrainBar { bar, tokens: 0.0, seconds: 0.0 }
    }

    pub fn event(&mut self, event: &Event) {
        match event {
            Event::Step(step) => self.step(step),
            Event::Eval(eval) => {
                self.println(&format!("step {:>6}  {}", eval.step, describe_eval(eval)));
            }
            Event::Checkpoint { .. } => {}
        }
    }

    fn step(&mut self, step: &StepReport) {
        // tokens/s over the recent past (a decaying window of about 20 steps)
        self.tokens = self.tokens * 0.95 + step.tokens as f64;
        self.seconds = self.seconds * 0.95 + step.seconds;
        self.bar.set_position(step.step as u64);
        self.bar.set_message(format!(
            "loss {:.4}  {} tok/s  lr {:.2e}",
            step.loss,
            human(self.tokens / self.seconds.max(1e-9)),
            step.lr
        ));
    }

    /// Prints a line above the bar (also when the bar is hidden, e.g. output to a file).
    pub fn println(&self, line: &str) {
        self.bar.suspend(|| say!("{line}"));
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use glassbox::train::{Task, TrainOptions, TASK_NAMES};

    #[test]
    fn the_help_of_steps_states_each_tasks_default() {
        let command = <Args as clap::Args>::augment_args(clap::Command::new("train"));
        let help = command.get_arguments().find(|a| a.get_id() == "steps").unwrap().get_help().unwrap().to_string();
        assert!(help.contains(&format!("{} for text", TrainOptions::default().steps)), "{help}");
        for name in TASK_NAMES {
            let steps = TrainOptions::for_task(&Task::from_name(name).unwrap()).steps;
            assert!(help.contains(&format!("{name} {steps}")), "{name} {steps} missing from: {help}");
        }
    }
}
