//! Shell integration marks: the OSC 133 (FinalTerm) and OSC 633 (its extension with the command
//! line) sequences a shell prints around prompts and commands, found in a session's output.
//! `contrib/shell-integration/changeaudit.sh` makes bash and zsh print them.

/// One announcement of the shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShellMark {
    /// `A`: a prompt starts.
    PromptStart,
    /// `B`: the prompt ends; what follows is the command line being typed.
    CommandStart,
    /// `C`: the command line was accepted and runs now.
    Executed,
    /// `D[;status[;nonce]]`: the command finished.
    Finished {
        exit_code: Option<i32>,
        nonce: Option<String>,
    },
    /// `E;line[;nonce]` (OSC 633 only): the exact command line about to run.
    CommandLine { line: String, nonce: Option<String> },
    /// `P;Key=Value` (OSC 633 only): a property of the shell, such as `ShellPid`.
    Property { key: String, value: String },
}

/// Where a mark was found in the chunk pushed: `end` is the byte just after its sequence, and
/// `adjoins` says that it followed the previous mark with nothing between them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundMark {
    pub end: usize,
    pub adjoins: bool,
    pub mark: ShellMark,
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
    /// Nothing but marks came since the last mark ended.
    after_mark: bool,
}

impl MarkScanner {
    /// Whether `chunk` can hold no mark, nor finish or go on with one: no escape in it, and
    /// none begun before. Such a chunk need not be pushed, only noted with `skip`.
    pub fn passes_over(&self, chunk: &[u8]) -> bool {
        self.state == State::Ground && !chunk.contains(&0x1b)
    }

    /// Notes a chunk that `passes_over` said holds nothing: what follows no longer adjoins the
    /// last mark.
    pub fn skip(&mut self, chunk: &[u8]) {
        self.after_mark &= chunk.is_empty();
    }

    pub fn push(&mut self, chunk: &[u8]) -> Vec<FoundMark> {
        let mut found = Vec::new();
        // Most output holds no escape at all: skip it without walking the state machine.
        if self.state == State::Ground && !chunk.contains(&0x1b) {
            self.after_mark &= chunk.is_empty();
            return found;
        }
        let mut index = 0;
        while index < chunk.len() {
            if self.state == State::Ground {
                // Jump to the next escape: text between marks is most of the output.
                match chunk[index..].iter().position(|&byte| byte == 0x1b) {
                    Some(0) => {}
                    Some(skip) => {
                        self.after_mark = false;
                        index += skip;
                    }
                    None => {
                        self.after_mark = false;
                        break;
                    }
                }
            }
            let byte = chunk[index];
            self.state = match (self.state, byte) {
                (State::Ground, 0x1b) => State::Escape,
                (State::Ground, _) => {
                    self.after_mark = false;
                    State::Ground
                }
                (State::Escape, b']') => {
                    self.body.clear();
                    self.overlong = false;
                    State::Osc
                }
                (State::Escape, 0x1b) => State::Escape,
                (State::Escape, _) => {
                    self.after_mark = false;
                    State::Ground
                }
                (State::Osc, 0x07) => {
                    self.complete(index + 1, &mut found);
                    State::Ground
                }
                (State::Osc, 0x1b) => State::OscEscape,
                // CAN and SUB abort a control sequence.
                (State::Osc, 0x18 | 0x1a) => State::Ground,
                (State::Osc, _) => {
                    // The body runs to whatever may end it; taken in one piece.
                    let run = chunk[index..]
                        .iter()
                        .position(|&b| matches!(b, 0x07 | 0x1b | 0x18 | 0x1a))
                        .unwrap_or(chunk.len() - index);
                    self.collect(&chunk[index..index + run]);
                    index += run;
                    continue;
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
            index += 1;
        }
        found
    }

    fn collect(&mut self, bytes: &[u8]) {
        if self.body.len() + bytes.len() <= LONGEST_OSC {
            self.body.extend_from_slice(bytes);
        } else {
            self.overlong = true;
        }
    }

    fn complete(&mut self, end: usize, found: &mut Vec<FoundMark>) {
        match parse_osc(&self.body).filter(|_| !self.overlong) {
            Some(mark) => {
                found.push(FoundMark {
                    end,
                    adjoins: self.after_mark,
                    mark,
                });
                self.after_mark = true;
            }
            None => self.after_mark = false,
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
            nonce: fields.next().map(str::to_owned),
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
    if !escaped.contains('\\') {
        return escaped.to_owned();
    }
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
                ShellMark::Finished {
                    exit_code: Some(1),
                    nonce: None
                },
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
                ShellMark::Finished {
                    exit_code: None,
                    nonce: None
                }
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
                ..f.clone()
            }));
            assert_eq!(
                found,
                vec![FoundMark {
                    end: output.len() - 2,
                    adjoins: false,
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
    fn marks_say_whether_they_follow_another_mark_directly() {
        let mut scanner = MarkScanner::default();
        let found = scanner.push(b"\x1b]633;P;ShellPid=1\x07\x1b]633;D;0;n\x07x\x1b]633;D;1\x07");
        let adjoins: Vec<bool> = found.iter().map(|f| f.adjoins).collect();
        assert_eq!(adjoins, vec![false, true, false]);
        assert_eq!(
            found[1].mark,
            ShellMark::Finished {
                exit_code: Some(0),
                nonce: Some("n".into())
            }
        );
        assert!(scanner.push(b"\x1b]633;C\x07")[0].adjoins);
        scanner.push(b"text");
        assert!(!scanner.push(b"\x1b]633;C\x07")[0].adjoins);
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
