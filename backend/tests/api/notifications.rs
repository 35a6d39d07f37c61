//! Notices leave the app: e-mail to a real SMTP receiver (aiosmtpd on loopback) and webhook calls
//! to a local HTTP receiver that checks each call's signature. A failed delivery is tried again
//! later and never holds up the flow.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use changeaudit_backend::notifications::delivery::{self, SIGNATURE_HEADER};
use changeaudit_e2e::SmtpReceiver;
use serde_json::{Value, json};

use crate::fixtures::{PASSWORD, credential, device};
use crate::helpers::{ADMIN_PASSWORD, Person, TestApp};
use crate::{logs, trail};

const SECRET: &str = "webhook secret for the tests";
/// The part of the webhook's URL that is a key.
const HOOK_KEY: &str = "hook-key-93fd";

/// A webhook receiver: it refuses the first call with 503 (to be tried again), then takes
/// every call whose signature is right, and keeps what it took.
#[derive(Clone, Default)]
struct Receiver {
    calls: Arc<Mutex<Vec<(String, Value)>>>,
    refused_once: Arc<Mutex<bool>>,
    bad_signatures: Arc<Mutex<usize>>,
}

impl Receiver {
    async fn start(&self) -> String {
        let receiver = self.clone();
        let app = axum::Router::new().route(
            "/hook/T0001/B0002/hook-key-93fd",
            post(move |headers: HeaderMap, body: Bytes| {
                let receiver = receiver.clone();
                async move { receiver.take(&headers, &body) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        // A chat service's kind of URL: the key is in its path.
        format!("http://{address}/hook/T0001/B0002/{HOOK_KEY}")
    }

    fn take(&self, headers: &HeaderMap, body: &[u8]) -> StatusCode {
        let mut refused = self.refused_once.lock().unwrap();
        if !*refused {
            *refused = true;
            return StatusCode::SERVICE_UNAVAILABLE;
        }
        let signature = headers
            .get(SIGNATURE_HEADER)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        if delivery::signature(SECRET.as_bytes(), body).as_deref() != Ok(signature) {
            *self.bad_signatures.lock().unwrap() += 1;
            return StatusCode::UNAUTHORIZED;
        }
        let event = headers["x-changeaudit-event"].to_str().unwrap().to_owned();
        self.calls
            .lock()
            .unwrap()
            .push((event, serde_json::from_slice(body).unwrap()));
        StatusCode::NO_CONTENT
    }
}

async fn set_email(app: &TestApp, username: &str, email: &str) -> i64 {
    sqlx::query("UPDATE users SET email = $2 WHERE username = $1")
        .bind(username)
        .bind(email)
        .execute(app.db.pool())
        .await
        .unwrap();
    sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
        .bind(username)
        .fetch_one(app.db.pool())
        .await
        .unwrap()
}

/// A group of one approver (no passkey needed) granting one credential to an executor, and a
/// change in whose window the clock stands.
async fn world(app: &TestApp) -> (Person, Person, i64) {
    app.add_user("planner", PASSWORD, &["planner"]).await;
    app.add_user("executor", PASSWORD, &[]).await;
    app.add_user("approver", PASSWORD, &[]).await;
    let executor = set_email(app, "executor", "executor@example.org").await;
    let approver = set_email(app, "approver", "approver@example.org").await;
    let admin = app.person("admin", ADMIN_PASSWORD).await;
    let device = device(&admin, "db-1").await;
    let credential = credential(&admin, device, "postgres", "pw").await;
    let group = admin
        .create(
            "/api/access-groups",
            &json!({
                "name": "ops",
                "passkey_required_to_approve": false,
                "members": [
                    { "user_id": executor, "executor": true, "approver": false },
                    { "user_id": approver, "executor": false, "approver": true },
                ],
                "credential_ids": [credential],
            }),
        )
        .await;
    app.person("planner", PASSWORD)
        .await
        .expect(
            "POST",
            "/api/changes",
            Some(&json!({
                "id": "CHG-5",
                "title": "Rotate the logs",
                "start_at": "2025-12-31T23:00:00Z",
                "due_at": "2026-01-01T05:00:00Z",
                "access_group_id": group,
                "device_ids": [device],
                "script": "logrotate -f /etc/logrotate.conf\n",
            })),
            201,
        )
        .await;
    (
        app.person("executor", PASSWORD).await,
        app.person("approver", PASSWORD).await,
        credential,
    )
}

async fn deliveries(app: &TestApp) -> Vec<(String, String, String, i64)> {
    sqlx::query_as("SELECT channel, target, status, attempts FROM deliveries ORDER BY id")
        .fetch_all(app.db.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn notices_go_out_by_email_and_by_signed_webhook_with_retries() {
    let smtp = SmtpReceiver::start().await.unwrap();
    let receiver = Receiver::default();
    let hook = receiver.start().await;
    let app = TestApp::spawn_with(&[
        ("CHANGEAUDIT_SMTP_URL", &smtp.url()),
        (
            "CHANGEAUDIT_SMTP_FROM",
            "changeaudit <changeaudit@example.org>",
        ),
        ("CHANGEAUDIT_PUBLIC_URL", "https://changeaudit.example.org"),
        ("CHANGEAUDIT_WEBHOOK_URL", &hook),
        ("CHANGEAUDIT_WEBHOOK_SECRET", SECRET),
    ])
    .await;
    let (executor, approver, credential) = world(&app).await;

    let asked = executor
        .expect(
            "POST",
            "/api/requests",
            Some(&json!({ "credential_id": credential })),
            201,
        )
        .await;
    let id = asked["request"]["id"].as_i64().unwrap();
    // Queued with the request: one e-mail to the approver, one webhook call.
    assert_eq!(
        deliveries(&app).await,
        [
            (
                "email".to_owned(),
                "approver@example.org".to_owned(),
                "pending".to_owned(),
                0
            ),
            (
                "webhook".to_owned(),
                endpoint(&hook),
                "pending".to_owned(),
                0
            ),
        ]
    );
    assert_eq!(delivery::send_due(&app.state).await.unwrap(), 2);
    let mail = smtp.messages().unwrap();
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].header("To"), Some("approver@example.org"));
    assert_eq!(
        mail[0].header("Subject"),
        Some("[changeaudit] executor asks to run CHG-5 on db-1")
    );
    assert!(
        mail[0]
            .raw
            .contains(&format!("https://changeaudit.example.org/requests/{id}")),
        "{}",
        mail[0].raw
    );
    // The receiver refused the first call: it waits for its next try.
    let after_first = deliveries(&app).await;
    assert_eq!(
        (after_first[0].2.as_str(), after_first[1].2.as_str()),
        ("sent", "pending")
    );
    assert_eq!(
        delivery::send_due(&app.state).await.unwrap(),
        0,
        "not before its pause"
    );
    app.advance(Duration::from_secs(31));
    assert_eq!(delivery::send_due(&app.state).await.unwrap(), 1);
    assert_eq!(deliveries(&app).await[1].2, "sent");
    {
        let calls = receiver.calls.lock().unwrap();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].0, "request_created");
        assert_eq!(calls[0].1["request_id"], id);
        assert_eq!(calls[0].1["recipients"], json!(["approver"]));
    }

    // The decision reaches the requester the same ways.
    approver
        .expect(
            "POST",
            &format!("/api/requests/{id}/decisions"),
            Some(&json!({ "decision": "approved" })),
            200,
        )
        .await;
    assert_eq!(delivery::send_due(&app.state).await.unwrap(), 2);
    let mail = smtp.messages().unwrap();
    assert_eq!(mail.len(), 2);
    assert_eq!(mail[1].header("To"), Some("executor@example.org"));
    assert_eq!(
        mail[1].header("Subject"),
        Some("[changeaudit] Your request to run CHG-5 on db-1 is approved")
    );
    assert_eq!(receiver.calls.lock().unwrap()[1].0, "request_approved");
    assert_eq!(*receiver.bad_signatures.lock().unwrap(), 0);

    let actions: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit_events WHERE action LIKE 'notification.%' ORDER BY seq",
    )
    .fetch_all(app.db.pool())
    .await
    .unwrap();
    assert_eq!(
        actions,
        [
            "notification.posted",
            "notification.sent",
            "notification.retrying",
            "notification.sent",
            "notification.posted",
            "notification.sent",
            "notification.sent",
        ]
    );

    // The URL's key is nowhere but in the configuration: not in an event, an export, a row of
    // the queue or a log line.
    let events: Vec<String> = sqlx::query_scalar("SELECT details FROM audit_events")
        .fetch_all(app.db.pool())
        .await
        .unwrap();
    assert!(
        events
            .iter()
            .any(|details| details.contains(&endpoint(&hook)))
    );
    assert!(events.iter().all(|details| !details.contains(HOOK_KEY)));
    let export = std::fs::read_to_string(trail::export_file(&app).await).unwrap();
    assert!(!export.contains(HOOK_KEY));
    assert!(
        deliveries(&app)
            .await
            .iter()
            .all(|(_, target, ..)| !target.contains(HOOK_KEY))
    );
    assert!(!logs::text().contains(HOOK_KEY), "a log line holds the key");
}

/// `http://host:port` of `url`: all the trail may show of it.
fn endpoint(url: &str) -> String {
    let rest = url.strip_prefix("http://").unwrap();
    format!("http://{}", &rest[..rest.find('/').unwrap()])
}

#[tokio::test]
async fn an_unreachable_mail_server_never_holds_up_the_flow() {
    // A port held but not listened on, for the whole test: connecting to it is refused, and no
    // receiver another test starts meanwhile can be handed it (a port merely let go could be).
    let closed = tokio::net::TcpSocket::new_v4().unwrap();
    closed.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let url = format!("smtp://{}", closed.local_addr().unwrap());
    let app = TestApp::spawn_with(&[("CHANGEAUDIT_SMTP_URL", &url)]).await;
    let (executor, approver, credential) = world(&app).await;
    let asked = executor
        .expect(
            "POST",
            "/api/requests",
            Some(&json!({ "credential_id": credential })),
            201,
        )
        .await;
    let id = asked["request"]["id"].as_i64().unwrap();
    assert_eq!(delivery::send_due(&app.state).await.unwrap(), 1);
    let (status, attempts, error): (String, i64, String) =
        sqlx::query_as("SELECT status, attempts, last_error FROM deliveries")
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    assert_eq!((status.as_str(), attempts), ("pending", 1));
    assert!(error.starts_with("SMTP:"), "{error}");
    // The approver still sees the request in the app and decides.
    assert_eq!(
        approver
            .expect("GET", "/api/me/notifications", None, 200)
            .await["unread"],
        1
    );
    approver
        .expect(
            "POST",
            &format!("/api/requests/{id}/decisions"),
            Some(&json!({ "decision": "approved" })),
            200,
        )
        .await;
    // Given up after the last attempt, and said so in the trail.
    for _ in 1..delivery::MAX_ATTEMPTS {
        app.advance(Duration::from_secs(3600));
        delivery::send_due(&app.state).await.unwrap();
    }
    // The first e-mail has had its ten attempts; the second (to the requester) one fewer.
    let statuses: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, attempts FROM deliveries ORDER BY id")
            .fetch_all(app.db.pool())
            .await
            .unwrap();
    assert_eq!(
        statuses,
        [
            ("failed".to_owned(), delivery::MAX_ATTEMPTS),
            ("pending".to_owned(), delivery::MAX_ATTEMPTS - 1),
        ]
    );
    let failed: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_events WHERE action = 'notification.failed'",
    )
    .fetch_one(app.db.pool())
    .await
    .unwrap();
    assert_eq!(failed, 1);
}

#[tokio::test]
async fn the_bell_counts_unread_notices_and_its_stream_pushes_them() {
    let app = TestApp::spawn().await;
    let (executor, approver, credential) = world(&app).await;
    let mut stream = approver
        .client
        .get(format!(
            "{}/api/me/notifications/stream",
            approver.address()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    let first = String::from_utf8(stream.chunk().await.unwrap().unwrap().to_vec()).unwrap();
    assert!(first.contains("\"unread\":0"), "{first}");
    executor
        .expect(
            "POST",
            "/api/requests",
            Some(&json!({ "credential_id": credential })),
            201,
        )
        .await;
    let pushed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let chunk = stream.chunk().await.unwrap().unwrap();
            let text = String::from_utf8(chunk.to_vec()).unwrap();
            if text.contains("event: inbox") {
                return text;
            }
        }
    })
    .await
    .expect("the new notice pushed within 5 s");
    assert!(pushed.contains("\"unread\":1"), "{pushed}");
    assert!(
        pushed.contains("executor asks to run CHG-5 on db-1"),
        "{pushed}"
    );
    let inbox = approver
        .expect("GET", "/api/me/notifications", None, 200)
        .await;
    let newest = inbox["items"][0]["id"].as_i64().unwrap();
    approver
        .expect(
            "POST",
            "/api/me/notifications/read",
            Some(&json!({ "up_to": newest })),
            204,
        )
        .await;
    let inbox = approver
        .expect("GET", "/api/me/notifications", None, 200)
        .await;
    assert_eq!(
        (
            inbox["unread"].as_i64(),
            inbox["items"][0]["read"].as_bool()
        ),
        (Some(0), Some(true))
    );
}

#[tokio::test]
async fn one_event_stream_more_than_a_person_may_hold_is_refused_saying_so() {
    let app = TestApp::spawn_with(&[("CHANGEAUDIT_STREAMS_PER_PERSON", "2")]).await;
    let admin = app.person("admin", ADMIN_PASSWORD).await;
    let open = || admin.send("GET", "/api/me/notifications/stream", None);
    let first = open().await;
    let second = open().await;
    assert_eq!(
        (first.status().as_u16(), second.status().as_u16()),
        (200, 200)
    );
    let third = open().await;
    assert_eq!(third.status(), 429);
    let refused: Value = third.json().await.unwrap();
    assert_eq!(
        refused["detail"],
        "You have 2 live notification streams open here, the most one person may: close a tab or two."
    );
    // Another person has their own share.
    app.add_user("other", PASSWORD, &[]).await;
    let other = app.person("other", PASSWORD).await;
    let theirs = other
        .send("GET", "/api/me/notifications/stream", None)
        .await;
    assert_eq!(theirs.status(), 200);
}

#[tokio::test]
async fn a_request_decided_leaves_no_other_approver_asked() {
    let app = TestApp::spawn().await;
    let (executor, approver, credential) = world(&app).await;
    // A second approver in group `ops`.
    let second = app.add_user("approver2", PASSWORD, &[]).await;
    let admin = app.person("admin", ADMIN_PASSWORD).await;
    let groups = admin.expect("GET", "/api/access-groups", None, 200).await;
    let mut group = groups["items"][0].clone();
    let id = group["id"].as_i64().unwrap();
    group["members"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "user_id": second, "executor": false, "approver": true }));
    group["credential_ids"] = json!([credential]);
    admin
        .expect(
            "PUT",
            &format!("/api/access-groups/{id}"),
            Some(&group),
            200,
        )
        .await;
    let other = app.person("approver2", PASSWORD).await;
    let asked = executor
        .expect(
            "POST",
            "/api/requests",
            Some(&json!({ "credential_id": credential })),
            201,
        )
        .await;
    let request = asked["request"]["id"].as_i64().unwrap();
    let unread = |inbox: &serde_json::Value| inbox["unread"].as_i64().unwrap();
    let inbox = other
        .expect("GET", "/api/me/notifications", None, 200)
        .await;
    assert_eq!(unread(&inbox), 1, "{inbox}");

    approver
        .expect(
            "POST",
            &format!("/api/requests/{request}/decisions"),
            Some(&json!({ "decision": "approved" })),
            200,
        )
        .await;
    // Decided: the other approver is no longer asked; the notice stays, read.
    let inbox = other
        .expect("GET", "/api/me/notifications", None, 200)
        .await;
    assert_eq!(unread(&inbox), 0, "{inbox}");
    assert_eq!(inbox["items"][0]["read"], true);
    let told = executor
        .expect("GET", "/api/me/notifications", None, 200)
        .await;
    assert_eq!(
        unread(&told),
        1,
        "the requester still hears of the decision: {told}"
    );
}
