//! The recorded corpus: `tests/corpus/<case>.cast` with `<case>.json`, what bash said ran.

use std::path::Path;

use changeaudit_shared::asciicast::{Cast, EventData};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct Truth {
    pub shell_integration: bool,
    /// `bash` or `zsh`; older cases are bash's.
    #[serde(default = "bash")]
    pub shell: String,
    /// The case plays a hostile person.
    #[serde(default)]
    pub hostile: bool,
    /// Its output holds marks its input does not bear out: recognition must say so.
    #[serde(default)]
    pub forged: bool,
    pub commands: Vec<TrueCommand>,
}

#[derive(Debug, Deserialize)]
pub struct TrueCommand {
    pub command: String,
    pub exit_code: Option<i32>,
}

fn bash() -> String {
    "bash".to_owned()
}

impl Truth {
    pub fn lines(&self) -> Vec<String> {
        self.commands
            .iter()
            .map(|command| command.command.clone())
            .collect()
    }
}

pub struct Case {
    pub name: String,
    pub cast: Cast,
    pub truth: Truth,
}

impl Case {
    /// The kind of case the accuracy is counted by: shell, ordinary or hostile, and how the
    /// shell announces itself.
    pub fn kind(&self) -> &'static str {
        let nonce = self.cast.header.env.contains_key("CHANGEAUDIT_NONCE");
        match (
            self.truth.shell.as_str(),
            self.truth.hostile,
            self.truth.shell_integration,
            nonce,
        ) {
            ("zsh", false, false, _) => "zsh, ordinary",
            ("zsh", false, true, false) => "zsh, ordinary, integration",
            ("zsh", false, true, true) => "zsh, ordinary, integration with nonce",
            ("zsh", true, ..) => "zsh, hostile",
            (_, false, false, _) => "bash, ordinary",
            (_, false, true, false) => "bash, ordinary, integration",
            (_, false, true, true) => "bash, ordinary, integration with nonce",
            (_, true, false, _) => "bash, hostile",
            (_, true, true, false) => "bash, hostile, integration",
            (_, true, true, true) => "bash, hostile, integration with nonce",
        }
    }
}

pub fn corpus() -> Vec<Case> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut cases: Vec<Case> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "cast"))
        .map(|path| {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            let cast = Cast::parse(&std::fs::read_to_string(&path).unwrap())
                .unwrap_or_else(|error| panic!("{name}.cast: {error}"));
            let truth = std::fs::read_to_string(path.with_extension("json")).unwrap();
            let truth =
                serde_json::from_str(&truth).unwrap_or_else(|error| panic!("{name}.json: {error}"));
            Case { name, cast, truth }
        })
        .collect();
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    cases
}

#[test]
fn the_corpus_holds_at_least_thirty_real_sessions_with_both_directions() {
    let cases = corpus();
    assert!(cases.len() >= 60, "{} cases", cases.len());
    for case in &cases {
        let has = |input: bool| {
            case.cast.events.iter().any(|event| match &event.data {
                EventData::Input(_) => input,
                EventData::Output(_) => !input,
                _ => false,
            })
        };
        assert!(
            has(true) && has(false),
            "{} lacks input or output events",
            case.name
        );
        assert!(
            !case.truth.commands.is_empty(),
            "{} has no command in its truth",
            case.name
        );
    }
    let kinds: std::collections::BTreeSet<&str> = cases.iter().map(Case::kind).collect();
    for kind in [
        "bash, ordinary",
        "bash, ordinary, integration",
        "bash, ordinary, integration with nonce",
        "bash, hostile",
        "bash, hostile, integration",
        "bash, hostile, integration with nonce",
        "zsh, ordinary",
        "zsh, ordinary, integration",
        "zsh, ordinary, integration with nonce",
        "zsh, hostile",
    ] {
        assert!(kinds.contains(kind), "no case of kind {kind}");
    }
}
