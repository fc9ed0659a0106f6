//! The `imagefs` binary: parse arguments, set up logging, run, and map the outcome to an exit
//! code (0 success, 1 error, 2 usage error from clap).

use std::process::ExitCode;

use clap::Parser;

use imagefs::cli::{self, Cli};
use imagefs::logger;

fn main() -> ExitCode {
    let cli = Cli::parse_from(cli::args_from_mount_helper(std::env::args_os().collect()));
    logger::init(cli.verbose, cli.quiet);
    match cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A closed pipe (`imagefs ls | head`) is the reader's choice, not an error to report.
            if e.is_broken_pipe() {
                return ExitCode::SUCCESS;
            }
            eprintln!("imagefs: error: {}", imagefs::error::chain(&e));
            ExitCode::FAILURE
        }
    }
}
