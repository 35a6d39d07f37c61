//! The recognizer over every recorded session: each case's command list must be exactly what
//! the shell says ran, with no finding, both as recorded (marks and all, where the shell has the
//! integration) and from the screen alone (every shell-integration mark taken out of the
//! output). Lines compare without trailing blanks, which a screen cannot show.

use changeaudit_shared::asciicast::{Event, EventData};
use changeaudit_shared::command::{ExecutedCommand, Finding};
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

/// The output without its OSC 133/633 marks, as a device without the integration prints it.
fn without_marks(events: &[Event]) -> Vec<Event> {
    events
        .iter()
        .map(|event| match &event.data {
            EventData::Output(text) => Event {
                time: event.time,
                data: EventData::Output(strip_marks(text)),
            },
            _ => event.clone(),
        })
        .collect()
}

fn strip_marks(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("\x1b]633;").or_else(|| rest.find("\x1b]133;")) {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        let end = after.find('\x07').map_or(after.len(), |end| end + 1);
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

fn recognise(case: &Case, events: &[Event]) -> (Vec<ExecutedCommand>, Vec<Finding>) {
    let nonce = case.cast.header.env.get("CHANGEAUDIT_NONCE").cloned();
    let mut recognizer =
        CommandRecognizer::with_nonce(case.cast.header.width, case.cast.header.height, nonce);
    for event in events {
        recognizer.feed(event);
    }
    (
        recognizer.commands().to_vec(),
        recognizer.findings().to_vec(),
    )
}

/// Accuracy over one kind of case: commands right, and sessions exact, as recorded and from
/// the screen alone.
#[derive(Default)]
struct Tally {
    commands: usize,
    sessions: usize,
    right: usize,
    exact: usize,
    screen_right: usize,
    screen_exact: usize,
}

#[test]
fn the_recognizer_finds_exactly_what_the_shell_ran_in_every_recorded_session() {
    let mut tallies: std::collections::BTreeMap<&'static str, Tally> = Default::default();
    let mut failures = Vec::new();
    for case in corpus() {
        let kind = case.kind();
        let tally = tallies.entry(kind).or_default();
        let (found, findings) = recognise(&case, &case.cast.events);
        let before = failures.len();
        tally.right += compare(&case, "as recorded", &found, &mut failures);
        if case.truth.forged && findings.is_empty() {
            failures.push(format!(
                "{} (as recorded): no finding of its forged marks",
                case.name
            ));
        }
        for finding in findings.iter().filter(|_| !case.truth.forged) {
            failures.push(format!("{} (as recorded): finding {finding:?}", case.name));
        }
        tally.exact += usize::from(failures.len() == before);
        let (found, findings) = recognise(&case, &without_marks(&case.cast.events));
        let before = failures.len();
        tally.screen_right += compare(&case, "screen alone", &found, &mut failures);
        for finding in &findings {
            failures.push(format!("{} (screen alone): finding {finding:?}", case.name));
        }
        tally.screen_exact += usize::from(failures.len() == before);
        tally.commands += case.truth.commands.len();
        tally.sessions += 1;
    }
    for (kind, t) in &tallies {
        println!(
            "recognition accuracy, {kind}: {}/{} commands, {}/{} sessions exact as recorded; from the screen alone {}/{} commands, {}/{} sessions exact",
            t.right,
            t.commands,
            t.exact,
            t.sessions,
            t.screen_right,
            t.commands,
            t.screen_exact,
            t.sessions,
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
