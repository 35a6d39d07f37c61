//! `changeaudit verify`: an export or a change's evidence bundle checked offline.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use changeaudit_shared::verify::verify_bundle;
use ed25519_dalek::VerifyingKey;

use crate::recordings::{LocalFolder, RecordingStore};
use crate::trail::key::read_public_key;
use crate::trail::verify::verify_file;

#[derive(Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["export", "bundle"])))]
pub struct VerifyOptions {
    /// The export to verify (from `changeaudit export` or the web app's download).
    #[arg(long, value_name = "FILE")]
    pub export: Option<PathBuf>,
    /// A change's evidence bundle to verify (from `changeaudit export --change`).
    #[arg(long, value_name = "FILE")]
    pub bundle: Option<PathBuf>,
    /// The trail's public key: 64 hex digits, as in `trail.key.pub` or Admin → Audit trail.
    #[arg(long, value_name = "FILE")]
    pub public_key: PathBuf,
    /// A folder holding the session recordings, to check each against its sealed digest.
    #[arg(long, value_name = "DIR")]
    pub recordings: Option<PathBuf>,
}

/// Needs no configuration or database: the export, the public key and the recordings are all.
/// Exits 0 when everything holds, 1 naming the first fault, 2 when the inputs are unusable.
pub fn run(options: &VerifyOptions) -> ExitCode {
    let public_key = match read_public_key(&options.public_key) {
        Ok(key) => key,
        Err(error) => {
            eprintln!("changeaudit verify: {error}");
            return ExitCode::from(2);
        }
    };
    let outcome = if let Some(bundle) = &options.bundle {
        std::fs::File::open(bundle)
            .map_err(|error| format!("{}: {error}", bundle.display()))
            .and_then(|file| {
                verify_bundle(std::io::BufReader::new(file), &public_key)
                    .map(|summary| summary.to_string())
                    .map_err(|fault| format!("FAILED at {fault}"))
            })
    } else if let Some(export) = &options.export {
        verify_export(export, public_key, options.recordings.clone())
    } else {
        eprintln!("changeaudit verify: give --export or --bundle");
        return ExitCode::from(2);
    };
    match outcome {
        Ok(summary) => match writeln!(std::io::stdout().lock(), "verified: {summary}") {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::FAILURE,
        },
        Err(error) => {
            eprintln!("changeaudit verify: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The export verified, with the recordings of `folder` when given.
fn verify_export(
    export: &Path,
    public_key: VerifyingKey,
    folder: Option<PathBuf>,
) -> Result<String, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the async runtime: {error}"))?;
    let store = folder.map(LocalFolder::new);
    let store = store.as_ref().map(|store| store as &dyn RecordingStore);
    runtime
        .block_on(verify_file(export, public_key, store))
        .map(|summary| summary.to_string())
        .map_err(|fault| format!("FAILED at {fault}"))
}
