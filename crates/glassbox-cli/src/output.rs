//! How the command line reports failure: one sentence on stderr, exit code 2 for bad
//! input and 1 for anything else.

use std::io::Write;

pub fn exit_with(err: &glassbox::Error) -> ! {
    let _ = writeln!(std::io::stderr(), "error: {err}");
    std::process::exit(err.exit_code());
}

/// For errors that travelled through `anyhow`: the engine's own keep their exit code.
pub fn exit_with_any(err: anyhow::Error) -> ! {
    if let Some(engine) = err.downcast_ref::<glassbox::Error>() {
        exit_with(engine);
    }
    let _ = writeln!(std::io::stderr(), "error: {err:#}");
    std::process::exit(1);
}
