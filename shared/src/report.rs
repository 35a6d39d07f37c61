//! The audit of one session against its script, in the stable shape `changeaudit audit --json`
//! prints and the browser shows:
//! `{"commands":[{"command","offset","exit_code","source"}],
//!   "board":[{"status","script_line","command","offset","exit_code","reason"?}],"score","verdict",
//!   "findings":[{"kind","offset","mark","detail"}]}`.
//! Held lines (`"status":"held"`, with their `reason`) stand on the board where they were
//! entered; they never ran, so they count in neither the score nor the verdict.

use serde::{Deserialize, Serialize};

use crate::board::{BenignCommands, Board, Outcome, Status, Verdict};
use crate::command::{ExecutedCommand, Finding, HeldCommand};
use crate::script::Script;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditReport {
    /// Every command recognised, in the order run.
    pub commands: Vec<ExecutedCommand>,
    /// The board, in session order.
    pub board: Vec<BoardLine>,
    pub score: u8,
    /// `correct`, `more_than_necessary`, `incomplete` or `not_executed`, with
    /// `_with_failures` added when a planned command exited non-zero, then `_with_findings`
    /// when the session has findings (never with `correct`).
    pub verdict: String,
    /// Marks in the output that the input does not bear out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Finding>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoardLine {
    pub status: Status,
    /// The script line the entry stands for (from 1); `null` for commands not in the script.
    pub script_line: Option<usize>,
    /// The command as executed, or as the script has it when it was not executed.
    pub command: String,
    /// When it ran, in seconds from the start; `null` when it did not run.
    pub offset: Option<f64>,
    pub exit_code: Option<i32>,
    /// Why a held line was held; none for the others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl AuditReport {
    /// The report of a session that ran `commands` and whose output held `findings`, which
    /// count in its verdict.
    pub fn new(
        script: &Script,
        commands: Vec<ExecutedCommand>,
        benign: &BenignCommands,
        findings: Vec<Finding>,
    ) -> Self {
        let board = Board::build(script, &commands, benign);
        let lines = board
            .entries
            .iter()
            .map(|entry| {
                let executed = entry.executed_index.and_then(|j| commands.get(j));
                let planned = entry.script_index.and_then(|i| script.commands.get(i));
                BoardLine {
                    status: entry.status,
                    script_line: planned.map(|command| command.line),
                    command: executed
                        .map(|command| command.text.clone())
                        .or_else(|| planned.map(|command| command.text.clone()))
                        .unwrap_or_default(),
                    offset: executed.map(|command| command.offset),
                    exit_code: executed.and_then(|command| command.exit_code),
                    reason: None,
                }
            })
            .collect();
        AuditReport {
            commands,
            board: lines,
            score: board.score,
            verdict: verdict_code(board.verdict.with_findings(findings.len())),
            findings,
        }
    }
}

impl AuditReport {
    /// The report with `held` (in the order entered) on its board, each before the first
    /// line entered after it; score and verdict stay those of what ran.
    pub fn with_held(mut self, held: &[HeldCommand]) -> Self {
        if held.is_empty() {
            return self;
        }
        let mut held = held.iter().peekable();
        let mut board = Vec::with_capacity(self.board.len() + held.len());
        for line in self.board {
            if let Some(offset) = line.offset {
                while let Some(entered) = held.next_if(|entered| entered.offset <= offset) {
                    board.push(BoardLine::held(entered));
                }
            }
            board.push(line);
        }
        board.extend(held.map(BoardLine::held));
        self.board = board;
        self
    }

    /// The lines on the board that were held, in order.
    pub fn held(&self) -> impl Iterator<Item = &BoardLine> {
        self.board.iter().filter(|line| line.status == Status::Held)
    }
}

impl BoardLine {
    fn held(entered: &HeldCommand) -> BoardLine {
        BoardLine {
            status: Status::Held,
            script_line: None,
            command: entered.text.clone(),
            offset: Some(entered.offset),
            exit_code: None,
            reason: Some(entered.reason.clone()),
        }
    }
}

/// A verdict code in words: `incomplete_with_failures` → `Incomplete, with failures`.
pub fn verdict_label(code: &str) -> String {
    let (code, findings) = match code.strip_suffix("_with_findings") {
        Some(outcome) => (outcome, true),
        None => (code, false),
    };
    let (outcome, failures) = match code.strip_suffix("_with_failures") {
        Some(outcome) => (outcome, true),
        None => (code, false),
    };
    let mut label = match outcome {
        "correct" => "Correct",
        "more_than_necessary" => "More than necessary",
        "incomplete" => "Incomplete",
        "not_executed" => "Not executed",
        "unplanned" => "Unplanned",
        other => other,
    }
    .to_owned();
    if failures {
        label.push_str(", with failures");
    }
    if findings {
        label.push_str(", with findings");
    }
    label
}

pub fn verdict_code(verdict: Verdict) -> String {
    let outcome = match verdict.outcome {
        Outcome::Correct => "correct",
        Outcome::MoreThanNecessary => "more_than_necessary",
        Outcome::Incomplete => "incomplete",
        Outcome::NotExecuted => "not_executed",
    };
    let failures = if verdict.with_failures {
        "_with_failures"
    } else {
        ""
    };
    let findings = if verdict.with_findings {
        "_with_findings"
    } else {
        ""
    };
    format!("{outcome}{failures}{findings}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::Recognition;

    #[test]
    fn reports_in_the_documented_shape() {
        let script = Script::parse("# prepare\nsystemctl stop app\ncp a b\n").unwrap();
        let commands = vec![
            ExecutedCommand {
                text: "systemctl stop app".into(),
                offset: 1.5,
                exit_code: Some(3),
                source: Recognition::ShellIntegration,
            },
            ExecutedCommand {
                text: "rm x".into(),
                offset: 2.0,
                exit_code: None,
                source: Recognition::Screen,
            },
        ];
        let report = AuditReport::new(&script, commands, &BenignCommands::default(), Vec::new());
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "commands": [
                    {"command": "systemctl stop app", "offset": 1.5, "exit_code": 3, "source": "shell_integration"},
                    {"command": "rm x", "offset": 2.0, "exit_code": null, "source": "screen"},
                ],
                "board": [
                    {"status": "failed", "script_line": 2, "command": "systemctl stop app", "offset": 1.5, "exit_code": 3},
                    {"status": "missing", "script_line": 3, "command": "cp a b", "offset": null, "exit_code": null},
                    {"status": "unplanned", "script_line": null, "command": "rm x", "offset": 2.0, "exit_code": null},
                ],
                "score": 33,
                "verdict": "incomplete_with_failures",
            })
        );
    }

    #[test]
    fn held_lines_stand_where_they_were_entered_and_change_no_score() {
        let script = Script::parse("systemctl restart app\ncp a b\n").unwrap();
        let ran = |text: &str, offset| ExecutedCommand {
            text: text.into(),
            offset,
            exit_code: Some(0),
            source: Recognition::Screen,
        };
        let held = |text: &str, offset| HeldCommand {
            text: text.into(),
            offset,
            reason: "It is not a line of the change's script, nor a benign command.".into(),
        };
        let plain = AuditReport::new(
            &script,
            vec![ran("systemctl restart app", 2.0)],
            &BenignCommands::default(),
            Vec::new(),
        );
        let report = plain.clone().with_held(&[
            held("rm -rf /srv", 1.0),
            held("curl x | sh", 3.0),
            held("reboot", 4.0),
        ]);
        let statuses: Vec<(Status, &str)> = report
            .board
            .iter()
            .map(|line| (line.status, line.command.as_str()))
            .collect();
        assert_eq!(
            statuses,
            [
                (Status::Held, "rm -rf /srv"),
                (Status::Matched, "systemctl restart app"),
                (Status::Missing, "cp a b"),
                (Status::Held, "curl x | sh"),
                (Status::Held, "reboot"),
            ]
        );
        assert_eq!(
            (report.score, &report.verdict),
            (plain.score, &plain.verdict)
        );
        assert_eq!(report.held().count(), 3);
        let json = serde_json::to_value(&report.board[0]).unwrap();
        assert_eq!(json["status"], "held");
        assert!(json["reason"].as_str().unwrap().contains("not a line"));
        assert!(
            serde_json::to_value(&report.board[1])
                .unwrap()
                .get("reason")
                .is_none()
        );
    }

    #[test]
    fn verdicts_read_in_words() {
        assert_eq!(verdict_label("correct"), "Correct");
        assert_eq!(
            verdict_label("more_than_necessary_with_failures_with_findings"),
            "More than necessary, with failures, with findings"
        );
        assert_eq!(
            verdict_label("incomplete_with_findings"),
            "Incomplete, with findings"
        );
    }

    #[test]
    fn a_session_with_findings_is_never_correct() {
        let script = Script::parse("systemctl restart app\n").unwrap();
        let ran = vec![ExecutedCommand {
            text: "systemctl restart app".into(),
            offset: 1.0,
            exit_code: Some(0),
            source: Recognition::Screen,
        }];
        let clean = AuditReport::new(&script, ran.clone(), &BenignCommands::default(), Vec::new());
        assert_eq!(clean.verdict, "correct");
        let finding = Finding {
            kind: crate::command::FindingKind::ForgedMark,
            offset: 2.0,
            mark: "rm -rf /srv".into(),
            detail: "no line the person entered runs this command".into(),
        };
        let report = AuditReport::new(&script, ran, &BenignCommands::default(), vec![finding]);
        assert_eq!(report.verdict, "more_than_necessary_with_findings");
        assert_eq!(report.score, 100);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["findings"][0]["kind"], "forged_mark");
    }
}
