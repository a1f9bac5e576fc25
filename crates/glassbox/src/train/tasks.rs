//! Built-in tasks: small problems generated from a seed, that need no files and that a
//! tiny GPT learns in seconds to minutes. Pipeline position: they stand in for a text file
//! at the very start — instead of text → tokenizer → ids, a task writes ids directly
//! (with a character vocabulary saved beside the model so that people see letters).
//!
//! Each example is a prompt followed by its answer; the model reads all of it but the last
//! token, and the loss counts only the positions whose next token is part of the answer
//! (the prompt is random: predicting it is impossible). Accuracy is exact: the model
//! completes held-out prompts greedily and must produce the whole answer.
//!
//! - `sort`: the LLM Visualization model: six letters from {A, B, C}, then the same letters
//!   sorted (`CBABBC` → `ABBBCC`); 3 layers, 3 heads, 48 dims, context 11, vocabulary 3.
//! - `reverse`: eight letters from A–H, then the same letters backwards.
//! - `add`: two three-digit numbers and their four-digit sum (`123+456=0579`).
//! - `repeat`: the induction-head task, a random sequence shown twice. After the marker `^`
//!   (which plays BOS) come random letters, a segment of 2 to 9 random letters, a gap of
//!   random letters, and then the segment again, repeating to the end
//!   (`^qx` `abcd` `pzmk` `abcdabcdab`). The first copy cannot be predicted; from the
//!   second letter of the second copy on, every letter is the one that followed the same
//!   letter last time — "find the previous occurrence of this token and copy what came
//!   next", which is exactly what an induction head does. Where the segment starts, how
//!   long it is and how far away its copy is all vary, so neither a position nor a fixed
//!   distance back (shortcuts a small model takes when they work) predicts the copy: only
//!   the previous occurrence does. The loss counts the predictable letters. Accuracy: a
//!   periodic line, `^` and 11 letters (`^abcdabcdabc`), continued for 9 more.
//!
//! - `facts`: invented people's home city, favourite colour and job, stated in three
//!   sentence templates per relation (`dakor lives in ` → `osaka`); the model must store
//!   each association in its weights. See `facts.rs`.
//!
//! Held-out examples are set apart by a hash of the prompt: training never draws one
//! (`facts` holds out one template per person and relation instead).

use super::facts;
use crate::config::GptConfig;
use crate::error::{Error, Result};
use crate::net::{Network, Passes};
use crate::rng::Rng;
use crate::sample::argmax;
use crate::tokenizer::{CharTokenizer, Tokenizer};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskKind {
    Sort,
    Reverse,
    Add,
    Repeat,
    Copy,
    Recall,
    Facts,
}

/// A built-in task: its vocabulary, the lengths of prompt and answer, and how to make and
/// check examples.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Task {
    pub kind: TaskKind,
    /// The characters of the vocabulary, in id order.
    pub alphabet: &'static str,
    /// Tokens before the answer.
    pub prompt_len: usize,
    /// Tokens of the answer.
    pub answer_len: usize,
    /// `facts:N`: how many people the knowledge base holds (0 for the other tasks, whose
    /// lengths say their size).
    pub size: usize,
}

/// Names accepted by `--task` (`copy`, `recall` and `facts` also as `copy:N`, `recall:N`, `facts:N`).
pub const TASK_NAMES: [&str; 7] = ["sort", "reverse", "add", "repeat", "copy", "recall", "facts"];

/// `copy`'s letters after the separator `|` (id 0).
const COPY_ALPHABET: &str = "|abcdefgh";
/// `recall`'s symbols: the query mark `?` (id 0), 16 key letters (keys are two of them:
/// 256 keys), then the ten digit values.
const RECALL_ALPHABET: &str = "?ABCDEFGHIJKLMNOP0123456789";
const RECALL_KEY_LETTERS: u32 = 16;
/// `copy` without a length copies this many letters; `recall` without a count has this
/// many pairs.
const COPY_DEFAULT: usize = 16;
const RECALL_DEFAULT: usize = 8;
/// The largest `copy:N` and `recall:N`.
const COPY_MAX: usize = 1024;
const RECALL_MAX: usize = 200;

/// `repeat`: an example is the marker and 20 letters; an accuracy prompt shows the marker
/// and 11 letters (a full pass and two letters more for the longest segment), the answer
/// the other 9.
const REPEAT_PROMPT: usize = 12;
const REPEAT_ANSWER: usize = 9;
const REPEAT_PERIODS: std::ops::RangeInclusive<usize> = 2..=9;

/// Prompts per forward pass when measuring accuracy.
const ACCURACY_ROWS: usize = 256;

impl Task {
    pub fn from_name(name: &str) -> Result<Task> {
        let task = |kind, alphabet, prompt_len, answer_len| Task { kind, alphabet, prompt_len, answer_len, size: 0 };
        let (base, size_text) = match name.split_once(':') {
            Some((base, size)) => (base, Some(size)),
            None => (name, None),
        };
        let size = |default: usize, max: usize| -> Result<usize> {
            let Some(text) = size_text else { return Ok(default) };
            text.parse::<usize>().ok().filter(|n| (1..=max).contains(n)).ok_or_else(|| {
                Error::input(format!(
                    "--task {}: the size after ':' must be a whole number from 1 to {max} (e.g. {base}:{default})",
                    crate::error::excerpt(name)
                ))
            })
        };
        Ok(match base {
            "sort" | "reverse" | "add" | "repeat" if size_text.is_some() => {
                return Err(Error::input(format!(
                    "--task {base} has a fixed size; only copy:N, recall:N and facts:N take one (drop ':…')"
                )))
            }
            "sort" => task(TaskKind::Sort, "ABC", 6, 6),
            "reverse" => task(TaskKind::Reverse, "ABCDEFGH", 8, 8),
            "add" => task(TaskKind::Add, "0123456789+=", 8, 4),
            "repeat" => task(TaskKind::Repeat, "^abcdefghijklmnopqrstuvwxyz", REPEAT_PROMPT, REPEAT_ANSWER),
            "copy" => {
                let n = size(COPY_DEFAULT, COPY_MAX)?;
                task(TaskKind::Copy, COPY_ALPHABET, n + 1, n)
            }
            "recall" => {
                let pairs = size(RECALL_DEFAULT, RECALL_MAX)?;
                task(TaskKind::Recall, RECALL_ALPHABET, 3 * pairs + 3, 1)
            }
            "facts" => {
                let people = size(facts::PEOPLE_DEFAULT, facts::PEOPLE_MAX)?;
                let base = task(TaskKind::Facts, facts::FACTS_ALPHABET, facts::prompt_len(), facts::VALUE_LEN);
                Task { size: people, ..base }
            }
            _ => {
                return Err(Error::input(format!(
                    "unknown task '{}'; choose one of {} (or pass --data FILE to train on text)",
                    crate::error::excerpt(name),
                    TASK_NAMES.join(", ")
                )))
            }
        })
    }

    pub fn name(&self) -> &'static str {
        match self.kind {
            TaskKind::Sort => "sort",
            TaskKind::Reverse => "reverse",
            TaskKind::Add => "add",
            TaskKind::Repeat => "repeat",
            TaskKind::Copy => "copy",
            TaskKind::Recall => "recall",
            TaskKind::Facts => "facts",
        }
    }

    /// The name `--task` takes for exactly this task (`copy:32`).
    pub fn spec(&self) -> String {
        match self.kind {
            TaskKind::Copy => format!("copy:{}", self.answer_len),
            TaskKind::Recall => format!("recall:{}", self.recall_pairs()),
            TaskKind::Facts => format!("facts:{}", self.size),
            _ => self.name().to_string(),
        }
    }

    /// `recall`: how many key–value pairs a prompt lists.
    fn recall_pairs(&self) -> usize {
        (self.prompt_len - 3) / 3
    }

    /// How far back the token a `copy` or `recall` answer needs lies from where it is
    /// predicted (tokens): `copy` N letters → N + 1 for every letter; `recall` → three
    /// per pair between the queried pair's value and the query's end. `None` for the
    /// other tasks.
    pub fn recall_distance(&self, prompt: &[u32]) -> Option<usize> {
        match self.kind {
            TaskKind::Copy => Some(self.answer_len + 1),
            TaskKind::Recall => {
                let pairs = self.recall_pairs();
                let query = &prompt[3 * pairs + 1..3 * pairs + 3];
                let i = (0..pairs).find(|&i| prompt[3 * i..3 * i + 2] == *query)?;
                // the value at 3i + 2 is read at the last prompt position, 3·pairs + 2
                Some(3 * (pairs - i))
            }
            _ => None,
        }
    }

    /// The prompt of [`describe`](Self::describe)'s example, unanswered (`CBABBC` for
    /// `sort`): what a page offers first for a model trained on this task.
    pub fn example_prompt(&self) -> Vec<u32> {
        let text = match self.kind {
            TaskKind::Sort => "CBABBC",
            TaskKind::Reverse => "ABCDEFGH",
            TaskKind::Add => "123+456=",
            TaskKind::Repeat => "^abcdabcdabc",
            TaskKind::Copy => {
                return (0..self.answer_len).map(|i| 1 + (i % 8) as u32).chain([0]).collect();
            }
            TaskKind::Recall => {
                // keys AB, CD, EF, … with values 1, 2, 3, …; the query asks for the first
                let pairs = self.recall_pairs();
                let mut prompt = Vec::with_capacity(self.prompt_len);
                for i in 0..pairs {
                    let key = i as u32 * 7 % (RECALL_KEY_LETTERS * RECALL_KEY_LETTERS);
                    prompt.extend([1 + key / RECALL_KEY_LETTERS, 1 + key % RECALL_KEY_LETTERS]);
                    prompt.push(1 + RECALL_KEY_LETTERS + (i as u32 + 1) % 10);
                }
                prompt.extend([0, prompt[0], prompt[1]]);
                return prompt;
            }
            TaskKind::Facts => {
                let fact = facts::Fact { person: 0, relation: 0, template: 0 };
                let fact = if fact.is_held_out() { facts::Fact { template: 1, ..fact } } else { fact };
                return self.fact_prompt(&fact);
            }
        };
        self.parse(text).expect("the example is a well-formed prompt")
    }

    /// The task a run directory was trained on, from its saved state (`None` for a run on
    /// text, a model directory that is not a run, or an unreadable state).
    pub fn of_run(dir: &std::path::Path) -> Option<Task> {
        let run = super::checkpoint::saved_run(dir)?;
        (run["data"]["kind"] == "task").then(|| Task::from_name(run["data"]["name"].as_str()?).ok())?
    }

    /// A one-line description for people, with the task's example.
    pub fn describe(&self) -> String {
        let example = || {
            let prompt = self.example_prompt();
            format!("({} → {})", self.render(&prompt), self.render(&self.answer(&prompt)))
        };
        match self.kind {
            TaskKind::Sort => "sort six letters from {A, B, C} (CBABBC → ABBBCC)".into(),
            TaskKind::Reverse => "reverse eight letters from A–H (ABCDEFGH → HGFEDCBA)".into(),
            TaskKind::Add => "add two three-digit numbers (123+456= → 0579)".into(),
            TaskKind::Repeat => {
                "continue a repeating segment of 2–9 letters (^abcdabcdabc → dabcdabcd): induction".into()
            }
            TaskKind::Copy => format!(
                "copy a random string of {} letters from a–h after the separator {}: reach",
                self.answer_len,
                example()
            ),
            TaskKind::Recall => format!(
                "recall the value of the queried key among {} key–value pairs {}: reach",
                self.recall_pairs(),
                example()
            ),
            TaskKind::Facts => format!(
                "recall invented facts — {} people's home city, favourite colour and job, in three sentence templates \
                 each, one held out per person {}: knowledge",
                self.size,
                example()
            ),
        }
    }

    pub fn vocab_size(&self) -> usize {
        self.alphabet.chars().count()
    }

    /// How many tokens the model reads: the whole example but its last token.
    pub fn seq_len(&self) -> usize {
        self.prompt_len + self.answer_len - 1
    }

    /// The first input position whose target counts in the loss: the last prompt token
    /// (its next token is the first of the answer), or for `repeat` the first position
    /// whose token has occurred before (everything from there on is predictable by copying
    /// what followed that earlier occurrence).
    pub fn loss_from(&self, prompt: &[u32]) -> usize {
        match self.kind {
            TaskKind::Repeat => repeat_start(prompt) + repeat_period(prompt),
            _ => self.prompt_len - 1,
        }
    }

    /// The model this task trains by default (`sort` is the LLM Visualization's sorter).
    pub fn default_config(&self) -> GptConfig {
        let (layers, heads, embd) = match self.kind {
            TaskKind::Sort | TaskKind::Reverse => (3, 3, 48),
            TaskKind::Add => (4, 4, 64),
            TaskKind::Repeat | TaskKind::Copy | TaskKind::Recall => (2, 4, 64),
            TaskKind::Facts => (4, 4, 128),
        };
        GptConfig::new(layers, heads, embd, self.vocab_size(), self.seq_len())
    }

    /// The character vocabulary saved with a task's model: id i is the i-th character.
    pub fn tokenizer(&self) -> Tokenizer {
        Tokenizer::Char(CharTokenizer::from_chars(self.alphabet.chars().collect()).expect("distinct characters"))
    }

    /// The answer to a prompt.
    pub fn answer(&self, prompt: &[u32]) -> Vec<u32> {
        match self.kind {
            TaskKind::Sort => {
                let mut sorted = prompt.to_vec();
                sorted.sort_unstable();
                sorted
            }
            TaskKind::Reverse => prompt.iter().rev().copied().collect(),
            TaskKind::Add => {
                let number = |digits: &[u32]| digits.iter().fold(0u32, |n, &d| n * 10 + d);
                let sum = number(&prompt[0..3]) + number(&prompt[4..7]);
                [1000, 100, 10, 1].iter().map(|&place| sum / place % 10).collect()
            }
            TaskKind::Repeat => {
                let (letters, period) = (&prompt[repeat_start(prompt)..], repeat_period(prompt));
                (letters.len()..letters.len() + self.answer_len).map(|i| letters[i % period]).collect()
            }
            TaskKind::Copy => prompt[..self.answer_len].to_vec(),
            TaskKind::Recall => {
                let pairs = self.recall_pairs();
                let query = &prompt[3 * pairs + 1..3 * pairs + 3];
                let value = (0..pairs).find(|&i| prompt[3 * i..3 * i + 2] == *query).map_or(0, |i| prompt[3 * i + 2]);
                vec![value]
            }
            TaskKind::Facts => match self.fact_of(prompt) {
                Some(fact) => self.parse(facts::value(fact.person, fact.relation)).expect("values are lowercase"),
                // not a sentence of the base (typed by a person): no answer but padding
                None => vec![0; self.answer_len],
            },
        }
    }

    /// `facts`: the fact a prompt states (`None` if it is not one of this base's).
    pub fn fact_of(&self, prompt: &[u32]) -> Option<facts::Fact> {
        (self.kind == TaskKind::Facts).then(|| facts::Fact::parse(&self.render(prompt), self.size))?
    }

    /// `facts`: a fact's sentence up to the value, padded on the left with `.` to the prompt length.
    pub fn fact_prompt(&self, fact: &facts::Fact) -> Vec<u32> {
        let text = fact.text();
        let padded = format!("{}{text}", ".".repeat(self.prompt_len - text.len()));
        self.parse(&padded).expect("a fact's text uses the task's characters")
    }

    /// A random prompt (held out or not).
    fn random_prompt(&self, rng: &mut Rng) -> Vec<u32> {
        match self.kind {
            TaskKind::Sort | TaskKind::Reverse => {
                let v = self.vocab_size();
                (0..self.prompt_len).map(|_| rng.below(v) as u32).collect()
            }
            TaskKind::Add => {
                let mut p: Vec<u32> = (0..8).map(|_| rng.below(10) as u32).collect();
                p[3] = 10; // '+'
                p[7] = 11; // '='
                p
            }
            TaskKind::Copy => {
                let mut p: Vec<u32> = (0..self.answer_len).map(|_| 1 + rng.below(8) as u32).collect();
                p.push(0);
                p
            }
            TaskKind::Recall => {
                // distinct two-letter keys, each with a digit; then ? and one of the keys
                let pairs = self.recall_pairs();
                let keys_total = (RECALL_KEY_LETTERS * RECALL_KEY_LETTERS) as usize;
                let mut keys: Vec<u32> = Vec::with_capacity(pairs);
                while keys.len() < pairs {
                    let key = rng.below(keys_total) as u32;
                    if !keys.contains(&key) {
                        keys.push(key);
                    }
                }
                let mut p = Vec::with_capacity(self.prompt_len);
                for &key in &keys {
                    p.extend([1 + key / RECALL_KEY_LETTERS, 1 + key % RECALL_KEY_LETTERS]);
                    p.push(1 + RECALL_KEY_LETTERS + rng.below(10) as u32);
                }
                let asked = keys[rng.below(pairs)];
                p.extend([0, 1 + asked / RECALL_KEY_LETTERS, 1 + asked % RECALL_KEY_LETTERS]);
                p
            }
            TaskKind::Facts => {
                let fact = facts::Fact {
                    person: rng.below(self.size),
                    relation: rng.below(facts::RELATIONS.len()),
                    template: rng.below(3),
                };
                self.fact_prompt(&fact)
            }
            TaskKind::Repeat => loop {
                // The marker ^ (id 0), then a segment of letters (ids 1..=26, drawn with
                // replacement as in Olsson et al.) repeated. A prompt that shows a shorter
                // period than its segment's would be ambiguous and is drawn again.
                let period = draw_repeat_period(rng);
                let segment: Vec<u32> = (0..period).map(|_| self.draw_letter(rng)).collect();
                let mut prompt = vec![0];
                prompt.extend((0..self.prompt_len - 1).map(|i| segment[i % period]));
                if repeat_period(&prompt) == period {
                    break prompt;
                }
            },
        }
    }

    /// Whether a prompt belongs to the held-out set (a hash of it, so the split is fixed).
    pub fn is_held_out(&self, prompt: &[u32]) -> bool {
        if self.kind == TaskKind::Facts {
            return self.fact_of(prompt).is_some_and(|fact| fact.is_held_out());
        }
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for &id in prompt {
            hash = (hash ^ id as u64).wrapping_mul(0x100_0000_01b3);
        }
        // sort has only 3⁶ = 729 prompts: hold out a quarter; the others, a tenth
        let every = if self.kind == TaskKind::Sort { 4 } else { 10 };
        hash.is_multiple_of(every)
    }

    /// A prompt from the training side (`held_out` false) or the held-out side.
    pub fn prompt(&self, rng: &mut Rng, held_out: bool) -> Vec<u32> {
        loop {
            let p = self.random_prompt(rng);
            if self.is_held_out(&p) == held_out {
                return p;
            }
        }
    }

    /// Writes one example as model input and targets: `ids` gets the first `seq_len`
    /// tokens of prompt + answer, `targets` the next token where it counts, −1 elsewhere.
    pub fn write_example(&self, prompt: &[u32], ids: &mut [u32], targets: &mut [i32]) {
        let full: Vec<u32> = prompt.iter().copied().chain(self.answer(prompt)).collect();
        let from = self.loss_from(prompt);
        for i in 0..self.seq_len() {
            ids[i] = full[i];
            targets[i] = if i >= from { full[i + 1] as i32 } else { -1 };
        }
    }

    /// A random `repeat` letter: ids 1..=26 (0 is the marker), drawn with replacement as in
    /// Olsson et al.
    fn draw_letter(&self, rng: &mut Rng) -> u32 {
        1 + rng.below(self.vocab_size() - 1) as u32
    }

    /// Writes one training example (`held_out` false) or validation example (true). For
    /// most tasks that is one prompt and its answer; for `repeat` it is a segment shown
    /// twice at random places (see the module header), so that only induction predicts it.
    /// Held-out `repeat` examples are those whose first `prompt_len` tokens hash as held out.
    pub fn write_random_example(&self, rng: &mut Rng, held_out: bool, ids: &mut [u32], targets: &mut [i32]) {
        if self.kind != TaskKind::Repeat {
            return self.write_example(&self.prompt(rng, held_out), ids, targets);
        }
        let len = ids.len() + 1;
        let (stream, second, period, gap) = loop {
            // ^, random letters, the segment, a gap of random letters, then the segment
            // again and again to the end
            let period = draw_repeat_period(rng);
            let gap = rng.below(len - 2 * period);
            let prefix = rng.below(len - 2 * period - gap);
            let segment: Vec<u32> = (0..period).map(|_| self.draw_letter(rng)).collect();
            let mut stream = vec![0];
            stream.extend((0..prefix).map(|_| self.draw_letter(rng)));
            stream.extend_from_slice(&segment);
            stream.extend((0..gap).map(|_| self.draw_letter(rng)));
            let second = stream.len();
            stream.extend((0..len - second).map(|k| segment[k % period]));
            if self.is_held_out(&stream[..self.prompt_len]) == held_out {
                break (stream, second, period, gap);
            }
        };
        for i in 0..len - 1 {
            ids[i] = stream[i];
            // from the second letter of the second copy on, the next letter is the one
            // that followed the current letter last time — except the start of the third
            // copy when a gap follows the first (the letter before it was followed by the gap)
            let next = i + 1;
            let copyable = next > second && !(next == second + period && gap > 0);
            targets[i] = if copyable { stream[next] as i32 } else { -1 };
        }
    }

    /// Completes each prompt greedily (answer_len tokens), all prompts as one batch.
    pub fn complete(&self, net: &Network, prompts: &[Vec<u32>], passes: &mut Passes) -> Result<Vec<Vec<u32>>> {
        let rows = prompts.len();
        let v = net.vocab_size();
        let mut seqs: Vec<Vec<u32>> = prompts.to_vec();
        let mut ids = Vec::with_capacity(rows * self.seq_len());
        for _ in 0..self.answer_len {
            let len = seqs.first().map_or(0, Vec::len);
            ids.clear();
            for s in &seqs {
                ids.extend_from_slice(s);
            }
            let logits = passes.logits(net, &ids, rows, len)?;
            for (r, s) in seqs.iter_mut().enumerate() {
                let last = (r * len + len - 1) * v;
                s.push(argmax(&logits[last..last + v]));
            }
        }
        Ok(seqs.into_iter().map(|s| s[self.prompt_len..].to_vec()).collect())
    }

    /// For each prompt and each answer position, whether the model's top prediction is the
    /// answer's token when it reads the prompt and the answer so far (one forward pass over
    /// whole examples, teacher-forced). A greedy completion is exactly right when every
    /// position of its row is — so this gives the exact-answer accuracy without generating.
    pub fn answer_hits(&self, net: &Network, prompts: &[Vec<u32>], passes: &mut Passes) -> Result<Vec<Vec<bool>>> {
        let (rows, seq, v) = (prompts.len(), self.seq_len(), net.vocab_size());
        let mut ids = vec![0u32; rows * seq];
        let mut targets = vec![-1i32; rows * seq];
        for (r, prompt) in prompts.iter().enumerate() {
            let full: Vec<u32> = prompt.iter().copied().chain(self.answer(prompt)).collect();
            ids[r * seq..(r + 1) * seq].copy_from_slice(&full[..seq]);
            for (k, t) in targets[r * seq..(r + 1) * seq].iter_mut().enumerate() {
                *t = full[k + 1] as i32;
            }
        }
        let logits = passes.logits(net, &ids, rows, seq)?;
        Ok((0..rows)
            .map(|r| {
                (0..self.answer_len)
                    .map(|j| {
                        let at = r * seq + self.prompt_len - 1 + j;
                        argmax(&logits[at * v..(at + 1) * v]) as i32 == targets[at]
                    })
                    .collect()
            })
            .collect())
    }

    /// The fraction of prompts whose greedy completion is exactly the answer.
    pub fn accuracy(&self, net: &Network, prompts: &[Vec<u32>], passes: &mut Passes) -> Result<f32> {
        if prompts.is_empty() {
            return Ok(0.0);
        }
        let mut right = 0;
        // in slices, so a long task's logits for a thousand prompts need not fit at once
        for chunk in prompts.chunks(ACCURACY_ROWS) {
            right += self.answer_hits(net, chunk, passes)?.iter().filter(|hits| hits.iter().all(|&h| h)).count();
        }
        Ok(right as f32 / prompts.len() as f32)
    }

    /// Ids as the task's characters.
    pub fn render(&self, ids: &[u32]) -> String {
        let chars: Vec<char> = self.alphabet.chars().collect();
        ids.iter().map(|&i| chars.get(i as usize).copied().unwrap_or('?')).collect()
    }

    /// The ids of a string of the task's characters; a character outside it is bad input.
    pub fn parse(&self, text: &str) -> Result<Vec<u32>> {
        text.chars()
            .map(|c| {
                self.alphabet.chars().position(|a| a == c).map(|i| i as u32).ok_or_else(|| {
                    Error::input(format!(
                        "'{c}' is not a letter of the {} task; use only \"{}\"",
                        self.name(),
                        self.alphabet
                    ))
                })
            })
            .collect()
    }
}

/// A random `repeat` segment length from `REPEAT_PERIODS`.
fn draw_repeat_period(rng: &mut Rng) -> usize {
    REPEAT_PERIODS.start() + rng.below(REPEAT_PERIODS.end() - REPEAT_PERIODS.start() + 1)
}

/// Where a `repeat` prompt's repeating letters begin: just after its last `^` (id 0).
fn repeat_start(prompt: &[u32]) -> usize {
    prompt.iter().rposition(|&id| id == 0).map_or(0, |i| i + 1)
}

/// The segment length of a `repeat` prompt: the shortest period its letters after the
/// last `^` follow. Generated prompts are drawn so that this is the period they were made
/// with; a prompt typed by a person gets the period it shows.
fn repeat_period(prompt: &[u32]) -> usize {
    let letters = &prompt[repeat_start(prompt)..];
    (1..=letters.len())
        .find(|&p| (p..letters.len()).all(|i| letters[i] == letters[i - p]))
        .unwrap_or(letters.len().max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_task_s_example_is_the_one_its_description_shows() {
        for name in TASK_NAMES {
            let task = Task::from_name(name).unwrap();
            let prompt = task.example_prompt();
            assert_eq!(prompt.len(), task.prompt_len, "{name}");
            let shown = format!("({} → {})", task.render(&prompt), task.render(&task.answer(&prompt)));
            assert!(task.describe().contains(&shown), "{name}: {shown} in {}", task.describe());
        }
    }

    #[test]
    fn copy_and_recall_take_a_size_and_know_their_distances() {
        let copy = Task::from_name("copy:5").unwrap();
        assert_eq!((copy.prompt_len, copy.answer_len, copy.seq_len()), (6, 5, 10));
        let p = copy.parse("hgfab|").unwrap();
        assert_eq!(copy.render(&copy.answer(&p)), "hgfab");
        assert_eq!(copy.recall_distance(&p), Some(6));
        let recall = Task::from_name("recall:3").unwrap();
        let p = recall.parse("AB3CD7EF1?CD").unwrap();
        assert_eq!(recall.render(&recall.answer(&p)), "7");
        // CD's value sits at 5, the query ends at 11: six tokens back
        assert_eq!(recall.recall_distance(&p), Some(6));
        let mut rng = Rng::new(5);
        for _ in 0..50 {
            let p = recall.prompt(&mut rng, false);
            let keys: Vec<&[u32]> = (0..3).map(|i| &p[3 * i..3 * i + 2]).collect();
            assert!(keys.iter().all(|k| keys.iter().filter(|o| *o == k).count() == 1), "distinct keys");
            assert!(keys.contains(&&p[10..12]), "the query is one of the keys");
        }
        for bad in ["copy:0", "copy:x", "recall:201", "sort:3"] {
            let err = Task::from_name(bad).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad}");
        }
        assert_eq!(Task::from_name("copy").unwrap().spec(), "copy:16");
    }

    #[test]
    fn examples_are_well_formed_and_answers_right() {
        let sort = Task::from_name("sort").unwrap();
        assert_eq!(sort.seq_len(), 11);
        assert_eq!(sort.default_config(), GptConfig::preset("sorter").unwrap());
        let p = sort.parse("CBABBC").unwrap();
        assert_eq!(sort.render(&sort.answer(&p)), "ABBBCC");
        let (mut ids, mut targets) = (vec![0; 11], vec![0; 11]);
        sort.write_example(&p, &mut ids, &mut targets);
        assert_eq!(sort.render(&ids), "CBABBCABBBC");
        assert_eq!(&targets[..5], &[-1; 5]);
        assert_eq!(&targets[5..], &[0, 1, 1, 1, 2, 2]);

        let add = Task::from_name("add").unwrap();
        let p = add.parse("987+654=").unwrap();
        assert_eq!(add.render(&add.answer(&p)), "1641");
        let rev = Task::from_name("reverse").unwrap();
        assert_eq!(rev.render(&rev.answer(&rev.parse("ABCDEFGH").unwrap())), "HGFEDCBA");

        let repeat = Task::from_name("repeat").unwrap();
        assert_eq!(repeat.seq_len(), 20);
        let p = repeat.parse("^abcdabcdabc").unwrap();
        assert_eq!(repeat.render(&repeat.answer(&p)), "dabcdabcd");
        assert_eq!(repeat.render(&repeat.answer(&repeat.parse("xy^abcab").unwrap())), "cabcabcab");
        let (mut ids, mut targets) = (vec![0; 20], vec![0; 20]);
        repeat.write_example(&p, &mut ids, &mut targets);
        assert_eq!(repeat.render(&ids), "^abcdabcdabcdabcdabc");
        // ^ → a … c → d, then d → a (d has not occurred before) cannot be predicted: not
        // counted; from a → b in the second pass on, everything is
        assert_eq!(&targets[..5], &[-1; 5]);
        assert_eq!(targets[5], 2);
        assert!(targets[5..].iter().all(|&t| t > 0));
        let mut rng = Rng::new(3);
        let mut periods = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let p = repeat.prompt(&mut rng, false);
            let (start, period) = (repeat_start(&p), repeat_period(&p));
            assert!(start == 1 && p[0] == 0, "{p:?}");
            assert!(REPEAT_PERIODS.contains(&period), "period {period}");
            assert!((start + period..p.len()).all(|i| p[i] == p[i - period]), "the prompt repeats its segment");
            periods.insert(period);
        }
        assert_eq!(periods.len(), 8, "every period from 2 to 9 occurs");

        assert!(Task::from_name("sorting").unwrap_err().to_string().contains("sort, reverse, add, repeat"));
        assert!(sort.parse("ABD").is_err());
    }

    #[test]
    fn repeat_examples_show_a_segment_twice_anywhere_and_count_only_copyable_letters() {
        let repeat = Task::from_name("repeat").unwrap();
        let mut rng = Rng::new(7);
        let (mut ids, mut targets) = (vec![0; 20], vec![0; 20]);
        let (mut first_counted, mut distances) = (std::collections::BTreeSet::new(), std::collections::BTreeSet::new());
        for _ in 0..2000 {
            repeat.write_random_example(&mut rng, false, &mut ids, &mut targets);
            assert_eq!(ids[0], 0, "the marker starts every example");
            assert!(ids[1..].iter().all(|&id| id > 0), "letters after it");
            assert!(!repeat.is_held_out(&ids[..repeat.prompt_len]));
            let counted: Vec<usize> = (0..20).filter(|&i| targets[i] >= 0).collect();
            assert!(!counted.is_empty(), "every example has copyable letters: {ids:?}");
            first_counted.insert(counted[0]);
            for &i in &counted {
                // a counted target is the next token and predictable by copying: the
                // current token occurred earlier and what followed it then is the target
                let next = if i + 1 < 20 { ids[i + 1] as i32 } else { targets[i] };
                assert_eq!(targets[i], next);
                let earlier = (1..i).filter(|&j| ids[j] == ids[i] && ids.get(j + 1).map(|&x| x as i32) == Some(next));
                let nearest = earlier.max().unwrap_or_else(|| panic!("target at {i} has no earlier copy in {ids:?}"));
                distances.insert(i - nearest);
            }
        }
        // copies start at many places and sit at many distances from the original
        assert!(first_counted.len() >= 12, "{first_counted:?}");
        assert!(distances.len() >= 12, "{distances:?}");
    }

    #[test]
    fn held_out_prompts_never_appear_in_training() {
        for name in TASK_NAMES {
            let task = Task::from_name(name).unwrap();
            let mut rng = Rng::new(1);
            for _ in 0..500 {
                assert!(!task.is_held_out(&task.prompt(&mut rng, false)));
                assert!(task.is_held_out(&task.prompt(&mut rng, true)));
            }
        }
        let sort = Task::from_name("sort").unwrap();
        let all = 3usize.pow(6);
        let held = (0..all)
            .filter(|&n| {
                let p: Vec<u32> = (0..6).map(|i| (n / 3usize.pow(i)) as u32 % 3).collect();
                sort.is_held_out(&p)
            })
            .count();
        assert!(held > 100 && held < 260, "{held} of {all} sort prompts held out");
    }

    #[test]
    fn the_tokenizer_spells_the_alphabet_in_id_order() {
        for name in TASK_NAMES {
            let task = Task::from_name(name).unwrap();
            let tok = task.tokenizer();
            assert_eq!(tok.vocab_size(), task.vocab_size());
            let ids: Vec<u32> = (0..task.vocab_size() as u32).collect();
            assert_eq!(tok.decode(&ids).unwrap(), task.alphabet);
        }
    }
}
