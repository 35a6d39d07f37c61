//! Growing from SQLite: `changeaudit copy-database --to postgres://…` copies a populated
//! installation, trail and all, and `copy-recordings` its recordings into object storage; the
//! copy serves and verifies as the original did, a stopped copy resumes, and a database holding
//! another installation is refused.

use std::process::{Command, Output};
use std::time::Duration;

use changeaudit_backend::clock::Clock;
use changeaudit_backend::trail::checkpoints::{Policy, checkpoint_if_due};
use changeaudit_e2e::Sshd;
use serde_json::json;

use crate::helpers::{TestApp, TestDatabase};
use crate::object_recordings::{replica, unique_prefix};
use crate::terminal::Rig;
use crate::trail;

/// `changeaudit <args>` with the installation of `app` configured, recordings in its folder.
fn changeaudit(app: &TestApp, args: &[&str], extra: &[(String, String)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_changeaudit"))
        .args(args)
        .env_clear()
        .env("CHANGEAUDIT_DATA_DIR", app.dir())
        .env("CHANGEAUDIT_DATABASE_URL", &app.database_url)
        .envs(extra.iter().cloned())
        .output()
        .unwrap()
}

fn said(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test]
async fn a_populated_sqlite_installation_is_copied_into_postgres_and_object_storage_and_verifies() {
    let folder = tempfile::tempdir().unwrap();
    let recordings = folder.path().join("recordings");
    let in_folder = [("CHANGEAUDIT_RECORDINGS_DIR", recordings.to_str().unwrap())];
    let app = TestApp::spawn_on(TestDatabase::Sqlite, &in_folder).await;
    let rig = Rig::on(app, Sshd::start().await.unwrap()).await;
    let session = rig.short_session(&["echo grown-up"]).await;
    let every_event = Policy {
        every_events: 1,
        every: Duration::from_secs(1),
    };
    let key = &rig.app.state.trail_key;
    checkpoint_if_due(&rig.app.db, key, every_event, rig.app.clock.now())
        .await
        .unwrap()
        .expect("a checkpoint of the trail so far");

    let target = TestDatabase::postgres().fresh_url(rig.app.dir()).await;
    let recordings_env = [(
        "CHANGEAUDIT_RECORDINGS_DIR".to_owned(),
        recordings.display().to_string(),
    )];
    let done = changeaudit(
        &rig.app,
        &["copy-database", "--to", &target],
        &recordings_env,
    );
    assert!(done.status.success(), "{}", said(&done));
    assert!(said(&done).contains("26 table(s)"), "{}", said(&done));

    // A server on the copy: the same people, sessions and trail.
    let copy = rig.app.on_database(&target, &in_folder).await;
    let admin = copy.person("admin", crate::helpers::ADMIN_PASSWORD).await;
    let path = format!("/api/terminal-sessions/{session}");
    assert_eq!(
        admin.expect("GET", &path, None, 200).await,
        rig.admin.expect("GET", &path, None, 200).await
    );
    // New rows take numbers after the copied ones.
    let device = admin
        .create(
            "/api/devices",
            &json!({ "name": "after-the-copy", "host": "127.0.0.1", "port": 22, "host_key": crate::fixtures::HOST_KEY }),
        )
        .await;
    assert!(device > rig.device, "{device} after {}", rig.device);

    // The recordings into a bucket; the copied trail verifies against them there.
    let spool = tempfile::tempdir().unwrap();
    let prefix = unique_prefix(spool.path());
    let test = |name: &str| std::env::var(format!("CHANGEAUDIT_TEST_S3_{name}")).unwrap();
    let mut s3_env: Vec<(String, String)> =
        ["ENDPOINT", "REGION", "ACCESS_KEY_ID", "SECRET_ACCESS_KEY"]
            .iter()
            .map(|name| (format!("CHANGEAUDIT_S3_{name}"), test(name)))
            .collect();
    s3_env.extend(recordings_env.iter().cloned());
    let bucket = format!("s3://{}/{prefix}", test("BUCKET"));
    let moved = changeaudit(&rig.app, &["copy-recordings", "--to", &bucket], &s3_env);
    assert!(moved.status.success(), "{}", said(&moved));
    let export = trail::export_file(&copy).await;
    let store = replica(&prefix, spool.path());
    let copied = trail::verify_against(&copy, &export, None, &store)
        .await
        .unwrap();
    assert!(
        copied.recordings >= 1 && copied.checkpoints >= 1,
        "{copied:?}"
    );
}

#[tokio::test]
async fn a_stopped_copy_resumes_and_a_database_of_another_installation_is_refused() {
    let app = TestApp::spawn_on(TestDatabase::Sqlite, &[]).await;
    app.add_user("planner", crate::fixtures::PASSWORD, &["planner"])
        .await;
    let target = TestDatabase::postgres().fresh_url(app.dir()).await;

    // A copy that stopped after its first tables: only the users came across.
    let partial = changeaudit_backend::db::Database::open(&target)
        .await
        .unwrap();
    let source = changeaudit_backend::db::Database::open(&app.database_url)
        .await
        .unwrap();
    let users: Vec<(i64, String, String, i64, i64, i64)> = sqlx::query_as(
        "SELECT id, username, password_hash, CAST(enabled AS BIGINT), created_at, updated_at
         FROM users",
    )
    .fetch_all(source.pool())
    .await
    .unwrap();
    for (id, username, hash, enabled, created, updated) in &users {
        sqlx::query(
            "INSERT INTO users (id, username, display_name, email, password_hash, enabled,
                 created_at, updated_at) OVERRIDING SYSTEM VALUE
             VALUES ($1, $2, '', '', $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(username)
        .bind(hash)
        .bind(*enabled != 0)
        .bind(created)
        .bind(updated)
        .execute(partial.pool())
        .await
        .unwrap();
    }
    let first: (
        i64,
        i64,
        String,
        String,
        Option<String>,
        String,
        String,
        String,
    ) = sqlx::query_as("SELECT * FROM audit_events WHERE seq = 1")
        .fetch_one(source.pool())
        .await
        .unwrap();
    sqlx::query("INSERT INTO audit_events VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(first.0)
        .bind(first.1)
        .bind(&first.2)
        .bind(&first.3)
        .bind(&first.4)
        .bind(&first.5)
        .bind(&first.6)
        .bind(&first.7)
        .execute(partial.pool())
        .await
        .unwrap();

    // While a replica serves the source, nothing is copied.
    let serving = changeaudit_backend::clock::SystemClock.now();
    changeaudit_backend::cluster::registry::beat(&source, "still-serving", None, serving)
        .await
        .unwrap();
    let refused = changeaudit(&app, &["copy-database", "--to", &target], &[]);
    assert!(!refused.status.success());
    assert!(
        said(&refused).contains("replica still-serving of the source beat"),
        "{}",
        said(&refused)
    );
    sqlx::query("DELETE FROM replicas WHERE id = 'still-serving'")
        .execute(source.pool())
        .await
        .unwrap();

    let resumed = changeaudit(&app, &["copy-database", "--to", &target], &[]);
    assert!(resumed.status.success(), "{}", said(&resumed));
    assert!(said(&resumed).contains("resumed"), "{}", said(&resumed));
    // The rows the stopped copy wrote are the source's now.
    let shown: String =
        sqlx::query_scalar("SELECT display_name FROM users WHERE username = 'planner'")
            .fetch_one(partial.pool())
            .await
            .unwrap();
    assert_eq!(shown, "planner");
    let copy = app.on_database(&target, &[]).await;
    trail::verify(&copy, &trail::export_file(&copy).await)
        .await
        .unwrap();

    // A database another installation already uses is never written into.
    let other = TestApp::spawn_on(TestDatabase::postgres(), &[]).await;
    // Its own history: a second later than the source's, whose first events it otherwise
    // shares (the same first admin, at the tests' same first moment).
    other.clock.advance(Duration::from_secs(1));
    other.sign_in_as_admin().await;
    other
        .add_user("someone-else", crate::fixtures::PASSWORD, &[])
        .await;
    let refused = changeaudit(&app, &["copy-database", "--to", &other.database_url], &[]);
    assert!(!refused.status.success());
    assert!(
        said(&refused).contains("already holds another installation (")
            && said(&refused).contains("users: 2 row(s)"),
        "{}",
        said(&refused)
    );
    let users_there: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(other.db.pool())
        .await
        .unwrap();
    assert_eq!(users_there, 2);
}

#[tokio::test]
async fn copy_database_knows_every_table_of_the_schema() {
    let app = TestApp::spawn_on(TestDatabase::Sqlite, &[]).await;
    let mut tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table'
         AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx_%'",
    )
    .fetch_all(app.db.pool())
    .await
    .unwrap();
    tables.sort();
    // The replicas register themselves where they run: theirs is the one table not copied.
    let mut known: Vec<String> = changeaudit_backend::db::copy::TABLES
        .iter()
        .chain(&["replicas"])
        .map(|table| (*table).to_owned())
        .collect();
    known.sort();
    assert_eq!(tables, known);
}
