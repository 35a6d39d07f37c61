//! Whether, and as whom, the person is signed in: set by the app, read by every page.

use changeaudit_shared::api::Me;
use leptos::prelude::*;

/// Whether, and as whom, the person is signed in.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionState {
    Checking,
    SignedOut(SignedOut),
    SignedIn(Me),
    Unreachable(String),
}

/// The session, shared with every page through context.
#[derive(Debug, Clone, Copy)]
pub struct Session(pub RwSignal<SessionState>);

/// The signed-in person, for pages that adapt to roles.
pub fn current_user() -> Option<Me> {
    match use_context::<Session>()?.0.get_untracked() {
        SessionState::SignedIn(me) => Some(me),
        _ => None,
    }
}

/// How the session ended, which decides where signing in again leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedOut {
    /// It ended under the person (expired, ended elsewhere): back to the page they were on.
    Expired,
    /// They signed out: the next person starts at the home page.
    ByThem,
}
