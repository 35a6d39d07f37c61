//! The browser terminal end to end: a real WebSocket client, the real broker, a real OpenSSH
//! sshd on loopback with a password account and a key account, bash with and without the
//! shell-integration script.

use std::time::Duration;

use changeaudit_e2e::{KEY_USER, PASSWORD_USER, Sshd};
use changeaudit_shared::asciicast::{Cast, EventData};
use changeaudit_shared::board::Status;
use changeaudit_shared::command::Recognition;
use changeaudit_shared::terminal::{ClientMessage, EndReason};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::fixtures::{HOST_KEY, HOST_KEY_FINGERPRINT, PASSWORD as PERSON_PASSWORD};
use crate::helpers::{ADMIN_PASSWORD, Person, START, TestApp};
use crate::terminal_client::Terminal;
use crate::trail;

/// The change every test runs: its window holds the test clock's start.
pub(crate) const CHANGE: &str = "CHG-7";
const SCRIPT: &str = "echo planned-one\necho planned-two\n";

pub(crate) struct Rig {
    pub(crate) app: TestApp,
    pub(crate) sshd: Sshd,
    pub(crate) admin: Person,
    pub(crate) member: Person,
    pub(crate) member_id: i64,
    pub(crate) group: i64,
    pub(crate) device: i64,
    pub(crate) password_credential: i64,
    pub(crate) key_credential: i64,
}

impl Rig {
    pub(crate) async fn start(sshd: Sshd) -> Rig {
        Rig::on(TestApp::spawn().await, sshd).await
    }

    /// As `start`, with CHG-7's script `script`.
    pub(crate) async fn with_script(sshd: Sshd, script: &str) -> Rig {
        Rig::scripted(TestApp::spawn().await, sshd, script).await
    }

    /// The sshd as a device with a password credential and a key credential, both granted to
    /// `member` through group `ops`, and change CHG-7 on the device.
    pub(crate) async fn on(app: TestApp, sshd: Sshd) -> Rig {
        Rig::scripted(app, sshd, SCRIPT).await
    }

    async fn scripted(app: TestApp, sshd: Sshd, script: &str) -> Rig {
        let member_id = app.add_user("member", PERSON_PASSWORD, &[]).await;
        let approver_id = app.add_user("approver", PERSON_PASSWORD, &[]).await;
        app.add_user("planner", PERSON_PASSWORD, &["planner"]).await;
        app.add_user("auditor", PERSON_PASSWORD, &["auditor"]).await;
        let admin = app.person("admin", ADMIN_PASSWORD).await;
        let device = admin
            .create(
                "/api/devices",
                &json!({
                    "name": "sshd-1",
                    "host": sshd.address.ip().to_string(),
                    "port": sshd.address.port(),
                    "host_key": sshd.host_key,
                }),
            )
            .await;
        let credential = |username: &str, kind: &str, secret: &str| json!({ "device_id": device, "username": username, "kind": kind, "secret": secret });
        let password_credential = admin
            .create(
                "/api/credentials",
                &credential(PASSWORD_USER, "password", &sshd.password),
            )
            .await;
        let key_credential = admin
            .create(
                "/api/credentials",
                &credential(KEY_USER, "private_key", &sshd.client_key),
            )
            .await;
        let group = admin
            .create(
                "/api/access-groups",
                &json!({
                    "name": "ops",
                    "passkey_required_to_approve": false,
                    "members": [
                        { "user_id": member_id, "executor": true, "approver": false },
                        { "user_id": approver_id, "executor": false, "approver": true },
                    ],
                    "credential_ids": [password_credential, key_credential],
                }),
            )
            .await;
        app.person("planner", PERSON_PASSWORD)
            .await
            .expect(
                "POST",
                "/api/changes",
                Some(&json!({
                    "id": CHANGE,
                    "title": "Say two things",
                    "start_at": "2025-12-31T23:00:00Z",
                    "due_at": "2026-01-01T01:00:00Z",
                    "access_group_id": group,
                    "device_ids": [device],
                    "script": script,
                })),
                201,
            )
            .await;
        let member = app.person("member", PERSON_PASSWORD).await;
        Rig {
            app,
            sshd,
            admin,
            member,
            member_id,
            group,
            device,
            password_credential,
            key_credential,
        }
    }

    /// An approved request of `member` for CHG-7 on `credential`, through the API: Start
    /// session makes the request and `approver` approves it (group `ops` approves without
    /// passkeys; the passkey ceremony has its own tests).
    pub(crate) async fn approve(&self, credential: i64) {
        let asked = self
            .member
            .expect(
                "POST",
                "/api/requests",
                Some(&json!({ "credential_id": credential })),
                201,
            )
            .await;
        let id = asked["request"]["id"].as_i64().unwrap();
        let approver = self.app.person("approver", PERSON_PASSWORD).await;
        let decided = approver
            .expect(
                "POST",
                &format!("/api/requests/{id}/decisions"),
                Some(&json!({ "decision": "approved" })),
                200,
            )
            .await;
        assert_eq!(decided["status"], "approved");
    }

    /// A terminal on the password credential, approved, at its first prompt.
    pub(crate) async fn approved_terminal(&self) -> Terminal {
        self.approve(self.password_credential).await;
        let mut terminal = Terminal::open(&self.member, self.password_credential).await;
        terminal
            .until(|t| t.output.ends_with("$ "), "the prompt")
            .await;
        terminal
    }

    /// A whole session on the password credential: approved, `commands` run, then `exit`.
    /// Answers its ID.
    pub(crate) async fn short_session(&self, commands: &[&str]) -> i64 {
        let mut terminal = self.approved_terminal().await;
        for command in commands {
            terminal.run(command).await;
            // The next line is typed at the prompt, as a person would: typed while the command
            // still prints, the terminal's own echo would mix it into the output.
            terminal
                .until(|t| t.output.ends_with("$ "), "the prompt after the command")
                .await;
        }
        terminal.type_text("exit\r").await;
        terminal.closed().await;
        terminal.session_id.unwrap()
    }

    /// Group `ops` as stored, changed by `edit`, saved by the admin.
    pub(crate) async fn edit_group(&self, edit: impl FnOnce(&mut Value)) {
        let path = format!("/api/access-groups/{}", self.group);
        let mut group = self.admin.expect("GET", &path, None, 200).await;
        edit(&mut group);
        self.admin.expect("PUT", &path, Some(&group), 200).await;
    }

    /// Session `id`'s board view (`{session, script, report}`), as the admin opens it.
    pub(crate) async fn board_view(&self, id: i64) -> Value {
        let path = format!("/api/terminal-sessions/{id}/audit?view=board");
        self.admin.expect("GET", &path, None, 200).await
    }

    pub(crate) async fn session(&self, id: i64) -> Value {
        self.admin
            .expect("GET", &format!("/api/terminal-sessions/{id}"), None, 200)
            .await
    }

    /// The recording of session `id`, as stored.
    pub(crate) async fn recording(&self, id: i64) -> Vec<u8> {
        let name: String =
            sqlx::query_scalar("SELECT recording FROM terminal_sessions WHERE id = $1")
                .bind(id)
                .fetch_one(self.app.db.pool())
                .await
                .unwrap();
        self.app
            .state
            .recordings
            .read(&name, 0, usize::MAX)
            .await
            .unwrap()
    }

    pub(crate) async fn actions(&self, object: &str) -> Vec<(String, String, Value)> {
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT actor, action, details FROM audit_events WHERE object = $1 ORDER BY seq",
        )
        .bind(object)
        .fetch_all(self.app.db.pool())
        .await
        .unwrap();
        rows.into_iter()
            .map(|(actor, action, details)| {
                (actor, action, serde_json::from_str(&details).unwrap())
            })
            .collect()
    }
}

/// `(status, command)` for each line of a report's board.
pub(crate) fn board_lines(report: &Value) -> Vec<(String, String)> {
    report["board"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| {
            (
                line["status"].as_str().unwrap().to_owned(),
                line["command"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The output events of a recording, joined.
fn recorded_output(bytes: &[u8]) -> String {
    let cast = Cast::parse(std::str::from_utf8(bytes).unwrap()).unwrap();
    cast.events
        .iter()
        .filter_map(|event| match &event.data {
            EventData::Output(text) => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn commands_typed_are_recognised_scored_recorded_and_audited() {
    let rig = Rig::start(Sshd::start().await.unwrap()).await;
    let mut terminal = rig.approved_terminal().await;
    // Before anything runs, the script's lines are all still to do.
    let first = terminal
        .checklist
        .clone()
        .expect("a checklist at the start");
    assert_eq!(
        first
            .lines
            .iter()
            .map(|line| line.status)
            .collect::<Vec<_>>(),
        [Status::Missing, Status::Missing]
    );
    assert_eq!((first.score, first.verdict.as_str()), (0, "not_executed"));
    terminal.run("echo planned-one").await;
    terminal.run("echo 'planned-two'").await;
    terminal.run("uname -s").await;
    terminal
        .until(
            |t| t.checklist.as_ref().is_some_and(|c| c.lines.len() == 3),
            "the checklist of three lines",
        )
        .await;
    let checklist = terminal.checklist.clone().unwrap();
    let statuses: Vec<Status> = checklist.lines.iter().map(|line| line.status).collect();
    assert_eq!(
        statuses,
        [Status::Matched, Status::Matched, Status::Unplanned]
    );
    assert_eq!(checklist.score, 67);
    assert_eq!(checklist.verdict, "more_than_necessary");
    let texts: Vec<&str> = terminal.commands.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(
        texts,
        ["echo planned-one", "echo 'planned-two'", "uname -s"]
    );
    assert!(
        terminal
            .commands
            .iter()
            .all(|c| c.source == Recognition::Screen)
    );

    terminal.type_text("exit\r").await;
    let (reason, _) = terminal.closed().await;
    assert_eq!(reason, EndReason::DeviceClosed);

    let id = terminal.session_id.unwrap();
    let record = rig.session(id).await;
    assert_eq!(record["state"], "ended");
    assert_eq!(record["end_reason"], "device_closed");
    // Its record is the person's own and the overseers'; to anyone else it does not exist.
    rig.member
        .expect("GET", &format!("/api/terminal-sessions/{id}"), None, 200)
        .await;
    rig.app.add_user("peer", PERSON_PASSWORD, &[]).await;
    rig.app
        .person("peer", PERSON_PASSWORD)
        .await
        .expect("GET", &format!("/api/terminal-sessions/{id}"), None, 404)
        .await;
    assert_eq!(record["username"], "member");
    assert_eq!(record["device"]["name"], "sshd-1");
    assert_eq!(record["account"], PASSWORD_USER);
    assert_eq!(record["change_id"], CHANGE);
    assert_eq!(record["client_ip"], "127.0.0.1");
    assert_eq!(record["user_agent"], "terminal-test/1.0");
    assert_eq!(record["score"], 67);
    assert_eq!(record["verdict"], "more_than_necessary");
    assert_eq!(record["commands"].as_array().unwrap().len(), 4, "{record}");
    assert_eq!(record["commands"][3]["command"], "exit");

    // Every byte the browser was shown is in the recording, in order, and the stored digest
    // is the recording's.
    let recording = rig.recording(id).await;
    assert_eq!(recorded_output(&recording), terminal.output);
    assert!(terminal.output.contains("planned-one\r\n"));
    assert!(terminal.output.contains("Linux\r\n"));
    assert_eq!(
        record["recording_sha256"],
        hex::encode(Sha256::digest(&recording))
    );
    assert_eq!(record["recording_bytes"], recording.len());
    let cast = Cast::parse(std::str::from_utf8(&recording).unwrap()).unwrap();
    assert_eq!((cast.header.width, cast.header.height), (80, 24));
    assert!(
        cast.events
            .iter()
            .any(|e| e.data == EventData::Input("\r".into()))
    );

    let actions = rig.actions(&format!("terminal_session:{id}")).await;
    let names: Vec<&str> = actions
        .iter()
        .map(|(_, action, _)| action.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "session.started",
            "session.command",
            "session.command",
            "session.command",
            "session.command",
            "session.ended"
        ]
    );
    assert_eq!(actions[1].2["command"], "echo planned-one");
    assert_eq!(actions[5].2["reason"], "device_closed");
    assert_eq!(actions[5].2["recording_sha256"], record["recording_sha256"]);
}

#[tokio::test]
async fn a_shell_with_the_integration_script_gives_exit_codes_and_a_key_logs_in() {
    let rig = Rig::start(Sshd::with_shell_integration().await.unwrap()).await;
    rig.approve(rig.key_credential).await;
    let mut terminal = Terminal::open(&rig.member, rig.key_credential).await;
    terminal
        .until(|t| t.output.contains("$ "), "the prompt")
        .await;
    terminal.run("echo planned-one").await;
    terminal.run("echo planned-two; false").await;
    terminal
        .until(
            |t| t.commands.len() == 2 && t.commands.iter().all(|c| c.exit_code.is_some()),
            "both exit codes",
        )
        .await;
    assert!(
        terminal
            .commands
            .iter()
            .all(|c| c.source == Recognition::ShellIntegration)
    );
    assert_eq!(terminal.commands[0].exit_code, Some(0));
    assert_eq!(terminal.commands[1].exit_code, Some(1));
    terminal
        .until(
            |t| t.checklist.as_ref().is_some_and(|c| c.lines.len() == 3),
            "the checklist with both commands",
        )
        .await;
    let checklist = terminal.checklist.clone().unwrap();
    assert_eq!(checklist.lines[0].status, Status::Matched);
    // `echo planned-two; false` is not the script's line: it is unplanned, and line 2 missing.
    assert_eq!(checklist.score, 33, "{checklist:?}");
    terminal.close_socket().await;

    let id: i64 = sqlx::query_scalar("SELECT MAX(id) FROM terminal_sessions")
        .fetch_one(rig.app.db.pool())
        .await
        .unwrap();
    let record = wait_for_end(&rig, id).await;
    assert_eq!(record["end_reason"], "closed_by_user");
    assert_eq!(record["account"], KEY_USER);
    assert_eq!(record["commands"][1]["exit_code"], 1);
    assert_eq!(record["commands"][1]["source"], "shell_integration");

    // The trail says each command as it was last known, exit code included: a command and
    // every update of it (an exit code arriving) are events.
    let mut last_said = std::collections::BTreeMap::new();
    for (_, action, details) in rig.actions(&format!("terminal_session:{id}")).await {
        match action.as_str() {
            "session.command" => last_said.insert(details["seq"].as_i64(), details.clone()),
            "session.command_updated" => {
                last_said.insert(details["seq"].as_i64(), details["after"].clone())
            }
            _ => None,
        };
    }
    let said: Vec<(Value, Value)> = last_said
        .values()
        .map(|facts| (facts["command"].clone(), facts["exit_code"].clone()))
        .collect();
    assert_eq!(
        said,
        [
            (json!("echo planned-one"), json!(0)),
            (json!("echo planned-two; false"), json!(1))
        ]
    );
    let export = trail::export_file(&rig.app).await;
    trail::verify(&rig.app, &export).await.unwrap();
}

/// A session's record once its server has ended it.
async fn wait_for_end(rig: &Rig, id: i64) -> Value {
    for _ in 0..200 {
        let record = rig.session(id).await;
        if record["state"] == "ended" {
            return record;
        }
        #[expect(
            clippy::disallowed_methods,
            reason = "the API tells a session's end only when asked"
        )]
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("session {id} did not end");
}

#[tokio::test]
async fn a_wrong_host_key_is_refused_and_audited() {
    let rig = Rig::start(Sshd::start().await.unwrap()).await;
    rig.admin
        .expect(
            "PUT",
            &format!("/api/devices/{}", rig.device),
            Some(&json!({
                "name": "sshd-1",
                "host": rig.sshd.address.ip().to_string(),
                "port": rig.sshd.address.port(),
                "host_key": HOST_KEY,
            })),
            200,
        )
        .await;
    rig.approve(rig.password_credential).await;
    let mut terminal = Terminal::open(&rig.member, rig.password_credential).await;
    let (reason, message) = terminal.closed().await;
    assert_eq!(reason, EndReason::HostKeyMismatch);
    assert!(message.contains(&rig.sshd.fingerprint), "{message}");
    assert!(message.contains(HOST_KEY_FINGERPRINT), "{message}");
    assert!(terminal.session_id.is_none());
    let refusals = rig
        .actions(&format!("credential:{}", rig.password_credential))
        .await;
    let (actor, action, details) = refusals.last().unwrap();
    assert_eq!(
        (actor.as_str(), action.as_str()),
        ("member", "session.refused")
    );
    assert_eq!(details["reason"], "host_key_mismatch");
}

#[tokio::test]
async fn a_wrong_password_gives_a_clear_error() {
    let rig = Rig::start(Sshd::start().await.unwrap()).await;
    rig.admin
        .expect(
            "PUT",
            &format!("/api/credentials/{}/secret", rig.password_credential),
            Some(&json!({ "kind": "password", "secret": "not the password" })),
            200,
        )
        .await;
    rig.approve(rig.password_credential).await;
    let mut terminal = Terminal::open(&rig.member, rig.password_credential).await;
    let (reason, message) = terminal.closed().await;
    assert_eq!(reason, EndReason::AuthenticationFailed);
    assert_eq!(
        message,
        format!("The device refused the credential for {PASSWORD_USER}: ask an admin to check it.")
    );
    assert!(!message.contains("not the password"));
}

#[tokio::test]
async fn an_unwritable_recording_folder_refuses_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, "a file where the folder should be").unwrap();
    let folder = blocker.join("recordings");
    let app =
        TestApp::spawn_with(&[("CHANGEAUDIT_RECORDINGS_DIR", folder.to_str().unwrap())]).await;
    let rig = Rig::on(app, Sshd::start().await.unwrap()).await;
    rig.approve(rig.password_credential).await;
    let mut terminal = Terminal::open(&rig.member, rig.password_credential).await;
    let (reason, message) = terminal.closed().await;
    assert_eq!(reason, EndReason::RecordingFailed);
    assert!(message.contains("recording cannot be written"), "{message}");
    assert!(
        terminal.output.is_empty(),
        "nothing ran: {}",
        terminal.output
    );
    let sessions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM terminal_sessions")
        .fetch_one(rig.app.db.pool())
        .await
        .unwrap();
    assert_eq!(sessions, 0);
    let refusals = rig
        .actions(&format!("credential:{}", rig.password_credential))
        .await;
    assert_eq!(refusals.last().unwrap().2["reason"], "recording_failed");
}

#[tokio::test]
async fn killing_sshd_mid_session_leaves_a_valid_recording_marked_interrupted() {
    let rig = Rig::start(Sshd::start().await.unwrap()).await;
    let mut terminal = rig.approved_terminal().await;
    terminal.run("echo planned-one").await;
    terminal
        .until(|t| t.output.matches("$ ").count() >= 2, "the next prompt")
        .await;
    rig.sshd.kill_connections().await.unwrap();
    let (reason, message) = terminal.closed().await;
    assert_eq!(reason, EndReason::Interrupted, "{message}");

    let id = terminal.session_id.unwrap();
    let record = rig.session(id).await;
    assert_eq!(record["end_reason"], "interrupted");
    assert_eq!(record["commands"][0]["command"], "echo planned-one");
    let recording = rig.recording(id).await;
    assert_eq!(recorded_output(&recording), terminal.output);
    assert_eq!(
        record["recording_sha256"],
        hex::encode(Sha256::digest(&recording))
    );
    // Incomplete: the second line never ran.
    assert_eq!(record["verdict"], "incomplete");
}

#[tokio::test]
async fn foreign_origins_strangers_and_bad_sizes_are_refused_before_any_session() {
    let rig = Rig::start(Sshd::start().await.unwrap()).await;
    rig.approve(rig.password_credential).await;
    let path = format!(
        "/api/credentials/{}/terminal?cols=80&rows=24",
        rig.password_credential
    );
    let foreign = Terminal::connect_from(&rig.member, &path, Some("http://evil.example")).await;
    assert_eq!(foreign.err(), Some(403));
    let no_origin = Terminal::connect_from(&rig.member, &path, None).await;
    assert_eq!(no_origin.err(), Some(403));
    let anonymous = Terminal::connect(&rig.app.anonymous(), &path).await;
    assert_eq!(anonymous.err(), Some(401));
    let too_wide = Terminal::connect(
        &rig.member,
        &format!(
            "/api/credentials/{}/terminal?cols=0&rows=24",
            rig.password_credential
        ),
    )
    .await;
    assert_eq!(too_wide.err(), Some(422));

    // Signed in, but no group grants the credential: refused by the gate, in words.
    rig.app.add_user("stranger", PERSON_PASSWORD, &[]).await;
    let stranger = rig.app.person("stranger", PERSON_PASSWORD).await;
    let mut terminal = Terminal::open(&stranger, rig.password_credential).await;
    let (reason, message) = terminal.closed().await;
    assert_eq!(reason, EndReason::Refused);
    assert_eq!(message, "No access group of yours grants this credential.");

    // Granted, but with no approved request for the key credential, and no unplanned sessions.
    let mut terminal = Terminal::open(&rig.member, rig.key_credential).await;
    let (reason, message) = terminal.closed().await;
    assert_eq!(reason, EndReason::Refused);
    assert!(
        message.starts_with("No approved request covers you"),
        "{message}"
    );
    let sessions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM terminal_sessions")
        .fetch_one(rig.app.db.pool())
        .await
        .unwrap();
    assert_eq!(sessions, 0);
}

#[tokio::test]
async fn a_group_that_allows_unplanned_sessions_opens_one_without_a_change() {
    let rig = Rig::start(Sshd::start().await.unwrap()).await;
    let group: Value = rig
        .admin
        .expect(
            "GET",
            &format!("/api/access-groups/{}", rig.group),
            None,
            200,
        )
        .await;
    let mut body = json!({
        "name": group["name"],
        "unplanned_sessions_allowed": true,
        "members": [{ "user_id": rig.member_id, "executor": true, "approver": false }],
        "credential_ids": [rig.password_credential, rig.key_credential],
    });
    body["benign_commands"] = group["benign_commands"].clone();
    rig.admin
        .expect(
            "PUT",
            &format!("/api/access-groups/{}", rig.group),
            Some(&body),
            200,
        )
        .await;
    let mut terminal = Terminal::open(&rig.member, rig.password_credential).await;
    terminal
        .until(|t| t.output.ends_with("$ "), "the prompt")
        .await;
    terminal.run("echo off-script").await;
    terminal
        .until(
            |t| t.checklist.as_ref().is_some_and(|c| !c.lines.is_empty()),
            "the checklist with the command",
        )
        .await;
    let checklist = terminal.checklist.clone().unwrap();
    assert_eq!(checklist.lines[0].status, Status::Unplanned);
    terminal.type_text("exit\r").await;
    terminal.closed().await;
    let record = rig.session(terminal.session_id.unwrap()).await;
    assert_eq!(record["change_id"], Value::Null);
    assert_eq!(record["score"], Value::Null);
    assert_eq!(record["commands"][0]["command"], "echo off-script");
}

#[tokio::test]
async fn the_due_date_is_warned_of_then_closes_the_session() {
    let rig = Rig::start(Sshd::start().await.unwrap()).await;
    let mut terminal = rig.approved_terminal().await;
    assert!(terminal.warnings.is_empty());
    // The change is due at 01:00; the warning comes ten minutes before. The member uses the
    // app on the way, so their sign-in (30 idle minutes) holds until the due date.
    rig.app.advance(Duration::from_secs(25 * 60));
    rig.member.expect("GET", "/api/me", None, 200).await;
    rig.app.advance(Duration::from_secs(27 * 60));
    terminal
        .until(|t| !t.warnings.is_empty(), "the due-date warning")
        .await;
    assert_eq!(
        terminal.warnings[0],
        "This session will be closed at 2026-01-01T01:00:00Z (8 minutes from now), the change's due date."
    );
    rig.app.advance(Duration::from_secs(8 * 60));
    let (reason, _) = terminal.closed().await;
    assert_eq!(reason, EndReason::DueDate);
    // An hour on, every sign-in of the test has expired.
    let admin = rig.app.person("admin", ADMIN_PASSWORD).await;
    let record = admin
        .expect(
            "GET",
            &format!("/api/terminal-sessions/{}", terminal.session_id.unwrap()),
            None,
            200,
        )
        .await;
    assert_eq!(record["end_reason"], "due_date");
    assert_eq!(record["duration_seconds"], 3600.0);
    assert_eq!(record["started_at"], "2026-01-01T00:00:00Z");
    assert_eq!(START.to_datetime().unix_timestamp(), 1_767_225_600);
}

/// The replica asks about all its running sessions together: every one's heartbeat moves on,
/// and a termination ends the session asked for and no other.
#[tokio::test]
async fn running_sessions_beat_together_and_a_termination_ends_only_its_own() {
    let rig = Rig::start(Sshd::start().await.unwrap()).await;
    let mut first = rig.approved_terminal().await;
    let mut second = Terminal::open(&rig.member, rig.password_credential).await;
    second
        .until(|t| t.output.ends_with("$ "), "the second prompt")
        .await;
    let ids = [first.session_id.unwrap(), second.session_id.unwrap()];
    sqlx::query("UPDATE terminal_sessions SET heartbeat_at = 0")
        .execute(rig.app.db.pool())
        .await
        .unwrap();
    // A heartbeat every five seconds: both have beaten within two of them.
    let mut beats = Vec::new();
    for _ in 0..100 {
        beats = sqlx::query_scalar::<_, i64>(
            "SELECT heartbeat_at FROM terminal_sessions WHERE id IN ($1, $2) AND heartbeat_at > 0",
        )
        .bind(ids[0])
        .bind(ids[1])
        .fetch_all(rig.app.db.pool())
        .await
        .unwrap();
        if beats.len() == 2 {
            break;
        }
        #[expect(
            clippy::disallowed_methods,
            reason = "the heartbeat is written on the server's own clock"
        )]
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(beats.len(), 2, "both sessions beat: {beats:?}");

    let auditor = rig.app.person("auditor", PERSON_PASSWORD).await;
    let terminate = format!("/api/terminal-sessions/{}/terminate", ids[1]);
    auditor.expect("POST", &terminate, None, 202).await;
    let (reason, _) = second.closed().await;
    assert_eq!(reason, EndReason::Terminated);
    first.run("echo still-running").await;
    first
        .until(
            |t| t.output.contains("still-running\r\n") && t.output.ends_with("$ "),
            "the other session's output",
        )
        .await;
    assert_eq!(rig.session(ids[0]).await["state"], "running");
}

#[tokio::test]
async fn an_auditor_watches_live_then_terminates_and_both_are_audited() {
    let rig = Rig::start(Sshd::start().await.unwrap()).await;
    let mut terminal = rig.approved_terminal().await;
    let id = terminal.session_id.unwrap();
    let auditor = rig.app.person("auditor", PERSON_PASSWORD).await;

    let running = auditor
        .expect("GET", "/api/terminal-sessions/running", None, 200)
        .await;
    assert_eq!(running[0]["id"], id);
    assert_eq!(running[0]["state"], "running");
    // Watching is for auditors and admins, not for the executor's peers.
    let peer = Terminal::connect(&rig.member, &format!("/api/terminal-sessions/{id}/watch")).await;
    assert_eq!(peer.err(), Some(403));

    let mut watcher = Terminal::connect(&auditor, &format!("/api/terminal-sessions/{id}/watch"))
        .await
        .unwrap();
    terminal.run("echo being-watched").await;
    watcher
        .until(
            |w| w.output.contains("being-watched\r\n"),
            "the watched output",
        )
        .await;
    // The watcher follows the checklist and the score as the executor does.
    watcher
        .until(
            |w| {
                w.checklist.as_ref().is_some_and(|checklist| {
                    checklist.lines.iter().any(|line| {
                        line.command == "echo being-watched" && line.status == Status::Unplanned
                    })
                })
            },
            "the watched checklist flagging the unplanned command",
        )
        .await;
    assert_eq!(watcher.checklist.as_ref().unwrap().verdict, "not_executed");
    // Read-only: what a watcher types never reaches the device. The member's next command,
    // run after it, has come back before the check, so a forwarded keystroke would show.
    watcher.type_text("echo intruder\r").await;
    terminal.run("echo probe").await;
    terminal
        .until(|t| t.output.ends_with("$ "), "the prompt after the probe")
        .await;

    auditor
        .expect(
            "POST",
            &format!("/api/terminal-sessions/{id}/terminate"),
            None,
            202,
        )
        .await;
    let (reason, message) = terminal.closed().await;
    assert_eq!(reason, EndReason::Terminated);
    assert_eq!(message, "The session was terminated by auditor.");
    let (watched_reason, _) = watcher.closed().await;
    assert_eq!(watched_reason, EndReason::Terminated);
    assert!(!terminal.output.contains("intruder"));
    assert_eq!(watcher.output, terminal.output);

    let actions = rig.actions(&format!("terminal_session:{id}")).await;
    let by_auditor: Vec<&str> = actions
        .iter()
        .filter(|(actor, _, _)| actor == "auditor")
        .map(|(_, action, _)| action.as_str())
        .collect();
    assert_eq!(
        by_auditor,
        [
            "session.watched",
            "session.termination_requested",
            "session.ended"
        ]
    );
    // An ended session can no longer be watched live, nor terminated.
    let late = Terminal::connect(&auditor, &format!("/api/terminal-sessions/{id}/watch")).await;
    assert_eq!(late.err(), Some(409));
    auditor
        .expect(
            "POST",
            &format!("/api/terminal-sessions/{id}/terminate"),
            None,
            409,
        )
        .await;
}

#[tokio::test]
async fn a_slow_browser_slows_the_device_and_loses_nothing() {
    let rig = Rig::start(Sshd::start().await.unwrap()).await;
    let mut terminal = rig.approved_terminal().await;
    terminal.type_text("seq 1 200000\r").await;
    // The browser takes nothing for a while: the device must wait, not the server buffer.
    #[expect(
        clippy::disallowed_methods,
        reason = "a browser that reads nothing for a while is the case"
    )]
    tokio::time::sleep(Duration::from_secs(2)).await;
    terminal
        .until(
            |t| t.output.contains("\r\n200000\r\n") && t.output.ends_with("$ "),
            "the whole output",
        )
        .await;
    // Bash switches bracketed paste off and on around the command.
    let text = terminal
        .output
        .replace("\x1b[?2004l", "")
        .replace("\x1b[?2004h", "");
    let numbers: Vec<&str> = text
        .split('\n')
        .map(|line| line.trim_matches('\r'))
        .skip_while(|line| *line != "1")
        .take(200000)
        .collect();
    let expected: Vec<String> = (1..=200000).map(|n| n.to_string()).collect();
    assert!(
        numbers
            .iter()
            .copied()
            .eq(expected.iter().map(String::as_str))
    );
    terminal.type_text("exit\r").await;
    terminal.closed().await;
    let recording = rig.recording(terminal.session_id.unwrap()).await;
    assert_eq!(recorded_output(&recording), terminal.output);
}

const PASTE_LINES: usize = 30_000;

#[tokio::test]
async fn a_large_paste_echoed_back_never_stalls_the_session() {
    let rig = Rig::start(Sshd::start().await.unwrap()).await;
    let mut terminal = rig.approved_terminal().await;
    // 3 MB in one message, more than the SSH window. In raw mode the device's terminal keeps
    // every byte (it holds the writer back instead of dropping input) and `head` sends each one
    // back while the paste is still being written, so the echo must be the paste, exactly.
    let line = format!("{}\r", "x".repeat(99));
    let paste = line.repeat(PASTE_LINES);
    terminal
        .type_text(&format!(
            "stty raw -echo; echo ready-$((6*7)); head -c {}; stty sane\r",
            paste.len()
        ))
        .await;
    terminal
        .until(
            |t| t.output.contains("ready-42"),
            "the terminal in raw mode",
        )
        .await;
    let before = terminal.output.len();
    terminal
        .send(&ClientMessage::Input {
            data: paste.clone(),
        })
        .await;
    terminal.type_text("echo after-the-paste\r").await;
    terminal
        .until(
            |t| t.output.contains("\rafter-the-paste\r\n"),
            "the shell back after the paste",
        )
        .await;
    let echoed = &terminal.output[before..];
    assert_eq!(echoed.matches(&line).count(), PASTE_LINES, "{echoed:.200}");
    assert!(echoed.contains(&paste));
    terminal.type_text("exit\r").await;
    terminal.closed().await;
    let recording = rig.recording(terminal.session_id.unwrap()).await;
    assert_eq!(recorded_output(&recording), terminal.output);
    let cast = Cast::parse(std::str::from_utf8(&recording).unwrap()).unwrap();
    let typed: String = cast
        .events
        .iter()
        .filter_map(|event| match &event.data {
            EventData::Input(text) => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert!(typed.contains(&paste));
}

#[tokio::test]
async fn the_client_address_comes_from_a_trusted_proxy_only() {
    let app = TestApp::spawn_with(&[("CHANGEAUDIT_TRUSTED_PROXIES", "127.0.0.1")]).await;
    let rig = Rig::on(app, Sshd::start().await.unwrap()).await;
    rig.approve(rig.password_credential).await;
    let path = format!(
        "/api/credentials/{}/terminal?cols=80&rows=24",
        rig.password_credential
    );
    let origin = rig.member.address().to_owned();
    let mut terminal = Terminal::connect_with(
        &rig.member,
        &path,
        Some(&origin),
        &[("x-forwarded-for", "198.51.100.1, 203.0.113.9")],
    )
    .await
    .unwrap();
    terminal
        .until(|t| t.output.ends_with("$ "), "the prompt")
        .await;
    let record = rig.session(terminal.session_id.unwrap()).await;
    // The proxy (127.0.0.1) is trusted; the address it names is not, so it is the client.
    assert_eq!(record["client_ip"], "203.0.113.9");
    terminal.close_socket().await;
}

#[tokio::test]
async fn cancelling_the_change_ends_its_running_session() {
    let rig = Rig::start(Sshd::start().await.unwrap()).await;
    let mut terminal = rig.approved_terminal().await;
    sqlx::query("UPDATE changes SET status = 'cancelled' WHERE id = $1")
        .bind(CHANGE)
        .execute(rig.app.db.pool())
        .await
        .unwrap();
    let (reason, message) = terminal.closed().await;
    assert_eq!(reason, EndReason::Revoked);
    assert!(
        message.starts_with("The session was closed: it is no longer allowed."),
        "{message}"
    );
    let record = rig.session(terminal.session_id.unwrap()).await;
    assert_eq!(record["end_reason"], "revoked");
}

#[tokio::test]
async fn the_trail_checks_each_recording_against_its_sealed_digest() {
    let rig = Rig::start(Sshd::start().await.unwrap()).await;
    let id = rig.short_session(&["echo planned-one"]).await;
    let ended: i64 = sqlx::query_scalar(
        "SELECT seq FROM audit_events WHERE action = 'session.ended' AND object = $1",
    )
    .bind(format!("terminal_session:{id}"))
    .fetch_one(rig.app.db.pool())
    .await
    .unwrap();
    trail::checkpoint(&rig.app).await;
    let export = trail::export_file(&rig.app).await;
    assert_eq!(
        trail::verify(&rig.app, &export).await.unwrap().recordings,
        1
    );

    // The recording replaced by another, however plausible, is named by its session's end.
    let name: String = sqlx::query_scalar("SELECT recording FROM terminal_sessions WHERE id = $1")
        .bind(id)
        .fetch_one(rig.app.db.pool())
        .await
        .unwrap();
    let original = rig.recording(id).await;
    let forged = String::from_utf8_lossy(&original).replace("planned-one", "planned-0ne");
    rig.app
        .replace_recording(&name, Some(forged.into_bytes()))
        .await;
    let fault = trail::verify(&rig.app, &export).await.unwrap_err();
    assert_eq!(fault.seq, Some(ended), "{fault}");
    assert!(
        fault
            .reason
            .contains(&format!("its recording {name} has SHA-256")),
        "{fault}"
    );

    rig.app.replace_recording(&name, None).await;
    let fault = trail::verify(&rig.app, &export).await.unwrap_err();
    assert_eq!(fault.seq, Some(ended), "{fault}");
    assert!(fault.reason.contains("cannot be read"), "{fault}");
}

#[tokio::test]
async fn auditors_find_a_session_by_what_was_shown_and_open_its_details_board_logs_and_recording() {
    let rig = Rig::start(Sshd::start().await.unwrap()).await;
    let id = rig.short_session(&["echo planned-one", "uname -s"]).await;
    let auditor = rig.app.person("auditor", PERSON_PASSWORD).await;

    let ids = |page: &Value| -> Vec<i64> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["id"].as_i64().unwrap())
            .collect()
    };
    for (query, found) in [
        ("", true),
        ("?change=CHG-7&user=member&device=sshd-1", true),
        ("?verdict=incomplete&from=2026-01-01&to=2026-01-01", true),
        ("?q=Planned-ONE", true),
        ("?q=Linux", true),
        ("?q=never-typed-anywhere", false),
        ("?verdict=correct", false),
        ("?user=auditor", false),
        ("?from=2026-01-02", false),
    ] {
        let page = auditor
            .expect("GET", &format!("/api/terminal-sessions{query}"), None, 200)
            .await;
        assert_eq!(ids(&page) == [id], found, "{query}: {page}");
    }
    let refused = auditor
        .expect("GET", "/api/terminal-sessions?from=yesterday", None, 422)
        .await;
    assert_eq!(refused["errors"][0]["field"], "from");

    let details = auditor
        .expect(
            "GET",
            &format!("/api/terminal-sessions/{id}/audit?view=details"),
            None,
            200,
        )
        .await;
    assert_eq!(details["session"]["username"], "member");
    assert_eq!(details["session"]["verdict"], "incomplete");
    assert_eq!(details["approvals"][0]["approver"], "approver");
    assert_eq!(details["approvals"][0]["signed"], false);
    assert_eq!(details["transcript"], Value::Null);

    let board = auditor
        .expect(
            "GET",
            &format!("/api/terminal-sessions/{id}/audit?view=board"),
            None,
            200,
        )
        .await;
    assert_eq!(
        board_lines(&board["report"]),
        [
            ("matched".to_owned(), "echo planned-one".to_owned()),
            ("missing".to_owned(), "echo planned-two".to_owned()),
            ("unplanned".to_owned(), "uname -s".to_owned()),
            ("benign".to_owned(), "exit".to_owned()),
        ]
    );
    assert!(board["report"]["board"][2]["offset"].as_f64().unwrap() > 0.0);
    assert_eq!(board["report"]["board"][1]["offset"], Value::Null);

    // The planner edits the change afterwards: the session's board stays the one it was held
    // against when it ran.
    let planner = rig.app.person("planner", PERSON_PASSWORD).await;
    let mut change = planner
        .expect("GET", &format!("/api/changes/{CHANGE}"), None, 200)
        .await;
    change["script"] = json!("echo something-else\n");
    change["access_group_id"] = json!(rig.group);
    change["device_ids"] = json!([rig.device]);
    planner
        .expect("PUT", &format!("/api/changes/{CHANGE}"), Some(&change), 200)
        .await;
    let again = auditor
        .expect(
            "GET",
            &format!("/api/terminal-sessions/{id}/audit?view=board"),
            None,
            200,
        )
        .await;
    assert_eq!(again["report"], board["report"]);
    assert_eq!(again["script"], SCRIPT);

    let logs = auditor
        .expect(
            "GET",
            &format!("/api/terminal-sessions/{id}/audit?view=logs"),
            None,
            200,
        )
        .await;
    let text = logs["transcript"].as_str().unwrap();
    assert!(text.contains("echo planned-one\nplanned-one\n"), "{text}");
    assert!(!text.contains('\u{1b}'), "no escape sequences: {text:?}");

    let recording = auditor
        .send(
            "GET",
            &format!("/api/terminal-sessions/{id}/recording?download=true"),
            None,
        )
        .await;
    assert_eq!(recording.status(), 200);
    assert_eq!(
        recording.headers()["content-disposition"],
        format!("attachment; filename=\"session-{id}.cast\"").as_str()
    );
    let cast = recording.bytes().await.unwrap();
    assert_eq!(cast.as_ref(), rig.recording(id).await.as_slice());

    // The executor may not review; every opening above is in the trail.
    rig.member
        .expect("GET", "/api/terminal-sessions", None, 403)
        .await;
    let views: Vec<String> = rig
        .actions(&format!("terminal_session:{id}"))
        .await
        .into_iter()
        .filter(|(_, action, _)| action == "session.viewed")
        .map(|(actor, _, details)| format!("{actor} {}", details["view"].as_str().unwrap()))
        .collect();
    assert_eq!(
        views,
        [
            "auditor details",
            "auditor board",
            "auditor board",
            "auditor logs",
            "auditor recording_download"
        ]
    );
}

#[tokio::test]
async fn a_change_s_evidence_bundle_verifies_alone_and_names_what_was_altered() {
    let rig = Rig::start(Sshd::start().await.unwrap()).await;
    rig.short_session(&["echo planned-one"]).await;
    let bundle = trail::bundle_file(&rig.app, CHANGE).await;
    let summary = trail::verify_bundle_file(&rig.app, &bundle).unwrap();
    assert_eq!(
        (
            summary.recordings,
            summary.boards,
            summary.change_id.as_str()
        ),
        (1, 1, CHANGE)
    );
    // The change's registration, its request with its vote, the session's start and end.
    assert!(summary.events >= 6, "{summary}");

    // A recording replaced in the bundle is named by its session's end.
    let pristine = std::fs::read_to_string(&bundle).unwrap();
    trail::edit_bundle(&bundle, "recording", |recording| {
        let cast = recording["cast"]
            .as_str()
            .unwrap()
            .replace("planned-one", "planned-0ne");
        recording["cast"] = json!(cast);
    });
    let fault = trail::verify_bundle_file(&rig.app, &bundle).unwrap_err();
    assert!(fault.reason.contains("has SHA-256"), "{fault}");

    // A board that gives another score than the session sealed.
    std::fs::write(&bundle, &pristine).unwrap();
    trail::edit_bundle(&bundle, "board", |board| {
        board["report"]["score"] = json!(100)
    });
    let fault = trail::verify_bundle_file(&rig.app, &bundle).unwrap_err();
    assert!(fault.reason.contains("does not give the score"), "{fault}");

    // An event changed, even re-hashed, is no longer in the signed trail.
    std::fs::write(&bundle, &pristine).unwrap();
    trail::edit_bundle(&bundle, "proved", |proved| {
        if proved["event"]["action"] == "session.started" {
            proved["event"]["details"]["client_ip"] = json!("10.66.66.66");
            let hash = hex::encode(Sha256::digest(proved["event"].to_string().as_bytes()));
            proved["hash"] = json!(hash);
        }
    });
    let fault = trail::verify_bundle_file(&rig.app, &bundle).unwrap_err();
    assert!(fault.reason.contains("not in the signed trail"), "{fault}");

    // An event left out (the session's end, with its recording still there) is caught by the
    // bundle's signed list of events.
    std::fs::write(&bundle, &pristine).unwrap();
    let without_end: Vec<&str> = pristine
        .lines()
        .filter(|line| !line.contains("\"action\":\"session.ended\""))
        .collect();
    std::fs::write(&bundle, without_end.join("\n")).unwrap();
    let fault = trail::verify_bundle_file(&rig.app, &bundle).unwrap_err();
    assert!(fault.reason.contains("signed list names"), "{fault}");

    // A second recording for the session rides along: refused.
    std::fs::write(&bundle, &pristine).unwrap();
    let recording = pristine
        .lines()
        .find(|line| line.starts_with("{\"recording\""))
        .unwrap()
        .to_owned();
    std::fs::write(&bundle, format!("{pristine}{recording}\n")).unwrap();
    let fault = trail::verify_bundle_file(&rig.app, &bundle).unwrap_err();
    assert!(fault.reason.contains("two recordings"), "{fault}");

    // The download is audited; an unknown change has no bundle.
    let exported: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit_events WHERE action = 'change.evidence_exported'",
    )
    .fetch_all(rig.app.db.pool())
    .await
    .unwrap();
    assert_eq!(exported.len(), 1);
}

#[tokio::test]
async fn a_session_at_its_recording_limit_closes_with_a_whole_sealed_recording() {
    let app = TestApp::spawn_with(&[("CHANGEAUDIT_RECORDING_MAX_MIB", "1")]).await;
    let rig = Rig::on(app, Sshd::start().await.unwrap()).await;
    let mut terminal = rig.approved_terminal().await;
    // Three megabytes of output against a one-mebibyte limit.
    terminal
        .type_text("head -c 2300000 /dev/zero | base64\r")
        .await;
    let (reason, told) = terminal.closed().await;
    assert_eq!(reason, EndReason::RecordingLimit, "{told}");
    assert!(told.contains("reached 1 MiB"), "{told}");
    let id = terminal.session_id.unwrap();
    let record = rig.session(id).await;
    assert_eq!(record["end_reason"], "recording_limit");
    // The recording is whole asciicast, about the limit, and its seal matches it.
    let recording = rig.recording(id).await;
    assert!(
        recording.len() >= 1 << 20 && recording.len() < (1 << 20) + (1 << 18),
        "{}",
        recording.len()
    );
    Cast::parse(std::str::from_utf8(&recording).unwrap()).unwrap();
    assert_eq!(record["recording_bytes"], recording.len());
    assert_eq!(
        record["recording_sha256"],
        hex::encode(Sha256::digest(&recording))
    );
    let export = trail::export_file(&rig.app).await;
    assert_eq!(
        trail::verify(&rig.app, &export).await.unwrap().recordings,
        1
    );
}

#[tokio::test]
async fn terminals_opened_at_once_are_held_to_the_limit_all_the_same() {
    let app = TestApp::spawn_with(&[("CHANGEAUDIT_TERMINALS_PER_PERSON", "1")]).await;
    let rig = Rig::on(app, Sshd::start().await.unwrap()).await;
    rig.approve(rig.password_credential).await;
    // Four at once: each counts none running before it connects; only one may be stored.
    let opening = (0..4).map(|_| Terminal::open(&rig.member, rig.password_credential));
    let mut terminals = futures_util::future::join_all(opening).await;
    let mut opened = 0;
    for terminal in &mut terminals {
        if terminal.prompt_or_closed().await {
            opened += 1;
        } else {
            let (reason, told) = terminal.closed.clone().unwrap();
            assert_eq!(reason, EndReason::Refused, "{told}");
            assert!(told.contains("the most one person may (1)"), "{told}");
        }
    }
    assert_eq!(opened, 1);
    let running: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM terminal_sessions WHERE status = 'running'")
            .fetch_one(rig.app.db.pool())
            .await
            .unwrap();
    assert_eq!(running, 1);
}

/// A small tmpfs for recordings, unmounted when dropped: a disk that fills.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(bytes: u64) -> SmallDisk {
        let dir = tempfile::tempdir().unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("mount (this test mounts a small tmpfs, as root)");
        assert!(mounted.success(), "mounting a tmpfs needs root");
        SmallDisk { dir }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}

#[tokio::test]
async fn a_recordings_disk_that_fills_mid_session_leaves_a_whole_recording_whose_seal_verifies() {
    let disk = SmallDisk::mount(2 << 20);
    let folder = disk.dir.path().to_str().unwrap().to_owned();
    // No free-space floor: the disk is let fill to the last byte.
    let settings = [
        ("CHANGEAUDIT_RECORDINGS_DIR", folder.as_str()),
        ("CHANGEAUDIT_RECORDINGS_MIN_FREE_MIB", "0"),
    ];
    let app = TestApp::spawn_with(&settings).await;
    let rig = Rig::on(app, Sshd::start().await.unwrap()).await;
    let mut terminal = rig.approved_terminal().await;
    terminal
        .type_text("head -c 4000000 /dev/zero | base64\r")
        .await;
    let (reason, told) = terminal.closed().await;
    assert_eq!(reason, EndReason::RecordingFailed, "{told}");
    let id = terminal.session_id.unwrap();
    let record = rig.session(id).await;
    assert_eq!(record["end_reason"], "recording_failed");

    // Cut back to its last whole event: valid asciicast, and the seal is the file's.
    let name: String = sqlx::query_scalar("SELECT recording FROM terminal_sessions WHERE id = $1")
        .bind(id)
        .fetch_one(rig.app.db.pool())
        .await
        .unwrap();
    let recording = std::fs::read(disk.dir.path().join(&name)).unwrap();
    assert!(recording.ends_with(b"\n"));
    Cast::parse(std::str::from_utf8(&recording).unwrap()).unwrap();
    assert_eq!(record["recording_bytes"], recording.len());
    assert_eq!(
        record["recording_sha256"],
        hex::encode(Sha256::digest(&recording))
    );
    let ended = rig
        .actions(&format!("terminal_session:{id}"))
        .await
        .into_iter()
        .find(|(_, action, _)| action == "session.ended")
        .unwrap();
    let cut = ended.2["recording_cut"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(cut.contains("No space left"), "{}", ended.2);

    // The trail, with the recordings of that disk, verifies.
    let export = trail::export_file(&rig.app).await;
    let anchors = changeaudit_backend::trail::verify::Anchors {
        first_key: changeaudit_backend::trail::key::TrailKey::load(
            &rig.app.dir().join("trail.key"),
        )
        .unwrap()
        .verifying_key(),
        trusted: None,
    };
    let store = changeaudit_backend::recordings::LocalFolder::new(disk.dir.path().to_owned());
    let summary = changeaudit_backend::trail::verify::verify_file(&export, anchors, Some(&store))
        .await
        .unwrap();
    assert_eq!(summary.recordings, 1);
}

/// Takes `bytes` of the disk at `dir` with a file of its own.
fn fill(dir: &std::path::Path, name: &str, bytes: usize) {
    std::fs::write(dir.join(name), vec![0_u8; bytes]).unwrap();
}

#[tokio::test]
async fn below_the_free_space_floor_no_session_starts_and_running_ones_are_warned_then_closed() {
    let disk = SmallDisk::mount(8 << 20);
    let folder = disk.dir.path().to_str().unwrap().to_owned();
    let settings = [
        ("CHANGEAUDIT_RECORDINGS_DIR", folder.as_str()),
        ("CHANGEAUDIT_RECORDINGS_MIN_FREE_MIB", "4"),
    ];
    let rig = Rig::on(
        TestApp::spawn_with(&settings).await,
        Sshd::start().await.unwrap(),
    )
    .await;
    rig.approve(rig.password_credential).await;

    // 3 MiB free, below the 4 MiB floor: refused, saying why.
    fill(disk.dir.path(), "ballast", 5 << 20);
    let mut refused = Terminal::open(&rig.member, rig.password_credential).await;
    let (reason, told) = refused.closed().await;
    assert_eq!(reason, EndReason::RecordingFailed);
    assert!(told.contains("below the floor of 4 MiB"), "{told}");

    // Room again: it starts. Then the volume fills: a warning, then the session is closed.
    std::fs::remove_file(disk.dir.path().join("ballast")).unwrap();
    let mut terminal = Terminal::open(&rig.member, rig.password_credential).await;
    terminal
        .until(|t| t.output.ends_with("$ "), "the prompt")
        .await;
    fill(disk.dir.path(), "ballast", 5 << 20);
    terminal
        .until(
            |t| !t.warnings.is_empty(),
            "the warning that the volume is nearly full",
        )
        .await;
    assert!(
        terminal.warnings[0].contains("nearly full"),
        "{:?}",
        terminal.warnings
    );
    fill(disk.dir.path(), "more-ballast", (3 << 20) / 2);
    let (reason, told) = terminal.closed().await;
    assert_eq!(reason, EndReason::RecordingFailed, "{told}");
    assert!(
        told.contains("before the recordings' volume filled"),
        "{told}"
    );
    let record = rig.session(terminal.session_id.unwrap()).await;
    assert_eq!(record["end_reason"], "recording_failed");
    assert!(record["recording_sha256"].is_string());
}

#[tokio::test]
async fn one_terminal_more_than_a_person_may_run_is_refused_saying_so() {
    let app = TestApp::spawn_with(&[("CHANGEAUDIT_TERMINALS_PER_PERSON", "1")]).await;
    let rig = Rig::on(app, Sshd::start().await.unwrap()).await;
    let mut first = rig.approved_terminal().await;
    let mut second = Terminal::open(&rig.member, rig.password_credential).await;
    let (reason, told) = second.closed().await;
    assert_eq!(reason, EndReason::Refused);
    assert_eq!(
        told,
        "You have 1 terminal session(s) running, the most one person may (1): close one first."
    );
    // Closed, the first makes room.
    first.type_text("exit\r").await;
    first.closed().await;
    let mut third = Terminal::open(&rig.member, rig.password_credential).await;
    third
        .until(|t| t.output.ends_with("$ "), "the prompt")
        .await;
}

#[tokio::test]
async fn a_message_over_the_limit_closes_the_session_with_1009_and_says_so() {
    let rig = Rig::start(Sshd::start().await.unwrap()).await;
    let mut terminal = rig.approved_terminal().await;
    let id = terminal.session_id.unwrap();
    // A paste of 5 MiB in one message, over the 4 MiB a message may hold.
    let paste = serde_json::to_string(&ClientMessage::Input {
        data: "x".repeat(5 << 20),
    })
    .unwrap();
    terminal.send_text(paste).await;
    assert_eq!(terminal.close_code().await, Some(1009));
    let (reason, told) = terminal.closed.clone().expect("a closed message");
    assert_eq!(reason, EndReason::MessageTooLarge);
    assert!(
        told.contains("over the 4096 KiB a message may hold"),
        "{told}"
    );
    let record = wait_for_end(&rig, id).await;
    assert_eq!(record["end_reason"], "message_too_large");
}

#[tokio::test]
async fn bulk_output_is_recorded_byte_for_byte_as_the_browser_was_sent_it() {
    let rig = Rig::start(Sshd::start().await.unwrap()).await;
    let mut terminal = rig.approved_terminal().await;
    // About 5.4 MB of output in reads of every size, which the broker takes in pieces as they
    // come; the end is printed by an expression, so the typed line never matches it.
    terminal
        .type_text("head -c 4000000 /dev/urandom | base64; echo BULK-$((1+1))-DONE\r")
        .await;
    terminal
        .until(
            |t| {
                let tail = &t.output.as_bytes()[t.output.len().saturating_sub(64)..];
                t.output.ends_with("$ ") && tail.windows(11).any(|seen| seen == b"BULK-2-DONE")
            },
            "the end of the output",
        )
        .await;
    terminal.type_text("exit\r").await;
    terminal.closed().await;
    let recorded = recorded_output(&rig.recording(terminal.session_id.unwrap()).await);
    assert!(
        terminal.output.len() > 5_000_000,
        "{}",
        terminal.output.len()
    );
    assert_eq!(recorded.len(), terminal.output.len());
    assert!(
        recorded == terminal.output,
        "the recording differs from what was sent"
    );
}
