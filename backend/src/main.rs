use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use changeaudit_backend::audit_cli::{self, AuditArgs, AuditError};
use changeaudit_backend::config::Config;
use changeaudit_backend::startup;
use clap::{Args, Parser, Subcommand};
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
    /// Reseal every stored secret under a new master key, then replace the key file.
    RotateMasterKey,
    /// Check a recording against a script, offline: the commands run, the board, the score.
    Audit(AuditOptions),
}

#[derive(Args)]
struct AuditOptions {
    /// The change's script: one command per line.
    #[arg(long, value_name = "FILE")]
    script: PathBuf,
    /// The session's recording (asciicast v2).
    #[arg(long, value_name = "FILE")]
    cast: PathBuf,
    /// A program that never counts as unplanned (repeatable; default: ls pwd clear whoami id
    /// date history exit).
    #[arg(long, value_name = "CMD")]
    benign: Vec<String>,
    /// Print the report as JSON instead of a board.
    #[arg(long)]
    json: bool,
}

enum ServerTask {
    Serve,
    Migrate,
    RotateMasterKey,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Audit(options) => audit(options),
        Command::Serve => run_server(ServerTask::Serve, cli.config.as_deref()),
        Command::Migrate => run_server(ServerTask::Migrate, cli.config.as_deref()),
        Command::RotateMasterKey => run_server(ServerTask::RotateMasterKey, cli.config.as_deref()),
    }
}

/// Needs no configuration or database: it reads two files and prints.
fn audit(options: AuditOptions) -> ExitCode {
    let args = AuditArgs {
        script: options.script,
        cast: options.cast,
        benign: options.benign,
    };
    let stdout = std::io::stdout();
    let colour = stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let result = audit_cli::audit(&args)
        .and_then(|report| audit_cli::print(&report, options.json, colour, &mut stdout.lock()));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("changeaudit audit: {error}");
            match error {
                AuditError::Write(_) => ExitCode::FAILURE,
                AuditError::Read { .. } | AuditError::Invalid { .. } => ExitCode::from(2),
            }
        }
    }
}

fn run_server(task: ServerTask, config_file: Option<&Path>) -> ExitCode {
    let config = match Config::from_process(config_file) {
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
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("changeaudit: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match task {
            ServerTask::Serve => startup::serve(config).await,
            ServerTask::Migrate => startup::migrate(&config).await,
            ServerTask::RotateMasterKey => startup::rotate_master_key(&config).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("changeaudit: {error:#}");
            ExitCode::FAILURE
        }
    }
}
