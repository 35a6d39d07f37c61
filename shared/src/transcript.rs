//! A session's text as a person read it: what the device printed (the typed commands echo in
//! it), without the terminal's escape sequences, carriage returns or other controls, and with
//! backspaces applied. It is what Audited sessions searches and Session logs downloads.

/// Text kept per session at most; a longer session keeps its beginning and says so.
pub const MAX_BYTES: usize = 8 * 1024 * 1024;
const CUT: &str = "\n[… the rest of the session's text is in its recording]\n";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Escape {
    #[default]
    None,
    /// After ESC.
    Start,
    /// In a CSI sequence (`ESC [`), until its final byte.
    Csi,
    /// In an OSC, DCS or similar string (`ESC ]`, `ESC P`…), until BEL or `ESC \`.
    Text,
    /// ESC inside such a string: `\` ends it.
    TextEsc,
}

#[derive(Debug, Clone, Default)]
pub struct Transcript {
    text: String,
    escape: Escape,
    full: bool,
}

impl Transcript {
    pub fn new() -> Self {
        Transcript::default()
    }

    /// Adds output as it came, in pieces of any size. Runs of plain text outside escape
    /// sequences (most of any output) are copied whole; the rest goes a character at a time.
    pub fn feed(&mut self, data: &str) {
        let mut rest = data;
        // Once full, nothing more is kept, so nothing more need be read.
        while !rest.is_empty() && !self.full {
            if self.escape == Escape::None {
                let plain = rest
                    .bytes()
                    .take_while(|byte| matches!(byte, b' '..=b'~' | b'\n' | b'\t'))
                    .count();
                if plain > 0 {
                    self.push_plain(&rest[..plain]);
                    rest = &rest[plain..];
                    continue;
                }
            }
            let mut chars = rest.chars();
            if let Some(c) = chars.next() {
                self.step(c);
            }
            rest = chars.as_str();
        }
    }

    /// Printable ASCII, newlines and tabs, kept as they are up to the limit.
    fn push_plain(&mut self, text: &str) {
        let room = MAX_BYTES.saturating_sub(self.text.len());
        if text.len() < room {
            self.text.push_str(text);
        } else {
            // ASCII: any byte is a character boundary.
            self.text.push_str(&text[..room]);
            self.text.push_str(CUT);
            self.full = true;
        }
    }

    /// One character through the escape-sequence reader.
    fn step(&mut self, c: char) {
        self.escape = match (self.escape, c) {
            // CAN and SUB abandon any sequence, as terminals do.
            (_, '\u{18}' | '\u{1a}') => Escape::None,
            (Escape::None, '\u{1b}') => Escape::Start,
            (Escape::None, c) => {
                self.push(c);
                Escape::None
            }
            (Escape::Start, '[') => Escape::Csi,
            (Escape::Start, ']' | 'P' | 'X' | '^' | '_') => Escape::Text,
            (Escape::Start, _) => Escape::None,
            (Escape::Csi, '\u{40}'..='\u{7e}') => Escape::None,
            (Escape::Csi, _) => Escape::Csi,
            (Escape::Text, '\u{7}') => Escape::None,
            (Escape::Text, '\u{1b}') => Escape::TextEsc,
            (Escape::Text, _) => Escape::Text,
            (Escape::TextEsc, '\\') => Escape::None,
            (Escape::TextEsc, _) => Escape::Text,
        };
    }

    fn push(&mut self, c: char) {
        if self.full {
            return;
        }
        match c {
            '\u{8}' => {
                if self.text.ends_with(|last| last != '\n') {
                    self.text.pop();
                }
            }
            '\n' | '\t' => self.text.push(c),
            c if c.is_control() => {}
            c => self.text.push(c),
        }
        if self.text.len() >= MAX_BYTES {
            self.text.push_str(CUT);
            self.full = true;
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn into_text(self) -> String {
        self.text
    }
}

#[cfg(test)]
mod tests {
    use quickcheck::quickcheck;

    use super::*;

    quickcheck! {
        /// However the output is cut into pieces (plain runs copied whole or a character at a
        /// time), the text is the same.
        fn the_text_does_not_depend_on_how_output_is_cut(pieces: Vec<String>) -> bool {
            let whole: String = pieces.concat();
            let mut by_char = Transcript::new();
            for c in whole.chars() {
                by_char.feed(c.encode_utf8(&mut [0; 4]));
            }
            let pieces: Vec<&str> = pieces.iter().map(String::as_str).collect();
            of(&pieces) == of(&[whole.as_str()]) && by_char.into_text() == of(&pieces)
        }
    }

    #[test]
    fn a_long_session_keeps_exactly_its_first_bytes_and_says_so() {
        let line = "0123456789abcdef\u{1b}[0m\r\n";
        let mut transcript = Transcript::new();
        while !transcript.full {
            transcript.feed(line);
        }
        let text = transcript.into_text();
        let kept = text.strip_suffix(CUT).unwrap();
        assert_eq!(kept.len(), MAX_BYTES);
        assert!(kept.starts_with("0123456789abcdef\n0123"));
    }

    fn of(pieces: &[&str]) -> String {
        let mut transcript = Transcript::new();
        for piece in pieces {
            transcript.feed(piece);
        }
        transcript.into_text()
    }

    #[test]
    fn escapes_and_controls_go_and_the_words_stay() {
        assert_eq!(
            of(&[
                "\u{1b}[1;32muser@host\u{1b}[0m:~$ ",
                "ech",
                "o hi\r\nhi\r\n"
            ]),
            "user@host:~$ echo hi\nhi\n"
        );
        // A title set by the prompt (OSC, ended by BEL or ST), split across pieces.
        assert_eq!(
            of(&[
                "\u{1b}]0;user@host: ~\u{7}$ ls\r\n",
                "\u{1b}]2;t\u{1b}",
                "\\a\r\n"
            ]),
            "$ ls\na\n"
        );
        // Backspaces erase what they follow, never a line already ended.
        assert_eq!(of(&["\nlss\u{8} \u{8}\u{8}s\r\n\u{8}"]), "\nls\n");
        // A sequence abandoned with CAN hides nothing after it.
        assert_eq!(of(&["\u{1b}P\u{18}shown\r\n"]), "shown\n");
    }

    #[test]
    fn a_very_long_session_keeps_its_beginning_and_says_so() {
        let mut transcript = Transcript::new();
        let line = "x".repeat(1023) + "\n";
        for _ in 0..(MAX_BYTES / 1024 + 10) {
            transcript.feed(&line);
        }
        assert!(transcript.text().len() < MAX_BYTES + 100);
        assert!(transcript.text().ends_with(CUT));
    }
}
