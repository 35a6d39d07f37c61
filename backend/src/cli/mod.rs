//! The command line: `main` parses it and hands it here. Serving, migrating, rotating the master
//! key, exporting and copying recordings need the configuration (`server`); auditing a recording
//! and verifying an export or a bundle need neither (`audit`, `verify`).

pub mod audit;
mod server;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use audit::AuditOptions;
use server::ServerTask;
use verify::VerifyOptions;

/// Controlled, audited privileged changes.
#[derive(Parser)]
#[command(name = "changeaudit", version)]
pub struct Cli {
    /// A TOML configuration file (also CHANGEAUDIT_CONFIG); CHANGEAUDIT_* variables override it.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Serve the API and the web app (migrates the database and creates the first admin).
    Serve,
    /// Bring the database schema up to date, then exit.
    Migrate,
    /// Reseal every stored secret under a new master key, then replace the key file.
    RotateMasterKey,
    /// Replace the trail's signing key: the new key is announced in the trail and signed in by
    /// the old one, then replaces the key file (stop the replicas first).
    RotateTrailKey,
    /// Check a recording against a script, offline: the commands run, the board, the score.
    Audit(AuditOptions),
    /// Write the whole audit trail with its signed checkpoints as JSON lines.
    Export(ExportOptions),
    /// Verify an export offline: the chain, every checkpoint's root and signature, the
    /// recordings when given, and every approval's passkey signature.
    Verify(VerifyOptions),
    /// Copy every recording into another store (such as `s3://bucket/prefix`), each checked by
    /// its SHA-256; a stopped copy is resumed, a target holding anything else refused.
    CopyRecordings(CopyRecordingsOptions),
    /// Copy every table of the configured database into another (such as PostgreSQL), the
    /// trail with its chain and checkpoints intact; a stopped copy is resumed, a database
    /// holding anything else refused. Stop every replica first.
    CopyDatabase(CopyDatabaseOptions),
}

#[derive(Args)]
pub struct CopyDatabaseOptions {
    /// Where to: `postgres://USER:PASSWORD@HOST:PORT/DB` or `sqlite://PATH`.
    #[arg(long, value_name = "URL")]
    pub to: String,
}

#[derive(Args)]
pub struct CopyRecordingsOptions {
    /// Where to: `s3://bucket/prefix` (its settings from `CHANGEAUDIT_S3_*` and `AWS_*`),
    /// `file:///folder` or a folder.
    #[arg(long, value_name = "URL")]
    pub to: String,
}

#[derive(Args)]
pub struct ExportOptions {
    /// Where to write (standard output when absent).
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Only this change's evidence bundle: its events with inclusion proofs, recordings and
    /// boards, which `verify --bundle` checks alone.
    #[arg(long, value_name = "ID")]
    pub change: Option<String>,
}

/// Runs one command line to its exit status.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Audit(options) => audit::run(options),
        Command::Serve => server::run(ServerTask::Serve, cli.config.as_deref()),
        Command::Migrate => server::run(ServerTask::Migrate, cli.config.as_deref()),
        Command::RotateMasterKey => server::run(ServerTask::RotateMasterKey, cli.config.as_deref()),
        Command::RotateTrailKey => server::run(ServerTask::RotateTrailKey, cli.config.as_deref()),
        Command::Export(options) => server::run(
            ServerTask::Export {
                output: options.output,
                change: options.change,
            },
            cli.config.as_deref(),
        ),
        Command::Verify(options) => verify::run(&options),
        Command::CopyRecordings(options) => server::run(
            ServerTask::CopyRecordings { to: options.to },
            cli.config.as_deref(),
        ),
        Command::CopyDatabase(options) => server::run(
            ServerTask::CopyDatabase { to: options.to },
            cli.config.as_deref(),
        ),
    }
}
