//! How an error is shown: the one-line form every message and log line uses, the error and then
//! each of its causes (`cannot import x.tar: index.json: JSON nested deeper than 64 levels`).
//! The error types themselves live with the layer that raises them (`StoreError`,
//! `ImageError`, `ExportError`, `ImportError`, `FsError`, `CliError`, …).

use std::error::Error;

/// `error: cause: cause`: an error and its sources on one line.
pub fn chain(e: &dyn Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
