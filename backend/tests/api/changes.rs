//! Registering, editing and cancelling changes: every rule of SPEC.md flow 1 refuses with its
//! field named, and nothing is stored by a refused request.

use std::time::Duration;

use serde_json::{Value, json};

use crate::fixtures::{PASSWORD, World, change_body};
use crate::helpers::{TestApp, fields};

async fn count_changes(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM changes")
        .fetch_one(app.db.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn each_rule_of_a_change_refuses_with_its_field_named() {
    let app = TestApp::spawn().await;
    let world = World::build(&app).await;
    let valid = change_body("CHG-2", world.group, &world.devices);
    let with = |key: &str, value: Value| {
        let mut body = valid.clone();
        body[key] = value;
        body
    };
    let cases = [
        ("missing ID", with("id", json!("")), "id", "is required"),
        (
            "ID with a space",
            with("id", json!("CHG 2")),
            "id",
            "letters, digits",
        ),
        (
            "duplicate ID",
            with("id", json!("CHG-1")),
            "id",
            "already registered",
        ),
        (
            "duplicate ID in another case",
            with("id", json!("chg-1")),
            "id",
            "already registered",
        ),
        (
            "missing title",
            with("title", json!("  ")),
            "title",
            "is required",
        ),
        (
            "missing start",
            with("start_at", json!("")),
            "start_at",
            "is required",
        ),
        (
            "unreadable start",
            with("start_at", json!("next tuesday")),
            "start_at",
            "RFC 3339",
        ),
        (
            "due before start",
            with("due_at", json!("2026-01-02T21:00:00Z")),
            "due_at",
            "after the start",
        ),
        (
            "due at start",
            with("due_at", json!("2026-01-02T22:00:00Z")),
            "due_at",
            "after the start",
        ),
        (
            "due already past",
            json!({"start_at": "2025-12-01T00:00:00Z", "due_at": "2025-12-02T00:00:00Z"}),
            "due_at",
            "already past",
        ),
        (
            "no access group",
            with("access_group_id", Value::Null),
            "access_group_id",
            "is required",
        ),
        (
            "unknown access group",
            with("access_group_id", json!(9999)),
            "access_group_id",
            "no such access group",
        ),
        (
            "no device",
            with("device_ids", json!([])),
            "device_ids",
            "at least one device",
        ),
        (
            "unknown device",
            with("device_ids", json!([world.devices[0], 9999])),
            "device_ids[1]",
            "no such device",
        ),
        (
            "same device twice",
            with("device_ids", json!([world.devices[0], world.devices[0]])),
            "device_ids[1]",
            "twice",
        ),
        (
            "empty script",
            with("script", json!("# only a comment\n\n")),
            "script",
            "is empty",
        ),
        (
            "unparsable script",
            with("script", json!("ls\necho 'unclosed\n")),
            "script",
            "line 2:",
        ),
    ];
    for (case, body, field, detail) in cases {
        let body = if case == "due already past" {
            let mut merged = valid.clone();
            merged["start_at"] = body["start_at"].clone();
            merged["due_at"] = body["due_at"].clone();
            merged
        } else {
            body
        };
        let problem = world
            .planner
            .expect("POST", "/api/changes", Some(&body), 422)
            .await;
        assert_eq!(problem["status"], 422, "{case}");
        assert_eq!(fields(&problem), [field], "{case}: {problem}");
        let said = problem["errors"][0]["detail"].as_str().unwrap();
        assert!(
            said.contains(detail),
            "{case}: `{said}` should say `{detail}`"
        );
    }
    assert_eq!(
        count_changes(&app).await,
        1,
        "only the world's change exists"
    );
}

#[tokio::test]
async fn an_empty_body_names_every_missing_field_at_once() {
    let app = TestApp::spawn().await;
    let world = World::build(&app).await;
    let problem = world
        .planner
        .expect("POST", "/api/changes", Some(&json!({})), 422)
        .await;
    assert_eq!(
        fields(&problem),
        [
            "id",
            "title",
            "start_at",
            "due_at",
            "access_group_id",
            "device_ids",
            "script"
        ]
    );
}

#[tokio::test]
async fn a_registered_change_is_listed_filtered_and_read_back() {
    let app = TestApp::spawn().await;
    let world = World::build(&app).await;
    let mut other = change_body("CHG-7", world.group, &world.devices[1..]);
    other["title"] = json!("Restart the cache");
    other["start_at"] = json!("2026-02-01T10:00:00+02:00");
    other["due_at"] = json!("2026-02-01T12:00:00+02:00");
    let created = world
        .planner
        .expect("POST", "/api/changes", Some(&other), 201)
        .await;
    assert_eq!(created["status"], "waiting_approval");
    assert_eq!(created["author"], "planner");
    assert_eq!(created["start_at"], "2026-02-01T08:00:00Z");
    assert_eq!(
        created["devices"],
        json!([{ "id": world.devices[1], "name": "db-2" }])
    );
    assert_eq!(created["access_group"]["name"], "dba");

    let ids = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = world.auditor.expect("GET", "/api/changes", None, 200).await;
    assert_eq!(ids(&all), ["CHG-7", "CHG-1"], "latest window first");
    assert_eq!(all["total"], 2);
    let search = world
        .auditor
        .expect("GET", "/api/changes?q=cache", None, 200)
        .await;
    assert_eq!(ids(&search), ["CHG-7"]);
    let on_db1 = format!("/api/changes?device_id={}", world.devices[0]);
    assert_eq!(
        ids(&world.auditor.expect("GET", &on_db1, None, 200).await),
        ["CHG-1"]
    );
    let window = "/api/changes?from=2026-01-15T00:00:00Z&to=2026-03-01T00:00:00Z";
    assert_eq!(
        ids(&world.auditor.expect("GET", window, None, 200).await),
        ["CHG-7"]
    );
    let paged = world
        .auditor
        .expect("GET", "/api/changes?limit=1&offset=1", None, 200)
        .await;
    assert_eq!(
        (ids(&paged), paged["total"].as_i64()),
        (vec!["CHG-1".to_owned()], Some(2))
    );
    let waiting = world
        .auditor
        .expect("GET", "/api/changes?status=waiting_approval", None, 200)
        .await;
    assert_eq!(waiting["total"], 2);
    world
        .auditor
        .expect("GET", "/api/changes?status=finished", None, 400)
        .await;

    let read = world
        .member
        .expect("GET", "/api/changes/chg-7", None, 200)
        .await;
    assert_eq!(read["id"], "CHG-7", "IDs are found whatever their case");
    assert_eq!(read, created);
}

#[tokio::test]
async fn people_without_a_role_see_only_their_groups_changes() {
    let app = TestApp::spawn().await;
    let world = World::build(&app).await;
    let member = world.member.expect("GET", "/api/changes", None, 200).await;
    assert_eq!(member["total"], 1);
    let nobody = world.nobody.expect("GET", "/api/changes", None, 200).await;
    assert_eq!(nobody["total"], 0);
    world
        .nobody
        .expect("GET", "/api/changes/CHG-1", None, 404)
        .await;
}

#[tokio::test]
async fn editing_records_who_and_when_and_keeps_the_id() {
    let app = TestApp::spawn().await;
    let world = World::build(&app).await;
    app.add_user("second", PASSWORD, &["planner"]).await;
    let second = app.person("second", PASSWORD).await;
    app.advance(Duration::from_secs(60));
    let mut body = change_body("CHG-1", world.group, &world.devices);
    body["script"] = json!("psql -c 'VACUUM ANALYZE orders'\n");
    let edited = second
        .expect("PUT", "/api/changes/CHG-1", Some(&body), 200)
        .await;
    assert_eq!(edited["updated_by"], "second");
    assert_eq!(edited["author"], "planner");
    assert_eq!(edited["updated_at"], "2026-01-01T00:01:00Z");
    assert_ne!(edited["created_at"], edited["updated_at"]);

    body["id"] = json!("CHG-9");
    let problem = second
        .expect("PUT", "/api/changes/CHG-1", Some(&body), 422)
        .await;
    assert_eq!(fields(&problem), ["id"]);

    let events: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT actor, action, details FROM audit_events WHERE object = 'change:CHG-1' ORDER BY seq",
    )
    .fetch_all(app.db.pool())
    .await
    .unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(
        (events[1].0.as_str(), events[1].1.as_str()),
        ("second", "change.edited")
    );
    let details: Value = serde_json::from_str(&events[1].2).unwrap();
    assert!(
        details["before"]["script"]
            .as_str()
            .unwrap()
            .contains("systemctl")
    );
    assert!(
        !details["after"]["script"]
            .as_str()
            .unwrap()
            .contains("systemctl")
    );
}

#[tokio::test]
async fn a_cancelled_change_is_recorded_and_can_no_longer_be_edited() {
    let app = TestApp::spawn().await;
    let world = World::build(&app).await;
    let cancelled = world
        .planner
        .expect("POST", "/api/changes/CHG-1/cancel", None, 200)
        .await;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["updated_by"], "planner");
    let body = change_body("CHG-1", world.group, &world.devices);
    let problem = world
        .planner
        .expect("PUT", "/api/changes/CHG-1", Some(&body), 409)
        .await;
    assert_eq!(fields(&problem), ["status"]);
    world
        .planner
        .expect("POST", "/api/changes/CHG-1/cancel", None, 409)
        .await;
    let action: String = sqlx::query_scalar(
        "SELECT action FROM audit_events WHERE object = 'change:CHG-1' ORDER BY seq DESC LIMIT 1",
    )
    .fetch_one(app.db.pool())
    .await
    .unwrap();
    assert_eq!(action, "change.cancelled");
}

#[tokio::test]
async fn a_change_not_executed_by_its_due_date_is_expired() {
    let app = TestApp::spawn().await;
    let world = World::build(&app).await;
    app.advance(Duration::from_secs(2 * 24 * 3600));
    // Sign-in sessions have ended by then too.
    let auditor = app.person("auditor", PASSWORD).await;
    let planner = app.person("planner", PASSWORD).await;
    let change = auditor.expect("GET", "/api/changes/CHG-1", None, 200).await;
    assert_eq!(change["status"], "expired");
    let expired = auditor
        .expect("GET", "/api/changes?status=expired", None, 200)
        .await;
    assert_eq!(expired["total"], 1);
    let body = change_body("CHG-1", world.group, &world.devices);
    planner
        .expect("PUT", "/api/changes/CHG-1", Some(&body), 409)
        .await;
}
