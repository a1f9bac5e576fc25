//! Ctrl-C (SIGINT) and SIGTERM during long work: the first asks the work to stop at its
//! next safe point (training finishes its step and writes a checkpoint), a second one ends
//! the process at once. The work polls [`Interrupt::requested`]; nothing else runs in the
//! signal handler. Until [`Interrupt::install`] is called the signals keep their default
//! action (end the process), which is right for work that has nothing to save.

use signal_hook::consts::{SIGINT, SIGTERM};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

pub struct Interrupt {
    /// The last signal received, 0 for none.
    signal: Arc<AtomicUsize>,
}

impl Interrupt {
    /// Takes over SIGINT and SIGTERM for the rest of the process.
    pub fn install() -> std::io::Result<Interrupt> {
        let signal = Arc::new(AtomicUsize::new(0));
        let armed = Arc::new(AtomicBool::new(false));
        for sig in [SIGINT, SIGTERM] {
            // The order matters: the shutdown must be registered before the flag that arms it.
            signal_hook::flag::register_conditional_shutdown(sig, 128 + sig, Arc::clone(&armed))?;
            signal_hook::flag::register(sig, Arc::clone(&armed))?;
            signal_hook::flag::register_usize(sig, Arc::clone(&signal), sig as usize)?;
        }
        Ok(Interrupt { signal })
    }

    /// Whether a stop was asked for.
    pub fn requested(&self) -> bool {
        self.signal.load(Ordering::Relaxed) != 0
    }

    /// The signal's name, for the message: "Ctrl-C (SIGINT)" or "SIGTERM".
    pub fn name(&self) -> &'static str {
        match self.signal.load(Ordering::Relaxed) as i32 {
            SIGTERM => "SIGTERM",
            _ => "Ctrl-C (SIGINT)",
        }
    }

    /// The exit code of a process stopped by the signal, as shells report it: 128 + its
    /// number (130 for SIGINT, 143 for SIGTERM).
    pub fn exit_code(&self) -> i32 {
        128 + self.signal.load(Ordering::Relaxed) as i32
    }
}
