//! A session in the browser: from Credentials → All, Start session opens xterm.js on a real
//! sshd through the broker; two planned commands and one unplanned typed in the terminal show
//! two ticks, one flag and the score beside it.

use changeaudit_e2e::{PASSWORD_USER, Server, Sshd, WebDriver};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::{ADMIN_PASSWORD, fill_sign_in, open_app, signed_in_user};

const EXECUTOR_PASSWORD: &str = "executor password";
/// WebDriver's Enter key.
const ENTER: &str = "\u{E007}";

/// Calls the API as the admin or the planner, as their own browsers would.
struct Api {
    http: reqwest::Client,
    url: String,
}

impl Api {
    async fn sign_in(server: &Server, username: &str, password: &str) -> Api {
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

    async fn call(&self, method: &str, path: &str, body: Value) -> Value {
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

/// The device, its credential granted to `executor`, and a change on it open now.
async fn prepare(server: &Server, sshd: &Sshd) -> i64 {
    let admin = Api::sign_in(server, "admin", ADMIN_PASSWORD).await;
    let mut executor = 0;
    for (username, roles) in [("executor", json!([])), ("planner", json!(["planner"]))] {
        let user = admin
            .call(
                "POST",
                "/api/users",
                json!({ "username": username, "display_name": username, "roles": roles, "password": EXECUTOR_PASSWORD }),
            )
            .await;
        if username == "executor" {
            executor = user["id"].as_i64().unwrap();
        }
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
                "members": [{ "user_id": executor, "executor": true, "approver": false }],
                "credential_ids": [credential],
            }),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let now = now();
    let planner = Api::sign_in(server, "planner", EXECUTOR_PASSWORD).await;
    planner
        .call(
            "POST",
            "/api/changes",
            json!({
                "id": "CHG-42",
                "title": "Greet the lab",
                "start_at": (now - time::Duration::hours(1)).format(&Rfc3339).unwrap(),
                "due_at": (now + time::Duration::hours(2)).format(&Rfc3339).unwrap(),
                "access_group_id": group,
                "device_ids": [device],
                "script": "echo planned-one\necho planned-two\n",
            }),
        )
        .await;
    // Approvals have no screen yet: the request is stored approved, as approvers will leave it.
    let db = sqlx::SqlitePool::connect(&server.database_url)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO requests (change_id, credential_id, requester_id, status, created_at, updated_at)
         VALUES ('CHG-42', ?, ?, 'approved', 0, 0)",
    )
    .bind(credential)
    .bind(executor)
    .execute(&db)
    .await
    .unwrap();
    sqlx::query("UPDATE changes SET status = 'approved' WHERE id = 'CHG-42'")
        .execute(&db)
        .await
        .unwrap();
    db.close().await;
    credential
}

/// The real server runs on the system clock, so the change's window is set from it.
#[allow(clippy::disallowed_methods)]
fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

async fn type_line(driver: &WebDriver, line: &str) {
    let input = driver.find(".xterm-helper-textarea").await.unwrap();
    input.send_keys(&format!("{line}{ENTER}")).await.unwrap();
}

#[tokio::test]
async fn a_session_started_from_credentials_ticks_the_script_flags_the_rest_and_scores() {
    let sshd = Sshd::start().await.unwrap();
    let (server, browser) = open_app().await;
    prepare(&server, &sshd).await;
    let driver = &browser.driver;
    fill_sign_in(&browser, "executor", EXECUTOR_PASSWORD).await;
    assert_eq!(signed_in_user(driver).await, "executor");

    driver
        .find_xpath("//nav//a[text()='All']")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let row = driver
        .find_xpath("//table[@data-testid='granted-credentials']//tr[td[text()='lab-1']]")
        .await
        .unwrap();
    let text = row.text().await.unwrap();
    assert!(
        text.contains(PASSWORD_USER) && text.contains("lab operators"),
        "{text}"
    );
    driver
        .find_xpath("//tr[td[text()='lab-1']]//a[text()='Start session']")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    // The script's two lines wait to be done before anything is typed.
    driver
        .find_xpath("//aside[@data-testid='checklist']//li[@data-status='missing'][code[text()='echo planned-two']]")
        .await
        .unwrap();
    driver
        .find_xpath(
            "//div[@data-testid='terminal']//div[contains(@class,'xterm-rows')][contains(., '$')]",
        )
        .await
        .unwrap();
    type_line(driver, "echo planned-one").await;
    type_line(driver, "uname -s").await;
    type_line(driver, "echo planned-two").await;

    let checklist = "//aside[@data-testid='checklist']";
    for (status, command) in [
        ("matched", "echo planned-one"),
        ("matched", "echo planned-two"),
        ("unplanned", "uname -s"),
    ] {
        driver
            .find_xpath(&format!(
                "{checklist}//li[@data-status='{status}'][code[text()='{command}']]"
            ))
            .await
            .unwrap_or_else(|error| panic!("{command} {status}: {error}"));
    }
    let ticks = driver
        .find_all_now("[data-testid=checklist] li[data-status=matched]")
        .await
        .unwrap();
    let flags = driver
        .find_all_now("[data-testid=checklist] li[data-status=unplanned]")
        .await
        .unwrap();
    assert_eq!((ticks.len(), flags.len()), (2, 1));
    let score = driver.find("[data-testid=score]").await.unwrap();
    assert_eq!(score.text().await.unwrap(), "67");
    let verdict = driver.find("[data-testid=verdict]").await.unwrap();
    assert_eq!(verdict.text().await.unwrap(), "More than necessary");
    let screen = driver
        .find("[data-testid=terminal] .xterm-rows")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(screen.contains("planned-two"), "{screen}");

    let png = driver.screenshot().await.unwrap();
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/e2e-screenshots");
    std::fs::create_dir_all(&folder).unwrap();
    let path = folder.join("terminal-session.png");
    std::fs::write(&path, &png).unwrap();
    println!(
        "screenshot of the session: {} ({} bytes)",
        path.display(),
        png.len()
    );
    assert!(png.starts_with(b"\x89PNG"));
}
