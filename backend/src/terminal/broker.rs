//! A running session: bytes between the browser and the device, each recorded before it is
//! passed on, the command recognizer fed as they flow, and the checklist pushed after each
//! command.
//!
//! One task per session handles one message at a time. While the browser is slow to take
//! output, the device's channel is not read: russh's bounded channel fills, its connection stops
//! reading the socket, and TCP stops the device. Keystrokes go to the device through a small
//! bounded queue and a writer task of their own, so a large paste waiting for the device never
//! stops the output that would let the device go on; while that queue is full, the browser is
//! not read. No buffer on the path grows without bound, and nothing is dropped from the
//! recording. A browser that takes nothing for `SEND_LIMIT` ends the session: the window and
//! terminations are enforced by this same task.

use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use changeaudit_shared::asciicast::{Event, EventData, Utf8Stream};
use changeaudit_shared::command::{ExecutedCommand, Finding, HeldCommand};
use changeaudit_shared::enforcement::{Enforcement, ScriptGate};
use changeaudit_shared::recognizer::CommandRecognizer;
use changeaudit_shared::report::AuditReport;
use changeaudit_shared::terminal::{
    Checklist, ClientMessage, EndReason, MAX_COLS, MAX_ROWS, ServerMessage,
};
use changeaudit_shared::transcript::Transcript;
use futures_util::FutureExt;
use russh::client::Msg;
use russh::{Channel, ChannelMsg, ChannelReadHalf, ChannelWriteHalf};
use serde_json::json;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::enforcing::{self, Alerted, Device, Enforcer, HeldLine, Pushed, Step};
use super::opening::{self, Opened, Request};
use super::socket::{self, close, send, send_raw};
use super::store::{self, Blocked, Ending, Recognised, Telling};
use super::watchdog::{End, Subject, Watched};
use crate::clock::Timestamp;
use crate::recordings::BoxFuture;
use crate::recordings::recorder::{SYNC_EVERY, Sealed, Synced};
use crate::state::AppState;

/// An idle terminal is pinged this many ticks apart.
const PING_EVERY_TICKS: u64 = 20;
/// The most output taken as one piece when the device has sent more than one read's worth.
const COALESCE_MAX: usize = 64 * 1024;
/// A read of the device's output this large is taken for output in bulk: echoes and prompts
/// are a few bytes to a few hundred.
const BULK_READ: usize = 1024;
/// How long output in bulk is gathered into one piece: a millisecond is 25 KB at the speed of
/// SSH on loopback, and a tenth of the per-piece work.
const GATHER_FOR: Duration = Duration::from_millis(1);
/// Keystroke messages waiting for the device.
const INPUT_QUEUE: usize = 16;
/// Approvers are told of a session's held lines at most this often: the trail has each one.
const TELL_APPROVERS_EVERY: Duration = Duration::from_secs(60);
/// An Enter that has waited this long for its line to be readable is explained to the person.
const TELL_WAITING_AFTER: Duration = Duration::from_secs(1);

/// What goes to the device, in order.
enum ToDevice {
    Data(Vec<u8>),
    Resize { cols: u16, rows: u16 },
}

/// Writes to the device until the queue closes or the device stops taking input.
fn spawn_writer(
    write: ChannelWriteHalf<Msg>,
    mut queue: mpsc::Receiver<ToDevice>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(item) = queue.recv().await {
            let sent = match item {
                ToDevice::Data(bytes) => write.data_bytes(bytes).await,
                ToDevice::Resize { cols, rows } => {
                    write.window_change(cols.into(), rows.into(), 0, 0).await
                }
            };
            if sent.is_err() {
                // The queue is dropped with this task: the session sees the device gone.
                return;
            }
        }
    })
}

/// Runs the session asked for on `socket`, from opening to the end.
pub async fn run(state: AppState, mut socket: WebSocket, request: Request) {
    let (opened, channel) = match opening::open(&state, &request).await {
        Ok(opened) => opened,
        Err(failure) => {
            close(&mut socket, failure.reason, &failure.message).await;
            return;
        }
    };
    let started = ServerMessage::Started {
        session_id: opened.id,
        device: opened.device.name.clone(),
        account: opened.account.clone(),
        change_id: opened.change_id.clone(),
        closes_at: rfc3339(opened.closes_at),
    };
    let mut session = Session::new(state, request, opened, channel);
    // The script's lines, all still to do.
    let checklist = ServerMessage::Checklist(session.checklist(&[], &[]));
    let greeted = match send(&mut socket, started).await {
        Ok(()) => send(&mut socket, checklist).await,
        Err(()) => Err(()),
    };
    let end = match greeted {
        Ok(()) => session.relay(&mut socket).await,
        Err(()) => Stop::new(EndReason::ClosedByUser, ""),
    };
    session.finish(&mut socket, end).await;
}

/// Why the loop stopped, and what to tell the person.
struct Stop {
    reason: EndReason,
    message: String,
    by: Option<String>,
}

impl Stop {
    fn new(reason: EndReason, message: impl Into<String>) -> Self {
        Stop {
            reason,
            message: message.into(),
            by: None,
        }
    }

    /// What let the person in no longer holds, for the reason in `detail`.
    fn revoked(detail: &str) -> Self {
        Stop::new(
            EndReason::Revoked,
            format!("The session was closed: it is no longer allowed. {detail}"),
        )
    }

    fn recording_failed(error: std::io::Error) -> Self {
        tracing::error!(%error, "a session's recording failed");
        Stop::new(
            EndReason::RecordingFailed,
            "The session was closed: its recording could not be written. Tell an admin.",
        )
    }
}

struct Session {
    state: AppState,
    request: Request,
    opened: Opened,
    device: ChannelReadHalf,
    to_device: mpsc::Sender<ToDevice>,
    writer: JoinHandle<()>,
    recognizer: CommandRecognizer,
    /// What the device printed, as text, for search and the session's logs.
    transcript: Transcript,
    output: Utf8Stream,
    /// The commands and findings as last stored and sent.
    stored: Vec<ExecutedCommand>,
    stored_findings: Vec<Finding>,
    /// The lines held at Enter so far, for the board.
    held: Vec<HeldCommand>,
    revision: u64,
    warned: bool,
    /// The device said the shell ended (as opposed to the connection dropping).
    shell_ended: bool,
    /// Its place in the watchdog, which says when it must end.
    watched: Watched,
    /// The recording's sync under way, if one is.
    syncing: Option<BoxFuture<'static, Synced>>,
    /// The person was told the recordings' volume is nearly full.
    warned_of_space: bool,
    /// The command rules and a script-only session's gate on the keys, and what they need to
    /// know of the device; none when the session is held to neither.
    enforcing: Option<Enforcing>,
}

/// An enforced session's keys on their way (see `enforcing`).
struct Enforcing {
    enforcer: Enforcer,
    /// Keys were passed on since the device last printed.
    unechoed: bool,
    last_output: tokio::time::Instant,
    /// When to look at the keys again: the device's output settled, or it is time to tell.
    recheck: Option<tokio::time::Instant>,
    /// Since when an Enter waits, and whether the person was told.
    waiting_since: Option<tokio::time::Instant>,
    told: bool,
    /// When the approvers were last told of a held line.
    approvers_told: Option<tokio::time::Instant>,
    /// The person was told that some keys are refused.
    told_of_keys: bool,
}

impl Enforcing {
    fn new(opened: &Opened) -> Option<Enforcing> {
        let in_order = match opened.enforcement {
            Enforcement::Off => None,
            Enforcement::ScriptOnly => Some(false),
            Enforcement::ScriptOnlyInOrder => Some(true),
        };
        let gate = in_order.map(|in_order| {
            ScriptGate::new(opened.script.clone(), opened.benign.clone(), in_order)
        });
        Some(Enforcing {
            enforcer: Enforcer::new(gate, opened.rules.clone())?,
            unechoed: false,
            last_output: tokio::time::Instant::now(),
            recheck: None,
            waiting_since: None,
            told: false,
            approvers_told: None,
            told_of_keys: false,
        })
    }

    fn device(&self) -> Device {
        Device {
            unechoed: self.unechoed,
            quiet: self.last_output.elapsed() >= enforcing::QUIET,
        }
    }

    /// The device printed: an Enter waiting is looked at again once it has been quiet.
    fn output(&mut self) {
        self.unechoed = false;
        self.last_output = tokio::time::Instant::now();
        if self.waiting_since.is_some() {
            self.recheck = Some(self.last_output + enforcing::QUIET);
        }
    }

    /// An Enter waits: looked at again when the device has been quiet, or told when it is time.
    fn wait(&mut self) {
        let now = tokio::time::Instant::now();
        let since = *self.waiting_since.get_or_insert(now);
        self.recheck = if !self.device().quiet {
            Some(self.last_output + enforcing::QUIET)
        } else if !self.told {
            Some(since + TELL_WAITING_AFTER)
        } else {
            // Nothing changes until the device prints or the person types.
            None
        };
    }

    fn settled(&mut self) {
        self.recheck = None;
        self.waiting_since = None;
        self.told = false;
    }
}

impl Session {
    fn new(state: AppState, request: Request, opened: Opened, channel: Channel<Msg>) -> Self {
        let (device, write) = channel.split();
        let watched = state.watchdog.watch(
            opened.id,
            Subject {
                sign_in: request.sign_in.clone(),
                user_id: request.user.id,
                credential_id: request.credential_id,
                change_id: opened.change_id.clone(),
            },
            opened.recording.clone(),
        );
        let (to_device, queue) = mpsc::channel(INPUT_QUEUE);
        Session {
            device,
            to_device,
            writer: spawn_writer(write, queue),
            recognizer: CommandRecognizer::with_nonce(
                request.cols,
                request.rows,
                Some(opened.nonce.clone()),
            ),
            transcript: Transcript::new(),
            output: Utf8Stream::default(),
            stored: Vec::new(),
            stored_findings: Vec::new(),
            held: Vec::new(),
            revision: 0,
            warned: false,
            shell_ended: false,
            watched,
            syncing: None,
            warned_of_space: false,
            enforcing: Enforcing::new(&opened),
            state,
            request,
            opened,
        }
    }

    async fn relay(&mut self, socket: &mut WebSocket) -> Stop {
        let mut ticks = tokio::time::interval(SYNC_EVERY);
        let mut tick_count: u64 = 0;
        loop {
            let step = tokio::select! {
                message = socket.recv(), if self.reads_browser() => {
                    self.on_browser(message, socket).await
                }
                _ = recheck(&self.enforcing) => self.release(socket).await,
                message = self.device.wait() => self.on_device(message, socket).await,
                _ = ticks.tick() => {
                    tick_count += 1;
                    self.tick(socket, tick_count).await
                }
                synced = pending(&mut self.syncing) => {
                    self.syncing = None;
                    self.opened.recorder.synced(synced).map_err(Stop::recording_failed)
                }
                Ok(()) = self.watched.standing.changed() => self.on_standing(socket).await,
            };
            if let Err(stop) = step {
                return stop;
            }
        }
    }

    /// Whether there is room for the browser's next message: in the device's queue, and behind
    /// an Enter that waits.
    fn reads_browser(&self) -> bool {
        self.to_device.capacity() > 0
            && self
                .enforcing
                .as_ref()
                .is_none_or(|enforcing| enforcing.enforcer.has_room())
    }

    async fn on_browser(
        &mut self,
        message: Option<Result<Message, axum::Error>>,
        socket: &mut WebSocket,
    ) -> Result<(), Stop> {
        let text = match message {
            Some(Err(error)) if socket::too_large(&error) => {
                let words = socket::too_large_words(socket::MAX_MESSAGE);
                return Err(Stop::new(EndReason::MessageTooLarge, words));
            }
            None | Some(Err(_)) | Some(Ok(Message::Close(_))) => {
                return Err(Stop::new(EndReason::ClosedByUser, ""));
            }
            Some(Ok(Message::Text(text))) => text,
            // Pings are answered by the library; nothing else is spoken.
            Some(Ok(_)) => return Ok(()),
        };
        let message = match serde_json::from_str::<ClientMessage>(text.as_str()) {
            Ok(message) => message,
            Err(error) => {
                tracing::info!(%error, "an unreadable terminal message was ignored");
                return Ok(());
            }
        };
        match message {
            ClientMessage::Input { data } => {
                if data.is_empty() {
                    return Ok(());
                }
                self.watched.typed();
                let Some(enforcing) = &mut self.enforcing else {
                    return self.pass_keys(data).await;
                };
                let pushed = enforcing.enforcer.push(&data);
                self.refused(pushed, socket).await?;
                self.release(socket).await
            }
            ClientMessage::Resize { cols, rows } => {
                if !(1..=MAX_COLS).contains(&cols) || !(1..=MAX_ROWS).contains(&rows) {
                    return Ok(());
                }
                self.take(EventData::Resize { cols, rows }).await?;
                self.forward(ToDevice::Resize { cols, rows })
            }
        }
    }

    /// Records the keys a script-only session did not pass on; tells the person once of keys it
    /// never passes.
    async fn refused(&mut self, pushed: Pushed, socket: &mut WebSocket) -> Result<(), Stop> {
        if let Some(given_up) = pushed.given_up {
            let marker = json!({ "given_up": given_up }).to_string();
            self.take(EventData::Marker(marker)).await?;
        }
        if pushed.refused.is_empty() {
            return Ok(());
        }
        let marker = json!({ "refused": pushed.refused }).to_string();
        self.take(EventData::Marker(marker)).await?;
        let Some(enforcing) = &mut self.enforcing else {
            return Ok(());
        };
        if std::mem::replace(&mut enforcing.told_of_keys, true) {
            return Ok(());
        }
        let message = "Some keys do nothing in a script-only session: Ctrl-V, Ctrl-X, Ctrl-O, \
            Ctrl-Z, Ctrl-\\ and Alt chords could run or change a line unseen. Type, edit, use \
            history and completion, and press Enter."
            .to_owned();
        send(socket, ServerMessage::Warning { message })
            .await
            .map_err(|()| Stop::new(EndReason::ClosedByUser, ""))
    }

    /// Keys for the device. Recorded first: input that cannot be recorded never reaches it.
    async fn pass_keys(&mut self, keys: String) -> Result<(), Stop> {
        let EventData::Input(keys) = self.take(EventData::Input(keys)).await? else {
            return Ok(());
        };
        if let Some(enforcing) = &mut self.enforcing {
            enforcing.unechoed = true;
        }
        self.forward(ToDevice::Data(keys.into_bytes()))
    }

    /// Passes on the keys of an enforced session that may go, up to an Enter that waits.
    async fn release(&mut self, socket: &mut WebSocket) -> Result<(), Stop> {
        loop {
            let Some(enforcing) = &mut self.enforcing else {
                return Ok(());
            };
            if self.to_device.capacity() == 0 {
                // The device is slow to take keys: looked at again in a moment.
                enforcing.recheck = Some(tokio::time::Instant::now() + Duration::from_millis(5));
                return Ok(());
            }
            let device = enforcing.device();
            match enforcing.enforcer.next(&mut self.recognizer, device) {
                Step::Forward(keys) => {
                    enforcing.settled();
                    self.pass_keys(keys).await?;
                }
                Step::Held(held) => {
                    enforcing.settled();
                    self.hold(held, socket).await?;
                }
                Step::Alert(alerted, keys) => {
                    enforcing.settled();
                    self.alert(alerted).await?;
                    self.pass_keys(keys).await?;
                }
                Step::Wait => return self.wait(socket).await,
                Step::Idle => {
                    enforcing.settled();
                    return Ok(());
                }
            }
        }
    }

    /// An Enter waits for the device's output; after a while the person is told why.
    async fn wait(&mut self, socket: &mut WebSocket) -> Result<(), Stop> {
        let Some(enforcing) = &mut self.enforcing else {
            return Ok(());
        };
        let tell = !enforcing.told
            && enforcing
                .waiting_since
                .is_some_and(|since| since.elapsed() >= TELL_WAITING_AFTER);
        enforcing.told |= tell;
        enforcing.wait();
        if !tell {
            return Ok(());
        }
        let message = "The Enter you pressed waits: the line the shell would take cannot be read \
            yet (a command still runs, or the screen has not shown the line). It is checked when \
            the shell's prompt shows it; Ctrl-C drops it."
            .to_owned();
        send(socket, ServerMessage::Warning { message })
            .await
            .map_err(|()| Stop::new(EndReason::ClosedByUser, ""))
    }

    /// Whether the approvers are told of a line held now: the first, then one a minute at most,
    /// so that a person pressing Enter again and again does not flood their bells and mail.
    fn time_to_tell(&mut self) -> bool {
        let Some(enforcing) = &mut self.enforcing else {
            return false;
        };
        let now = tokio::time::Instant::now();
        let due = enforcing
            .approvers_told
            .is_none_or(|told| now.duration_since(told) >= TELL_APPROVERS_EVERY);
        if due {
            enforcing.approvers_told = Some(now);
        }
        due
    }

    /// Who is told, when `tell`: the approvers of the session's change, if it has one.
    fn telling(&self, tell: bool) -> Option<Telling<'_>> {
        let opened = &self.opened;
        tell.then(|| Telling {
            outbound: &self.state.outbound,
            group_id: opened.group_id,
            person: self.request.user.id,
            change: opened.change_id.as_deref().zip(opened.request_id),
            device: &opened.device.name,
        })
    }

    /// A line held at Enter: recorded, audited, and explained to the person.
    async fn hold(&mut self, held: HeldLine, socket: &mut WebSocket) -> Result<(), Stop> {
        // One moment for the marker and the trail, so a board read from either agrees.
        let blocked_at = self.opened.recorder.elapsed();
        let marker = json!({
            "held": held.held,
            "line": held.line,
            "keys": held.keys,
            "at": blocked_at,
        })
        .to_string();
        self.take(EventData::Marker(marker)).await?;
        let blocked = Blocked {
            line: &held.line,
            held: &held.held,
            keys: &held.keys,
            allowed_next: &held.allowed_next,
            at: blocked_at,
        };
        let now = self.state.clock.now();
        let tell = self.time_to_tell();
        let username = &self.request.user.username;
        let telling = self.telling(tell);
        let db = &self.state.db;
        store::command_blocked(db, self.opened.id, username, &blocked, telling, now)
            .await
            .map_err(|error| {
                tracing::error!(%error, session = self.opened.id, "auditing a held line");
                Stop::new(
                    EndReason::Interrupted,
                    "The session was closed: a line it held could not be stored. Tell an admin.",
                )
            })?;
        let reason = held.held.words();
        self.held.push(HeldCommand {
            text: held.line.clone(),
            offset: blocked_at,
            reason: reason.clone(),
        });
        let checklist = self.checklist(&self.stored, &self.stored_findings);
        let message = ServerMessage::Held {
            reason: reason.clone(),
            line: held.line,
            allowed_next: held.allowed_next,
        };
        // The board first: whoever hears of the held line finds it there.
        for message in [ServerMessage::Checklist(checklist), message] {
            send(socket, message)
                .await
                .map_err(|()| Stop::new(EndReason::ClosedByUser, ""))?;
        }
        if held.closes {
            return Err(Stop::new(
                EndReason::Policy,
                format!("The session was closed by a command rule. {reason}"),
            ));
        }
        Ok(())
    }

    /// A line an `alert` rule matched, about to run: in the trail, and told to the approvers.
    async fn alert(&mut self, alerted: Alerted) -> Result<(), Stop> {
        let tell = self.time_to_tell();
        let now = self.state.clock.now();
        let telling = self.telling(tell);
        let noted = store::Alert {
            line: &alerted.line,
            rule: &alerted.rule,
            at: self.opened.recorder.elapsed(),
        };
        let username = &self.request.user.username;
        store::command_alerted(
            &self.state.db,
            self.opened.id,
            username,
            &noted,
            telling,
            now,
        )
        .await
        .map_err(|error| {
            tracing::error!(%error, session = self.opened.id, "auditing an alert");
            Stop::new(
                EndReason::Interrupted,
                "The session was closed: an alert could not be stored. Tell an admin.",
            )
        })
    }

    /// Queues `item` for the device; the loop reads the browser only while there is room, so
    /// the queue is never found full and no input is dropped.
    fn forward(&self, item: ToDevice) -> Result<(), Stop> {
        self.to_device
            .try_send(item)
            .map_err(|_| Stop::new(EndReason::Interrupted, "The device stopped taking input."))
    }

    async fn on_device(
        &mut self,
        message: Option<ChannelMsg>,
        socket: &mut WebSocket,
    ) -> Result<(), Stop> {
        match message {
            Some(ChannelMsg::Data { data }) | Some(ChannelMsg::ExtendedData { data, .. }) => {
                let (bytes, after) = self.gathered_output(&data).await;
                let text = self.output.push_owned(bytes);
                self.show(text, socket).await?;
                match after {
                    Some(message) => self.on_device_state(message, socket).await,
                    None => Ok(()),
                }
            }
            other => self.on_device_state(other, socket).await,
        }
    }

    /// `first` and the output that follows it, up to `COALESCE_MAX` bytes, as one piece: under
    /// bulk output, one record, one check and one message for many small reads. What is queued
    /// is always taken; after a read of `BULK_READ` or more (output in bulk, not an echo or a
    /// prompt), what comes within `GATHER_FOR` too. An echo is never held back. A message that is
    /// not output ends the piece and is answered, to be handled after it.
    async fn gathered_output(&mut self, first: &[u8]) -> (Vec<u8>, Option<Option<ChannelMsg>>) {
        let gather_until =
            (first.len() >= BULK_READ).then(|| tokio::time::Instant::now() + GATHER_FOR);
        // Room for a whole piece at once when gathering: grown by doubling, the buffer would
        // pass the allocator's mmap threshold, a map and unmap per piece.
        let mut bytes = Vec::with_capacity(match gather_until {
            Some(_) => COALESCE_MAX + first.len(),
            None => first.len(),
        });
        bytes.extend_from_slice(first);
        while bytes.len() < COALESCE_MAX {
            let next = match (self.device.wait().now_or_never(), gather_until) {
                (Some(next), _) => next,
                (None, None) => break,
                // The channel's receive is cancel-safe: a timeout loses no message.
                (None, Some(until)) => {
                    match tokio::time::timeout_at(until, self.device.wait()).await {
                        Ok(next) => next,
                        Err(_) => break,
                    }
                }
            };
            match next {
                Some(ChannelMsg::Data { data }) | Some(ChannelMsg::ExtendedData { data, .. }) => {
                    bytes.extend_from_slice(&data);
                }
                other => return (bytes, Some(other)),
            }
        }
        (bytes, None)
    }

    /// What the device says besides output: the shell ended, or the connection did.
    async fn on_device_state(
        &mut self,
        message: Option<ChannelMsg>,
        socket: &mut WebSocket,
    ) -> Result<(), Stop> {
        match message {
            Some(ChannelMsg::ExitStatus { .. }) | Some(ChannelMsg::Eof) => {
                self.shell_ended = true;
                Ok(())
            }
            Some(ChannelMsg::Close) | None => {
                let rest = self.output.finish();
                self.show(rest, socket).await?;
                Err(if self.shell_ended {
                    Stop::new(EndReason::DeviceClosed, "The shell on the device ended.")
                } else {
                    Stop::new(
                        EndReason::Interrupted,
                        "The connection to the device was lost. The recording is kept up to here.",
                    )
                })
            }
            Some(_) => Ok(()),
        }
    }

    /// Records what the device printed, feeds it to the recognizer, shows it, and sends any
    /// command it completed.
    async fn show(&mut self, text: String, socket: &mut WebSocket) -> Result<(), Stop> {
        if text.is_empty() {
            return Ok(());
        }
        if let Some(enforcing) = &mut self.enforcing {
            enforcing.output();
        }
        if let EventData::Output(data) = self.take(EventData::Output(text)).await? {
            send(socket, ServerMessage::Output { data })
                .await
                .map_err(|()| Stop::new(EndReason::ClosedByUser, ""))?;
        }
        if self.recognizer.revision() != self.revision {
            self.revision = self.recognizer.revision();
            self.commands_changed(socket).await?;
        }
        Ok(())
    }

    async fn commands_changed(&mut self, socket: &mut WebSocket) -> Result<(), Stop> {
        let commands = self.recognizer.commands();
        let findings = self.recognizer.findings();
        if commands == self.stored.as_slice() && findings == self.stored_findings.as_slice() {
            return Ok(());
        }
        let commands = commands.to_vec();
        let findings = findings.to_vec();
        store::save_recognised(
            &self.state.db,
            self.opened.id,
            &self.request.user.username,
            Recognised {
                commands: &self.stored,
                findings: &self.stored_findings,
            },
            Recognised {
                commands: &commands,
                findings: &findings,
            },
            self.state.clock.now(),
        )
        .await
        .map_err(|error| {
            tracing::error!(%error, session = self.opened.id, "storing recognised commands");
            Stop::new(
                EndReason::Interrupted,
                "The session was closed: its commands could not be stored. Tell an admin.",
            )
        })?;
        let mut messages: Vec<ServerMessage> = commands
            .iter()
            .enumerate()
            .filter(|(index, command)| self.stored.get(*index) != Some(command))
            .map(|(index, command)| ServerMessage::Command {
                index,
                command: command.clone(),
            })
            .collect();
        messages.push(ServerMessage::Checklist(
            self.checklist(&commands, &findings),
        ));
        self.stored = commands;
        self.stored_findings = findings;
        for message in messages {
            send(socket, message)
                .await
                .map_err(|()| Stop::new(EndReason::ClosedByUser, ""))?;
        }
        Ok(())
    }

    fn checklist(&self, commands: &[ExecutedCommand], findings: &[Finding]) -> Checklist {
        let report = AuditReport::new(
            &self.opened.script,
            commands.to_vec(),
            &self.opened.benign,
            findings.to_vec(),
        )
        .with_held(&self.held);
        Checklist {
            lines: report.board,
            score: report.score,
            verdict: report.verdict,
            findings: report.findings,
        }
    }

    /// Once a second: begin making the recording durable, enforce the window, and now and
    /// then keep the WebSocket alive. Nothing here waits on the disk or the database.
    async fn tick(&mut self, socket: &mut WebSocket, count: u64) -> Result<(), Stop> {
        if count.is_multiple_of(PING_EVERY_TICKS) {
            // Proxies close a WebSocket that says nothing for a minute or so.
            send_raw(socket, Message::Ping(Default::default()))
                .await
                .map_err(|()| Stop::new(EndReason::ClosedByUser, ""))?;
        }
        if self.syncing.is_none() {
            self.syncing = self.opened.recorder.begin_sync();
        }
        let now = self.state.clock.now();
        if now >= self.opened.closes_at {
            return Err(self.window_closed());
        }
        if !self.warned && now >= self.opened.closes_at.minus(self.state.terminal.warning) {
            self.warned = true;
            let minutes = now.until(self.opened.closes_at).as_secs().div_ceil(60);
            let message = format!(
                "This session will be closed at {} ({} minute{} from now){}.",
                rfc3339(self.opened.closes_at),
                minutes,
                if minutes == 1 { "" } else { "s" },
                if self.opened.closes_at_due_date {
                    ", the change's due date"
                } else {
                    ", the longest a session may last"
                }
            );
            send(socket, ServerMessage::Warning { message })
                .await
                .map_err(|()| Stop::new(EndReason::ClosedByUser, ""))?;
        }
        Ok(())
    }

    /// Acts on what the watchdog found: a termination asked for, rights that no longer hold, a
    /// due date moved, the recordings' volume nearly full.
    async fn on_standing(&mut self, socket: &mut WebSocket) -> Result<(), Stop> {
        let standing = self.watched.standing.borrow_and_update().clone();
        // A window that has closed is the reason, whatever else the watchdog found meanwhile
        // (a sign-in that lapsed at the same hour, say): the session's own clock says it first.
        if standing.end.is_some() && self.state.clock.now() >= self.opened.closes_at {
            return Err(self.window_closed());
        }
        match standing.end {
            Some(End::Terminated { by }) => {
                return Err(Stop {
                    reason: EndReason::Terminated,
                    message: format!("The session was terminated by {by}."),
                    by: Some(by),
                });
            }
            Some(End::Revoked(detail)) => return Err(Stop::revoked(&detail)),
            Some(End::MarkedInterrupted) => {
                return Err(Stop::new(
                    EndReason::Interrupted,
                    "The session was closed: this server lost the database for too long, and it was marked interrupted.",
                ));
            }
            Some(End::DatabaseLost) => {
                return Err(Stop::new(
                    EndReason::Interrupted,
                    "The session was closed: this server cannot reach the database, so nothing it does would be in the trail.",
                ));
            }
            None => {}
        }
        if let Some(due_at) = standing.due_at {
            let (closes_at, due_date) = opening::closing(Some(due_at), self.opened.longest);
            if closes_at != self.opened.closes_at {
                self.opened.closes_at = closes_at;
                self.opened.closes_at_due_date = due_date;
                self.warned = false;
            }
        }
        match standing.low_space {
            Some(free) => self.room_to_record(free, socket).await,
            None => Ok(()),
        }
    }

    /// Below the free-space floor of the recordings' volume the person is warned; below half of
    /// it the session is closed, before the volume is full and a write fails.
    async fn room_to_record(&mut self, free: u64, socket: &mut WebSocket) -> Result<(), Stop> {
        let floor = self.state.terminal.free_floor;
        if free < floor / 2 {
            return Err(Stop::new(
                EndReason::RecordingFailed,
                format!(
                    "The session was closed before the recordings' volume filled: {} MiB left. Tell an admin.",
                    free >> 20
                ),
            ));
        }
        if !self.warned_of_space {
            self.warned_of_space = true;
            let message = format!(
                "The recordings' volume is nearly full ({} MiB left): this session will be closed if it falls below {} MiB. Tell an admin.",
                free >> 20,
                (floor / 2) >> 20
            );
            send(socket, ServerMessage::Warning { message })
                .await
                .map_err(|()| Stop::new(EndReason::ClosedByUser, ""))?;
        }
        Ok(())
    }

    fn window_closed(&self) -> Stop {
        if self.opened.closes_at_due_date {
            Stop::new(
                EndReason::DueDate,
                "The change's due date has come: the session is closed.",
            )
        } else {
            Stop::new(
                EndReason::MaxLength,
                "The session reached the longest a session may last, and is closed.",
            )
        }
    }

    /// Records what happened now and feeds it to the recognizer; answers it to pass on. A
    /// recording at its limit takes nothing more: the session ends, its recording whole.
    async fn take(&mut self, data: EventData) -> Result<EventData, Stop> {
        let limit = self.state.terminal.recording_limit;
        if self.opened.recorder.bytes() >= limit {
            let mib = limit >> 20;
            return Err(Stop::new(
                EndReason::RecordingLimit,
                format!(
                    "The session was closed: its recording reached {mib} MiB, the most a session may record. Start another to go on."
                ),
            ));
        }
        let event = Event {
            time: self.opened.recorder.elapsed(),
            data,
        };
        self.opened
            .recorder
            .record(&event)
            .await
            .map_err(Stop::recording_failed)?;
        self.watched.recorded(self.opened.recorder.bytes());
        self.recognizer.feed(&event);
        if let EventData::Output(text) = &event.data {
            self.transcript.feed(text);
        }
        Ok(event.data)
    }

    /// Ends the session everywhere: the device, the recording, the row and the browser.
    async fn finish(self, socket: &mut WebSocket, stop: Stop) {
        let Session {
            state,
            request,
            opened,
            recognizer,
            transcript,
            stored,
            stored_findings,
            held,
            writer,
            to_device,
            watched,
            ..
        } = self;
        drop(to_device);
        writer.abort();
        opened.connection.close().await;
        let sealed: Option<Sealed> = match opened.recorder.finish().await {
            Ok(sealed) => Some(sealed),
            Err(error) => {
                tracing::error!(%error, session = opened.id, "sealing a recording");
                None
            }
        };
        let mut recognizer = recognizer;
        recognizer.finish();
        let commands = recognizer.commands().to_vec();
        let findings = recognizer.findings().to_vec();
        if (commands != stored || findings != stored_findings)
            && let Err(error) = store::save_recognised(
                &state.db,
                opened.id,
                &request.user.username,
                Recognised {
                    commands: &stored,
                    findings: &stored_findings,
                },
                Recognised {
                    commands: &commands,
                    findings: &findings,
                },
                state.clock.now(),
            )
            .await
        {
            tracing::error!(%error, session = opened.id, "storing the last commands");
        }
        let report = opened.change_id.as_ref().map(|_| {
            AuditReport::new(
                &opened.script,
                commands.clone(),
                &opened.benign,
                findings.clone(),
            )
            .with_held(&held)
        });
        let message = if stop.message.is_empty() {
            "The session is closed.".to_owned()
        } else {
            stop.message
        };
        let ending = Ending {
            reason: stop.reason,
            message: &message,
            by: stop.by.as_deref(),
            at: state.clock.now(),
            recording: sealed.as_ref(),
            score: report.as_ref().map(|report| report.score),
            verdict: report.as_ref().map(|report| report.verdict.as_str()),
            commands: commands.len(),
            transcript: transcript.text(),
        };
        if let Err(error) = store::end(&state.db, opened.id, &request.user.username, &ending).await
        {
            tracing::error!(%error, session = opened.id, "storing the end of a session");
        }
        // Only now, sealed and ended: whoever follows its recording reads the rest from the store.
        drop(watched);
        close(socket, stop.reason, &message).await;
    }
}

/// When a script-only session's keys are to be looked at again; never, when not.
async fn recheck(enforcing: &Option<Enforcing>) {
    match enforcing.as_ref().and_then(|enforcing| enforcing.recheck) {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// What the sync under way answers; never, when none is.
async fn pending(syncing: &mut Option<BoxFuture<'static, Synced>>) -> Synced {
    match syncing {
        Some(syncing) => syncing.await,
        None => std::future::pending().await,
    }
}

fn rfc3339(at: Timestamp) -> String {
    at.to_datetime()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
