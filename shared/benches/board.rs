//! Prints how long building the board takes for a 10,000-line script against 10,000 executed
//! commands (target: under 100 ms). Run with `cargo bench -p changeaudit-shared --bench board`.

// A benchmark prints its figures, and stops on a generator bug.
#![allow(clippy::print_stdout, clippy::expect_used)]

use std::time::{Duration, Instant};

use changeaudit_shared::board::{BenignCommands, Board};
use changeaudit_shared::command::{ExecutedCommand, Recognition};
use changeaudit_shared::script::Script;

/// A deterministic generator, so every run measures the same session.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % bound
    }
}

fn as_executed(lines: Vec<String>) -> Vec<ExecutedCommand> {
    lines
        .into_iter()
        .enumerate()
        .map(|(index, text)| ExecutedCommand {
            text,
            offset: index as f64,
            exit_code: Some(0),
            source: Recognition::Screen,
        })
        .collect()
}

fn measure(case: &str, script: &Script, executed: &[ExecutedCommand]) -> Board {
    let benign = BenignCommands::default();
    let mut times: Vec<Duration> = Vec::new();
    let mut board = None;
    for _ in 0..9 {
        let started = Instant::now();
        board = Some(Board::build(script, executed, &benign));
        times.push(started.elapsed());
    }
    times.sort();
    println!(
        "board, {case}: {} script lines x {} executed commands: median {:.1} ms, best {:.1} ms, worst {:.1} ms (target < 100 ms)",
        script.len(),
        executed.len(),
        times[times.len() / 2].as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3,
    );
    board.expect("at least one run")
}

fn main() {
    let mut random = Lcg(42);
    // Commands repeat, as real scripts do: 2,000 distinct lines over 10,000.
    let script: Vec<String> = (0..10_000)
        .map(|_| format!("systemctl restart 'unit-{}' --now", random.next(2_000)))
        .collect();
    let mut executed: Vec<String> = Vec::with_capacity(10_000);
    for line in &script {
        match random.next(20) {
            0 => {}                                                               // skipped: missing
            1 => executed.push(format!("vi /etc/app-{}.conf", random.next(500))), // unplanned
            2 => executed.push("ls -la".to_owned()),                              // benign
            _ => executed.push(line.replace('\'', "\"")),                         // planned
        }
    }
    while executed.len() < 10_000 {
        let again = usize::try_from(random.next(script.len() as u64)).unwrap_or(0);
        executed.push(script[again].clone());
    }
    // A few blocks run out of order.
    for _ in 0..50 {
        let from = usize::try_from(random.next(executed.len() as u64)).unwrap_or(0);
        let to = usize::try_from(random.next(executed.len() as u64)).unwrap_or(0);
        executed.swap(from, to);
    }
    let script = Script::parse(&script.join("\n")).expect("the generated script parses");
    let executed = as_executed(executed);
    let board = measure("a realistic session", &script, &executed);
    println!(
        "board: matched {}, missing {}, unplanned {}, benign {}, out of order {}, score {}, verdict {}",
        board.tally.matched,
        board.tally.missing,
        board.tally.unplanned,
        board.tally.benign,
        board.tally.out_of_order,
        board.score,
        board.verdict
    );

    // The worst case for a diff: nothing in common, every line different.
    let unrelated = as_executed((0..10_000).map(|n| format!("echo unrelated {n}")).collect());
    let distinct = Script::parse(
        &(0..10_000)
            .map(|n| format!("echo planned {n}"))
            .collect::<Vec<_>>()
            .join("\n"),
    )
    .expect("the generated script parses");
    measure("nothing in common", &distinct, &unrelated);

    // Few distinct lines in different patterns: no unique anchors, a long edit script.
    let pattern = Script::parse(
        &(0..10_000)
            .map(|n| format!("step {}", n % 3))
            .collect::<Vec<_>>()
            .join("\n"),
    )
    .expect("the generated script parses");
    let shuffled = as_executed(
        (0..10_000)
            .map(|n| format!("step {}", (n * 7 / 5) % 4))
            .collect(),
    );
    measure("repeated lines in another pattern", &pattern, &shuffled);
}
