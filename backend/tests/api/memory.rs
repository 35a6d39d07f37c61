//! What the server holds in memory while it serves a large recording: measured on the real
//! binary, started as a replica beside the test's own server, so that its resident memory is
//! its own and no other test's.

use std::process::Stdio;
use std::time::Duration;

use changeaudit_e2e::{PeakMemory, Sshd, resident};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::fixtures::PASSWORD;
use crate::helpers::{Person, TEST_MASTER_KEY, TestApp};
use crate::terminal::Rig;

const MIB: u64 = 1 << 20;

/// `changeaudit serve`, the built binary, on the database and data folder of `app`.
struct Binary {
    child: Child,
    address: String,
}

impl Binary {
    async fn beside(app: &TestApp) -> Binary {
        let mut child = Command::new(env!("CARGO_BIN_EXE_changeaudit"))
            .arg("serve")
            .env_clear()
            .env("CHANGEAUDIT_LISTEN", "127.0.0.1:0")
            .env("CHANGEAUDIT_DATA_DIR", app.dir())
            .env("CHANGEAUDIT_DATABASE_URL", &app.database_url)
            .env("CHANGEAUDIT_MASTER_KEY", TEST_MASTER_KEY)
            .env("CHANGEAUDIT_STATIC_DIR", app.dir().join("dist"))
            .env("CHANGEAUDIT_LOG", "warn")
            .envs(app.recordings_settings.iter().cloned())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("starting the changeaudit binary");
        let mut lines = BufReader::new(child.stdout.take().expect("its stdout")).lines();
        let announced = async {
            while let Some(line) = lines.next_line().await.expect("reading its stdout") {
                if let Some(address) = line.strip_prefix("changeaudit listening on ") {
                    return address.to_owned();
                }
            }
            panic!("the binary exited before it listened");
        };
        let address = tokio::time::timeout(Duration::from_secs(60), announced)
            .await
            .expect("the binary to listen");
        Binary { child, address }
    }
}

/// Downloads `path` as `person`, counting its bytes without keeping them; answers the count
/// and the last line.
async fn download(person: &Person, path: &str) -> (u64, String) {
    let mut response = person
        .client
        .get(format!("{}{path}", person.address()))
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status(), 200, "{path}");
    let (mut bytes, mut tail) = (0_u64, Vec::new());
    while let Some(chunk) = response.chunk().await.expect("a chunk of the body") {
        bytes += chunk.len() as u64;
        tail.extend_from_slice(&chunk);
        if tail.len() > 8192 {
            tail.drain(..tail.len() - 4096);
        }
    }
    let text = String::from_utf8_lossy(&tail).into_owned();
    let last = text.trim_end().rsplit('\n').next().unwrap_or_default();
    (bytes, last.to_owned())
}

/// A real session prints 180 MB of control characters, each recorded as a six-byte JSON
/// escape: a recording of a little over a gigabyte.
async fn a_gigabyte_session(rig: &Rig) -> (i64, u64) {
    let mut terminal = rig.approved_terminal().await;
    terminal.keep_tail_only();
    terminal
        .type_text("head -c 180000000 /dev/zero | tr '\\0' '\\1'; echo big-$((1+1))-done\r")
        .await;
    terminal
        .until(|t| ends_near(&t.output, "big-2-done"), "the output to end")
        .await;
    terminal.type_text("exit\r").await;
    terminal.closed().await;
    let id = terminal.session_id.expect("a session ID");
    let record = rig.session(id).await;
    let size = record["recording_bytes"].as_u64().expect("a sealed size");
    assert!(size > 1 << 30, "the recording is {size} bytes");
    (id, size)
}

/// Whether `needle` is in the last few hundred bytes of `text`.
fn ends_near(text: &str, needle: &str) -> bool {
    let from = (text.len().saturating_sub(256)..text.len())
        .find(|&at| text.is_char_boundary(at))
        .unwrap_or(0);
    text[from..].contains(needle)
}

#[tokio::test]
async fn a_gigabyte_recording_is_served_to_the_player_and_into_a_bundle_in_little_memory() {
    let rig = Rig::start(Sshd::start().await.unwrap()).await;
    let (id, size) = a_gigabyte_session(&rig).await;

    let binary = Binary::beside(&rig.app).await;
    let auditor = Person::anonymous_at(&binary.address);
    let signed_in = auditor
        .post(
            "/api/session",
            &json!({ "username": "auditor", "password": PASSWORD }),
        )
        .await;
    assert_eq!(signed_in.status(), 200);
    let pid = binary.child.id().expect("the binary's pid");
    let before = resident(pid);
    let memory = PeakMemory::watch(pid);

    let (played, last) =
        download(&auditor, &format!("/api/terminal-sessions/{id}/recording")).await;
    assert_eq!(played, size);
    serde_json::from_str::<serde_json::Value>(&last).expect("the recording ends in a whole event");
    let (bundled, last) = download(&auditor, "/api/changes/CHG-7/evidence").await;
    assert!(bundled > size, "the bundle is {bundled} bytes");
    serde_json::from_str::<serde_json::Value>(&last).expect("the bundle ends in a whole line");

    let grown = memory.peak().saturating_sub(before);
    println!(
        "serving a {} MiB recording and its bundle: RSS {} MiB before, grew {} MiB at most",
        size / MIB,
        before / MIB,
        grown / MIB
    );
    assert!(grown < 64 * MIB, "the server grew by {} MiB", grown / MIB);
}
