//! Errors the engine returns. Every failure is one plain sentence naming the culprit and
//! the fix; `Input` means the user gave something we cannot use (exit code 2 at the CLI),
//! `Failure` means something went wrong on our side or in the system (exit code 1).

use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input from the user: a file, a field, a value. The CLI exits with code 2.
    #[error("{0}")]
    Input(String),
    /// Anything else (disk full, I/O failure, a NaN loss). The CLI exits with code 1.
    #[error("{0}")]
    Failure(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn input(message: impl Into<String>) -> Self {
        Error::Input(message.into())
    }

    pub fn failure(message: impl Into<String>) -> Self {
        Error::Failure(message.into())
    }

    /// The process exit code this error deserves: 2 for bad input, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Input(_) => 2,
            Error::Failure(_) => 1,
        }
    }

    /// An I/O error while reading a file the user named: a missing file, one we may not
    /// read, a folder where a file should be, or text that is not UTF-8 is their input.
    pub fn reading(path: &Path, err: std::io::Error) -> Self {
        use std::io::ErrorKind;
        let path = path.display();
        match err.kind() {
            ErrorKind::NotFound => Error::input(format!("{path} does not exist; check the path")),
            ErrorKind::PermissionDenied => {
                Error::input(format!("{path} cannot be read (permission denied); check its permissions"))
            }
            ErrorKind::IsADirectory => {
                Error::input(format!("{path} is a directory, not a file; name the file inside it"))
            }
            ErrorKind::NotADirectory => {
                Error::input(format!("{path} goes through a file as if it were a folder; check the path"))
            }
            ErrorKind::InvalidData => Error::input(format!("{path} is not UTF-8 text; save it as UTF-8")),
            _ => Error::failure(format!("could not read {path}: {err}")),
        }
    }

    /// An I/O error while writing to a path the user chose. Where the path itself is the
    /// problem (a missing folder, a file where a folder should be, a folder or device where
    /// a file should be, no permission) it is their input; a full disk or a failing device
    /// is not.
    pub fn writing(path: &Path, err: std::io::Error) -> Self {
        use std::io::ErrorKind;
        let path = path.display();
        match err.kind() {
            ErrorKind::NotFound => Error::input(format!(
                "cannot write {path}: its folder does not exist; create it or choose another path"
            )),
            ErrorKind::NotADirectory => Error::input(format!(
                "cannot write {path}: part of the path is a file, not a folder; choose another path"
            )),
            ErrorKind::IsADirectory => Error::input(format!("cannot write {path}: it is a folder; name a file")),
            ErrorKind::AlreadyExists => Error::input(format!(
                "cannot write {path}: something else is already there (a file, folder or device); choose another path"
            )),
            ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem => {
                Error::input(format!("cannot write {path}: permission denied; choose a folder you may write to"))
            }
            _ => Error::failure(format!("could not write {path}: {err}; check free disk space")),
        }
    }
}

/// At most `MAX_ECHO` characters of something the user gave, for an error message: a line
/// of a 20 MB file is shown as its start and an ellipsis, never whole.
pub fn excerpt(text: &str) -> String {
    const MAX_ECHO: usize = 80;
    match text.char_indices().nth(MAX_ECHO) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_excerpt_is_cut_at_80_characters() {
        assert_eq!(excerpt("short"), "short");
        let long = "é".repeat(20_000_000 / 2);
        let cut = excerpt(&long);
        assert_eq!(cut.chars().count(), 81);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn a_path_that_cannot_be_a_file_is_bad_input_and_a_full_disk_is_not() {
        use std::io::{Error as Io, ErrorKind};
        let path = Path::new("x/y");
        for kind in
            [ErrorKind::NotFound, ErrorKind::NotADirectory, ErrorKind::IsADirectory, ErrorKind::PermissionDenied]
        {
            assert_eq!(Error::writing(path, Io::from(kind)).exit_code(), 2, "{kind:?}");
        }
        assert_eq!(Error::writing(path, Io::from(ErrorKind::StorageFull)).exit_code(), 1);
        assert_eq!(Error::reading(path, Io::from(ErrorKind::InvalidData)).exit_code(), 2);
    }
}
