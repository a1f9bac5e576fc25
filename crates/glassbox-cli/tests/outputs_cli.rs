//! Every command that writes a directory (`init`, `convert`, `tokenizer train`, `train`,
//! `demo`), through the real binary: an existing, non-empty `--out` is refused (exit 2, one
//! sentence, suggesting `--force`) and left as it was; `--force` replaces it; and when the
//! disk fails mid-way (a file size limit makes every write past it fail with EFBIG, as a
//! full disk would) the command exits 1 leaving no target, no partial file and no
//! temporary — and a target being replaced survives intact.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn glassbox(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_glassbox")).args(args).output().expect("run the glassbox binary")
}

/// Runs glassbox with every file it writes limited to `kib` KiB: a write past the limit
/// fails with EFBIG (SIGXFSZ ignored), as on a full disk.
fn glassbox_with_file_limit(kib: u64, args: &[&str]) -> Output {
    // ulimit -f counts 512-byte blocks in POSIX sh
    let script = format!("trap '' XFSZ; ulimit -f {}; exec \"$0\" \"$@\"", kib * 2);
    Command::new("sh").arg("-c").arg(script).arg(env!("CARGO_BIN_EXE_glassbox")).args(args).output().expect("run sh")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Every file under `dir` with its bytes, by relative path.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                folders.push(entry.path());
            } else {
                files.insert(
                    entry.path().strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(entry.path()).unwrap(),
                );
            }
        }
    }
    files
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    names
}

/// The inputs the commands read, in `tmp/inputs`: a model (written by init) and a corpus
/// of many distinct words, so that a BPE vocabulary of it is tens of KiB.
fn inputs(tmp: &Path) -> (PathBuf, PathBuf) {
    let inputs = tmp.join("inputs");
    let model = inputs.join("model");
    let o = glassbox(&["init", "--preset", "sorter", "--out", path(&model)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut x = 12345u64;
    let words: Vec<String> = (0..30_000)
        .map(|_| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let len = 2 + (x >> 60) as usize % 6;
            (0..len).map(|i| (b'a' + ((x >> (8 * i + 3)) % 26) as u8) as char).collect()
        })
        .collect();
    let corpus = inputs.join("corpus.txt");
    std::fs::write(&corpus, words.join(" ")).unwrap();
    (model, corpus)
}

/// The argument lists of each command that writes a directory, writing into `out`.
fn writers(model: &Path, corpus: &Path, out: &Path) -> Vec<Vec<String>> {
    let (model, corpus, out) = (path(model), path(corpus), path(out));
    let lists: [&[&str]; 5] = [
        &["init", "--preset", "sorter", "--out", out],
        &["convert", model, "--out", out],
        &["tokenizer", "train", "--data", corpus, "--vocab-size", "3000", "--out", out],
        &["train", "--task", "sort", "--steps", "2", "--eval-every", "0", "--out", out],
        &["demo", "--steps", "2", "--out", out],
    ];
    lists.iter().map(|args| args.iter().map(|a| a.to_string()).collect()).collect()
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

#[test]
fn an_existing_output_is_refused_and_kept_and_force_replaces_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (model, corpus) = inputs(tmp.path());
    let out = tmp.path().join("out");
    for args in writers(&model, &corpus, &out) {
        let command = args[0].clone();
        // a folder with someone's files in it, a model among them
        std::fs::create_dir_all(out.join("checkpoints/step-100")).unwrap();
        std::fs::write(out.join("model.safetensors"), b"trained for a week").unwrap();
        std::fs::write(out.join("notes.txt"), b"mine").unwrap();
        let before = snapshot(&out);

        let o = glassbox(&strs(&args));
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{command}: {err}");
        assert!(err.contains("--force") && err.contains(path(&out)), "{command}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{command}: one sentence: {err}");
        assert!(snapshot(&out) == before, "{command} changed the folder it refused");

        let mut forced = args.clone();
        forced.push("--force".into());
        let o = glassbox(&strs(&forced));
        assert!(o.status.success(), "{command} --force: {}", stderr(&o));
        let after = snapshot(&out);
        for (old, bytes) in &before {
            assert!(after.get(old) != Some(bytes), "{command} --force kept the old {}", old.display());
        }
        assert!(!out.join("checkpoints/step-100").exists(), "{command} --force merged into the old folder");
        assert!(!after.is_empty(), "{command} --force wrote nothing");
        assert_eq!(names(tmp.path()), vec!["inputs", "out"], "{command}: no temporary is left");
        std::fs::remove_dir_all(&out).unwrap();
    }
}

#[test]
fn a_write_that_fails_mid_way_leaves_nothing_and_keeps_what_it_would_replace() {
    let tmp = tempfile::tempdir().unwrap();
    let (model, corpus) = inputs(tmp.path());
    let out = tmp.path().join("new/out");
    let limit_kib = 16; // config.json fits; the weights, a training state or a vocabulary do not
    for args in writers(&model, &corpus, &out) {
        let command = args[0].clone();
        let o = glassbox_with_file_limit(limit_kib, &strs(&args));
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{command}: {err}");
        assert!(err.contains("File too large") && err.contains("was not created"), "{command}: {err}");
        assert!(!err.contains("intact") && !err.contains("panicked") && !err.contains(".tmp-"), "{command}: {err}");
        assert_eq!(names(tmp.path()), vec!["inputs"], "{command} left a folder or a temporary behind");

        // replacing an existing output: it survives the failure byte for byte
        let existing = tmp.path().join("existing");
        std::fs::create_dir_all(existing.join("checkpoints")).unwrap();
        std::fs::write(existing.join("config.json"), b"{\"old\": true}").unwrap();
        std::fs::write(existing.join("checkpoints/notes.txt"), b"mine").unwrap();
        let before = snapshot(&existing);
        let mut forced: Vec<String> =
            args.iter().map(|a| if a == path(&out) { path(&existing).to_string() } else { a.clone() }).collect();
        forced.push("--force".into());
        let o = glassbox_with_file_limit(limit_kib, &strs(&forced));
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{command} --force: {err}");
        assert!(err.contains("is as it was"), "{command} --force: {err}");
        assert!(snapshot(&existing) == before, "{command} --force damaged the folder it was replacing");
        assert_eq!(names(tmp.path()), vec!["existing", "inputs"], "{command} --force left a temporary behind");
        std::fs::remove_dir_all(&existing).unwrap();
    }
}

#[test]
fn an_output_under_a_file_is_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    for out in [file.clone(), file.join("model")] {
        let o = glassbox(&["init", "--preset", "sorter", "--out", path(&out)]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains(path(&file)), "{err}");
    }
    assert_eq!(std::fs::read(&file).unwrap(), b"x");
}

#[test]
fn demo_run_again_replaces_its_own_run_but_never_a_trained_one() {
    let tmp = tempfile::tempdir().unwrap();
    let in_tmp = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_glassbox")).args(args).current_dir(tmp.path()).output().unwrap()
    };
    let demo = ["--threads", "1", "demo", "--steps", "20"];
    // README's first command, twice: the second replaces the first's runs/sorter
    let first = in_tmp(&demo);
    assert!(first.status.success(), "{}", stderr(&first));
    let second = in_tmp(&demo);
    assert!(second.status.success(), "{}", stderr(&second));
    // the demo keeps a snapshot of the random start and of every tenth of its run
    let mut kept: Vec<usize> = std::fs::read_dir(tmp.path().join("runs/sorter/checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().trim_start_matches("step-").parse().unwrap())
        .collect();
    kept.sort_unstable();
    assert_eq!(kept, (0..=10).map(|i| 2 * i).collect::<Vec<usize>>());
    // a run trained with `train`, even on the sort task, is never replaced without --force
    let sorter = tmp.path().join("runs/sorter");
    std::fs::remove_dir_all(&sorter).unwrap();
    let trained = in_tmp(&["--threads", "1", "train", "--task", "sort", "--steps", "5", "--out", "runs/sorter"]);
    assert!(trained.status.success(), "{}", stderr(&trained));
    let before = snapshot(&sorter);
    let refused = in_tmp(&demo);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("--force"), "{}", stderr(&refused));
    assert_eq!(snapshot(&sorter), before, "the trained run must be left as it was");
}
