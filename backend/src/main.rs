use std::process::ExitCode;

use changeaudit_backend::cli::{self, Cli};
use clap::Parser;

fn main() -> ExitCode {
    changeaudit_backend::allocator::settle();
    cli::run(Cli::parse())
}
