//! A small world for the tests of administration and changes: people with each role, a group,
//! devices, a credential and a change, all made through the API.

use serde_json::{Value, json};

use crate::helpers::{ADMIN_PASSWORD, Person, TestApp};

pub const PASSWORD: &str = "a long test password";
/// A real host key (made with `ssh-keygen -t ed25519`) and the fingerprint `ssh-keygen -lf` shows.
pub const HOST_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDhy9oJtCVFBp8gu4R0nK0VegOaV9EOlZFtsdmQ1H7tY";
pub const HOST_KEY_FINGERPRINT: &str = "SHA256:wlyCfEjKDT6nuhxaeb00qgydP98Sz5tvqbFL0xRNByM";

pub struct World {
    pub admin: Person,
    pub planner: Person,
    pub auditor: Person,
    /// Signed in, with no global role and in no group.
    pub nobody: Person,
    /// No global role; an executor of `group`, whose change is CHG-1.
    pub member: Person,
    pub member_id: i64,
    pub group: i64,
    pub devices: [i64; 2],
    pub credential: i64,
}

impl World {
    pub async fn build(app: &TestApp) -> World {
        for (name, roles) in [
            ("planner", &["planner"][..]),
            ("auditor", &["auditor"][..]),
            ("nobody", &[][..]),
            ("member", &[][..]),
        ] {
            app.add_user(name, PASSWORD, roles).await;
        }
        let member_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = 'member'")
            .fetch_one(app.db.pool())
            .await
            .unwrap();
        let admin = app.person("admin", ADMIN_PASSWORD).await;
        let devices = [device(&admin, "db-1").await, device(&admin, "db-2").await];
        let credential = credential(&admin, devices[0], "postgres", "pw-of-postgres").await;
        let group = admin
            .create(
                "/api/access-groups",
                &json!({
                    "name": "dba",
                    "members": [{ "user_id": member_id, "executor": true, "approver": false }],
                    "credential_ids": [credential],
                }),
            )
            .await;
        let planner = app.person("planner", PASSWORD).await;
        planner
            .expect(
                "POST",
                "/api/changes",
                Some(&change_body("CHG-1", group, &devices)),
                201,
            )
            .await;
        World {
            admin,
            planner,
            auditor: app.person("auditor", PASSWORD).await,
            nobody: app.person("nobody", PASSWORD).await,
            member: app.person("member", PASSWORD).await,
            member_id,
            group,
            devices,
            credential,
        }
    }
}

pub async fn device(admin: &Person, name: &str) -> i64 {
    admin
        .create(
            "/api/devices",
            &json!({ "name": name, "host": format!("{name}.example.org"), "host_key": HOST_KEY }),
        )
        .await
}

pub async fn credential(admin: &Person, device: i64, username: &str, secret: &str) -> i64 {
    admin.create("/api/credentials", &json!({ "device_id": device, "username": username, "kind": "password", "secret": secret })).await
}

/// A valid change in the test clock's future (tests start on 2026-01-01).
pub fn change_body(id: &str, group: i64, devices: &[i64]) -> Value {
    json!({
        "id": id,
        "title": "Vacuum the orders table",
        "description": "Monthly maintenance.",
        "start_at": "2026-01-02T22:00:00Z",
        "due_at": "2026-01-02T23:00:00Z",
        "access_group_id": group,
        "device_ids": devices,
        "script": "psql -c 'VACUUM ANALYZE orders'\nsystemctl status postgresql\n",
    })
}
