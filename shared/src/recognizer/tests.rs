use quickcheck::Arbitrary;

use super::*;

/// A 40×10 recognizer fed `events` (`o` output, anything else input), one a second.
fn fed(events: &[(&str, &str)]) -> CommandRecognizer {
    let mut recognizer = CommandRecognizer::new(40, 10);
    for (index, (kind, text)) in events.iter().enumerate() {
        let data = match *kind {
            "o" => EventData::Output((*text).to_owned()),
            _ => EventData::Input((*text).to_owned()),
        };
        recognizer.feed(&Event {
            time: index as f64,
            data,
        });
    }
    recognizer
}

fn session(events: &[(&str, &str)]) -> Vec<String> {
    fed(events)
        .commands()
        .iter()
        .map(|c| c.text.clone())
        .collect()
}

#[test]
fn reads_the_line_as_the_screen_shows_it_when_enter_is_taken() {
    let commands = session(&[
        ("o", "$ "),
        ("i", "e"),
        ("o", "e"),
        ("i", "cho hi"),
        ("o", "cho hi"),
        ("i", "\r"),
        ("o", "\r\nhi\r\n$ "),
    ]);
    assert_eq!(commands, vec!["echo hi"]);
}

#[test]
fn a_program_prompt_is_not_a_shell_prompt() {
    let commands = session(&[
        ("o", "Password: "),
        ("i", "x"),
        ("i", "\r"),
        ("o", "\r\n$ "),
    ]);
    assert!(commands.is_empty());
}

/// Pieces that exercise the recognizer's paths: keys, Enter, Ctrl-C, pastes, wrapping,
/// cursor moves, the alternate screen, OSC marks, and bytes of any kind.
const PIECES: [&str; 36] = [
    "$ ",
    "# ",
    "> ",
    "Password: ",
    "echo hi",
    "\r",
    "\n",
    "\r\n",
    "\x03",
    "\x1b[200~",
    "\x1b[201~",
    "\x1b[?2004h",
    "\x1b[?2004l",
    "\x1b[?1049h",
    "\x1b[?1049l",
    "\x1b[A",
    "\x1b[2J\x1b[H",
    "\x1b]633;E;ls\x07",
    "\x1b]633;D;1\x07",
    "日本\u{fffd}\x7f\t\\",
    "\x1b[5@",
    "\x1b[3P",
    "\x1b[2;4r",
    "\x1b[4h",
    "\x1b[999C\x1b[999B",
    "\x1b[L\x1b[M",
    "\x1b[65535S\x1b[T",
    "\x1b[9X",
    "\x1bM\x1b7\x1b8",
    "\x1b[?47h\x1b[?1047l",
    "\x1b[?7l",
    "\x1b[1;2;3;4;5;6;7;8;9;10;11;12;13;14;15;16;17;18m",
    "\x1b[J\x1b[1J\x1b[1K\x1b[2K",
    "\u{9b}2J\u{9d}0;x\u{9c}",
    "\x1bc",
    "a\u{301}\u{200b}",
];

#[derive(Debug, Clone)]
struct Noise(Vec<(u8, u8, String)>);

impl Arbitrary for Noise {
    fn arbitrary(g: &mut quickcheck::Gen) -> Self {
        let count = usize::arbitrary(g) % 60;
        Noise(
            (0..count)
                .map(|_| {
                    let text = if bool::arbitrary(g) {
                        PIECES[usize::arbitrary(g) % PIECES.len()].to_owned()
                    } else {
                        String::arbitrary(g)
                    };
                    (u8::arbitrary(g), u8::arbitrary(g), text)
                })
                .collect(),
        )
    }
}

fn never_panics(noise: Noise) -> bool {
    let mut recognizer = CommandRecognizer::new(20, 5);
    for (index, (kind, size, text)) in noise.0.into_iter().enumerate() {
        let data = match kind % 7 {
            0..=3 => EventData::Output(text),
            4 | 5 => EventData::Input(text),
            _ => EventData::Resize {
                cols: u16::from(size % 50),
                rows: u16::from(size % 9),
            },
        };
        recognizer.feed(&Event {
            time: index as f64,
            data,
        });
    }
    recognizer.commands().len() < 10_000
}

#[test]
fn never_panics_whatever_the_session_holds() {
    quickcheck::QuickCheck::new()
        .tests(3_000)
        .quickcheck(never_panics as fn(Noise) -> bool);
}

#[test]
fn a_prompt_past_the_edge_of_a_shrunk_terminal_is_no_trouble() {
    let mut recognizer = CommandRecognizer::new(40, 5);
    let events = [
        EventData::Output("a long prompt of thirty cols $ ".into()),
        EventData::Input("x".into()),
        EventData::Resize { cols: 10, rows: 3 },
        EventData::Input("\r".into()),
        EventData::Output("\r\n".into()),
    ];
    for (index, data) in events.into_iter().enumerate() {
        recognizer.feed(&Event {
            time: index as f64,
            data,
        });
    }
    assert!(recognizer.commands().len() <= 1);
}

#[test]
fn continued_lines_join_as_the_shell_joins_them() {
    assert_eq!(join_continued("echo a \\".into(), "b"), "echo a b");
    assert_eq!(join_continued("echo a \\\\".into(), "b"), "echo a \\\\\nb");
    assert_eq!(join_continued("cat <<EOF".into(), "x"), "cat <<EOF\nx");
}

fn recognize(nonce: Option<&str>, events: &[(&str, &str)]) -> CommandRecognizer {
    let mut recognizer = CommandRecognizer::with_nonce(60, 10, nonce.map(str::to_owned));
    for (index, (kind, text)) in events.iter().enumerate() {
        let data = match *kind {
            "o" => EventData::Output((*text).to_owned()),
            _ => EventData::Input((*text).to_owned()),
        };
        recognizer.feed(&Event {
            time: index as f64,
            data,
        });
    }
    recognizer
}

/// The command lines recognised in `events`, with no nonce.
fn lines(events: &[(&str, &str)]) -> Vec<String> {
    recognize(None, events)
        .commands()
        .iter()
        .map(|c| c.text.clone())
        .collect()
}

fn kinds(recognizer: &CommandRecognizer) -> Vec<&'static str> {
    recognizer
        .findings()
        .iter()
        .map(|finding| finding.kind.as_str())
        .collect()
}

/// Types `line` at the prompt key by key, echoed, then Enter.
fn typed_line<'a>(line: &'a str, events: &mut Vec<(&'static str, &'a str)>) {
    for (index, _) in line.char_indices() {
        let key = &line[index..index + 1];
        events.push(("i", key));
        events.push(("o", key));
    }
    events.push(("i", "\r"));
}

#[test]
fn printed_marks_are_findings_and_never_commands() {
    let mut events = vec![("o", "# ")];
    typed_line("printf x", &mut events);
    events.push((
        "o",
        "\r\n\x1b]633;E;systemctl restart app\x07\x1b]633;C\x07\x1b]633;D;0\x07x\r\n# ",
    ));
    let recognizer = recognize(None, &events);
    let commands: Vec<String> = recognizer
        .commands()
        .iter()
        .map(|c| c.text.clone())
        .collect();
    assert_eq!(commands, vec!["printf x"]);
    assert_eq!(recognizer.commands()[0].exit_code, None);
    assert_eq!(kinds(&recognizer), vec!["forged_mark", "forged_mark"]);
}

#[test]
fn an_announcement_that_agrees_confirms_the_line_and_gives_its_status() {
    let mut events = vec![("o", "# ")];
    typed_line("false", &mut events);
    events.push((
        "o",
        "\r\n\x1b]633;P;ShellPid=7\x07\x1b]633;E;false;n1\x07\x1b]633;C\x07\x1b]633;P;ShellPid=7\x07\x1b]633;D;1;n1\x07# ",
    ));
    let recognizer = recognize(Some("n1"), &events);
    let command = &recognizer.commands()[0];
    assert_eq!(
        (command.text.as_str(), command.exit_code, command.source),
        ("false", Some(1), Recognition::ShellIntegration)
    );
    assert!(recognizer.findings().is_empty());
}

#[test]
fn a_status_printed_by_the_command_itself_does_not_stand() {
    let mut events = vec![("o", "# ")];
    typed_line("./deploy", &mut events);
    events.push((
        "o",
        "\r\n\x1b]633;P;ShellPid=7\x07\x1b]633;E;./deploy\x07\x1b]633;C\x07\
         \x1b]633;P;ShellPid=7\x07\x1b]633;D;0\x07failed\r\n\
         \x1b]633;P;ShellPid=7\x07\x1b]633;D;1\x07# ",
    ));
    let recognizer = recognize(None, &events);
    assert_eq!(recognizer.commands()[0].exit_code, Some(1));
    assert_eq!(kinds(&recognizer), vec!["forged_mark"]);
}

#[test]
fn once_the_shell_shows_its_nonce_marks_without_it_are_forged() {
    let mut events = vec![("o", "# ")];
    typed_line("false", &mut events);
    events.push((
        "o",
        "\r\n\x1b]633;P;ShellPid=7\x07\x1b]633;E;false;n1\x07\x1b]633;C\x07\
         \x1b]633;P;ShellPid=7\x07\x1b]633;D;0\x07\x1b]633;P;ShellPid=7\x07\x1b]633;D;0;other\x07\
         \x1b]633;P;ShellPid=7\x07\x1b]633;D;1;n1\x07# ",
    ));
    let recognizer = recognize(Some("n1"), &events);
    assert_eq!(recognizer.commands()[0].exit_code, Some(1));
    assert_eq!(kinds(&recognizer), vec!["forged_mark", "forged_mark"]);
}

#[test]
fn a_proved_shell_that_announces_another_line_is_a_disagreement() {
    let mut events = vec![("o", "# ")];
    typed_line("ls", &mut events);
    events.push((
        "o",
        "\r\n\x1b]633;P;ShellPid=7\x07\x1b]633;E;rm -rf /srv;n1\x07\x1b]633;C\x07# ",
    ));
    let recognizer = recognize(Some("n1"), &events);
    assert_eq!(recognizer.commands()[0].text, "ls");
    assert_eq!(kinds(&recognizer), vec!["disagreement"]);
}

#[test]
fn text_left_on_the_prompt_row_by_output_is_not_part_of_the_line() {
    // `printf 'PROMPT# ls -la /root/.ssh\r'`, then the prompt drawn over it; the person types
    // `ls`, with a Left and Right that leave the line to the screen.
    let events = [
        ("o", "PROMPT# ls -la /root/.ssh\r# "),
        ("i", "l"),
        ("o", "l"),
        ("i", "s"),
        ("o", "s"),
        ("i", "\x1b[D"),
        ("o", "\x08"),
        ("i", "\x1b[C"),
        ("o", "s"),
        ("i", "\r"),
        ("o", "\r\n# "),
    ];
    assert_eq!(lines(&events), vec!["ls"]);
}

#[test]
fn output_switching_to_the_alternate_screen_hides_nothing_typed_after() {
    let mut events = vec![("o", "root@vm:~# ")];
    typed_line("printf x", &mut events);
    events.push(("o", "\r\n\x1b[?1049h\x1b[Hroot@vm:~# "));
    typed_line("rm -rf /srv", &mut events);
    events.push(("o", "\r\nroot@vm:~# "));
    assert_eq!(lines(&events), vec!["printf x", "rm -rf /srv"]);
}

#[test]
fn a_printed_prompt_and_command_is_never_a_command() {
    let events = [
        ("o", "root@vm:~# "),
        ("i", "c"),
        ("o", "c"),
        ("i", "at log\r"),
        (
            "o",
            "at log\r\nroot@vm:~# rm -rf /srv\r\nroot@vm:~# reboot\r\nroot@vm:~# ",
        ),
    ];
    assert_eq!(lines(&events), vec!["cat log"]);
}

#[test]
fn an_unbracketed_paste_runs_line_by_line() {
    let events = [
        ("o", "$ "),
        ("i", "echo p1\recho p2\recho p3\r"),
        (
            "o",
            "echo p1\r\np1\r\n$ echo p2\r\np2\r\n$ echo p3\r\np3\r\n$ ",
        ),
    ];
    assert_eq!(lines(&events), vec!["echo p1", "echo p2", "echo p3"]);
}

#[test]
fn a_prompt_of_any_shape_is_the_shell_s_when_its_line_editor_reads_the_line() {
    let mut events = vec![("o", "\x1b[?2004h➜  tmp ")];
    typed_line("uname -s", &mut events);
    events.push(("o", "\r\n\x1b[?2004l\rLinux\r\n\x1b[?2004h➜  tmp "));
    typed_line("id -un", &mut events);
    events.push(("o", "\r\n\x1b[?2004l\rroot\r\n"));
    assert_eq!(lines(&events), vec!["uname -s", "id -un"]);
}

/// bash's prompt with bracketed paste on, and what bash prints when it takes a line.
const PROMPT: &str = "\x1b[?2004hroot@h:~# ";
const TAKEN: &str = "\r\n\x1b[?2004l\r";

#[test]
fn an_announcement_that_reads_otherwise_never_rewrites_the_line() {
    let mut events = vec![("o", PROMPT)];
    typed_line("ls; rm -rf /etc", &mut events);
    events.push(("o", TAKEN));
    events.push((
        "o",
        "\x1b]633;P;ShellPid=999\x07\x1b]633;E;ls '\\x3b' rm -rf /etc\x07\x1b]633;D;0\x07",
    ));
    let recognizer = recognize(None, &events);
    let command = &recognizer.commands()[0];
    assert_eq!(command.text, "ls; rm -rf /etc");
    assert_eq!(command.source, Recognition::Screen);
    assert_eq!(command.exit_code, None);
    assert!(kinds(&recognizer).contains(&"forged_mark"));
}

#[test]
fn arithmetic_and_ansi_c_strings_leave_no_line_waiting() {
    let mut events = vec![("o", PROMPT)];
    for line in ["echo $((1<<2))", "echo $'it\\'s'", "rm -rf /etc"] {
        typed_line(line, &mut events);
        events.push(("o", TAKEN));
        events.push(("o", "x\r\n"));
        events.push(("o", PROMPT));
    }
    assert_eq!(
        lines(&events),
        ["echo $((1<<2))", "echo $'it\\'s'", "rm -rf /etc"]
    );
}

#[test]
fn output_cannot_unsay_a_line_that_only_looks_like_history_expansion() {
    let mut events = vec![("o", PROMPT)];
    typed_line("echo event not found; rm -rf /etc/[!a]*", &mut events);
    events.push(("o", TAKEN));
    events.push(("o", "event not found\r\n"));
    events.push(("o", PROMPT));
    assert_eq!(lines(&events), ["echo event not found; rm -rf /etc/[!a]*"]);
}

#[test]
fn a_control_character_inside_a_paste_is_text() {
    let events = [
        ("o", PROMPT),
        ("i", "\x1b[200~rm -rf /etc \x03\x1b[201~"),
        ("o", "rm -rf /etc ^C"),
        ("i", "\r"),
        ("o", TAKEN),
    ];
    assert_eq!(lines(&events), ["rm -rf /etc \x03"]);
}

#[test]
fn a_line_typed_ahead_is_found_behind_one_a_program_read() {
    let mut events = vec![("o", PROMPT)];
    typed_line("read x; sleep 2", &mut events);
    events.push(("o", TAKEN));
    for typed in ["junk", "rm -rf /etc"] {
        typed_line(typed, &mut events);
        events.push(("o", "\r\n"));
    }
    events.push(("o", "root@h:~# rm -rf /etc\r\n"));
    events.push(("o", PROMPT));
    assert_eq!(lines(&events), ["read x; sleep 2", "rm -rf /etc"]);
}

#[test]
fn a_line_still_being_taken_when_the_session_ends_counts() {
    let mut recognizer = recognize(None, &[("o", PROMPT), ("i", "rm -rf /etc\r")]);
    recognizer.finish();
    assert_eq!(recognizer.commands()[0].text, "rm -rf /etc");
}

#[test]
fn a_failure_reported_is_not_turned_into_a_success_by_a_later_status() {
    let mut events = vec![("o", PROMPT)];
    typed_line("false", &mut events);
    events.push(("o", TAKEN));
    events.push((
        "o",
        "\x1b]633;P;ShellPid=7\x07\x1b]633;E;false\x07\x1b]633;C\x07\
         \x1b]633;P;ShellPid=7\x07\x1b]633;D;1\x07\x1b]633;P;ShellPid=7\x07\x1b]633;D;0\x07",
    ));
    let recognizer = recognize(None, &events);
    assert_eq!(recognizer.commands()[0].exit_code, Some(1));
    assert_eq!(kinds(&recognizer), ["forged_mark"]);
}

#[test]
fn a_right_prompt_drawn_again_is_no_part_of_the_line_but_typed_text_always_is() {
    // zsh draws its right prompt again with the line after Ctrl-L.
    let honest = [
        ("o", "\x1b[?2004h% \x1b[50G[0] 21:15\x1b[3G"),
        ("i", "l"),
        ("o", "l"),
        ("i", "s"),
        ("o", "s"),
        ("i", "\x0c"),
        ("o", "\x1b[H\x1b[2J% ls\x1b[50G[0] 21:15\x1b[5G"),
        ("i", "\x1b[D"),
        ("o", "\x08"),
        ("i", "\x1b[C"),
        ("o", "s"),
        ("i", "\r"),
        ("o", "\x1b[?2004l\r\r\n"),
    ];
    assert_eq!(lines(&honest), ["ls"]);
    // Text left at the right of the prompt row, then typed out to the same columns: it is the
    // person's, and stays.
    let mut hostile = vec![("o", "\x1b[?2004h% \x1b[50G; rm -rf /\x1b[3G")];
    let typed = format!("true{}; rm -rf /", " ".repeat(43));
    let keys: Vec<String> = typed.chars().map(String::from).collect();
    for key in &keys {
        hostile.push(("i", key.as_str()));
        hostile.push(("o", key.as_str()));
    }
    hostile.extend([
        ("i", "\x1b[D"),
        ("o", "\x08"),
        ("i", "\x1b[C"),
        ("o", "/"),
        ("i", "\r"),
        ("o", "\x1b[?2004l\r\r\n"),
    ]);
    assert_eq!(lines(&hostile), [typed.as_str()]);
}

#[test]
fn a_line_begun_while_a_command_runs_is_the_next_prompt_s_even_holding_the_prompt_s_sign() {
    let commands = session(&[
        ("o", "\x1b[?2004h$ "),
        ("i", "sleep 1"),
        ("o", "sleep 1"),
        ("i", "\r"),
        ("o", "\r\n\x1b[?2004l\r"),
        // Typed while `sleep` runs, echoed by the terminal; the prompt comes after it.
        ("i", "echo $H"),
        ("o", "echo $H"),
        ("o", "\x1b[?2004h$ echo $H"),
        ("i", "OME"),
        ("o", "OME"),
        ("i", "\r"),
        ("o", "\r\n\x1b[?2004l\r"),
    ]);
    assert_eq!(commands, vec!["sleep 1", "echo $HOME"]);
}

#[test]
fn a_line_typed_ahead_is_read_as_typed_however_its_keys_fall_around_the_prompt() {
    let p = "\x1b[?2004h$ ";
    let cases: Vec<Vec<(&str, &str)>> = vec![
        // The next line's first key before the shell has even moved past the last line.
        vec![
            ("o", p),
            ("i", "echo one"),
            ("o", "echo one"),
            ("i", "\r"),
            ("i", "u"),
            ("o", "\r\n\x1b[?2004l\rone\r\n"),
            ("o", p),
            ("o", "u"),
            ("i", "name -s"),
            ("o", "name -s"),
            ("i", "\r"),
            ("o", "\r\n\x1b[?2004l\rLinux\r\n"),
            ("o", p),
        ],
        // Between the line's end and the shell turning its editor off.
        vec![
            ("o", p),
            ("i", "echo one"),
            ("o", "echo one"),
            ("i", "\r"),
            ("o", "\r\n"),
            ("i", "u"),
            ("o", "\x1b[?2004l\rone\r\n"),
            ("o", p),
            ("o", "u"),
            ("i", "name -s"),
            ("o", "name -s"),
            ("i", "\r"),
            ("o", "\r\n\x1b[?2004l\rLinux\r\n"),
            ("o", p),
        ],
        // Several keys before the prompt, echoed after it.
        vec![
            ("o", p),
            ("i", "echo one"),
            ("o", "echo one"),
            ("i", "\r"),
            ("o", "\r\n\x1b[?2004l\r"),
            ("i", "u"),
            ("i", "n"),
            ("o", "one\r\n"),
            ("o", p),
            ("o", "un"),
            ("i", "ame -s"),
            ("o", "ame -s"),
            ("i", "\r"),
            ("o", "\r\n\x1b[?2004l\rLinux\r\n"),
            ("o", p),
        ],
        // The whole next line, Enter too, before the prompt.
        vec![
            ("o", p),
            ("i", "echo one"),
            ("o", "echo one"),
            ("i", "\r"),
            ("o", "\r\n\x1b[?2004l\r"),
            ("i", "uname -s"),
            ("i", "\r"),
            ("o", "one\r\n"),
            ("o", p),
            ("o", "uname -s\r\n\x1b[?2004l\rLinux\r\n"),
            ("o", p),
        ],
    ];
    for (n, events) in cases.iter().enumerate() {
        assert_eq!(session(events), vec!["echo one", "uname -s"], "case {n}");
    }
}

/// A recognizer fed `events`, then asked what Enter would hand over.
fn at_enter(events: &[(&str, &str)]) -> AtEnter {
    fed(events).at_enter()
}

/// bash's prompt: its line editor turns bracketed paste on.
const BASH_PROMPT: &str = "\x1b[?2004h$ ";

#[test]
fn at_enter_the_shell_s_line_is_what_was_typed() {
    let typed = at_enter(&[("o", BASH_PROMPT), ("i", "echo hi"), ("o", "echo hi")]);
    assert_eq!(typed, AtEnter::Shell("echo hi".to_owned()));
    // Not echoed yet: plain typing is its own text.
    let ahead_of_echo = at_enter(&[("o", BASH_PROMPT), ("i", "echo hi")]);
    assert_eq!(ahead_of_echo, AtEnter::Shell("echo hi".to_owned()));
    let empty = at_enter(&[("o", BASH_PROMPT)]);
    assert_eq!(empty, AtEnter::Shell(String::new()));
}

#[test]
fn at_enter_a_line_recalled_or_completed_is_read_from_the_screen() {
    // Up: the editor draws the recalled line after the prompt.
    let recalled = at_enter(&[
        ("o", BASH_PROMPT),
        ("i", "\x1b[A"),
        ("o", "systemctl stop nginx"),
    ]);
    assert_eq!(recalled, AtEnter::Shell("systemctl stop nginx".to_owned()));
    // Tab completes the word on the screen.
    let completed = at_enter(&[
        ("o", BASH_PROMPT),
        ("i", "systemctl st"),
        ("o", "systemctl st"),
        ("i", "\t"),
        ("o", "op "),
    ]);
    assert_eq!(completed, AtEnter::Shell("systemctl stop".to_owned()));
    // Ctrl-R: while the search is drawn in the prompt's place, the line is not shown after a
    // prompt: it cannot be read, so an Enter there is not taken for any line. Once the search
    // is accepted (→), the editor draws the prompt and the line again.
    let searched = at_enter(&[
        ("o", BASH_PROMPT),
        ("i", "\x12"),
        ("o", "\r(reverse-i-search)`': "),
        ("i", "etc"),
        ("o", "\r(reverse-i-search)`etc': ls /etc"),
    ]);
    assert_eq!(searched, AtEnter::Unsure);
    let accepted = at_enter(&[
        ("o", BASH_PROMPT),
        ("i", "\x12"),
        ("o", "\r(reverse-i-search)`': "),
        ("i", "etc"),
        ("o", "\r(reverse-i-search)`etc': ls /etc"),
        ("i", "\x1b[C"),
        ("o", "\r\x1b[K$ ls /etc"),
    ]);
    assert_eq!(accepted, AtEnter::Shell("ls /etc".to_owned()));
}

#[test]
fn at_enter_a_program_s_prompt_is_its_input_and_keys_typed_ahead_are_unsure() {
    // The shell ran a command that asks for a password: what is typed is sudo's.
    let password = at_enter(&[
        ("o", BASH_PROMPT),
        ("i", "sudo true"),
        ("o", "sudo true"),
        ("i", "\r"),
        ("o", "\x1b[?2004l\r\n[sudo] password for ops: "),
        ("i", "secret"),
    ]);
    assert_eq!(password, AtEnter::Program);
    // Keys typed while `sleep` runs, nothing printed since: the shell may read them later.
    let ahead = at_enter(&[
        ("o", BASH_PROMPT),
        ("i", "sleep 5"),
        ("o", "sleep 5"),
        ("i", "\r"),
        ("o", "\x1b[?2004l\r\n"),
        ("i", "rm -rf /tmp/x"),
        ("o", "rm -rf /tmp/x"),
    ]);
    assert_eq!(ahead, AtEnter::Unsure);
    // A line still being taken.
    let taking = at_enter(&[("o", BASH_PROMPT), ("i", "ls\r")]);
    assert_eq!(taking, AtEnter::Unsure);
}

/// `noise` fed to a recognizer, asking what Enter would hand over before each input that is
/// Enter alone (as the broker asks before it passes one on) when `asking`: the commands.
fn commands_asking(noise: &Noise, asking: bool) -> Vec<ExecutedCommand> {
    let mut recognizer = CommandRecognizer::new(20, 5);
    for (index, (kind, _, text)) in noise.0.iter().enumerate() {
        let data = match kind % 6 {
            0..=3 => EventData::Output(text.clone()),
            _ => EventData::Input(text.clone()),
        };
        if asking && matches!(&data, EventData::Input(text) if text == "\r") {
            recognizer.at_enter();
        }
        recognizer.feed(&Event {
            time: index as f64,
            data,
        });
    }
    recognizer.finish();
    recognizer.commands().to_vec()
}

#[test]
fn asking_before_enter_changes_nothing_recognised() {
    fn same(noise: Noise) -> bool {
        commands_asking(&noise, true) == commands_asking(&noise, false)
    }
    quickcheck::QuickCheck::new()
        .tests(3_000)
        .quickcheck(same as fn(Noise) -> bool);
}
