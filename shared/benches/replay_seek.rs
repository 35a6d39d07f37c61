//! Prints how long the player takes to show the screen at a random point of a one-hour
//! recording (target: within 200 ms): the timeline is built once, then each seek takes the
//! nearest snapshot and the output since, and a terminal emulator draws it, as xterm.js does in
//! the browser. Run with `cargo bench -p changeaudit-shared --bench replay_seek`.

// A benchmark prints its figures, and stops on a generator bug.
#![allow(clippy::print_stdout, clippy::expect_used)]

use std::num::NonZeroU16;
use std::time::{Duration, Instant};

use changeaudit_shared::asciicast::{Cast, Event, EventData, Header};
use changeaudit_shared::replay::Timeline;

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

/// An hour of work: commands typed a key at a time, their output (some of it long and
/// coloured), and pauses, some of them minutes long.
fn one_hour() -> Cast {
    let mut random = Lcg(7);
    let mut events = Vec::new();
    let mut time = 0.0;
    let mut n = 0;
    while time < 3700.0 {
        n += 1;
        for c in format!("systemctl status service-{n} --no-pager").chars() {
            time += 0.05 + random.next(100) as f64 / 1000.0;
            events.push(Event {
                time,
                data: EventData::Output(c.to_string()),
            });
        }
        time += 0.3;
        let lines = 1 + random.next(60);
        let mut output = String::from("\r\n");
        for line in 0..lines {
            output.push_str(&format!(
                "\u{1b}[1;32m●\u{1b}[0m service-{n}.service line {line}: {}\r\n",
                "active (running) since the morning; ".repeat(1 + random.next(3) as usize)
            ));
        }
        output.push_str("\u{1b}[01;34m~\u{1b}[00m$ ");
        events.push(Event {
            time,
            data: EventData::Output(output),
        });
        time += if random.next(20) == 0 {
            60.0 + random.next(240) as f64
        } else {
            0.5 + random.next(5) as f64
        };
    }
    Cast {
        header: Header::new(160, 48),
        events,
    }
}

fn main() {
    let cast = one_hour();
    let bytes: usize = cast
        .events
        .iter()
        .map(|event| match &event.data {
            EventData::Output(text) => text.len(),
            _ => 0,
        })
        .sum();
    let started = Instant::now();
    let timeline = Timeline::new(&cast);
    println!(
        "a recording of {:.0} s, {} events, {:.1} MB of output: timeline with {} snapshots built in {} ms",
        timeline.duration(),
        cast.events.len(),
        bytes as f64 / 1e6,
        timeline.snapshots(),
        started.elapsed().as_millis()
    );
    let mut random = Lcg(11);
    let mut times: Vec<Duration> = (0..1000)
        .map(|_| {
            let at = random.next(3_600_000) as f64 / 1000.0;
            let started = Instant::now();
            let step = timeline.seek(at);
            let mut terminal = vt100::Parser::new(
                NonZeroU16::new(step.size.1).expect("rows"),
                NonZeroU16::new(step.size.0).expect("cols"),
                0,
            );
            terminal.process(step.data.as_bytes());
            std::hint::black_box(terminal.screen().cursor_position());
            started.elapsed()
        })
        .collect();
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "1000 seeks to random points: median {:.2} ms, 99th percentile {:.2} ms, slowest {:.2} ms (target: within 200 ms)",
        ms(times[500]),
        ms(times[990]),
        ms(times[999])
    );
}
