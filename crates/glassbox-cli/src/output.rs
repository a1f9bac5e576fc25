//! Where the command line writes: standard output for results, standard error for one
//! sentence when something fails.
//!
//! Every command prints through `say!` / `say_part!` (or, for large outputs, a buffered
//! writer whose result goes through `written`). When standard output cannot be written:
//! - the reader went away (`glassbox train … | head -1`): the process ends quietly with
//!   exit code 0, as a Unix tool killed by SIGPIPE would, with no message;
//! - any other error (`> /dev/full`): one sentence on stderr and exit code 1.
//!
//! `main` flushes at the end through `finish`, so a write error in the last, buffered
//! bytes is reported too. Failures of the command itself exit 2 for bad input, 1 otherwise.

use std::io::Write;

/// `println!` for every command: one line on stdout, or the process ends as described above.
macro_rules! say {
    () => {
        $crate::output::line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::output::line(format_args!($($arg)*))
    };
}
pub(crate) use say;

/// `print!` + flush: a piece of a line that the reader should see now (streamed tokens).
macro_rules! say_part {
    ($($arg:tt)*) => {
        $crate::output::part(format_args!($($arg)*))
    };
}
pub(crate) use say_part;

/// Writes one line to stdout.
pub fn line(args: std::fmt::Arguments) {
    let mut out = std::io::stdout().lock();
    written(out.write_fmt(args).and_then(|_| out.write_all(b"\n")));
}

/// Writes text without a newline and flushes it.
pub fn part(args: std::fmt::Arguments) {
    let mut out = std::io::stdout().lock();
    written(out.write_fmt(args).and_then(|_| out.flush()));
}

/// The value of a write to stdout; if it failed, the process ends (quietly for a closed
/// pipe, with a sentence and exit code 1 otherwise).
pub fn written<T>(result: std::io::Result<T>) -> T {
    match result {
        Ok(value) => value,
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(err) => {
            let _ = writeln!(
                std::io::stderr(),
                "error: could not write the output ({err}); check free disk space where standard output goes"
            );
            std::process::exit(1);
        }
    }
}

/// Flushes what is still buffered on stdout; called once, when a command has succeeded.
pub fn finish() {
    written(std::io::stdout().flush());
}

pub fn exit_with(err: &glassbox::Error) -> ! {
    let _ = std::io::stdout().flush();
    let _ = writeln!(std::io::stderr(), "error: {err}");
    std::process::exit(err.exit_code());
}

/// For errors that travelled through `anyhow`: the engine's own keep their exit code.
pub fn exit_with_any(err: anyhow::Error) -> ! {
    if let Some(engine) = err.downcast_ref::<glassbox::Error>() {
        exit_with(engine);
    }
    let _ = std::io::stdout().flush();
    let _ = writeln!(std::io::stderr(), "error: {err:#}");
    std::process::exit(1);
}
