//! Prints command-recognition throughput in MB/s of session output (target: at least 50 MB/s
//! on one core). Run with `cargo bench -p changeaudit-shared --bench recognizer`.
//!
//! Three figures for the recorded corpus, mostly one-character echo chunks: every session
//! replayed into one recognizer from a 20 MB list of events built beforehand (most of whose
//! time is spent fetching events from memory: the line "reading the events alone" shows how
//! much); each session in turn with a recognizer of its own, as the broker runs one per live
//! session and gets each chunk fresh from the network; and a command printing 50 MB. Each is
//! measured beside vt100, the emulator the player uses, parsing the same output alone.

// A benchmark prints its figures, and stops on a broken corpus.
#![allow(clippy::print_stdout, clippy::expect_used)]

use std::hint::black_box;
use std::num::NonZeroU16;
use std::path::Path;
use std::time::{Duration, Instant};

use changeaudit_shared::asciicast::{Cast, Event, EventData};
use changeaudit_shared::recognizer::CommandRecognizer;
use changeaudit_shared::recognizer::screen::Screen;

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

/// The median of `runs` timings of `work`.
fn median(runs: usize, mut work: impl FnMut()) -> f64 {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            work();
            started.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2].as_secs_f64()
}

fn recognise(cast_events: &[Event], cols: u16, rows: u16) -> usize {
    let mut recognizer = CommandRecognizer::new(cols, rows);
    for event in cast_events {
        recognizer.feed(event);
    }
    recognizer.commands().len()
}

fn vt100_alone(events: &[Event], cols: u16, rows: u16) {
    let size = |n| NonZeroU16::new(n).unwrap_or(NonZeroU16::MIN);
    let mut parser = vt100::Parser::new(size(rows), size(cols), 0);
    for event in events {
        if let EventData::Output(text) = &event.data {
            parser.process(text.as_bytes());
        }
    }
    black_box(parser.screen().cursor_position());
}

fn report(case: &str, bytes: usize, commands: usize, seconds: f64, vt100: f64) {
    let rate = |seconds: f64| bytes as f64 / 1e6 / seconds;
    println!(
        "recognizer, {case}: {:.1} MB of output, {commands} commands: median {:.0} ms, {:.0} MB/s (target >= 50 MB/s); vt100 parsing the same output alone: {:.0} MB/s",
        bytes as f64 / 1e6,
        seconds * 1e3,
        rate(seconds),
        rate(vt100),
    );
}

fn main() {
    let casts = corpus();
    let per_pass: usize = casts.iter().map(|cast| output_bytes(&cast.events)).sum();
    let passes = 20_000_000usize.div_ceil(per_pass.max(1));

    // Every recorded session, one after another into one recognizer, from a list built first.
    let mut sessions: Vec<Event> = Vec::new();
    for _ in 0..passes {
        for cast in &casts {
            sessions.extend(cast.events.iter().cloned());
        }
    }
    let bytes = output_bytes(&sessions);
    let mut commands = 0;
    let seconds = median(5, || commands = recognise(&sessions, 80, 24));
    let vt100 = median(3, || vt100_alone(&sessions, 80, 24));
    report(
        "the recorded sessions replayed",
        bytes,
        commands,
        seconds,
        vt100,
    );
    let reading = median(3, || {
        black_box(output_bytes(black_box(&sessions)));
    });
    let screen = median(3, || {
        let mut screen = Screen::new(24, 80);
        for event in &sessions {
            if let EventData::Output(text) = &event.data {
                screen.process(text);
            }
        }
        black_box(screen.cursor());
    });
    println!(
        "    reading the events alone: {:.0} MB/s; the recognizer's screen alone: {:.0} MB/s",
        bytes as f64 / 1e6 / reading,
        bytes as f64 / 1e6 / screen
    );

    // Each session in turn with a recognizer of its own, as live.
    let seconds = median(5, || {
        commands = 0;
        for _ in 0..passes {
            for cast in &casts {
                let (cols, rows) = (cast.header.width, cast.header.height);
                commands += recognise(&cast.events, cols, rows);
            }
        }
    });
    let vt100 = median(3, || {
        for _ in 0..passes {
            for cast in &casts {
                vt100_alone(&cast.events, cast.header.width, cast.header.height);
            }
        }
    });
    report(
        "each recorded session as live",
        per_pass * passes,
        commands,
        seconds,
        vt100,
    );

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
    let bytes = output_bytes(&bulk);
    let seconds = median(5, || commands = recognise(&bulk, 80, 24));
    let vt100 = median(3, || vt100_alone(&bulk, 80, 24));
    report("a command printing 50 MB", bytes, commands, seconds, vt100);
}
