//! Directory outputs that appear whole or not at all: the folder is built under a
//! temporary name beside the target (`.NAME.tmp-PID`), every file in it synced, then
//! renamed into place. An existing, non-empty target is refused unless the caller asked to
//! replace it (`--force`); then the old folder is moved aside (`.NAME.old-PID`), the new
//! one renamed in, and only then is the old one removed — until the new folder is
//! complete, the old one is intact. Every command that writes a directory goes through
//! [`write_dir_atomic`] (or [`StagedDir`] where the writing spans more than one call).

use super::temporaries;
use crate::error::{Error, Result};
use std::fs::File;
use std::path::{Path, PathBuf};

/// Refuses `target` if it is a file, or a folder with something in it and `replace` is
/// false. Cheap: commands call it before any long work, so a refusal comes at once.
pub fn check_target(target: &Path, replace: bool) -> Result<()> {
    match std::fs::metadata(target) {
        Err(_) => Ok(()),
        Ok(meta) if !meta.is_dir() => Err(Error::input(format!(
            "--out {} is a file, not a folder; name a folder to write into",
            target.display()
        ))),
        Ok(_) if replace => Ok(()),
        Ok(_) => {
            if is_empty_dir(target)? {
                Ok(())
            } else {
                Err(Error::input(format!(
                    "{} already exists and is not empty; pass --force to replace it, or choose another --out",
                    target.display()
                )))
            }
        }
    }
}

fn is_empty_dir(dir: &Path) -> Result<bool> {
    let mut entries = std::fs::read_dir(dir).map_err(|e| Error::reading(dir, e))?;
    Ok(entries.next().is_none())
}

/// Writes the folder `target` through `fill`, which gets the temporary folder to write
/// into. On success `target` holds exactly what `fill` wrote; on any failure it is as it
/// was (absent, or the old folder) and no temporary is left.
pub fn write_dir_atomic<T>(target: &Path, replace: bool, fill: impl FnOnce(&Path) -> Result<T>) -> Result<T> {
    let staged = StagedDir::begin(target, replace)?;
    let value = fill(staged.path()).map_err(|e| staged.explain(e))?;
    staged.commit()?;
    Ok(value)
}

/// A folder being built beside its target. [`commit`](Self::commit) puts it in place;
/// dropping it uncommitted removes it (and any parent folders it had to create).
pub struct StagedDir {
    target: PathBuf,
    staging: PathBuf,
    replace: bool,
    existed: bool,
    created_parents: Vec<PathBuf>,
    committed: bool,
}

impl StagedDir {
    /// Checks `target` (see [`check_target`]), creates its missing parent folders, clears
    /// dead writers' temporaries of it, and creates the empty temporary folder.
    pub fn begin(target: &Path, replace: bool) -> Result<StagedDir> {
        check_target(target, replace)?;
        let target = resolve(target)?;
        let (parent, name) = match (target.parent(), target.file_name()) {
            (Some(parent), Some(name)) => (parent.to_path_buf(), name.to_os_string()),
            _ => return Err(Error::input(format!("{} cannot be replaced; name a folder inside it", target.display()))),
        };
        let parent = if parent.as_os_str().is_empty() { PathBuf::from(".") } else { parent };
        let created_parents = create_parents(&parent, &target)?;
        let staged = StagedDir {
            existed: target.exists(),
            staging: temporaries::building_name(&parent, &name),
            target,
            replace,
            created_parents,
            committed: false,
        };
        temporaries::remove_stale(&parent, Some(&name));
        std::fs::create_dir(&staged.staging).map_err(|e| Error::writing(&staged.staging, e))?;
        Ok(staged)
    }

    /// The temporary folder to write into.
    pub fn path(&self) -> &Path {
        &self.staging
    }

    /// Syncs every file and folder written, then renames the folder into place (moving an
    /// old one aside first, and removing it after).
    pub fn commit(mut self) -> Result<()> {
        let result = self.put_in_place();
        match result {
            Ok(()) => {
                self.committed = true;
                Ok(())
            }
            Err(e) => Err(self.explain(e)),
        }
    }

    fn put_in_place(&self) -> Result<()> {
        sync_tree(&self.staging).map_err(|e| Error::writing(&self.target, e))?;
        let occupied = self.target.exists() && !is_empty_dir(&self.target)?;
        if occupied && !self.replace {
            // it was empty or absent when we began: someone else wrote it meanwhile
            return Err(Error::input(format!(
                "{} was filled by someone else while glassbox wrote it; pass --force to replace it, or choose \
                 another --out",
                self.target.display()
            )));
        }
        let rename_in = || std::fs::rename(&self.staging, &self.target).map_err(|e| Error::writing(&self.target, e));
        if occupied {
            let parent = self.target.parent().unwrap_or(Path::new("."));
            let aside = temporaries::set_aside_name(parent, self.target.file_name().unwrap_or_default());
            std::fs::rename(&self.target, &aside).map_err(|e| Error::writing(&self.target, e))?;
            if let Err(e) = rename_in() {
                let _ = std::fs::rename(&aside, &self.target);
                return Err(e);
            }
            sync_folder(parent);
            // The new folder is in place; should this fail, the next writer removes it.
            let _ = std::fs::remove_dir_all(&aside);
        } else {
            // an empty folder is replaced by the rename itself
            rename_in()?;
        }
        sync_folder(self.target.parent().unwrap_or(Path::new(".")));
        Ok(())
    }

    /// A failure while writing names the files under the target's name (where they were
    /// going), and says that the target is as it was.
    fn explain(&self, err: Error) -> Error {
        let staging = self.staging.display().to_string();
        let target = self.target.display().to_string();
        let kept = if self.existed { format!("{target} is as it was") } else { format!("{target} was not created") };
        match err {
            Error::Input(m) => Error::Input(m.replace(&staging, &target)),
            Error::Failure(m) => Error::Failure(format!("{}; {kept}", m.replace(&staging, &target))),
        }
    }
}

impl Drop for StagedDir {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        let _ = std::fs::remove_dir_all(&self.staging);
        for parent in self.created_parents.iter().rev() {
            let _ = std::fs::remove_dir(parent);
        }
    }
}

/// The folder to replace: a symbolic link is followed (the folder it points to is
/// replaced, the link stays), and `.` or `..` become the folder they name.
fn resolve(target: &Path) -> Result<PathBuf> {
    let is_link = std::fs::symlink_metadata(target).is_ok_and(|m| m.file_type().is_symlink());
    let unnamed = target.file_name().is_none();
    if (is_link || unnamed) && target.exists() {
        return target.canonicalize().map_err(|e| Error::reading(target, e));
    }
    Ok(target.to_path_buf())
}

/// Creates the missing folders above `target`, returning those it created (outermost
/// first) so that a failed write can remove them again.
fn create_parents(parent: &Path, target: &Path) -> Result<Vec<PathBuf>> {
    let missing: Vec<PathBuf> = parent
        .ancestors()
        .take_while(|p| !p.as_os_str().is_empty() && std::fs::symlink_metadata(p).is_err())
        .map(Path::to_path_buf)
        .collect();
    let existing =
        parent.ancestors().nth(missing.len()).filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !existing.is_dir() {
        return Err(Error::input(format!(
            "--out {}: {} is not a folder, so nothing can be written inside it; choose another --out",
            target.display(),
            existing.display()
        )));
    }
    let mut created: Vec<PathBuf> = Vec::new();
    for folder in missing.into_iter().rev() {
        if let Err(e) = std::fs::create_dir(&folder) {
            for made in created.iter().rev() {
                let _ = std::fs::remove_dir(made);
            }
            return Err(Error::writing(&folder, e));
        }
        created.push(folder);
    }
    Ok(created)
}

/// Syncs every file and folder under `dir` (and `dir` itself) to the disk.
fn sync_tree(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            sync_tree(&entry.path())?;
        } else if kind.is_file() {
            File::open(entry.path())?.sync_all()?;
        }
    }
    File::open(dir)?.sync_all()
}

/// Makes a rename in `folder` durable (best effort: not every platform opens folders).
fn sync_folder(folder: &Path) {
    if let Ok(dir) = File::open(folder) {
        let _ = dir.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        names
    }

    fn write(dir: &Path, name: &str, text: &str) -> Result<()> {
        crate::io::write_atomic(&dir.join(name), |w| w.write_all(text.as_bytes()))
    }

    #[test]
    fn a_new_folder_appears_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("a/b/model");
        write_dir_atomic(&target, false, |dir| {
            write(dir, "config.json", "{}")?;
            write(dir, "model.safetensors", "weights")
        })
        .unwrap();
        assert_eq!(names(&target), vec!["config.json", "model.safetensors"]);
        assert_eq!(names(&tmp.path().join("a/b")), vec!["model"], "no temporary is left");
    }

    #[test]
    fn a_failure_leaves_no_folder_no_temporary_and_no_new_parents() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("new/model");
        let err = write_dir_atomic(&target, false, |dir| {
            write(dir, "config.json", "{}")?;
            Err::<(), _>(Error::writing(&dir.join("model.safetensors"), std::io::Error::from_raw_os_error(28)))
        })
        .unwrap_err();
        assert_eq!(err.exit_code(), 1);
        let message = err.to_string();
        assert!(message.contains(&target.join("model.safetensors").display().to_string()), "{message}");
        assert!(message.contains("was not created") && !message.contains(".tmp-"), "{message}");
        assert!(names(tmp.path()).is_empty(), "left: {:?}", names(tmp.path()));
    }

    #[test]
    fn an_existing_folder_is_refused_unless_replaced_and_survives_a_failed_replacement() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("model");
        std::fs::create_dir(&target).unwrap();
        write(&target, "config.json", "old").unwrap();

        let err = write_dir_atomic(&target, false, |dir| write(dir, "config.json", "new")).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("--force"), "{err}");

        let err = write_dir_atomic(&target, true, |dir| {
            write(dir, "config.json", "new")?;
            Err::<(), _>(Error::failure("disk full"))
        })
        .unwrap_err();
        assert!(err.to_string().contains("is as it was"), "{err}");
        assert_eq!(std::fs::read_to_string(target.join("config.json")).unwrap(), "old");
        assert_eq!(names(tmp.path()), vec!["model"]);

        write_dir_atomic(&target, true, |dir| write(dir, "vocab.json", "new")).unwrap();
        assert_eq!(names(&target), vec!["vocab.json"], "the old content is replaced, not merged");
        assert_eq!(names(tmp.path()), vec!["model"]);
    }

    #[test]
    fn an_empty_folder_is_filled_and_a_file_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let empty = tmp.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        write_dir_atomic(&empty, false, |dir| write(dir, "x", "1")).unwrap();
        assert_eq!(names(&empty), vec!["x"]);

        let file = tmp.path().join("file");
        std::fs::write(&file, "x").unwrap();
        for target in [file.clone(), file.join("model")] {
            let err = write_dir_atomic(&target, true, |_| Ok(())).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{err}");
            assert!(err.to_string().contains("is a file") || err.to_string().contains("not a folder"), "{err}");
        }
    }
}
