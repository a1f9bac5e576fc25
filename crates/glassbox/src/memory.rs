//! Memory checks before big allocations. A size that comes from a user (a config.json
//! claiming 10⁷ layers, `--batch 1e8`, a damaged training state) must end in a sentence,
//! not in "memory allocation of N bytes failed" and SIGABRT. Every place that allocates in
//! proportion to such a number first asks [`check_fits`].

use crate::error::{Error, Result};

/// Bytes this process may still allocate: `MemAvailable` from /proc/meminfo, or, where that
/// cannot be read, no limit (the allocation itself will then be the judge).
pub fn available_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib.saturating_mul(1024))
}

/// Fails with a sentence when `bytes` for `what` exceed the memory this machine has free.
pub fn check_fits(bytes: u64, what: &str) -> Result<()> {
    if let Some(available) = available_bytes() {
        if bytes > available {
            return Err(Error::input(format!(
                "{what} would need {} of memory but this machine has {} free; choose smaller sizes",
                human_bytes(bytes),
                human_bytes(available)
            )));
        }
    }
    Ok(())
}

/// "124.4 million", "3.2 billion": counts for sentences.
pub fn count_words(count: u128) -> String {
    match count {
        n if n >= 1_000_000_000 => format!("{:.1} billion", n as f64 / 1e9),
        n if n >= 1_000_000 => format!("{:.1} million", n as f64 / 1e6),
        n => n.to_string(),
    }
}

/// "1.4 GB", "640 KB": sizes for sentences.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["bytes", "KB", "MB", "GB", "TB", "PB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human_bytes(512), "512 bytes");
        assert_eq!(human_bytes(1_400_000_000), "1.4 GB");
        assert_eq!(human_bytes(u64::MAX), "18446.7 PB");
    }

    #[test]
    fn more_than_the_machine_has_is_refused_with_a_sentence() {
        if available_bytes().is_none() {
            eprintln!("skipping: /proc/meminfo is not readable here");
            return;
        }
        let err = check_fits(u64::MAX, "a test buffer").unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("a test buffer would need"), "{err}");
        assert!(check_fits(1024, "a small buffer").is_ok());
    }
}
