//! `changeaudit verify`: an export or a change's evidence bundle checked offline.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use changeaudit_shared::export::Checkpoint;
use changeaudit_shared::verify::verify_bundle;

use crate::config::Config;
use crate::recordings;
use crate::trail::key::read_public_key;
use crate::trail::verify::{Anchors, verify_file};

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
    /// Where the session recordings are, to check each against its sealed digest: a folder, or
    /// `file:///folder`, or `s3://bucket/prefix` (its endpoint, region and keys from
    /// `CHANGEAUDIT_S3_*` and the usual `AWS_*` variables).
    #[arg(long, value_name = "DIR|URL")]
    pub recordings: Option<String>,
    /// A checkpoint kept apart from the server (downloaded from Admin → Audit trail, or taken
    /// from the SIEM): the export must continue it, so a history rewritten and signed again
    /// since is caught.
    #[arg(long, value_name = "FILE", requires = "export")]
    pub trusted_checkpoint: Option<PathBuf>,
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
        let trusted = match options
            .trusted_checkpoint
            .as_deref()
            .map(read_checkpoint)
            .transpose()
        {
            Ok(trusted) => trusted,
            Err(error) => {
                eprintln!("changeaudit verify: {error}");
                return ExitCode::from(2);
            }
        };
        let anchors = Anchors {
            first_key: public_key,
            trusted,
        };
        verify_export(export, anchors, options.recordings.clone())
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

/// A checkpoint file: the checkpoint as JSON, alone or as a line of an export.
fn read_checkpoint(path: &Path) -> Result<Checkpoint, String> {
    let text =
        std::fs::read_to_string(path).map_err(|error| format!("{}: {error}", path.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|error| format!("{}: not JSON: {error}", path.display()))?;
    let inner = value.get("checkpoint").cloned().unwrap_or(value);
    let checkpoint: Checkpoint = serde_json::from_value(inner)
        .map_err(|error| format!("{}: not a trail checkpoint: {error}", path.display()))?;
    if checkpoint.tree_size == 0 {
        return Err(format!(
            "{}: a checkpoint of no events anchors nothing",
            path.display()
        ));
    }
    Ok(checkpoint)
}

/// The export verified, with the recordings `folder` names when given.
fn verify_export(
    export: &Path,
    anchors: Anchors,
    folder: Option<String>,
) -> Result<String, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the async runtime: {error}"))?;
    let env: HashMap<String, String> = std::env::vars().collect();
    let at = folder
        .map(|text| Config::recordings_at(&text, &env))
        .transpose()
        .map_err(|error| format!("the recordings: {error}"))?;
    let store = at
        .as_ref()
        .map(recordings::open)
        .transpose()
        .map_err(|error| format!("the recordings: {error}"))?;
    runtime
        .block_on(verify_file(export, anchors, store.as_deref()))
        .map(|summary| summary.to_string())
        .map_err(|fault| format!("FAILED at {fault}"))
}
