//! The audit trail as stored: append-only in the database, chained, and written with the
//! changes it records.

use changeaudit_backend::db::Backend;
use changeaudit_backend::trail::audit;
use sqlx::Executor;

use crate::helpers::{ADMIN_PASSWORD, TestApp};

async fn actions(app: &TestApp) -> Vec<(i64, String, String)> {
    audit::load(&app.db)
        .await
        .unwrap()
        .unwrap()
        .into_iter()
        .map(|(event, _)| (event.seq, event.actor, event.action))
        .collect()
}

#[tokio::test]
async fn sign_in_and_out_are_recorded_after_the_first_admin_and_the_chain_verifies() {
    let app = TestApp::spawn().await;
    app.sign_in_as_admin().await;
    assert_eq!(app.sign_out().await.status(), 204);

    assert_eq!(
        actions(&app).await,
        vec![
            (1, "system".to_owned(), "user.created".to_owned()),
            (2, "admin".to_owned(), "session.signed_in".to_owned()),
            (3, "admin".to_owned(), "session.signed_out".to_owned()),
        ]
    );
    assert_eq!(audit::verify(&app.db).await.unwrap(), Ok(3));

    let details: Vec<String> = sqlx::query_scalar("SELECT details FROM audit_events ORDER BY seq")
        .fetch_all(app.db.pool())
        .await
        .unwrap();
    assert!(
        details[1].contains("\"client_ip\":\"127.0.0.1\""),
        "{}",
        details[1]
    );
    for text in &details {
        assert!(
            !text.contains(ADMIN_PASSWORD),
            "a secret reached the trail: {text}"
        );
        assert!(
            !text.contains("argon2"),
            "a password hash reached the trail: {text}"
        );
    }
}

#[tokio::test]
async fn the_database_refuses_to_update_or_delete_events() {
    let app = TestApp::spawn().await;
    let attempts = [
        "UPDATE audit_events SET actor = 'mallory' WHERE seq = 1",
        "DELETE FROM audit_events WHERE seq = 1",
        "DELETE FROM audit_events",
    ];
    for statement in attempts {
        let error = app.db.pool().execute(statement).await.unwrap_err();
        assert!(
            error.to_string().contains("append-only"),
            "{statement}: {error}"
        );
    }
    if app.db.backend() == Backend::Postgres {
        let error = app
            .db
            .pool()
            .execute("TRUNCATE audit_events")
            .await
            .unwrap_err();
        assert!(error.to_string().contains("append-only"), "{error}");
    }
    assert_eq!(audit::verify(&app.db).await.unwrap(), Ok(1));
}

#[tokio::test]
async fn an_event_changed_behind_the_triggers_back_is_named() {
    let app = TestApp::spawn().await;
    app.sign_in_as_admin().await;
    app.sign_in_as_admin().await;
    // Someone with the database's keys switches the protection off and edits an event.
    let (off, on) = match app.db.backend() {
        Backend::Sqlite => ("DROP TRIGGER audit_events_refuse_update", "SELECT 1"),
        Backend::Postgres => (
            "ALTER TABLE audit_events DISABLE TRIGGER USER",
            "ALTER TABLE audit_events ENABLE TRIGGER USER",
        ),
    };
    let mut connection = app.db.pool().acquire().await.unwrap();
    connection.execute(off).await.unwrap();
    connection
        .execute("UPDATE audit_events SET details = '{\"client_ip\":\"10.9.9.9\"}' WHERE seq = 2")
        .await
        .unwrap();
    connection.execute(on).await.unwrap();
    let broken = audit::verify(&app.db).await.unwrap().unwrap_err();
    assert_eq!(broken.seq, 2);
    assert!(
        broken.reason.contains("does not match its hash"),
        "{}",
        broken.reason
    );
}

#[tokio::test]
async fn replicas_appending_at_once_keep_one_unbroken_chain() {
    let first = TestApp::spawn().await;
    let second = first.replica().await;
    // Sixteen people at once (one account would be held to its allowance of attempts in flight).
    for index in 0..16 {
        first
            .add_user(&format!("person{index}"), ADMIN_PASSWORD, &[])
            .await;
    }
    let mut sign_ins = tokio::task::JoinSet::new();
    for index in 0..16 {
        let app = if index % 2 == 0 { &first } else { &second };
        let request = app.client.post(app.url("/api/session")).json(
            &serde_json::json!({"username": format!("person{index}"), "password": ADMIN_PASSWORD}),
        );
        sign_ins.spawn(async move { request.send().await.unwrap().status() });
    }
    while let Some(status) = sign_ins.join_next().await {
        assert_eq!(status.unwrap(), 200);
    }
    assert_eq!(audit::verify(&first.db).await.unwrap(), Ok(17));
}

#[tokio::test]
async fn every_administrative_operation_is_recorded_in_order_and_the_chain_still_verifies() {
    use serde_json::json;

    let app = TestApp::spawn().await;
    let world = crate::fixtures::World::build(&app).await;
    let (admin, planner) = (&world.admin, &world.planner);
    let user = admin
        .expect(
            "POST",
            "/api/users",
            Some(&json!({ "username": "eve", "display_name": "Eve", "password": "long enough password" })),
            201,
        )
        .await["id"]
        .as_i64()
        .unwrap();
    admin
        .expect(
            "PUT",
            &format!("/api/users/{user}"),
            Some(&json!({ "username": "eve", "display_name": "Eve A.", "enabled": false })),
            200,
        )
        .await;
    let group = format!("/api/access-groups/{}", world.group);
    admin
        .expect(
            "PUT",
            &group,
            Some(&json!({ "name": "dba", "approvals_required": 2 })),
            200,
        )
        .await;
    let device = world.devices[1];
    admin
        .expect(
            "PUT",
            &format!("/api/devices/{device}"),
            Some(&json!({ "name": "db-2", "host": "10.0.0.2", "host_key": crate::fixtures::HOST_KEY })),
            200,
        )
        .await;
    let credential = format!("/api/credentials/{}", world.credential);
    admin
        .expect(
            "PUT",
            &format!("{credential}/secret"),
            Some(&json!({ "kind": "password", "secret": "another-one" })),
            200,
        )
        .await;
    admin.expect("DELETE", &credential, None, 204).await;
    let spare = crate::fixtures::device(admin, "spare").await;
    admin
        .expect("DELETE", &format!("/api/devices/{spare}"), None, 204)
        .await;
    let spare_group = admin
        .expect(
            "POST",
            "/api/access-groups",
            Some(&json!({ "name": "spare" })),
            201,
        )
        .await["id"]
        .as_i64()
        .unwrap();
    admin
        .expect(
            "DELETE",
            &format!("/api/access-groups/{spare_group}"),
            None,
            204,
        )
        .await;
    let body = crate::fixtures::change_body("CHG-1", world.group, &world.devices);
    planner
        .expect("PUT", "/api/changes/CHG-1", Some(&body), 200)
        .await;
    planner
        .expect("POST", "/api/changes/CHG-1/cancel", None, 200)
        .await;

    let events: Vec<(String, String)> = audit::load(&app.db)
        .await
        .unwrap()
        .unwrap()
        .into_iter()
        .filter(|(event, _)| !event.action.starts_with("session."))
        .map(|(event, _)| (event.action, event.object.unwrap_or_default()))
        .collect();
    let [db1, db2] = world.devices;
    let expected: Vec<(String, String)> = [
        ("user.created", "user:1".to_owned()),
        ("device.created", format!("device:{db1}")),
        ("device.created", format!("device:{db2}")),
        (
            "credential.created",
            format!("credential:{}", world.credential),
        ),
        (
            "access_group.created",
            format!("access_group:{}", world.group),
        ),
        ("change.registered", "change:CHG-1".to_owned()),
        ("user.created", format!("user:{user}")),
        ("user.updated", format!("user:{user}")),
        (
            "access_group.updated",
            format!("access_group:{}", world.group),
        ),
        ("device.updated", format!("device:{db2}")),
        (
            "credential.secret_rotated",
            format!("credential:{}", world.credential),
        ),
        (
            "credential.deleted",
            format!("credential:{}", world.credential),
        ),
        ("device.created", format!("device:{spare}")),
        ("device.deleted", format!("device:{spare}")),
        (
            "access_group.created",
            format!("access_group:{spare_group}"),
        ),
        (
            "access_group.deleted",
            format!("access_group:{spare_group}"),
        ),
        ("change.edited", "change:CHG-1".to_owned()),
        ("change.cancelled", "change:CHG-1".to_owned()),
    ]
    .into_iter()
    .map(|(action, object)| (action.to_owned(), object))
    .collect();
    assert_eq!(events, expected);
    let total = audit::load(&app.db).await.unwrap().unwrap().len();
    assert_eq!(audit::verify(&app.db).await.unwrap(), Ok(total));
}
