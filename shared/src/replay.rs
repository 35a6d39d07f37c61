//! The session player's timeline: a recording's output with snapshots of the screen taken as it
//! plays (every `SNAPSHOT_SECONDS` of recording or `SNAPSHOT_BYTES` of output), so that showing
//! the screen at any moment costs one snapshot and at most that much output, never a replay
//! from the start. The browser writes what `seek` and `advance` give into xterm.js.

use std::num::NonZeroU16;

use crate::asciicast::{Cast, EventData};

pub const SNAPSHOT_SECONDS: f64 = 5.0;
pub const SNAPSHOT_BYTES: usize = 64 * 1024;
/// A pause longer than this is idle time; skipping it leaves `IDLE_KEPT` of it.
pub const IDLE_AFTER: f64 = 2.0;
pub const IDLE_KEPT: f64 = 0.5;
/// How long a device may take to echo a command's Enter.
pub const ECHO_WITHIN: f64 = 2.0;

/// What the device printed at `time`.
#[derive(Debug, Clone, PartialEq)]
struct Output {
    time: f64,
    text: String,
}

/// The screen as it was just before output `index`.
#[derive(Debug, Clone, PartialEq)]
struct Snapshot {
    index: usize,
    /// Escape codes that redraw the whole screen (after a reset).
    screen: String,
    /// The terminal's size then, as (cols, rows).
    size: (u16, u16),
}

/// A resize in the output stream, as xterm.js takes it when `windowOptions.setWinSizeChars`
/// is on (`CSI 8 ; rows ; cols t`).
pub fn resize_sequence(cols: u16, rows: u16) -> String {
    format!("\u{1b}[8;{rows};{cols}t")
}

/// What to write to a terminal to move along the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Reset the terminal first (a seek); otherwise append.
    pub reset: bool,
    /// Resize to this before writing.
    pub size: (u16, u16),
    pub data: String,
    /// The output index to go on from.
    pub next: usize,
}

#[derive(Debug, Clone)]
pub struct Timeline {
    outputs: Vec<Output>,
    snapshots: Vec<Snapshot>,
    size: (u16, u16),
    duration: f64,
}

impl Timeline {
    /// Builds the timeline, running the recording once through a terminal emulator.
    pub fn new(cast: &Cast) -> Timeline {
        let size = (cast.header.width.max(1), cast.header.height.max(1));
        let mut parser = vt100::Parser::new(non_zero(size.1), non_zero(size.0), 0);
        let mut outputs = Vec::new();
        let mut current = size;
        let mut snapshots = vec![Snapshot {
            index: 0,
            screen: String::new(),
            size,
        }];
        let (mut since_time, mut since_bytes) = (0.0_f64, 0_usize);
        let mut duration = 0.0_f64;
        for event in &cast.events {
            duration = duration.max(event.time);
            match &event.data {
                EventData::Output(text) => {
                    if event.time - since_time >= SNAPSHOT_SECONDS || since_bytes >= SNAPSHOT_BYTES
                    {
                        snapshots.push(Snapshot {
                            index: outputs.len(),
                            screen: parser.screen().state_formatted(),
                            size: current,
                        });
                        since_time = event.time;
                        since_bytes = 0;
                    }
                    parser.process(text.as_bytes());
                    since_bytes += text.len();
                    outputs.push(Output {
                        time: event.time,
                        text: text.clone(),
                    });
                }
                EventData::Resize { cols, rows } => {
                    let (cols, rows) = ((*cols).max(1), (*rows).max(1));
                    parser.screen_mut().set_size(non_zero(rows), non_zero(cols));
                    current = (cols, rows);
                    // Played in its place, so the terminal follows the session's size.
                    outputs.push(Output {
                        time: event.time,
                        text: resize_sequence(cols, rows),
                    });
                }
                EventData::Input(_) | EventData::Marker(_) => {}
            }
        }
        Timeline {
            outputs,
            snapshots,
            size,
            duration,
        }
    }

    /// Seconds from the first to the last event.
    pub fn duration(&self) -> f64 {
        self.duration
    }

    pub fn snapshots(&self) -> usize {
        self.snapshots.len()
    }

    /// The screen at `time`: the nearest snapshot before it and the output since.
    pub fn seek(&self, time: f64) -> Step {
        let end = self.outputs.partition_point(|output| output.time <= time);
        let at = self
            .snapshots
            .partition_point(|snapshot| snapshot.index <= end)
            .saturating_sub(1);
        let snapshot = &self.snapshots[at];
        let mut data = snapshot.screen.clone();
        for output in &self.outputs[snapshot.index..end] {
            data.push_str(&output.text);
        }
        Step {
            reset: true,
            size: snapshot.size,
            data,
            next: end,
        }
    }

    /// The output from index `from` up to `time`, to append while playing.
    pub fn advance(&self, from: usize, time: f64) -> Step {
        let from = from.min(self.outputs.len());
        let end = from + self.outputs[from..].partition_point(|output| output.time <= time);
        Step {
            reset: false,
            size: self.size,
            data: self.outputs[from..end]
                .iter()
                .map(|output| output.text.as_str())
                .collect(),
            next: end,
        }
    }

    /// The moment a command entered at `time` is whole on the screen: its Enter is recorded
    /// before the device echoes it, so this is the first output from `time` on that ends a
    /// line, if one comes within `ECHO_WITHIN`; otherwise `time` itself.
    pub fn line_shown(&self, time: f64) -> f64 {
        let from = self.outputs.partition_point(|output| output.time < time);
        self.outputs[from..]
            .iter()
            .take_while(|output| output.time - time <= ECHO_WITHIN)
            .find(|output| output.text.contains('\n'))
            .map_or(time, |output| output.time)
    }

    /// When output `index` comes, or `None` at the end.
    pub fn time_of(&self, index: usize) -> Option<f64> {
        self.outputs.get(index).map(|output| output.time)
    }

    /// Where playing from `time` goes after `elapsed` seconds of watching: when idle time is
    /// skipped, a pause of more than `IDLE_AFTER` before the next output lasts only `IDLE_KEPT`.
    pub fn play(&self, time: f64, elapsed: f64, skip_idle: bool) -> f64 {
        let mut time = time;
        let mut left = elapsed;
        if skip_idle {
            loop {
                let next = self.outputs.partition_point(|output| output.time <= time);
                let Some(next_time) = self.time_of(next) else {
                    break;
                };
                let gap = next_time - time;
                if gap > IDLE_AFTER {
                    if left <= IDLE_KEPT {
                        return time + left;
                    }
                    // Jump over the idle part, keeping IDLE_KEPT of it.
                    left -= IDLE_KEPT;
                    time = next_time;
                    continue;
                }
                if left <= gap {
                    return time + left;
                }
                left -= gap;
                time = next_time;
            }
        }
        (time + left).min(self.duration.max(time))
    }
}

fn non_zero(value: u16) -> NonZeroU16 {
    NonZeroU16::new(value).unwrap_or(NonZeroU16::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asciicast::{Event, Header};

    fn cast(outputs: &[(f64, &str)]) -> Cast {
        Cast {
            header: Header::new(40, 5),
            events: outputs
                .iter()
                .map(|(time, text)| Event {
                    time: *time,
                    data: EventData::Output((*text).to_owned()),
                })
                .collect(),
        }
    }

    /// What a screen shows after `data`, as plain text.
    fn screen(data: &str) -> String {
        let mut parser = vt100::Parser::new(non_zero(5), non_zero(40), 0);
        parser.process(data.as_bytes());
        parser.screen().contents()
    }

    #[test]
    fn seeking_anywhere_shows_what_playing_from_the_start_shows() {
        let outputs: Vec<(f64, String)> = (0..400)
            .map(|i| (f64::from(i) * 0.5, format!("line {i}\r\n")))
            .collect();
        let borrowed: Vec<(f64, &str)> = outputs.iter().map(|(t, s)| (*t, s.as_str())).collect();
        let timeline = Timeline::new(&cast(&borrowed));
        assert!(timeline.snapshots() > 30, "{}", timeline.snapshots());
        for time in [0.0, 0.2, 7.3, 50.0, 123.4, 199.5, 500.0] {
            let step = timeline.seek(time);
            let everything: String = outputs
                .iter()
                .filter(|(t, _)| *t <= time)
                .map(|(_, s)| s.as_str())
                .collect();
            assert_eq!(screen(&step.data), screen(&everything), "at {time}");
            // And the seek never replays more than a snapshot's worth.
            assert!(
                step.data.len() < 2_000,
                "{} bytes at {time}",
                step.data.len()
            );
        }
    }

    #[test]
    fn playing_forward_appends_what_came_in_between() {
        let timeline = Timeline::new(&cast(&[(1.0, "a"), (2.0, "b"), (3.0, "c")]));
        let step = timeline.seek(1.5);
        assert_eq!((step.next, step.reset), (1, true));
        let step = timeline.advance(step.next, 3.0);
        assert_eq!(
            (step.data.as_str(), step.next, step.reset),
            ("bc", 3, false)
        );
        assert_eq!(timeline.advance(3, 9.0).data, "");
    }

    #[test]
    fn a_seek_after_a_resize_draws_at_the_new_size() {
        let mut recording = cast(&[(1.0, "before\r\n")]);
        recording.events.push(Event {
            time: 2.0,
            data: EventData::Resize {
                cols: 100,
                rows: 30,
            },
        });
        for i in 0..40 {
            recording.events.push(Event {
                time: 8.0 + f64::from(i),
                data: EventData::Output(format!("after {i}\r\n")),
            });
        }
        let timeline = Timeline::new(&recording);
        assert_eq!(timeline.seek(1.5).size, (40, 5));
        assert_eq!(timeline.seek(40.0).size, (100, 30));
        // Played through, the resize is in its place in the stream.
        let played = timeline.advance(0, 3.0);
        assert_eq!(
            played.data,
            format!("before\r\n{}", resize_sequence(100, 30))
        );
    }

    #[test]
    fn a_command_is_shown_once_its_enter_is_echoed() {
        let timeline = Timeline::new(&cast(&[
            (1.0, "$ unam"),
            (1.2, "e -s"),
            (1.3, "\r\nLinux\r\n"),
        ]));
        assert_eq!(timeline.line_shown(1.1), 1.3);
        assert_eq!(timeline.line_shown(0.5), 1.3);
        // Nothing echoed in time: the moment itself.
        assert_eq!(timeline.line_shown(5.0), 5.0);
    }

    #[test]
    fn idle_time_is_skipped_when_asked() {
        let timeline = Timeline::new(&cast(&[(1.0, "a"), (61.0, "b"), (62.0, "c")]));
        assert_eq!(timeline.play(1.0, 1.0, false), 2.0);
        // The minute of nothing lasts half a second, then time flows again.
        assert!((timeline.play(1.0, 0.4, true) - 1.4).abs() < 1e-9);
        assert!((timeline.play(1.0, 0.75, true) - 61.25).abs() < 1e-9);
        assert_eq!(timeline.play(61.0, 5.0, true), 62.0);
    }
}
