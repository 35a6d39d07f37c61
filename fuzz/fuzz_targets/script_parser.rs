//! Any text given as a script: parsing never panics, and what parses is stable (the words of
//! each command parse again to themselves when re-quoted).
#![no_main]

use changeaudit_shared::script::Script;
use changeaudit_shared::words::Words;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(script) = Script::parse(text) {
        for command in &script.commands {
            let again = Words::parse(&command.text).expect("a parsed command parses again");
            assert_eq!(again, command.words);
        }
    }
});
