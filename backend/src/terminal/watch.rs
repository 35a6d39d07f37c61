//! Watching a running session, read-only: its recording is followed as it is written, so any
//! replica can serve a watcher whichever replica runs the session. The watcher sees what the
//! person sees, from the first byte, until the session ends.

use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use changeaudit_shared::api::sessions::{SessionState, TerminalSession};
use changeaudit_shared::asciicast::{Event, EventData, Header};
use changeaudit_shared::terminal::{EndReason, ServerMessage};

use super::socket::{close, send};
use super::store::{self, Stored};
use crate::state::AppState;

/// How often the recording is looked at for more.
const POLL: Duration = Duration::from_millis(200);
const CHUNK: usize = 256 * 1024;

pub async fn run(state: AppState, mut socket: WebSocket, session: Stored) {
    let id = session.record.id;
    let started = ServerMessage::Started {
        session_id: id,
        device: session.record.device.name.clone(),
        account: session.record.account.clone(),
        change_id: session.record.change_id.clone(),
        closes_at: String::new(),
    };
    if send(&mut socket, &started).await.is_err() {
        return;
    }
    let mut offset: u64 = 0;
    let mut lines = Lines::default();
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + POLL, POLL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let chunk = match state
            .recordings
            .read(&session.recording, offset, CHUNK)
            .await
        {
            Ok(chunk) => chunk,
            Err(error) => {
                // With recordings on a local folder, only the server holding it can read it.
                tracing::warn!(%error, session = id, "reading a recording to watch it");
                let message = "This server cannot read the session's recording, so it cannot be \
                    watched from here.";
                close(&mut socket, EndReason::Interrupted, message).await;
                return;
            }
        };
        offset += chunk.len() as u64;
        for message in lines.take(&chunk) {
            if send(&mut socket, &message).await.is_err() {
                return;
            }
        }
        if chunk.len() == CHUNK {
            continue;
        }
        if let Some(record) = ended(&state, id).await {
            // One more read would find nothing: the recording was sealed before the row ended.
            if chunk.is_empty() {
                let reason = record.end_reason.unwrap_or(EndReason::Interrupted);
                close(&mut socket, reason, "The session has ended.").await;
                return;
            }
            continue;
        }
        tokio::select! {
            message = socket.recv() => match message {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                // Watching is read-only: anything the watcher sends is ignored.
                Some(Ok(_)) => {}
            },
            _ = ticks.tick() => {}
        }
    }
}

/// The recording's lines as they arrive: only whole lines are events; the rest waits for its
/// end. The first line is the header, whose size the watcher's terminal takes.
#[derive(Default)]
struct Lines {
    partial: Vec<u8>,
    header_seen: bool,
}

impl Lines {
    fn take(&mut self, chunk: &[u8]) -> Vec<ServerMessage> {
        self.partial.extend_from_slice(chunk);
        let Some(end) = self.partial.iter().rposition(|byte| *byte == b'\n') else {
            return Vec::new();
        };
        let whole: Vec<u8> = self.partial.drain(..=end).collect();
        String::from_utf8_lossy(&whole)
            .lines()
            .filter_map(|line| {
                if self.header_seen {
                    return Event::parse_line(line).ok().and_then(shown);
                }
                self.header_seen = true;
                serde_json::from_str::<Header>(line)
                    .ok()
                    .map(|header| ServerMessage::Resize {
                        cols: header.width,
                        rows: header.height,
                    })
            })
            .collect()
    }
}

/// The session's record once it has ended. A database that does not answer for a moment does
/// not end the watching.
async fn ended(state: &AppState, id: i64) -> Option<TerminalSession> {
    let record = match state.db.pool().acquire().await {
        Ok(mut connection) => store::view(&mut connection, id, state.clock.now())
            .await
            .map(|stored| stored.record),
        Err(error) => Err(error.into()),
    };
    match record {
        Ok(record) => Some(record).filter(|record| record.state == SessionState::Ended),
        Err(error) => {
            tracing::warn!(%error, session = id, "reading a watched session's state");
            None
        }
    }
}

/// What a watcher is shown of an event: the output and the size, never the keystrokes (the
/// screen shows what they did).
fn shown(event: Event) -> Option<ServerMessage> {
    match event.data {
        EventData::Output(data) => Some(ServerMessage::Output { data }),
        EventData::Resize { cols, rows } => Some(ServerMessage::Resize { cols, rows }),
        EventData::Input(_) | EventData::Marker(_) => None,
    }
}
