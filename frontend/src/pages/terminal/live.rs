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
    pub closed: RwSignal<Option<(EndReason, String)>>,
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
            closed: RwSignal::new(None),
        }
    }
}
