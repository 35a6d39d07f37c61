//! Terminal sessions: the running ones, one session's record, audit and recording.

use changeaudit_shared::api::routes::sessions;
use changeaudit_shared::api::sessions::{SessionAudit, TerminalSession};

use super::{ApiError, fetch, text};

pub async fn running() -> Result<Vec<TerminalSession>, ApiError> {
    fetch(sessions::running()).await
}

pub async fn get(id: i64) -> Result<TerminalSession, ApiError> {
    fetch(sessions::get(id)).await
}

/// The session's audit as `view` shows it (details, board or logs).
pub async fn audit(id: i64, view: &str) -> Result<SessionAudit, ApiError> {
    fetch(sessions::audit(id).with_query(&[("view", view)])).await
}

/// The recording, as asciicast text.
pub async fn recording(id: i64) -> Result<String, ApiError> {
    text(sessions::recording(id)).await
}

/// Where the recording downloads from.
pub fn recording_download(id: i64) -> String {
    sessions::recording(id)
        .with_query(&[("download", "true")])
        .path
}

pub async fn terminate(id: i64) -> Result<(), ApiError> {
    fetch(sessions::terminate(id)).await
}
