//! The commands that need the configuration and the database.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::Config;
use crate::startup;

pub enum ServerTask {
    Serve,
    Migrate,
    RotateMasterKey,
    RotateTrailKey,
    Export {
        output: Option<PathBuf>,
        change: Option<String>,
    },
    CopyRecordings {
        to: String,
    },
    CopyDatabase {
        to: String,
    },
}

pub fn run(task: ServerTask, config_file: Option<&Path>) -> ExitCode {
    let config = match Config::from_process(config_file) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("changeaudit: configuration: {error}");
            return ExitCode::from(2);
        }
    };
    let filter: Targets = match config.server.log.parse() {
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
            ServerTask::RotateTrailKey => startup::rotate_trail_key(&config).await,
            ServerTask::Export { output, change } => {
                startup::export(&config, output.as_deref(), change.as_deref()).await
            }
            ServerTask::CopyRecordings { to } => startup::copy_recordings(&config, &to).await,
            ServerTask::CopyDatabase { to } => startup::copy_database(&config, &to).await,
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
