//! `changeaudit audit` on recordings of the corpus of real sessions.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::json;

fn corpus(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../shared/tests/corpus/{case}.cast"))
}

fn audit(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_changeaudit"))
        .arg("audit")
        .args(args)
        .env_clear()
        .output()
        .unwrap()
}

fn script(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("change.script");
    std::fs::write(&path, text).unwrap();
    path
}

/// What `audit` prints for people about corpus case `case` held against `script_text`.
fn board_for_people(script_text: &str, case: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let script = script(dir.path(), script_text);
    let output = audit(&[
        "--script",
        script.to_str().unwrap(),
        "--cast",
        corpus(case).to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn prints_the_board_score_and_verdict_for_people() {
    let text = board_for_people("echo hello\nuname -s\nsystemctl restart nginx\n", "plain");
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[1].contains("matched") && lines[1].ends_with("echo hello"),
        "{text}"
    );
    assert!(
        lines[3].contains("- missing") && lines[3].ends_with("systemctl restart nginx"),
        "{text}"
    );
    assert!(
        lines[4].contains("benign") && lines[4].ends_with("ls /nonexistent"),
        "{text}"
    );
    assert_eq!(
        lines.last().copied(),
        Some("score 67 · Incomplete"),
        "{text}"
    );
    assert!(
        !text.contains('\x1b'),
        "no colours when the output is not a terminal"
    );
}

#[test]
fn prints_the_documented_json_with_announced_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let script = script(dir.path(), "echo hello\nuname -s\nls /nonexistent\n");
    let output = audit(&[
        "--script",
        script.to_str().unwrap(),
        "--cast",
        corpus("plain_integration").to_str().unwrap(),
        "--benign",
        "pwd",
        "--json",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    // Times depend on the recording; everything else is fixed.
    for list in ["commands", "board"] {
        for item in report[list].as_array_mut().unwrap() {
            assert!(item["offset"].is_null() || item["offset"].as_f64().unwrap() > 0.0);
            item["offset"] = json!("t");
        }
    }
    assert_eq!(
        report,
        json!({
            "commands": [
                {"command": "echo hello", "offset": "t", "exit_code": 0, "source": "shell_integration"},
                {"command": "uname -s", "offset": "t", "exit_code": 0, "source": "shell_integration"},
                {"command": "ls /nonexistent", "offset": "t", "exit_code": 2, "source": "shell_integration"},
                {"command": "exit", "offset": "t", "exit_code": null, "source": "shell_integration"},
            ],
            "board": [
                {"status": "matched", "script_line": 1, "command": "echo hello", "offset": "t", "exit_code": 0},
                {"status": "matched", "script_line": 2, "command": "uname -s", "offset": "t", "exit_code": 0},
                {"status": "failed", "script_line": 3, "command": "ls /nonexistent", "offset": "t", "exit_code": 2},
                {"status": "unplanned", "script_line": null, "command": "exit", "offset": "t", "exit_code": null},
            ],
            "score": 75,
            "verdict": "more_than_necessary_with_failures",
        })
    );
}

#[test]
fn bad_files_are_named_with_the_line_at_fault() {
    let dir = tempfile::tempdir().unwrap();
    let bad_script = script(dir.path(), "ls\necho 'unterminated\n");
    let output = audit(&[
        "--script",
        bad_script.to_str().unwrap(),
        "--cast",
        corpus("plain").to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "{}: line 2: unterminated single quote",
            bad_script.display()
        )),
        "{stderr}"
    );

    let bad_cast = dir.path().join("broken.cast");
    std::fs::write(
        &bad_cast,
        "{\"version\": 2, \"width\": 80, \"height\": 24}\n[0.5, \"o\"]\n",
    )
    .unwrap();
    let good_script = script(dir.path(), "ls\n");
    let output = audit(&[
        "--script",
        good_script.to_str().unwrap(),
        "--cast",
        bad_cast.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("{}: line 2: not an event", bad_cast.display())),
        "{stderr}"
    );

    let output = audit(&[
        "--script",
        "/nonexistent/script",
        "--cast",
        "/nonexistent/cast",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("/nonexistent/script"));
}

#[test]
fn forged_marks_in_a_recording_are_findings_the_board_ignores() {
    let text = board_for_people(
        "echo planned\nsystemctl restart app\n",
        "forged_marks_nonce",
    );
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[2].contains("- missing") && lines[2].ends_with("systemctl restart app"),
        "the printed `systemctl restart app` never ran: {text}"
    );
    assert!(
        text.contains("finding: forged mark") && text.contains("systemctl restart app ("),
        "{text}"
    );
    assert_eq!(
        lines.last().copied(),
        Some("score 33 · Incomplete, with findings"),
        "{text}"
    );
}
