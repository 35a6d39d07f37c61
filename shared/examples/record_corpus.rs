//! Records the corpus of real sessions that command recognition is tested against.
//!
//!     cargo run -p changeaudit-shared --example record_corpus -- shared/tests/corpus
//!
//! Each case starts a real bash in a pseudo-terminal (util-linux `script`, 80x24), types its
//! keystrokes with human-like delays, and records both directions with their timing as asciicast
//! v2 (`i` and `o` events). The truth of what ran comes from bash itself, never from the
//! recording: a `PS0` hook writes each command line bash takes into its history as it starts,
//! and a `PROMPT_COMMAND` hook its exit status, to a side file. Nested shells (`bash`, `su`)
//! load the same hooks.

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
use std::sync::mpsc;
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
}

use Step::{Enter, Key, Paste, Type, Wait};

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

#[derive(Clone)]
struct Case {
    name: &'static str,
    description: &'static str,
    /// Whether the shell sources contrib/shell-integration/changeaudit.sh.
    integration: bool,
    /// The prompt, as bash's PS1.
    prompt: &'static str,
    steps: Vec<Step>,
}

const PLAIN_PROMPT: &str = r"\u@\h:\w\$ ";
const COLOUR_PROMPT: &str = r"\[\e[1;32m\]\u@\h\[\e[0m\]:\[\e[1;34m\]\w\[\e[0m\]\$ ";

fn case(name: &'static str, description: &'static str, steps: Vec<Step>) -> Case {
    Case {
        name,
        description,
        integration: false,
        prompt: PLAIN_PROMPT,
        steps,
    }
}

fn with_integration(mut case: Case, name: &'static str) -> Case {
    case.name = name;
    case.integration = true;
    case
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
    vec![
        with_integration(plain.clone(), "plain_integration"),
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
    local line number
    line=$(HISTTIMEFORMAT='' builtin history 1)
    [[ $line =~ ^[[:space:]]*([0-9]+)[*]?[[:space:]][[:space:]](.*)$ ]] || return
    number=${BASH_REMATCH[1]}
    [[ -f $CORPUS_TRUTH.last.$$ && $(<"$CORPUS_TRUTH.last.$$") == "$number" ]] && return
    printf '%s' "$number" > "$CORPUS_TRUTH.last.$$"
    printf 'start\t%s\t%s\n' "$$" "$(printf '%s' "${BASH_REMATCH[2]}" | base64 -w0)" >> "$CORPUS_TRUTH"
}
__truth_end() {
    local status=$?
    printf 'end\t%s\t%s\n' "$$" "$status" >> "$CORPUS_TRUTH"
}
PS0='$(__truth_start)'
PROMPT_COMMAND='__truth_end'
"#;

fn write_rc(home: &Path, case: &Case, integration_script: &Path) {
    let mut rc = format!("PS1='{}'\n{TRUTH_HOOK}", case.prompt);
    if case.integration {
        rc.push_str(&format!(". {}\n", integration_script.display()));
    }
    std::fs::write(home.join(".bashrc"), rc).unwrap();
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

    let shell = format!("stty cols {COLS} rows {ROWS}; cd /tmp; exec bash -i");
    let mut child = Command::new("script")
        .args(["--quiet", "--flush", "--command", &shell, "/dev/null"])
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", home.path())
        .env("TERM", "xterm-256color")
        .env("LANG", "C.UTF-8")
        .env("CORPUS_TRUTH", &truth)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("util-linux `script`");
    let mut stdout = child.stdout.take().unwrap();
    let mut stdin = child.stdin.take().unwrap();

    let started = Instant::now();
    let (sender, receiver) = mpsc::channel::<(Duration, Vec<u8>)>();
    let reader = std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        loop {
            match stdout.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
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
    header.env.insert("SHELL".into(), "/bin/bash".into());
    let cast = Cast { header, events };
    std::fs::write(out_dir.join(format!("{}.cast", case.name)), cast.to_text()).unwrap();

    let commands = read_truth(&truth);
    let expected = serde_json::json!({
        "description": case.description,
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
