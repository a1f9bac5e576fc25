//! Atomic file writes: write to a temporary name in the same folder, fsync, rename over the
//! target, fsync the folder. A crash or a full disk never leaves a half-written file, and
//! the previous version survives any failure. Before it writes, it removes what dead
//! writers of the same file left behind (see `temporaries.rs`).

use crate::error::{Error, Result};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

/// Writes `path` through `fill`; on any error the temporary file is removed and `path` is
/// untouched.
pub fn write_atomic(path: &Path, fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<()> {
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path.file_name().ok_or_else(|| Error::input(format!("{} is not a file name", path.display())))?;
    refuse_non_file(path)?;
    super::temporaries::remove_stale(&folder, Some(name));
    let temp = super::temporaries::building_name(&folder, name);
    let result = (|| -> std::io::Result<()> {
        let file = File::create(&temp)?;
        let mut writer = BufWriter::with_capacity(1 << 20, file);
        fill(&mut writer)?;
        let file = writer.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&temp, path)?;
        if let Ok(dir) = File::open(&folder) {
            let _ = dir.sync_all();
        }
        Ok(())
    })();
    if let Err(err) = result {
        let _ = std::fs::remove_file(&temp);
        return Err(Error::writing(path, err));
    }
    Ok(())
}

/// Renaming over a folder fails, and over a device (`--out /dev/null`) replaces it: only a
/// regular file (or nothing) may be at the target.
fn refuse_non_file(path: &Path) -> Result<()> {
    if let Ok(existing) = std::fs::metadata(path) {
        if !existing.is_file() {
            let what = if existing.is_dir() { "a folder" } else { "not a regular file (a device or a pipe)" };
            return Err(Error::input(format!("cannot write {}: it is {what}; name a file to write", path.display())));
        }
    }
    Ok(())
}

/// Whether [`write_atomic`] could write `path`, asked without writing: nothing but a
/// regular file at it, and a folder for it that exists (refused with the sentences the
/// write itself would give). Commands ask it before long work, so a refusal comes at once.
pub fn check_file_target(path: &Path) -> Result<()> {
    refuse_non_file(path)?;
    match path.parent() {
        Some(folder) if !folder.as_os_str().is_empty() && !folder.is_dir() => {
            let kind = if folder.exists() { std::io::ErrorKind::NotADirectory } else { std::io::ErrorKind::NotFound };
            Err(Error::writing(path, kind.into()))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileTypeExt;

    #[test]
    fn failed_write_keeps_the_old_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.txt");
        write_atomic(&path, |w| w.write_all(b"old")).unwrap();
        let err = write_atomic(&path, |w| {
            w.write_all(b"partial")?;
            Err(std::io::Error::other("disk full"))
        });
        assert!(err.is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn writing_a_file_removes_what_a_killed_writer_of_it_left() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let left_behind = dir.path().join(format!(".x.txt.tmp-{dead}"));
        let other = dir.path().join(format!(".y.txt.tmp-{dead}"));
        std::fs::write(&left_behind, b"half").unwrap();
        std::fs::write(&other, b"half").unwrap();
        write_atomic(&dir.path().join("x.txt"), |w| w.write_all(b"new")).unwrap();
        assert!(!left_behind.exists(), "the dead writer's temporary of x.txt is gone");
        assert!(other.exists(), "another file's temporary is left to its own writer");
    }

    #[test]
    fn a_folder_a_device_or_a_missing_folder_is_refused_as_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        for target in [dir.path().to_path_buf(), "/dev/null".into(), file.join("x"), dir.path().join("no/x")] {
            let err = write_atomic(&target, |w| w.write_all(b"y")).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{}: {err}", target.display());
        }
        assert_eq!(std::fs::read(&file).unwrap(), b"x");
        assert!(std::fs::metadata("/dev/null").unwrap().file_type().is_char_device());
    }
}
