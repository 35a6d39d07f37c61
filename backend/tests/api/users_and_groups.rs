//! Admin → Users and Access groups through the API.

use serde_json::json;

use crate::fixtures::World;
use crate::helpers::{ADMIN_PASSWORD, TestApp, fields};

#[tokio::test]
async fn an_admin_creates_a_user_who_signs_in_and_never_sees_a_password_echoed() {
    let app = TestApp::spawn().await;
    let world = World::build(&app).await;
    let body = json!({ "username": "grace", "display_name": "Grace Hopper", "email": "grace@example.org", "roles": ["planner", "auditor"], "enabled": true, "password": "compilers-are-fun" });
    let created = world
        .admin
        .expect("POST", "/api/users", Some(&body), 201)
        .await;
    assert_eq!(created["roles"], json!(["auditor", "planner"]));
    assert!(
        created.get("password").is_none() && !created.to_string().contains("compilers-are-fun")
    );
    let again = world.admin.expect("POST", "/api/users", Some(&json!({ "username": "GRACE", "display_name": "x", "password": "compilers-are-fun" })), 422).await;
    assert_eq!(fields(&again), ["username"]);
    let short = world
        .admin
        .expect(
            "POST",
            "/api/users",
            Some(&json!({ "username": "x", "display_name": "x", "password": "short" })),
            422,
        )
        .await;
    assert_eq!(fields(&short), ["password"]);

    let grace = app.person("grace", "compilers-are-fun").await;
    let me = grace.expect("GET", "/api/me", None, 200).await;
    assert_eq!(me["display_name"], "Grace Hopper");

    let planners = world
        .admin
        .expect("GET", "/api/users?role=planner", None, 200)
        .await;
    assert_eq!(planners["total"], 2);
    let found = world
        .admin
        .expect("GET", "/api/users?q=hopper", None, 200)
        .await;
    assert_eq!(found["items"][0]["username"], "grace");

    // Disabling ends her sessions at once.
    let id = created["id"].as_i64().unwrap();
    let mut update = body.clone();
    update["enabled"] = json!(false);
    update["password"] = json!("");
    world
        .admin
        .expect("PUT", &format!("/api/users/{id}"), Some(&update), 200)
        .await;
    grace.expect("GET", "/api/me", None, 401).await;
    let disabled = world
        .admin
        .expect("GET", "/api/users?enabled=false", None, 200)
        .await;
    assert_eq!(disabled["total"], 1);
}

#[tokio::test]
async fn the_last_enabled_admin_cannot_be_demoted_or_disabled() {
    let app = TestApp::spawn().await;
    let world = World::build(&app).await;
    let admin_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = 'admin'")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    let demote = json!({ "username": "admin", "display_name": "Administrator", "roles": ["planner"], "enabled": true });
    let problem = world
        .admin
        .expect("PUT", &format!("/api/users/{admin_id}"), Some(&demote), 409)
        .await;
    assert_eq!(fields(&problem), ["roles"]);
    let rename = json!({ "username": "root", "display_name": "Administrator", "roles": ["admin"], "enabled": true });
    let problem = world
        .admin
        .expect("PUT", &format!("/api/users/{admin_id}"), Some(&rename), 422)
        .await;
    assert_eq!(fields(&problem), ["username"]);
    // With a second admin, the first may step down.
    world.admin.expect("PUT", &format!("/api/users/{}", world.member_id), Some(&json!({ "username": "member", "display_name": "m", "roles": ["admin"], "enabled": true })), 200).await;
    world
        .admin
        .expect("PUT", &format!("/api/users/{admin_id}"), Some(&demote), 200)
        .await;
    let stepped_down = app.person("admin", ADMIN_PASSWORD).await;
    let me = stepped_down.expect("GET", "/api/me", None, 200).await;
    assert_eq!(me["roles"], json!(["planner"]));
    stepped_down.expect("GET", "/api/users", None, 403).await;
}

#[tokio::test]
async fn a_new_group_gets_the_specified_defaults_and_every_setting_round_trips() {
    let app = TestApp::spawn().await;
    let world = World::build(&app).await;
    let created = world
        .admin
        .expect(
            "POST",
            "/api/access-groups",
            Some(&json!({ "name": "network" })),
            201,
        )
        .await;
    assert_eq!(created["approvals_required"], 1);
    assert_eq!(created["passkey_required_to_approve"], true);
    assert_eq!(created["unplanned_sessions_allowed"], false);
    assert_eq!(created["justification_required"], false);
    assert_eq!(
        created["benign_commands"],
        json!([
            "ls", "pwd", "clear", "whoami", "id", "date", "history", "exit"
        ])
    );

    let planner_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = 'planner'")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    let settings = json!({
        "name": "network",
        "description": "Core routers",
        "justification_required": true,
        "approvals_required": 2,
        "passkey_required_to_approve": false,
        "unplanned_sessions_allowed": true,
        "benign_commands": ["ls", "uptime"],
        "members": [
            { "user_id": world.member_id, "executor": true, "approver": false },
            { "user_id": planner_id, "executor": false, "approver": true },
        ],
        "credential_ids": [world.credential],
    });
    let id = created["id"].as_i64().unwrap();
    let updated = world
        .admin
        .expect(
            "PUT",
            &format!("/api/access-groups/{id}"),
            Some(&settings),
            200,
        )
        .await;
    for key in [
        "description",
        "justification_required",
        "approvals_required",
        "passkey_required_to_approve",
        "unplanned_sessions_allowed",
        "benign_commands",
    ] {
        assert_eq!(updated[key], settings[key], "{key}");
    }
    assert_eq!(
        updated["members"],
        json!([
            { "user_id": world.member_id, "username": "member", "executor": true, "approver": false },
            { "user_id": planner_id, "username": "planner", "executor": false, "approver": true },
        ])
    );
    assert_eq!(
        updated["credentials"],
        json!([{ "id": world.credential, "name": "postgres@db-1" }])
    );
    let mine = world
        .admin
        .expect(
            "GET",
            &format!("/api/access-groups?member={planner_id}"),
            None,
            200,
        )
        .await;
    assert_eq!(mine["total"], 1);

    let mut bad = settings.clone();
    bad["approvals_required"] = json!(0);
    bad["members"] = json!([{ "user_id": 9999, "executor": true, "approver": false }, { "user_id": world.member_id, "executor": false, "approver": false }]);
    bad["credential_ids"] = json!([9999]);
    bad["name"] = json!("DBA");
    let problem = world
        .admin
        .expect("PUT", &format!("/api/access-groups/{id}"), Some(&bad), 422)
        .await;
    assert_eq!(fields(&problem), ["approvals_required", "members[1]"]);
    bad["approvals_required"] = json!(1);
    bad["members"] = json!([{ "user_id": 9999, "executor": true, "approver": false }]);
    let problem = world
        .admin
        .expect("PUT", &format!("/api/access-groups/{id}"), Some(&bad), 422)
        .await;
    assert_eq!(
        fields(&problem),
        ["name", "members[0]", "credential_ids[0]"]
    );

    let in_use = world
        .admin
        .expect(
            "DELETE",
            &format!("/api/access-groups/{}", world.group),
            None,
            409,
        )
        .await;
    assert_eq!(fields(&in_use), ["access_group"]);
}
