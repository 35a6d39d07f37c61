//! `changeaudit verify`: an export or a change's evidence bundle checked offline.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::trail::evidence::verify_bundle;
use crate::trail::key::read_public_key;
use crate::trail::verify::{RecordingSource, Recordings, verify_file};

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
        let recordings = options
            .recordings
            .clone()
            .map(|folder| Box::new(Recordings(folder)) as Box<dyn RecordingSource>);
        verify_file(export, public_key, recordings)
            .map(|summary| summary.to_string())
            .map_err(|fault| format!("FAILED at {fault}"))
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
