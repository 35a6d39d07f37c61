//! The real `changeaudit` binary on an empty data folder.

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::helpers::TestDatabase;

struct Started {
    child: Child,
    /// Everything printed on standard output up to the listening line.
    printed: Vec<String>,
    address: String,
}

async fn start(data_dir: &std::path::Path, database_url: &str, extra: &[(&str, &str)]) -> Started {
    let mut child = Command::new(env!("CARGO_BIN_EXE_changeaudit"))
        .arg("serve")
        .env_clear()
        .env("CHANGEAUDIT_LISTEN", "127.0.0.1:0")
        .env("CHANGEAUDIT_DATA_DIR", data_dir)
        .env("CHANGEAUDIT_DATABASE_URL", database_url)
        .env("CHANGEAUDIT_LOG", "warn")
        .envs(extra.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("starting changeaudit");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        if let Some(address) = line.strip_prefix("changeaudit listening on ") {
            let address = address.to_owned();
            return Started {
                child,
                printed,
                address,
            };
        }
        printed.push(line);
    }
    panic!("changeaudit exited before listening; it printed {printed:?}");
}

#[tokio::test]
async fn the_first_admin_password_is_printed_once_and_works() {
    let dir = tempfile::tempdir().unwrap();
    let url = TestDatabase::chosen().fresh_url(dir.path()).await;

    let data_dir = dir.path().join("data");
    let mut first = start(&data_dir, &url, &[]).await;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&data_dir).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o777,
            0o700,
            "the data folder is private to the service"
        );
        let key = std::fs::metadata(data_dir.join("master.key")).unwrap();
        assert_eq!(
            key.permissions().mode() & 0o777,
            0o600,
            "the master key file is private"
        );
    }
    let password = first
        .printed
        .iter()
        .find_map(|line| line.trim().strip_prefix("password: "))
        .unwrap_or_else(|| panic!("no password in {:?}", first.printed))
        .to_owned();
    assert!(
        first
            .printed
            .iter()
            .any(|line| line.trim() == "username: admin")
    );

    let response = reqwest::Client::new()
        .post(format!("{}/api/session", first.address))
        .json(&serde_json::json!({"username": "admin", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    first.child.kill().await.unwrap();

    let mut second = start(&data_dir, &url, &[]).await;
    assert!(
        second.printed.iter().all(|line| !line.contains("password")),
        "a restart must not print or reset the password: {:?}",
        second.printed
    );
    second.child.kill().await.unwrap();
}

#[tokio::test]
async fn the_first_admin_can_take_a_configured_password() {
    let dir = tempfile::tempdir().unwrap();
    let url = TestDatabase::chosen().fresh_url(dir.path()).await;
    let mut server = start(
        dir.path(),
        &url,
        &[("CHANGEAUDIT_ADMIN_PASSWORD", "configured-admin-password")],
    )
    .await;
    assert!(
        server
            .printed
            .iter()
            .all(|line| !line.contains("configured-admin-password"))
    );
    let response = reqwest::Client::new()
        .post(format!("{}/api/session", server.address))
        .json(&serde_json::json!({"username": "admin", "password": "configured-admin-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    server.child.kill().await.unwrap();
}

#[tokio::test]
async fn a_bad_setting_stops_start_up_with_its_name() {
    let output = Command::new(env!("CARGO_BIN_EXE_changeaudit"))
        .arg("serve")
        .env_clear()
        .env("CHANGEAUDIT_LISTEN", "not-an-address")
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("CHANGEAUDIT_LISTEN"), "{stderr}");
}

#[tokio::test]
async fn migrate_brings_an_empty_database_up_to_date() {
    let dir = tempfile::tempdir().unwrap();
    let url = TestDatabase::chosen().fresh_url(dir.path()).await;
    for _ in 0..2 {
        let output = Command::new(env!("CARGO_BIN_EXE_changeaudit"))
            .arg("migrate")
            .env_clear()
            .env("CHANGEAUDIT_DATABASE_URL", &url)
            .output()
            .await
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let db = changeaudit_backend::db::Database::connect(&url)
        .await
        .unwrap();
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(users, 0, "migrate creates the schema, not the admin");
}
