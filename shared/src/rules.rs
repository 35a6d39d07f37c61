//! Command rules' word patterns: a program and globs for its first arguments, matched against
//! every simple command a line runs that can be read from it: through the programs that run
//! another (`sudo`, `env`, `nohup`, `timeout`…) and into the strings `sh -c` and `eval` run.
//! What the shell makes of an alias, a function, a variable or a substitution cannot be read
//! from the line: a deny-list never sees it (script-only sessions do not depend on one).

use crate::benign::glob_matches;
use crate::words::Words;

/// Programs that run the command that follows their options.
const WRAPPERS: [&str; 13] = [
    "sudo", "doas", "env", "nice", "ionice", "nohup", "setsid", "stdbuf", "timeout", "time",
    "exec", "command", "builtin",
];
/// Shells whose `-c` runs a string as a line.
const SHELLS: [&str; 6] = ["sh", "bash", "dash", "zsh", "ksh", "busybox"];
/// How many of a wrapper's words are tried as the start of its command: options and their
/// values come first, and the work stays small on any line.
const WRAPPED_STARTS: usize = 6;
/// How deep strings run by `sh -c` and `eval`, and wrapped commands, are read.
const DEPTH: usize = 3;

/// A program and argument globs, as shell words: `systemctl stop *`, `rm -rf /*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WordPattern(Vec<String>);

impl WordPattern {
    pub fn parse(text: &str) -> Result<WordPattern, String> {
        let words = Words::parse(text).map_err(|unfinished| unfinished.to_string())?;
        if words.is_empty() {
            return Err("must name a program".into());
        }
        Ok(WordPattern(words.0))
    }

    /// Whether a command of `line` runs the program with arguments that begin as the pattern's.
    pub fn matches(&self, line: &str) -> bool {
        simple_commands(line)
            .iter()
            .any(|command| self.matches_command(command))
    }

    fn matches_command(&self, command: &[String]) -> bool {
        let (Some((pattern_program, pattern_args)), Some((program, args))) =
            (self.0.split_first(), command.split_first())
        else {
            return false;
        };
        let program = match pattern_program.contains('/') {
            true => program.as_str(),
            false => program.rsplit('/').next().unwrap_or(program),
        };
        glob_matches(pattern_program, program)
            && pattern_args.len() <= args.len()
            && pattern_args
                .iter()
                .zip(args)
                .all(|(pattern, arg)| glob_matches(pattern, arg))
    }
}

/// The simple commands `line` runs, as far as they can be read from it: each as written, each
/// wrapped one unwrapped, and those of the strings `sh -c` and `eval` are given.
pub fn simple_commands(line: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    read_commands(line, DEPTH, &mut found);
    found
}

fn read_commands(line: &str, depth: usize, found: &mut Vec<Vec<String>>) {
    let words = Words::parse_lenient(line);
    for command in words.simple_commands() {
        read_command(without_assignments(command), depth, found);
    }
}

/// `command`, and what it runs: a wrapper's command is any of the words after the wrapper that
/// is not an option (an option's value, `-u root`, cannot be told from a program without
/// knowing each wrapper's options: each is tried, so a rule matches too often, never too
/// rarely).
fn read_command(command: &[String], depth: usize, found: &mut Vec<Vec<String>>) {
    let Some(first) = command.first() else {
        return;
    };
    found.push(command.to_vec());
    let program = first.rsplit('/').next().unwrap_or_default();
    let args = &command[1..];
    if depth == 0 {
        return;
    }
    if program == "eval" {
        read_commands(&args.join(" "), depth - 1, found);
    } else if SHELLS.contains(&program)
        && let Some(at) = args.iter().position(|word| is_dash_c(word))
        && let Some(string) = args.get(at + 1)
    {
        read_commands(string, depth - 1, found);
    } else if WRAPPERS.contains(&program) {
        let starts = args
            .iter()
            .enumerate()
            .filter(|(_, word)| !word.starts_with('-') && !is_assignment(word))
            .take(WRAPPED_STARTS);
        for (at, _) in starts {
            read_command(&args[at..], depth - 1, found);
        }
    }
}

/// `-c`, alone or among other one-letter options (`-ec`, `-xc`).
fn is_dash_c(word: &str) -> bool {
    word.strip_prefix('-')
        .is_some_and(|flags| !flags.starts_with('-') && flags.contains('c'))
}

/// A simple command without the `NAME=value` assignments before its program.
fn without_assignments(command: &[String]) -> &[String] {
    let first = command
        .iter()
        .position(|word| !is_assignment(word))
        .unwrap_or(command.len());
    &command[first..]
}

fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, line: &str) -> bool {
        WordPattern::parse(pattern).unwrap().matches(line)
    }

    #[test]
    fn a_program_and_its_first_arguments_match_as_shell_words() {
        assert!(matches("systemctl stop nginx", "systemctl stop nginx"));
        assert!(matches(
            "systemctl stop nginx",
            "systemctl  stop 'nginx' --now"
        ));
        assert!(matches("systemctl stop *", "/usr/bin/systemctl stop sshd"));
        assert!(matches("rm -rf /*", "rm -rf /etc"));
        assert!(!matches("systemctl stop nginx", "systemctl status nginx"));
        assert!(!matches("systemctl stop nginx", "systemctl stop"));
        assert!(
            !matches("/bin/rm *", "rm x"),
            "a pattern with a path names that path"
        );
    }

    #[test]
    fn wrappers_separators_sh_c_and_eval_are_read_through() {
        for line in [
            "ls; systemctl stop nginx",
            "true && systemctl stop nginx",
            "echo | systemctl stop nginx",
            "sudo -n systemctl stop nginx",
            "sudo env FOO=1 nohup systemctl stop nginx",
            "timeout -s KILL 10 systemctl stop nginx",
            "LANG=C systemctl stop nginx",
            "sh -c 'systemctl stop nginx'",
            "bash -ec \"sudo systemctl stop nginx\"",
            "eval systemctl stop nginx",
            "eval 'sh -c \"systemctl stop nginx\"'",
        ] {
            assert!(matches("systemctl stop nginx", line), "{line}");
        }
    }

    #[test]
    fn what_only_the_shell_knows_is_not_seen() {
        // Honest limits of a deny-list: these run `systemctl stop nginx` and do not match.
        for line in [
            "s=systemctl; $s stop nginx",
            "$(echo systemctl) stop nginx",
            "echo c3lzdGVtY3RsIHN0b3AgbmdpbngK | base64 -d | sh",
        ] {
            assert!(!matches("systemctl stop nginx", line), "{line}");
        }
    }

    #[test]
    fn an_empty_or_unfinished_pattern_is_refused() {
        assert!(WordPattern::parse("  ").is_err());
        assert!(WordPattern::parse("rm 'x").is_err());
    }
}
