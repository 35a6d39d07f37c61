//! Shell-integration marks held against what the person's input accepted. A mark never makes a
//! command: the device prints it, and the person being audited controls the device. A command
//! line announced (`E`) that reads as a line the input accepted (the same words, operators and
//! expansions) confirms it, never rewriting it; a status (`D`) from the shell that announced the command gives its exit code. Anything
//! else is a finding: a mark no acceptance explains, one without the session's nonce from a
//! shell that has shown it has it, one carrying another nonce, a second status for one command,
//! or (from a shell that proved its nonce) a line other than the screen shows.
//!
//! The nonce reaches only the login shell (the integration takes it out of the environment):
//! a nested shell (`bash`, `su`) marks without it, and its marks are held to the input alone.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::command::{ExecutedCommand, Finding, FindingKind};
use crate::shell_marks::{FoundMark, ShellMark};
use crate::words::Words;

/// What a mark does to the commands recognised so far.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Command `index` was announced by the shell, as the keys accepted it.
    Confirmed {
        index: usize,
    },
    /// Command `index` ended with this status.
    Status {
        index: usize,
        exit_code: i32,
    },
    Finding(Finding),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trust {
    /// It carries the session's nonce.
    Proved,
    /// No nonce to check it by: believed only where the input bears it out.
    Unproved,
}

/// A command a shell announced and has not yet reported the end of.
#[derive(Debug, Clone, Copy)]
struct Running {
    index: usize,
    statuses: u32,
    /// The status it was given, when one was.
    exit_code: Option<i32>,
}

#[derive(Debug, Clone, Default)]
pub struct Corroboration {
    nonce: Option<String>,
    /// Shells whose marks carried the nonce: theirs without it are forged.
    proved: HashSet<Option<String>>,
    /// The shell named by a `P;ShellPid` mark, for the mark that directly follows it.
    shell: Option<String>,
    /// Commands from the latest acceptance that the shell has not announced yet, oldest first.
    awaiting: VecDeque<usize>,
    running: HashMap<Option<String>, Running>,
}

impl Corroboration {
    pub fn new(nonce: Option<String>) -> Self {
        Corroboration {
            nonce: nonce.filter(|nonce| !nonce.is_empty()),
            ..Corroboration::default()
        }
    }

    /// The input accepted a line that ran these commands; earlier ones can no longer be
    /// announced (the shell announces each command before it reads the next line).
    pub fn accepted(&mut self, commands: std::ops::Range<usize>) {
        self.awaiting.clear();
        self.awaiting.extend(commands);
    }

    /// What `found` does, given the commands recognised so far.
    pub fn mark(&mut self, found: FoundMark, at: f64, commands: &[ExecutedCommand]) -> Vec<Effect> {
        let shell = if found.adjoins {
            self.shell.take()
        } else {
            self.shell = None;
            None
        };
        match found.mark {
            ShellMark::Property { key, value } if key == "ShellPid" => {
                self.shell = Some(value);
                Vec::new()
            }
            ShellMark::CommandLine { line, nonce } => match self.trust(nonce.as_deref(), &shell) {
                Ok(trust) => self.announced(line, trust, shell, at, commands),
                Err(detail) => vec![finding(FindingKind::ForgedMark, at, line, detail)],
            },
            ShellMark::Finished { exit_code, nonce } => {
                let mark = exit_code.map_or("status".to_owned(), |code| format!("status {code}"));
                match self.trust(nonce.as_deref(), &shell) {
                    Ok(_) => self.finished(exit_code, shell, mark, at),
                    Err(detail) => vec![finding(FindingKind::ForgedMark, at, mark, detail)],
                }
            }
            _ => Vec::new(),
        }
    }

    fn trust(
        &mut self,
        nonce: Option<&str>,
        shell: &Option<String>,
    ) -> Result<Trust, &'static str> {
        match (self.nonce.as_deref(), nonce) {
            (Some(expected), Some(given)) if same(expected, given) => {
                self.proved.insert(shell.clone());
                Ok(Trust::Proved)
            }
            (Some(_), Some(_)) => Err("it carries a nonce that is not this session's"),
            (Some(_), None) if self.proved.contains(shell) => {
                Err("it lacks the session's nonce, which its shell has")
            }
            (Some(_), None) if shell.is_none() && !self.proved.is_empty() => {
                Err("it lacks the session's nonce and names no shell")
            }
            _ => Ok(Trust::Unproved),
        }
    }

    fn announced(
        &mut self,
        line: String,
        trust: Trust,
        shell: Option<String>,
        at: f64,
        commands: &[ExecutedCommand],
    ) -> Vec<Effect> {
        let text_of = |index: usize| commands.get(index).map(|command| command.text.as_str());
        // The same text needs no parsing; otherwise the same line as the shell reads it
        // (quoting and spacing aside, but not what is an operator or an expansion).
        let agreeing = self
            .awaiting
            .iter()
            .position(|&index| text_of(index) == Some(line.as_str()))
            .or_else(|| {
                let announced = Read::of(&line);
                self.awaiting.iter().position(|&index| {
                    text_of(index).is_some_and(|text| Read::of(text) == announced)
                })
            });
        let (index, effect) = match (agreeing, trust) {
            (Some(position), _) => {
                let index = self.awaiting[position];
                self.awaiting.drain(..=position);
                (index, Effect::Confirmed { index })
            }
            (None, Trust::Proved) if !self.awaiting.is_empty() => {
                let Some(index) = self.awaiting.pop_front() else {
                    return Vec::new();
                };
                let detail = "the shell announced another line than the screen shows was run";
                (index, finding(FindingKind::Disagreement, at, line, detail))
            }
            (None, _) => {
                let detail = "no line the person entered runs this command";
                return vec![finding(FindingKind::ForgedMark, at, line, detail)];
            }
        };
        // The shell announces a command only once its previous one has ended.
        let running = Running {
            index,
            statuses: 0,
            exit_code: None,
        };
        self.running.insert(shell, running);
        vec![effect]
    }

    fn finished(
        &mut self,
        exit_code: Option<i32>,
        shell: Option<String>,
        mark: String,
        at: f64,
    ) -> Vec<Effect> {
        let Some(running) = self.running.get_mut(&shell) else {
            let detail = "no command of this shell was running";
            return vec![finding(FindingKind::ForgedMark, at, mark, detail)];
        };
        running.statuses += 1;
        // The shell reports once, when the command has ended; the last report stands, since a
        // command's own output comes before it, except that a failure once reported is never
        // turned into a success: the failing report may be the shell's own.
        let keeps_failure = running.exit_code.is_some_and(|code| code != 0) && exit_code == Some(0);
        if !keeps_failure && exit_code.is_some() {
            running.exit_code = exit_code;
        }
        let mut effects: Vec<Effect> = exit_code
            .filter(|_| !keeps_failure)
            .map(|exit_code| Effect::Status {
                index: running.index,
                exit_code,
            })
            .into_iter()
            .collect();
        if running.statuses > 1 {
            let detail = "a second status for one command: one of them was printed by output";
            effects.push(finding(FindingKind::ForgedMark, at, mark, detail));
        }
        effects
    }
}

/// A command line as the shell reads it, for comparing two spellings of one line.
#[derive(Debug, PartialEq, Eq)]
struct Read {
    words: Words,
    operator: Vec<bool>,
    substitution: bool,
    expansion: bool,
    history: bool,
}

impl Read {
    fn of(line: &str) -> Read {
        let shape = Words::shape(line);
        Read {
            words: shape.words,
            operator: shape.operator,
            substitution: shape.substitution,
            expansion: shape.expansion,
            history: shape.history,
        }
    }
}

fn finding(kind: FindingKind, at: f64, mark: String, detail: &str) -> Effect {
    Effect::Finding(Finding {
        kind,
        offset: at,
        mark,
        detail: detail.to_owned(),
    })
}

/// Compares without stopping at the first difference, so timing says nothing of the nonce.
fn same(a: &str, b: &str) -> bool {
    crate::constant_time::equal(a.as_bytes(), b.as_bytes())
}
