//! Shell words: a command line as the shell splits it, so that two lines compare equal when
//! only their quoting or spacing differs (`echo "a b"`, `echo 'a b'` and `echo a\ b` are one
//! command). Operators (`;`, `&&`, `|`, `>`…) are words of their own, a here-document's body is
//! one word, and comments are dropped.

use std::fmt;

/// A command line as a list of shell words.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Words(pub Vec<String>);

/// Why a command line is not complete yet: the shell would wait for more lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unfinished {
    SingleQuote,
    DoubleQuote,
    /// The line ends with a `\` that continues it on the next line.
    Continuation,
    /// A here-document whose closing delimiter has not come.
    HereDocument {
        delimiter: String,
    },
    /// A compound command (`if`, `for`, `while`, `case`, `{`) whose closing word has not come.
    Compound {
        closer: String,
    },
    /// The line ends with an operator that needs a command after it (`|`, `&&`, `||`).
    Operator {
        operator: String,
    },
}

impl fmt::Display for Unfinished {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unfinished::SingleQuote => f.write_str("unterminated single quote"),
            Unfinished::DoubleQuote => f.write_str("unterminated double quote"),
            Unfinished::Continuation => {
                f.write_str("the last line ends with `\\` and nothing follows")
            }
            Unfinished::HereDocument { delimiter } => {
                write!(f, "here-document without its closing `{delimiter}` line")
            }
            Unfinished::Compound { closer } => {
                write!(f, "compound command without its closing `{closer}`")
            }
            Unfinished::Operator { operator } => {
                write!(
                    f,
                    "the last line ends with `{operator}` and no command follows"
                )
            }
        }
    }
}

/// Operators, longest first so that `&&` is never read as two `&`.
const OPERATORS: [&str; 21] = [
    "&>>", "<<<", "<<-", "&&", "||", ";;", "|&", "<<", ">>", "<&", ">&", "<>", ">|", "&>", ";",
    "&", "|", "<", ">", "(", ")",
];

/// A command line as the shell would run it: its words, which of them are operators, and what
/// it asks the shell to do besides running programs with the words as they stand.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shape {
    pub words: Words,
    /// For each word: it is an operator (`|`, `;`, `>`…), not a quoted look-alike.
    pub operator: Vec<bool>,
    /// For each word: it holds an unquoted `*`, `?` or `[`, so the shell may put file names in
    /// its place.
    pub globbed: Vec<bool>,
    /// `$(…)`, `` `…` `` or `$((…))`: the shell runs or computes something first.
    pub substitution: bool,
    /// `$NAME`, `${…}` or `$1`: a word takes a value the line does not show.
    pub expansion: bool,
    /// An unquoted `!` that bash would take for history expansion.
    pub history: bool,
}

/// Words that separate one simple command from the next.
pub const SEPARATORS: [&str; 7] = [";", "&&", "||", "|", "&", ";;", "|&"];

impl Words {
    /// Splits `line` into shell words, or says why the shell would wait for more input.
    pub fn parse(line: &str) -> Result<Words, Unfinished> {
        Scanner::new(line).run()
    }

    /// Splits `line` as far as it goes: an unfinished quote or here-document ends where the
    /// text ends. For command lines recorded from a session, which the shell did run.
    pub fn parse_lenient(line: &str) -> Words {
        let mut scanner = Scanner::new(line);
        // Unfinished or not, the words read so far are what the shell ran.
        scanner.scan().ok();
        scanner.finish()
    }

    /// The shape of `line`, or why the shell would wait for more input.
    pub fn parse_shape(line: &str) -> Result<Shape, Unfinished> {
        let mut scanner = Scanner::new(line);
        scanner.scan()?;
        scanner.end_word();
        scanner.check_complete()?;
        let mut shape = std::mem::take(&mut scanner.shape);
        shape.words = scanner.finish();
        let count = shape.words.0.len();
        shape.operator.truncate(count);
        shape.globbed.truncate(count);
        Ok(shape)
    }

    /// The shape of `line`, read as far as it goes (see `parse_lenient`).
    pub fn shape(line: &str) -> Shape {
        let mut scanner = Scanner::new(line);
        scanner.scan().ok();
        scanner.end_word();
        let mut shape = std::mem::take(&mut scanner.shape);
        shape.words = scanner.finish();
        let count = shape.words.0.len();
        shape.operator.truncate(count);
        shape.globbed.truncate(count);
        shape
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The simple commands of the line: the runs of words between separators.
    pub fn simple_commands(&self) -> impl Iterator<Item = &[String]> {
        self.0
            .split(|word| SEPARATORS.contains(&word.as_str()))
            .filter(|run| !run.is_empty())
    }

    /// The program a simple command runs: its first word that is not a `NAME=value` assignment.
    pub fn program(simple_command: &[String]) -> Option<&str> {
        simple_command
            .iter()
            .find(|word| !is_assignment(word))
            .map(String::as_str)
    }
}

/// Whether a `!` between `previous` and `next` starts a history expansion, as bash reads it: not
/// before a blank, `=`, `(` or a closing quote, and not in `[!…]`, `$!` or `${!…}`.
pub fn starts_history_expansion(previous: Option<char>, next: Option<char>) -> bool {
    let after = next.is_some_and(|n| !n.is_whitespace() && !matches!(n, '=' | '(' | '"'));
    let before = !matches!(previous, Some('[' | '$' | '{'));
    after && before
}

fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

struct PendingHereDocument {
    delimiter: String,
    strip_tabs: bool,
}

struct Scanner {
    chars: Vec<char>,
    pos: usize,
    words: Vec<String>,
    word: String,
    /// Whether the word being read exists even if empty (`''` is a word).
    in_word: bool,
    quoted: bool,
    /// The next word is a here-document delimiter.
    expect_delimiter: Option<bool>,
    here_documents: Vec<PendingHereDocument>,
    /// The word being read holds an unquoted glob character.
    globbed: bool,
    shape: Shape,
}

impl Scanner {
    fn new(line: &str) -> Self {
        Scanner {
            chars: line.chars().collect(),
            pos: 0,
            words: Vec::new(),
            word: String::new(),
            in_word: false,
            quoted: false,
            expect_delimiter: None,
            here_documents: Vec::new(),
            globbed: false,
            shape: Shape::default(),
        }
    }

    fn run(mut self) -> Result<Words, Unfinished> {
        self.scan()?;
        self.end_word();
        self.check_complete()?;
        Ok(self.finish())
    }

    /// Whether the shell would take the line as it stands: every compound command closed, and
    /// no operator left waiting for its command.
    fn check_complete(&self) -> Result<(), Unfinished> {
        let words = &self.words;
        let operator = &self.shape.operator;
        let mut open: Vec<&'static str> = Vec::new();
        let mut command_position = true;
        for (word, &is_operator) in words.iter().zip(operator) {
            if is_operator {
                command_position = !word.starts_with(['<', '>']) && !word.ends_with(['<', '>']);
                continue;
            }
            if !command_position {
                continue;
            }
            match word.as_str() {
                "if" => open.push("fi"),
                "for" | "while" | "until" | "select" => open.push("done"),
                "case" => open.push("esac"),
                "{" => open.push("}"),
                "fi" | "done" | "esac" | "}" if open.last() == Some(&word.as_str()) => {
                    open.pop();
                }
                _ => {}
            }
            command_position = matches!(
                word.as_str(),
                "if" | "then" | "else" | "elif" | "do" | "while" | "until" | "{" | "!" | "time"
            );
        }
        if let Some(closer) = open.last() {
            return Err(Unfinished::Compound {
                closer: (*closer).to_owned(),
            });
        }
        match (words.last(), operator.last()) {
            (Some(last), Some(true)) if matches!(last.as_str(), "|" | "&&" | "||" | "|&") => {
                Err(Unfinished::Operator {
                    operator: last.clone(),
                })
            }
            _ => Ok(()),
        }
    }

    fn finish(mut self) -> Words {
        self.end_word();
        while self.words.last().is_some_and(|word| word == ";") {
            self.words.pop();
        }
        Words(self.words)
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn scan(&mut self) -> Result<(), Unfinished> {
        while let Some(c) = self.peek() {
            match c {
                ' ' | '\t' | '\r' => {
                    self.end_word();
                    self.pos += 1;
                }
                '\n' => {
                    self.end_word();
                    self.pos += 1;
                    self.read_here_documents()?;
                    self.push_operator(";");
                }
                '#' if !self.in_word => self.skip_comment(),
                '$' if self.next_is("((") || self.next_is("[") => self.arithmetic(),
                '(' if !self.in_word && self.next_is("(") => self.arithmetic(),
                '$' if self.next_is("'") => self.ansi_c_quoted()?,
                '\'' => self.single_quoted()?,
                '"' => self.double_quoted()?,
                '\\' => self.escaped()?,
                ';' | '&' | '|' | '<' | '>' | '(' | ')' => self.operator(),
                other => {
                    self.note_expansion(other);
                    self.globbed |= matches!(other, '*' | '?' | '[');
                    self.word.push(other);
                    self.in_word = true;
                    self.pos += 1;
                }
            }
        }
        // A delimiter at the very end opens its here-document too.
        self.end_word();
        if let Some(pending) = self.here_documents.first() {
            return Err(Unfinished::HereDocument {
                delimiter: pending.delimiter.clone(),
            });
        }
        Ok(())
    }

    fn skip_comment(&mut self) {
        while self.peek().is_some_and(|c| c != '\n') {
            self.pos += 1;
        }
    }

    fn single_quoted(&mut self) -> Result<(), Unfinished> {
        self.pos += 1;
        self.in_word = true;
        self.quoted = true;
        loop {
            match self.peek() {
                None => return Err(Unfinished::SingleQuote),
                Some('\'') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(c) => {
                    self.word.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn double_quoted(&mut self) -> Result<(), Unfinished> {
        self.pos += 1;
        self.in_word = true;
        self.quoted = true;
        loop {
            match self.peek() {
                None => return Err(Unfinished::DoubleQuote),
                Some('"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some('\\') => {
                    self.pos += 1;
                    match self.peek() {
                        None => return Err(Unfinished::DoubleQuote),
                        Some('\n') => self.pos += 1,
                        Some(c @ ('$' | '`' | '"' | '\\')) => {
                            self.word.push(c);
                            self.pos += 1;
                        }
                        Some(_) => self.word.push('\\'),
                    }
                }
                Some(c) => {
                    self.note_expansion(c);
                    self.word.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// Whether the characters after the one at the scanner's position are `text`.
    fn next_is(&self, text: &str) -> bool {
        let mut chars = self.chars.get(self.pos + 1..).unwrap_or(&[]).iter();
        text.chars().all(|c| chars.next() == Some(&c))
    }

    /// `$((…))`, `((…))` or `$[…]`: arithmetic, one part of the word, whatever its `<<` or `;`
    /// (it may run code through array subscripts, so it counts as a substitution).
    fn arithmetic(&mut self) {
        self.shape.substitution = true;
        self.in_word = true;
        let mut depth = 0usize;
        while let Some(c) = self.peek() {
            self.word.push(c);
            self.pos += 1;
            match c {
                '(' | '[' => depth += 1,
                ')' | ']' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return;
                    }
                }
                _ => {}
            }
        }
    }

    /// `$'…'`: a quoted string in which a backslash escapes the next character.
    fn ansi_c_quoted(&mut self) -> Result<(), Unfinished> {
        self.pos += 2;
        self.in_word = true;
        self.quoted = true;
        loop {
            match self.peek() {
                None => return Err(Unfinished::SingleQuote),
                Some('\'') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some('\\') => {
                    self.pos += 1;
                    if let Some(c) = self.peek() {
                        self.word.push(c);
                        self.pos += 1;
                    }
                }
                Some(c) => {
                    self.word.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// Notes what `c`, unquoted or inside double quotes at the scanner's position, asks of the
    /// shell.
    fn note_expansion(&mut self, c: char) {
        let next = self.chars.get(self.pos + 1).copied();
        let previous = self
            .pos
            .checked_sub(1)
            .and_then(|at| self.chars.get(at))
            .copied();
        match (c, next) {
            ('`', _) | ('$', Some('(')) => self.shape.substitution = true,
            // `$NAME`, `${…}`, `$1`, special parameters, and zsh's `$~x`, `$=x`, `$^x`, `$+x`.
            ('$', Some(n)) if n.is_alphanumeric() || "{_@*#?$!-~=^+".contains(n) => {
                self.shape.expansion = true;
            }
            ('!', next) if starts_history_expansion(previous, next) => {
                self.shape.history = true;
            }
            _ => {}
        }
    }

    fn escaped(&mut self) -> Result<(), Unfinished> {
        self.pos += 1;
        match self.peek() {
            None => Err(Unfinished::Continuation),
            // A backslash-newline joins the lines; it is not a character of the word.
            Some('\n') => {
                self.pos += 1;
                Ok(())
            }
            Some(c) => {
                self.word.push(c);
                self.in_word = true;
                self.quoted = true;
                self.pos += 1;
                Ok(())
            }
        }
    }

    fn operator(&mut self) {
        let rest: String = self.chars[self.pos..].iter().take(3).collect();
        let op = OPERATORS
            .iter()
            .find(|op| rest.starts_with(**op))
            .copied()
            .unwrap_or(";");
        self.pos += op.chars().count();
        // `2>` and `10<` are one word: a file descriptor number belongs to its redirection.
        let io_number = self.in_word
            && !self.quoted
            && !self.word.is_empty()
            && self.word.chars().all(|c| c.is_ascii_digit())
            && op.starts_with(['<', '>']);
        if io_number {
            let word = std::mem::take(&mut self.word) + op;
            self.in_word = false;
            self.globbed = false;
            self.push_word(word, true);
        } else {
            self.end_word();
            self.push_operator(op);
        }
        match op {
            "<<" => self.expect_delimiter = Some(false),
            "<<-" => self.expect_delimiter = Some(true),
            _ => {}
        }
    }

    fn push_operator(&mut self, op: &str) {
        // Runs of newlines and `;` separate commands once; the shell reads them alike. A line
        // break after a word that opens a body or an operator that needs more separates nothing
        // (`do` then a newline reads as `do` then the command).
        let opens = |word: &String| {
            matches!(
                word.as_str(),
                ";" | "|" | "&&" | "||" | "|&" | "(" | "do" | "then" | "else" | "{"
            )
        };
        if op == ";" && (self.words.is_empty() || self.words.last().is_some_and(opens)) {
            return;
        }
        self.push_word(op.to_owned(), true);
    }

    fn push_word(&mut self, word: String, operator: bool) {
        self.words.push(word);
        self.shape.operator.push(operator);
        self.shape
            .globbed
            .push(std::mem::take(&mut self.globbed) && !operator);
    }

    fn end_word(&mut self) {
        if !self.in_word {
            return;
        }
        let word = std::mem::take(&mut self.word);
        if let Some(strip_tabs) = self.expect_delimiter.take() {
            self.here_documents.push(PendingHereDocument {
                delimiter: word.clone(),
                strip_tabs,
            });
        }
        self.push_word(word, false);
        self.in_word = false;
        self.quoted = false;
    }

    /// After a newline, the bodies of the here-documents opened on the line just ended; each
    /// body is one word.
    fn read_here_documents(&mut self) -> Result<(), Unfinished> {
        for pending in std::mem::take(&mut self.here_documents) {
            let mut body = String::new();
            loop {
                if self.pos >= self.chars.len() {
                    return Err(Unfinished::HereDocument {
                        delimiter: pending.delimiter,
                    });
                }
                let start = self.pos;
                while self.peek().is_some_and(|c| c != '\n') {
                    self.pos += 1;
                }
                let mut line: String = self.chars[start..self.pos].iter().collect();
                let ended_by_newline = self.peek() == Some('\n');
                if ended_by_newline {
                    self.pos += 1;
                }
                if pending.strip_tabs {
                    line = line.trim_start_matches('\t').to_owned();
                }
                if line.trim_end_matches('\r') == pending.delimiter {
                    break;
                }
                body.push_str(&line);
                body.push('\n');
                if !ended_by_newline {
                    return Err(Unfinished::HereDocument {
                        delimiter: pending.delimiter,
                    });
                }
            }
            self.push_word(body, false);
        }
        Ok(())
    }
}

impl fmt::Display for Words {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        Words::parse(line).unwrap().0
    }

    #[test]
    fn quoting_and_spacing_do_not_matter() {
        let expected = vec!["echo".to_owned(), "a b".to_owned()];
        for line in [
            "echo \"a b\"",
            "echo 'a b'",
            "echo a\\ b",
            "  echo   'a'\" b\"  ",
        ] {
            assert_eq!(words(line), expected, "{line}");
        }
        assert_ne!(words("echo a b"), expected);
        assert_eq!(words("echo ''"), vec!["echo", ""]);
    }

    #[test]
    fn operators_are_words_of_their_own() {
        assert_eq!(
            words("ls -l>out&&cat out|wc -l"),
            words("ls -l > out && cat out | wc -l")
        );
        assert_eq!(words("a;b"), vec!["a", ";", "b"]);
        assert_eq!(words("cmd 2>&1"), vec!["cmd", "2>&", "1"]);
        assert_eq!(words("echo 2 > x"), vec!["echo", "2", ">", "x"]);
        assert_ne!(words("echo 2> x"), words("echo 2 > x"));
        assert_eq!(words("echo '2'> x"), vec!["echo", "2", ">", "x"]);
        assert_eq!(words("echo a;"), words("echo a"));
    }

    #[test]
    fn double_quotes_keep_backslashes_the_shell_keeps() {
        assert_eq!(
            words(r#"echo "a\"b" "c\d" "\$HOME""#),
            vec!["echo", "a\"b", "c\\d", "$HOME"]
        );
    }

    #[test]
    fn comments_are_dropped_but_not_hashes_inside_words() {
        assert_eq!(words("echo a # the rest"), vec!["echo", "a"]);
        assert_eq!(words("echo a#b '#c'"), vec!["echo", "a#b", "#c"]);
        assert!(words("# only a comment").is_empty());
    }

    #[test]
    fn backslash_newline_joins_lines() {
        assert_eq!(
            words("apt-get install \\\n  nginx"),
            words("apt-get install nginx")
        );
    }

    #[test]
    fn a_here_document_body_is_one_word() {
        let line = "cat <<EOF > /etc/motd\nhello\n  world\nEOF";
        assert_eq!(
            words(line),
            vec!["cat", "<<", "EOF", ">", "/etc/motd", "hello\n  world\n"]
        );
        let stripped = "cat <<-'END'\n\tindented\n\tEND\n";
        assert_eq!(words(stripped), vec!["cat", "<<-", "END", "indented\n"]);
    }

    #[test]
    fn unfinished_lines_say_why() {
        assert_eq!(Words::parse("echo 'abc"), Err(Unfinished::SingleQuote));
        assert_eq!(Words::parse("echo \"abc"), Err(Unfinished::DoubleQuote));
        assert_eq!(
            Words::parse("apt-get install \\"),
            Err(Unfinished::Continuation)
        );
        assert_eq!(
            Words::parse("cat <<EOF\nbody\n"),
            Err(Unfinished::HereDocument {
                delimiter: "EOF".into()
            })
        );
        assert_eq!(Words::parse_lenient("echo 'abc").0, vec!["echo", "abc"]);
    }

    #[test]
    fn arithmetic_and_ansi_c_strings_are_words_whatever_they_hold() {
        assert_eq!(words("echo $((1<<2)) x"), vec!["echo", "$((1<<2))", "x"]);
        assert!(Words::parse("((x = 1 << 2))").is_ok());
        assert_eq!(words("echo $'it\\'s' x"), vec!["echo", "it's", "x"]);
        assert!(Words::shape("ls $[x]").substitution);
        assert!(Words::shape("ls $~x").expansion);
    }

    #[test]
    fn history_expansion_is_read_where_bash_reads_it() {
        assert!(Words::shape("sudo !!").history);
        assert!(!Words::shape("rm /etc/[!a]*").history);
        assert!(!Words::shape("echo $! ${!x}").history);
        assert!(!Words::shape("echo 'a!b' ! x").history);
    }

    #[test]
    fn compound_commands_and_trailing_operators_wait_for_their_end() {
        assert_eq!(
            Words::parse("for i in 1 2; do"),
            Err(Unfinished::Compound {
                closer: "done".into()
            })
        );
        assert!(Words::parse("if true; then echo a; fi").is_ok());
        assert!(Words::parse("while true\ndo\necho $i\ndone").is_ok());
        assert!(Words::parse("echo for if while done").is_ok());
        assert!(Words::parse("{ echo a").is_err());
        assert!(Words::parse("case $x in a) echo a;; esac").is_ok());
        assert_eq!(
            Words::parse("ls |"),
            Err(Unfinished::Operator {
                operator: "|".into()
            })
        );
        assert_eq!(
            words("for i in 1 2; do\necho $i\ndone"),
            words("for i in 1 2; do echo $i; done")
        );
    }

    #[test]
    fn newlines_separate_commands_like_semicolons() {
        assert_eq!(words("a\nb\n\n"), words("a; b"));
    }

    #[test]
    fn simple_commands_and_their_programs() {
        let line = Words::parse("LANG=C ls -l | grep x && sudo=1 FOO=bar env").unwrap();
        let programs: Vec<_> = line.simple_commands().filter_map(Words::program).collect();
        assert_eq!(programs, vec!["ls", "grep", "env"]);
    }
}
