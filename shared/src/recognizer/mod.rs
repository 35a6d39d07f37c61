//! Command recognition: from a session's timed input and output, the command lines the shell
//! ran. A command counts only when the person's own input accepted it (an Enter, or a paste
//! carrying line breaks): the device cannot forge keystrokes. Its text is the line as the shell
//! took it: what plain typing made, or, when the line was edited with keys only the line editor
//! understands, what the screen shows after the prompt at that moment, reading only what was
//! drawn since the line was begun. Output is never a command, however much it looks like a prompt
//! and a command line.
//!
//! Shell-integration marks (see `shell_marks`) corroborate: an announced line that agrees
//! confirms the command and its shell's status gives the exit code; a mark the input does not
//! bear out is a finding (see `corroboration`). A mark never makes or rewrites a command.

mod corroboration;
mod history;
pub mod screen;
mod typed;

use crate::asciicast::{Event, EventData};
use crate::command::{ExecutedCommand, Finding, Recognition};
use crate::shell_marks::MarkScanner;
use crate::words::Words;

use corroboration::{Corroboration, Effect};
use history::{Expansion, History};
use screen::{Screen, Stamp};
use typed::TypedLine;

const PASTE_START: &str = "\x1b[200~";
const PASTE_END: &str = "\x1b[201~";
/// A line editor that turned bracketed paste on turns it off when it hands the line over.
const PASTE_MODE_OFF: &[u8] = b"\x1b[?2004l";
/// The prompts remembered as the shell's own, newest last.
const KNOWN_PROMPTS: usize = 8;
/// Findings kept for one session.
pub const MAX_FINDINGS: usize = 100;
/// Output kept undrawn before it is drawn anyway.
const UNDRAWN_MAX: usize = 64 * 1024;
/// Lines typed ahead while a command runs, waiting for the shell to take them.
const TYPED_AHEAD: usize = 16;
/// zsh's marks in its output: turning bracketed paste off before it moves past the line, and
/// the end of the partial-line marker it draws before each prompt.
const ZSH_SIGNS: [&str; 2] = ["\x1b[?2004l\r\r\n", " \r \r"];

/// The prompt a command line is being typed after: its text and how many columns it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Prompt {
    text: String,
    cols: u16,
    /// What stood at the right of the row when the line began, past two blanks: zsh's right
    /// prompt, which it draws again when it draws the whole line again (Ctrl-L).
    right: Option<String>,
}

/// A line being typed: where it began and what the keys made of it.
#[derive(Debug, Clone)]
struct OpenLine {
    prompt: Prompt,
    /// Cells drawn before this stamp were on the screen before the line began.
    since: Stamp,
    typed: TypedLine,
    /// Begun on the alternate screen.
    alternate: bool,
    /// Begun while a line editor had bracketed paste on, as bash and zsh do at their prompts.
    editor: bool,
}

/// A line whose history designators the shell expands before it runs it.
#[derive(Debug, Clone)]
struct Expanding {
    at: f64,
    typed: String,
    /// What the commands recognised so far make of it.
    computed: Expansion,
}

/// What an Enter pressed now would hand over, asked before it is passed on (see `at_enter`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AtEnter {
    /// The shell's own prompt: the line it would take.
    Shell(String),
    /// A program's own input: a prompt it printed that the shell never showed, or a
    /// full-screen program. Not a command line.
    Program,
    /// It cannot be told now: a line still being taken, keys typed while a command runs with
    /// nothing printed since, or a line whose drawing does not show it.
    Unsure,
}

/// Enter was pressed; the line is read once the shell has taken it.
#[derive(Debug, Clone)]
struct Acceptance {
    at: f64,
    line: OpenLine,
    /// The line editor runs with bracketed paste on: it has taken the line (a buffer that may
    /// hold several lines) when it turns the mode off. Otherwise, when it echoes a newline.
    until_paste_mode_off: bool,
    /// Output moved to another line since Enter without the editor letting the line go.
    moved: bool,
    /// The editor let the line go by turning bracketed paste off, as a shell's does.
    by_editor: bool,
}

pub struct CommandRecognizer {
    screen: Screen,
    /// Output not drawn yet: the screen is brought up to date only when it is read (when a line
    /// begins, when keys may meet a changed mode, when a line is taken), so the echo of each
    /// key is drawn with the others, not one by one.
    undrawn: String,
    /// `undrawn` holds an escape or a C1 control: the screen's modes may have changed.
    undrawn_modal: bool,
    marks: MarkScanner,
    corroboration: Corroboration,
    /// Input events so far: the stamp of what is drawn after each.
    keystrokes: Stamp,
    line: Option<OpenLine>,
    accepting: Option<Acceptance>,
    /// A command line the shell has not finished reading (open quote, here-document, `\`).
    unfinished: Option<String>,
    /// Inside a bracketed paste, Enter is text, not acceptance.
    in_paste: bool,
    /// The shell is zsh: a paste of several lines is one command, and it does not print what
    /// history expansion made of a line.
    zsh: bool,
    /// A line with history designators, accepted, waiting for bash to print its expansion.
    expanding: Option<Expanding>,
    /// Ctrl-X Ctrl-E handed the line to an editor: what the shell prints when the editor has
    /// left the alternate screen is the line it runs. Whether the alternate screen was seen.
    editing: Option<(f64, bool)>,
    /// The key before the one being handled.
    last_key: char,
    /// Lines typed while something else had the terminal, which the shell may read later.
    typed_ahead: std::collections::VecDeque<String>,
    /// Prompts after which the shell ran a command: the shell's own, wherever they show again.
    known_prompts: Vec<String>,
    commands: Vec<ExecutedCommand>,
    findings: Vec<Finding>,
    /// Counts what may have changed `commands()` or `findings()`.
    revision: u64,
    /// When the event being fed happened.
    last_time: f64,
}

impl CommandRecognizer {
    pub fn new(cols: u16, rows: u16) -> Self {
        CommandRecognizer::with_nonce(cols, rows, None)
    }

    /// A recognizer for a session whose shell was handed `nonce` for its marks.
    pub fn with_nonce(cols: u16, rows: u16, nonce: Option<String>) -> Self {
        CommandRecognizer {
            screen: Screen::new(rows, cols),
            undrawn: String::new(),
            undrawn_modal: false,
            marks: MarkScanner::default(),
            corroboration: Corroboration::new(nonce),
            keystrokes: 0,
            line: None,
            accepting: None,
            unfinished: None,
            in_paste: false,
            zsh: false,
            expanding: None,
            editing: None,
            last_key: '\0',
            typed_ahead: std::collections::VecDeque::new(),
            known_prompts: Vec::new(),
            commands: Vec::new(),
            findings: Vec::new(),
            revision: 0,
            last_time: 0.0,
        }
    }

    /// Changes whenever `commands()` or `findings()` may have.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    pub fn feed(&mut self, event: &Event) {
        self.last_time = event.time;
        match &event.data {
            EventData::Output(text) => self.output(event.time, text),
            EventData::Input(text) => self.input(event.time, text),
            EventData::Resize { cols, rows } => {
                self.bring_up_to_date();
                self.screen.resize(*rows, *cols);
            }
            EventData::Marker(_) => {}
        }
    }

    /// The commands recognised so far, in the order they were accepted. Commands are only ever
    /// added; one already reported may be confirmed by its shell and gain its exit status.
    pub fn commands(&self) -> &[ExecutedCommand] {
        &self.commands
    }

    /// What the marks said that the input does not bear out, the first `MAX_FINDINGS` of it.
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    /// What an Enter pressed now would hand over, from the output drawn so far: the caller
    /// holds the Enter until the echo of what it passed on has been fed. Only a line begun at
    /// the shell's prompt is a command line; one begun after a prompt some program printed is
    /// that program's input; keys typed with nothing printed since the last line was taken
    /// (typed ahead while a command runs, which the shell reads later) cannot be told apart.
    pub fn at_enter(&mut self) -> AtEnter {
        if self.in_paste
            || self.accepting.is_some()
            || self.expanding.is_some()
            || self.editing.is_some()
        {
            return AtEnter::Unsure;
        }
        self.bring_up_to_date();
        self.follow_type_ahead();
        self.open_line();
        let Some(line) = &self.line else {
            return AtEnter::Unsure;
        };
        if line.alternate != self.screen.alternate_screen() {
            return AtEnter::Unsure;
        }
        if self.unfinished.is_some() || self.at_shell_prompt(line, false) {
            let text = match line.typed.text() {
                Some(typed) => typed.to_owned(),
                None => match self.line_after(line) {
                    Some(text) => text,
                    None => return AtEnter::Unsure,
                },
            };
            return AtEnter::Shell(match &self.unfinished {
                Some(start) => join_continued(start.clone(), &text),
                None => text,
            });
        }
        if self.screen.alternate_screen() || !line.prompt.text.trim().is_empty() {
            AtEnter::Program
        } else {
            AtEnter::Unsure
        }
    }

    /// The line being typed, when plain typing alone made it, wherever it was begun: what a
    /// deny-list checks when `at_enter` cannot place the line.
    pub fn typed_line(&self) -> Option<String> {
        self.line
            .as_ref()
            .and_then(|line| line.typed.text())
            .map(str::to_owned)
    }

    /// Whether the line `at_enter` answered was made by plain typing alone, so that it is known
    /// without the screen (and without waiting for its echo).
    pub fn line_from_keys(&self) -> bool {
        self.line
            .as_ref()
            .is_some_and(|line| line.typed.text().is_some())
    }

    /// The session is over: a line still being taken is taken as the screen shows it.
    pub fn finish(&mut self) {
        self.settle();
    }

    fn output(&mut self, time: f64, text: &str) {
        if self.marks.passes_over(text.as_bytes()) {
            // Most output, a character echoed, holds no mark and no sign of zsh.
            self.marks.skip(text.as_bytes());
            self.draw(text);
            return;
        }
        if !self.zsh && ZSH_SIGNS.iter().any(|sign| text.contains(sign)) {
            self.zsh = true;
        }
        let mut done = 0;
        for found in self.marks.push(text.as_bytes()) {
            // Marks end in BEL or `\`: always at a character boundary.
            let end = found.end.min(text.len());
            if let Some(part) = text.get(done..end) {
                self.draw(part);
            }
            done = end;
            for effect in self.corroboration.mark(found, time, &self.commands) {
                self.apply(effect);
            }
        }
        if let Some(rest) = text.get(done..) {
            self.draw(rest);
        }
    }

    /// Draws output, taking an accepted line when the shell moves past it, and reading the
    /// lines the shell prints whole: what bash made of a history expansion, and a line typed
    /// ahead, drawn after the prompt once the shell reads it.
    fn draw(&mut self, text: &str) {
        if self.accepting.is_none()
            && self.expanding.is_none()
            && self.editing.is_none()
            && self.typed_ahead.is_empty()
        {
            // Nothing waits on this output: it is drawn when the screen is next read.
            self.undrawn.push_str(text);
            self.undrawn_modal |= text.contains(['\x1b', '\u{9b}']);
            if self.undrawn.len() > UNDRAWN_MAX {
                self.bring_up_to_date();
            }
            return;
        }
        self.bring_up_to_date();
        let mut rest = text;
        loop {
            if let Some(acceptance) = &self.accepting {
                // bash moves past the line before turning the mode off, zsh after: the line is
                // read down to the cursor's row either way, a row below it holding nothing
                // drawn since.
                let marker: &[u8] = if acceptance.until_paste_mode_off {
                    PASTE_MODE_OFF
                } else {
                    b"\n"
                };
                let Some(position) = find(rest.as_bytes(), marker) else {
                    if rest.contains('\n')
                        && let Some(acceptance) = &mut self.accepting
                    {
                        acceptance.moved = true;
                    }
                    break;
                };
                let (before, after) = rest.split_at(position);
                self.screen.process(before);
                rest = after;
                if let Some(mut acceptance) = self.accepting.take() {
                    acceptance.by_editor = acceptance.until_paste_mode_off;
                    self.accept(acceptance);
                }
            } else if self.expanding.is_some()
                || self.editing.is_some()
                || !self.typed_ahead.is_empty()
            {
                let Some(position) = rest.find('\n') else {
                    self.screen.process(rest);
                    self.note_editor();
                    return;
                };
                let (before, after) = rest.split_at(position);
                self.screen.process(before);
                let (row, _) = self.screen.cursor();
                let printed = self.screen.row_text(row, 0, 0);
                self.screen.process("\n");
                rest = &after[1..];
                if let Some(expanding) = self.expanding.take() {
                    self.expanded(expanding, &printed);
                } else if let Some((at, true)) = self.editing
                    && !self.screen.alternate_screen()
                {
                    // bash prints the edited line as it runs it.
                    self.editing = None;
                    self.push_commands(at, vec![printed]);
                } else if self.editing.is_some() {
                    self.note_editor();
                } else {
                    self.read_ahead(&printed);
                }
            } else {
                break;
            }
        }
        self.screen.process(rest);
    }

    /// Notes that the editor Ctrl-X Ctrl-E started holds the alternate screen.
    fn note_editor(&mut self) {
        if let Some((_, seen)) = &mut self.editing {
            *seen |= self.screen.alternate_screen();
        }
    }

    /// Draws the output not drawn yet.
    fn bring_up_to_date(&mut self) {
        if !self.undrawn.is_empty() {
            self.screen.process(&self.undrawn);
            self.undrawn.clear();
        }
        self.undrawn_modal = false;
    }

    /// bash printed `printed` after a line with history designators: the line it runs, if it
    /// has the typed line's shape; otherwise what the commands so far make of it.
    fn expanded(&mut self, expanding: Expanding, printed: &str) {
        let Expanding {
            at,
            typed,
            computed,
        } = expanding;
        // The shell's own complaint; the line runs nothing.
        if (printed.starts_with("bash: ") || printed.starts_with("zsh: "))
            && printed.contains("event not found")
        {
            return;
        }
        let line = if history::fits(&typed, printed) {
            printed.to_owned()
        } else {
            match computed {
                Expansion::Line(line) => line,
                Expansion::Unknown => typed,
            }
        };
        if !Words::parse_lenient(&line).is_empty() {
            self.push_commands(at, vec![line]);
        }
    }

    /// A line typed ahead is run when the shell shows it after one of its prompts.
    /// Lines before it in the queue were read by something else (a program's own prompt).
    fn read_ahead(&mut self, printed: &str) {
        let shown = self.typed_ahead.iter().position(|typed| {
            self.known_prompts.iter().any(|prompt| {
                printed
                    .strip_prefix(prompt.as_str())
                    .is_some_and(|rest| rest.trim() == typed.trim())
            })
        });
        let Some(position) = shown else {
            return;
        };
        let line = self.typed_ahead.drain(..=position).next_back();
        if let Some(line) = line.filter(|line| !Words::parse_lenient(line).is_empty()) {
            let at = self.last_time;
            self.push_commands(at, vec![line]);
        }
    }

    fn apply(&mut self, effect: Effect) {
        self.revision += 1;
        match effect {
            // The text stays what the keys and the screen gave: a mark never rewrites it.
            Effect::Confirmed { index } => {
                if let Some(command) = self.commands.get_mut(index) {
                    command.source = Recognition::ShellIntegration;
                }
            }
            Effect::Status { index, exit_code } => {
                if let Some(command) = self.commands.get_mut(index) {
                    command.exit_code = Some(exit_code);
                }
            }
            // A person printing marks without end is told apart by the first ones; the rest would
            // only fill the trail.
            Effect::Finding(finding) if self.findings.len() < MAX_FINDINGS => {
                self.findings.push(finding);
            }
            Effect::Finding(_) => {}
        }
    }

    fn input(&mut self, time: f64, text: &str) {
        if self.line.is_none() || self.undrawn_modal {
            // What came before a line begins is drawn with the stamps of before; within a line,
            // what the editor draws need only be newer than the line.
            self.bring_up_to_date();
        }
        self.keystrokes = self.keystrokes.saturating_add(1);
        self.screen.set_stamp(self.keystrokes);
        let mut rest = text;
        while !rest.is_empty() {
            if rest.starts_with('\x1b') {
                if let Some(after) = rest.strip_prefix(PASTE_START) {
                    self.in_paste = true;
                    self.open_line();
                    rest = after;
                    continue;
                }
                if let Some(after) = rest.strip_prefix(PASTE_END) {
                    self.in_paste = false;
                    rest = after;
                    continue;
                }
            }
            let Some(key) = rest.chars().next() else {
                break;
            };
            rest = &rest[key.len_utf8()..];
            if self.expanding.is_some() || self.accepting.is_some() {
                self.settle();
            }
            self.key(time, key);
        }
    }

    /// A key came while a line was still being taken: settle it first.
    fn settle(&mut self) {
        self.bring_up_to_date();
        if let Some(expanding) = self.expanding.take() {
            // No line printed: the shell expanded it without saying (zsh does).
            self.expanded(expanding, "");
        }
        if let Some(acceptance) = self.accepting.take() {
            if self.kept_by_the_editor(&acceptance) {
                // It showed the expansion for the person to check (`histverify`): the line goes
                // on being edited.
                let mut line = acceptance.line;
                line.typed.mark_edited();
                self.line = Some(line);
            } else {
                // A key before the shell moved past the last line: that line was read with echo
                // off (a password), or typed ahead. Read it as the screen is now.
                self.accept(acceptance);
            }
        }
    }

    fn key(&mut self, time: f64, key: char) {
        let last_key = std::mem::replace(&mut self.last_key, key);
        self.key_after(time, key, last_key);
    }

    /// Whether the open line was begun at a shell's prompt.
    fn at_prompt_now(&self) -> bool {
        self.line
            .as_ref()
            .is_some_and(|line| self.at_shell_prompt(line, false))
    }

    fn key_after(&mut self, time: f64, key: char, previous: char) {
        if self.undrawn_modal {
            self.bring_up_to_date();
        }
        self.follow_type_ahead();
        if self
            .line
            .as_ref()
            .is_some_and(|line| line.alternate != self.screen.alternate_screen())
        {
            // Begun in a full-screen program that has gone, or before output switched screens:
            // its prompt is no longer where the keys go.
            self.line = None;
        }
        match key {
            '\r' | '\n' if !self.in_paste => {
                self.open_line();
                if let Some(line) = self.line.take() {
                    self.accepting = Some(Acceptance {
                        at: time,
                        line,
                        until_paste_mode_off: self.screen.bracketed_paste(),
                        moved: false,
                        by_editor: false,
                    });
                }
            }
            // Ctrl-C: the line, and any unfinished command, are abandoned. Ctrl-Z and Ctrl-\
            // stop or quit what runs: what comes next is typed at the shell's next prompt.
            '\x03' | '\x1a' | '\x1c' if !self.quoting() && !self.in_paste => {
                self.line = None;
                self.unfinished = None;
            }
            // Ctrl-X Ctrl-E at the shell's prompt: the line goes to an editor, and the shell
            // runs what is saved.
            '\x05' if previous == '\x18' && !self.in_paste && self.at_prompt_now() => {
                self.line = None;
                self.editing = Some((time, false));
            }
            _ => {
                self.open_line();
                if let Some(line) = &mut self.line {
                    if self.in_paste {
                        line.typed.paste(key);
                    } else {
                        line.typed.key(key);
                    }
                }
            }
        }
    }

    /// Keys typed while a command ran opened a line where the cursor was then. Once the shell
    /// is back at a prompt it showed before, with its line editor reading (bracketed paste on),
    /// those keys are that prompt's line: the line moves there, keeping what was typed, as the
    /// shell's editor takes them all as one line.
    fn follow_type_ahead(&mut self) {
        let Some(line) = &self.line else {
            return;
        };
        if line.editor
            || self.in_paste
            || !self.screen.bracketed_paste()
            || self.screen.alternate_screen()
        {
            return;
        }
        let typed = line.typed.raw().unwrap_or_default().to_owned();
        self.bring_up_to_date();
        let (row, cursor) = self.screen.cursor();
        let shown = self.screen.text_before(row, cursor);
        // The prompt may follow what the terminal echoed of the keys while the command ran,
        // and nothing else: the first place a known prompt stands with only those before it
        // (a later one may be the typed text's own `$`).
        let Some(end) = self
            .known_prompts
            .iter()
            .flat_map(|known| {
                shown
                    .match_indices(known.as_str())
                    .map(move |(at, _)| (at, at + known.len()))
            })
            .filter(|(at, _)| {
                shown
                    .get(..*at)
                    .is_some_and(|echoed| typed.starts_with(echoed.trim()))
            })
            .min()
            .map(|(_, end)| end)
        else {
            return;
        };
        // The prompt ends after its trailing blanks: at the cursor while nothing typed is
        // drawn yet.
        let before = shown.get(..end).map_or(0, |text| text.chars().count());
        let width = u16::try_from(before).unwrap_or(u16::MAX);
        let rest = self.screen.row_text(row, width, 0);
        let blanks = rest.chars().take_while(|c| *c == ' ').count();
        let cols = if rest.trim().is_empty() {
            cursor
        } else {
            width
                .saturating_add(u16::try_from(blanks).unwrap_or(0))
                .min(cursor)
        };
        let text = self.screen.text_before(row, cols);
        if let Some(line) = &mut self.line {
            line.prompt = Prompt {
                text,
                cols,
                right: None,
            };
            line.editor = true;
        }
    }

    /// Whether the line editor kept an accepted line instead of handing it over: it still has
    /// bracketed paste on, and the line had history designators to show expanded.
    fn kept_by_the_editor(&self, acceptance: &Acceptance) -> bool {
        acceptance.until_paste_mode_off
            && !acceptance.moved
            && self.screen.bracketed_paste()
            && acceptance
                .line
                .typed
                .raw()
                .is_some_and(|typed| Words::shape(typed).history)
    }

    /// The last key was Ctrl-V: the next one is text.
    fn quoting(&self) -> bool {
        self.line.as_ref().is_some_and(|line| line.typed.quoting())
    }

    /// A key reached the line editor: the first one of a line marks where the prompt ends.
    fn open_line(&mut self) {
        if self.line.is_some() {
            return;
        }
        self.bring_up_to_date();
        let (row, col) = self.screen.cursor();
        let text = self.screen.text_before(row, col);
        let tail = self.screen.row_text(row, col, 0);
        let right = tail
            .trim_end()
            .rsplit_once("  ")
            .map(|(_, right)| right.trim_start().to_owned())
            .filter(|right| !right.is_empty());
        self.line = Some(OpenLine {
            prompt: Prompt {
                text,
                cols: col,
                right,
            },
            since: self.keystrokes,
            typed: TypedLine::default(),
            alternate: self.screen.alternate_screen(),
            editor: self.screen.bracketed_paste(),
        });
    }

    /// Whether a line was typed at a shell's prompt: one seen before a command ran, or, outside
    /// full-screen programs, one shaped like a shell prompt or shown while a line editor read
    /// the line (bash and zsh turn bracketed paste on at their prompts, whatever the prompt
    /// looks like). Output that switched to the alternate screen hides nothing: the shell's
    /// prompt shows there as it did before.
    ///
    /// On the alternate screen, a line is also the shell's when it was typed after a prompt
    /// shaped like a shell's and its editor let it go the way shells do (turning bracketed paste
    /// off), which a full-screen program's own prompt (vi's `:`) is not.
    fn at_shell_prompt(&self, line: &OpenLine, by_editor: bool) -> bool {
        let text = line.prompt.text.trim_end();
        self.known_prompt(text)
            || if self.screen.alternate_screen() {
                line.editor && by_editor && looks_like_shell_prompt(text)
            } else {
                line.editor || looks_like_shell_prompt(text)
            }
    }

    /// A prompt the shell showed before a command ran, perhaps after text output left on the
    /// same row.
    fn known_prompt(&self, text: &str) -> bool {
        self.known_prompts
            .iter()
            .any(|known| text.ends_with(known.as_str()))
    }

    /// The shell took the line: read it and record what it runs.
    fn accept(&mut self, acceptance: Acceptance) {
        let Acceptance {
            at,
            line,
            by_editor,
            ..
        } = acceptance;
        if self.unfinished.is_some() && self.known_prompt(line.prompt.text.trim_end()) {
            // The shell's own prompt again: it was not waiting for more of a line after all.
            self.unfinished = None;
        }
        let continuing = self.unfinished.is_some();
        if !continuing && !self.at_shell_prompt(&line, by_editor) {
            // A program's own prompt (`Password:`, `Continue?`): what it reads is no command,
            // unless the shell reads it later, typed ahead while a command ran.
            if let Some(typed) = line.typed.text().filter(|typed| !typed.trim().is_empty())
                && !self.screen.alternate_screen()
            {
                if self.typed_ahead.len() == TYPED_AHEAD {
                    self.typed_ahead.pop_front();
                }
                self.typed_ahead.push_back(typed.to_owned());
            }
            return;
        }
        // At the shell's own prompt, the shell has read what was typed ahead.
        self.typed_ahead.clear();
        let text = match line.typed.text() {
            Some(typed) => typed.to_owned(),
            None => match self.line_after(&line) {
                Some(text) => text,
                None => return,
            },
        };
        if !continuing {
            self.remember_prompt(&line.prompt);
        }
        // zsh takes a buffer of several lines (a paste) as one command; bash line by line.
        let parts: Vec<&str> = if self.zsh {
            vec![text.as_str()]
        } else {
            text.split('\n').collect()
        };
        let mut complete: Vec<String> = Vec::new();
        let mut designated = false;
        for part in parts {
            let candidate = match self.unfinished.take() {
                Some(start) => join_continued(start, part),
                None => part.to_owned(),
            };
            if plain(&candidate) {
                // Words and nothing the shell reads specially: complete as it stands.
                complete.push(candidate);
                continue;
            }
            match Words::parse_shape(&candidate) {
                Err(_) => self.unfinished = Some(candidate),
                Ok(shape) if shape.words.is_empty() => {}
                Ok(shape) => {
                    designated |= shape.history;
                    complete.push(candidate);
                }
            }
        }
        match complete.as_slice() {
            [single] if designated => {
                let expanding = Expanding {
                    at,
                    typed: single.clone(),
                    computed: history::expand(single, History(&self.commands)),
                };
                if self.zsh {
                    self.expanded(expanding, "");
                } else {
                    self.expanding = Some(expanding);
                }
            }
            _ => self.push_commands(at, complete),
        }
    }

    /// Records the commands the shell runs from one accepted line.
    fn push_commands(&mut self, at: f64, lines: Vec<String>) {
        let first = self.commands.len();
        for text in lines {
            if text.trim().is_empty() {
                continue;
            }
            self.revision += 1;
            self.commands.push(ExecutedCommand {
                text,
                offset: at,
                exit_code: None,
                source: Recognition::Screen,
            });
        }
        if self.commands.len() > first {
            self.corroboration.accepted(first..self.commands.len());
        }
    }

    fn remember_prompt(&mut self, prompt: &Prompt) {
        let text = prompt.text.trim_end();
        if text.is_empty() || self.known_prompts.iter().any(|known| known == text) {
            return;
        }
        if self.known_prompts.len() == KNOWN_PROMPTS {
            self.known_prompts.remove(0);
        }
        self.known_prompts.push(text.to_owned());
    }

    /// The text after the line's prompt on the screen, drawn since the line began: from the
    /// last row that starts with the prompt to where the line ends. Soft-wrapped rows join
    /// without a break; other rows are lines of their own (a paste of several lines).
    fn line_after(&self, line: &OpenLine) -> Option<String> {
        let screen = &self.screen;
        let (rows, _) = screen.size();
        let (last_row, _) = screen.cursor();
        let prompt = &line.prompt;
        let start = (0..=last_row).rev().find(|&row| {
            (row == 0 || !screen.row_wrapped(row - 1))
                && screen.text_before(row, prompt.cols) == prompt.text.trim_end()
        })?;
        let mut end = last_row;
        while end + 1 < rows && screen.row_wrapped(end) {
            end += 1;
        }
        let mut text = String::new();
        for row in start..=end {
            let from = if row == start { prompt.cols } else { 0 };
            let part = screen.row_text(row, from, line.since);
            text.push_str(&part);
            if row < end && !screen.row_wrapped(row) {
                text.push('\n');
            }
        }
        // The row the editor moved to after the line holds nothing of it.
        let kept = text.trim_end_matches('\n').len();
        text.truncate(kept);
        Some(without_right_prompt(text, line))
    }
}

/// The line without zsh's right prompt, when the editor drew it again after the line began and
/// the keys cannot have put it there: they typed fewer characters than the row shows, and took
/// nothing from history, completion or a yank.
fn without_right_prompt(text: String, line: &OpenLine) -> String {
    let Some(right) = &line.prompt.right else {
        return text;
    };
    let shown = text.chars().filter(|c| !c.is_whitespace()).count();
    if text.contains('\n') || line.typed.recalled() || line.typed.typed() >= shown {
        return text;
    }
    match text.strip_suffix(right.as_str()) {
        Some(before) if before.ends_with("  ") => before.trim_end().to_owned(),
        _ => text,
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let mut from = 0;
    while let Some(offset) = haystack[from..].iter().position(|&byte| byte == first) {
        let at = from + offset;
        if haystack[at + 1..].starts_with(rest) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// A line of words and blanks alone, at least one word, no keyword that opens a compound
/// command: the shell takes it as it stands, and has nothing to expand in it.
fn plain(line: &str) -> bool {
    let special = |c: char| {
        !(c.is_ascii_alphanumeric()
            || matches!(
                c,
                ' ' | '-' | '_' | '.' | '/' | ',' | '+' | ':' | '@' | '%' | '='
            ))
    };
    let Some(first) = line.split_whitespace().next() else {
        return false;
    };
    !line.contains(special)
        && !matches!(
            first,
            "if" | "for" | "while" | "until" | "select" | "case" | "function" | "time"
        )
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
mod tests;
