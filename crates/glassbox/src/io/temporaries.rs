//! The temporary names beside what glassbox writes, and the cleanup of those a killed
//! writer left behind. A writer builds `NAME` under `.NAME.tmp-PID` in the same folder
//! and renames it into place when it is complete; replacing a folder, it first moves the
//! old one aside to `.NAME.old-PID`. A process killed in between leaves these names
//! behind, so every writer of a place first removes the ones whose writer (PID) is no
//! longer running — never a live writer's. A dead writer's `.NAME.old-PID` is put back as
//! `NAME` if nothing took its place (the writer died between its two renames), and
//! removed otherwise.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

const BUILDING: &str = ".tmp-";
const SET_ASIDE: &str = ".old-";

/// Where this process builds `folder/name` before renaming it into place.
pub fn building_name(folder: &Path, name: &OsStr) -> PathBuf {
    folder.join(marked(name, BUILDING, std::process::id()))
}

/// Where this process moves an old `folder/name` while it puts the new one in its place.
pub fn set_aside_name(folder: &Path, name: &OsStr) -> PathBuf {
    folder.join(marked(name, SET_ASIDE, std::process::id()))
}

fn marked(name: &OsStr, mark: &str, pid: u32) -> OsString {
    let mut marked = OsString::from(".");
    marked.push(name);
    marked.push(format!("{mark}{pid}"));
    marked
}

/// A temporary name taken apart: what it stands for, whether it is an old version set
/// aside, and the writer's process id.
struct Temporary {
    name: String,
    set_aside: bool,
    pid: u32,
}

fn parse(file_name: &str) -> Option<Temporary> {
    let rest = file_name.strip_prefix('.')?;
    for (mark, set_aside) in [(BUILDING, false), (SET_ASIDE, true)] {
        if let Some((name, pid)) = rest.rsplit_once(mark) {
            let pid_is_number = !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit());
            if let (false, true, Ok(pid)) = (name.is_empty(), pid_is_number, pid.parse()) {
                return Some(Temporary { name: name.to_string(), set_aside, pid });
            }
        }
    }
    None
}

/// Whether process `pid` is running. Where that cannot be told (no `/proc`), every writer
/// counts as running, so nothing is removed.
pub fn is_running(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    let proc = Path::new("/proc");
    !proc.join("self").exists() || proc.join(pid.to_string()).exists()
}

/// Removes the temporaries of dead writers in `folder` — only those standing for `only`,
/// when given — and returns how many it removed or put back. Best effort: a temporary that
/// cannot be removed stays, and the write that called this goes on.
pub fn remove_stale(folder: &Path, only: Option<&OsStr>) -> usize {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return 0;
    };
    let only = only.map(|name| name.to_string_lossy());
    let mut cleaned = 0;
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(temporary) = file_name.to_str().and_then(parse) else {
            continue;
        };
        if only.as_deref().is_some_and(|only| only != temporary.name) || is_running(temporary.pid) {
            continue;
        }
        let path = entry.path();
        let original = folder.join(&temporary.name);
        let done = if temporary.set_aside && std::fs::symlink_metadata(&original).is_err() {
            std::fs::rename(&path, &original)
        } else if entry.file_type().is_ok_and(|t| t.is_dir()) {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        cleaned += usize::from(done.is_ok());
    }
    cleaned
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A process id that is not running: a child that has exited and been reaped.
    fn dead_pid() -> u32 {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!is_running(pid));
        pid
    }

    #[test]
    fn names_round_trip() {
        let path = building_name(Path::new("runs"), OsStr::new("model.safetensors"));
        let parsed = parse(path.file_name().unwrap().to_str().unwrap()).unwrap();
        assert_eq!(
            (parsed.name.as_str(), parsed.set_aside, parsed.pid),
            ("model.safetensors", false, std::process::id())
        );
        let aside = set_aside_name(Path::new("runs"), OsStr::new("sorter"));
        assert!(parse(aside.file_name().unwrap().to_str().unwrap()).unwrap().set_aside);
        for name in ["model.safetensors", ".tmp-12", ".x.tmp-", ".x.tmp-12a", "x.tmp-12"] {
            assert!(parse(name).is_none(), "{name}");
        }
    }

    #[test]
    fn dead_writers_temporaries_go_live_ones_stay() {
        let dir = tempfile::tempdir().unwrap();
        let dead = dead_pid();
        let live = std::process::id();
        let make = |name: String| std::fs::write(dir.path().join(name), b"x").unwrap();
        make(format!(".model.safetensors.tmp-{dead}"));
        make(format!(".config.json.tmp-{dead}"));
        make(format!(".model.safetensors.tmp-{live}"));
        std::fs::create_dir(dir.path().join(format!(".run.tmp-{dead}"))).unwrap();
        std::fs::write(dir.path().join(format!(".run.tmp-{dead}/config.json")), b"x").unwrap();
        make("notes.tmp-1".to_string());

        assert_eq!(remove_stale(dir.path(), Some(OsStr::new("model.safetensors"))), 1);
        assert_eq!(remove_stale(dir.path(), None), 2);
        let mut left: Vec<String> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        left.sort();
        assert_eq!(left, vec![format!(".model.safetensors.tmp-{live}"), "notes.tmp-1".to_string()]);
    }

    #[test]
    fn a_dead_writers_set_aside_folder_comes_back_if_nothing_replaced_it() {
        let dir = tempfile::tempdir().unwrap();
        let dead = dead_pid();
        let aside = dir.path().join(format!(".sorter.old-{dead}"));
        std::fs::create_dir(&aside).unwrap();
        std::fs::write(aside.join("model.safetensors"), b"old").unwrap();
        assert_eq!(remove_stale(dir.path(), None), 1);
        assert_eq!(std::fs::read(dir.path().join("sorter/model.safetensors")).unwrap(), b"old");
        // once the new folder is in place, an old one set aside is removed
        std::fs::create_dir(&aside).unwrap();
        assert_eq!(remove_stale(dir.path(), None), 1);
        assert!(!aside.exists() && dir.path().join("sorter").exists());
    }
}
