//! Replicas that know each other: a watcher on one replica is relayed, live, a session another
//! replica runs, over the cluster listener, which takes only requests signed with the cluster
//! secret and is not among the public routes; a session whose replica stopped is marked
//! interrupted by the others, and its recording sealed once it is stored whole.

use changeaudit_backend::clock::{Clock, Timestamp};
use changeaudit_backend::cluster::{relay, signing};
use changeaudit_backend::terminal::interruption;
use changeaudit_e2e::Sshd;
use changeaudit_shared::terminal::EndReason;
use secrecy::SecretString;

use crate::fixtures::PASSWORD as PERSON_PASSWORD;
use crate::helpers::TestApp;
use crate::terminal::Rig;
use crate::terminal_client::Terminal;
use crate::trail;

const SECRET: &str = "the test cluster's secret, long enough";

async fn rig_in_a_cluster() -> Rig {
    let app = TestApp::spawn_with(&[("CHANGEAUDIT_CLUSTER_SECRET", SECRET)]).await;
    Rig::on(app, Sshd::start().await.unwrap()).await
}

#[tokio::test]
async fn a_watcher_on_another_replica_is_relayed_the_session_live_and_terminates_it() {
    let rig = rig_in_a_cluster().await;
    // Recordings in a folder of its own: the second replica cannot read the first's from a
    // store, so everything it shows came through the relay.
    let own_folder = tempfile::tempdir().unwrap();
    let second = rig
        .app
        .replica_with(&[
            ("CHANGEAUDIT_CLUSTER_SECRET", SECRET),
            (
                "CHANGEAUDIT_RECORDINGS_DIR",
                own_folder.path().to_str().unwrap(),
            ),
        ])
        .await;
    let mut terminal = rig.approved_terminal().await;
    let id = terminal.session_id.unwrap();
    let auditor = second.person("auditor", PERSON_PASSWORD).await;
    let mut watcher = Terminal::connect(&auditor, &format!("/api/terminal-sessions/{id}/watch"))
        .await
        .unwrap();
    terminal.run("echo relayed-$((6*7))").await;
    watcher
        .until(
            |w| w.output.contains("relayed-42\r\n"),
            "the relayed output",
        )
        .await;

    auditor
        .expect(
            "POST",
            &format!("/api/terminal-sessions/{id}/terminate"),
            None,
            202,
        )
        .await;
    let (reason, _) = terminal.closed().await;
    assert_eq!(reason, EndReason::Terminated);
    let (watched_reason, _) = watcher.closed().await;
    assert_eq!(watched_reason, EndReason::Terminated);
    assert_eq!(watcher.output, terminal.output);
}

#[tokio::test]
async fn the_cluster_listener_takes_only_requests_signed_with_the_secret() {
    let rig = rig_in_a_cluster().await;
    let mut terminal = rig.approved_terminal().await;
    let id = terminal.session_id.unwrap();
    terminal.run("echo on-the-wire").await;
    let peer = rig.app.peer_address.clone().unwrap();
    let path = relay::recording_path(id, 0);
    let now = rig.app.clock.now();
    let client = reqwest::Client::new();
    let ask = |signature: Option<String>| {
        let mut request = client.get(format!("{peer}{path}"));
        if let Some(signature) = signature {
            request = request.header(signing::HEADER, signature);
        }
        request.send()
    };
    let sign = |secret: &str, at: Timestamp, path: &str| {
        signing::sign(&SecretString::from(secret.to_owned()), at, path)
    };

    assert_eq!(ask(None).await.unwrap().status(), 401);
    let forged = sign("another secret, as long as the real one", now, &path);
    assert_eq!(ask(forged).await.unwrap().status(), 401);
    let stale = sign(
        SECRET,
        Timestamp::from_millis(now.as_millis() - 60_000),
        &path,
    );
    assert_eq!(ask(stale).await.unwrap().status(), 401);
    // A signature is for its own path: one for another session does not open this one.
    let for_another = sign(SECRET, now, &relay::recording_path(id + 1, 0));
    assert_eq!(ask(for_another).await.unwrap().status(), 401);

    let mut answer = ask(sign(SECRET, now, &path)).await.unwrap();
    assert_eq!(answer.status(), 200);
    let mut received = Vec::new();
    while !String::from_utf8_lossy(&received).contains("on-the-wire") {
        received.extend_from_slice(&answer.chunk().await.unwrap().unwrap());
    }
    assert!(received.starts_with(b"{\"version\":2"));
    // A session this replica does not run is not relayed from it.
    let elsewhere = relay::recording_path(id + 1, 0);
    let not_here = client
        .get(format!("{peer}{elsewhere}"))
        .header(signing::HEADER, sign(SECRET, now, &elsewhere).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(not_here.status(), 404);

    // Nor is the channel among the public routes, signed or not.
    let public = client
        .get(rig.app.url(&path))
        .header(signing::HEADER, sign(SECRET, now, &path).unwrap())
        .send()
        .await
        .unwrap();
    let kind = public
        .headers()
        .get("content-type")
        .map(|value| value.to_str().unwrap().to_owned());
    assert_ne!(kind.as_deref(), Some("application/octet-stream"));
    assert!(!public.text().await.unwrap().contains("on-the-wire"));
}

#[tokio::test]
async fn a_session_cut_off_is_marked_interrupted_at_its_last_event_and_its_recording_sealed_once_whole()
 {
    let rig = Rig::start(Sshd::start().await.unwrap()).await;
    let mut terminal = rig.approved_terminal().await;
    let id = terminal.session_id.unwrap();
    terminal.run("echo before-the-cut").await;
    let started_at: i64 =
        sqlx::query_scalar("SELECT started_at FROM terminal_sessions WHERE id = $1")
            .bind(id)
            .fetch_one(rig.app.db.pool())
            .await
            .unwrap();

    // An hour on, its heartbeat is long stale: as another replica sees a session whose replica
    // was killed.
    let later = Timestamp::from_millis(rig.app.clock.now().as_millis() + 3_600_000);
    let store = &*rig.app.state.recordings;
    let swept = interruption::sweep(&rig.app.db, store, later)
        .await
        .unwrap();
    assert_eq!(swept.interrupted, 1);
    let (status, reason, ended_at): (String, String, i64) =
        sqlx::query_as("SELECT status, end_reason, ended_at FROM terminal_sessions WHERE id = $1")
            .bind(id)
            .fetch_one(rig.app.db.pool())
            .await
            .unwrap();
    assert_eq!((status.as_str(), reason.as_str()), ("ended", "interrupted"));
    // Ended at its recording's last event, seconds after it started, not an hour on.
    let cast = rig.recording(id).await;
    let text = String::from_utf8(cast).unwrap();
    let last_event: f64 = serde_json::from_str::<serde_json::Value>(text.lines().last().unwrap())
        .unwrap()[0]
        .as_f64()
        .unwrap();
    let expected = started_at + (last_event * 1000.0) as i64;
    assert!((ended_at - expected).abs() <= 1, "{ended_at} vs {expected}");
    let actions = rig.actions(&format!("terminal_session:{id}")).await;
    let (actor, _, details) = actions
        .iter()
        .find(|(_, action, _)| action == "session.interrupted")
        .unwrap();
    assert_eq!(actor, "system");
    assert_eq!(details["ended_at_from"], "recording");
    // A second sweep, or another replica's, marks it no more.
    let again = interruption::sweep(&rig.app.db, store, later)
        .await
        .unwrap();
    assert_eq!(again.interrupted, 0);

    // The replica was alive after all (its database was away): it sees the mark and ends the
    // session itself, sealing its recording.
    let (reason, message) = terminal.closed().await;
    assert_eq!(reason, EndReason::Interrupted);
    assert!(message.contains("marked interrupted"), "{message}");

    // As a recording that came back whole once its replica was gone: in object storage, its
    // digest is sealed in the trail, and `verify` holds the recording to it. A folder's
    // recording is written in place, so it is never sealed as recovered.
    sqlx::query(
        "UPDATE terminal_sessions SET recording_sha256 = NULL, recording_bytes = NULL
         WHERE id = $1",
    )
    .bind(id)
    .execute(rig.app.db.pool())
    .await
    .unwrap();
    let recovered = interruption::sweep(&rig.app.db, store, later)
        .await
        .unwrap();
    let in_objects = !rig.app.recordings_settings.is_empty();
    assert_eq!(recovered.recovered, usize::from(in_objects));
    if !in_objects {
        return;
    }
    let actions = rig.actions(&format!("terminal_session:{id}")).await;
    let (_, _, details) = actions
        .iter()
        .find(|(_, action, _)| action == "session.recording_recovered")
        .unwrap();
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(text.as_bytes()));
    assert_eq!(details["recording_sha256"], digest.as_str());
    let export = trail::export_file(&rig.app).await;
    trail::verify(&rig.app, &export).await.unwrap();

    let name: String = sqlx::query_scalar("SELECT recording FROM terminal_sessions WHERE id = $1")
        .bind(id)
        .fetch_one(rig.app.db.pool())
        .await
        .unwrap();
    rig.app
        .replace_recording(
            &name,
            Some(text.replace("before-the-cut", "before-the-CUT").into()),
        )
        .await;
    let fault = trail::verify(&rig.app, &export).await.unwrap_err();
    assert!(fault.to_string().contains(&name), "{fault}");
}

#[tokio::test]
async fn a_replica_that_cannot_reach_the_database_ends_its_sessions_before_the_others_mark_them() {
    let rig = Rig::start(Sshd::start().await.unwrap()).await;
    let mut terminal = rig.approved_terminal().await;
    terminal.run("echo still-recorded").await;
    // The database goes away for this replica: its heartbeats stop reaching it.
    rig.app.state.db.pool().close().await;
    let (reason, message) = terminal.closed().await;
    assert_eq!(reason, EndReason::Interrupted);
    assert!(message.contains("cannot reach the database"), "{message}");
}
