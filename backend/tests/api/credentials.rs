//! Credentials and their secrets: stored sealed, validated when they are keys, never answered,
//! never logged.

use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::fixtures::World;
use crate::helpers::{TestApp, fields};
use crate::logs;

// A throwaway key made with `ssh-keygen -t ed25519 -N ''` for these tests.
const PRIVATE_KEY: &str = "-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
QyNTUxOQAAACA4cvaCbQlRQafILuEdJytFXoDmlfRDpWRbbHZkNR+7WAAAAIiuKFSurihU
rgAAAAtzc2gtZWQyNTUxOQAAACA4cvaCbQlRQafILuEdJytFXoDmlfRDpWRbbHZkNR+7WA
AAAEBqoVcuLGm3uUEwKHWvTNH77qXJ978luiFijndtW3v7Hjhy9oJtCVFBp8gu4R0nK0Ve
gOaV9EOlZFtsdmQ1H7tYAAAABHRlc3QB
-----END OPENSSH PRIVATE KEY-----
";

#[tokio::test]
async fn a_malformed_or_protected_private_key_is_refused_on_the_secret_field() {
    let app = TestApp::spawn().await;
    let world = World::build(&app).await;
    let device = world.devices[1];
    for (secret, says) in [
        ("not a key at all", "not a private key"),
        (
            "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
            "not a private key",
        ),
        (PROTECTED_KEY, "passphrase"),
    ] {
        let problem = world
            .admin
            .expect("POST", "/api/credentials", Some(&json!({ "device_id": device, "username": "root", "kind": "private_key", "secret": secret })), 422)
            .await;
        assert_eq!(fields(&problem), ["secret"]);
        assert!(
            problem["errors"][0]["detail"]
                .as_str()
                .unwrap()
                .contains(says),
            "{problem}"
        );
        assert!(
            !problem.to_string().contains("AAAA"),
            "the refusal does not quote the key"
        );
    }
    let stored = world
        .admin
        .expect("POST", "/api/credentials", Some(&json!({ "device_id": device, "username": "root", "kind": "private_key", "secret": PRIVATE_KEY })), 201)
        .await;
    assert_eq!(stored["kind"], "private_key");
    let missing = world
        .admin
        .expect("POST", "/api/credentials", Some(&json!({ "device_id": 9999, "username": "root", "kind": "password", "secret": "x" })), 422)
        .await;
    assert_eq!(fields(&missing), ["device_id"]);
}

/// `ssh-keygen -t ed25519 -N 'passphrase'`: a key the vault would have to unlock with a word it
/// does not have.
const PROTECTED_KEY: &str = "-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAACmFlczI1Ni1jdHIAAAAGYmNyeXB0AAAAGAAAABB6BCs+E1
0Uou0YiPu15WwHAAAAEAAAAAEAAAAzAAAAC3NzaC1lZDI1NTE5AAAAIBTBWJAbe3+pEraa
G+vQzMAJh/EYXirOKZMfOe+44TSfAAAAkEFTHl+oO8qRxea91UmeaMcdpGI2mtU2jel+ZM
qZbvlK+5y9dUV++n9gnrKh88/hRsdutdCg1oAwvZ0s1NVg3z6zEiu6jeY19Hz5TqvOTKO0
Wu7ztcxEVHTHUx0xwpkPZ1jxY8A/5QzekaPfK3Cda/cDU9SpyQ9mOLS4BOR0s+mEjN+SEr
85aZfeo67OnZn/tA==
-----END OPENSSH PRIVATE KEY-----
";

#[tokio::test]
async fn no_response_no_log_line_and_no_stored_row_holds_a_secret() {
    let app = TestApp::spawn().await;
    let world = World::build(&app).await;
    let password = "correct-horse-battery-staple-4217";
    let rotated = "tr0ub4dor-and-3-more-words-9931";
    let mut answers: Vec<String> = Vec::new();
    let mut keep = |value: Value| answers.push(value.to_string());

    let created = world
        .admin
        .expect("POST", "/api/credentials", Some(&json!({ "device_id": world.devices[1], "username": "app", "kind": "password", "secret": password })), 201)
        .await;
    let id = created["id"].as_i64().unwrap();
    keep(created);
    keep(
        world
            .admin
            .expect("GET", &format!("/api/credentials/{id}"), None, 200)
            .await,
    );
    keep(
        world
            .admin
            .expect("GET", "/api/credentials", None, 200)
            .await,
    );
    keep(
        world
            .admin
            .expect(
                "PUT",
                &format!("/api/credentials/{id}/secret"),
                Some(&json!({ "kind": "password", "secret": rotated })),
                200,
            )
            .await,
    );
    keep(world.admin.expect("POST", "/api/credentials", Some(&json!({ "device_id": world.devices[1], "username": "key", "kind": "private_key", "secret": PRIVATE_KEY })), 201).await);
    keep(
        world
            .admin
            .expect("GET", "/api/credentials?q=app", None, 200)
            .await,
    );
    keep(
        world
            .admin
            .expect(
                "GET",
                &format!("/api/access-groups/{}", world.group),
                None,
                200,
            )
            .await,
    );

    let key_body = PRIVATE_KEY.lines().nth(2).unwrap();
    for secret in [password, rotated, key_body] {
        for answer in &answers {
            assert!(
                !answer.contains(secret),
                "a response holds a secret: {answer}"
            );
        }
        assert!(!logs::text().contains(secret), "a log line holds a secret");
        let rows: Vec<String> = sqlx::query_scalar("SELECT secret FROM credentials")
            .fetch_all(app.db.pool())
            .await
            .unwrap();
        assert!(
            rows.iter()
                .all(|row| row.starts_with("v1:") && !row.contains(secret))
        );
        let events: Vec<String> = sqlx::query_scalar("SELECT details FROM audit_events")
            .fetch_all(app.db.pool())
            .await
            .unwrap();
        assert!(
            events.iter().all(|details| !details.contains(secret)),
            "the trail holds a secret"
        );
    }
    // The log did see these requests: the check above looked where a leak would be.
    assert!(logs::text().contains(&format!("/api/credentials/{id}/secret")));

    // The vault still opens what it sealed: the broker will get the rotated secret.
    let mut connection = app.db.pool().acquire().await.unwrap();
    let opened = changeaudit_backend::credentials::open(&mut connection, &app.master_key(), id)
        .await
        .unwrap();
    assert_eq!(opened.expose_secret(), rotated);
}

#[tokio::test]
async fn deleting_a_credential_withdraws_it_from_its_groups_and_says_which() {
    let app = TestApp::spawn().await;
    let world = World::build(&app).await;
    world
        .admin
        .expect(
            "DELETE",
            &format!("/api/credentials/{}", world.credential),
            None,
            204,
        )
        .await;
    let group = world
        .admin
        .expect(
            "GET",
            &format!("/api/access-groups/{}", world.group),
            None,
            200,
        )
        .await;
    assert_eq!(group["credentials"], json!([]));
    let details: String =
        sqlx::query_scalar("SELECT details FROM audit_events WHERE action = 'credential.deleted'")
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    let details: Value = serde_json::from_str(&details).unwrap();
    assert_eq!(details["granted_by_groups"], json!([world.group]));
    assert_eq!(details["before"]["username"], "postgres");
}
