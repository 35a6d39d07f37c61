//! `changeaudit audit`: a recording checked against a script, offline, with no server or
//! database: the commands recognised, the board, the score and the verdict.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use changeaudit_shared::asciicast::{Cast, EventData};
use changeaudit_shared::board::{BenignCommands, Status};
use changeaudit_shared::command::HeldCommand;
use changeaudit_shared::enforcement::Held;
use changeaudit_shared::line_error::LineError;
use changeaudit_shared::recognizer::CommandRecognizer;
use changeaudit_shared::report::{AuditReport, verdict_label};
use changeaudit_shared::script::Script;

use clap::Args;

#[derive(Args)]
pub struct AuditOptions {
    /// The change's script: one command per line.
    #[arg(long, value_name = "FILE")]
    pub script: PathBuf,
    /// The session's recording (asciicast v2).
    #[arg(long, value_name = "FILE")]
    pub cast: PathBuf,
    /// A program that never counts as unplanned (repeatable; default: ls pwd clear whoami id
    /// date history exit).
    #[arg(long, value_name = "CMD")]
    pub benign: Vec<String>,
    /// Print the report as JSON instead of a board.
    #[arg(long)]
    pub json: bool,
}

pub struct AuditArgs {
    pub script: PathBuf,
    pub cast: PathBuf,
    /// Programs that never count as unplanned; the default list when empty.
    pub benign: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {error}", path.display())]
    Invalid { path: PathBuf, error: LineError },
    #[error("writing the report: {0}")]
    Write(#[from] std::io::Error),
}

/// Needs no configuration or database: it reads two files and prints.
pub fn run(options: AuditOptions) -> ExitCode {
    let args = AuditArgs {
        script: options.script,
        cast: options.cast,
        benign: options.benign,
    };
    let stdout = std::io::stdout();
    let colour = stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let result =
        audit(&args).and_then(|report| print(&report, options.json, colour, &mut stdout.lock()));
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

fn read(path: &Path) -> Result<String, AuditError> {
    std::fs::read_to_string(path).map_err(|source| AuditError::Read {
        path: path.to_owned(),
        source,
    })
}

pub fn audit(args: &AuditArgs) -> Result<AuditReport, AuditError> {
    let script = Script::parse(&read(&args.script)?).map_err(|error| AuditError::Invalid {
        path: args.script.clone(),
        error,
    })?;
    let cast = Cast::parse(&read(&args.cast)?).map_err(|error| AuditError::Invalid {
        path: args.cast.clone(),
        error,
    })?;
    // A recording made by the broker keeps the nonce its session's shell was handed.
    let nonce = cast.header.env.get("CHANGEAUDIT_NONCE").cloned();
    let mut recognizer =
        CommandRecognizer::with_nonce(cast.header.width, cast.header.height, nonce);
    for event in &cast.events {
        recognizer.feed(event);
    }
    let benign = if args.benign.is_empty() {
        BenignCommands::default()
    } else {
        BenignCommands::new(args.benign.iter().cloned())
    };
    recognizer.finish();
    let report = AuditReport::new(
        &script,
        recognizer.commands().to_vec(),
        &benign,
        recognizer.findings().to_vec(),
    );
    Ok(report.with_held(&held_in(&cast)))
}

/// The lines the broker held, from the markers it recorded at each (`{"held":…,"line":…}`).
fn held_in(cast: &Cast) -> Vec<HeldCommand> {
    cast.events
        .iter()
        .filter_map(|event| {
            let EventData::Marker(text) = &event.data else {
                return None;
            };
            let marker: HeldMarker = serde_json::from_str(text).ok()?;
            Some(HeldCommand {
                text: marker.line,
                offset: marker.at.unwrap_or(event.time),
                reason: marker.held.words(),
            })
        })
        .collect()
}

#[derive(serde::Deserialize)]
struct HeldMarker {
    held: Held,
    line: String,
    /// When the trail says it was held; the marker's own time in recordings made before.
    at: Option<f64>,
}

/// Prints the report: JSON, or a board for people, coloured when `colour` is set.
pub fn print(
    report: &AuditReport,
    json: bool,
    colour: bool,
    out: &mut impl Write,
) -> Result<(), AuditError> {
    if json {
        serde_json::to_writer_pretty(&mut *out, report).map_err(std::io::Error::from)?;
        writeln!(out)?;
        return Ok(());
    }
    let paint = |status: Status, text: &str| -> String {
        let code = match status {
            Status::Missing => "31",
            Status::Unplanned => "32",
            Status::OutOfOrder | Status::Failed => "33",
            Status::Benign => "2",
            Status::Held => "35",
            Status::Matched => "",
        };
        if colour && !code.is_empty() {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    };
    writeln!(
        out,
        "{:>5}  {:<13} {:>8}  command",
        "line", "status", "time"
    )?;
    for line in &report.board {
        let label = match line.status {
            Status::Matched => "  matched",
            Status::OutOfOrder => "~ out of order",
            Status::Failed => "! failed",
            Status::Missing => "- missing",
            Status::Unplanned => "+ unplanned",
            Status::Benign => "  benign",
            Status::Held => "× held",
        };
        let script_line = line.script_line.map_or_else(String::new, |n| n.to_string());
        let time = line.offset.map_or_else(String::new, |t| format!("{t:.1}s"));
        let exit = match (&line.reason, line.exit_code) {
            (Some(reason), _) => format!("  ({reason})"),
            (None, Some(code)) if code != 0 => format!("  (exit {code})"),
            _ => String::new(),
        };
        let command = line
            .command
            .replace('\n', "\n                               ");
        let text = format!("{script_line:>5}  {label:<13} {time:>8}  {command}{exit}");
        writeln!(out, "{}", paint(line.status, &text))?;
    }
    writeln!(out)?;
    for finding in &report.findings {
        let text = format!(
            "finding: {} at {:.1}s: {} ({})",
            finding.kind.as_str().replace('_', " "),
            finding.offset,
            finding.mark,
            finding.detail
        );
        writeln!(out, "{}", paint(Status::Failed, &text))?;
    }
    writeln!(
        out,
        "score {} · {}",
        report.score,
        verdict_label(&report.verdict)
    )?;
    Ok(())
}
