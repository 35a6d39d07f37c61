//! A browser terminal's side of the WebSocket, for the tests: open, type, and read what the
//! server says, with every wait bounded.

use std::time::Duration;

use changeaudit_shared::command::ExecutedCommand;
use changeaudit_shared::terminal::{Checklist, ClientMessage, EndReason, ServerMessage};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::helpers::Person;

const PATIENCE: Duration = Duration::from_secs(20);
/// How much output a terminal keeps when told to keep only its tail.
const OUTPUT_TAIL: usize = 64 * 1024;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub struct Terminal {
    socket: Socket,
    /// Everything the device printed so far, in order (its last `OUTPUT_TAIL` characters
    /// once `keep_tail_only` is called).
    pub output: String,
    tail_only: bool,
    pub commands: Vec<ExecutedCommand>,
    pub checklist: Option<Checklist>,
    pub warnings: Vec<String>,
    /// Lines held at Enter: the line, why, and what may run next.
    pub held: Vec<(String, String, Vec<String>)>,
    pub session_id: Option<i64>,
    pub closed: Option<(EndReason, String)>,
}

/// Why the WebSocket handshake was refused: the HTTP status.
pub type Refused = u16;

impl Terminal {
    /// Opens `path` (a terminal or a watch route) as `person`, from the server's own origin.
    pub async fn connect(person: &Person, path: &str) -> Result<Terminal, Refused> {
        let origin = person.address().to_owned();
        Terminal::connect_from(person, path, Some(&origin)).await
    }

    pub async fn connect_from(
        person: &Person,
        path: &str,
        origin: Option<&str>,
    ) -> Result<Terminal, Refused> {
        Terminal::connect_with(person, path, origin, &[]).await
    }

    /// Like `connect_from`, with more headers, e.g. what a proxy adds.
    pub async fn connect_with(
        person: &Person,
        path: &str,
        origin: Option<&str>,
        extra: &[(&'static str, &str)],
    ) -> Result<Terminal, Refused> {
        let url = format!("{}{path}", person.address().replacen("http://", "ws://", 1));
        let mut request = url.into_client_request().expect("a WebSocket request");
        let headers = request.headers_mut();
        let cookie = person.cookie_header();
        if !cookie.is_empty() {
            headers.insert("cookie", HeaderValue::from_str(&cookie).unwrap());
        }
        if let Some(origin) = origin {
            headers.insert("origin", HeaderValue::from_str(origin).unwrap());
        }
        headers.insert("user-agent", HeaderValue::from_static("terminal-test/1.0"));
        for (name, value) in extra {
            headers.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((socket, _)) => Ok(Terminal {
                socket,
                output: String::new(),
                tail_only: false,
                commands: Vec::new(),
                checklist: None,
                warnings: Vec::new(),
                held: Vec::new(),
                session_id: None,
                closed: None,
            }),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                Err(response.status().as_u16())
            }
            Err(error) => panic!("WebSocket to {path}: {error}"),
        }
    }

    /// Opens a terminal on `credential` as `person`.
    pub async fn open(person: &Person, credential: i64) -> Terminal {
        Terminal::connect(
            person,
            &format!("/api/credentials/{credential}/terminal?cols=80&rows=24"),
        )
        .await
        .unwrap_or_else(|status| panic!("the terminal was refused with HTTP {status}"))
    }

    /// Keeps only the end of the output, for sessions that print more than a test should hold.
    pub fn keep_tail_only(&mut self) {
        self.tail_only = true;
    }

    /// Sends `text` as one WebSocket text message, whatever it holds.
    pub async fn send_text(&mut self, text: String) {
        send_text(&mut self.socket, text).await;
    }

    /// Reads until the socket closes; answers the close frame's code, if one came.
    pub async fn close_code(&mut self) -> Option<u16> {
        let read = async {
            while let Some(item) = self.socket.next().await {
                match item {
                    Ok(Message::Close(frame)) => return frame.map(|frame| u16::from(frame.code)),
                    Err(_) => return None,
                    Ok(Message::Text(text)) => {
                        if let Ok(ServerMessage::Closed { reason, message }) =
                            serde_json::from_str::<ServerMessage>(&text)
                        {
                            self.closed = Some((reason, message));
                        }
                    }
                    Ok(_) => {}
                }
            }
            None
        };
        tokio::time::timeout(PATIENCE, read)
            .await
            .expect("the socket to close")
    }

    pub async fn send(&mut self, message: &ClientMessage) {
        send_text(&mut self.socket, serde_json::to_string(message).unwrap()).await;
    }

    /// Types `text` a character at a time, as a person would.
    pub async fn type_text(&mut self, text: &str) {
        for c in text.chars() {
            self.send(&ClientMessage::Input {
                data: c.to_string(),
            })
            .await;
        }
    }

    /// Types a command line and presses Enter, then waits for its command to be recognised.
    pub async fn run(&mut self, line: &str) {
        let before = self.commands.len();
        self.type_text(line).await;
        self.type_text("\r").await;
        self.until(
            |terminal| terminal.commands.len() > before,
            &format!("`{line}` recognised"),
        )
        .await;
    }

    /// Reads messages until `done` holds; panics after a while or if the session closes first.
    pub async fn until(&mut self, done: impl Fn(&Terminal) -> bool, what: &str) {
        while !done(self) {
            if let Some((reason, message)) = &self.closed {
                panic!(
                    "waiting for {what}, the session closed: {reason:?}: {message}\n{}",
                    self.output
                );
            }
            if !self.read_one(what).await {
                panic!("waiting for {what}, the socket closed\n{}", self.output);
            }
        }
    }

    /// Reads until the device's prompt shows (true) or the session is closed (false).
    pub async fn prompt_or_closed(&mut self) -> bool {
        loop {
            if self.output.ends_with("$ ") {
                return true;
            }
            if self.closed.is_some() || !self.read_one("the prompt or a refusal").await {
                return false;
            }
        }
    }

    /// Reads until the session is closed; answers why.
    pub async fn closed(&mut self) -> (EndReason, String) {
        while self.closed.is_none() {
            if !self.read_one("the session to close").await {
                panic!(
                    "the socket closed without a `closed` message\n{}",
                    self.output
                );
            }
        }
        self.closed.clone().unwrap()
    }

    /// Reads one message; false when the socket has closed.
    async fn read_one(&mut self, what: &str) -> bool {
        let message = match tokio::time::timeout(PATIENCE, next_message(&mut self.socket)).await {
            Err(_) => panic!(
                "no message within {PATIENCE:?} waiting for {what}\n{}",
                self.output
            ),
            Ok(None) => return false,
            Ok(Some(message)) => message,
        };
        match message {
            ServerMessage::Started { session_id, .. } => self.session_id = Some(session_id),
            ServerMessage::Output { data } => {
                self.output.push_str(&data);
                if self.tail_only && self.output.len() > 2 * OUTPUT_TAIL {
                    let cut = self.output.len() - OUTPUT_TAIL;
                    let cut = (cut..self.output.len())
                        .find(|&at| self.output.is_char_boundary(at))
                        .unwrap_or(cut);
                    self.output.drain(..cut);
                }
            }
            ServerMessage::Resize { .. } => {}
            ServerMessage::Command { index, command } => {
                self.commands.truncate(index);
                self.commands.push(command);
            }
            ServerMessage::Checklist(checklist) => self.checklist = Some(checklist),
            ServerMessage::Warning { message } => self.warnings.push(message),
            ServerMessage::Held {
                line,
                reason,
                allowed_next,
            } => self.held.push((line, reason, allowed_next)),
            ServerMessage::Closed { reason, message } => self.closed = Some((reason, message)),
        }
        true
    }

    /// Closes the terminal as a browser tab would.
    pub async fn close_socket(mut self) {
        self.socket.close(None).await.ok();
    }
}

/// The next message from the server: output in a binary frame, the rest as JSON text.
async fn next_message(socket: &mut Socket) -> Option<ServerMessage> {
    while let Some(item) = socket.next().await {
        match item {
            Err(_) | Ok(Message::Close(_)) => return None,
            Ok(Message::Text(text)) => {
                return Some(serde_json::from_str(text.as_str()).expect("a server message"));
            }
            Ok(Message::Binary(bytes)) => {
                return Some(ServerMessage::from_binary(&bytes).expect("output in UTF-8"));
            }
            Ok(_) => {}
        }
    }
    None
}

async fn send_text(socket: &mut Socket, text: String) {
    socket
        .send(Message::Text(text.into()))
        .await
        .expect("sending on the WebSocket");
}
