//! A change's script: one command per line; blank lines and `#` comments ignored; a line ending
//! in `\`, an open quote or a here-document goes on over the following lines.

pub use crate::line_error::LineError as ScriptError;
use crate::words::Words;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Script {
    pub commands: Vec<ScriptCommand>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptCommand {
    /// The line it starts on, from 1.
    pub line: usize,
    /// The command as written, its lines joined by newlines.
    pub text: String,
    pub words: Words,
}

impl Script {
    pub fn parse(text: &str) -> Result<Script, ScriptError> {
        let lines: Vec<&str> = text
            .split('\n')
            .map(|line| line.strip_suffix('\r').unwrap_or(line))
            .collect();
        let mut commands = Vec::new();
        let mut next = 0;
        while next < lines.len() {
            let start = next;
            let mut command = lines[start].to_owned();
            next += 1;
            loop {
                match Words::parse(&command) {
                    Ok(words) => {
                        if !words.is_empty() {
                            commands.push(ScriptCommand {
                                line: start + 1,
                                // Trailing blanks stay: an escaped space at the end is part of a word.
                                text: command.trim_start_matches([' ', '\t']).to_owned(),
                                words,
                            });
                        }
                        break;
                    }
                    Err(unfinished) => {
                        let Some(line) = lines.get(next) else {
                            return Err(ScriptError {
                                line: start + 1,
                                message: unfinished.to_string(),
                            });
                        };
                        command.push('\n');
                        command.push_str(line);
                        next += 1;
                    }
                }
            }
        }
        Ok(Script { commands })
    }

    pub fn len(&self) -> usize {
        self.commands.len()
    }

    pub fn is_empty(&self) -> bool {
        self.commands.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(script: &Script) -> Vec<(usize, String)> {
        script
            .commands
            .iter()
            .map(|command| (command.line, command.words.to_string()))
            .collect()
    }

    #[test]
    fn skips_blanks_and_comments_and_numbers_lines_from_one() {
        let script = Script::parse(
            "# prepare\n\nsystemctl stop nginx\n   \n  # again\ncp a b  # backup\r\n",
        )
        .unwrap();
        assert_eq!(
            summary(&script),
            vec![(3, "systemctl stop nginx".into()), (6, "cp a b".into())]
        );
        assert_eq!(script.commands[1].text, "cp a b  # backup");
    }

    #[test]
    fn joins_continuations_quotes_and_here_documents() {
        let text =
            "apt-get install \\\n  nginx\necho 'two\nlines'\ncat <<EOF >/tmp/x\nbody\nEOF\nls";
        let script = Script::parse(text).unwrap();
        let lines: Vec<usize> = script.commands.iter().map(|c| c.line).collect();
        assert_eq!(lines, vec![1, 3, 5, 8]);
        assert_eq!(
            script.commands[0].words,
            Words::parse("apt-get install nginx").unwrap()
        );
        assert_eq!(script.commands[1].words.0, vec!["echo", "two\nlines"]);
        assert_eq!(
            script.commands[2].words.0.last().map(String::as_str),
            Some("body\n")
        );
    }

    #[test]
    fn errors_name_the_line_where_the_command_starts() {
        let error = Script::parse("ls\n\necho \"unterminated\nmore").unwrap_err();
        assert_eq!(
            error,
            ScriptError {
                line: 3,
                message: "unterminated double quote".into()
            }
        );
        assert_eq!(error.to_string(), "line 3: unterminated double quote");
        let error = Script::parse("cat <<EOF\nno end").unwrap_err();
        assert_eq!(error.line, 1);
        assert!(error.message.contains("`EOF`"), "{}", error.message);
    }

    #[test]
    fn an_empty_script_has_no_commands() {
        assert!(Script::parse("\n# nothing\n").unwrap().is_empty());
    }
}
