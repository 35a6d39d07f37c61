//! Speaking to a browser terminal, for the session and for its watchers alike.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, close_code};
use changeaudit_shared::terminal::{EndReason, ServerMessage};

/// The longest a message to the browser may wait to be taken: a browser that takes nothing
/// for this long is gone, and must not hold up the task that enforces the session's rules.
pub const SEND_LIMIT: Duration = Duration::from_secs(20);
/// The largest message a terminal takes: a paste of a few megabytes (the web app splits larger
/// ones).
pub const MAX_MESSAGE: usize = 4 * 1024 * 1024;
/// The largest message a watcher's socket takes: a watcher has nothing to say.
pub const MAX_WATCH_MESSAGE: usize = 4 * 1024;
/// What a socket reads from the browser at once. The library zeroes this much before every
/// read and holds it for the socket's life: its default of 128 KiB cost a memset per output
/// chunk, and a session's memory, for keystrokes of a few bytes. Larger messages take several.
pub const READ_BUFFER: usize = 8 * 1024;

/// Sends `message`; an error means the browser is gone or stalled. What the device printed
/// goes as a binary frame of its UTF-8 text as it is, never escaped into JSON: under bulk
/// output that escape was a tenth of the server's work. Everything else is JSON text.
pub async fn send(socket: &mut WebSocket, message: ServerMessage) -> Result<(), ()> {
    let frame = match message {
        ServerMessage::Output { data } => Message::Binary(data.into_bytes().into()),
        message => Message::Text(serde_json::to_string(&message).map_err(|_| ())?.into()),
    };
    send_raw(socket, frame).await
}

/// Sends a WebSocket message of any kind (a ping, say), within `SEND_LIMIT`.
pub async fn send_raw(socket: &mut WebSocket, message: Message) -> Result<(), ()> {
    match tokio::time::timeout(SEND_LIMIT, socket.send(message)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) | Err(_) => Err(()),
    }
}

/// Tells the browser why the session is over, then closes the socket.
pub async fn close(socket: &mut WebSocket, reason: EndReason, message: &str) {
    let closed = ServerMessage::Closed {
        reason,
        message: message.to_owned(),
    };
    // The browser may be gone already; then there is no one to tell.
    if send(socket, closed).await.is_ok() {
        let frame = (reason == EndReason::MessageTooLarge).then(|| CloseFrame {
            code: close_code::SIZE,
            reason: "message too large".into(),
        });
        send_raw(socket, Message::Close(frame)).await.ok();
    }
}

/// Whether a receive failed on a message over the socket's size limit.
pub fn too_large(error: &axum::Error) -> bool {
    std::error::Error::source(error)
        .and_then(|inner| inner.downcast_ref::<tungstenite::Error>())
        .is_some_and(|error| matches!(error, tungstenite::Error::Capacity(_)))
}

/// Why a message from the browser was refused, in words.
pub fn too_large_words(limit: usize) -> String {
    format!(
        "The session was closed: the browser sent a message over the {} KiB a message may hold.",
        limit >> 10
    )
}
