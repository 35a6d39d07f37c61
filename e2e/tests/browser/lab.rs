//! A lab to run changes in: the real sshd as device `lab-1`, its credential granted to the
//! group `lab operators` (`executor` runs, `approver` approves), a `planner` and an `auditor`,
//! and a change on the device open now; set up through the API as the people's own browsers
//! would. Also what the browser tests share to drive a terminal and keep screenshots.

use changeaudit_e2e::{PASSWORD_USER, Server, Sshd, WebDriver};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::ADMIN_PASSWORD;

pub const PASSWORD: &str = "lab member password";
/// WebDriver's Enter key.
pub const ENTER: &str = "\u{E007}";

/// Calls the API as one person, with their own cookies.
pub struct Api {
    http: reqwest::Client,
    url: String,
}

impl Api {
    pub async fn sign_in(server: &Server, username: &str, password: &str) -> Api {
        let api = Api {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .build()
                .unwrap(),
            url: server.url.clone(),
        };
        api.call(
            "POST",
            "/api/session",
            json!({ "username": username, "password": password }),
        )
        .await;
        api
    }

    pub async fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let response = self
            .http
            .request(method, format!("{}{path}", self.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }
}

/// What the lab's group asks for and the change it runs.
pub struct Plan {
    pub change: &'static str,
    pub title: &'static str,
    pub script: &'static str,
    pub justification_required: bool,
    pub passkey_required_to_approve: bool,
}

/// The lab of `plan` on `sshd`.
pub async fn prepare(server: &Server, sshd: &Sshd, plan: &Plan) {
    let admin = Api::sign_in(server, "admin", ADMIN_PASSWORD).await;
    let mut ids = Vec::new();
    for (username, roles) in [
        ("executor", json!([])),
        ("approver", json!([])),
        ("planner", json!(["planner"])),
        ("auditor", json!(["auditor"])),
    ] {
        let user = admin
            .call(
                "POST",
                "/api/users",
                json!({ "username": username, "display_name": username, "roles": roles, "password": PASSWORD }),
            )
            .await;
        ids.push(user["id"].as_i64().unwrap());
    }
    let device = admin
        .call(
            "POST",
            "/api/devices",
            json!({ "name": "lab-1", "host": "127.0.0.1", "port": sshd.address.port(), "host_key": sshd.host_key, "tags": ["lab"] }),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let credential = admin
        .call(
            "POST",
            "/api/credentials",
            json!({ "device_id": device, "username": PASSWORD_USER, "kind": "password", "secret": sshd.password }),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let group = admin
        .call(
            "POST",
            "/api/access-groups",
            json!({
                "name": "lab operators",
                "justification_required": plan.justification_required,
                "passkey_required_to_approve": plan.passkey_required_to_approve,
                "members": [
                    { "user_id": ids[0], "executor": true, "approver": false },
                    { "user_id": ids[1], "executor": false, "approver": true },
                ],
                "credential_ids": [credential],
            }),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let now = now();
    let planner = Api::sign_in(server, "planner", PASSWORD).await;
    planner
        .call(
            "POST",
            "/api/changes",
            json!({
                "id": plan.change,
                "title": plan.title,
                "description": "Say hello on lab-1.",
                "start_at": (now - time::Duration::hours(1)).format(&Rfc3339).unwrap(),
                "due_at": (now + time::Duration::hours(2)).format(&Rfc3339).unwrap(),
                "access_group_id": group,
                "device_ids": [device],
                "script": plan.script,
            }),
        )
        .await;
}

/// Executor `executor` asks to run the lab's change on lab-1 and `approver` approves it, through
/// the API.
pub async fn approved(server: &Server) {
    let executor = Api::sign_in(server, "executor", PASSWORD).await;
    let granted = executor
        .call("GET", "/api/me/credentials", Value::Null)
        .await;
    let credential = granted["items"][0]["credential_id"].as_i64().unwrap();
    let asked = executor
        .call(
            "POST",
            "/api/requests",
            json!({ "credential_id": credential }),
        )
        .await;
    let id = asked["request"]["id"].as_i64().unwrap();
    let approver = Api::sign_in(server, "approver", PASSWORD).await;
    approver
        .call(
            "POST",
            &format!("/api/requests/{id}/decisions"),
            json!({ "decision": "approved" }),
        )
        .await;
}

/// The real server runs on the system clock, so the change's window is set from it.
#[allow(clippy::disallowed_methods)]
fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// Types `line` and Enter into the terminal.
pub async fn type_line(driver: &WebDriver, line: &str) {
    let input = driver.find(".xterm-helper-textarea").await.unwrap();
    input.send_keys(&format!("{line}{ENTER}")).await.unwrap();
}

/// Keeps what the browser shows under `target/e2e-screenshots`, for a person to look at.
#[allow(clippy::print_stdout)] // the test's output says where the picture is
pub async fn save_screenshot(driver: &WebDriver, name: &str) {
    let png = driver.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/e2e-screenshots");
    std::fs::create_dir_all(&folder).unwrap();
    let path = folder.join(name);
    std::fs::write(&path, &png).unwrap();
    println!("screenshot: {} ({} bytes)", path.display(), png.len());
}
