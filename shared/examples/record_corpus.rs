//! Records the corpus of real sessions that command recognition is tested against.
//!
//!     cargo run -p changeaudit-shared --example record_corpus -- shared/tests/corpus
//!
//! Each case starts a real bash or zsh in a pseudo-terminal (util-linux `script`, 80x24), types
//! its keystrokes with human-like delays, and records both directions with their timing as
//! asciicast v2 (`i` and `o` events). The truth of what ran comes from the shell itself, never
//! from the recording: in bash a `PS0` hook writes each command line bash takes into its history
//! as it starts, and a `PROMPT_COMMAND` hook its exit status; in zsh the `preexec` and `precmd`
//! hooks do the same; both to a side file. Nested shells (`bash`, `su`) load the same hooks.
//! zsh runs with Debian's own `/etc/zsh/zshrc` (which switches the terminal to application
//! cursor keys at each prompt: arrows are then sent as a real terminal sends them there).

// A recording tool: it prints progress, sleeps to type like a person, and stops on any failure.
#![allow(
    clippy::print_stdout,
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::disallowed_methods
)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use changeaudit_shared::asciicast::{Cast, Event, EventData, Header, Utf8Stream};

const COLS: u16 = 80;
const ROWS: u16 = 24;

/// What the person does, step by step.
#[derive(Clone)]
enum Step {
    /// Typed one character at a time.
    Type(&'static str),
    /// A key or chord sent at once (arrows, Ctrl-R, Tab…), then a short pause.
    Key(&'static str),
    /// Enter, then a pause for the command to run and the prompt to come back.
    Enter,
    /// A bracketed paste of the text.
    Paste(&'static str),
    /// Waits, e.g. while a long command runs.
    Wait(u64),
    /// Sent at once as it stands, no bracketed paste (an older client's paste).
    Raw(&'static str),
    /// An arrow or Home/End key, sent as the terminal's cursor-key mode has it (`A`-`D`, `H`,
    /// `F`).
    Arrow(char),
}

use Step::{Arrow, Enter, Key, Paste, Raw, Type, Wait};

const UP: &str = "\x1b[A";
const LEFT: &str = "\x1b[D";
const RIGHT: &str = "\x1b[C";
const HOME: &str = "\x1b[H";
const END: &str = "\x1b[F";
const BACKSPACE: &str = "\x7f";
const TAB: &str = "\t";
const ESC: &str = "\x1b";
const CTRL_A: &str = "\x01";
const CTRL_C: &str = "\x03";
const CTRL_E: &str = "\x05";
const CTRL_L: &str = "\x0c";
const CTRL_R: &str = "\x12";
const CTRL_U: &str = "\x15";
const CTRL_W: &str = "\x17";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Shell {
    Bash,
    Zsh,
}

#[derive(Clone)]
struct Case {
    name: &'static str,
    description: &'static str,
    shell: Shell,
    /// Whether the shell sources contrib/shell-integration/changeaudit.sh.
    integration: bool,
    /// Whether the shell is handed a nonce for its marks, as the broker does.
    nonce: bool,
    /// The case plays a person who prints what could pass for commands or marks.
    hostile: bool,
    /// The output holds marks that the input does not bear out.
    forged: bool,
    /// The prompt, as bash's PS1 (zsh cases set theirs in `setup`).
    prompt: &'static str,
    /// More start-up lines, after the prompt.
    setup: &'static str,
    steps: Vec<Step>,
}

const PLAIN_PROMPT: &str = r"\u@\h:\w\$ ";
const COLOUR_PROMPT: &str = r"\[\e[1;32m\]\u@\h\[\e[0m\]:\[\e[1;34m\]\w\[\e[0m\]\$ ";

fn case(name: &'static str, description: &'static str, steps: Vec<Step>) -> Case {
    Case {
        name,
        description,
        shell: Shell::Bash,
        integration: false,
        nonce: false,
        hostile: false,
        forged: false,
        prompt: PLAIN_PROMPT,
        setup: "",
        steps,
    }
}

fn with_integration(mut case: Case, name: &'static str) -> Case {
    case.name = name;
    case.integration = true;
    case
}

fn with_nonce(mut case: Case, name: &'static str) -> Case {
    case.name = name;
    case.integration = true;
    case.nonce = true;
    case
}

fn hostile(name: &'static str, description: &'static str, steps: Vec<Step>) -> Case {
    Case {
        hostile: true,
        ..case(name, description, steps)
    }
}

fn zsh(
    name: &'static str,
    description: &'static str,
    setup: &'static str,
    steps: Vec<Step>,
) -> Case {
    Case {
        shell: Shell::Zsh,
        setup,
        ..case(name, description, steps)
    }
}

fn cases() -> Vec<Case> {
    let plain = case(
        "plain",
        "plain commands, one failing",
        vec![
            Type("echo hello"),
            Enter,
            Type("uname -s"),
            Enter,
            Type("ls /nonexistent"),
            Enter,
            Type("exit"),
            Enter,
        ],
    );
    let history = case(
        "history_recall",
        "Up recalls the last command, as is and edited",
        vec![
            Type("echo one"),
            Enter,
            Key(UP),
            Enter,
            Key(UP),
            Key(BACKSPACE),
            Key(BACKSPACE),
            Key(BACKSPACE),
            Type("two"),
            Enter,
            Type("exit"),
            Enter,
        ],
    );
    let cancelled = case(
        "ctrl_c_cancels_line",
        "a line cancelled with Ctrl-C is not run",
        vec![
            Type("rm -rf /tmp/nothing-here"),
            Key(CTRL_C),
            Type("echo after"),
            Enter,
            Type("exit"),
            Enter,
        ],
    );
    let heredoc = case(
        "heredoc",
        "a here-document is one command",
        vec![
            Type("cat <<EOF"),
            Enter,
            Type("first line"),
            Enter,
            Type("second line"),
            Enter,
            Type("EOF"),
            Enter,
            Type("exit"),
            Enter,
        ],
    );
    let paste = case(
        "bracketed_paste",
        "a paste of several lines runs each line",
        vec![
            Paste("echo p1\necho p2\necho p3"),
            Wait(300),
            Enter,
            Wait(300),
            Type("exit"),
            Enter,
        ],
    );
    let nested = case(
        "nested_shell",
        "a nested bash changes the prompt; its commands count",
        vec![
            Type("bash"),
            Enter,
            Type("PS1='inner> '"),
            Enter,
            Type("echo inner"),
            Enter,
            Type("exit"),
            Enter,
            Type("echo outer"),
            Enter,
            Type("exit"),
            Enter,
        ],
    );
    // The first keys of a line come while the last command still runs, the rest once the
    // prompt is back: the shell's editor takes them all as one line.
    let partly_ahead = case(
        "type_ahead_partly",
        "a line begun while a command runs and finished at the prompt",
        vec![
            Type("sleep 1"),
            Enter,
            Wait(300),
            Type("ec"),
            Wait(1500),
            Type("ho typed-partly; false"),
            Enter,
            Type("exit"),
            Enter,
        ],
    );
    let mut all = vec![
        with_nonce(partly_ahead.clone(), "type_ahead_partly_nonce"),
        partly_ahead,
        with_integration(plain.clone(), "plain_integration"),
        with_nonce(plain.clone(), "plain_nonce"),
        with_nonce(nested.clone(), "nested_shell_nonce"),
        with_nonce(paste.clone(), "bracketed_paste_nonce"),
        plain,
        case(
            "backspace",
            "typing mistakes mended with Backspace",
            vec![
                Type("echo helo"),
                Key(BACKSPACE),
                Key(BACKSPACE),
                Type("lo world"),
                Enter,
                Type("exit"),
                Enter,
            ],
        ),
        case(
            "arrows_insert",
            "Left and Right arrows, then a character inserted mid-line",
            vec![
                Type("echo wrld"),
                Key(LEFT),
                Key(LEFT),
                Key(LEFT),
                Key(LEFT),
                Key(RIGHT),
                Type("o"),
                Enter,
                Type("exit"),
                Enter,
            ],
        ),
        case(
            "home_end",
            "Home and End, then Ctrl-A and Ctrl-E",
            vec![
                Type("cho abc"),
                Key(HOME),
                Type("e"),
                Key(END),
                Type(" def"),
                Enter,
                Type("cho ghi"),
                Key(CTRL_A),
                Type("e"),
                Key(CTRL_E),
                Type(" jkl"),
                Enter,
                Type("exit"),
                Enter,
            ],
        ),
        with_integration(history.clone(), "history_recall_integration"),
        history,
        case(
            "tab_completion",
            "Tab completes a command and a file name",
            vec![
                Type("touch /tmp/corpus-completion-target.txt"),
                Enter,
                Type("ech"),
                Key(TAB),
                Type("completed"),
                Enter,
                Type("ls /tmp/corpus-completion-tar"),
                Key(TAB),
                Enter,
                Type("exit"),
                Enter,
            ],
        ),
        case(
            "reverse_search",
            "Ctrl-R finds an earlier command",
            vec![
                Type("echo needle"),
                Enter,
                Type("echo other"),
                Enter,
                Key(CTRL_R),
                Type("need"),
                Enter,
                Type("exit"),
                Enter,
            ],
        ),
        case(
            "ctrl_u_ctrl_w",
            "Ctrl-U erases the line, Ctrl-W the last word",
            vec![
                Type("garbage text"),
                Key(CTRL_U),
                Type("echo kept"),
                Enter,
                Type("echo one two"),
                Key(CTRL_W),
                Type("three"),
                Enter,
                Type("exit"),
                Enter,
            ],
        ),
        with_integration(cancelled.clone(), "ctrl_c_cancels_line_integration"),
        cancelled,
        case(
            "empty_enters",
            "empty lines run nothing",
            vec![
                Enter,
                Enter,
                Type("echo between"),
                Enter,
                Enter,
                Type("exit"),
                Enter,
            ],
        ),
        case(
            "long_line_wraps",
            "a line longer than the terminal is wide",
            vec![
                Type(
                    "echo 0123456789 abcdefghij 0123456789 abcdefghij 0123456789 abcdefghij 0123456789 abcdefghij 0123456789 abcdefghij",
                ),
                Enter,
                Type("exit"),
                Enter,
            ],
        ),
        case(
            "backslash_continuation",
            "a line continued with a backslash is one command",
            vec![
                Type("echo first \\"),
                Enter,
                Type("second"),
                Enter,
                Type("exit"),
                Enter,
            ],
        ),
        with_integration(heredoc.clone(), "heredoc_integration"),
        heredoc,
        case(
            "chains",
            "; and && chains are one command line",
            vec![
                Type("true; echo a && echo b || echo c"),
                Enter,
                Type("exit"),
                Enter,
            ],
        ),
        case(
            "less",
            "nothing typed inside less counts",
            vec![
                Type("seq 200 | less"),
                Enter,
                Wait(300),
                Type("/150"),
                Key("\r"),
                Wait(200),
                Type("q"),
                Wait(300),
                Type("echo after"),
                Enter,
                Type("exit"),
                Enter,
            ],
        ),
        case(
            "vi",
            "nothing typed inside vi counts",
            vec![
                Type("vi /tmp/corpus-vi.txt"),
                Enter,
                Wait(400),
                Type("ihello from vi"),
                Key(ESC),
                Type(":wq"),
                Key("\r"),
                Wait(400),
                Type("cat /tmp/corpus-vi.txt"),
                Enter,
                Type("exit"),
                Enter,
            ],
        ),
        case(
            "password_prompt",
            "input typed with echo off never counts",
            vec![
                Type("read -s -p 'Password: ' pw"),
                Enter,
                Type("secret-value"),
                Enter,
                Type("echo done"),
                Enter,
                Type("exit"),
                Enter,
            ],
        ),
        with_integration(paste.clone(), "bracketed_paste_integration"),
        paste,
        Case {
            prompt: COLOUR_PROMPT,
            ..case(
                "colour_prompt",
                "a prompt with colours",
                vec![
                    Type("echo colours"),
                    Enter,
                    Type("false"),
                    Enter,
                    Type("exit"),
                    Enter,
                ],
            )
        },
        with_integration(nested.clone(), "nested_shell_integration"),
        nested,
        case(
            "su",
            "su to another user changes the prompt",
            vec![
                Type("su -m -s /bin/bash nobody"),
                Enter,
                Wait(300),
                Type("id -un"),
                Enter,
                Type("exit"),
                Enter,
                Type("id -un"),
                Enter,
                Type("exit"),
                Enter,
            ],
        ),
        case(
            "utf8",
            "UTF-8 on the command line",
            vec![Type("echo héllo wörld ✓ 日本"), Enter, Type("exit"), Enter],
        ),
        case(
            "combining_backspace",
            "a combining mark, then Backspace: readline takes the mark and the letter it sits on",
            vec![
                Type("echo xa\u{301}"),
                Key(BACKSPACE),
                Type("b"),
                Enter,
                Type("echo e\u{301}\u{301}"),
                Key(BACKSPACE),
                Type("ok"),
                Enter,
                Type("exit"),
                Enter,
            ],
        ),
        case(
            "clear_and_ctrl_l",
            "clear and Ctrl-L wipe the screen",
            vec![
                Type("echo before"),
                Enter,
                Type("clear"),
                Enter,
                Type("echo middle"),
                Enter,
                Key(CTRL_L),
                Wait(200),
                Type("echo after"),
                Enter,
                Type("exit"),
                Enter,
            ],
        ),
        case(
            "interrupted_command",
            "a long-running command interrupted with Ctrl-C",
            vec![
                Type("sleep 30"),
                Enter,
                Wait(800),
                Key(CTRL_C),
                Wait(300),
                Type("echo after"),
                Enter,
                Type("exit"),
                Enter,
            ],
        ),
    ];
    all.extend(ordinary_cases());
    all.extend(hostile_cases());
    all.extend(zsh_cases());
    all
}

const CTRL_V: &str = "\x16";
const CTRL_X: &str = "\x18";
const CTRL_Z: &str = "\x1a";

/// The ordinary cases a screen reader gets wrong: what bash prints of history expansion, lines
/// typed ahead, pastes without brackets, job control, edit-and-execute, wide characters at the
/// wrap and characters inserted literally.
fn ordinary_cases() -> Vec<Case> {
    vec![
        case(
            "history_expansion",
            "!!, !$ and !prefix run as bash expands them; an unknown event runs nothing",
            vec![
                Type("echo one"),
                Enter,
                Type("echo !!"),
                Enter,
                Type("cat /etc/hostname"),
                Enter,
                Type("ls -d !$"),
                Enter,
                Type("!ec"),
                Enter,
                Type("!nonexistent-event"),
                Enter,
                Type("exit"),
                Enter,
            ],
        ),
        case(
            "type_ahead",
            "a line typed while a command runs runs after it",
            vec![
                Type("sleep 2"),
                Enter,
                Wait(300),
                Type("echo typed-ahead"),
                Enter,
                Wait(2500),
                Type("exit"),
                Enter,
            ],
        ),
        case(
            "unbracketed_paste",
            "a paste without bracketed-paste marks runs line by line",
            vec![
                Raw("echo p1\recho p2\recho p3\r"),
                Wait(800),
                Type("exit"),
                Enter,
            ],
        ),
        case(
            "job_control",
            "Ctrl-Z stops a job; jobs, fg after it",
            vec![
                Type("sleep 30"),
                Enter,
                Wait(500),
                Key(CTRL_Z),
                Wait(400),
                Type("jobs"),
                Enter,
                Type("kill %1"),
                Enter,
                Wait(300),
                Type("echo after"),
                Enter,
                Type("exit"),
                Enter,
            ],
        ),
        Case {
            setup: "export EDITOR=vi VISUAL=vi\n",
            ..case(
                "edit_and_execute",
                "Ctrl-X Ctrl-E edits the line in vi; bash runs what was saved",
                vec![
                    Type("echo bef"),
                    Key(CTRL_X),
                    Key("\x05"),
                    Wait(700),
                    Key("A"),
                    Type("ore-editing"),
                    Key(ESC),
                    Type(":wq"),
                    Key("\r"),
                    Wait(700),
                    Type("exit"),
                    Enter,
                ],
            )
        },
        case(
            "wide_chars_at_wrap",
            "a long line of wide characters, edited, wraps where a wide character does not fit",
            vec![
                Type(
                    "echo 日本語のテキスト日本語のテキスト日本語のテキスト日本語のテキスト日本語のテキスト",
                ),
                Arrow('D'),
                Arrow('C'),
                Enter,
                Type("exit"),
                Enter,
            ],
        ),
        Case {
            setup: "set -o vi\n",
            ..case(
                "vi_mode",
                "vi editing mode: Escape, k recalls the last line, x and i edit it",
                vec![
                    Type("echo one"),
                    Enter,
                    Key(ESC),
                    Key("k"),
                    Key("$"),
                    Key("x"),
                    Type("a"),
                    Type("two"),
                    Enter,
                    Type("exit"),
                    Enter,
                ],
            )
        },
        Case {
            prompt: "\\u@\\h:\\w\\n\\$ ",
            ..case(
                "two_line_prompt",
                "a prompt of two lines, with an edited line",
                vec![
                    Type("echo first"),
                    Enter,
                    Type("echo secnd"),
                    Arrow('D'),
                    Arrow('D'),
                    Type("o"),
                    Enter,
                    Type("exit"),
                    Enter,
                ],
            )
        },
        Case {
            prompt: "λ ",
            ..case(
                "unusual_prompt",
                "a prompt that ends in no $ # % or >, with edits and history",
                vec![
                    Type("echo alpha"),
                    Enter,
                    Arrow('A'),
                    Key(BACKSPACE),
                    Key(BACKSPACE),
                    Type("ZZ"),
                    Enter,
                    Type("exit"),
                    Enter,
                ],
            )
        },
        case(
            "ctrl_l_mid_line",
            "Ctrl-L clears the screen while a line is being typed",
            vec![
                Type("echo be"),
                Key(CTRL_L),
                Wait(200),
                Type("fore"),
                Arrow('D'),
                Arrow('C'),
                Enter,
                Type("exit"),
                Enter,
            ],
        ),
        case(
            "completion_list",
            "two Tabs list the candidates below the line, which is drawn again",
            vec![
                Type("touch /tmp/corpus-list-aa /tmp/corpus-list-ab"),
                Enter,
                Type("ls /tmp/corpus-list-"),
                Key(TAB),
                Key(TAB),
                Wait(300),
                Type("ab"),
                Enter,
                Type("exit"),
                Enter,
            ],
        ),
        case(
            "literal_control_character",
            "Ctrl-V inserts the next key as it is",
            vec![
                Type("echo a"),
                Key(CTRL_V),
                Key(CTRL_A),
                Type("b | od -c"),
                Enter,
                Type("exit"),
                Enter,
            ],
        ),
    ]
}

/// A person who prints what could pass for commands, prompts or marks, or hides their typing.
fn hostile_cases() -> Vec<Case> {
    let forged_marks = Case {
        forged: true,
        ..hostile(
            "forged_marks",
            "printed shell-integration marks announce commands that never ran",
            vec![
                Type("echo planned"),
                Enter,
                Type(
                    r"printf '\033]633;E;systemctl restart app\007\033]633;C\007\033]633;D;0\007'",
                ),
                Enter,
                Type("exit"),
                Enter,
            ],
        )
    };
    let cat_marks = Case {
        forged: true,
        ..hostile(
            "cat_of_marks",
            "a log holding marks and prompts, shown with cat",
            vec![
                Type(
                    r"printf '\033]633;P;ShellPid=1\007\033]633;E;rm -rf /srv\007\033]633;C\007\033]633;P;ShellPid=1\007\033]633;D;0\007root@vm:~# reboot\n' > /tmp/corpus-marks.log",
                ),
                Enter,
                Type("cat /tmp/corpus-marks.log"),
                Enter,
                Type("exit"),
                Enter,
            ],
        )
    };
    let status = Case {
        forged: true,
        ..hostile(
            "printed_status",
            "a status printed after a failing command does not make it succeed",
            vec![
                Type("false"),
                Enter,
                Type(r"printf '\033]633;P;ShellPid=%s\007\033]633;D;0\007' $$"),
                Enter,
                Type("exit"),
                Enter,
            ],
        )
    };
    vec![
        forged_marks.clone(),
        with_integration(forged_marks.clone(), "forged_marks_integration"),
        with_nonce(forged_marks, "forged_marks_nonce"),
        cat_marks.clone(),
        with_nonce(cat_marks, "cat_of_marks_nonce"),
        with_integration(status.clone(), "printed_status_integration"),
        with_nonce(status, "printed_status_nonce"),
        hostile(
            "text_on_the_prompt_row",
            "text left on the prompt row by output is not part of the line typed",
            vec![
                Type(r"printf 'root@vm:/tmp$ ls -la /root/.ssh\r'"),
                Enter,
                Type("ls"),
                Arrow('D'),
                Arrow('C'),
                Enter,
                Type("exit"),
                Enter,
            ],
        ),
        hostile(
            "alternate_screen_by_output",
            "output switching to the alternate screen and clearing it hides nothing typed after",
            vec![
                Type(r"printf '\033[?1049h\033[2J\033[H'"),
                Enter,
                Type("id -un"),
                Enter,
                Type("echo still-seen"),
                Arrow('D'),
                Arrow('C'),
                Enter,
                Type(r"printf '\033[2J'"),
                Enter,
                Type("uname -s"),
                Enter,
                Type("exit"),
                Enter,
            ],
        ),
        hostile(
            "printed_prompt_and_command",
            "echo and cat of lines that look like a prompt and a command",
            vec![
                Type("echo 'root@vm:/tmp$ rm -rf /srv'"),
                Enter,
                Type(r"printf 'root@vm:/tmp$ reboot\nroot@vm:/tmp$ '"),
                Enter,
                Type("echo real"),
                Enter,
                Type("exit"),
                Enter,
            ],
        ),
        hostile(
            "concealed_typing",
            "typing made invisible with the conceal attribute is still read",
            vec![
                Type(r"printf '\033[8m'"),
                Enter,
                Type("echo hidden"),
                Enter,
                Type(r"printf '\033[0m'"),
                Enter,
                Type("exit"),
                Enter,
            ],
        ),
        hostile(
            "background_overwrite",
            "a background job draws over the line being typed",
            vec![
                Type(r"(sleep 1; printf '\r\033[Kroot@vm:/tmp$ echo decoy') &"),
                Enter,
                Type("echo rea"),
                Wait(1500),
                Type("l-one"),
                Enter,
                Wait(300),
                Type("exit"),
                Enter,
            ],
        ),
        hostile(
            "benign_bypasses",
            "lines that run listed programs in harmful ways",
            vec![
                Type("ls $(echo /tmp)"),
                Enter,
                Type("ls `echo /tmp`"),
                Enter,
                Type("ls > /dev/null"),
                Enter,
                Type("LD_PRELOAD= ls"),
                Enter,
                Type("history -c"),
                Enter,
                Type("exit"),
                Enter,
            ],
        ),
    ]
}

/// Debian's default zsh, and one set up as people set it up: a right prompt, a two-line
/// prompt, continuation prompts, `histverify`, multi-line pastes and completion.
fn zsh_cases() -> Vec<Case> {
    const CUSTOM: &str = "PROMPT=$'%n@%m %~\\n%# '\nRPROMPT='[%?] %T'\nsetopt histverify\n";
    let plain = zsh(
        "zsh_plain",
        "Debian's default zshrc: commands, one failing, history recalled with Up",
        "",
        vec![
            Type("echo hello"),
            Enter,
            Type("ls /nonexistent"),
            Enter,
            Arrow('A'),
            Arrow('A'),
            Enter,
            Type("uname -s"),
            Enter,
            Type("exit"),
            Enter,
        ],
    );
    vec![
        with_integration(plain.clone(), "zsh_plain_integration"),
        with_nonce(plain.clone(), "zsh_plain_nonce"),
        plain,
        zsh(
            "zsh_type_ahead_partly",
            "a line begun while a command runs and finished at zsh's prompt",
            "",
            vec![
                Type("sleep 1"),
                Enter,
                Wait(300),
                Type("ec"),
                Wait(1500),
                Type("ho typed-partly; false"),
                Enter,
                Type("exit"),
                Enter,
            ],
        ),
        zsh(
            "zsh_continuation",
            "for> and heredoc> continuation prompts, and a quote left open",
            "",
            vec![
                Type("for i in 1 2; do"),
                Enter,
                Type("echo $i"),
                Enter,
                Type("done"),
                Enter,
                Type("cat <<EOF"),
                Enter,
                Type("body"),
                Enter,
                Type("EOF"),
                Enter,
                Type("echo 'a"),
                Enter,
                Type("b'"),
                Enter,
                Type("exit"),
                Enter,
            ],
        ),
        zsh(
            "zsh_right_prompt",
            "a right prompt and a two-line prompt, with edits and a wrapped line",
            CUSTOM,
            vec![
                Type("echo right"),
                Enter,
                Type("echo edited"),
                Arrow('D'),
                Arrow('D'),
                Key(BACKSPACE),
                Type("I"),
                Arrow('F'),
                Enter,
                Type(
                    "echo 0123456789 abcdefghij 0123456789 abcdefghij 0123456789 abcdefghij 0123456789",
                ),
                Enter,
                Type("false"),
                Enter,
                Type("exit"),
                Enter,
            ],
        ),
        zsh(
            "zsh_histverify",
            "with histverify, Enter on !! shows the expansion and runs nothing; the next Enter runs it",
            CUSTOM,
            vec![
                Type("echo one"),
                Enter,
                Type("!!"),
                Enter,
                Wait(300),
                Enter,
                Type("exit"),
                Enter,
            ],
        ),
        zsh(
            "zsh_paste",
            "a multi-line paste is one history entry in zsh",
            "",
            vec![
                Paste("echo p1\necho p2"),
                Wait(300),
                Enter,
                Wait(300),
                Type("exit"),
                Enter,
            ],
        ),
        zsh(
            "zsh_completion",
            "Tab completes a command and a directory; the suffix goes where zsh takes it away",
            "autoload -Uz compinit && compinit -u\n",
            vec![
                Type("mkdir -p /tmp/corpus-zsh-dir"),
                Enter,
                Type("ech"),
                Key(TAB),
                Type("done"),
                Enter,
                Type("ls -d /tmp/corpus-zsh-d"),
                Key(TAB),
                Enter,
                Type("printf 'no newline'"),
                Enter,
                Type("exit"),
                Enter,
            ],
        ),
        zsh(
            "zsh_arrow_prompt",
            "a prompt like oh-my-zsh's, ending in the folder's name, a right prompt, history recalled and edited",
            "PROMPT='%F{green}➜%f  %1~ '\nRPROMPT='%T'\n",
            vec![
                Type("echo one"),
                Enter,
                Arrow('A'),
                Key(BACKSPACE),
                Key(BACKSPACE),
                Key(BACKSPACE),
                Type("two"),
                Enter,
                Key(CTRL_L),
                Wait(200),
                Type("uname -s"),
                Enter,
                Type("exit"),
                Enter,
            ],
        ),
        zsh(
            "zsh_redraw_with_right_prompt",
            "Ctrl-L in the middle of an edited line redraws it with the right prompt",
            "RPROMPT='[%?] %T'\n",
            vec![
                Type("echo ab"),
                Arrow('D'),
                Key(CTRL_L),
                Wait(200),
                Arrow('C'),
                Type("c"),
                Enter,
                Type("exit"),
                Enter,
            ],
        ),
        zsh(
            "zsh_vi_mode",
            "zsh's vi mode: Escape, k recalls the last line, A appends",
            "bindkey -v\n",
            vec![
                Type("echo one"),
                Enter,
                Key(ESC),
                Wait(200),
                Key("k"),
                Key("A"),
                Type(" two"),
                Enter,
                Type("exit"),
                Enter,
            ],
        ),
        zsh(
            "zsh_ctrl_c_and_search",
            "Ctrl-C cancels a line; Ctrl-R finds an earlier one",
            "",
            vec![
                Type("echo needle"),
                Enter,
                Type("rm -rf /nothing"),
                Key(CTRL_C),
                Key(CTRL_R),
                Type("need"),
                Enter,
                Wait(200),
                Enter,
                Type("exit"),
                Enter,
            ],
        ),
        Case {
            forged: true,
            ..Case {
                hostile: true,
                ..zsh(
                    "zsh_forged_marks",
                    "printed marks in zsh",
                    "",
                    vec![
                        Type(r"printf '\033]633;E;reboot\007\033]633;D;0\007'"),
                        Enter,
                        Type("exit"),
                        Enter,
                    ],
                )
            }
        },
    ]
}

/// A deterministic generator for typing delays, so recordings are reproducible in shape.
struct Lcg(u64);

impl Lcg {
    fn between(&mut self, low: u64, high: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        low + (self.0 >> 33) % (high - low + 1)
    }
}

const TRUTH_HOOK: &str = r#"
HISTFILE=/dev/null
HISTCONTROL=
HISTSIZE=10000
__truth_start() {
    local line number last
    line=$(HISTTIMEFORMAT='' builtin history 1)
    [[ $line =~ ^[[:space:]]*([0-9]+)[*]?[[:space:]][[:space:]](.*)$ ]] || return
    number=${BASH_REMATCH[1]}
    last=0
    [[ -f $CORPUS_TRUTH.last.$$ ]] && last=$(<"$CORPUS_TRUTH.last.$$")
    [[ $last == "$number" ]] && return
    printf '%s' "$number" > "$CORPUS_TRUTH.last.$$"
    # Edit-and-execute runs its line from inside readline, where neither PS0 nor
    # PROMPT_COMMAND runs: it reaches history after the line it edited (which did not run), so
    # the entry just before this one, when no hook saw it, ran.
    local n=$((number - 1)) entry
    if ((n > last + 1)); then
        entry=$(HISTTIMEFORMAT='' builtin history | sed -n "s/^ *$n[*]\{0,1\}  //p")
        printf 'start\t%s\t%s\n' "$$" "$(printf '%s' "$entry" | base64 -w0)" >> "$CORPUS_TRUTH"
    fi
    printf 'start\t%s\t%s\n' "$$" "$(printf '%s' "${BASH_REMATCH[2]}" | base64 -w0)" >> "$CORPUS_TRUTH"
}
__truth_end() {
    local status=$?
    printf 'end\t%s\t%s\n' "$$" "$status" >> "$CORPUS_TRUTH"
}
PS0='$(__truth_start)'
PROMPT_COMMAND='__truth_end'
"#;

/// zsh's own account: `preexec` gets the line as it will run, `precmd` its status. Both give
/// the status back, so that hooks after them see it too.
const ZSH_TRUTH_HOOK: &str = r#"
HISTFILE=/dev/null
HISTSIZE=10000
__truth_start() {
    local code=$?
    printf 'start\t%s\t%s\n' "$$" "$(printf '%s' "$1" | base64 -w0)" >> "$CORPUS_TRUTH"
    return $code
}
__truth_end() {
    local code=$?
    printf 'end\t%s\t%s\n' "$$" "$code" >> "$CORPUS_TRUTH"
    return $code
}
autoload -Uz add-zsh-hook
add-zsh-hook preexec __truth_start
add-zsh-hook precmd __truth_end
"#;

fn write_rc(home: &Path, case: &Case, integration_script: &Path) {
    let integration = if case.integration {
        format!(". {}\n", integration_script.display())
    } else {
        String::new()
    };
    match case.shell {
        Shell::Bash => {
            let rc = format!(
                "PS1='{}'\n{}{TRUTH_HOOK}{integration}",
                case.prompt, case.setup
            );
            std::fs::write(home.join(".bashrc"), rc).unwrap();
        }
        Shell::Zsh => {
            // Debian's /etc/zsh/zshrc runs first, as on any Debian device.
            let rc = format!("{}{ZSH_TRUTH_HOOK}{integration}", case.setup);
            std::fs::write(home.join(".zshrc"), rc).unwrap();
        }
    }
}

/// The nonce a case's shell is handed: fixed per case, so recordings are reproducible.
fn nonce_of(case: &Case) -> String {
    let sum: u64 = case
        .name
        .bytes()
        .fold(1_469_598_103_934_665_603, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(1_099_511_628_211)
        });
    format!("{sum:016x}")
}

/// The commands bash ran, in the order they started, each with the status it ended with.
fn read_truth(path: &Path) -> Vec<(String, Option<i32>)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut commands: Vec<(String, Option<i32>)> = Vec::new();
    let mut open: HashMap<String, Vec<usize>> = HashMap::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        match fields.as_slice() {
            ["start", pid, encoded] => {
                let decoded = BASE64.decode(encoded).unwrap();
                commands.push((String::from_utf8(decoded).unwrap(), None));
                open.entry((*pid).to_owned())
                    .or_default()
                    .push(commands.len() - 1);
            }
            ["end", pid, status] => {
                if let Some(index) = open.get_mut(*pid).and_then(Vec::pop) {
                    commands[index].1 = status.parse().ok();
                }
            }
            _ => panic!("unexpected truth line {line:?}"),
        }
    }
    commands
}

fn record(case: &Case, out_dir: &Path, integration_script: &Path) {
    let home = tempfile::tempdir().unwrap();
    // `su -m` keeps HOME, so the other user must be able to read the rc and write the truth.
    Command::new("chmod")
        .args(["0777"])
        .arg(home.path())
        .status()
        .unwrap();
    write_rc(home.path(), case, integration_script);
    let truth = home.path().join("truth.tsv");
    std::fs::write(&truth, "").unwrap();
    Command::new("chmod")
        .args(["0666"])
        .arg(&truth)
        .status()
        .unwrap();

    let program = match case.shell {
        Shell::Bash => "bash",
        Shell::Zsh => "zsh",
    };
    let shell = format!("stty cols {COLS} rows {ROWS}; cd /tmp; exec {program} -i");
    let mut command = Command::new("script");
    command
        .args(["--quiet", "--flush", "--command", &shell, "/dev/null"])
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", home.path())
        .env("ZDOTDIR", home.path())
        .env("TERM", "xterm-256color")
        .env("LANG", "C.UTF-8")
        .env("CORPUS_TRUTH", &truth);
    if case.nonce {
        command.env("CHANGEAUDIT_NONCE", nonce_of(case));
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("util-linux `script`");
    let mut stdout = child.stdout.take().unwrap();
    let mut stdin = child.stdin.take().unwrap();

    let started = Instant::now();
    let (sender, receiver) = mpsc::channel::<(Duration, Vec<u8>)>();
    // The terminal's cursor-key mode, as the shell last set it: arrows are sent in it.
    let application_keys = Arc::new(AtomicBool::new(false));
    let keys_mode = application_keys.clone();
    let reader = std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        loop {
            match stdout.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let chunk = &buffer[..n];
                    let last =
                        |needle: &[u8]| chunk.windows(needle.len()).rposition(|w| w == needle);
                    match (last(b"\x1b[?1h"), last(b"\x1b[?1l")) {
                        (Some(on), off) if off.is_none_or(|off| off < on) => {
                            keys_mode.store(true, Ordering::SeqCst);
                        }
                        (_, Some(_)) => keys_mode.store(false, Ordering::SeqCst),
                        _ => {}
                    }
                    if sender
                        .send((started.elapsed(), buffer[..n].to_vec()))
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
    });

    let mut inputs: Vec<(Duration, String)> = Vec::new();
    let mut send = |text: &str, stdin: &mut std::process::ChildStdin| {
        inputs.push((started.elapsed(), text.to_owned()));
        stdin.write_all(text.as_bytes()).unwrap();
        stdin.flush().unwrap();
    };
    let mut random = Lcg(case.name.len() as u64 * 7919);
    std::thread::sleep(Duration::from_millis(700));
    for step in &case.steps {
        match step {
            Type(text) => {
                for c in text.chars() {
                    send(&c.to_string(), &mut stdin);
                    std::thread::sleep(Duration::from_millis(random.between(35, 110)));
                }
            }
            Key(key) => {
                send(key, &mut stdin);
                std::thread::sleep(Duration::from_millis(random.between(120, 250)));
            }
            Enter => {
                send("\r", &mut stdin);
                std::thread::sleep(Duration::from_millis(450));
            }
            Paste(text) => {
                send(
                    &format!("\x1b[200~{}\x1b[201~", text.replace('\n', "\r")),
                    &mut stdin,
                );
                std::thread::sleep(Duration::from_millis(300));
            }
            Wait(ms) => std::thread::sleep(Duration::from_millis(*ms)),
            Raw(text) => {
                send(text, &mut stdin);
                std::thread::sleep(Duration::from_millis(300));
            }
            Arrow(key) => {
                let introducer = if application_keys.load(Ordering::SeqCst) {
                    "\x1bO"
                } else {
                    "\x1b["
                };
                send(&format!("{introducer}{key}"), &mut stdin);
                std::thread::sleep(Duration::from_millis(random.between(120, 250)));
            }
        }
    }
    drop(stdin);
    child.wait().unwrap();
    reader.join().unwrap();

    let mut events: Vec<Event> = Vec::new();
    let mut text = Utf8Stream::default();
    let outputs: Vec<(Duration, Vec<u8>)> = receiver.try_iter().collect();
    let mut output_events: Vec<Event> = outputs
        .into_iter()
        .map(|(at, bytes)| Event {
            time: at.as_secs_f64(),
            data: EventData::Output(text.push(&bytes)),
        })
        .collect();
    events.append(&mut output_events);
    events.extend(inputs.into_iter().map(|(at, typed)| Event {
        time: at.as_secs_f64(),
        data: EventData::Input(typed),
    }));
    events.sort_by(|a, b| a.time.total_cmp(&b.time));
    let mut header = Header::new(COLS, ROWS);
    header.title = Some(case.description.to_owned());
    header.env.insert("TERM".into(), "xterm-256color".into());
    header.env.insert("SHELL".into(), format!("/bin/{program}"));
    if case.nonce {
        header
            .env
            .insert("CHANGEAUDIT_NONCE".into(), nonce_of(case));
    }
    let cast = Cast { header, events };
    std::fs::write(out_dir.join(format!("{}.cast", case.name)), cast.to_text()).unwrap();

    let commands = read_truth(&truth);
    let expected = serde_json::json!({
        "description": case.description,
        "shell": program,
        "hostile": case.hostile,
        "forged": case.forged,
        "shell_integration": case.integration,
        "commands": commands
            .iter()
            .map(|(command, exit_code)| serde_json::json!({"command": command, "exit_code": exit_code}))
            .collect::<Vec<_>>(),
    });
    std::fs::write(
        out_dir.join(format!("{}.json", case.name)),
        serde_json::to_string_pretty(&expected).unwrap() + "\n",
    )
    .unwrap();
    println!("{:32} {} commands", case.name, commands.len());
}

fn main() {
    let out_dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "shared/tests/corpus".to_owned()),
    );
    let only: Vec<String> = std::env::args().skip(2).collect();
    std::fs::create_dir_all(&out_dir).unwrap();
    let integration_script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../contrib/shell-integration/changeaudit.sh")
        .canonicalize()
        .unwrap();
    for case in cases() {
        if only.is_empty() || only.iter().any(|name| name == case.name) {
            record(&case, &out_dir, &integration_script);
        }
    }
}
