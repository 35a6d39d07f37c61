//! Sessions end with the person's rights: a terminal and a watcher's socket close, as
//! `revoked` and audited, within 5 s of the person being disabled, signing out, their sign-in
//! expiring, or losing the membership or role that let them in. Real sshd, real WebSocket
//! clients, on both databases.

use std::time::{Duration, Instant};

use changeaudit_e2e::Sshd;
use changeaudit_shared::terminal::EndReason;
use serde_json::{Value, json};

use crate::fixtures::PASSWORD as PERSON_PASSWORD;
use crate::helpers::Person;
use crate::terminal::Rig;
use crate::terminal_client::Terminal;
use crate::trail;

/// The promise: rights are asked again every 2 s, so this leaves room for a loaded machine.
const WITHIN: Duration = Duration::from_secs(5);

/// A running session of `member`, watched by `auditor`.
struct Watched {
    rig: Rig,
    terminal: Terminal,
    watcher: Terminal,
    auditor: Person,
    id: i64,
}

async fn watched() -> Watched {
    let rig = Rig::start(Sshd::start().await.unwrap()).await;
    let terminal = rig.approved_terminal().await;
    let id = terminal.session_id.unwrap();
    let auditor = rig.app.person("auditor", PERSON_PASSWORD).await;
    let watcher = Terminal::connect(&auditor, &format!("/api/terminal-sessions/{id}/watch"))
        .await
        .unwrap();
    Watched {
        rig,
        terminal,
        watcher,
        auditor,
        id,
    }
}

impl Watched {
    /// The watcher's socket closes as `revoked` within `WITHIN` of `since`, while the session
    /// it watched runs on; answers what the watcher was told.
    async fn watcher_revoked(&mut self, since: Instant) -> String {
        let (reason, told) = self.watcher.closed().await;
        assert_eq!(reason, EndReason::Revoked, "{told}");
        assert!(
            since.elapsed() < WITHIN,
            "closed {:?} after",
            since.elapsed()
        );
        self.terminal.run("echo still-running").await;
        told
    }

    /// The terminal closes as `revoked` within `WITHIN` of `since`; answers what it said.
    async fn terminal_revoked(&mut self, since: Instant) -> String {
        let (reason, told) = self.terminal.closed().await;
        assert_eq!(reason, EndReason::Revoked, "{told}");
        assert!(
            since.elapsed() < WITHIN,
            "closed {:?} after",
            since.elapsed()
        );
        told
    }

    /// The trail says why each ended, and still verifies.
    async fn audited(&self, why: &str, watch_why: &str) {
        let events = self
            .rig
            .actions(&format!("terminal_session:{}", self.id))
            .await;
        let ended = events
            .iter()
            .find(|(_, action, _)| action == "session.ended")
            .expect("a session.ended event");
        assert_eq!(ended.0, "member");
        assert_eq!(ended.2["reason"], "revoked");
        assert!(message(&ended.2).contains(why), "{}", ended.2);
        let watching = events
            .iter()
            .find(|(_, action, _)| action == "session.watching_revoked")
            .expect("a session.watching_revoked event");
        assert_eq!(watching.0, "auditor");
        assert_eq!(watching.2["reason"], "revoked");
        assert!(message(&watching.2).contains(watch_why), "{}", watching.2);
        trail::checkpoint(&self.rig.app).await;
        let export = trail::export_file(&self.rig.app).await;
        trail::verify(&self.rig.app, &export).await.unwrap();
    }

    /// Moves the test clock on by `by` as if that time had passed with the session running:
    /// its heartbeat moves with it (a jump would otherwise read as a server that went quiet).
    async fn time_passes(&self, by: Duration) {
        let then = self.rig.app.state.clock.now().plus(by);
        sqlx::query("UPDATE terminal_sessions SET heartbeat_at = $2 WHERE id = $1")
            .bind(self.id)
            .bind(then.as_millis())
            .execute(self.rig.app.db.pool())
            .await
            .unwrap();
        self.rig.app.advance(by);
    }
}

fn message(details: &Value) -> &str {
    details["message"].as_str().unwrap_or_default()
}

async fn user_id(watched: &Watched, username: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
        .bind(username)
        .fetch_one(watched.rig.app.db.pool())
        .await
        .unwrap()
}

/// Changes user `username` through the admin's API.
async fn edit_user(watched: &Watched, username: &str, edit: impl FnOnce(&mut Value)) {
    let path = format!("/api/users/{}", user_id(watched, username).await);
    let mut user = watched.rig.admin.expect("GET", &path, None, 200).await;
    edit(&mut user);
    watched
        .rig
        .admin
        .expect("PUT", &path, Some(&user), 200)
        .await;
}

#[tokio::test]
async fn a_disabled_person_s_terminal_and_watcher_close_as_revoked() {
    let mut watched = watched().await;
    let since = Instant::now();
    edit_user(&watched, "auditor", |user| user["enabled"] = json!(false)).await;
    let watch_told = watched.watcher_revoked(since).await;
    let since = Instant::now();
    edit_user(&watched, "member", |user| user["enabled"] = json!(false)).await;
    let told = watched.terminal_revoked(since).await;
    let why = "Your account was disabled.";
    assert!(told.contains(why), "{told}");
    assert!(watch_told.contains(why), "{watch_told}");
    watched.audited(why, why).await;
}

#[tokio::test]
async fn a_signed_out_person_s_terminal_and_watcher_close_as_revoked() {
    let mut watched = watched().await;
    let since = Instant::now();
    let answer = watched.auditor.send("DELETE", "/api/session", None).await;
    assert_eq!(answer.status(), 204);
    let watch_told = watched.watcher_revoked(since).await;
    let since = Instant::now();
    let answer = watched
        .rig
        .member
        .send("DELETE", "/api/session", None)
        .await;
    assert_eq!(answer.status(), 204);
    let told = watched.terminal_revoked(since).await;
    let why = "You signed out";
    assert!(told.contains(why), "{told}");
    assert!(watch_told.contains(why), "{watch_told}");
    watched.audited(why, why).await;
}

#[tokio::test]
async fn an_expired_sign_in_s_terminal_and_watcher_close_as_revoked() {
    let mut watched = watched().await;
    // Sign-ins expire after 30 idle minutes. The member uses theirs at minute 20, so at minute
    // 31 only the auditor's has expired; at minute 51 the member's has too, still inside the
    // change's window.
    watched.time_passes(Duration::from_secs(20 * 60)).await;
    watched.rig.member.expect("GET", "/api/me", None, 200).await;
    let since = Instant::now();
    watched.time_passes(Duration::from_secs(11 * 60)).await;
    let watch_told = watched.watcher_revoked(since).await;
    let since = Instant::now();
    watched.time_passes(Duration::from_secs(20 * 60)).await;
    let told = watched.terminal_revoked(since).await;
    let why = "Your sign-in expired.";
    assert!(told.contains(why), "{told}");
    assert!(watch_told.contains(why), "{watch_told}");
    watched.audited(why, why).await;
}

#[tokio::test]
async fn a_removed_member_s_terminal_and_a_demoted_watcher_close_as_revoked() {
    let mut watched = watched().await;
    let since = Instant::now();
    edit_user(&watched, "auditor", |user| user["roles"] = json!([])).await;
    let watch_told = watched.watcher_revoked(since).await;
    let member = user_id(&watched, "member").await;
    let path = format!("/api/access-groups/{}", watched.rig.group);
    let mut group = watched.rig.admin.expect("GET", &path, None, 200).await;
    let members = group["members"].as_array_mut().unwrap();
    members.retain(|entry| entry["user_id"] != member);
    let since = Instant::now();
    watched
        .rig
        .admin
        .expect("PUT", &path, Some(&group), 200)
        .await;
    let told = watched.terminal_revoked(since).await;
    assert!(told.contains("No access group of yours grants"), "{told}");
    assert!(watch_told.contains("auditor or admin role"), "{watch_told}");
    watched
        .audited("No access group of yours grants", "auditor or admin role")
        .await;
}

#[tokio::test]
async fn a_session_whose_person_keeps_their_rights_runs_on() {
    let mut watched = watched().await;
    // Three rights checks later, both still run and still carry the session.
    let later = Instant::now() + Duration::from_secs(7);
    let mut round = 0;
    while Instant::now() < later {
        round += 1;
        let line = format!("echo still-here-{round}");
        watched.terminal.run(&line).await;
        let expected = format!("still-here-{round}\r\n");
        watched
            .watcher
            .until(|w| w.output.contains(&expected), "the watched output")
            .await;
    }
    assert!(watched.terminal.closed.is_none());
    assert!(watched.watcher.closed.is_none());
}

#[tokio::test]
async fn a_device_repointed_after_approval_voids_it_and_stops_its_running_session() {
    let mut watched = watched().await;
    let rig = &watched.rig;
    let path = format!("/api/devices/{}", rig.device);
    let mut device = rig.admin.expect("GET", &path, None, 200).await;
    // The same name and pinned key, another port: where the vaulted password would go next.
    device["port"] = json!(device["port"].as_u64().unwrap() + 1);
    device["host_key"] = json!(rig.sshd.host_key);
    let since = Instant::now();
    rig.admin.expect("PUT", &path, Some(&device), 200).await;
    let told = watched.terminal_revoked(since).await;
    assert!(told.contains("No approved request covers you"), "{told}");
    let voided: (String, String) =
        sqlx::query_as("SELECT status, status_reason FROM requests ORDER BY id DESC LIMIT 1")
            .fetch_one(watched.rig.app.db.pool())
            .await
            .unwrap();
    assert_eq!(voided.0, "cancelled");
    assert!(
        voided.1.starts_with("device sshd-1 was changed"),
        "{voided:?}"
    );
}

#[tokio::test]
async fn an_approval_does_not_open_a_session_on_a_device_moved_behind_the_api() {
    let rig = Rig::start(Sshd::start().await.unwrap()).await;
    rig.approve(rig.password_credential).await;
    // Someone with the database moves the device without the API's voiding.
    sqlx::query("UPDATE devices SET host = 'localhost' WHERE id = $1")
        .bind(rig.device)
        .execute(rig.app.db.pool())
        .await
        .unwrap();
    let mut terminal = Terminal::open(&rig.member, rig.password_credential).await;
    let (reason, told) = terminal.closed().await;
    assert_eq!(reason, EndReason::Refused);
    assert!(
        told.starts_with("What was approved has changed since"),
        "{told}"
    );
    // The request is void now, so Start session asks for approval again rather than opening.
    let (status, reason): (String, String) =
        sqlx::query_as("SELECT status, status_reason FROM requests ORDER BY id DESC LIMIT 1")
            .fetch_one(rig.app.db.pool())
            .await
            .unwrap();
    assert_eq!(status, "cancelled");
    assert!(
        reason.starts_with("what it approved has changed since"),
        "{reason}"
    );
    let asked = rig
        .member
        .expect(
            "POST",
            "/api/requests",
            Some(&json!({ "credential_id": rig.password_credential })),
            201,
        )
        .await;
    assert_eq!(asked["outcome"], "requested");
}

#[tokio::test]
async fn typing_in_the_terminal_keeps_the_sign_in_from_going_idle() {
    let mut watched = watched().await;
    // Twenty minutes pass; the person types (no page asks the server anything meanwhile).
    watched.time_passes(Duration::from_secs(20 * 60)).await;
    watched.terminal.run("echo still-typing").await;
    let typed_at = watched.rig.app.state.clock.now().as_millis();
    // Within a rights check or two, the sign-in counts as used then.
    let used = async {
        let mut ticks = tokio::time::interval(Duration::from_millis(50));
        loop {
            ticks.tick().await;
            let last: Vec<i64> = sqlx::query_scalar(
                "SELECT s.last_seen_at FROM web_sessions s JOIN users u ON u.id = s.user_id
                 WHERE u.username = 'member'",
            )
            .fetch_all(watched.rig.app.db.pool())
            .await
            .unwrap();
            if last.contains(&typed_at) {
                return;
            }
        }
    };
    tokio::time::timeout(WITHIN, used)
        .await
        .expect("the sign-in was never counted as used");
    // Twenty more minutes: forty since sign-in, twenty since typing. The session runs on.
    watched.time_passes(Duration::from_secs(20 * 60)).await;
    watched.terminal.run("echo still-here").await;
    assert!(watched.terminal.closed.is_none());
}
