//! Shell integration marks: the OSC 133 (FinalTerm) and OSC 633 (its extension with the command
//! line) sequences a shell prints around prompts and commands, found in a session's output.
//! `contrib/shell-integration/changeaudit.sh` makes bash and zsh print them.

use std::collections::HashMap;

/// One announcement of the shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShellMark {
    /// `A`: a prompt starts.
    PromptStart,
    /// `B`: the prompt ends; what follows is the command line being typed.
    CommandStart,
    /// `C`: the command line was accepted and runs now.
    Executed,
    /// `D[;status]`: the command finished.
    Finished { exit_code: Option<i32> },
    /// `E;line[;nonce]` (OSC 633 only): the exact command line about to run.
    CommandLine { line: String, nonce: Option<String> },
    /// `P;Key=Value` (OSC 633 only): a property of the shell, such as `ShellPid`.
    Property { key: String, value: String },
}

/// Where a mark was found: the byte just after its sequence in the chunk pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundMark {
    pub end: usize,
    pub mark: ShellMark,
}

/// A command line the shell announced, with the status it announced for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnouncedCommand {
    pub line: String,
    pub exit_code: Option<i32>,
}

/// Pairs announced command lines with their statuses. A status belongs to the last command line
/// announced by the same shell (`P;ShellPid`), so that after a nested shell ends, the status of
/// the command that started it finds that command. Lines run together before one prompt (a
/// paste) get no status but the last.
#[derive(Debug, Default, Clone)]
pub struct Announcements {
    pub commands: Vec<AnnouncedCommand>,
    shell: Option<String>,
    open: HashMap<Option<String>, usize>,
}

impl Announcements {
    /// Takes one mark; answers the index of a command it announced, if it did.
    pub fn apply(&mut self, mark: ShellMark) -> Option<usize> {
        match mark {
            ShellMark::Property { key, value } if key == "ShellPid" => self.shell = Some(value),
            ShellMark::CommandLine { line, .. } => {
                self.commands.push(AnnouncedCommand {
                    line,
                    exit_code: None,
                });
                let index = self.commands.len() - 1;
                self.open.insert(self.shell.clone(), index);
                return Some(index);
            }
            ShellMark::Finished { exit_code } => {
                if let Some(index) = self.open.remove(&self.shell) {
                    self.commands[index].exit_code = exit_code;
                }
            }
            _ => {}
        }
        None
    }
}

/// An OSC longer than this is not a mark; it is skipped rather than buffered without end.
const LONGEST_OSC: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    #[default]
    Ground,
    Escape,
    /// Inside `ESC ]`, collecting its body.
    Osc,
    /// Inside an OSC, after an `ESC` that may start the `ESC \` terminator.
    OscEscape,
}

/// Finds marks in output pushed chunk by chunk; a sequence split across chunks is found in the
/// chunk where it ends.
#[derive(Debug, Default, Clone)]
pub struct MarkScanner {
    state: State,
    body: Vec<u8>,
    overlong: bool,
}

impl MarkScanner {
    pub fn push(&mut self, chunk: &[u8]) -> Vec<FoundMark> {
        let mut found = Vec::new();
        // Most output holds no escape at all: skip it without walking the state machine.
        if self.state == State::Ground && !chunk.contains(&0x1b) {
            return found;
        }
        for (index, &byte) in chunk.iter().enumerate() {
            self.state = match (self.state, byte) {
                (State::Ground, 0x1b) => State::Escape,
                (State::Ground, _) => State::Ground,
                (State::Escape, b']') => {
                    self.body.clear();
                    self.overlong = false;
                    State::Osc
                }
                (State::Escape, 0x1b) => State::Escape,
                (State::Escape, _) => State::Ground,
                (State::Osc, 0x07) => {
                    self.complete(index + 1, &mut found);
                    State::Ground
                }
                (State::Osc, 0x1b) => State::OscEscape,
                // CAN and SUB abort a control sequence.
                (State::Osc, 0x18 | 0x1a) => State::Ground,
                (State::Osc, _) => {
                    self.collect(byte);
                    State::Osc
                }
                (State::OscEscape, b'\\') => {
                    self.complete(index + 1, &mut found);
                    State::Ground
                }
                // ESC followed by anything else ends the OSC unfinished and starts anew.
                (State::OscEscape, b']') => {
                    self.body.clear();
                    self.overlong = false;
                    State::Osc
                }
                (State::OscEscape, 0x1b) => State::Escape,
                (State::OscEscape, _) => State::Ground,
            };
        }
        found
    }

    fn collect(&mut self, byte: u8) {
        if self.body.len() < LONGEST_OSC {
            self.body.push(byte);
        } else {
            self.overlong = true;
        }
    }

    fn complete(&mut self, end: usize, found: &mut Vec<FoundMark>) {
        if !self.overlong
            && let Some(mark) = parse_osc(&self.body)
        {
            found.push(FoundMark { end, mark });
        }
        self.body.clear();
    }
}

fn parse_osc(body: &[u8]) -> Option<ShellMark> {
    let body = std::str::from_utf8(body).ok()?;
    let (code, rest) = body.split_once(';')?;
    if code != "133" && code != "633" {
        return None;
    }
    let mut fields = rest.split(';');
    let kind = fields.next()?;
    match kind {
        "A" => Some(ShellMark::PromptStart),
        "B" => Some(ShellMark::CommandStart),
        "C" => Some(ShellMark::Executed),
        "D" => Some(ShellMark::Finished {
            exit_code: fields.next().and_then(|code| code.trim().parse().ok()),
        }),
        "E" if code == "633" => Some(ShellMark::CommandLine {
            line: unescape(fields.next().unwrap_or_default()),
            nonce: fields.next().map(str::to_owned),
        }),
        "P" if code == "633" => {
            let (key, value) = fields.next()?.split_once('=')?;
            Some(ShellMark::Property {
                key: key.to_owned(),
                value: unescape(value),
            })
        }
        _ => None,
    }
}

/// Undoes OSC 633's escaping: `\\` is a backslash and `\xHH` the byte HH.
fn unescape(escaped: &str) -> String {
    let bytes = escaped.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'\\' {
            if bytes.get(index + 1) == Some(&b'\\') {
                out.push(b'\\');
                index += 2;
                continue;
            }
            if bytes.get(index + 1) == Some(&b'x')
                && let Some(value) = bytes
                    .get(index + 2..index + 4)
                    .and_then(|hex| std::str::from_utf8(hex).ok())
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            {
                out.push(value);
                index += 4;
                continue;
            }
        }
        out.push(bytes[index]);
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marks(chunks: &[&[u8]]) -> Vec<ShellMark> {
        let mut scanner = MarkScanner::default();
        chunks
            .iter()
            .flat_map(|chunk| scanner.push(chunk))
            .map(|found| found.mark)
            .collect()
    }

    #[test]
    fn finds_osc_633_marks_as_bash_prints_them() {
        // Output of bash with changeaudit.sh sourced, as recorded.
        let output = b"\x1b]633;A\x07root@vm:/tmp# \x1b]633;B\x07echo \"a;b\" && false\r\n\x1b[?2004l\r\x1b]633;E;echo \"a\\x3bb\" && false\x07\x1b]633;C\x07a;b\r\n\x1b]633;D;1\x07";
        assert_eq!(
            marks(&[output]),
            vec![
                ShellMark::PromptStart,
                ShellMark::CommandStart,
                ShellMark::CommandLine {
                    line: "echo \"a;b\" && false".into(),
                    nonce: None
                },
                ShellMark::Executed,
                ShellMark::Finished { exit_code: Some(1) },
            ]
        );
    }

    #[test]
    fn reads_osc_133_with_either_terminator_and_ignores_other_oscs() {
        let output =
            b"\x1b]0;title\x07\x1b]133;A\x1b\\$ \x1b]133;B\x07\x1b]133;D\x07\x1b]1337;X\x07";
        assert_eq!(
            marks(&[output]),
            vec![
                ShellMark::PromptStart,
                ShellMark::CommandStart,
                ShellMark::Finished { exit_code: None }
            ]
        );
    }

    #[test]
    fn a_sequence_split_across_chunks_is_found_where_it_ends() {
        let output: &[u8] = b"ab\x1b]633;E;ls -l\\x0a;nonce1\x07cd";
        for split in 0..output.len() {
            let (first, second) = output.split_at(split);
            let mut scanner = MarkScanner::default();
            let mut found = scanner.push(first);
            let later = scanner.push(second);
            found.extend(later.iter().map(|f| FoundMark {
                end: f.end + first.len(),
                mark: f.mark.clone(),
            }));
            assert_eq!(
                found,
                vec![FoundMark {
                    end: output.len() - 2,
                    mark: ShellMark::CommandLine {
                        line: "ls -l\n".into(),
                        nonce: Some("nonce1".into())
                    }
                }],
                "split at {split}"
            );
        }
    }

    #[test]
    fn statuses_find_their_command_across_nested_shells() {
        let output = b"\x1b]633;P;ShellPid=10\x07\x1b]633;E;bash\x07\
            \x1b]633;P;ShellPid=20\x07\x1b]633;E;false\x07\x1b]633;P;ShellPid=20\x07\x1b]633;D;1\x07\
            \x1b]633;P;ShellPid=20\x07\x1b]633;E;exit\x07\
            \x1b]633;P;ShellPid=10\x07\x1b]633;D;0\x07";
        let mut announcements = Announcements::default();
        for found in MarkScanner::default().push(output) {
            announcements.apply(found.mark);
        }
        let pairs: Vec<(&str, Option<i32>)> = announcements
            .commands
            .iter()
            .map(|c| (c.line.as_str(), c.exit_code))
            .collect();
        assert_eq!(
            pairs,
            vec![("bash", Some(0)), ("false", Some(1)), ("exit", None)]
        );
    }

    #[test]
    fn unescapes_backslashes_and_hex_bytes() {
        assert_eq!(unescape(r"a\\b\x3bc\x0a\xzz"), "a\\b;c\n\\xzz");
        assert_eq!(unescape(r"caf\xc3\xa9"), "café");
    }

    #[test]
    fn an_endless_osc_is_bounded_and_skipped() {
        let mut scanner = MarkScanner::default();
        scanner.push(b"\x1b]633;E;");
        for _ in 0..100 {
            assert!(scanner.push(&[b'x'; 1024]).is_empty());
        }
        assert!(scanner.body.len() <= LONGEST_OSC);
        assert!(scanner.push(b"\x07").is_empty());
        assert_eq!(marks(&[b"\x1b]633;C\x07"]), vec![ShellMark::Executed]);
    }
}
