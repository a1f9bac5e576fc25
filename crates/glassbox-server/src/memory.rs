//! Handing freed memory back to the system. glibc's allocator keeps what a burst of
//! requests freed in its arenas (one per thread that allocated), so the server's resident
//! memory would stay at its peak. Measured here, 16 concurrent walkthroughs left 36 MB
//! resident of which 2.7 MB was in use, mostly at the top of per-thread arenas, which
//! `malloc_trim` does not shrink; and glibc raises its mmap threshold after each large
//! free, so that large buffers stop being returned at all. So the server:
//!
//! - fixes the mmap threshold at [`MMAP_THRESHOLD`] (large buffers — activations, answers —
//!   are mapped and unmapped, not kept in an arena), and the trim threshold at
//!   [`TRIM_THRESHOLD`] (a free top of an arena larger than that is returned on `free`);
//! - calls `malloc_trim` once work has ended and the server stayed quiet for a moment;
//! - lets idle blocking threads (and their buffers) end after [`THREAD_KEEP_ALIVE`].
//!
//! Elsewhere (other allocators, other systems) the tuning and trimming do nothing.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How long an idle blocking thread waits for work before it ends.
pub const THREAD_KEEP_ALIVE: Duration = Duration::from_secs(2);
/// How often the trimmer looks whether work ended since it last trimmed.
const TRIM_EVERY: Duration = Duration::from_millis(500);

/// Allocations from this size up get their own mapping, returned to the system when freed.
pub const MMAP_THRESHOLD: usize = 256 << 10;
/// Free memory at the top of an arena beyond this is returned to the system.
pub const TRIM_THRESHOLD: usize = 512 << 10;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
extern "C" {
    fn malloc_trim(pad: usize) -> std::ffi::c_int;
    fn mallopt(param: std::ffi::c_int, value: std::ffi::c_int) -> std::ffi::c_int;
}

/// Sets glibc's thresholds for a long-running server (see the module's comment).
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const M_TRIM_THRESHOLD: std::ffi::c_int = -1;
        const M_MMAP_THRESHOLD: std::ffi::c_int = -3;
        // SAFETY: mallopt only changes the allocator's parameters, under its own lock.
        unsafe {
            mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD as std::ffi::c_int);
            mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD as std::ffi::c_int);
        }
    }
}

/// Returns free heap pages to the system (glibc on Linux only).
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim takes the allocator's own locks and only releases free pages;
        // it has no preconditions.
        unsafe {
            malloc_trim(0);
        }
    }
}

/// Counts finished work; the trimmer trims after it changed and then stayed still.
#[derive(Clone, Default)]
pub struct Trimmer {
    finished: Arc<AtomicU64>,
}

impl Trimmer {
    /// Notes that a computation or generation ended.
    pub fn work_ended(&self) {
        self.finished.fetch_add(1, Ordering::SeqCst);
    }

    /// Runs until the runtime stops: trims once the count has been still for one period.
    pub async fn run(self) {
        let mut trimmed_at = self.finished.load(Ordering::SeqCst);
        let mut last_seen = trimmed_at;
        loop {
            tokio::time::sleep(TRIM_EVERY).await;
            let now = self.finished.load(Ordering::SeqCst);
            if now != trimmed_at && now == last_seen {
                trimmed_at = now;
                let _ = tokio::task::spawn_blocking(release_free_memory).await;
            }
            last_seen = now;
        }
    }
}
