//! Recordings in S3-compatible storage (the Garage node the test command starts): uploaded in
//! segments while written, whole once sealed, read by a replica that never held the spool, and
//! stored from a spool a crash left behind.

use std::path::Path;
use std::time::Duration;

use changeaudit_backend::config::ObjectStorage;
use changeaudit_backend::recordings::{
    self, ObjectRecordings, Recorder, RecordingStore, SEGMENT_BYTES,
};
use changeaudit_shared::asciicast::{Event, EventData, Header};
use sha2::{Digest, Sha256};

/// The bucket the test command started, under a prefix of this test's own, with its spool in
/// `spool`: one replica.
fn replica(prefix: &str, spool: &Path) -> ObjectRecordings {
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
fn unique_prefix(folder: &Path) -> String {
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

    let restarted = replica(&prefix, spool.path());
    assert_eq!(restarted.store_left_behind().await.unwrap(), 1);
    let spooled_away = !spool.path().join(name).exists();
    assert!(spooled_away, "the spool is emptied once stored");
    let stored = reader.read(name, 0, usize::MAX).await.unwrap();
    assert!(stored.ends_with(b"\"]\n"), "whole events");
    assert_eq!(stored.iter().filter(|byte| **byte == b'\n').count(), 101);
    assert_eq!(restarted.store_left_behind().await.unwrap(), 0);
}
