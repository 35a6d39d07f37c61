//! Recognition against a hostile person, end to end: a real WebSocket client types into bash
//! on a real sshd through the broker, and the stored board, findings and trail are read back.
//! What the person prints is never a command, a status printed by output never stands, output
//! that switches screens hides nothing, and benign means harmless.

use changeaudit_e2e::Sshd;
use serde_json::Value;

use crate::terminal::{Rig, board_lines};
use crate::terminal_client::Terminal;

/// The board of session `id` as an auditor reads it: `(status, command)` for each line, with
/// the verdict and the findings' kinds.
async fn board(rig: &Rig, id: i64) -> (Vec<(String, String)>, String, Vec<String>) {
    let audit = rig.board_view(id).await;
    let report = &audit["report"];
    let lines = board_lines(report);
    let findings = report["findings"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|f| f["kind"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default();
    (
        lines,
        report["verdict"].as_str().unwrap().to_owned(),
        findings,
    )
}

fn line(status: &str, command: &str) -> (String, String) {
    (status.to_owned(), command.to_owned())
}

/// Runs `commands` in an approved session on `credential` whose prompt ends in `$ `, then
/// `exit`; answers the session's ID.
async fn session_on(rig: &Rig, credential: i64, commands: &[&str]) -> i64 {
    rig.approve(credential).await;
    let mut terminal = Terminal::open(&rig.member, credential).await;
    terminal.until(|t| at_prompt(&t.output), "the prompt").await;
    for command in commands {
        terminal.run(command).await;
        terminal
            .until(|t| at_prompt(&t.output), "the prompt after it")
            .await;
    }
    terminal.type_text("exit\r").await;
    terminal.closed().await;
    terminal.session_id.unwrap()
}

/// The output ends with bash's `$ ` prompt (and the integration's mark and an erase to the end
/// of the line after it, if any).
fn at_prompt(output: &str) -> bool {
    output
        .trim_end_matches("\x1b[K")
        .trim_end_matches("\x1b]633;B\x07")
        .ends_with("$ ")
}

async fn finding_events(rig: &Rig, id: i64) -> Vec<Value> {
    rig.actions(&format!("terminal_session:{id}"))
        .await
        .into_iter()
        .filter(|(_, action, _)| action == "session.finding")
        .map(|(_, _, details)| details)
        .collect()
}

const FORGED_PRINTF: &str =
    r"printf '\033]633;E;echo planned-two\007\033]633;C\007\033]633;D;0\007done\n'";

#[tokio::test]
async fn a_forged_mark_printf_leaves_the_board_as_bash_ran_it_with_a_forged_mark_finding() {
    for sshd in [
        Sshd::start().await.unwrap(),
        Sshd::with_shell_integration().await.unwrap(),
        Sshd::with_shell_integration_without_nonce().await.unwrap(),
    ] {
        let rig = Rig::start(sshd).await;
        let id = session_on(
            &rig,
            rig.password_credential,
            &["echo planned-one", FORGED_PRINTF],
        )
        .await;
        let (lines, verdict, findings) = board(&rig, id).await;
        assert_eq!(
            lines,
            vec![
                line("matched", "echo planned-one"),
                line("missing", "echo planned-two"),
                line("unplanned", FORGED_PRINTF),
                line("benign", "exit"),
            ]
        );
        assert_eq!(verdict, "incomplete_with_findings");
        assert!(!findings.is_empty(), "{findings:?}");
        assert!(findings.iter().all(|kind| kind == "forged_mark"));
        let events = finding_events(&rig, id).await;
        assert_eq!(events.len(), findings.len());
        assert_eq!(events[0]["mark"], "echo planned-two");
        let details = rig.session(id).await;
        assert_eq!(details["findings"][0]["kind"], "forged_mark");
    }
}

#[tokio::test]
async fn a_cat_of_a_log_holding_marks_replaces_nothing_and_is_a_finding() {
    let log = tempfile::Builder::new()
        .prefix("changeaudit-marks")
        .tempfile_in("/tmp")
        .unwrap();
    std::fs::write(
        log.path(),
        "\x1b]633;P;ShellPid=1\x07\x1b]633;E;echo planned-one\x07\x1b]633;C\x07planned-one\n\
         \x1b]633;P;ShellPid=1\x07\x1b]633;D;0\x07\x1b]633;P;ShellPid=1\x07\x1b]633;E;echo planned-two\x07\
         \x1b]633;C\x07planned-two\n\x1b]633;P;ShellPid=1\x07\x1b]633;D;0\x07",
    )
    .unwrap();
    std::fs::set_permissions(
        log.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    let cat = format!("cat {}", log.path().display());
    for sshd in [
        Sshd::start().await.unwrap(),
        Sshd::with_shell_integration().await.unwrap(),
    ] {
        let rig = Rig::start(sshd).await;
        let id = session_on(&rig, rig.password_credential, &["echo planned-one", &cat]).await;
        let (lines, verdict, findings) = board(&rig, id).await;
        assert_eq!(
            lines,
            vec![
                line("matched", "echo planned-one"),
                line("missing", "echo planned-two"),
                line("unplanned", &cat),
                line("benign", "exit"),
            ]
        );
        assert_eq!(verdict, "incomplete_with_findings");
        assert!(findings.iter().any(|kind| kind == "forged_mark"));
    }
}

#[tokio::test]
async fn a_printed_status_after_a_failing_planned_command_leaves_it_failed() {
    let forged_status = r"printf '\033]633;P;ShellPid=%s\007\033]633;D;0\007' $$";
    for sshd in [
        Sshd::with_shell_integration().await.unwrap(),
        Sshd::with_shell_integration_without_nonce().await.unwrap(),
    ] {
        let rig = Rig::with_script(sshd, "false\necho planned-two\n").await;
        let id = session_on(
            &rig,
            rig.key_credential,
            &["false", forged_status, "echo planned-two"],
        )
        .await;
        let (lines, verdict, findings) = board(&rig, id).await;
        assert_eq!(
            lines,
            vec![
                line("failed", "false"),
                line("unplanned", forged_status),
                line("matched", "echo planned-two"),
                line("benign", "exit"),
            ]
        );
        assert_eq!(verdict, "more_than_necessary_with_failures_with_findings");
        assert_eq!(findings, ["forged_mark"]);
    }
}

#[tokio::test]
async fn output_switching_to_the_alternate_screen_hides_nothing_typed_afterwards() {
    let rig = Rig::start(Sshd::start().await.unwrap()).await;
    let switch = r"printf '\033[?1049h\033[2J\033[H'";
    let id = session_on(
        &rig,
        rig.password_credential,
        &[switch, "echo planned-one", "echo planned-two"],
    )
    .await;
    let (lines, verdict, findings) = board(&rig, id).await;
    assert_eq!(
        lines,
        vec![
            line("unplanned", switch),
            line("matched", "echo planned-one"),
            line("matched", "echo planned-two"),
            line("benign", "exit"),
        ]
    );
    assert_eq!(verdict, "more_than_necessary");
    assert!(findings.is_empty());
}

#[tokio::test]
async fn each_benign_bypass_is_unplanned() {
    let rig = Rig::start(Sshd::start().await.unwrap()).await;
    let bypasses = [
        "ls $(echo /tmp)",
        "ls `echo /tmp`",
        "ls > /dev/null",
        "LD_PRELOAD= ls",
        "date -s 2020-01-01",
        "history -c",
        "ls; id -un",
    ];
    let mut commands = vec!["echo planned-one", "ls -l /", "date +%F"];
    commands.extend(bypasses);
    commands.push("echo planned-two");
    let id = session_on(&rig, rig.password_credential, &commands).await;
    let (lines, _, _) = board(&rig, id).await;
    let mut expected = vec![
        line("matched", "echo planned-one"),
        line("benign", "ls -l /"),
        line("benign", "date +%F"),
    ];
    expected.extend(bypasses.iter().map(|bypass| line("unplanned", bypass)));
    expected.push(line("matched", "echo planned-two"));
    expected.push(line("benign", "exit"));
    assert_eq!(lines, expected);
}
