//! Prints command-recognition throughput in MB/s of session output (target: at least 50 MB/s
//! on one core). Run with `cargo bench -p changeaudit-shared --bench recognizer`.

// A benchmark prints its figures, and stops on a broken corpus.
#![allow(clippy::print_stdout, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use changeaudit_shared::asciicast::{Cast, Event, EventData};
use changeaudit_shared::recognizer::CommandRecognizer;

fn corpus() -> Vec<Cast> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .expect("the corpus folder")
        .map(|entry| entry.expect("a corpus entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "cast"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| {
            Cast::parse(&std::fs::read_to_string(path).expect("a recording"))
                .expect("a valid recording")
        })
        .collect()
}

fn output_bytes(events: &[Event]) -> usize {
    events
        .iter()
        .map(|event| match &event.data {
            EventData::Output(text) => text.len(),
            _ => 0,
        })
        .sum()
}

fn measure(case: &str, events: &[Event]) {
    let bytes = output_bytes(events);
    let mut times: Vec<Duration> = Vec::new();
    let mut commands = 0;
    for _ in 0..5 {
        let started = Instant::now();
        let mut recognizer = CommandRecognizer::new(80, 24);
        for event in events {
            recognizer.feed(event);
        }
        commands = recognizer.commands().len();
        times.push(started.elapsed());
    }
    times.sort();
    let median = times[times.len() / 2].as_secs_f64();
    // The same output through vt100 alone, the emulator the player uses, for comparison.
    let mut reference: Vec<Duration> = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let size = std::num::NonZeroU16::new;
        let (Some(rows), Some(cols)) = (size(24), size(80)) else {
            return;
        };
        let mut parser = vt100::Parser::new(rows, cols, 0);
        for event in events {
            if let EventData::Output(text) = &event.data {
                parser.process(text.as_bytes());
            }
        }
        std::hint::black_box(parser.screen().cursor_position());
        reference.push(started.elapsed());
    }
    reference.sort();
    let vt100 = reference[reference.len() / 2].as_secs_f64();
    println!(
        "recognizer, {case}: {:.1} MB of output, {commands} commands: median {:.0} ms, {:.0} MB/s (target >= 50 MB/s); vt100 parsing the same output alone: {:.0} MB/s",
        bytes as f64 / 1e6,
        median * 1e3,
        bytes as f64 / 1e6 / median,
        bytes as f64 / 1e6 / vt100,
    );
}

fn main() {
    // Every recorded session, replayed one after another until there are about 20 MB of output.
    let casts = corpus();
    let mut sessions: Vec<Event> = Vec::new();
    let per_pass: usize = casts.iter().map(|cast| output_bytes(&cast.events)).sum();
    for _ in 0..20_000_000usize.div_ceil(per_pass.max(1)) {
        for cast in &casts {
            sessions.extend(cast.events.iter().cloned());
        }
    }
    measure("the recorded sessions replayed", &sessions);

    // A command that prints a lot: 50 MB of log-like lines with colours, in 4 KiB reads.
    let line = "\x1b[32m2026-11-24T16:00:00Z\x1b[0m INFO service started, listening on 0.0.0.0:8443 (pid 4242)\r\n";
    let text = line.repeat(50_000_000 / line.len());
    let mut bulk = vec![
        Event {
            time: 0.0,
            data: EventData::Output("root@host:~# ".into()),
        },
        Event {
            time: 0.1,
            data: EventData::Input("journalctl -u app\r".into()),
        },
    ];
    let mut time = 0.2;
    let mut rest = text.as_str();
    while !rest.is_empty() {
        let mut cut = rest.len().min(4096);
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        bulk.push(Event {
            time,
            data: EventData::Output(rest[..cut].to_owned()),
        });
        rest = &rest[cut..];
        time += 0.0001;
    }
    measure("a command printing 50 MB", &bulk);
}
