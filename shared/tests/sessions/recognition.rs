//! The recognizer over every recorded session: each case's command list must be exactly what
//! bash says ran, both as the recognizer reports it (announced by the shell where it has the
//! integration) and as read off the screen alone. Lines compare without trailing blanks, which
//! a screen cannot show.

use changeaudit_shared::command::ExecutedCommand;
use changeaudit_shared::recognizer::CommandRecognizer;

use crate::corpus::{Case, corpus};

fn trimmed(line: &str) -> String {
    line.split('\n')
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Counts the commands right and describes any difference from the truth.
fn compare(case: &Case, how: &str, found: &[ExecutedCommand], failures: &mut Vec<String>) -> usize {
    let found_lines: Vec<String> = found.iter().map(|c| trimmed(&c.text)).collect();
    let expected: Vec<String> = case
        .truth
        .lines()
        .iter()
        .map(|line| trimmed(line))
        .collect();
    let right = found_lines
        .iter()
        .zip(&expected)
        .filter(|(f, e)| f == e)
        .count();
    if found_lines != expected {
        failures.push(format!(
            "{} ({how}):\n  expected {expected:?}\n  found    {found_lines:?}",
            case.name
        ));
    }
    for (command, truth) in found.iter().zip(&case.truth.commands) {
        if command.exit_code.is_some()
            && truth.exit_code.is_some()
            && command.exit_code != truth.exit_code
        {
            failures.push(format!(
                "{} ({how}): `{}` exited {:?}, recognised {:?}",
                case.name, truth.command, truth.exit_code, command.exit_code
            ));
        }
    }
    right
}

#[test]
fn the_recognizer_finds_exactly_what_bash_ran_in_every_recorded_session() {
    let (mut expected, mut right, mut screen_right) = (0, 0, 0);
    let mut failures = Vec::new();
    for case in corpus() {
        let mut recognizer =
            CommandRecognizer::new(case.cast.header.width, case.cast.header.height);
        for event in &case.cast.events {
            recognizer.feed(event);
        }
        expected += case.truth.commands.len();
        right += compare(&case, "reported", &recognizer.commands(), &mut failures);
        screen_right += compare(
            &case,
            "screen only",
            recognizer.screen_commands(),
            &mut failures,
        );
    }
    println!(
        "recognition accuracy: {right}/{expected} commands right ({:.1}%); from the screen alone {screen_right}/{expected} ({:.1}%)",
        100.0 * right as f64 / expected.max(1) as f64,
        100.0 * screen_right as f64 / expected.max(1) as f64,
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
