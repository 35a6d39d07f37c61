//! The line the person typed, rebuilt from their keystrokes alone. The device cannot forge
//! keystrokes, so a line typed plainly (characters, Backspace, Ctrl-U, Ctrl-W, pastes) is known
//! exactly without the screen. A line edited with keys whose effect depends on the line editor
//! (arrows, Tab, history, search, Escape) is read off the screen instead.

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TypedLine {
    text: String,
    /// A key whose effect only the line editor knows was pressed.
    edited: bool,
    /// Ctrl-V came last: the next key goes in as it is (readline's and zle's quoted insert).
    quoting: bool,
    /// Characters the keys put in the line themselves, typed or pasted.
    typed: usize,
    /// A key that may put text in the line without typing it: history, completion, search,
    /// yank, an Alt chord.
    recalled: bool,
    escape: Escape,
}

/// Where the keys are in an escape sequence (arrows and the like).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Escape {
    #[default]
    None,
    /// After ESC.
    Start,
    /// After `ESC [` or `ESC O`, until the final byte.
    Sequence,
}

impl TypedLine {
    /// The line, if plain typing made it.
    pub fn text(&self) -> Option<&str> {
        (!self.edited).then_some(self.text.as_str())
    }

    pub fn key(&mut self, key: char) {
        if std::mem::take(&mut self.quoting) {
            self.text.push(key);
            self.typed += 1;
            return;
        }
        match self.escape {
            Escape::Start if matches!(key, '[' | 'O') => {
                self.escape = Escape::Sequence;
                return;
            }
            Escape::Start => {
                // An Alt chord (Alt-. puts in the last argument) or vi's command mode.
                self.escape = Escape::None;
                self.recalled = true;
                return;
            }
            Escape::Sequence => {
                if ('\u{40}'..='\u{7e}').contains(&key) {
                    // Up and Down bring lines from history; the other keys move.
                    self.recalled |= matches!(key, 'A' | 'B');
                    self.escape = Escape::None;
                }
                return;
            }
            Escape::None => {}
        }
        match key {
            '\x1b' => {
                self.edited = true;
                self.escape = Escape::Start;
            }
            '\t' | '\x12' | '\x13' | '\x10' | '\x0e' | '\x19' => {
                self.edited = true;
                self.recalled = true;
            }
            '\x16' => self.quoting = true,
            '\x7f' | '\x08' => {
                self.text.pop();
            }
            '\x15' => self.text.clear(),
            // readline's unix-word-rubout: back over blanks, then to the blank before the word.
            '\x17' => {
                let kept = self.text.trim_end_matches([' ', '\t']);
                let kept = kept.trim_end_matches(|c| c != ' ' && c != '\t').len();
                self.text.truncate(kept);
            }
            // Ctrl-L clears the screen and draws the line again, unchanged.
            '\x0c' => {}
            c if c < ' ' || c == '\u{9b}' => self.edited = true,
            c => {
                self.text.push(c);
                self.typed += 1;
                // Past ASCII, what a later Backspace takes is the line editor's to say (a
                // combining mark goes with the character before it; bytes outside the locale
                // are rung and dropped): the screen says what the line is.
                self.edited |= !c.is_ascii();
            }
        }
    }

    /// How many characters the keys themselves put in the line.
    pub fn typed(&self) -> usize {
        self.typed
    }

    /// Whether a key may have put text in the line without typing it.
    pub fn recalled(&self) -> bool {
        self.recalled
    }

    /// The keys' text, edited or not.
    pub fn raw(&self) -> Option<&str> {
        (!self.text.is_empty()).then_some(self.text.as_str())
    }

    /// The line editor changed the line itself: the screen has it now.
    pub fn mark_edited(&mut self) {
        self.edited = true;
    }

    pub fn quoting(&self) -> bool {
        self.quoting
    }

    /// Pasted text goes into the line as it stands; its line breaks are Enter keys the line
    /// editor keeps.
    pub fn paste(&mut self, text: char) {
        self.typed += 1;
        match text {
            '\r' | '\n' => self.text.push('\n'),
            c => self.text.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(keys: &str) -> Option<String> {
        let mut line = TypedLine::default();
        keys.chars().for_each(|key| line.key(key));
        line.text().map(str::to_owned)
    }

    #[test]
    fn plain_typing_with_its_mendings_is_known() {
        assert_eq!(typed("ech\x7fho hi"), Some("echo hi".into()));
        assert_eq!(typed("rm -rf /\x15ls"), Some("ls".into()));
        assert_eq!(
            typed("echo one two \x17three"),
            Some("echo one three".into())
        );
        assert_eq!(typed("echo one\x16\ttwo\x17"), Some("echo one\t".into()));
    }

    #[test]
    fn ctrl_v_puts_the_next_key_in_as_it_is() {
        assert_eq!(typed("echo a\x16\x01b"), Some("echo a\x01b".into()));
    }

    #[test]
    fn editor_keys_leave_it_to_the_screen() {
        assert_eq!(typed("ls\x1b[D"), None);
        assert_eq!(typed("ech\t"), None);
        assert_eq!(typed("\x12need"), None);
        assert_eq!(typed("#\u{301}\x7fls"), None, "a combining mark");
    }
}
