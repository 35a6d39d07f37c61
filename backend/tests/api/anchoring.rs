//! A trail anchored outside the server: a checkpoint kept apart catches a history rewritten
//! and signed again with the server's own key, and the trail's key can be rotated, each new
//! key announced in the trail and signed in by the key before, while `verify` follows them all
//! from the first. Run through the real binary where an operator would.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use changeaudit_backend::clock::Clock;
use changeaudit_backend::trail::audit::{self, Actor, NewEvent};
use changeaudit_backend::trail::checkpoints::{self, CheckpointError, Policy};
use changeaudit_backend::trail::export::export;
use changeaudit_backend::trail::key::{TrailKey, public_path};
use changeaudit_backend::trail::rotation;
use changeaudit_backend::trail::verify::{Anchors, verify_file};
use changeaudit_shared::export::{Checkpoint, checkpoint_line, event_leaf, signed_text};
use changeaudit_shared::merkle::{Frontier, parse_hash};
use changeaudit_shared::trail::hex;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_PASSWORD, TestApp};
use crate::trail::{checkpoint, export_file, rechain, verify, verify_trusting};

async fn history(app: &TestApp, names: &[&str]) {
    let admin = app.person("admin", ADMIN_PASSWORD).await;
    for name in names {
        admin
            .create(
                "/api/users",
                &json!({ "username": name, "display_name": name, "roles": [], "password": crate::fixtures::PASSWORD }),
            )
            .await;
    }
}

/// What someone holding `key` does to an export they rewrote: every checkpoint's root made
/// again over the events as they now stand, and signed.
fn resign(export: &Path, key: &TrailKey) {
    let text = std::fs::read_to_string(export).unwrap();
    let mut frontier = Frontier::default();
    let mut lines = Vec::new();
    for line in text.lines() {
        let value: Value = serde_json::from_str(line).unwrap();
        if let Some(hash) = value["hash"].as_str() {
            frontier.push(event_leaf(&parse_hash(hash).unwrap()), |_, _, _| {});
        }
        if let Some(old) = value.get("checkpoint") {
            let at = old["at"].as_i64().unwrap();
            let root = hex(&frontier.root());
            let checkpoint = Checkpoint {
                tree_size: frontier.size(),
                signature: key.sign(&signed_text(frontier.size(), &root, at)),
                root,
                at,
                key_id: key.id().to_owned(),
            };
            lines.push(checkpoint_line(&checkpoint));
        } else {
            lines.push(line.to_owned());
        }
    }
    std::fs::write(export, lines.join("\n") + "\n").unwrap();
}

/// `changeaudit verify` run as a process, with the public key in `public`.
fn verify_command(public: &Path, export: &Path, extra: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_changeaudit"))
        .arg("verify")
        .arg("--export")
        .arg(export)
        .arg("--public-key")
        .arg(public)
        .args(extra)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), said)
}

/// `changeaudit rotate-trail-key` run as a process on the app's database and key file; it must
/// succeed. Answers what it said.
fn rotate_command(app: &TestApp) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_changeaudit"))
        .arg("rotate-trail-key")
        .env("CHANGEAUDIT_DATA_DIR", app.dir())
        .env("CHANGEAUDIT_DATABASE_URL", &app.database_url)
        .env("CHANGEAUDIT_TRAIL_KEY_FILE", app.dir().join("trail.key"))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{said}");
    said
}

#[tokio::test]
async fn a_history_rewritten_and_signed_again_fails_against_a_checkpoint_kept_apart() {
    let app = TestApp::spawn().await;
    history(&app, &["alice", "bob"]).await;
    checkpoint(&app).await;
    // The auditor downloads the latest checkpoint and keeps it elsewhere.
    let admin = app.person("admin", ADMIN_PASSWORD).await;
    let kept = admin
        .expect("GET", "/api/trail/checkpoints/latest", None, 200)
        .await;
    let trusted: Checkpoint = serde_json::from_value(kept.clone()).unwrap();
    let kept_file = app.dir().join("kept-checkpoint.json");
    std::fs::write(&kept_file, kept.to_string()).unwrap();
    history(&app, &["carol"]).await;
    checkpoint(&app).await;

    let export = export_file(&app).await;
    let summary = verify_trusting(&app, &export, Some(trusted.clone()))
        .await
        .unwrap();
    assert_eq!(summary.trusted_checkpoint, Some(trusted.tree_size));
    let (ok, said) = verify_command(
        &public_path(&app.dir().join("trail.key")),
        &export,
        &["--trusted-checkpoint", kept_file.to_str().unwrap()],
    );
    assert!(ok, "{said}");
    assert!(
        said.contains(&format!(
            "continues the trusted checkpoint of {} events",
            trusted.tree_size
        )),
        "{said}"
    );

    // Someone with the data folder rewrites who was created, and signs it all again with the
    // server's own key: the export alone still verifies.
    let seq: i64 = sqlx::query_scalar(
        "SELECT seq FROM audit_events WHERE action = 'user.created' AND details LIKE '%alice%'",
    )
    .fetch_one(app.db.pool())
    .await
    .unwrap();
    rechain(&export, seq, |event| {
        let details = event["details"].to_string().replace("alice", "mallory");
        event["details"] = serde_json::from_str(&details).unwrap();
    });
    let key = TrailKey::load(&app.dir().join("trail.key")).unwrap();
    resign(&export, &key);
    verify(&app, &export).await.unwrap();
    // The checkpoint kept apart is not a past state of that history.
    let fault = verify_trusting(&app, &export, Some(trusted.clone()))
        .await
        .unwrap_err();
    assert_eq!(fault.seq, Some(i64::try_from(trusted.tree_size).unwrap()));
    let (ok, said) = verify_command(
        &public_path(&app.dir().join("trail.key")),
        &export,
        &["--trusted-checkpoint", kept_file.to_str().unwrap()],
    );
    assert!(!ok);
    assert!(
        said.contains(&format!(
            "the trusted checkpoint of {} events",
            trusted.tree_size
        )),
        "{said}"
    );
    assert!(said.contains("rewritten since it was taken"), "{said}");
}

#[tokio::test]
async fn a_rotated_trail_key_verifies_old_and_new_checkpoints_and_an_unannounced_key_is_refused() {
    let app = TestApp::spawn().await;
    history(&app, &["alice"]).await;
    checkpoint(&app).await;
    let key_file = app.dir().join("trail.key");
    let first = TrailKey::load(&key_file).unwrap();
    let first_public = std::fs::read_to_string(public_path(&key_file)).unwrap();

    // The operator rotates the key with the real command.
    let said = rotate_command(&app);
    let second = TrailKey::load(&key_file).unwrap();
    assert_ne!(second.id(), first.id());
    assert!(
        said.contains(&format!("key {} follows key {}", second.id(), first.id())),
        "{said}"
    );
    // The old public key is kept beside the new one.
    let retired = app.dir().join(format!("trail.key.{}.pub", first.id()));
    assert_eq!(std::fs::read_to_string(retired).unwrap(), first_public);

    // A replica still holding the old key signs nothing more.
    let everything = Policy {
        every_events: 1,
        every: Duration::ZERO,
    };
    history(&app, &["bob"]).await;
    let refused =
        checkpoints::checkpoint_if_due(&app.db, &first, everything, app.clock.now()).await;
    assert!(
        matches!(refused, Err(CheckpointError::WrongKey(_))),
        "{refused:?}"
    );
    checkpoints::checkpoint_if_due(&app.db, &second, everything, app.clock.now())
        .await
        .unwrap()
        .unwrap();

    // From the first key, verify follows the announcement to the second.
    let path = app.dir().join("rotated.jsonl");
    let mut file = std::fs::File::create(&path).unwrap();
    export(&app.db, &second, app.clock.now(), &mut file)
        .await
        .unwrap();
    drop(file);
    let first_file = app.dir().join("first.pub");
    std::fs::write(&first_file, &first_public).unwrap();
    let from_first = || Anchors {
        first_key: first.verifying_key(),
        trusted: None,
    };
    let summary = verify_file(&path, from_first(), None).await.unwrap();
    assert_eq!(summary.key_rotations, 1);
    assert!(summary.checkpoints >= 3, "{summary}");
    let (ok, said) = verify_command(&first_file, &path, &[]);
    assert!(ok, "{said}");
    assert!(said.contains("key changed 1 times"), "{said}");

    // A checkpoint signed by a key nobody announced is refused, whoever made it.
    let stranger = TrailKey::from_seed(&[42; 32]);
    let text = std::fs::read_to_string(&path).unwrap();
    let last = text
        .lines()
        .collect::<Vec<_>>()
        .iter()
        .rposition(|line| line.starts_with("{\"checkpoint\""))
        .unwrap();
    let forged: Vec<String> = text
        .lines()
        .enumerate()
        .map(|(index, line)| {
            if index != last {
                return line.to_owned();
            }
            let value: Value = serde_json::from_str(line).unwrap();
            let mut checkpoint: Checkpoint =
                serde_json::from_value(value["checkpoint"].clone()).unwrap();
            checkpoint.key_id = stranger.id().to_owned();
            checkpoint.signature = stranger.sign(&checkpoint.signed_text());
            checkpoint_line(&checkpoint)
        })
        .collect();
    std::fs::write(&path, forged.join("\n") + "\n").unwrap();
    let fault = verify_file(&path, from_first(), None).await.unwrap_err();
    assert!(
        fault.reason.contains("which no key before it announced"),
        "{fault}"
    );

    // The server's own verification (Admin → Audit trail) starts from the first key too.
    let found = rotation::first_key(&key_file, &second, &app.db)
        .await
        .unwrap();
    assert_eq!(found, first.verifying_key());
}

#[tokio::test]
async fn an_announcement_written_behind_the_servers_back_is_never_signed_in() {
    let app = TestApp::spawn().await;
    history(&app, &["alice"]).await;
    checkpoint(&app).await;
    let key_file = app.dir().join("trail.key");
    let first = TrailKey::load(&key_file).unwrap();
    let admin = app.person("admin", ADMIN_PASSWORD).await;
    let public_key = || async {
        let answer = admin.send("GET", "/api/trail/public-key", None).await;
        assert_eq!(answer.status(), 200);
        answer.text().await.unwrap()
    };
    let public = public_key().await;
    assert_eq!(public.trim(), first.public_key_hex());
    // Someone who can write the database announces a key of their own, chained properly.
    let theirs = TrailKey::from_seed(&[66; 32]);
    let details = json!({
        "key_id": theirs.id(),
        "public_key": theirs.public_key_hex(),
        "previous_key_id": first.id(),
        "previous_public_key": first.public_key_hex(),
    });
    let forged = NewEvent {
        actor: Actor::System,
        action: "trail.key_rotated",
        object: None,
        details,
    };
    audit::record(&app.db, forged, app.clock.now())
        .await
        .unwrap();
    // The server signs nothing over it, and says why.
    let everything = Policy {
        every_events: 1,
        every: Duration::ZERO,
    };
    let refused =
        checkpoints::checkpoint_if_due(&app.db, &first, everything, app.clock.now()).await;
    let Err(CheckpointError::WrongKey(reason)) = refused else {
        panic!("signed over a forged announcement: {refused:?}");
    };
    assert!(
        reason.contains(&format!("announces key {}", theirs.id())),
        "{reason}"
    );
    // The key to verify from is still the first, read from beside the key file.
    assert_eq!(public_key().await, public);
}

#[tokio::test]
async fn a_rotation_stopped_before_the_key_file_moved_is_finished_by_running_it_again() {
    let app = TestApp::spawn().await;
    history(&app, &["alice"]).await;
    checkpoint(&app).await;
    let key_file = app.dir().join("trail.key");
    let first = TrailKey::load(&key_file).unwrap();
    // The announcement was signed in, then the process stopped before the file swap.
    let next = TrailKey::create(&rotation::next_path(&key_file)).unwrap();
    rotation::announce(&app.db, &first, &next, app.clock.now())
        .await
        .unwrap();
    assert_eq!(TrailKey::load(&key_file).unwrap().id(), first.id());
    let said = rotate_command(&app);
    assert!(
        said.contains(&format!("key {} follows key {}", next.id(), first.id())),
        "{said}"
    );
    assert_eq!(TrailKey::load(&key_file).unwrap().id(), next.id());
    // One announcement only: the export verifies from the first key.
    let path = app.dir().join("finished.jsonl");
    let mut file = std::fs::File::create(&path).unwrap();
    export(&app.db, &next, app.clock.now(), &mut file)
        .await
        .unwrap();
    drop(file);
    let anchors = Anchors {
        first_key: first.verifying_key(),
        trusted: None,
    };
    let summary = verify_file(&path, anchors, None).await.unwrap();
    assert_eq!(
        (summary.key_rotations, summary.key_id.as_str()),
        (1, next.id())
    );
}
