//! The corpus `glassbox demo meaning` trains on, carried inside the binary: the complete
//! plays and poems of Shakespeare (Project Gutenberg's modern-spelling text, without its
//! header and licence, which public-domain text does not need; see `corpus/README.md`).
//!
//! Stored gzip-compressed (5,057,198 bytes → 1,985,476) and embedded with `include_bytes!`,
//! so the demo works from a fresh clone, an installed binary or any folder, with nothing to
//! download; it is unpacked (about 30 ms) and written beside the run, where `train
//! --resume`, `tokenize --file` and a curious reader can open it.

use flate2::read::GzDecoder;
use glassbox::Error;
use std::io::Read;
use std::path::Path;

/// The file name the corpus is written under.
pub const FILE_NAME: &str = "shakespeare-complete.txt";

/// Bytes of the unpacked text.
pub const TEXT_BYTES: usize = 5_057_198;

const COMPRESSED: &[u8] = include_bytes!("../corpus/shakespeare-complete.txt.gz");

/// The unpacked text.
pub fn text() -> Result<String, Error> {
    let mut bytes = Vec::with_capacity(TEXT_BYTES);
    GzDecoder::new(COMPRESSED).read_to_end(&mut bytes).map_err(|e| {
        Error::failure(format!("the corpus built into this binary does not unpack ({e}); rebuild glassbox"))
    })?;
    String::from_utf8(bytes)
        .map_err(|_| Error::failure("the corpus built into this binary is not UTF-8; rebuild glassbox"))
}

/// Writes the corpus to `path` unless it is already there, byte for byte. A different file
/// of that name is never overwritten: it could be the user's.
pub fn write_to(path: &Path) -> Result<(), Error> {
    let text = text()?;
    match std::fs::read(path) {
        Ok(existing) if existing == text.as_bytes() => return Ok(()),
        Ok(_) => {
            return Err(Error::input(format!(
                "{} exists but is not the demo's Shakespeare corpus; move it away, or pass --out DIR to train in \
                 another folder",
                path.display()
            )))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::reading(path, e)),
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| Error::input(format!("cannot create the folder {}: {e}", parent.display())))?;
    }
    glassbox::io::write_atomic(path, |w| w.write_all(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_corpus_unpacks_to_the_stated_text() {
        let text = text().unwrap();
        assert_eq!(text.len(), TEXT_BYTES);
        assert!(text.starts_with("ALL'S WELL THAT ENDS WELL"));
        assert!(text.contains("To be, or not to be,--that is the question"));
    }
}
