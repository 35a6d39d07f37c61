use std::path::PathBuf;
use std::process::ExitCode;

use changeaudit_backend::config::Config;
use changeaudit_backend::startup;
use clap::{Parser, Subcommand};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Controlled, audited privileged changes.
#[derive(Parser)]
#[command(name = "changeaudit", version)]
struct Cli {
    /// A TOML configuration file (also CHANGEAUDIT_CONFIG); CHANGEAUDIT_* variables override it.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API and the web app (migrates the database and creates the first admin).
    Serve,
    /// Bring the database schema up to date, then exit.
    Migrate,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::from_process(cli.config.as_deref()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("changeaudit: configuration: {error}");
            return ExitCode::from(2);
        }
    };
    let filter: Targets = match config.log.parse() {
        Ok(filter) => filter,
        Err(error) => {
            eprintln!("changeaudit: CHANGEAUDIT_LOG: {error}");
            return ExitCode::from(2);
        }
    };
    let logging = tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .with(filter);
    if let Err(error) = logging.try_init() {
        eprintln!("changeaudit: logging: {error}");
    }

    let result = match cli.command {
        Command::Serve => startup::serve(config).await,
        Command::Migrate => startup::migrate(&config).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("changeaudit: {error:#}");
            ExitCode::FAILURE
        }
    }
}
