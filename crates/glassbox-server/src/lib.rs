//! glassbox serve (issue 6): not built yet.
