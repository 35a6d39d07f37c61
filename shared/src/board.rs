//! The board of a session: the script aligned with the commands executed (a diff of the two
//! sequences), each line matched, missing, unplanned, out of order, failed or benign; and the
//! score and verdict of SPEC.md.

use std::collections::{HashMap, VecDeque};
use std::fmt;

use serde::{Deserialize, Serialize};
use similar::{Algorithm, DiffTag, capture_diff_slices};

pub use crate::benign::BenignCommands;
use crate::command::ExecutedCommand;
use crate::script::Script;
use crate::words::Words;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Executed as planned.
    Matched,
    /// Executed as planned, but not where the script put it (amber).
    OutOfOrder,
    /// Executed as planned, and exited non-zero (amber); said over out-of-order when both.
    Failed,
    /// In the script, not executed (red).
    Missing,
    /// Executed, not in the script (green).
    Unplanned,
    /// Executed, not in the script, but one of the group's benign commands: never counted.
    Benign,
    /// Typed and entered, but held by the broker: it never ran, so it is not counted either
    /// (the report adds these; a board of what ran has none).
    Held,
}

impl Status {
    /// The status as the API writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Matched => "matched",
            Status::OutOfOrder => "out_of_order",
            Status::Failed => "failed",
            Status::Missing => "missing",
            Status::Unplanned => "unplanned",
            Status::Benign => "benign",
            Status::Held => "held",
        }
    }

    pub fn is_match(self) -> bool {
        matches!(self, Status::Matched | Status::OutOfOrder | Status::Failed)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoardEntry {
    pub status: Status,
    /// Index into the script's commands.
    pub script_index: Option<usize>,
    /// Index into the executed commands.
    pub executed_index: Option<usize>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Every match, out of order and failed ones included.
    pub matched: usize,
    pub missing: usize,
    pub unplanned: usize,
    pub benign: usize,
    #[serde(default)]
    pub held: usize,
    pub out_of_order: usize,
    pub failed: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Nothing missing, nothing unplanned.
    Correct,
    /// Nothing missing, something unplanned.
    MoreThanNecessary,
    /// Something missing.
    Incomplete,
    /// Nothing matched.
    NotExecuted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub outcome: Outcome,
    /// A planned command exited non-zero.
    pub with_failures: bool,
    /// The session's output held shell-integration marks that its input does not bear out.
    #[serde(default)]
    pub with_findings: bool,
}

impl Verdict {
    /// The verdict of a session with findings: never correct, since the person did more than
    /// the script (printed marks that lie about what ran).
    pub fn with_findings(self, findings: usize) -> Verdict {
        if findings == 0 {
            return self;
        }
        Verdict {
            outcome: match self.outcome {
                Outcome::Correct => Outcome::MoreThanNecessary,
                other => other,
            },
            with_findings: true,
            ..self
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.outcome {
            Outcome::Correct => "Correct",
            Outcome::MoreThanNecessary => "More than necessary",
            Outcome::Incomplete => "Incomplete",
            Outcome::NotExecuted => "Not executed",
        })?;
        if self.with_failures {
            f.write_str(" with failures")?;
        }
        if self.with_findings {
            f.write_str(" with findings")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Board {
    /// In session order: script lines where the script has them, executed ones where they ran.
    pub entries: Vec<BoardEntry>,
    pub tally: Tally,
    /// round(100 × matched ÷ (matched + missing + unplanned)), kept within 1..=99 unless the
    /// session ran exactly the script (100) or matched nothing (0).
    pub score: u8,
    pub verdict: Verdict,
}

impl Board {
    pub fn build(script: &Script, executed: &[ExecutedCommand], benign: &BenignCommands) -> Board {
        let executed_words: Vec<Words> = executed
            .iter()
            .map(|command| Words::parse_lenient(&command.text))
            .collect();
        // Diffing small integers instead of word lists keeps a 10,000-line board fast.
        let mut ids: HashMap<&Words, u32> = HashMap::new();
        let script_ids: Vec<u32> = script
            .commands
            .iter()
            .map(|command| intern(&mut ids, &command.words))
            .collect();
        let executed_ids: Vec<u32> = executed_words
            .iter()
            .map(|words| intern(&mut ids, words))
            .collect();

        let mut entries = align(&script_ids, &executed_ids);
        pair_out_of_order(&mut entries, &script_ids, &executed_ids);
        for entry in &mut entries {
            match (entry.status, entry.executed_index) {
                (Status::Unplanned, Some(j)) if benign.covers(&executed[j].text) => {
                    entry.status = Status::Benign;
                }
                (Status::Matched | Status::OutOfOrder, Some(j))
                    if executed[j].exit_code.is_some_and(|code| code != 0) =>
                {
                    entry.status = Status::Failed;
                }
                _ => {}
            }
        }
        let tally = tally(&entries);
        Board {
            entries,
            score: score(&tally),
            verdict: verdict(&tally),
            tally,
        }
    }
}

fn intern<'a>(ids: &mut HashMap<&'a Words, u32>, words: &'a Words) -> u32 {
    let next = u32::try_from(ids.len()).unwrap_or(u32::MAX);
    *ids.entry(words).or_insert(next)
}

/// The diff of the two sequences: common commands matched in order, the rest missing or
/// unplanned.
fn align(script: &[u32], executed: &[u32]) -> Vec<BoardEntry> {
    let mut entries = Vec::with_capacity(script.len().max(executed.len()));
    let missing = |i| BoardEntry {
        status: Status::Missing,
        script_index: Some(i),
        executed_index: None,
    };
    let unplanned = |j| BoardEntry {
        status: Status::Unplanned,
        script_index: None,
        executed_index: Some(j),
    };
    for op in capture_diff_slices(Algorithm::Patience, script, executed) {
        let (tag, old, new) = op.as_tag_tuple();
        match tag {
            DiffTag::Equal => entries.extend(old.zip(new).map(|(i, j)| BoardEntry {
                status: Status::Matched,
                script_index: Some(i),
                executed_index: Some(j),
            })),
            DiffTag::Delete => entries.extend(old.map(missing)),
            DiffTag::Insert => entries.extend(new.map(unplanned)),
            DiffTag::Replace => {
                entries.extend(old.map(missing));
                entries.extend(new.map(unplanned));
            }
        }
    }
    entries
}

/// A command both planned and executed, but not where the diff could align it, is matched and
/// marked out of order: each unplanned command takes the earliest missing line equal to it.
fn pair_out_of_order(entries: &mut Vec<BoardEntry>, script: &[u32], executed: &[u32]) {
    let mut missing: HashMap<u32, VecDeque<usize>> = HashMap::new();
    for (position, entry) in entries.iter().enumerate() {
        if let (Status::Missing, Some(i)) = (entry.status, entry.script_index) {
            missing.entry(script[i]).or_default().push_back(position);
        }
    }
    if missing.is_empty() {
        return;
    }
    let mut paired = vec![false; entries.len()];
    for position in 0..entries.len() {
        let entry = entries[position];
        let (Status::Unplanned, Some(j)) = (entry.status, entry.executed_index) else {
            continue;
        };
        if let Some(line) = missing.get_mut(&executed[j]).and_then(VecDeque::pop_front) {
            paired[line] = true;
            entries[position] = BoardEntry {
                status: Status::OutOfOrder,
                script_index: entries[line].script_index,
                executed_index: Some(j),
            };
        }
    }
    let mut position = 0;
    entries.retain(|_| {
        let keep = !paired[position];
        position += 1;
        keep
    });
}

fn tally(entries: &[BoardEntry]) -> Tally {
    let mut tally = Tally::default();
    for entry in entries {
        match entry.status {
            Status::Matched => tally.matched += 1,
            Status::OutOfOrder => {
                tally.matched += 1;
                tally.out_of_order += 1;
            }
            Status::Failed => {
                tally.matched += 1;
                tally.failed += 1;
            }
            Status::Missing => tally.missing += 1,
            Status::Unplanned => tally.unplanned += 1,
            Status::Benign => tally.benign += 1,
            Status::Held => tally.held += 1,
        }
    }
    tally
}

fn score(tally: &Tally) -> u8 {
    let counted = tally.matched + tally.missing + tally.unplanned;
    if counted == 0 {
        return 0;
    }
    let perfect = tally.matched == counted;
    if perfect {
        return 100;
    }
    // Round half up, in integers: floor((200 m + c) / 2c). Rounding never reaches 100 for an
    // imperfect session (100 means exactly the script), nor 0 when something matched.
    let rounded = (200 * tally.matched + counted) / (2 * counted);
    let floor = if tally.matched > 0 { 1 } else { 0 };
    u8::try_from(rounded.clamp(floor, 99)).unwrap_or(99)
}

fn verdict(tally: &Tally) -> Verdict {
    let outcome = if tally.matched == 0 {
        Outcome::NotExecuted
    } else if tally.missing > 0 {
        Outcome::Incomplete
    } else if tally.unplanned > 0 {
        Outcome::MoreThanNecessary
    } else {
        Outcome::Correct
    };
    Verdict {
        outcome,
        with_failures: tally.failed > 0,
        with_findings: false,
    }
}

#[cfg(test)]
mod tests {
    use quickcheck::{Arbitrary, Gen, QuickCheck};

    use super::*;
    use crate::command::Recognition;

    fn ran(text: &str) -> ExecutedCommand {
        ran_with(text, Some(0))
    }

    fn ran_with(text: &str, exit_code: Option<i32>) -> ExecutedCommand {
        ExecutedCommand {
            text: text.to_owned(),
            offset: 0.0,
            exit_code,
            source: Recognition::Screen,
        }
    }

    fn board_of(script: &str, executed: &[ExecutedCommand]) -> Board {
        Board::build(
            &Script::parse(script).unwrap(),
            executed,
            &BenignCommands::default(),
        )
    }

    fn statuses(board: &Board) -> Vec<(Status, Option<usize>, Option<usize>)> {
        board
            .entries
            .iter()
            .map(|e| (e.status, e.script_index, e.executed_index))
            .collect()
    }

    #[test]
    fn running_the_script_and_nothing_else_scores_100_correct() {
        let board = board_of("a\nb 'x y'\nc", &[ran("a"), ran("b \"x y\""), ran("c")]);
        assert_eq!(board.score, 100);
        assert_eq!(board.verdict.to_string(), "Correct");
        assert!(board.entries.iter().all(|e| e.status == Status::Matched));
    }

    #[test]
    fn missing_lines_are_red_and_make_it_incomplete() {
        let board = board_of("a\nb\nc", &[ran("a"), ran("c")]);
        assert_eq!(
            statuses(&board),
            vec![
                (Status::Matched, Some(0), Some(0)),
                (Status::Missing, Some(1), None),
                (Status::Matched, Some(2), Some(1)),
            ]
        );
        assert_eq!(board.score, 67);
        assert_eq!(board.verdict.to_string(), "Incomplete");
    }

    #[test]
    fn unplanned_commands_are_green_and_make_it_more_than_necessary() {
        let board = board_of("a\nb", &[ran("a"), ran("rm -rf /tmp/x"), ran("b")]);
        assert_eq!(board.tally.unplanned, 1);
        assert_eq!(board.score, 67);
        assert_eq!(board.verdict.outcome, Outcome::MoreThanNecessary);
    }

    #[test]
    fn benign_commands_are_shown_but_never_counted() {
        let board = board_of(
            "a",
            &[
                ran("ls -la /etc"),
                ran("a"),
                ran("/bin/pwd"),
                ran("ls; rm x"),
            ],
        );
        assert_eq!(
            statuses(&board),
            vec![
                (Status::Benign, None, Some(0)),
                (Status::Matched, Some(0), Some(1)),
                (Status::Benign, None, Some(2)),
                (Status::Unplanned, None, Some(3)),
            ]
        );
        assert_eq!(board.score, 50);
    }

    #[test]
    fn a_benign_command_in_the_script_is_matched_like_any_other() {
        let board = board_of("ls /srv\nb", &[ran("ls /srv"), ran("b")]);
        assert_eq!(board.tally.matched, 2);
        assert_eq!(board.score, 100);
    }

    #[test]
    fn commands_run_in_another_order_are_matched_and_marked() {
        let board = board_of("a\nb\nc", &[ran("c"), ran("a"), ran("b")]);
        assert_eq!(board.tally.matched, 3);
        assert_eq!(board.tally.out_of_order, 1);
        assert_eq!(board.score, 100);
        assert_eq!(board.verdict.outcome, Outcome::Correct);
        let marked: Vec<_> = board
            .entries
            .iter()
            .filter(|e| e.status == Status::OutOfOrder)
            .collect();
        assert_eq!(marked.len(), 1);
        assert_eq!(marked[0].script_index, Some(2));
    }

    #[test]
    fn a_planned_command_that_failed_is_amber_and_said_in_the_verdict() {
        let board = board_of("a\nb", &[ran("a"), ran_with("b", Some(2))]);
        assert_eq!(board.entries[1].status, Status::Failed);
        assert_eq!(board.score, 100);
        assert_eq!(board.verdict.to_string(), "Correct with failures");
        let unknown = board_with_unknown_exit();
        assert_eq!(unknown.verdict.to_string(), "Correct");
    }

    fn board_with_unknown_exit() -> Board {
        board_of("a", &[ran_with("a", None)])
    }

    #[test]
    fn nothing_matched_is_not_executed_whatever_else_ran() {
        let board = board_of("a\nb", &[ran("x"), ran("y")]);
        assert_eq!(board.score, 0);
        assert_eq!(board.verdict.to_string(), "Not executed");
        assert_eq!(board_of("a", &[]).verdict.outcome, Outcome::NotExecuted);
    }

    #[test]
    fn a_repeated_command_matches_once_per_planned_line() {
        let board = board_of("a\na", &[ran("a"), ran("a"), ran("a")]);
        assert_eq!(board.tally.matched, 2);
        assert_eq!(board.tally.unplanned, 1);
        assert_eq!(board.score, 67);
    }

    #[test]
    fn scores_round_half_up() {
        let tally = |matched, missing, unplanned| Tally {
            matched,
            missing,
            unplanned,
            ..Tally::default()
        };
        assert_eq!(score(&tally(1, 1, 0)), 50);
        assert_eq!(score(&tally(1, 2, 0)), 33);
        assert_eq!(score(&tally(2, 1, 0)), 67);
        assert_eq!(score(&tally(1, 7, 0)), 13); // 12.5 rounds up
        assert_eq!(score(&tally(0, 0, 0)), 0);
        assert_eq!(
            score(&tally(399, 1, 0)),
            99,
            "only a perfect session scores 100"
        );
        assert_eq!(
            score(&tally(1, 300, 0)),
            1,
            "a session that matched something scores above 0"
        );
    }

    /// A small alphabet makes repeats, reorders and benign commands frequent.
    #[derive(Debug, Clone)]
    struct Session {
        script: Vec<u8>,
        executed: Vec<(u8, i8)>,
    }

    impl Arbitrary for Session {
        fn arbitrary(g: &mut Gen) -> Self {
            let size = usize::arbitrary(g) % 24;
            let script = (0..size).map(|_| u8::arbitrary(g) % 8).collect();
            let size = usize::arbitrary(g) % 24;
            let executed = (0..size)
                .map(|_| (u8::arbitrary(g) % 10, i8::arbitrary(g) % 3))
                .collect();
            Session { script, executed }
        }
    }

    fn command_of(n: u8) -> String {
        match n {
            8 => "ls".to_owned(),
            9 => "pwd".to_owned(),
            n => format!("cmd{n} --flag"),
        }
    }

    fn invariants_hold(session: Session) -> bool {
        let text: Vec<String> = session.script.iter().map(|n| command_of(*n)).collect();
        let script = Script::parse(&text.join("\n")).unwrap();
        let executed: Vec<ExecutedCommand> = session
            .executed
            .iter()
            .map(|(n, code)| ran_with(&command_of(*n), Some(i32::from(*code))))
            .collect();
        let board = Board::build(&script, &executed, &BenignCommands::default());
        let t = board.tally;
        let mut seen_script = vec![0; script.len()];
        let mut seen_executed = vec![0; executed.len()];
        for entry in &board.entries {
            entry
                .script_index
                .into_iter()
                .for_each(|i| seen_script[i] += 1);
            entry
                .executed_index
                .into_iter()
                .for_each(|j| seen_executed[j] += 1);
            if let (Some(i), Some(j)) = (entry.script_index, entry.executed_index)
                && script.commands[i].words != Words::parse_lenient(&executed[j].text)
            {
                return false;
            }
        }
        t.matched + t.missing == script.len()
            && t.matched + t.unplanned + t.benign == executed.len()
            && seen_script.iter().all(|n| *n == 1)
            && seen_executed.iter().all(|n| *n == 1)
            && board.score <= 100
            && (board.score == 100) == (t.matched > 0 && t.missing == 0 && t.unplanned == 0)
    }

    #[test]
    fn invariants_hold_for_any_session() {
        QuickCheck::new()
            .tests(2_000)
            .quickcheck(invariants_hold as fn(Session) -> bool);
    }
}
