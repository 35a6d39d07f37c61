//! The vault's master key with the real binary: rotation reseals every secret, an interrupted
//! rotation is finished rather than lost, and a wrong key stops start-up.

use std::path::Path;
use std::process::Output;

use changeaudit_backend::clock::Timestamp;
use changeaudit_backend::credentials::{self, SecretKind};
use changeaudit_backend::db::Database;
use changeaudit_backend::trail::audit;
use changeaudit_backend::vault::MasterKey;
use secrecy::{ExposeSecret, SecretString};

use crate::helpers::TestDatabase;

const SECRETS: [(&str, SecretKind, &str); 3] = [
    ("root", SecretKind::Password, "root-password-1"),
    (
        "deploy",
        SecretKind::PrivateKey,
        "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
    ),
    ("backup", SecretKind::Password, "backup-password-2"),
];

async fn store_credentials(db: &Database, key: &MasterKey) -> Vec<i64> {
    let mut transaction = db.begin_write().await.unwrap();
    let device: i64 = sqlx::query_scalar(
        "INSERT INTO devices (name, host, port, host_key_fingerprint, created_at, updated_at)
         VALUES ('db-1', '127.0.0.1', 22, 'SHA256:x', 0, 0) RETURNING id",
    )
    .fetch_one(&mut *transaction)
    .await
    .unwrap();
    let mut ids = Vec::new();
    for (username, kind, secret) in SECRETS {
        let secret = SecretString::from(secret.to_owned());
        ids.push(
            credentials::store(
                &mut transaction,
                key,
                device,
                username,
                kind,
                &secret,
                Timestamp::from_millis(0),
            )
            .await
            .unwrap(),
        );
    }
    transaction.commit().await.unwrap();
    ids
}

fn changeaudit(command: &str, data_dir: &Path, database_url: &str) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_changeaudit"))
        .arg(command)
        .env_clear()
        .env("CHANGEAUDIT_DATA_DIR", data_dir)
        .env("CHANGEAUDIT_DATABASE_URL", database_url)
        .env("CHANGEAUDIT_LISTEN", "127.0.0.1:0")
        .env("CHANGEAUDIT_LOG", "warn")
        .output()
        .unwrap()
}

async fn setup() -> (tempfile::TempDir, String, Database, MasterKey, Vec<i64>) {
    let dir = tempfile::tempdir().unwrap();
    let url = TestDatabase::chosen().fresh_url(dir.path()).await;
    let db = Database::open(&url).await.unwrap();
    let key = MasterKey::create(&dir.path().join("master.key")).unwrap();
    let ids = store_credentials(&db, &key).await;
    (dir, url, db, key, ids)
}

#[tokio::test]
async fn rotation_reseals_every_secret_and_leaves_none_under_the_old_key() {
    let (dir, url, db, old, ids) = setup().await;

    let output = changeaudit("rotate-master-key", dir.path(), &url);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("3 secret(s) resealed"), "{stdout}");

    let new = MasterKey::load(&dir.path().join("master.key")).unwrap();
    assert_ne!(new.id(), old.id());
    assert!(!dir.path().join("master.key.new").exists());
    let mut connection = db.pool().acquire().await.unwrap();
    for (id, (_, _, secret)) in ids.iter().zip(SECRETS) {
        let opened = credentials::open(&mut connection, &new, *id).await.unwrap();
        assert_eq!(opened.expose_secret(), secret);
        assert!(
            credentials::open(&mut connection, &old, *id).await.is_err(),
            "credential {id} still opens under the old key"
        );
    }
    let events = audit::load(&db).await.unwrap().unwrap();
    let (rotated, _) = events.last().unwrap();
    assert_eq!(rotated.action, "master_key.rotated");
    assert_eq!(rotated.details["resealed"], 3);
    assert_eq!(rotated.details["new_key_id"], new.id());
    assert_eq!(audit::verify(&db).await.unwrap(), Ok(events.len()));
    for (event, _) in &events {
        let text = event.details.to_string();
        assert!(
            SECRETS.iter().all(|(_, _, secret)| !text.contains(secret)),
            "{text}"
        );
    }
}

#[tokio::test]
async fn an_interrupted_rotation_stops_start_up_until_it_is_finished() {
    let (dir, url, db, _old, ids) = setup().await;
    // As if a rotation had written its new key and stopped before resealing.
    let pending = MasterKey::create(&dir.path().join("master.key.new")).unwrap();

    let output = changeaudit("serve", dir.path(), &url);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("rotation was interrupted"), "{stderr}");

    let output = changeaudit("rotate-master-key", dir.path(), &url);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let current = MasterKey::load(&dir.path().join("master.key")).unwrap();
    assert_eq!(
        current.id(),
        pending.id(),
        "the rotation finished with the key it had started"
    );
    let mut connection = db.pool().acquire().await.unwrap();
    for id in ids {
        credentials::open(&mut connection, &current, id)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_key_that_does_not_open_the_secrets_stops_start_up() {
    let (dir, url, _db, _old, _ids) = setup().await;
    std::fs::remove_file(dir.path().join("master.key")).unwrap();
    MasterKey::create(&dir.path().join("master.key")).unwrap();
    let output = changeaudit("serve", dir.path(), &url);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("is this the right key file?"), "{stderr}");
}
