//! The trail's proof: signed checkpoints of the Merkle tree, the export, and `verify` catching
//! each kind of tampering and naming the event.

use std::path::PathBuf;
use std::time::Duration;

use changeaudit_backend::clock::Clock;
use changeaudit_backend::db::{Backend, Database};
use changeaudit_backend::recordings::RecordingStore;
use changeaudit_backend::trail::audit;
use changeaudit_backend::trail::checkpoints::{self, Policy};
use changeaudit_backend::trail::export::export;
use changeaudit_backend::trail::key::{public_path, read_public_key};
use changeaudit_backend::trail::verify::{Anchors, verify_file};
use changeaudit_shared::export::{Checkpoint, event_leaf};
use changeaudit_shared::merkle::{self, parse_hash};
use changeaudit_shared::trail::hex;
use changeaudit_shared::verify::{Fault, Summary};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::Executor;

use crate::helpers::TestApp;

/// Signs a checkpoint over every event so far, as the worker would (none when an export
/// already signed them all).
pub async fn checkpoint(app: &TestApp) {
    let policy = Policy {
        every_events: 1,
        every: Duration::from_secs(60),
    };
    checkpoints::checkpoint_if_due(&app.db, &app.state.trail_key, policy, app.clock.now())
        .await
        .unwrap();
}

/// Exports the trail (through a fresh connection, so nothing cached hides a change made behind
/// the database's back) to a file in the app's folder.
pub async fn export_file(app: &TestApp) -> PathBuf {
    let db = Database::open(&app.database_url).await.unwrap();
    let path = app.dir().join("trail.jsonl");
    let mut file = std::fs::File::create(&path).unwrap();
    export(&db, &app.state.trail_key, app.clock.now(), &mut file)
        .await
        .unwrap();
    db.close().await;
    path
}

/// `changeaudit verify` on an export, with the public key from the `.pub` file beside the key
/// and the server's recordings.
pub async fn verify(app: &TestApp, export: &std::path::Path) -> Result<Summary, Fault> {
    verify_trusting(app, export, None).await
}

/// `verify` holding the export to a checkpoint kept apart (`--trusted-checkpoint`).
pub async fn verify_trusting(
    app: &TestApp,
    export: &std::path::Path,
    trusted: Option<Checkpoint>,
) -> Result<Summary, Fault> {
    verify_against(app, export, trusted, &*app.state.recordings).await
}

/// `verify` with the recordings of `store`, the server's or a copy of them.
pub async fn verify_against(
    app: &TestApp,
    export: &std::path::Path,
    trusted: Option<Checkpoint>,
    store: &dyn RecordingStore,
) -> Result<Summary, Fault> {
    let config_key = app.dir().join("trail.key");
    let anchors = Anchors {
        first_key: read_public_key(&public_path(&config_key)).unwrap(),
        trusted,
    };
    verify_file(export, anchors, Some(store)).await
}

/// Runs `sql` with the database's protection switched off, as someone holding its keys could.
pub async fn behind_the_triggers(app: &TestApp, statements: &[&str]) {
    let (off, on): (&[&str], &[&str]) = match app.db.backend() {
        Backend::Sqlite => (
            &[
                "DROP TRIGGER audit_events_refuse_update",
                "DROP TRIGGER audit_events_refuse_delete",
            ],
            &[],
        ),
        Backend::Postgres => (
            &["ALTER TABLE audit_events DISABLE TRIGGER USER"],
            &["ALTER TABLE audit_events ENABLE TRIGGER USER"],
        ),
    };
    let mut connection = app.db.pool().acquire().await.unwrap();
    for statement in off.iter().chain(statements).chain(on) {
        connection.execute(*statement).await.unwrap();
    }
}

/// Rewrites event `seq` of an export with `edit` and re-hashes the chain after it, as a
/// forger who knows the format would; checkpoints are left as they were signed.
pub fn rechain(export: &std::path::Path, seq: i64, edit: impl FnOnce(&mut Value)) {
    let text = std::fs::read_to_string(export).unwrap();
    let mut edit = Some(edit);
    let mut previous: Option<String> = None;
    let mut lines = Vec::new();
    for line in text.lines() {
        let mut value: Value = serde_json::from_str(line).unwrap();
        if value.get("event").is_some() {
            if let Some(previous) = &previous {
                value["event"]["prev_hash"] = json!(previous);
            }
            if value["event"]["seq"] == seq
                && let Some(edit) = edit.take()
            {
                edit(&mut value["event"]);
            }
            if value["event"]["seq"].as_i64().unwrap() >= seq {
                let canonical = value["event"].to_string();
                let hash = hex(&Sha256::digest(canonical.as_bytes()));
                value["hash"] = json!(hash);
                previous = Some(hash);
            } else {
                previous = value["hash"].as_str().map(str::to_owned);
            }
        }
        lines.push(value.to_string());
    }
    std::fs::write(export, lines.join("\n") + "\n").unwrap();
}

async fn some_history(app: &TestApp) {
    let admin = app.person("admin", crate::helpers::ADMIN_PASSWORD).await;
    for name in ["alice", "bob", "carol"] {
        admin
            .create(
                "/api/users",
                &json!({ "username": name, "display_name": format!("Marker {name} Qx7"), "roles": [], "password": crate::fixtures::PASSWORD }),
            )
            .await;
    }
}

/// The first event of `action` whose details mention `text`.
async fn seq_of(app: &TestApp, action: &str, text: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT seq FROM audit_events WHERE action = $1 AND details LIKE $2 ORDER BY seq LIMIT 1",
    )
    .bind(action)
    .bind(format!("%{text}%"))
    .fetch_one(app.db.pool())
    .await
    .unwrap()
}

fn assert_fault(result: Result<Summary, Fault>, seq: i64, words: &str) {
    let fault = result.expect_err("the tampering went unnoticed");
    assert_eq!(fault.seq, Some(seq), "{fault}");
    assert!(fault.reason.contains(words), "{fault}");
}

#[tokio::test]
async fn checkpoints_sign_the_rfc_6962_root_of_the_events_and_an_untouched_trail_verifies() {
    let app = TestApp::spawn().await;
    some_history(&app).await;
    checkpoint(&app).await;
    some_history_more(&app).await;
    checkpoint(&app).await;

    let events = audit::load(&app.db).await.unwrap().unwrap();
    let leaves: Vec<_> = events
        .iter()
        .map(|(_, hash)| event_leaf(&parse_hash(hash).unwrap()))
        .collect();
    let all = checkpoints::all(&app.db).await.unwrap();
    assert_eq!(all.len(), 2);
    for checkpoint in &all {
        let size = usize::try_from(checkpoint.tree_size).unwrap();
        assert_eq!(checkpoint.root, hex(&merkle::root(&leaves[..size])));
        assert_eq!(checkpoint.key_id, app.state.trail_key.id());
    }
    assert_eq!(all[1].tree_size, events.len() as u64);
    // Nothing new: nothing is due.
    let policy = Policy {
        every_events: 1,
        every: Duration::from_secs(1),
    };
    assert!(
        checkpoints::checkpoint_if_due(&app.db, &app.state.trail_key, policy, app.clock.now())
            .await
            .unwrap()
            .is_none()
    );

    app.sign_in_as_admin().await;
    let export = export_file(&app).await;
    let summary = verify(&app, &export).await.unwrap();
    // The export signs what came since (the sign-in) before it writes.
    assert_eq!(summary.events, events.len() as u64 + 1);
    assert_eq!(summary.checkpoints, 3);

    // An event added after the last signature, or an export cut short after one, is caught.
    let text = std::fs::read_to_string(&export).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let last_checkpoint = lines.pop().unwrap();
    assert!(last_checkpoint.starts_with("{\"checkpoint\""));
    std::fs::write(&export, lines.join("\n")).unwrap();
    let fault = verify(&app, &export).await.unwrap_err();
    assert!(
        fault.reason.contains("under no signed checkpoint"),
        "{fault}"
    );
    std::fs::write(&export, text.lines().next().unwrap().to_owned() + "\n").unwrap();
    assert!(
        verify(&app, &export)
            .await
            .unwrap_err()
            .reason
            .contains("no event")
    );
}

async fn some_history_more(app: &TestApp) {
    app.sign_in_as_admin().await;
    app.sign_in_as_admin().await;
}

#[tokio::test]
async fn a_checkpoint_waits_for_enough_events_or_enough_time() {
    let app = TestApp::spawn().await;
    let policy = Policy {
        every_events: 5,
        every: Duration::from_secs(60),
    };
    let due = || async {
        checkpoints::checkpoint_if_due(&app.db, &app.state.trail_key, policy, app.clock.now())
            .await
            .unwrap()
    };
    assert_eq!(
        due().await.unwrap().tree_size,
        1,
        "the first is due at once"
    );
    app.sign_in_as_admin().await;
    assert!(
        due().await.is_none(),
        "one new event, and no time has passed"
    );
    app.clock.advance(Duration::from_secs(61));
    assert_eq!(due().await.unwrap().tree_size, 2);
    for _ in 0..5 {
        app.sign_in_as_admin().await;
    }
    assert_eq!(due().await.unwrap().tree_size, 7, "five new events");
}

#[tokio::test]
async fn one_byte_changed_in_an_event_is_named() {
    let app = TestApp::spawn().await;
    some_history(&app).await;
    checkpoint(&app).await;
    let target = seq_of(&app, "user.created", "Marker alice").await;
    match app.db.backend() {
        Backend::Sqlite => {
            // In the database file itself: every copy of the marker loses one letter.
            let mut connection = app.db.pool().acquire().await.unwrap();
            connection
                .execute("PRAGMA wal_checkpoint(TRUNCATE)")
                .await
                .unwrap();
            drop(connection);
            let file = app.dir().join("changeaudit.db");
            let mut bytes = std::fs::read(&file).unwrap();
            let marker = b"Marker alice Qx7";
            let mut changed = 0;
            for at in 0..bytes.len() - marker.len() {
                if &bytes[at..at + marker.len()] == marker {
                    bytes[at + 7] = b'A';
                    changed += 1;
                }
            }
            assert!(changed >= 1, "the marker is in the file");
            std::fs::write(&file, bytes).unwrap();
        }
        Backend::Postgres => {
            behind_the_triggers(
                &app,
                &[&format!(
                    "UPDATE audit_events SET details = replace(details, 'Marker alice', 'Marker Alice') WHERE seq = {target}"
                )],
            )
            .await;
        }
    }
    let export = export_file(&app).await;
    assert_fault(
        verify(&app, &export).await,
        target,
        "does not match its hash",
    );
}

#[tokio::test]
async fn a_deleted_event_is_named() {
    let app = TestApp::spawn().await;
    some_history(&app).await;
    checkpoint(&app).await;
    let target = seq_of(&app, "user.created", "Marker alice").await;
    behind_the_triggers(
        &app,
        &[&format!("DELETE FROM audit_events WHERE seq = {target}")],
    )
    .await;
    let export = export_file(&app).await;
    assert_fault(
        verify(&app, &export).await,
        target + 1,
        &format!("expected event {target} here"),
    );
}

#[tokio::test]
async fn two_events_swapped_are_named() {
    let app = TestApp::spawn().await;
    some_history(&app).await;
    checkpoint(&app).await;
    let target = seq_of(&app, "user.created", "Marker alice").await;
    let next = target + 1;
    behind_the_triggers(
        &app,
        &[
            &format!("UPDATE audit_events SET seq = -1 WHERE seq = {target}"),
            &format!("UPDATE audit_events SET seq = {target} WHERE seq = {next}"),
            &format!("UPDATE audit_events SET seq = {next} WHERE seq = -1"),
        ],
    )
    .await;
    let export = export_file(&app).await;
    assert_fault(verify(&app, &export).await, target, "previous-event hash");
}

#[tokio::test]
async fn a_history_rewritten_and_rehashed_is_caught_by_the_signed_checkpoint() {
    let app = TestApp::spawn().await;
    some_history(&app).await;
    checkpoint(&app).await;
    let target = seq_of(&app, "user.created", "Marker alice").await;
    let export = export_file(&app).await;
    rechain(&export, target, |event| {
        event["details"]["after"]["display_name"] = json!("Someone else");
    });
    let fault = verify(&app, &export).await.unwrap_err();
    assert!(
        fault
            .reason
            .contains("do not have the root its checkpoint signed")
            && fault
                .reason
                .contains(&format!("events 1 to {}", fault.seq.unwrap())),
        "{fault}"
    );
}

#[tokio::test]
async fn another_key_and_a_forged_signature_are_refused() {
    let app = TestApp::spawn().await;
    some_history(&app).await;
    checkpoint(&app).await;
    let export = export_file(&app).await;
    let other = changeaudit_backend::trail::key::TrailKey::from_seed(&[9; 32]);
    let anchors = Anchors {
        first_key: other.verifying_key(),
        trusted: None,
    };
    let fault = verify_file(&export, anchors, None).await.unwrap_err();
    assert!(fault.reason.contains("signed by key"), "{fault}");

    let text = std::fs::read_to_string(&export).unwrap();
    let forged: Vec<String> = text
        .lines()
        .map(|line| {
            let mut value: Value = serde_json::from_str(line).unwrap();
            if value.get("checkpoint").is_some() {
                let signature = value["checkpoint"]["signature"].as_str().unwrap();
                let flipped = if signature.starts_with('0') { "1" } else { "0" };
                value["checkpoint"]["signature"] = json!(format!("{flipped}{}", &signature[1..]));
            }
            value.to_string()
        })
        .collect();
    std::fs::write(&export, forged.join("\n")).unwrap();
    let fault = verify(&app, &export).await.unwrap_err();
    assert!(
        fault.reason.contains("signature does not verify"),
        "{fault}"
    );
}

#[tokio::test]
async fn the_verify_command_exits_non_zero_and_names_the_event() {
    let app = TestApp::spawn().await;
    some_history(&app).await;
    checkpoint(&app).await;
    let export = export_file(&app).await;
    let binary = env!("CARGO_BIN_EXE_changeaudit");
    let public_key = public_path(&app.dir().join("trail.key"));
    let run = |export: &std::path::Path| {
        std::process::Command::new(binary)
            .arg("verify")
            .arg("--export")
            .arg(export)
            .arg("--public-key")
            .arg(&public_key)
            .output()
            .unwrap()
    };
    let good = run(&export);
    assert!(good.status.success(), "{good:?}");
    assert!(String::from_utf8_lossy(&good.stdout).starts_with("verified: "));

    let target = seq_of(&app, "user.created", "Marker bob").await;
    let text = std::fs::read_to_string(&export).unwrap();
    std::fs::write(&export, text.replacen("Marker bob", "Marker Bob", 1)).unwrap();
    let bad = run(&export);
    assert_eq!(bad.status.code(), Some(1));
    let said = String::from_utf8_lossy(&bad.stderr);
    assert!(
        said.contains(&format!("event {target} ")) && said.contains("does not match"),
        "{said}"
    );
}

#[tokio::test]
async fn the_api_proves_an_event_and_two_checkpoints_consistent_and_runs_a_verification() {
    let app = TestApp::spawn().await;
    some_history(&app).await;
    checkpoint(&app).await;
    let first = checkpoints::all(&app.db).await.unwrap()[0].clone();
    some_history_more(&app).await;
    for _ in 0..20 {
        app.sign_in_as_admin().await;
    }
    checkpoint(&app).await;
    let admin = app.person("admin", crate::helpers::ADMIN_PASSWORD).await;

    let status = admin.expect("GET", "/api/trail", None, 200).await;
    let latest = &status["latest_checkpoint"];
    let size = latest["tree_size"].as_u64().unwrap();
    assert!(size > 16, "enough events for stored subtrees: {size}");
    assert_eq!(status["public_key"], app.state.trail_key.public_key_hex());
    let text = admin
        .send("GET", "/api/trail/public-key", None)
        .await
        .text()
        .await
        .unwrap();
    let file = std::fs::read_to_string(public_path(&app.dir().join("trail.key"))).unwrap();
    assert_eq!(text, file);

    let root = parse_hash(latest["root"].as_str().unwrap()).unwrap();
    for seq in [1, 2, 17, size - 1, size] {
        let proof = admin
            .expect("GET", &format!("/api/trail/events/{seq}"), None, 200)
            .await;
        assert_eq!(proof["event"]["seq"], seq);
        let path: Vec<_> = proof["proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(|hash| parse_hash(hash.as_str().unwrap()).unwrap())
            .collect();
        let leaf = event_leaf(&parse_hash(proof["hash"].as_str().unwrap()).unwrap());
        merkle::verify_inclusion(seq - 1, size, &leaf, &path, &root)
            .unwrap_or_else(|error| panic!("event {seq}: {error}"));
    }
    // An event after the latest checkpoint has no proof yet; one that does not exist, none.
    app.sign_in_as_admin().await;
    let refused = admin
        .expect("GET", &format!("/api/trail/events/{}", size + 2), None, 409)
        .await;
    assert_eq!(refused["errors"][0]["field"], "seq");
    admin
        .expect("GET", "/api/trail/events/999999", None, 404)
        .await;

    let consistency = admin
        .expect(
            "GET",
            &format!("/api/trail/consistency?from={}&to={size}", first.tree_size),
            None,
            200,
        )
        .await;
    let proof: Vec<_> = consistency["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hash| parse_hash(hash.as_str().unwrap()).unwrap())
        .collect();
    merkle::verify_consistency(
        first.tree_size,
        size,
        &proof,
        &parse_hash(&first.root).unwrap(),
        &root,
    )
    .unwrap();
    admin
        .expect("GET", "/api/trail/consistency?from=5&to=1", None, 422)
        .await;

    // The download verifies offline, and is itself audited.
    let body = admin
        .send("GET", "/api/trail/export", None)
        .await
        .text()
        .await
        .unwrap();
    let downloaded = app.dir().join("downloaded.jsonl");
    std::fs::write(&downloaded, body).unwrap();
    verify(&app, &downloaded).await.unwrap();

    let ran = admin
        .expect("POST", "/api/trail/verification", None, 200)
        .await;
    assert_eq!(ran["ok"], true, "{ran}");
    // The two above, the download's, and the run's own: each export signs what it holds.
    assert_eq!(ran["checkpoints"], 4);
    let target = seq_of(&app, "user.created", "Marker carol").await;
    behind_the_triggers(
        &app,
        &[&format!(
            "UPDATE audit_events SET actor = 'mallory' WHERE seq = {target}"
        )],
    )
    .await;
    let ran = admin
        .expect("POST", "/api/trail/verification", None, 200)
        .await;
    assert_eq!(
        (ran["ok"].as_bool(), ran["failed_seq"].as_i64()),
        (Some(false), Some(target))
    );
    assert!(
        ran["summary"]
            .as_str()
            .unwrap()
            .contains("does not match its hash"),
        "{ran}"
    );
    let actions: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit_events WHERE action LIKE 'trail.%' ORDER BY seq",
    )
    .fetch_all(app.db.pool())
    .await
    .unwrap();
    assert_eq!(
        actions,
        ["trail.exported", "trail.verified", "trail.verified"]
    );
}

/// The evidence bundle of `change` as an auditor downloads it, in a file.
pub async fn bundle_file(app: &TestApp, change: &str) -> PathBuf {
    let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE username = 'bundler'")
        .fetch_optional(app.db.pool())
        .await
        .unwrap();
    if exists.is_none() {
        app.add_user("bundler", crate::fixtures::PASSWORD, &["auditor"])
            .await;
    }
    let auditor = app.person("bundler", crate::fixtures::PASSWORD).await;
    let response = auditor
        .send("GET", &format!("/api/changes/{change}/evidence"), None)
        .await;
    assert_eq!(response.status(), 200);
    let path = app.dir().join(format!("evidence-{change}.jsonl"));
    std::fs::write(&path, response.bytes().await.unwrap()).unwrap();
    path
}

/// `changeaudit verify --bundle`, with the trail's public key.
pub fn verify_bundle_file(
    app: &TestApp,
    bundle: &std::path::Path,
) -> Result<changeaudit_shared::evidence::BundleSummary, Fault> {
    let public_key = read_public_key(&public_path(&app.dir().join("trail.key"))).unwrap();
    changeaudit_shared::verify::verify_bundle(
        std::io::BufReader::new(std::fs::File::open(bundle).unwrap()),
        &public_key,
    )
}

/// Rewrites the bundle's lines of `kind` with `edit`.
pub fn edit_bundle(bundle: &std::path::Path, kind: &str, edit: impl Fn(&mut Value)) {
    let text = std::fs::read_to_string(bundle).unwrap();
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            let mut value: Value = serde_json::from_str(line).unwrap();
            if value.get(kind).is_some() {
                edit(&mut value[kind]);
            }
            value.to_string()
        })
        .collect();
    std::fs::write(bundle, lines.join("\n") + "\n").unwrap();
}

#[tokio::test]
async fn a_server_with_another_key_signs_nothing_into_the_trail() {
    let app = TestApp::spawn().await;
    checkpoint(&app).await;
    app.sign_in_as_admin().await;
    let other = changeaudit_backend::trail::key::TrailKey::from_seed(&[9; 32]);
    let policy = Policy {
        every_events: 1,
        every: Duration::from_secs(60),
    };
    let refused = checkpoints::checkpoint_if_due(&app.db, &other, policy, app.clock.now())
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("check trail_key_file"), "{refused}");
    assert_eq!(checkpoints::all(&app.db).await.unwrap().len(), 1);
}
