//! asciicast v2, the recording format of asciinema: a JSON header line, then one JSON array per
//! event, `[seconds, code, data]`, with output (`o`), input (`i`), resize (`r`, `COLSxROWS`) and
//! marker (`m`) events. Files written here play in standard asciicast players.

use std::collections::BTreeMap;
use std::io::Write;

use serde::{Deserialize, Serialize};

pub use crate::line_error::LineError as CastError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// Always 2.
    pub version: u8,
    pub width: u16,
    pub height: u16,
    /// Unix seconds at the start of the recording.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
}

impl Header {
    pub fn new(width: u16, height: u16) -> Header {
        Header {
            version: 2,
            width,
            height,
            timestamp: None,
            title: None,
            env: BTreeMap::new(),
        }
    }

    /// The header as one line of JSON, without the newline.
    pub fn to_line(&self) -> String {
        // A struct of strings and numbers always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Seconds since the start of the recording.
    pub time: f64,
    pub data: EventData,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventData {
    /// Bytes the terminal received (what the device printed), as text.
    Output(String),
    /// Bytes the person typed or pasted.
    Input(String),
    Resize {
        cols: u16,
        rows: u16,
    },
    /// A named point in time, e.g. a command's start.
    Marker(String),
}

impl Event {
    /// The event as one line of JSON, without the newline.
    pub fn to_line(&self) -> String {
        let mut line = Vec::new();
        self.write_line(&mut line);
        line.pop();
        // Written from strings and numbers only: always UTF-8.
        String::from_utf8(line).unwrap_or_default()
    }

    /// Appends the event's line and its newline to `out`, the text escaped straight into it:
    /// under bulk output, each copy of the text between is a pass over every byte.
    pub fn write_line(&self, out: &mut Vec<u8>) {
        let code = match &self.data {
            EventData::Output(_) => "o",
            EventData::Input(_) => "i",
            EventData::Marker(_) => "m",
            EventData::Resize { .. } => "r",
        };
        // Writing to a `Vec` cannot fail.
        write!(out, "[{:.6}, \"{code}\", ", self.time).ok();
        match &self.data {
            EventData::Output(text) | EventData::Input(text) | EventData::Marker(text) => {
                serde_json::to_writer(&mut *out, text).ok();
            }
            EventData::Resize { cols, rows } => {
                write!(out, "\"{cols}x{rows}\"").ok();
            }
        }
        out.extend_from_slice(b"]\n");
    }

    pub fn parse_line(line: &str) -> Result<Event, String> {
        let (time, code, data): (f64, String, String) = serde_json::from_str(line)
            .map_err(|error| format!("not an event `[time, code, data]`: {error}"))?;
        if !time.is_finite() || time < 0.0 {
            return Err(format!(
                "the time {time} is not a number of seconds from the start"
            ));
        }
        let data = match code.as_str() {
            "o" => EventData::Output(data),
            "i" => EventData::Input(data),
            "m" => EventData::Marker(data),
            "r" => {
                let size = data
                    .split_once('x')
                    .and_then(|(cols, rows)| Some((cols.parse().ok()?, rows.parse().ok()?)));
                match size {
                    Some((cols, rows)) => EventData::Resize { cols, rows },
                    None => return Err(format!("a resize must be `COLSxROWS`, not `{data}`")),
                }
            }
            other => {
                return Err(format!(
                    "unknown event code `{other}` (expected o, i, r or m)"
                ));
            }
        };
        Ok(Event { time, data })
    }
}

/// A whole recording in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Cast {
    pub header: Header,
    pub events: Vec<Event>,
}

impl Cast {
    pub fn parse(text: &str) -> Result<Cast, CastError> {
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty());
        let (_, first) = lines.next().ok_or(CastError {
            line: 1,
            message: "empty file: an asciicast starts with a header line".to_owned(),
        })?;
        let header: Header = serde_json::from_str(first).map_err(|error| CastError {
            line: 1,
            message: format!("not an asciicast header: {error}"),
        })?;
        if header.version != 2 {
            return Err(CastError {
                line: 1,
                message: format!(
                    "asciicast version {} (only version 2 is read)",
                    header.version
                ),
            });
        }
        let events = lines
            .map(|(index, line)| {
                Event::parse_line(line).map_err(|message| CastError {
                    line: index + 1,
                    message,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Cast { header, events })
    }

    pub fn to_text(&self) -> String {
        let mut text = self.header.to_line();
        text.push('\n');
        for event in &self.events {
            text.push_str(&event.to_line());
            text.push('\n');
        }
        text
    }
}

/// Turns a byte stream into text for `o` and `i` events: a character split across two reads is
/// held until its end arrives, and bytes that are not UTF-8 become U+FFFD.
#[derive(Debug, Default, Clone)]
pub struct Utf8Stream {
    pending: Vec<u8>,
}

impl Utf8Stream {
    /// `push`, taking the bytes: whole UTF-8 with nothing pending becomes the text as it is,
    /// without a copy.
    pub fn push_owned(&mut self, bytes: Vec<u8>) -> String {
        if !self.pending.is_empty() {
            return self.push(&bytes);
        }
        match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(error) => self.push(error.as_bytes()),
        }
    }

    pub fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let mut text = String::with_capacity(self.pending.len());
        let mut rest: &[u8] = &self.pending;
        loop {
            match std::str::from_utf8(rest) {
                Ok(valid) => {
                    text.push_str(valid);
                    rest = &[];
                    break;
                }
                Err(error) => {
                    let (valid, after) = rest.split_at(error.valid_up_to());
                    text.push_str(std::str::from_utf8(valid).unwrap_or_default());
                    match error.error_len() {
                        Some(bad) => {
                            text.push(char::REPLACEMENT_CHARACTER);
                            rest = &after[bad..];
                        }
                        // An incomplete character at the end: keep it for the next read.
                        None => {
                            rest = after;
                            break;
                        }
                    }
                }
            }
        }
        self.pending = rest.to_vec();
        text
    }

    /// What is left at the end of the stream.
    pub fn finish(&mut self) -> String {
        let rest = std::mem::take(&mut self.pending);
        String::from_utf8_lossy(&rest).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use quickcheck::quickcheck;

    use super::*;

    const SAMPLE: &str = r#"{"version": 2, "width": 80, "height": 24, "timestamp": 1504467315, "title": "Demo", "env": {"TERM": "xterm-256color", "SHELL": "/bin/bash"}}
[0.248848, "o", "\u001b[1;31mHello \u001b[32mWorld!\u001b[0m\n"]
[1.001376, "i", "ls\r"]
[2.5, "r", "100x40"]
[3.0, "m", "step 1"]
"#;

    #[test]
    fn reads_every_event_kind() {
        let cast = Cast::parse(SAMPLE).unwrap();
        assert_eq!(cast.header.width, 80);
        assert_eq!(cast.header.env["TERM"], "xterm-256color");
        let data: Vec<&EventData> = cast.events.iter().map(|event| &event.data).collect();
        assert_eq!(
            data,
            vec![
                &EventData::Output("\u{1b}[1;31mHello \u{1b}[32mWorld!\u{1b}[0m\n".into()),
                &EventData::Input("ls\r".into()),
                &EventData::Resize {
                    cols: 100,
                    rows: 40
                },
                &EventData::Marker("step 1".into()),
            ]
        );
    }

    #[test]
    fn writes_what_it_reads() {
        let cast = Cast::parse(SAMPLE).unwrap();
        let text = cast.to_text();
        assert_eq!(Cast::parse(&text).unwrap(), cast);
        assert!(
            text.lines()
                .nth(2)
                .unwrap()
                .starts_with("[1.001376, \"i\", ")
        );
    }

    #[test]
    fn errors_name_the_line_and_the_rule() {
        let bad = "{\"version\": 2, \"width\": 80, \"height\": 24}\n[0.1, \"o\", \"a\"]\n[0.2, \"x\", \"b\"]\n";
        let error = Cast::parse(bad).unwrap_err();
        assert_eq!(error.line, 3);
        assert!(error.message.contains("unknown event code `x`"), "{error}");
        let error = Cast::parse("{\"version\": 1, \"width\": 80, \"height\": 24}").unwrap_err();
        assert!(
            error.to_string().starts_with("line 1: asciicast version 1"),
            "{error}"
        );
        let error =
            Cast::parse("{\"version\": 2, \"width\": 80, \"height\": 24}\n[0.1, \"r\", \"80-24\"]")
                .unwrap_err();
        assert_eq!(error.line, 2);
        assert!(Cast::parse("").is_err());
    }

    #[test]
    fn characters_split_across_reads_are_kept_whole() {
        let mut stream = Utf8Stream::default();
        let bytes = "é€😀".as_bytes();
        let mut text = String::new();
        for byte in bytes {
            text.push_str(&stream.push(&[*byte]));
        }
        assert_eq!(text, "é€😀");
        assert_eq!(stream.push(b"a\xffb"), "a\u{fffd}b");
        assert_eq!(stream.push(b"\xe2\x82"), "");
        assert_eq!(stream.finish(), "\u{fffd}");
    }

    quickcheck! {
        /// Taking the bytes or borrowing them decodes the same, however the stream is cut.
        fn owned_reads_decode_as_borrowed_ones(reads: Vec<Vec<u8>>) -> bool {
            let (mut owned, mut borrowed) = (Utf8Stream::default(), Utf8Stream::default());
            let mut text = (String::new(), String::new());
            for read in reads {
                text.1.push_str(&borrowed.push(&read));
                text.0.push_str(&owned.push_owned(read));
            }
            text.0.push_str(&owned.finish());
            text.1.push_str(&borrowed.finish());
            text.0 == text.1
        }

        /// A line is the event's JSON and a newline, read back as the same event.
        fn a_written_line_reads_back(text: String, time: u32) -> bool {
            let time = f64::from(time) / 1000.0;
            [
                EventData::Output(text.clone()),
                EventData::Input(text.clone()),
                EventData::Marker(text),
                EventData::Resize { cols: 80, rows: 24 },
            ]
            .into_iter()
            .all(|data| {
                let event = Event { time, data };
                let mut line = Vec::new();
                event.write_line(&mut line);
                let line = String::from_utf8(line).unwrap();
                line.strip_suffix('\n') == Some(event.to_line().as_str())
                    && !event.to_line().contains('\n')
                    && Event::parse_line(&event.to_line()).unwrap() == event
            })
        }
    }
}
