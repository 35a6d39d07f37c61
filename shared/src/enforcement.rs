//! Script-only change sessions. At Enter, before the device sees it, the line the shell would
//! take runs only when it is a line of the change's script still to run (compared as shell
//! words, as the board compares them) or benign by the strict rule (see `benign`); anything
//! else is held, and the person is told why and which lines may come next.
//!
//! An allow-list of whole lines is what deny-lists are not: an alias, a function, a variable, a
//! substitution, `eval`, `sh -c` or `base64 -d | sh` is a line like any other, so it runs only
//! when the planner wrote exactly it. What the gate cannot see is what the shell makes of a name
//! the device defined before the session (an alias in its startup files): the device is the
//! person's, and the script names what runs, not what the device's shell is set up to do.

use serde::{Deserialize, Serialize};

use crate::benign::BenignCommands;
use crate::script::Script;
use crate::words::{Shape, Words};

/// How a change session is held to its script.
/// Ordered from the least strict to the most.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Enforcement {
    /// Everything runs; the board tells afterwards what was not planned.
    #[default]
    Off,
    /// Only the script's lines still to run, in any order, and benign lines.
    ScriptOnly,
    /// Only the script's next line, and benign lines.
    ScriptOnlyInOrder,
}

impl Enforcement {
    pub fn as_str(self) -> &'static str {
        match self {
            Enforcement::Off => "off",
            Enforcement::ScriptOnly => "script_only",
            Enforcement::ScriptOnlyInOrder => "script_only_in_order",
        }
    }

    /// How a change's sessions are held: its group's setting is the floor, which the change
    /// may only raise.
    pub fn of_change(group: Enforcement, change: Option<Enforcement>) -> Enforcement {
        change.map_or(group, |change| change.max(group))
    }

    /// In words, for the change's page and the approvers.
    pub fn label(self) -> &'static str {
        match self {
            Enforcement::Off => "Anything runs; the board tells afterwards what was not planned",
            Enforcement::ScriptOnly => {
                "Script only: a line runs only if the script has it still to run, or it is benign"
            }
            Enforcement::ScriptOnlyInOrder => {
                "Script only, in order: only the script's next line, or a benign one"
            }
        }
    }

    /// A stored setting: written from this enum, so anything else is damage, held to the most.
    pub fn stored(text: &str) -> Enforcement {
        Enforcement::parse(text).unwrap_or(Enforcement::ScriptOnlyInOrder)
    }

    pub fn parse(text: &str) -> Option<Enforcement> {
        [
            Enforcement::Off,
            Enforcement::ScriptOnly,
            Enforcement::ScriptOnlyInOrder,
        ]
        .into_iter()
        .find(|mode| mode.as_str() == text)
    }
}

/// Shell builtins that change what later lines mean (a name, a variable, options, the folder,
/// what a key or a signal does): never benign in a script-only session, whatever the list says,
/// since the script's own lines would then run as something else.
pub const SHELL_ALTERING: [&str; 22] = [
    "alias", "unalias", "set", "shopt", "setopt", "unsetopt", "export", "unset", "declare",
    "typeset", "local", "readonly", "enable", "disable", "hash", "trap", "bind", "bindkey",
    "complete", "cd", "pushd", "popd",
];

/// Why a line was held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Held {
    /// Neither a line of the script nor benign.
    NotInScript,
    /// The script's line, run already.
    AlreadyRan { line: usize },
    /// A line of the script, but another comes first.
    OutOfOrder { next: String },
    /// The shell would wait for more (an open quote, a `\`, a here-document): only whole lines.
    Unfinished,
    /// bash would put part of an earlier line in it: what ran would not be what shows.
    HistoryExpansion,
    /// A benign program that changes what later lines mean.
    ShellAltering { program: String },
    /// A paste with line breaks too large to be checked whole.
    TooLarge,
    /// A command rule blocks it; an `interrupt_after` rule counts the tries.
    Rule {
        rule_id: i64,
        name: String,
        criticality: String,
        /// This try and the one that closes the session, for `interrupt_after`.
        tries: Option<(i64, i64)>,
    },
}

impl Held {
    /// The reason, for the person at the terminal and the trail.
    pub fn words(&self) -> String {
        match self {
            Held::NotInScript => {
                "It is not a line of the change's script, nor a benign command.".to_owned()
            }
            Held::AlreadyRan { line } => {
                format!("It is line {line} of the script, which has run already.")
            }
            Held::OutOfOrder { next } => {
                format!("The script's lines run in order: the next one is `{next}`.")
            }
            Held::Unfinished => "The shell would wait for more (an open quote, a `\\` or a \
                here-document): only whole lines of the script run."
                .to_owned(),
            Held::HistoryExpansion => "bash would replace its `!` with part of an earlier line, \
                so what ran would not be what shows."
                .to_owned(),
            Held::TooLarge => "A paste of several lines is checked whole before any of it \
                runs, and this one is too large for that: paste fewer lines at a time."
                .to_owned(),
            Held::Rule {
                name,
                criticality,
                tries,
                ..
            } => {
                let rule = format!("It is blocked by the command rule “{name}” ({criticality}).");
                match tries {
                    Some((this, closing)) if this >= closing => {
                        format!("{rule} That was try {this} of {closing}: the session is closed.")
                    }
                    Some((this, closing)) => format!(
                        "{rule} Try {this} of {closing}: at try {closing} the session is closed."
                    ),
                    None => rule,
                }
            }
            Held::ShellAltering { program } => format!(
                "`{program}` changes what later lines mean, so it runs only when the script has it."
            ),
        }
    }
}

/// What happens to a line at Enter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// It runs: the script's line at `index` (of `Script::commands`).
    Scripted { index: usize },
    /// It runs: benign.
    Benign,
    /// It runs: nothing but blanks or a comment.
    Blank,
    /// It does not reach the device.
    Held(Held),
}

impl Decision {
    pub fn runs(&self) -> bool {
        !matches!(self, Decision::Held(_))
    }
}

/// A script-only session's gate: which of the script's lines have run, and what may come next.
#[derive(Debug, Clone)]
pub struct ScriptGate {
    script: Script,
    benign: BenignCommands,
    in_order: bool,
    /// For each of the script's commands: it was let through.
    ran: Vec<bool>,
}

impl ScriptGate {
    pub fn new(script: Script, benign: BenignCommands, in_order: bool) -> ScriptGate {
        let ran = vec![false; script.commands.len()];
        ScriptGate {
            script,
            benign,
            in_order,
            ran,
        }
    }

    /// Decides on `line`, the line the shell would take, and counts a scripted line as run.
    pub fn check(&mut self, line: &str) -> Decision {
        let decision = self.decide(line);
        if let Decision::Scripted { index } = decision
            && let Some(ran) = self.ran.get_mut(index)
        {
            *ran = true;
        }
        decision
    }

    /// Decides on `text`, all the shell would take at one Enter: a multi-line paste is taken
    /// whole, each of its commands in turn, and runs only when every one would. Answers the
    /// decision on its last command, or on the command held with that command's text; a held
    /// text counts nothing as run.
    pub fn check_text(&mut self, text: &str) -> (Decision, String) {
        if !text.contains('\n') {
            return (self.check(text), text.to_owned());
        }
        let block = match Script::parse(text) {
            Ok(block) => block,
            Err(_) => return (Decision::Held(Held::Unfinished), text.to_owned()),
        };
        let mut trial = self.clone();
        let mut last = (Decision::Blank, String::new());
        for command in &block.commands {
            let decision = trial.check(&command.text);
            let held = !decision.runs();
            last = (decision, command.text.clone());
            if held {
                return last;
            }
        }
        *self = trial;
        last
    }

    /// What `check_text` would answer now, changing nothing.
    pub fn decide_text(&self, text: &str) -> (Decision, String) {
        self.clone().check_text(text)
    }

    /// What would happen to `line` now, changing nothing.
    pub fn decide(&self, line: &str) -> Decision {
        let shape = match Words::parse_shape(line) {
            Ok(shape) => shape,
            Err(_) => return Decision::Held(Held::Unfinished),
        };
        if shape.words.is_empty() {
            return Decision::Blank;
        }
        if shape.history {
            return Decision::Held(Held::HistoryExpansion);
        }
        if let Some(decision) = self.scripted(&shape.words) {
            return decision;
        }
        if self.benign.covers(line) {
            return match altering(&shape) {
                Some(program) => Decision::Held(Held::ShellAltering { program }),
                None => Decision::Benign,
            };
        }
        match self.ran_already(&shape.words) {
            Some(line) => Decision::Held(Held::AlreadyRan { line }),
            None => Decision::Held(Held::NotInScript),
        }
    }

    /// The script's lines that may run next: the next one in order, or every one still to run.
    pub fn allowed_next(&self) -> Vec<&str> {
        let remaining = self.remaining().map(|index| self.text(index));
        match self.in_order {
            true => remaining.take(1).collect(),
            false => remaining.collect(),
        }
    }

    fn remaining(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.ran.len()).filter(|index| !self.ran[*index])
    }

    fn text(&self, index: usize) -> &str {
        self.script
            .commands
            .get(index)
            .map_or("", |command| command.text.as_str())
    }

    /// The decision on a line with `words` when the script has it still to run.
    fn scripted(&self, words: &Words) -> Option<Decision> {
        let same = |index: &usize| self.script.commands[*index].words == *words;
        let found = self.remaining().find(same)?;
        let next = self.remaining().next()?;
        if self.in_order && found != next {
            return Some(Decision::Held(Held::OutOfOrder {
                next: self.text(next).to_owned(),
            }));
        }
        Some(Decision::Scripted { index: found })
    }

    /// The script line (from 1) of a run line with `words`.
    fn ran_already(&self, words: &Words) -> Option<usize> {
        self.script
            .commands
            .iter()
            .zip(&self.ran)
            .find(|(command, ran)| **ran && command.words == *words)
            .map(|(command, _)| command.line)
    }
}

/// The first program of `shape` that changes what later lines mean.
fn altering(shape: &Shape) -> Option<String> {
    shape
        .words
        .simple_commands()
        .filter_map(Words::program)
        .find(|program| {
            let name = program.rsplit('/').next().unwrap_or(program);
            SHELL_ALTERING.contains(&name)
        })
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use quickcheck::Arbitrary;

    use super::*;

    const SCRIPT: &str = "systemctl stop nginx\ncp /etc/nginx/nginx.conf /root/nginx.conf.bak\nsystemctl start nginx";

    #[test]
    fn a_change_only_raises_its_group_s_setting() {
        use Enforcement::{Off, ScriptOnly, ScriptOnlyInOrder};
        for (group, change, held) in [
            (Off, None, Off),
            (Off, Some(ScriptOnly), ScriptOnly),
            (ScriptOnly, None, ScriptOnly),
            (ScriptOnly, Some(Off), ScriptOnly),
            (ScriptOnlyInOrder, Some(ScriptOnly), ScriptOnlyInOrder),
            (ScriptOnly, Some(ScriptOnlyInOrder), ScriptOnlyInOrder),
        ] {
            assert_eq!(
                Enforcement::of_change(group, change),
                held,
                "{group:?} {change:?}"
            );
        }
    }

    /// The group's list, with two builtins that change what later lines mean.
    const BENIGN: [&str; 6] = ["ls", "cat", "echo", "systemctl status *", "alias", "cd"];

    fn gate(in_order: bool) -> ScriptGate {
        let benign = BenignCommands::new(BENIGN);
        ScriptGate::new(Script::parse(SCRIPT).unwrap(), benign, in_order)
    }

    /// A line made of pieces of the script's lines, benign ones and what shells read
    /// specially, so that some run and most are near misses.
    #[derive(Debug, Clone)]
    struct Line(String);

    impl Arbitrary for Line {
        fn arbitrary(g: &mut quickcheck::Gen) -> Self {
            const PIECES: [&str; 25] = [
                "systemctl stop nginx",
                "systemctl start nginx",
                "systemctl status nginx",
                "systemctl",
                "stop",
                "start",
                "nginx",
                "cp",
                "/etc/nginx/nginx.conf",
                "/root/nginx.conf.bak",
                "ls",
                "cat",
                "echo",
                "alias",
                "cd",
                "status",
                "'nginx'",
                "$(id)",
                "$X",
                "|",
                ";",
                "&&",
                ">",
                "!!",
                "sh",
            ];
            let count = 1 + usize::arbitrary(g) % 5;
            let words: Vec<&str> = (0..count)
                .map(|_| PIECES[usize::arbitrary(g) % PIECES.len()])
                .collect();
            Line(words.join(" "))
        }
    }

    #[test]
    fn the_script_s_lines_run_once_each_as_shell_words_in_any_order() {
        let mut gate = gate(false);
        assert_eq!(
            gate.check("systemctl  start   'nginx'"),
            Decision::Scripted { index: 2 }
        );
        assert_eq!(
            gate.check("systemctl start nginx"),
            Decision::Held(Held::AlreadyRan { line: 3 })
        );
        assert_eq!(gate.allowed_next().len(), 2);
        assert_eq!(
            gate.check("systemctl stop nginx"),
            Decision::Scripted { index: 0 }
        );
        assert_eq!(
            gate.allowed_next(),
            ["cp /etc/nginx/nginx.conf /root/nginx.conf.bak"]
        );
    }

    #[test]
    fn a_pasted_block_runs_whole_or_not_at_all() {
        let mut gate = gate(true);
        let held =
            gate.check_text("systemctl stop nginx\nrm -rf /etc/nginx\nsystemctl start nginx\n");
        assert_eq!(
            held,
            (
                Decision::Held(Held::NotInScript),
                "rm -rf /etc/nginx".to_owned()
            )
        );
        assert_eq!(
            gate.allowed_next(),
            ["systemctl stop nginx"],
            "nothing counted"
        );
        assert_eq!(
            gate.check_text(
                "systemctl stop nginx\n# then\ncp /etc/nginx/nginx.conf /root/nginx.conf.bak\n"
            ),
            (
                Decision::Scripted { index: 1 },
                "cp /etc/nginx/nginx.conf /root/nginx.conf.bak".to_owned()
            )
        );
        assert_eq!(gate.allowed_next(), ["systemctl start nginx"]);
        assert_eq!(
            gate.check_text("echo 'two\nlines").0,
            Decision::Held(Held::Unfinished)
        );
    }

    #[test]
    fn in_order_only_the_next_line_runs() {
        let mut gate = gate(true);
        assert_eq!(
            gate.check("systemctl start nginx"),
            Decision::Held(Held::OutOfOrder {
                next: "systemctl stop nginx".to_owned()
            })
        );
        assert_eq!(
            gate.check("systemctl stop nginx"),
            Decision::Scripted { index: 0 }
        );
        assert_eq!(
            gate.allowed_next(),
            ["cp /etc/nginx/nginx.conf /root/nginx.conf.bak"]
        );
        // Benign lines may come between.
        assert_eq!(gate.check("ls -la /etc/nginx"), Decision::Benign);
    }

    #[test]
    fn what_defeats_a_deny_list_is_held() {
        let mut gate = gate(false);
        for line in [
            "alias x='systemctl stop nginx'",
            "x",
            "f() { systemctl stop nginx; }",
            "S=stop; systemctl $S nginx",
            "systemctl $(echo stop) nginx",
            "systemctl `echo stop` nginx",
            "eval systemctl stop nginx",
            "sh -c 'systemctl stop nginx'",
            "bash -c 'systemctl stop nginx'",
            "echo c3lzdGVtY3RsIHN0b3Agbmdpbng= | base64 -d | sh",
            "systemctl stop nginx; rm -rf /",
            "systemctl stop nginx && touch /tmp/x",
            "systemctl stop nginx > /tmp/out",
            "command systemctl stop nginx",
            "\\systemctl stop nginx2",
            "cd /tmp",
            "export PATH=/tmp:$PATH",
            "!!",
            "systemctl stop !$",
        ] {
            assert!(!gate.check(line).runs(), "{line} ran");
        }
        assert!(gate.ran.iter().all(|ran| !ran));
        assert_eq!(
            gate.decide("alias ll='ls -l'"),
            Decision::Held(Held::ShellAltering {
                program: "alias".to_owned()
            })
        );
        assert_eq!(gate.decide("!!"), Decision::Held(Held::HistoryExpansion));
        assert_eq!(gate.decide("echo 'open"), Decision::Held(Held::Unfinished));
        assert_eq!(gate.decide("   "), Decision::Blank);
        assert_eq!(gate.decide("# a note"), Decision::Blank);
        assert_eq!(gate.decide("systemctl status nginx"), Decision::Benign);
    }

    #[test]
    fn modes_read_back() {
        for mode in [
            Enforcement::Off,
            Enforcement::ScriptOnly,
            Enforcement::ScriptOnlyInOrder,
        ] {
            assert_eq!(Enforcement::parse(mode.as_str()), Some(mode));
        }
        assert_eq!(Enforcement::parse("strict"), None);
    }

    fn only_script_lines_or_benign_run(lines: Vec<Line>) -> bool {
        let mut gate = gate(false);
        let benign = BenignCommands::new(BENIGN);
        let script = Script::parse(SCRIPT).unwrap();
        let mut released = Vec::new();
        lines.iter().all(|Line(line)| match gate.check(line) {
            Decision::Scripted { index } => {
                let fresh = !released.contains(&index);
                released.push(index);
                fresh && script.commands[index].words == Words::parse_lenient(line)
            }
            Decision::Benign => benign.covers(line) && altering(&Words::shape(line)).is_none(),
            Decision::Blank => Words::parse_lenient(line).is_empty(),
            Decision::Held(_) => true,
        })
    }

    /// Whatever is typed, a line runs only as a script line still to run, each at most once,
    /// or as benign with no shell-altering program in it.
    #[test]
    fn a_line_runs_only_as_a_script_line_or_benign() {
        quickcheck::QuickCheck::new()
            .tests(2_000)
            .quickcheck(only_script_lines_or_benign_run as fn(Vec<Line>) -> bool);
    }
}
