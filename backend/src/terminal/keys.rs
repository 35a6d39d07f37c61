//! The keys a script-only session passes on: typing, the line editor's moves, history and
//! completion, and Enter. Keys that make the line editor run or change a line without the
//! gate seeing it are dropped: quoted insert (Ctrl-V, which makes any key text, a bracketed
//! paste's start included), Ctrl-X chords (edit-and-execute, keyboard macros), Ctrl-O (runs the
//! line and brings up another), Alt chords (insert-comment, shell-expand-line, which runs
//! command substitutions), Ctrl-Z and Ctrl-\ (bash ignores them; the line stays) and 8-bit
//! controls. Inside a bracketed paste only text, Tab and line breaks pass.

/// Splits browser keys into those passed on and those dropped, across messages: an escape
/// sequence or a paste may arrive in pieces.
#[derive(Debug, Default)]
pub struct KeyFilter {
    /// The start of an escape sequence still coming.
    partial: String,
    in_paste: bool,
}

pub(super) const PASTE_START: &str = "\x1b[200~";
pub(super) const PASTE_END: &str = "\x1b[201~";

/// Control keys passed on outside a paste: Enter (CR, LF), Tab, Backspace (DEL, BS), Ctrl-A,
/// -B, -C, -D, -E, -F, -G, -K, -L, -N, -P, -R, -S, -T, -U, -W, -Y. Each either moves,
/// abandons, or edits the line in a way the recognizer reads off the screen.
const PASSED_CONTROLS: &[char] = &[
    '\r', '\n', '\t', '\x7f', '\x08', '\x01', '\x02', '\x03', '\x04', '\x05', '\x06', '\x07',
    '\x0b', '\x0c', '\x0e', '\x10', '\x12', '\x13', '\x14', '\x15', '\x17', '\x19',
];

impl KeyFilter {
    /// Answers the keys to pass on and the keys dropped.
    pub fn filter(&mut self, keys: &str) -> (String, String) {
        let mut text = std::mem::take(&mut self.partial);
        text.push_str(keys);
        let mut passed = String::with_capacity(text.len());
        let mut dropped = String::new();
        let mut rest = text.as_str();
        while let Some(key) = rest.chars().next() {
            if key == '\x1b' {
                match sequence(rest) {
                    None => {
                        // Incomplete: it is finished by the next message.
                        self.partial = rest.to_owned();
                        break;
                    }
                    Some(length) => {
                        let (sequence, after) = rest.split_at(length);
                        if self.sequence_passes(sequence) {
                            passed.push_str(sequence);
                        } else {
                            dropped.push_str(sequence);
                        }
                        rest = after;
                        continue;
                    }
                }
            }
            let passes = if self.in_paste {
                !key.is_control() || matches!(key, '\t' | '\r' | '\n')
            } else {
                (!key.is_control()) || PASSED_CONTROLS.contains(&key)
            };
            if passes {
                passed.push(key);
            } else {
                dropped.push(key);
            }
            rest = &rest[key.len_utf8()..];
        }
        (passed, dropped)
    }

    fn sequence_passes(&mut self, sequence: &str) -> bool {
        if self.in_paste {
            if sequence == PASTE_END {
                self.in_paste = false;
                return true;
            }
            return false;
        }
        if sequence == PASTE_START {
            self.in_paste = true;
            return true;
        }
        moves(sequence)
    }
}

/// The length of the escape sequence `text` begins with, or none when it is not whole yet.
fn sequence(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    match bytes.get(1) {
        None => None,
        // CSI: parameters and intermediates, then a final byte.
        Some(b'[') => bytes[2..]
            .iter()
            .position(|byte| (0x40..=0x7e).contains(byte))
            .map(|at| at + 3),
        Some(b'O') => bytes.get(2).map(|_| 3),
        // ESC and one key (an Alt chord), a whole character.
        Some(_) => text[1..].chars().next().map(|key| 1 + key.len_utf8()),
    }
}

/// Arrows, Home, End, Delete, Page Up and Down, with or without a modifier.
fn moves(sequence: &str) -> bool {
    let Some(body) = sequence
        .strip_prefix("\x1b[")
        .or_else(|| sequence.strip_prefix("\x1bO"))
    else {
        return false;
    };
    let body = body.strip_prefix("1;").map_or(body, |modified| {
        modified.trim_start_matches(|c: char| ('2'..='8').contains(&c))
    });
    matches!(
        body,
        "A" | "B" | "C" | "D" | "H" | "F" | "1~" | "3~" | "4~" | "5~" | "6~" | "7~" | "8~"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filtered(messages: &[&str]) -> (String, String) {
        let mut filter = KeyFilter::default();
        let (mut passed, mut dropped) = (String::new(), String::new());
        for message in messages {
            let (p, d) = filter.filter(message);
            passed.push_str(&p);
            dropped.push_str(&d);
        }
        (passed, dropped)
    }

    #[test]
    fn typing_moving_history_and_completion_pass() {
        let keys = "ls -l\x7f\x1b[A\x1b[B\x1b[1;5C\x1bOH\x1b[3~\t\x12ls\x05\x15\x03é\r";
        assert_eq!(filtered(&[keys]), (keys.to_owned(), String::new()));
    }

    #[test]
    fn keys_that_run_or_change_a_line_unseen_are_dropped() {
        let (passed, dropped) = filtered(&[
            "#rm x\x1b1\x1b#",
            "$(rm x)\x1b\x05",
            "rm x\x18\x05",
            "ls\x18(",
            "\x16\x1b[200~\x15rm x\x0f\x1b[201~",
            "rm x\x1a\x1c\u{9b}",
        ]);
        assert_eq!(
            passed, "#rm x$(rm x)rm x\x05ls(\x1b[200~rm x\x1b[201~rm x",
            "Ctrl-V gone, the paste is a paste, and control keys in it are dropped"
        );
        assert_eq!(
            dropped,
            "\x1b1\x1b#\x1b\x05\x18\x18\x16\x15\x0f\x1a\x1c\u{9b}"
        );
    }

    #[test]
    fn a_sequence_or_a_paste_split_across_messages_is_whole() {
        assert_eq!(
            filtered(&["ls\x1b", "[A", "\x1b[20", "0~a\x01b\r", "\x1b[201~"]),
            (
                "ls\x1b[A\x1b[200~ab\r\x1b[201~".to_owned(),
                "\x01".to_owned()
            )
        );
    }
}
