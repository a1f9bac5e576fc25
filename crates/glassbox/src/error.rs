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

    /// An I/O error while reading a file the user named: a missing file is their input.
    pub fn reading(path: &Path, err: std::io::Error) -> Self {
        match err.kind() {
            std::io::ErrorKind::NotFound => Error::input(format!("{} does not exist; check the path", path.display())),
            std::io::ErrorKind::PermissionDenied => {
                Error::input(format!("{} cannot be read (permission denied); check its permissions", path.display()))
            }
            std::io::ErrorKind::IsADirectory => {
                Error::input(format!("{} is a directory, not a file; name the file inside it", path.display()))
            }
            _ => Error::failure(format!("could not read {}: {err}", path.display())),
        }
    }

    /// An I/O error while writing: not the user's fault, except for a missing parent folder.
    pub fn writing(path: &Path, err: std::io::Error) -> Self {
        Error::failure(format!("could not write {}: {err}; check free disk space and permissions", path.display()))
    }
}

/// Text from a user's file or request, cut to a length that fits in a one-sentence error
/// (a 20 MB line must not be echoed whole).
pub fn shorten(text: &str) -> String {
    const MOST_CHARS: usize = 80;
    match text.char_indices().nth(MOST_CHARS) {
        None => text.to_string(),
        Some((at, _)) => format!("{}… ({} bytes in all)", &text[..at], text.len()),
    }
}
