//! A script-only session's keys on their way to the device. Keys pass at once, up to an Enter
//! key; the Enter passes only once the line the shell would take with it, as the recognizer
//! reads it, is allowed by the script's gate. A held Enter never reaches the device: the line
//! stays on the prompt, and what was typed after it in the same burst (the rest of a paste) is
//! dropped, so no line after a held one runs. Both are recorded as a marker, never hidden.
//!
//! The line is known at once when it was typed plainly. A line edited with the line editor's
//! keys (history, completion, search) is read off the screen, so its Enter waits until the
//! device has drawn the keys before it and then been quiet for `QUIET`. An Enter whose line
//! cannot be told yet (the line before it still being taken, keys typed ahead while a command
//! runs) waits for the device's output to tell it; Ctrl-C drops the wait.
//!
//! A bracketed paste that carries line breaks is checked whole before any of it passes: each
//! of its lines must be allowed, since a line editor that does not honour the brackets takes
//! each break as an Enter.

use std::time::Duration;

use changeaudit_shared::enforcement::{Decision, Held, ScriptGate};
use std::collections::HashMap;

use changeaudit_shared::api::command_rules::{CommandRule, RuleAction};
use changeaudit_shared::recognizer::{AtEnter, CommandRecognizer};
use changeaudit_shared::script::Script;

use super::keys::{KeyFilter, PASTE_END, PASTE_START};
use crate::rules::{Compiled, first_match};

/// How long the device's output must have been still before a line is read off the screen:
/// a line editor's redraw may arrive in more than one piece.
pub const QUIET: Duration = Duration::from_millis(15);
/// Keys waiting behind an Enter that waits, or a paste not yet whole: the browser is not read
/// beyond this. The web app sends a paste in pieces of 256 KiB.
pub const MAX_QUEUED: usize = 1024 * 1024;

const CTRL_C: char = '\x03';

/// Keys that make bash's or zsh's line editor take the line: Enter (CR) and Ctrl-J (LF). The
/// others that would (Ctrl-O, Alt chords, Ctrl-X chords) never get past the key filter.
fn is_enter(key: char) -> bool {
    matches!(key, '\r' | '\n')
}

/// What became of keys from the browser besides being queued.
#[derive(Debug, PartialEq, Eq)]
pub struct Pushed {
    /// Keys a script-only session does not pass on.
    pub refused: String,
    /// Keys that waited behind an Enter, dropped by a Ctrl-C.
    pub given_up: Option<String>,
}

/// What to do next with the keys.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Pass these keys on to the device.
    Forward(String),
    /// An Enter was held.
    Held(HeldLine),
    /// An `alert` rule matched the line: pass on the Enter, and tell.
    Alert(Alerted, String),
    /// The Enter at the head waits for the device's output.
    Wait,
    /// Nothing is queued.
    Idle,
}

/// What the command rules make of a line.
enum Ruled {
    Hold(String, Held),
    Alert(Alerted),
    Pass,
}

/// An Enter that did not reach the device.
#[derive(Debug, PartialEq, Eq)]
pub struct HeldLine {
    /// The line the shell would have taken (the held command of a pasted block).
    pub line: String,
    pub held: Held,
    /// The keys that did not reach the device: the Enter and what followed it.
    pub keys: String,
    /// The script's lines that may run next.
    pub allowed_next: Vec<String>,
    /// An `interrupt_after` rule's last try: the session closes.
    pub closes: bool,
}

/// A line an `alert` rule matched: it runs, and is told.
#[derive(Debug, PartialEq, Eq)]
pub struct Alerted {
    pub line: String,
    pub rule: CommandRule,
}

/// Why a line is held by `rule`, with its tries so far when it counts them.
fn held_by(rule: &CommandRule, tries: Option<(i64, i64)>) -> Held {
    Held::Rule {
        rule_id: rule.id,
        name: rule.name.clone(),
        criticality: rule.criticality.as_str().to_owned(),
        tries,
    }
}

/// The commands of `text`, each line of a pasted block apart.
fn commands_of(text: &str) -> Vec<String> {
    if !text.contains('\n') {
        return vec![text.to_owned()];
    }
    match Script::parse(text) {
        Ok(block) => block
            .commands
            .into_iter()
            .map(|command| command.text)
            .collect(),
        Err(_) => vec![text.to_owned()],
    }
}

/// What the device's output says now, as the broker sees it.
#[derive(Debug, Clone, Copy)]
pub struct Device {
    /// Keys were passed on since the device last printed anything.
    pub unechoed: bool,
    /// The device has printed nothing for `QUIET`.
    pub quiet: bool,
}

pub struct Enforcer {
    /// A script-only session's gate; none in other sessions, held to the rules alone.
    gate: Option<ScriptGate>,
    rules: Vec<Compiled>,
    /// Blocked tries so far of each `interrupt_after` rule, by its id.
    tries: HashMap<i64, i64>,
    /// A script-only session passes only the keys the gate can follow.
    keys: Option<KeyFilter>,
    queue: String,
    /// An Enter was passed on, and the device has not printed since: keys typed now would open
    /// a line at the prompt the shell is leaving.
    entered: bool,
}

impl Enforcer {
    /// None when there is nothing to hold the session to.
    pub fn new(gate: Option<ScriptGate>, rules: Vec<Compiled>) -> Option<Enforcer> {
        if gate.is_none() && rules.is_empty() {
            return None;
        }
        Some(Enforcer {
            keys: gate.as_ref().map(|_| KeyFilter::default()),
            gate,
            rules,
            tries: HashMap::new(),
            queue: String::new(),
            entered: false,
        })
    }

    /// Keys from the browser, those a script-only session passes (see `keys`). A Ctrl-C drops
    /// what waits before it: the person gave up on it. Answers the keys refused and those
    /// given up, to be recorded.
    pub fn push(&mut self, keys: &str) -> Pushed {
        let (keys, refused) = match &mut self.keys {
            Some(filter) => filter.filter(keys),
            None => (keys.to_owned(), String::new()),
        };
        let given_up = self.queue_keys(&keys);
        Pushed { refused, given_up }
    }

    fn queue_keys(&mut self, keys: &str) -> Option<String> {
        match keys.rfind(CTRL_C) {
            Some(at) if !self.queue.is_empty() => {
                let mut dropped = std::mem::take(&mut self.queue);
                dropped.push_str(&keys[..at]);
                self.queue.push_str(&keys[at..]);
                Some(dropped)
            }
            _ => {
                self.queue.push_str(keys);
                None
            }
        }
    }

    /// Whether the browser may be read: keys waiting behind an Enter are bounded.
    pub fn has_room(&self) -> bool {
        self.queue.len() < MAX_QUEUED
    }

    pub fn allowed_next(&self) -> Vec<String> {
        self.gate.as_ref().map_or_else(Vec::new, |gate| {
            gate.allowed_next().into_iter().map(str::to_owned).collect()
        })
    }

    /// The next thing to do with the queued keys; call again until `Wait` or `Idle`.
    pub fn next(&mut self, recognizer: &mut CommandRecognizer, device: Device) -> Step {
        if self.queue.is_empty() {
            return Step::Idle;
        }
        if self.entered {
            if device.unechoed {
                return Step::Wait;
            }
            self.entered = false;
        }
        let stop = self
            .queue
            .char_indices()
            .find(|(at, key)| is_enter(*key) || self.queue[*at..].starts_with(PASTE_START));
        match stop {
            None => Step::Forward(std::mem::take(&mut self.queue)),
            Some((0, _)) if self.queue.starts_with(PASTE_START) => self.paste(recognizer, device),
            Some((0, _)) => self.enter(recognizer, device),
            Some((at, _)) => Step::Forward(self.queue.drain(..at).collect()),
        }
    }

    /// An Enter at the head of the queue.
    fn enter(&mut self, recognizer: &mut CommandRecognizer, device: Device) -> Step {
        let line = match recognizer.at_enter() {
            AtEnter::Program => return self.enter_passes(),
            AtEnter::Shell(line) => line,
            AtEnter::Unsure if self.gate.is_some() => return Step::Wait,
            // Held to rules alone, a line that cannot be placed (typed ahead while a command
            // runs, say) is checked as typed when plain typing made it, else it passes.
            AtEnter::Unsure => match recognizer.typed_line() {
                Some(typed) => return self.decide(typed),
                None => return self.enter_passes(),
            },
        };
        if !recognizer.line_from_keys() && (device.unechoed || !device.quiet) {
            return Step::Wait;
        }
        self.decide(line)
    }

    /// The rules first, then the script's gate.
    fn decide(&mut self, line: String) -> Step {
        let alert = match self.rules_on(&line) {
            Ruled::Hold(command, held) => return self.hold(command, held),
            Ruled::Alert(alerted) => Some(alerted),
            Ruled::Pass => None,
        };
        if let Some(gate) = &mut self.gate
            && let (Decision::Held(held), line) = gate.check_text(&line)
        {
            return self.hold(line, held);
        }
        match alert {
            Some(alerted) => {
                self.entered = true;
                Step::Alert(alerted, self.queue.drain(..1).collect())
            }
            None => self.enter_passes(),
        }
    }

    /// The command rules on `text`: each of its commands meets the first rule it matches, and
    /// a held try counts towards an `interrupt_after` rule's last, whether typed or pasted.
    fn rules_on(&mut self, text: &str) -> Ruled {
        let mut alert = None;
        for command in commands_of(text) {
            let Some(rule) = first_match(&self.rules, &command) else {
                continue;
            };
            let rule = &rule.rule;
            let closing = match rule.action {
                RuleAction::Allow => continue,
                RuleAction::Alert => {
                    alert.get_or_insert_with(|| Alerted {
                        line: command.clone(),
                        rule: rule.clone(),
                    });
                    continue;
                }
                RuleAction::Block => None,
                RuleAction::InterruptAfter => rule.tries,
            };
            let tries = closing.map(|closing| {
                let tried = self.tries.entry(rule.id).or_insert(0);
                *tried += 1;
                (*tried, closing)
            });
            return Ruled::Hold(command, held_by(rule, tries));
        }
        alert.map_or(Ruled::Pass, Ruled::Alert)
    }

    /// A bracketed paste at the head of the queue: it passes whole once it has come whole and
    /// every line it would run is allowed.
    fn paste(&mut self, recognizer: &mut CommandRecognizer, device: Device) -> Step {
        let Some(end) = self.queue.find(PASTE_END) else {
            if self.has_room() {
                // The rest of the paste is on its way.
                return Step::Wait;
            }
            let line = self.queue.chars().take(200).collect();
            return self.hold(line, Held::TooLarge);
        };
        let length = end + PASTE_END.len();
        let pasted = self.queue[PASTE_START.len()..end].replace('\r', "\n");
        let Some(last_break) = pasted.rfind('\n') else {
            return self.pass(length);
        };
        let before = match recognizer.at_enter() {
            AtEnter::Program => return self.pass(length),
            AtEnter::Unsure => return Step::Wait,
            AtEnter::Shell(line) => line,
        };
        if !recognizer.line_from_keys() && (device.unechoed || !device.quiet) {
            return Step::Wait;
        }
        // What follows the last break stays on the prompt until an Enter of its own.
        let lines = format!("{before}{}", &pasted[..=last_break]);
        let alert = match self.rules_on(&lines) {
            Ruled::Hold(command, held) => return self.hold(command, held),
            Ruled::Alert(alerted) => Some(alerted),
            Ruled::Pass => None,
        };
        if let Some((Decision::Held(held), line)) =
            self.gate.as_ref().map(|gate| gate.decide_text(&lines))
        {
            return self.hold(line, held);
        }
        match alert {
            Some(alerted) => Step::Alert(alerted, self.queue.drain(..length).collect()),
            None => self.pass(length),
        }
    }

    fn enter_passes(&mut self) -> Step {
        self.entered = true;
        self.pass(1)
    }

    fn pass(&mut self, length: usize) -> Step {
        Step::Forward(self.queue.drain(..length).collect())
    }

    fn hold(&mut self, line: String, held: Held) -> Step {
        let closes =
            matches!(&held, Held::Rule { tries: Some((this, closing)), .. } if this >= closing);
        Step::Held(HeldLine {
            line,
            held,
            closes,
            keys: std::mem::take(&mut self.queue),
            allowed_next: self.allowed_next(),
        })
    }
}

#[cfg(test)]
mod tests {
    use changeaudit_shared::asciicast::{Event, EventData};
    use changeaudit_shared::benign::BenignCommands;
    use changeaudit_shared::script::Script;

    use super::*;

    const SETTLED: Device = Device {
        unechoed: false,
        quiet: true,
    };

    fn enforcer() -> Enforcer {
        let script = Script::parse("echo one\necho two").unwrap_or_default();
        let gate = ScriptGate::new(script, BenignCommands::new(["ls"]), false);
        Enforcer::new(Some(gate), Vec::new()).unwrap_or_else(|| unreachable!())
    }

    /// A recognizer at a bash prompt.
    fn at_prompt() -> CommandRecognizer {
        let mut recognizer = CommandRecognizer::new(80, 24);
        recognizer.feed(&Event {
            time: 0.0,
            data: EventData::Output("\x1b[?2004huser@host:~$ ".into()),
        });
        recognizer
    }

    /// Runs the enforcer as the broker does, feeding what it passes on to the recognizer, on a
    /// device that never answers.
    fn run(enforcer: &mut Enforcer, recognizer: &mut CommandRecognizer) -> Vec<Step> {
        let mut steps = Vec::new();
        let mut device = SETTLED;
        loop {
            let step = enforcer.next(recognizer, device);
            if let Step::Forward(keys) = &step {
                recognizer.feed(&Event {
                    time: 1.0,
                    data: EventData::Input(keys.clone()),
                });
                device.unechoed = true;
            }
            let done = matches!(step, Step::Wait | Step::Idle);
            steps.push(step);
            if done {
                return steps;
            }
        }
    }

    #[test]
    fn a_scripted_line_passes_and_an_unscripted_one_is_held_with_what_follows() {
        let mut enforcer = enforcer();
        let mut recognizer = at_prompt();
        enforcer.push("echo two\recho one\r");
        let steps = run(&mut enforcer, &mut recognizer);
        assert_eq!(
            steps,
            [
                Step::Forward("echo two".into()),
                Step::Forward("\r".into()),
                Step::Wait
            ],
            "the next line waits until the shell has taken this one"
        );
        recognizer.feed(&Event {
            time: 2.0,
            data: EventData::Output("\x1b[?2004l\r\ntwo\r\n\x1b[?2004huser@host:~$ ".into()),
        });
        assert_eq!(
            run(&mut enforcer, &mut recognizer),
            [
                Step::Forward("echo one".into()),
                Step::Forward("\r".into()),
                Step::Idle
            ]
        );

        let mut enforcer = self::enforcer();
        let mut recognizer = at_prompt();
        enforcer.push("touch x\recho one\r");
        let steps = run(&mut enforcer, &mut recognizer);
        assert_eq!(steps[0], Step::Forward("touch x".into()));
        let Step::Held(held) = &steps[1] else {
            panic!("{steps:?}")
        };
        assert_eq!(held.line, "touch x");
        assert_eq!(held.held, Held::NotInScript);
        assert_eq!(held.keys, "\recho one\r");
        assert_eq!(held.allowed_next, ["echo one", "echo two"]);
        assert_eq!(steps[2], Step::Idle);
    }

    #[test]
    fn an_edited_line_waits_for_the_device_to_draw_it() {
        let mut enforcer = enforcer();
        let mut recognizer = at_prompt();
        enforcer.push("\x1b[A\r");
        assert_eq!(
            run(&mut enforcer, &mut recognizer),
            [Step::Forward("\x1b[A".into()), Step::Wait]
        );
        recognizer.feed(&Event {
            time: 2.0,
            data: EventData::Output("touch x".into()),
        });
        let Step::Held(held) = enforcer.next(&mut recognizer, SETTLED) else {
            panic!("the line recalled is read off the screen and held")
        };
        assert_eq!(held.line, "touch x");
    }

    #[test]
    fn a_bracketed_paste_passes_only_when_each_of_its_lines_may_run() {
        let mut enforcer = enforcer();
        let mut recognizer = at_prompt();
        enforcer.push("\x1b[200~echo one\recho two\r\x1b[201~");
        assert!(matches!(
            enforcer.next(&mut recognizer, SETTLED),
            Step::Forward(keys) if keys.ends_with(PASTE_END)
        ));
        enforcer.push("\x1b[200~echo one\rrm -rf /\recho two\r\x1b[201~\r");
        let Step::Held(held) = enforcer.next(&mut recognizer, SETTLED) else {
            panic!("held")
        };
        assert_eq!(held.line, "rm -rf /");
        assert_eq!(enforcer.next(&mut recognizer, SETTLED), Step::Idle);
    }

    /// A rule on `pattern` (shell words) doing `action`.
    fn rule(id: i64, pattern: &str, action: RuleAction, tries: Option<i64>) -> Compiled {
        use changeaudit_shared::api::command_rules::{
            CommandRule, Criticality, PatternKind, RuleScope,
        };
        let at = time::OffsetDateTime::UNIX_EPOCH;
        let rule = CommandRule {
            id,
            position: id,
            name: format!("rule {id}"),
            pattern_kind: PatternKind::Words,
            pattern: pattern.to_owned(),
            action,
            tries,
            criticality: Criticality::High,
            scope: RuleScope::Everywhere,
            enabled: true,
            created_at: at,
            updated_at: at,
        };
        Compiled::new(rule).unwrap_or_else(|error| panic!("{error}"))
    }

    #[test]
    fn a_pasted_block_meets_the_rules_as_typed_lines_do() {
        let rules = vec![
            rule(1, "reboot", RuleAction::InterruptAfter, Some(2)),
            rule(2, "touch", RuleAction::Alert, None),
        ];
        let mut enforcer = Enforcer::new(None, rules).unwrap_or_else(|| unreachable!());
        let mut recognizer = at_prompt();
        // An alert rule's line runs, and is told, pasted as typed.
        enforcer.push("\x1b[200~touch a\rls\r\x1b[201~");
        let Step::Alert(alerted, keys) = enforcer.next(&mut recognizer, SETTLED) else {
            panic!("the paste's alert is told")
        };
        assert_eq!(alerted.line, "touch a");
        assert!(
            keys.starts_with(PASTE_START) && keys.ends_with(PASTE_END),
            "{keys:?}"
        );
        // A held paste is a try like a typed line: the second closes the session (the held
        // line cleared first, with Ctrl-U).
        for (keys, closes) in [
            ("reboot\r", false),
            ("\x15\x1b[200~reboot\r\x1b[201~", true),
        ] {
            enforcer.push(keys);
            let steps = run(&mut enforcer, &mut recognizer);
            let held = steps.iter().find_map(|step| match step {
                Step::Held(held) => Some(held),
                _ => None,
            });
            assert_eq!(held.map(|held| held.closes), Some(closes), "{steps:?}");
        }
    }

    #[test]
    fn a_paste_too_large_to_be_checked_whole_is_held() {
        let mut enforcer = enforcer();
        let mut recognizer = at_prompt();
        enforcer.push(PASTE_START);
        enforcer.push(&"echo one\r".repeat(1000));
        assert_eq!(enforcer.next(&mut recognizer, SETTLED), Step::Wait);
        assert!(enforcer.has_room());
        enforcer.push(&"echo one\r".repeat(MAX_QUEUED / 9));
        let Step::Held(held) = enforcer.next(&mut recognizer, SETTLED) else {
            panic!("held")
        };
        assert_eq!(held.held, Held::TooLarge);
        assert!(enforcer.has_room(), "the browser is read again");
    }

    #[test]
    fn ctrl_c_drops_what_waits() {
        let mut enforcer = enforcer();
        enforcer.push("\recho one");
        assert_eq!(
            enforcer.push("ab\x03ls\x16"),
            Pushed {
                refused: "\x16".into(),
                given_up: Some("\recho oneab".into())
            }
        );
        assert_eq!(enforcer.queue, "\x03ls");
        assert_eq!(
            self::enforcer().push("\x03").given_up,
            None,
            "nothing waited"
        );
    }
}
