//! Any bytes as a session: the first byte of each chunk says whether it is output, input or a
//! resize, the rest is its data. Recognition never panics.
#![no_main]

use changeaudit_shared::asciicast::{Event, EventData};
use changeaudit_shared::recognizer::CommandRecognizer;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut recognizer = CommandRecognizer::new(40, 8);
    for (index, chunk) in data.split(|&b| b == 0xff).enumerate() {
        let Some((&kind, rest)) = chunk.split_first() else {
            continue;
        };
        let text = String::from_utf8_lossy(rest).into_owned();
        let data = match kind % 5 {
            0..=2 => EventData::Output(text),
            3 => EventData::Input(text),
            _ => EventData::Resize {
                cols: u16::from(rest.first().copied().unwrap_or(0)),
                rows: u16::from(rest.get(1).copied().unwrap_or(0) % 64),
            },
        };
        recognizer.feed(&Event {
            time: index as f64,
            data,
        });
    }
    let _ = recognizer.commands();
});
