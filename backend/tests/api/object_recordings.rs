//! Recordings in S3-compatible storage (the Garage node the test command starts): uploaded in
//! segments while written, whole once sealed, read by a replica that never held the spool,
//! stored from a spool a crash left behind, and an installation's recordings copied in.

use std::path::Path;
use std::time::Duration;

use changeaudit_backend::config::ObjectStorage;
use changeaudit_backend::recordings::copy::{CopyError, copy_all};
use changeaudit_backend::recordings::{
    self, ObjectRecordings, Recorder, RecordingStore, SEGMENT_BYTES,
};
use changeaudit_e2e::Sshd;
use changeaudit_shared::asciicast::{Event, EventData, Header};
use sha2::{Digest, Sha256};

use crate::terminal::Rig;
use crate::terminal_client::Terminal;
use crate::trail;

/// The bucket the test command started, under a prefix of this test's own, with its spool in
/// `spool`: one replica.
pub(crate) fn replica(prefix: &str, spool: &Path) -> ObjectRecordings {
    let test = |name: &str| {
        std::env::var(format!("CHANGEAUDIT_TEST_S3_{name}")).unwrap_or_else(|_| {
            panic!("CHANGEAUDIT_TEST_S3_{name} is not set: `scripts/dev test` starts Garage and sets it")
        })
    };
    ObjectRecordings::open(&ObjectStorage {
        bucket: test("BUCKET"),
        prefix: prefix.to_owned(),
        endpoint: Some(test("ENDPOINT")),
        region: Some(test("REGION")),
        path_style: Some(true),
        access_key_id: Some(test("ACCESS_KEY_ID")),
        secret_access_key: Some(test("SECRET_ACCESS_KEY").into()),
        spool_dir: spool.to_owned(),
    })
    .expect("the test bucket")
}

/// A prefix no other test uses: the name of a folder of this test's own.
pub(crate) fn unique_prefix(folder: &Path) -> String {
    folder.file_name().unwrap().to_string_lossy().into_owned()
}

/// An event line of output, `n` in it, about 1 KiB.
fn output(n: usize) -> Event {
    Event {
        time: n as f64 / 1000.0,
        data: EventData::Output(format!("{n:08} {}\r\n", "x".repeat(1000))),
    }
}

/// Reads recording `name` from `store` until it holds at least `bytes` bytes.
async fn until_it_holds(store: &dyn RecordingStore, name: &str, bytes: u64) -> Vec<u8> {
    for _ in 0..200 {
        if let Ok(read) = store.read(name, 0, usize::MAX).await
            && read.len() as u64 >= bytes
        {
            return read;
        }
        #[expect(
            clippy::disallowed_methods,
            reason = "a segment is uploaded beside the writes, with nothing to wait on outside"
        )]
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("recording {name} never held {bytes} bytes on the other replica");
}

#[tokio::test]
async fn a_recording_is_uploaded_in_segments_as_written_and_whole_once_sealed() {
    let (spool, elsewhere) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let prefix = unique_prefix(spool.path());
    let (writer, reader) = (
        replica(&prefix, spool.path()),
        replica(&prefix, elsewhere.path()),
    );
    let name = "20261207-segments.cast";

    let sink = writer.create(name).await.unwrap();
    let mut recorder = Recorder::start(sink, &Header::new(80, 24)).await.unwrap();
    let mut n = 0;
    while recorder.bytes() < SEGMENT_BYTES + 4096 {
        recorder.record(&output(n)).await.unwrap();
        n += 1;
    }
    // Past a segment's worth: the other replica, which never saw the spool, reads it from the
    // bucket, as the spool has it.
    let segment = until_it_holds(&reader, name, SEGMENT_BYTES).await;
    let spooled = std::fs::read(spool.path().join(name)).unwrap();
    assert_eq!(segment, spooled[..segment.len()]);

    recorder.record(&output(n)).await.unwrap();
    let sealed = recorder.finish().await.unwrap();
    assert!(
        !spool.path().join(name).exists(),
        "the spool is emptied once the recording is stored"
    );
    let whole = reader.read(name, 0, usize::MAX).await.unwrap();
    assert_eq!(whole.len() as u64, sealed.bytes);
    assert_eq!(hex::encode(Sha256::digest(&whole)), sealed.sha256);
    assert_eq!(
        recordings::digest(&reader, name).await.unwrap(),
        sealed.sha256
    );
    assert_eq!(
        reader.read(name, 5, 7).await.unwrap(),
        whole[5..12].to_vec(),
        "a range of the whole"
    );
    for replica in [&writer, &reader] {
        let again = replica.create(name).await.map(drop).unwrap_err();
        assert_eq!(
            again.kind(),
            std::io::ErrorKind::AlreadyExists,
            "never overwritten"
        );
    }
}

#[tokio::test]
async fn a_spool_a_crash_left_behind_is_stored_whole_when_the_replica_starts_again() {
    let (spool, elsewhere) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let prefix = unique_prefix(spool.path());
    let name = "20261207-left.cast";
    {
        let writer = replica(&prefix, spool.path());
        let sink = writer.create(name).await.unwrap();
        let mut recorder = Recorder::start(sink, &Header::new(80, 24)).await.unwrap();
        for n in 0..100 {
            recorder.record(&output(n)).await.unwrap();
        }
        recorder.sync().await.unwrap();
        // The replica dies: nothing is sealed, nothing stored, the spool stays.
    }
    let reader = replica(&prefix, elsewhere.path());
    assert!(
        reader.read(name, 0, 10).await.is_err(),
        "nothing stored yet"
    );

    // Beside it, one that cannot be read: it stays for a later round and holds up no other.
    let broken = spool.path().join("20261207-broken.cast");
    std::fs::create_dir(&broken).unwrap();
    let restarted = replica(&prefix, spool.path());
    assert_eq!(restarted.store_left_behind().await.unwrap(), 1);
    assert!(broken.exists());
    let spooled_away = !spool.path().join(name).exists();
    assert!(spooled_away, "the spool is emptied once stored");
    let stored = reader.read(name, 0, usize::MAX).await.unwrap();
    assert!(stored.ends_with(b"\"]\n"), "whole events");
    assert_eq!(stored.iter().filter(|byte| **byte == b'\n').count(), 101);
    std::fs::remove_dir(&broken).unwrap();
    assert_eq!(restarted.store_left_behind().await.unwrap(), 0);
}

/// An installation's recordings copied into a bucket: `verify` passes on the copy, a second run
/// keeps what is there, a copy cut short is finished, and a bucket holding anything else is
/// refused before anything is copied.
#[tokio::test]
async fn copy_recordings_moves_an_installation_into_a_bucket_and_resumes() {
    let rig = Rig::start(Sshd::start().await.unwrap()).await;
    let first = rig.short_session(&["echo planned-one"]).await;
    // A second session under the same approval.
    let mut second = Terminal::open(&rig.member, rig.password_credential).await;
    second
        .until(|t| t.output.ends_with("$ "), "the prompt")
        .await;
    second.run("uname -s").await;
    second.type_text("exit\r").await;
    second.closed().await;
    trail::checkpoint(&rig.app).await;
    let export = trail::export_file(&rig.app).await;
    let (spool, foreign_spool) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let target = replica(&unique_prefix(spool.path()), spool.path());
    let from = &*rig.app.state.recordings;

    let copied = copy_all(from, &target).await.unwrap();
    assert_eq!((copied.copied, copied.kept), (2, 0));
    let summary = trail::verify_against(&rig.app, &export, None, &target)
        .await
        .unwrap();
    assert_eq!(summary.recordings, 2);

    assert_eq!(copy_all(from, &target).await.unwrap().kept, 2);
    // Cut short: one recording missing from the target, as if the run had stopped before it.
    let name: String = sqlx::query_scalar("SELECT recording FROM terminal_sessions WHERE id = $1")
        .bind(first)
        .fetch_one(rig.app.db.pool())
        .await
        .unwrap();
    target.remove(&name).await.unwrap();
    let resumed = copy_all(from, &target).await.unwrap();
    assert_eq!((resumed.copied, resumed.kept), (1, 1));
    trail::verify_against(&rig.app, &export, None, &target)
        .await
        .unwrap();

    let foreign = replica(&unique_prefix(foreign_spool.path()), foreign_spool.path());
    let mut sink = foreign.create("20200101-someone-else.cast").await.unwrap();
    sink.write(b"{\"version\": 2, \"width\": 80, \"height\": 24}\n")
        .await
        .unwrap();
    sink.seal().await.unwrap();
    let refused = copy_all(from, &foreign).await.unwrap_err();
    assert!(
        matches!(refused, CopyError::Foreign(ref name) if name == "20200101-someone-else.cast"),
        "{refused}"
    );
    assert_eq!(foreign.names().await.unwrap().len(), 1, "nothing copied");
}

/// The command: the configured folder's recordings into the bucket `--to` names, its settings
/// from `CHANGEAUDIT_S3_*`; a target it cannot use is named.
#[tokio::test]
async fn the_copy_recordings_command_copies_the_configured_store_into_the_url_given() {
    let (data, spool) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let folder = recordings::LocalFolder::new(data.path().join("recordings"));
    let sink = folder.create("20261207-command.cast").await.unwrap();
    let mut recorder = Recorder::start(sink, &Header::new(80, 24)).await.unwrap();
    recorder.record(&output(1)).await.unwrap();
    let sealed = recorder.finish().await.unwrap();

    let test = |name: &str| std::env::var(format!("CHANGEAUDIT_TEST_S3_{name}")).unwrap();
    let prefix = unique_prefix(spool.path());
    let run = |to: String| {
        std::process::Command::new(env!("CARGO_BIN_EXE_changeaudit"))
            .args(["copy-recordings", "--to", &to])
            .env_clear()
            .env("CHANGEAUDIT_DATA_DIR", data.path())
            .env("CHANGEAUDIT_RECORDINGS_SPOOL_DIR", spool.path())
            .env("CHANGEAUDIT_S3_ENDPOINT", test("ENDPOINT"))
            .env("CHANGEAUDIT_S3_REGION", test("REGION"))
            .env("CHANGEAUDIT_S3_ACCESS_KEY_ID", test("ACCESS_KEY_ID"))
            .env(
                "CHANGEAUDIT_S3_SECRET_ACCESS_KEY",
                test("SECRET_ACCESS_KEY"),
            )
            .output()
            .unwrap()
    };
    let done = run(format!("s3://{}/{prefix}", test("BUCKET")));
    let said = String::from_utf8_lossy(&done.stdout);
    assert!(
        done.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(said.contains("1 recordings copied"), "{said}");
    let copy = replica(&prefix, spool.path());
    assert_eq!(
        recordings::digest(&copy, "20261207-command.cast")
            .await
            .unwrap(),
        sealed.sha256
    );

    let refused = run("ftp://nowhere/x".to_owned());
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("--to") && said.contains("must be file:///folder or s3://bucket/prefix"),
        "{said}"
    );
}
