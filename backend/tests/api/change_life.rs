//! A change's status follows what happens to it: in progress while its session runs, executed
//! when every device of it ran the whole script, partially executed or expired when its window
//! closes; each step audited, and the change read-only once its life has ended.

use std::time::Duration;

use changeaudit_backend::changes::life;
use changeaudit_backend::clock::Clock;
use changeaudit_backend::terminal::store::STALE_AFTER;
use changeaudit_e2e::{PASSWORD_USER, Sshd};
use changeaudit_shared::terminal::EndReason;
use serde_json::{Value, json};

use crate::fixtures::PASSWORD as PERSON_PASSWORD;
use crate::helpers::{Person, TestApp};
use crate::terminal::{CHANGE, Rig};
use crate::terminal_client::Terminal;

async fn status(person: &Person, change: &str) -> String {
    let change = person
        .expect("GET", &format!("/api/changes/{change}"), None, 200)
        .await;
    change["status"].as_str().unwrap().to_owned()
}

/// The planner's edit of CHG-7, which the rules may refuse.
async fn edit(app: &TestApp, rig: &Rig, expected: u16) -> Value {
    let planner = app.person("planner", PERSON_PASSWORD).await;
    let mut change = planner
        .expect("GET", &format!("/api/changes/{CHANGE}"), None, 200)
        .await;
    change["title"] = json!("Say two things, again");
    change["access_group_id"] = json!(rig.group);
    change["device_ids"] = json!([rig.device]);
    planner
        .expect(
            "PUT",
            &format!("/api/changes/{CHANGE}"),
            Some(&change),
            expected,
        )
        .await
}

async fn sweep(app: &TestApp) -> usize {
    let now = app.clock.now();
    life::close_due(&app.db, now, now.minus(STALE_AFTER))
        .await
        .unwrap()
}

#[tokio::test]
async fn a_change_run_through_its_session_is_in_progress_then_executed_and_shows_its_life() {
    let rig = Rig::start(Sshd::start().await.unwrap()).await;
    let app = &rig.app;
    let planner = app.person("planner", PERSON_PASSWORD).await;
    let mut terminal = rig.approved_terminal().await;
    assert_eq!(status(&rig.member, CHANGE).await, "in_progress");
    // While it runs, nobody may edit or cancel it under the executor's hands.
    let refused = edit(app, &rig, 409).await;
    assert!(refused.to_string().contains("in progress"), "{refused}");
    planner
        .expect("POST", &format!("/api/changes/{CHANGE}/cancel"), None, 409)
        .await;
    let listed = planner
        .expect("GET", "/api/changes?status=in_progress", None, 200)
        .await;
    assert_eq!(listed["total"], 1, "{listed}");

    terminal.run("echo planned-one").await;
    terminal.run("echo 'planned-two'").await;
    terminal.type_text("exit\r").await;
    terminal.closed().await;
    let session = terminal.session_id.unwrap();

    assert_eq!(status(&planner, CHANGE).await, "executed");
    assert_eq!(status(&rig.member, CHANGE).await, "executed");
    let refused = edit(app, &rig, 409).await;
    assert!(refused.to_string().contains("executed"), "{refused}");
    // An executed change is done: its approved request opens no terminal, and no new request
    // may be made under it.
    let refused = rig
        .member
        .expect(
            "POST",
            "/api/requests",
            Some(&json!({ "credential_id": rig.password_credential })),
            409,
        )
        .await;
    assert!(refused.to_string().contains("executed"), "{refused}");
    let mut again = Terminal::open(&rig.member, rig.password_credential).await;
    let (reason, message) = again.closed().await;
    assert_eq!(reason, EndReason::Refused, "{message}");

    let events = rig.actions(&format!("change:{CHANGE}")).await;
    let (actor, action, details) = events.last().unwrap();
    assert_eq!(
        (actor.as_str(), action.as_str()),
        ("system", "change.executed")
    );
    assert_eq!(details["last_session"], session);
    assert_eq!(details["sessions"][0]["device"], "sshd-1");

    let auditor = app.person("auditor", PERSON_PASSWORD).await;
    let life = auditor
        .expect("GET", &format!("/api/changes/{CHANGE}/life"), None, 200)
        .await;
    assert_eq!(life["sessions"].as_array().unwrap().len(), 1, "{life}");
    assert_eq!(life["sessions"][0]["id"], session);
    assert_eq!(life["sessions"][0]["username"], "member");
    assert_eq!(life["sessions"][0]["verdict"], "correct");
    assert_eq!(life["sessions"][0]["score"], 100);
    assert_eq!(life["requests"][0]["request"]["status"], "approved");
    assert_eq!(life["requests"][0]["decisions"][0]["approver"], "approver");
    assert_eq!(life["requests"][0]["decisions"][0]["decision"], "approved");
    // Each sees of it what they may see elsewhere: the executor their own session and
    // request; the planner, neither approver nor auditor, the status alone.
    let own = rig
        .member
        .expect("GET", &format!("/api/changes/{CHANGE}/life"), None, 200)
        .await;
    assert_eq!(own["sessions"][0]["id"], session);
    assert_eq!(own["requests"].as_array().unwrap().len(), 1);
    let planned = planner
        .expect("GET", &format!("/api/changes/{CHANGE}/life"), None, 200)
        .await;
    assert_eq!(planned, json!({ "requests": [], "sessions": [] }));
    // Its life is no more public than the change itself.
    app.add_user("outsider", PERSON_PASSWORD, &[]).await;
    app.person("outsider", PERSON_PASSWORD)
        .await
        .expect("GET", &format!("/api/changes/{CHANGE}/life"), None, 404)
        .await;
}

#[tokio::test]
async fn a_session_that_leaves_lines_out_leaves_the_change_open_until_its_window_closes() {
    let rig = Rig::start(Sshd::start().await.unwrap()).await;
    let app = &rig.app;
    rig.short_session(&["echo planned-one"]).await;
    // Lines are missing: the change may still be run again, or fixed.
    assert_eq!(status(&rig.member, CHANGE).await, "approved");
    assert_eq!(sweep(app).await, 0);

    app.clock.advance(Duration::from_secs(3600));
    let member = app.person("member", PERSON_PASSWORD).await;
    // Read as closed the moment the window closes, whether the sweep has run or not.
    assert_eq!(status(&member, CHANGE).await, "partially_executed");
    let refused = edit(app, &rig, 409).await;
    assert!(
        refused.to_string().contains("partially executed"),
        "{refused}"
    );
    assert_eq!(sweep(app).await, 1);
    assert_eq!(sweep(app).await, 0);
    assert_eq!(status(&member, CHANGE).await, "partially_executed");
    let events = rig.actions(&format!("change:{CHANGE}")).await;
    let (actor, action, _) = events.last().unwrap();
    assert_eq!(
        (actor.as_str(), action.as_str()),
        ("system", "change.partially_executed")
    );
}

#[tokio::test]
async fn a_change_nothing_ran_under_expires_at_its_due_date_and_the_sweep_audits_it() {
    let rig = Rig::start(Sshd::start().await.unwrap()).await;
    let app = &rig.app;
    rig.approve(rig.password_credential).await;
    assert_eq!(status(&rig.member, CHANGE).await, "approved");
    app.clock.advance(Duration::from_secs(3600));
    let member = app.person("member", PERSON_PASSWORD).await;
    assert_eq!(status(&member, CHANGE).await, "expired");
    assert_eq!(sweep(app).await, 1);
    let events = rig.actions(&format!("change:{CHANGE}")).await;
    let (actor, action, details) = events.last().unwrap();
    assert_eq!(
        (actor.as_str(), action.as_str()),
        ("system", "change.expired")
    );
    assert_eq!(details["reason"], "its due date passed");
    let planner = app.person("planner", PERSON_PASSWORD).await;
    planner
        .expect("POST", &format!("/api/changes/{CHANGE}/cancel"), None, 409)
        .await;
}

#[tokio::test]
async fn a_change_on_two_devices_is_executed_only_once_both_ran_the_whole_script() {
    let rig = Rig::start(Sshd::start().await.unwrap()).await;
    let app = &rig.app;
    // The same sshd as a second device, with its own credential in the group.
    let second = rig
        .admin
        .create(
            "/api/devices",
            &json!({
                "name": "sshd-2",
                "host": rig.sshd.address.ip().to_string(),
                "port": rig.sshd.address.port(),
                "host_key": rig.sshd.host_key,
            }),
        )
        .await;
    let credential = rig
        .admin
        .create(
            "/api/credentials",
            &json!({ "device_id": second, "username": PASSWORD_USER,
                     "kind": "password", "secret": rig.sshd.password }),
        )
        .await;
    rig.edit_group(|group| {
        group["credential_ids"] = json!([rig.password_credential, rig.key_credential, credential]);
    })
    .await;
    let planner = app.person("planner", PERSON_PASSWORD).await;
    let mut change = planner
        .expect("GET", &format!("/api/changes/{CHANGE}"), None, 200)
        .await;
    change["access_group_id"] = json!(rig.group);
    change["device_ids"] = json!([rig.device, second]);
    planner
        .expect("PUT", &format!("/api/changes/{CHANGE}"), Some(&change), 200)
        .await;

    rig.short_session(&["echo planned-one", "echo 'planned-two'"])
        .await;
    assert_eq!(status(&planner, CHANGE).await, "approved");

    rig.approve(credential).await;
    let mut terminal = Terminal::open(&rig.member, credential).await;
    terminal
        .until(|t| t.output.ends_with("$ "), "the prompt")
        .await;
    terminal.run("echo planned-one").await;
    terminal.run("echo 'planned-two'").await;
    terminal.type_text("exit\r").await;
    terminal.closed().await;
    assert_eq!(status(&planner, CHANGE).await, "executed");
    let events = rig.actions(&format!("change:{CHANGE}")).await;
    let (_, action, details) = events.last().unwrap();
    assert_eq!(action, "change.executed");
    let devices: Vec<&str> = details["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["device"].as_str().unwrap())
        .collect();
    assert_eq!(devices, ["sshd-1", "sshd-2"]);
}
