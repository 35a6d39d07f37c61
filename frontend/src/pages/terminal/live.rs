//! What the server has said of a session so far, shared by the page, its connection and its
//! checklist.

use changeaudit_shared::command::ExecutedCommand;
use changeaudit_shared::terminal::{Checklist, EndReason};
use leptos::prelude::*;

/// What the server has said of the session so far.
#[derive(Clone, Copy)]
pub struct Live {
    pub heading: RwSignal<Option<Heading>>,
    pub commands: RwSignal<Vec<ExecutedCommand>>,
    pub checklist: RwSignal<Option<Checklist>>,
    pub warnings: RwSignal<Vec<String>>,
    /// The last line held at Enter, until the next command runs.
    pub held: RwSignal<Option<HeldLine>>,
    pub closed: RwSignal<Option<(EndReason, String)>>,
}

/// A command line that did not reach the device, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldLine {
    pub line: String,
    pub reason: String,
    pub allowed_next: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Heading {
    pub session_id: i64,
    pub device: String,
    pub account: String,
    pub change_id: Option<String>,
    pub closes_at: String,
}

impl Live {
    pub fn new() -> Self {
        Live {
            heading: RwSignal::new(None),
            commands: RwSignal::new(Vec::new()),
            checklist: RwSignal::new(None),
            warnings: RwSignal::new(Vec::new()),
            held: RwSignal::new(None),
            closed: RwSignal::new(None),
        }
    }
}
