//! The shell-integration script of `contrib/` sourced in real bash and zsh, each in a real
//! pseudo-terminal (util-linux `script`), with their output read by the mark scanner; and the
//! recorded corpus checked against bash's own account of what ran.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use changeaudit_shared::asciicast::EventData;

use crate::corpus::corpus;
use changeaudit_shared::shell_marks::{Announcements, MarkScanner};

fn integration_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../contrib/shell-integration/changeaudit.sh")
}

/// Runs `shell` interactively in a pseudo-terminal, typing `input`; returns what it printed.
fn run_in_terminal(shell_command: &str, home: &Path, input: &str) -> Vec<u8> {
    let mut child = Command::new("script")
        .args([
            "--quiet",
            "--flush",
            "--return",
            "--command",
            shell_command,
            "/dev/null",
        ])
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", home)
        .env("ZDOTDIR", home)
        .env("TERM", "xterm-256color")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("util-linux `script` runs (scripts/dev test installs what is needed)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    output.stdout
}

/// The command lines the shell announced, each with the exit status announced for it.
fn announced(output: &[u8]) -> Vec<(String, Option<i32>)> {
    let mut announcements = Announcements::default();
    for found in MarkScanner::default().push(output) {
        announcements.apply(found.mark);
    }
    announcements
        .commands
        .into_iter()
        .map(|command| (command.line, command.exit_code))
        .collect()
}

/// What both shells announce for `TYPED`: the empty line runs nothing, and the leading space
/// would hide a command from bash's history, which the script prevents.
fn expected() -> Vec<(String, Option<i32>)> {
    [
        ("echo \"a;b\"  &&  false", Some(1)),
        (" ls /nonexistent", Some(2)),
        ("cat <<EOF\nhere\nEOF", Some(0)),
        ("true; printf 'x\\\\y\\n'", Some(0)),
        ("exit", None),
    ]
    .into_iter()
    .map(|(line, status)| (line.to_owned(), status))
    .collect()
}

/// Runs an interactive bash whose start-up file is `prelude` and then the integration script.
fn run_bash(prelude: &str, typed: &str) -> Vec<u8> {
    let home = tempfile::tempdir().unwrap();
    let rc = home.path().join("rc.bash");
    let script = integration_script();
    std::fs::write(&rc, format!("{prelude}\n. {}\n", script.display())).unwrap();
    run_in_terminal(
        &format!("bash --noprofile --rcfile {} -i", rc.display()),
        home.path(),
        typed,
    )
}

const TYPED: &str = "echo \"a;b\"  &&  false\n ls /nonexistent\n\ncat <<EOF\nhere\nEOF\ntrue; printf 'x\\\\y\\n'\nexit\n";

#[test]
fn bash_announces_each_command_line_and_its_status() {
    let output = run_bash("PS1='\\u@\\h:\\w\\$ '\nHISTCONTROL=ignoreboth", TYPED);
    assert_eq!(
        announced(&output),
        expected(),
        "bash printed: {}",
        String::from_utf8_lossy(&output)
    );
}

#[test]
fn zsh_announces_each_command_line_and_its_status() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join(".zshrc"),
        format!("PS1='%n@%m:%~%# '\n. {}\n", integration_script().display()),
    )
    .unwrap();
    let output = run_in_terminal("zsh -i", home.path(), TYPED);
    assert_eq!(
        announced(&output),
        expected(),
        "zsh printed: {}",
        String::from_utf8_lossy(&output)
    );
}

#[test]
fn bash_announces_each_line_of_a_paste_and_repeated_lines() {
    let typed = "\x1b[200~echo p1\recho p2\x1b[201~\recho one\recho one\r\rexit\r";
    let output = run_bash("HISTCONTROL=ignoreboth", typed);
    let lines: Vec<String> = announced(&output)
        .into_iter()
        .map(|(line, _)| line)
        .collect();
    assert_eq!(
        lines,
        ["echo p1", "echo p2", "echo one", "echo one", "exit"]
    );
}

#[test]
fn in_the_corpus_the_shell_announces_exactly_what_bash_ran() {
    for case in corpus().iter().filter(|case| case.truth.shell_integration) {
        let output: Vec<u8> = case
            .cast
            .events
            .iter()
            .filter_map(|event| match &event.data {
                EventData::Output(text) => Some(text.as_bytes()),
                _ => None,
            })
            .flatten()
            .copied()
            .collect();
        let commands = announced(&output);
        let lines = |list: &[(String, Option<i32>)]| {
            list.iter()
                .map(|(line, _)| line.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            lines(&commands),
            case.truth.lines(),
            "{}: command lines",
            case.name
        );
        for ((line, announced), truth) in commands.iter().zip(&case.truth.commands) {
            if truth.exit_code.is_some() {
                assert_eq!(
                    *announced, truth.exit_code,
                    "{}: exit status of `{line}`",
                    case.name
                );
            }
        }
    }
}
