use std::process::ExitCode;

use changeaudit_backend::cli::{self, Cli};
use clap::Parser;

fn main() -> ExitCode {
    cli::run(Cli::parse())
}
