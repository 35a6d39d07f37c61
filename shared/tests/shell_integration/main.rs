//! The shell-integration script of `contrib/` sourced in real bash and zsh, each in a real
//! pseudo-terminal (util-linux `script`), with their output read by the mark scanner.

// A panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use changeaudit_shared::shell_marks::{MarkScanner, ShellMark};

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

/// The command lines the shell announced, each with the exit status announced after it.
fn announced(output: &[u8]) -> Vec<(String, Option<i32>)> {
    let mut commands: Vec<(String, Option<i32>)> = Vec::new();
    for found in MarkScanner::default().push(output) {
        match found.mark {
            ShellMark::CommandLine { line, .. } => commands.push((line, None)),
            ShellMark::Finished { exit_code } => {
                if let Some(last) = commands.last_mut() {
                    last.1 = exit_code;
                }
            }
            _ => {}
        }
    }
    commands
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

const TYPED: &str = "echo \"a;b\"  &&  false\n ls /nonexistent\n\ncat <<EOF\nhere\nEOF\ntrue; printf 'x\\\\y\\n'\nexit\n";

#[test]
fn bash_announces_each_command_line_and_its_status() {
    let home = tempfile::tempdir().unwrap();
    let rc = home.path().join("rc.bash");
    std::fs::write(
        &rc,
        format!(
            "PS1='\\u@\\h:\\w\\$ '\nHISTCONTROL=ignoreboth\n. {}\n",
            integration_script().display()
        ),
    )
    .unwrap();
    let output = run_in_terminal(
        &format!("bash --noprofile --rcfile {} -i", rc.display()),
        home.path(),
        TYPED,
    );
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
