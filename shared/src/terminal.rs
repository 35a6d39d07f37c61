//! What the browser terminal and the server say to each other over the session's WebSocket: one
//! JSON object per text message, tagged by `type`.

use serde::{Deserialize, Serialize};

use crate::command::{ExecutedCommand, Finding};
use crate::report::BoardLine;

/// Terminal sizes outside this range are refused: no real screen is bigger.
pub const MAX_COLS: u16 = 1000;
pub const MAX_ROWS: u16 = 500;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Keystrokes or a paste, as the terminal produced them.
    Input { data: String },
    /// The terminal now shows this many columns and rows.
    Resize { cols: u16, rows: u16 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// The device accepted the credential; the session is being recorded.
    Started {
        session_id: i64,
        device: String,
        account: String,
        /// The change whose script the session is scored against; none for an unplanned session.
        change_id: Option<String>,
        /// When the session will be closed (the change's due date or the longest a session may
        /// last), RFC 3339.
        closes_at: String,
    },
    /// What the device printed. On the socket it is a binary frame of the text's UTF-8 bytes
    /// (`from_binary`), never JSON: output is most of what a terminal sends, and escaping each
    /// byte of it cost the server more than anything else it does per byte.
    Output { data: String },
    /// The terminal being watched changed size (sent to watchers, who follow it).
    Resize { cols: u16, rows: u16 },
    /// A command line the shell ran, or news of one already sent at `index` (its exit status,
    /// announced when it ends).
    Command {
        index: usize,
        command: ExecutedCommand,
    },
    /// The script's checklist and the score so far, sent after each command.
    Checklist(Checklist),
    /// Something the person must know now, e.g. that the due date is near.
    Warning { message: String },
    /// A command line was held at Enter: it did not reach the device, and stays on the prompt
    /// to fix or clear.
    Held {
        line: String,
        /// Why, in words.
        reason: String,
        /// The script's lines that may run next.
        allowed_next: Vec<String>,
    },
    /// The session is over; the connection closes after this.
    Closed { reason: EndReason, message: String },
}

impl ServerMessage {
    /// The message a binary frame carries: what the device printed, whole UTF-8 characters.
    pub fn from_binary(bytes: &[u8]) -> Result<ServerMessage, std::str::Utf8Error> {
        Ok(ServerMessage::Output {
            data: std::str::from_utf8(bytes)?.to_owned(),
        })
    }
}

/// The board so far: each line of the script ticked, amber or still to do, and every command
/// that was not planned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checklist {
    pub lines: Vec<BoardLine>,
    pub score: u8,
    pub verdict: String,
    /// Marks the session's output held that its input does not bear out.
    #[serde(default)]
    pub findings: Vec<Finding>,
}

/// Why a session ended, or never started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The person closed the terminal.
    ClosedByUser,
    /// The shell on the device ended (e.g. `exit`).
    DeviceClosed,
    /// The change's due date came.
    DueDate,
    /// The longest a session may last has passed.
    MaxLength,
    /// An auditor or admin ended it.
    Terminated,
    /// The gate no longer allows it: the change was cancelled, the request withdrawn, the
    /// person taken out of the group or the credential removed.
    Revoked,
    /// The connection to the device was lost, or the server stopped.
    Interrupted,
    /// The recording could not be written: nothing runs unrecorded.
    RecordingFailed,
    /// The recording reached the most a session may record.
    RecordingLimit,
    /// The browser sent a message over the most a message may hold.
    MessageTooLarge,
    /// A command rule closes a session at its n-th blocked try.
    Policy,
    /// Not started: the gate refused (no approval, not a member, outside the window).
    Refused,
    /// Not started: the device's host key is not the pinned one.
    HostKeyMismatch,
    /// Not started: the device refused the credential.
    AuthenticationFailed,
    /// Not started: the device could not be reached.
    Unreachable,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::ClosedByUser => "closed_by_user",
            EndReason::DeviceClosed => "device_closed",
            EndReason::DueDate => "due_date",
            EndReason::MaxLength => "max_length",
            EndReason::Terminated => "terminated",
            EndReason::Revoked => "revoked",
            EndReason::Interrupted => "interrupted",
            EndReason::RecordingFailed => "recording_failed",
            EndReason::RecordingLimit => "recording_limit",
            EndReason::MessageTooLarge => "message_too_large",
            EndReason::Policy => "policy",
            EndReason::Refused => "refused",
            EndReason::HostKeyMismatch => "host_key_mismatch",
            EndReason::AuthenticationFailed => "authentication_failed",
            EndReason::Unreachable => "unreachable",
        }
    }

    pub fn parse(text: &str) -> Option<EndReason> {
        [
            EndReason::ClosedByUser,
            EndReason::DeviceClosed,
            EndReason::DueDate,
            EndReason::MaxLength,
            EndReason::Terminated,
            EndReason::Revoked,
            EndReason::Interrupted,
            EndReason::RecordingFailed,
            EndReason::RecordingLimit,
            EndReason::MessageTooLarge,
            EndReason::Policy,
            EndReason::Refused,
            EndReason::HostKeyMismatch,
            EndReason::AuthenticationFailed,
            EndReason::Unreachable,
        ]
        .into_iter()
        .find(|reason| reason.as_str() == text)
    }
}

/// The most bytes of typed or pasted text one `input` message carries: a paste is sent in
/// pieces this size, so even escaped as JSON (at most six bytes a byte) each stays well under
/// the 4 MiB a terminal message may hold.
pub const INPUT_PIECE: usize = 256 * 1024;

/// `data` in pieces of at most `INPUT_PIECE` bytes, cut between characters, in order.
pub fn input_pieces(data: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = data;
    while rest.len() > INPUT_PIECE {
        let mut cut = INPUT_PIECE;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (piece, after) = rest.split_at(cut);
        pieces.push(piece);
        rest = after;
    }
    if !rest.is_empty() || pieces.is_empty() {
        pieces.push(rest);
    }
    pieces
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_large_paste_goes_in_pieces_cut_between_characters() {
        assert_eq!(input_pieces("ls\r"), ["ls\r"]);
        let paste = "é".repeat(INPUT_PIECE);
        let pieces = input_pieces(&paste);
        assert_eq!(pieces.concat(), paste);
        assert!(pieces.iter().all(|piece| piece.len() <= INPUT_PIECE));
        assert_eq!(pieces.len(), 2);
    }

    use super::*;
    use crate::command::Recognition;

    #[test]
    fn messages_are_tagged_objects() {
        let input: ClientMessage =
            serde_json::from_str(r#"{"type":"input","data":"ls\r"}"#).unwrap();
        assert_eq!(
            input,
            ClientMessage::Input {
                data: "ls\r".into()
            }
        );
        let command = ServerMessage::Command {
            index: 0,
            command: ExecutedCommand {
                text: "ls".into(),
                offset: 1.5,
                exit_code: Some(0),
                source: Recognition::Screen,
            },
        };
        let text = serde_json::to_string(&command).unwrap();
        assert_eq!(
            text,
            r#"{"type":"command","index":0,"command":{"command":"ls","offset":1.5,"exit_code":0,"source":"screen"}}"#
        );
        let closed = ServerMessage::Closed {
            reason: EndReason::HostKeyMismatch,
            message: "m".into(),
        };
        assert_eq!(
            serde_json::to_string(&closed).unwrap(),
            r#"{"type":"closed","reason":"host_key_mismatch","message":"m"}"#
        );
    }

    #[test]
    fn end_reasons_read_back() {
        for text in ["closed_by_user", "interrupted", "unreachable", "due_date"] {
            assert_eq!(EndReason::parse(text).map(EndReason::as_str), Some(text));
        }
        assert_eq!(EndReason::parse("bored"), None);
    }
}
