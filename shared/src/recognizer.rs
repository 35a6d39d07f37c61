//! Command recognition: from a session's timed input and output, the command lines the shell
//! ran. The output drives a terminal emulator; when Enter is accepted, the command line is read
//! off the screen, so it is right after any editing, history recall, completion or search. A
//! shell that announces its commands (OSC 633, see `shell_marks`) is believed instead, with the
//! exit statuses it gives.

use std::num::NonZeroU16;

use crate::asciicast::{Event, EventData};
use crate::command::{ExecutedCommand, Recognition};
use crate::shell_marks::{Announcements, MarkScanner};
use crate::words::Words;

const PASTE_START: &str = "\x1b[200~";
const PASTE_END: &str = "\x1b[201~";
/// A line editor that turned bracketed paste on turns it off when it hands the line over.
const PASTE_MODE_OFF: &[u8] = b"\x1b[?2004l";

/// Enter was pressed; the line is read once the shell has taken it.
#[derive(Debug, Clone, Copy)]
struct Acceptance {
    at: f64,
    /// The line editor runs with bracketed paste on: it has taken the line (a buffer that may
    /// hold several lines) when it turns the mode off. Otherwise, when it echoes a newline.
    until_paste_mode_off: bool,
}

/// Where the line being read ends on the screen.
#[derive(Debug, Clone, Copy)]
enum LineEnd {
    /// On the cursor's row, or further on if that row wraps.
    AtCursor,
    /// On the row above the cursor: the editor has moved past the line.
    AboveCursor,
}

/// The prompt a command line is being typed after: its text and how many columns it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Prompt {
    text: String,
    cols: u16,
}

pub struct CommandRecognizer {
    terminal: vt100::Parser,
    marks: MarkScanner,
    announcements: Announcements,
    /// When each announced command was announced, by index.
    announced_at: Vec<f64>,
    from_screen: Vec<ExecutedCommand>,
    /// The prompt of the line being typed, taken at its first keystroke.
    prompt: Option<Prompt>,
    accepting: Option<Acceptance>,
    /// A command line the shell has not finished reading (open quote, here-document, `\`).
    unfinished: Option<String>,
    /// Inside a bracketed paste, Enter is text, not acceptance.
    in_paste: bool,
    /// Counts what may have changed `commands()`: a live session reads them again only then.
    revision: u64,
}

impl CommandRecognizer {
    pub fn new(cols: u16, rows: u16) -> Self {
        CommandRecognizer {
            terminal: vt100::Parser::new(non_zero(rows), non_zero(cols), 0),
            marks: MarkScanner::default(),
            announcements: Announcements::default(),
            announced_at: Vec::new(),
            from_screen: Vec::new(),
            prompt: None,
            accepting: None,
            unfinished: None,
            in_paste: false,
            revision: 0,
        }
    }

    /// Changes whenever `commands()` may have: a command recognised or announced, or an exit
    /// status learnt.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    pub fn feed(&mut self, event: &Event) {
        match &event.data {
            EventData::Output(text) => self.output(event.time, text.as_bytes()),
            EventData::Input(text) => self.input(event.time, text),
            EventData::Resize { cols, rows } => {
                self.terminal.set_size(non_zero(*rows), non_zero(*cols));
            }
            EventData::Marker(_) => {}
        }
    }

    /// The commands recognised so far.
    pub fn commands(&self) -> Vec<ExecutedCommand> {
        if self.announcements.commands.is_empty() {
            return self.from_screen.clone();
        }
        self.announcements
            .commands
            .iter()
            .zip(&self.announced_at)
            .map(|(command, at)| ExecutedCommand {
                text: command.line.clone(),
                offset: *at,
                exit_code: command.exit_code,
                source: Recognition::ShellIntegration,
            })
            .collect()
    }

    /// The commands read off the screen, whether or not the shell announced its own.
    pub fn screen_commands(&self) -> &[ExecutedCommand] {
        &self.from_screen
    }

    fn output(&mut self, time: f64, bytes: &[u8]) {
        for found in self.marks.push(bytes) {
            self.revision += 1;
            if self.announcements.apply(found.mark).is_some() {
                self.announced_at.push(time);
            }
        }
        let mut rest = bytes;
        if let Some(acceptance) = self.accepting {
            let (marker, end): (&[u8], LineEnd) = if acceptance.until_paste_mode_off {
                (PASTE_MODE_OFF, LineEnd::AboveCursor)
            } else {
                (b"\n", LineEnd::AtCursor)
            };
            if let Some(position) = find(rest, marker) {
                self.terminal.process(&rest[..position]);
                rest = &rest[position..];
                self.accepting = None;
                self.accept(acceptance.at, end);
            }
        }
        self.terminal.process(rest);
    }

    fn input(&mut self, time: f64, text: &str) {
        let mut rest = text;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix(PASTE_START) {
                self.in_paste = true;
                self.typed();
                rest = after;
                continue;
            }
            if let Some(after) = rest.strip_prefix(PASTE_END) {
                self.in_paste = false;
                rest = after;
                continue;
            }
            let Some(key) = rest.chars().next() else {
                break;
            };
            rest = &rest[key.len_utf8()..];
            if let Some(acceptance) = self.accepting.take() {
                // A key before the shell moved past the last line: that line was read with
                // echo off (a password), or typed ahead. Read it as the screen is now.
                self.accept(acceptance.at, LineEnd::AtCursor);
            }
            if self.terminal.screen().alternate_screen() {
                // A full-screen program has the keyboard: nothing typed there is a command.
                continue;
            }
            match key {
                '\r' | '\n' if !self.in_paste => {
                    self.typed();
                    self.accepting = Some(Acceptance {
                        at: time,
                        until_paste_mode_off: self.terminal.screen().bracketed_paste(),
                    });
                }
                '\x03' => {
                    // Ctrl-C: the line, and any unfinished command, are abandoned.
                    self.prompt = None;
                    self.unfinished = None;
                    self.accepting = None;
                }
                _ => self.typed(),
            }
        }
    }

    /// A key reached the line editor: the first one of a line marks where the prompt ends.
    fn typed(&mut self) {
        if self.prompt.is_some() {
            return;
        }
        let screen = self.terminal.screen();
        let (row, col) = screen.cursor_position();
        let text = row_text(screen, row, 0, col);
        self.prompt = Some(Prompt { text, cols: col });
    }

    /// The shell took the line: read it off the screen and record what it runs.
    fn accept(&mut self, at: f64, end: LineEnd) {
        let Some(prompt) = self.prompt.take() else {
            return;
        };
        let continuing = self.unfinished.is_some();
        if !continuing && !looks_like_shell_prompt(&prompt.text) {
            // A program's own prompt (`Password:`, `Continue?`): what it reads is no command.
            return;
        }
        let Some(text) = self.line_after(&prompt, end) else {
            return;
        };
        for line in text.split('\n') {
            let candidate = match self.unfinished.take() {
                Some(start) => join_continued(start, line),
                None => line.to_owned(),
            };
            match Words::parse(&candidate) {
                Err(_) => self.unfinished = Some(candidate),
                Ok(words) if words.is_empty() => {}
                Ok(_) => {
                    self.revision += 1;
                    self.from_screen.push(ExecutedCommand {
                        text: candidate,
                        offset: at,
                        exit_code: None,
                        source: Recognition::Screen,
                    });
                }
            }
        }
    }

    /// The text after `prompt` on the screen: from the last row that starts with the prompt to
    /// where the line ends. Soft-wrapped rows join without a break; other rows are lines of
    /// their own (a paste of several lines).
    fn line_after(&self, prompt: &Prompt, line_end: LineEnd) -> Option<String> {
        let screen = self.terminal.screen();
        let (rows, cols) = screen.size();
        let (rows, cols) = (rows.get(), cols.get());
        let (cursor_row, _) = screen.cursor_position();
        let last_row = match line_end {
            LineEnd::AtCursor => cursor_row,
            LineEnd::AboveCursor => cursor_row.saturating_sub(1),
        };
        let start = (0..=last_row).rev().find(|&row| {
            (row == 0 || !screen.row_wrapped(row - 1))
                && row_text(screen, row, 0, prompt.cols) == prompt.text
        })?;
        let mut end = last_row;
        while matches!(line_end, LineEnd::AtCursor) && end + 1 < rows && screen.row_wrapped(end) {
            end += 1;
        }
        let mut text = String::new();
        for row in start..=end {
            let from = if row == start { prompt.cols } else { 0 };
            let part = row_text(screen, row, from, cols);
            if screen.row_wrapped(row) && row < end {
                text.push_str(&part);
            } else {
                text.push_str(part.trim_end());
                if row < end {
                    text.push('\n');
                }
            }
        }
        Some(text)
    }
}

/// The text of `row` between two columns, as the screen shows it: a wide character once,
/// blanks between characters as spaces, trailing blanks dropped. `contents_between` walks only
/// the rows asked for, where looking cells up one by one would walk the grid for each.
fn row_text(screen: &vt100::Screen, row: u16, from: u16, to: u16) -> String {
    let (_, cols) = screen.size();
    let cols = cols.get();
    // A prompt taken before the terminal shrank may lie past its last column.
    if from >= cols || from >= to {
        return String::new();
    }
    if to >= cols {
        // From `from` to the end of the row; a row that does not wrap comes with a newline.
        let mut text = screen.contents_between(row, from, row.saturating_add(1), 0);
        if text.ends_with('\n') {
            text.pop();
        }
        text
    } else if from == 0 && row > 0 {
        // Nothing of the row above, then this row up to `to`.
        let text = screen.contents_between(row - 1, cols, row, to);
        text.strip_prefix('\n').map_or(text.clone(), str::to_owned)
    } else {
        screen
            .rows(from, to.saturating_sub(from))
            .nth(usize::from(row))
            .unwrap_or_default()
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

fn non_zero(value: u16) -> NonZeroU16 {
    NonZeroU16::new(value).unwrap_or(NonZeroU16::MIN)
}

/// Shell prompts end in `$`, `#`, `%` or `>` (bash, root, zsh, nested or custom shells).
fn looks_like_shell_prompt(prompt: &str) -> bool {
    prompt.trim_end().ends_with(['$', '#', '%', '>', '❯', '»'])
}

/// The next line of a command the shell is still reading: a trailing backslash joins the lines
/// (the shell drops it and the newline), anything else keeps the newline.
fn join_continued(mut start: String, line: &str) -> String {
    let backslashes = start.chars().rev().take_while(|&c| c == '\\').count();
    if backslashes % 2 == 1 {
        start.pop();
        start.push_str(line);
    } else {
        start.push('\n');
        start.push_str(line);
    }
    start
}

#[cfg(test)]
mod tests {
    use quickcheck::Arbitrary;

    use super::*;

    fn session(events: &[(&str, &str)]) -> Vec<String> {
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
        recognizer.commands().into_iter().map(|c| c.text).collect()
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
    const PIECES: [&str; 20] = [
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
}
