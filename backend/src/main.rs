use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use changeaudit_backend::audit_cli::{self, AuditArgs, AuditError};
use changeaudit_backend::config::Config;
use changeaudit_backend::startup;
use changeaudit_backend::trail::evidence::verify_bundle;
use changeaudit_backend::trail::key::read_public_key;
use changeaudit_backend::trail::verify::{RecordingSource, Recordings, verify_file};
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
    /// Write the whole audit trail with its signed checkpoints as JSON lines.
    Export(ExportOptions),
    /// Verify an export offline: the chain, every checkpoint's root and signature, the
    /// recordings when given, and every approval's passkey signature.
    Verify(VerifyOptions),
}

#[derive(Args)]
struct ExportOptions {
    /// Where to write (standard output when absent).
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Only this change's evidence bundle: its events with inclusion proofs, recordings and
    /// boards, which `verify --bundle` checks alone.
    #[arg(long, value_name = "ID")]
    change: Option<String>,
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["export", "bundle"])))]
struct VerifyOptions {
    /// The export to verify (from `changeaudit export` or the web app's download).
    #[arg(long, value_name = "FILE")]
    export: Option<PathBuf>,
    /// A change's evidence bundle to verify (from `changeaudit export --change`).
    #[arg(long, value_name = "FILE")]
    bundle: Option<PathBuf>,
    /// The trail's public key: 64 hex digits, as in `trail.key.pub` or Admin → Audit trail.
    #[arg(long, value_name = "FILE")]
    public_key: PathBuf,
    /// A folder holding the session recordings, to check each against its sealed digest.
    #[arg(long, value_name = "DIR")]
    recordings: Option<PathBuf>,
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
    Export {
        output: Option<PathBuf>,
        change: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Audit(options) => audit(options),
        Command::Serve => run_server(ServerTask::Serve, cli.config.as_deref()),
        Command::Migrate => run_server(ServerTask::Migrate, cli.config.as_deref()),
        Command::RotateMasterKey => run_server(ServerTask::RotateMasterKey, cli.config.as_deref()),
        Command::Export(options) => run_server(
            ServerTask::Export {
                output: options.output,
                change: options.change,
            },
            cli.config.as_deref(),
        ),
        Command::Verify(options) => verify(&options),
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

/// Needs no configuration or database: the export, the public key and the recordings are all.
/// Exits 0 when everything holds, 1 naming the first fault, 2 when the inputs are unusable.
fn verify(options: &VerifyOptions) -> ExitCode {
    let public_key = match read_public_key(&options.public_key) {
        Ok(key) => key,
        Err(error) => {
            eprintln!("changeaudit verify: {error}");
            return ExitCode::from(2);
        }
    };
    if let Some(bundle) = &options.bundle {
        let result = std::fs::File::open(bundle)
            .map_err(|error| format!("{}: {error}", bundle.display()))
            .and_then(|file| {
                verify_bundle(std::io::BufReader::new(file), &public_key)
                    .map_err(|fault| format!("FAILED at {fault}"))
            });
        return match result {
            Ok(summary) => {
                let mut out = std::io::stdout().lock();
                if writeln!(out, "verified: {summary}").is_err() {
                    return ExitCode::FAILURE;
                }
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("changeaudit verify: {error}");
                ExitCode::FAILURE
            }
        };
    }
    let Some(export) = &options.export else {
        eprintln!("changeaudit verify: give --export or --bundle");
        return ExitCode::from(2);
    };
    let recordings = options
        .recordings
        .clone()
        .map(|folder| Box::new(Recordings(folder)) as Box<dyn RecordingSource>);
    match verify_file(export, public_key, recordings) {
        Ok(summary) => {
            let mut out = std::io::stdout().lock();
            if writeln!(out, "verified: {summary}").is_err() {
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(fault) => {
            eprintln!("changeaudit verify: FAILED at {fault}");
            ExitCode::FAILURE
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
            ServerTask::Export { output, change } => {
                startup::export(&config, output.as_deref(), change.as_deref()).await
            }
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
