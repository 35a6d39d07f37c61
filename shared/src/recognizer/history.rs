//! History expansion as bash and zsh do it for the designators people type: `!!`, `!$`, `!^`,
//! `!*`, `!-n`, `!prefix`, `!?text?` and `^old^new`, from the commands recognised so far. A
//! shell's history may hold commands from before the session, which this cannot know: bash
//! prints the line it expands to, and that is believed where it has the typed line's shape.

/// What a line's history designators come to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expansion {
    /// The line as the shell runs it.
    Line(String),
    /// A designator names no command recognised so far.
    Unknown,
}

use crate::command::ExecutedCommand;
use crate::words::starts_history_expansion;

/// How many commands back a designator searches.
const SEARCHED: usize = 1000;

/// The command lines run so far, oldest first.
#[derive(Debug, Clone, Copy)]
pub struct History<'a>(pub &'a [ExecutedCommand]);

impl<'a> History<'a> {
    fn last(&self) -> Option<&'a str> {
        self.0.last().map(|command| command.text.as_str())
    }

    /// The `back`-th command from the end (1 is the last).
    fn back(&self, back: usize) -> Option<&'a str> {
        let index = self.0.len().checked_sub(back)?;
        self.0.get(index).map(|command| command.text.as_str())
    }

    /// Searched newest first, as far back as a shell keeps by default (Debian's bash keeps
    /// 1000 lines, zsh and upstream bash fewer).
    fn newest_first(&self) -> impl Iterator<Item = &'a str> {
        self.0
            .iter()
            .rev()
            .take(SEARCHED)
            .map(|command| command.text.as_str())
    }
}

/// Expands the designators of `line` from `history`.
pub fn expand(line: &str, history: History<'_>) -> Expansion {
    let previous = history.last();
    if let Some(rest) = line.strip_prefix('^') {
        return quick_substitution(rest, previous);
    }
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::new();
    let mut index = 0;
    let mut quoted = false;
    while index < chars.len() {
        let c = chars[index];
        if c == '\'' {
            quoted = !quoted;
        }
        let next = chars.get(index + 1).copied();
        let previous = index.checked_sub(1).map(|at| chars[at]);
        let designates = !quoted && c == '!' && starts_history_expansion(previous, next);
        if !designates {
            out.push(c);
            index += 1;
            continue;
        }
        let Some((text, used)) = designator(&chars[index + 1..], history) else {
            return Expansion::Unknown;
        };
        out.push_str(&text);
        index += 1 + used;
    }
    Expansion::Line(out)
}

/// The text of the designator at the start of `rest` (after its `!`) and how many characters it
/// took.
fn designator(rest: &[char], history: History<'_>) -> Option<(String, usize)> {
    let previous = history.last()?;
    match rest.first()? {
        '!' => Some((previous.to_owned(), 1)),
        '$' => Some((words(previous).last()?.clone(), 1)),
        '^' => Some((words(previous).get(1)?.clone(), 1)),
        '*' => Some((words(previous).get(1..)?.join(" "), 1)),
        '-' => {
            let digits: String = rest[1..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .collect();
            let back: usize = digits.parse().ok()?;
            Some((history.back(back)?.to_owned(), 1 + digits.len()))
        }
        '?' => {
            let text: String = rest[1..].iter().take_while(|&&c| c != '?').collect();
            let used =
                1 + text.chars().count() + usize::from(rest.get(1 + text.len()) == Some(&'?'));
            let command = history
                .newest_first()
                .find(|command| command.contains(&text))?;
            Some((command.to_owned(), used))
        }
        _ => {
            let prefix: String = rest
                .iter()
                .take_while(|c| !c.is_whitespace() && !matches!(c, ';' | '&' | '|' | ':'))
                .collect();
            if prefix.chars().all(|c| c.is_ascii_digit()) {
                // `!n` is a history number, counted from before the session.
                return None;
            }
            let command = history
                .newest_first()
                .find(|command| command.starts_with(&prefix))?;
            Some((command.to_owned(), prefix.chars().count()))
        }
    }
}

fn quick_substitution(rest: &str, previous: Option<&str>) -> Expansion {
    let mut parts = rest.splitn(3, '^');
    let (Some(old), Some(new), Some(previous)) = (parts.next(), parts.next(), previous) else {
        return Expansion::Unknown;
    };
    if old.is_empty() || !previous.contains(old) {
        return Expansion::Unknown;
    }
    let tail = parts.next().unwrap_or_default();
    Expansion::Line(previous.replacen(old, new, 1) + tail)
}

/// The words of a command line as history designators count them: split at blanks outside
/// quotes, quotes kept.
fn words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match (quote, c) {
            (None, ' ' | '\t') => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                continue;
            }
            (None, '\'' | '"') => quote = Some(c),
            (Some(open), _) if open == c => quote = None,
            _ => {}
        }
        word.push(c);
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// Whether `printed` has the shape of `typed` with its designators filled in: the text outside
/// the designators is the same. What bash prints of an expansion is believed only then.
pub fn fits(typed: &str, printed: &str) -> bool {
    let mut pattern = String::new();
    let mut pieces: Vec<String> = Vec::new();
    let mut chars = typed.chars().peekable();
    let mut previous = None;
    while let Some(c) = chars.next() {
        let designates = c == '!' && starts_history_expansion(previous, chars.peek().copied());
        previous = Some(c);
        if designates {
            pieces.push(std::mem::take(&mut pattern));
            // The designator runs to the next blank or separator.
            while chars
                .peek()
                .is_some_and(|n| !n.is_whitespace() && !matches!(n, ';' | '&' | '|'))
            {
                chars.next();
            }
        } else {
            pattern.push(c);
        }
    }
    pieces.push(pattern);
    matches_pieces(&pieces, printed)
}

/// `text` is the pieces in order with anything (at least one character) between them.
fn matches_pieces(pieces: &[String], text: &str) -> bool {
    let Some((first, rest)) = pieces.split_first() else {
        return text.is_empty();
    };
    let Some(mut remaining) = text.strip_prefix(first.as_str()) else {
        return false;
    };
    for (index, piece) in rest.iter().enumerate() {
        let last = index + 1 == rest.len();
        let found = if last {
            remaining
                .strip_suffix(piece.as_str())
                .filter(|filled| !filled.is_empty())
                .map(|_| "")
        } else {
            remaining.get(1..).and_then(|after| {
                after
                    .find(piece.as_str())
                    .map(|at| &after[at + piece.len()..])
            })
        };
        match found {
            Some(next) => remaining = next,
            None => return false,
        }
    }
    remaining.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history() -> Vec<ExecutedCommand> {
        ["echo one", "cat /etc/hostname", "grep -r needle /srv"]
            .map(|text| ExecutedCommand {
                text: text.to_owned(),
                offset: 0.0,
                exit_code: None,
                source: crate::command::Recognition::Screen,
            })
            .to_vec()
    }

    #[test]
    fn designators_expand_from_the_commands_run() {
        let commands = history();
        let h = History(&commands);
        let line = |text: &str| Expansion::Line(text.to_owned());
        assert_eq!(expand("sudo !!", h), line("sudo grep -r needle /srv"));
        assert_eq!(expand("ls !$", h), line("ls /srv"));
        assert_eq!(expand("echo !^ !*", h), line("echo -r -r needle /srv"));
        assert_eq!(expand("!ec", h), line("echo one"));
        assert_eq!(expand("!-2", h), line("cat /etc/hostname"));
        assert_eq!(expand("!?hostname?", h), line("cat /etc/hostname"));
        assert_eq!(expand("^needle^hay", h), line("grep -r hay /srv"));
        assert_eq!(expand("echo 'a!b' ! x", h), line("echo 'a!b' ! x"));
        assert_eq!(expand("!nothing-like-it", h), Expansion::Unknown);
        assert_eq!(expand("!42", h), Expansion::Unknown);
    }

    #[test]
    fn a_printed_expansion_must_have_the_typed_shape() {
        assert!(fits("ls -d !$", "ls -d /etc/hostname"));
        assert!(fits("sudo !!", "sudo apt update"));
        assert!(fits("!ec", "echo echo one"));
        assert!(!fits("ls -d !$", "rm -rf /srv"));
        assert!(!fits("sudo !!", "sudo "));
        assert!(fits("echo !! and !$", "echo a b and b"));
    }
}
