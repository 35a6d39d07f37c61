//! The shell-integration script of `contrib/` sourced in real bash and zsh, each in a real
//! pseudo-terminal (util-linux `script`), with their output read by the mark scanner; and the
//! recorded corpus checked against bash's own account of what ran.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use changeaudit_shared::asciicast::EventData;

use crate::corpus::corpus;
use changeaudit_shared::shell_marks::{MarkScanner, ShellMark};
use std::collections::HashMap;

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

/// The command lines the shell announced, each with the exit status announced for it by the
/// same shell (`P;ShellPid`), and the nonces the marks carried.
/// A command line announced, with its status.
type Announced = (String, Option<i32>);

fn announced_with_nonces(output: &[u8]) -> (Vec<Announced>, Vec<Option<String>>) {
    let mut commands: Vec<Announced> = Vec::new();
    let mut nonces = Vec::new();
    let mut open: HashMap<Option<String>, usize> = HashMap::new();
    let mut shell = None;
    for found in MarkScanner::default().push(output) {
        match found.mark {
            ShellMark::Property { key, value } if key == "ShellPid" => shell = Some(value),
            ShellMark::CommandLine { line, nonce } => {
                commands.push((line, None));
                open.insert(shell.clone(), commands.len() - 1);
                nonces.push(nonce);
            }
            ShellMark::Finished { exit_code, nonce } => {
                if let Some(index) = open.remove(&shell) {
                    commands[index].1 = exit_code;
                }
                nonces.push(nonce);
            }
            _ => {}
        }
    }
    (commands, nonces)
}

fn announced(output: &[u8]) -> Vec<(String, Option<i32>)> {
    announced_with_nonces(output).0
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

/// Runs `shell` with the integration and `CHANGEAUDIT_NONCE` in its environment, as the broker
/// hands it over SSH.
fn run_with_nonce(shell: &str, typed: &str) -> Vec<u8> {
    let home = tempfile::tempdir().unwrap();
    let script = integration_script();
    std::fs::write(
        home.path().join(".zshrc"),
        format!(". {}\n", script.display()),
    )
    .unwrap();
    let rc = home.path().join("rc.bash");
    std::fs::write(&rc, format!(". {}\n", script.display())).unwrap();
    let command = match shell {
        "bash" => format!(
            "CHANGEAUDIT_NONCE=n0nce-42 bash --noprofile --rcfile {} -i",
            rc.display()
        ),
        _ => "CHANGEAUDIT_NONCE=n0nce-42 zsh -i".to_owned(),
    };
    run_in_terminal(&command, home.path(), typed)
}

#[test]
fn both_shells_sign_their_marks_with_the_nonce_and_hide_it_from_commands() {
    for shell in ["bash", "zsh"] {
        let typed = "env | grep -c CHANGEAUDIT_NONCE\nfalse\nexit\n";
        let output = run_with_nonce(shell, typed);
        let printed = String::from_utf8_lossy(&output);
        let (commands, nonces) = announced_with_nonces(&output);
        let lines: Vec<(&str, Option<i32>)> =
            commands.iter().map(|(l, s)| (l.as_str(), *s)).collect();
        assert_eq!(
            lines,
            vec![
                ("env | grep -c CHANGEAUDIT_NONCE", Some(1)),
                ("false", Some(1)),
                ("exit", None)
            ],
            "{shell} printed: {printed}"
        );
        assert!(
            nonces.iter().all(|n| n.as_deref() == Some("n0nce-42")),
            "{shell}: {nonces:?}"
        );
        // grep counted no line: the commands the person runs do not inherit the nonce.
        assert!(
            printed.contains("633;C\x070\r\n"),
            "{shell} printed: {printed}"
        );
    }
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
    // Cases that print marks of their own are the recognizer's to see through.
    for case in corpus()
        .iter()
        .filter(|case| case.truth.shell_integration && !case.truth.forged)
    {
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
