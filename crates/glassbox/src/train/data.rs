//! Training data: where the ids come from. Pipeline position: the very start of training —
//! a text file goes through a tokenizer into one stream of ids (cached beside the run), the
//! first 90% for training and the last 10% for validation; each step draws random windows
//! of `block + 1` ids (inputs and the same shifted by one as targets). A built-in task
//! writes its examples directly. Validation batches are drawn once from a fixed seed, so
//! every evaluation (and every run) is scored on the same windows.

use super::tasks::Task;
use crate::error::{Error, Result};
use crate::rng::Rng;
use crate::tokenizer::{train_bpe, CharTokenizer, Tokenizer};
use std::path::{Path, PathBuf};

/// The seed of the validation windows: the same for every run, so losses compare.
pub const VALIDATION_SEED: u64 = 7;
/// The seed of the held-out prompts a task's accuracy is measured on.
pub const ACCURACY_SEED: u64 = 8;

/// How `--tokenizer` turns text into ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenizerSpec {
    /// One token per distinct character of the file.
    Char,
    /// A byte-level BPE vocabulary of this many tokens, trained on the training split.
    Bpe(usize),
    /// GPT-2's vocabulary, from a folder found on this machine.
    Gpt2,
    /// The tokenizer of a model directory.
    Dir(PathBuf),
}

impl TokenizerSpec {
    pub fn parse(text: &str) -> Result<Self> {
        if text == "char" {
            return Ok(TokenizerSpec::Char);
        }
        if text == "gpt2" {
            return Ok(TokenizerSpec::Gpt2);
        }
        if let Some(n) = text.strip_prefix("bpe:") {
            return n.parse().map(TokenizerSpec::Bpe).map_err(|_| {
                Error::input(format!("--tokenizer {text}: the vocabulary size must be a number, as in bpe:512"))
            });
        }
        let dir = PathBuf::from(text);
        if dir.is_dir() {
            return Ok(TokenizerSpec::Dir(dir));
        }
        Err(Error::input(format!(
            "--tokenizer {text} is neither char, bpe:N, gpt2 nor a directory; choose one of those (e.g. --tokenizer char)"
        )))
    }

    /// Makes the tokenizer: trains one (`bpe:N`, on `train_text`), reads the characters of
    /// `text` (`char`), or loads one from a folder.
    pub fn build(&self, text: &str, train_text: &str, progress: &mut dyn FnMut(usize, usize)) -> Result<Tokenizer> {
        match self {
            TokenizerSpec::Char => Ok(Tokenizer::Char(CharTokenizer::from_text(text)?)),
            TokenizerSpec::Bpe(n) => Ok(Tokenizer::Bpe(train_bpe(train_text, *n, progress)?)),
            TokenizerSpec::Dir(dir) => Tokenizer::load(dir),
            TokenizerSpec::Gpt2 => Tokenizer::load(&find_gpt2_vocabulary()?),
        }
    }
}

impl std::fmt::Display for TokenizerSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenizerSpec::Char => write!(f, "char"),
            TokenizerSpec::Bpe(n) => write!(f, "bpe:{n}"),
            TokenizerSpec::Gpt2 => write!(f, "gpt2"),
            TokenizerSpec::Dir(dir) => write!(f, "{}", dir.display()),
        }
    }
}

/// GPT-2's `vocab.json` + `merges.txt`: in `$GLASSBOX_GPT2`, `./gpt2`, or the Hugging Face
/// cache (`~/.cache/huggingface/hub/models--gpt2/snapshots/*`).
fn find_gpt2_vocabulary() -> Result<PathBuf> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(dir) = std::env::var_os("GLASSBOX_GPT2") {
        candidates.push(dir.into());
    }
    candidates.push("gpt2".into());
    let hub = std::env::var_os("HF_HOME")
        .map(|h| PathBuf::from(h).join("hub"))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/huggingface/hub")));
    if let Some(hub) = hub {
        for repo in ["models--gpt2", "models--openai-community--gpt2"] {
            if let Ok(entries) = std::fs::read_dir(hub.join(repo).join("snapshots")) {
                candidates.extend(entries.flatten().map(|e| e.path()));
            }
        }
    }
    candidates.into_iter().find(|d| d.join("vocab.json").is_file() && d.join("merges.txt").is_file()).ok_or_else(|| {
        Error::input(
            "--tokenizer gpt2 needs GPT-2's vocab.json and merges.txt, and none were found in $GLASSBOX_GPT2, ./gpt2 \
             or the Hugging Face cache; pass the folder that holds them as --tokenizer DIR",
        )
    })
}

/// Reads a training text: it must exist, be non-empty, and be UTF-8 text (not binary).
pub fn read_text(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::reading(path, e))?;
    if bytes.is_empty() {
        return Err(Error::input(format!("{} is empty; give a text file to train on", path.display())));
    }
    if let Some(at) = bytes.iter().position(|&b| b == 0) {
        return Err(Error::input(format!(
            "{} looks binary (a NUL byte at offset {at}); glassbox trains on UTF-8 text files",
            path.display()
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        Error::input(format!(
            "{} is not UTF-8 text (byte 0x{:02x} at offset {at}); convert it to UTF-8 (e.g. iconv) or give a text file",
            path.display(),
            e.as_bytes()[at]
        ))
    })
}

/// Where text splits into training (before) and validation (after): 90% of its
/// characters, as nanoGPT splits tiny shakespeare. Returns a byte offset.
pub fn split_point(text: &str) -> usize {
    let chars = text.chars().count();
    let keep = chars * 9 / 10;
    text.char_indices().nth(keep).map_or(text.len(), |(i, _)| i)
}

/// The token streams of a text: the first 90% for training, the last 10% for validation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TextData {
    pub train: Vec<u32>,
    pub val: Vec<u32>,
}

impl TextData {
    /// Encodes both splits of `text` (each on its own, so no token straddles the cut).
    /// Refuses a text the tokenizer cannot represent whole: training on what is left after
    /// dropping characters would silently train on another text.
    pub fn encode(text: &str, tokenizer: &Tokenizer) -> Result<TextData> {
        tokenizer.check_covers(text)?;
        let (train, val) = text.split_at(split_point(text));
        Ok(TextData { train: tokenizer.encode_parallel(train), val: tokenizer.encode_parallel(val) })
    }

    /// Checks each split holds at least one window of `seq + 1` tokens.
    pub fn check_fits(&self, seq: usize, source: &Path) -> Result<()> {
        let need = seq + 1;
        if self.train.len() < need || self.val.len() < need {
            return Err(Error::input(format!(
                "{} gives {} tokens ({} for training, {} for validation), but one window needs block + 1 = {need} \
                 tokens in each split; use a longer file (about {} tokens or more) or a smaller --block",
                source.display(),
                self.train.len() + self.val.len(),
                self.train.len(),
                self.val.len(),
                need * 10
            )));
        }
        Ok(())
    }

    /// The cache file: u32 little-endian ids, training then validation.
    fn to_bytes(&self) -> Vec<u8> {
        self.train.iter().chain(&self.val).flat_map(|id| id.to_le_bytes()).collect()
    }
}

/// What a token cache was made from: the file's bytes (hashed) and the tokenizer.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CacheKey {
    pub source: String,
    pub source_bytes: u64,
    pub source_fnv64: String,
    pub tokenizer: String,
    pub train_tokens: usize,
    pub val_tokens: usize,
}

/// FNV-1a over bytes: a fingerprint of the data file.
pub fn fnv64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash = (hash ^ b as u64).wrapping_mul(0x100_0000_01b3);
    }
    hash
}

pub const TOKENS_FILE: &str = "tokens.u32";
pub const TOKENS_INFO_FILE: &str = "tokens.json";

impl CacheKey {
    pub fn new(source: &Path, text: &str, tokenizer: &Tokenizer, data: &TextData) -> Self {
        CacheKey {
            source: source.display().to_string(),
            source_bytes: text.len() as u64,
            source_fnv64: format!("{:016x}", fnv64(text.as_bytes())),
            tokenizer: tokenizer.describe(),
            train_tokens: data.train.len(),
            val_tokens: data.val.len(),
        }
    }
}

/// Saves the token streams in `dir` (`tokens.u32` + `tokens.json`), atomically.
pub fn save_token_cache(dir: &Path, key: &CacheKey, data: &TextData) -> Result<()> {
    let bytes = data.to_bytes();
    crate::io::write_atomic(&dir.join(TOKENS_FILE), |w| w.write_all(&bytes))?;
    let info = serde_json::to_string_pretty(key).expect("json");
    crate::io::write_atomic(&dir.join(TOKENS_INFO_FILE), |w| w.write_all(info.as_bytes()))
}

/// The cached token streams in `dir`, if present and intact; `None` when absent.
pub fn load_token_cache(dir: &Path) -> Result<Option<(CacheKey, TextData)>> {
    let (info_path, tokens_path) = (dir.join(TOKENS_INFO_FILE), dir.join(TOKENS_FILE));
    if !info_path.is_file() || !tokens_path.is_file() {
        return Ok(None);
    }
    let info = std::fs::read_to_string(&info_path).map_err(|e| Error::reading(&info_path, e))?;
    let key: CacheKey = serde_json::from_str(&info).map_err(|e| {
        Error::input(format!("{} is damaged ({e}); delete it and the tokens will be made again", info_path.display()))
    })?;
    let bytes = std::fs::read(&tokens_path).map_err(|e| Error::reading(&tokens_path, e))?;
    if bytes.len() != 4 * (key.train_tokens + key.val_tokens) {
        return Err(Error::input(format!(
            "{} holds {} bytes but {} says {} tokens; delete both and the tokens will be made again",
            tokens_path.display(),
            bytes.len(),
            info_path.display(),
            key.train_tokens + key.val_tokens
        )));
    }
    let mut ids: Vec<u32> = bytes.chunks_exact(4).map(|b| u32::from_le_bytes(b.try_into().unwrap())).collect();
    let val = ids.split_off(key.train_tokens);
    Ok(Some((key, TextData { train: ids, val })))
}

/// One batch: `rows` sequences of `seq` ids and their targets (−1 where not counted).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Batch {
    pub ids: Vec<u32>,
    pub targets: Vec<i32>,
    pub rows: usize,
    pub seq: usize,
}

impl Batch {
    pub fn new(rows: usize, seq: usize) -> Self {
        Batch { ids: vec![0; rows * seq], targets: vec![-1; rows * seq], rows, seq }
    }
}

/// Where batches come from: a text's token streams or a built-in task.
pub enum Dataset {
    Text(TextData),
    Task(Task),
}

impl Dataset {
    /// Fills `batch` with training examples drawn with `rng`.
    pub fn fill_train_batch(&self, rng: &mut Rng, batch: &mut Batch) {
        let seq = batch.seq;
        for (ids, targets) in batch.ids.chunks_exact_mut(seq).zip(batch.targets.chunks_exact_mut(seq)) {
            match self {
                Dataset::Text(data) => write_window(&data.train, rng.below(data.train.len() - seq), ids, targets),
                Dataset::Task(task) => task.write_random_example(rng, false, ids, targets),
            }
        }
    }

    /// `count` validation batches of `rows` × `seq`, the same every time (fixed seed):
    /// windows of the validation split, or held-out examples of a task.
    pub fn validation_batches(&self, count: usize, rows: usize, seq: usize) -> Vec<Batch> {
        let mut rng = Rng::new(VALIDATION_SEED);
        (0..count)
            .map(|_| {
                let mut batch = Batch::new(rows, seq);
                for (ids, targets) in batch.ids.chunks_exact_mut(seq).zip(batch.targets.chunks_exact_mut(seq)) {
                    match self {
                        Dataset::Text(data) => write_window(&data.val, rng.below(data.val.len() - seq), ids, targets),
                        Dataset::Task(task) => task.write_random_example(&mut rng, true, ids, targets),
                    }
                }
                batch
            })
            .collect()
    }
}

fn write_window(stream: &[u32], start: usize, ids: &mut [u32], targets: &mut [i32]) {
    let seq = ids.len();
    ids.copy_from_slice(&stream[start..start + seq]);
    for (t, &id) in targets.iter_mut().zip(&stream[start + 1..start + seq + 1]) {
        *t = id as i32;
    }
}

/// `count` held-out prompts of a task, the same every time: what accuracy is measured on.
pub fn accuracy_prompts(task: &Task, count: usize) -> Vec<Vec<u32>> {
    let mut rng = Rng::new(ACCURACY_SEED);
    (0..count).map(|_| task.prompt(&mut rng, true)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_splits_ninety_ten_and_windows_shift_by_one() {
        let text: String = (0..1000).map(|i| (b'a' + (i % 26) as u8) as char).collect();
        let tok = TokenizerSpec::Char.build(&text, &text, &mut |_, _| {}).unwrap();
        let data = TextData::encode(&text, &tok).unwrap();
        assert_eq!((data.train.len(), data.val.len()), (900, 100));
        let dataset = Dataset::Text(data);
        let mut batch = Batch::new(4, 16);
        dataset.fill_train_batch(&mut Rng::new(1), &mut batch);
        for r in 0..4 {
            for t in 0..15 {
                assert_eq!(batch.targets[r * 16 + t] as u32, batch.ids[r * 16 + t + 1]);
            }
        }
        let a = dataset.validation_batches(3, 4, 16);
        assert_eq!(a, dataset.validation_batches(3, 4, 16), "validation batches are fixed");
        assert_ne!(a[0], a[1]);
    }

    #[test]
    fn a_split_shorter_than_a_window_is_refused() {
        let text = "short text, twenty-seven c";
        let tok = TokenizerSpec::Char.build(text, text, &mut |_, _| {}).unwrap();
        let data = TextData::encode(text, &tok).unwrap();
        let err = data.check_fits(8, Path::new("tiny.txt")).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("block + 1 = 9"), "{err}");
        assert!(data.check_fits(1, Path::new("tiny.txt")).is_ok());
    }

    #[test]
    fn empty_and_binary_files_are_refused_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.txt");
        std::fs::write(&empty, b"").unwrap();
        assert!(read_text(&empty).unwrap_err().to_string().contains("is empty"));
        let binary = dir.path().join("a.bin");
        std::fs::write(&binary, [0x7fu8, b'E', b'L', b'F', 0, 1, 2]).unwrap();
        assert!(read_text(&binary).unwrap_err().to_string().contains("looks binary"));
        let latin1 = dir.path().join("latin1.txt");
        std::fs::write(&latin1, b"caf\xe9").unwrap();
        let err = read_text(&latin1).unwrap_err();
        assert!(err.to_string().contains("not UTF-8") && err.exit_code() == 2, "{err}");
        let missing = read_text(&dir.path().join("nope.txt")).unwrap_err();
        assert_eq!(missing.exit_code(), 2);
    }

    #[test]
    fn token_cache_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let text = "hello world, hello tokens";
        let tok = TokenizerSpec::Char.build(text, text, &mut |_, _| {}).unwrap();
        let data = TextData::encode(text, &tok).unwrap();
        let key = CacheKey::new(Path::new("x.txt"), text, &tok, &data);
        save_token_cache(dir.path(), &key, &data).unwrap();
        let (back_key, back) = load_token_cache(dir.path()).unwrap().unwrap();
        assert_eq!((back_key, back), (key, data));
        assert!(load_token_cache(&dir.path().join("none")).unwrap().is_none());
    }

    #[test]
    fn tokenizer_specs_parse() {
        assert_eq!(TokenizerSpec::parse("char").unwrap(), TokenizerSpec::Char);
        assert_eq!(TokenizerSpec::parse("bpe:512").unwrap(), TokenizerSpec::Bpe(512));
        assert!(TokenizerSpec::parse("bpe:lots").is_err());
        assert!(TokenizerSpec::parse("/no/such/dir").unwrap_err().to_string().contains("neither"));
        assert_eq!(TokenizerSpec::Bpe(300).to_string(), "bpe:300");
    }
}
