//! What scaling out costs, in one run.
//!
//! - **Segment uploads**: the same bulk output (a file of random bytes printed as base64 to a
//!   100×30 terminal) through two servers, one keeping recordings in a folder (`file://`), one
//!   in a real Garage node on loopback (`s3://`, segments uploaded every 8 MiB while the output
//!   flows). Prints each one's MiB/s and server CPU per MiB, their ratios, and how long after the
//!   session the S3 server took to store the recording whole (its spool emptied).
//! - **Watching from another replica**: a second replica joins the S3 server (the same
//!   database, bucket and cluster secret); a session on the first is watched from the first and
//!   from the second (relayed over the cluster listener). For each line the session prints,
//!   the time from the executor's socket to each watcher's: median and 99th percentile.
//!
//!     cargo bench -p changeaudit-backend --bench scale_out
//!
//! Needs `garage` on the path (`scripts/dev test` installs it). `STORES_MIB` sets the file's
//! size (100), `STORES_ROUNDS` the rounds (3) and `WATCHED_LINES` the lines watched (500).

// A measuring tool: it prints, and stops on any failure.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use changeaudit_e2e::{Garage, Sshd, free_port};
use futures_util::StreamExt;
use tokio::sync::mpsc;

use support::{
    Server, Socket, median, next_output, output_until, provision, random_file, send, setting,
};

const ADMIN_PASSWORD: &str = "recording stores benchmark admin password";
const MIB: f64 = (1 << 20) as f64;
/// Printed after the output; typed as an expression, so the typed line never matches it.
const DONE: &str = "STORES-2-DONE";

#[tokio::main]
async fn main() {
    let mib: u64 = setting("STORES_MIB", 100);
    let rounds: usize = setting("STORES_ROUNDS", 3).max(1);
    let sshd = Sshd::start().await.unwrap();
    let garage = Garage::start().await.unwrap();
    let folder = tempfile::tempdir().unwrap();
    let file = random_file(folder.path(), mib);

    let local = Server::start(ADMIN_PASSWORD).await;
    let mut objects_settings = garage.settings("bench");
    objects_settings.extend(cluster(free_port().unwrap()));
    let objects = Server::start_with(ADMIN_PASSWORD, &pairs(&objects_settings)).await;

    println!(
        "recordings in a folder against S3 (Garage 2.5 on loopback): {mib} MiB of random bytes as base64, {rounds} rounds"
    );
    println!(
        "  {:<16} {:>10} {:>10} {:>12} {:>16}",
        "", "MiB out", "MiB/s", "CPU ms/MiB", "stored after"
    );
    let local = Ready::on(local, &sshd).await;
    let objects = Ready::on(objects, &sshd).await;
    let mut ratios = Vec::new();
    for round in 1..=rounds {
        println!("  round {round}");
        let file_run = run(&local, &file).await;
        let s3_run = run(&objects, &file).await;
        report("file://", &file_run);
        report("s3://", &s3_run);
        ratios.push((
            s3_run.mib_per_s() / file_run.mib_per_s(),
            s3_run.cpu_ms_per_mib() / file_run.cpu_ms_per_mib(),
        ));
        println!(
            "    s3:// against file://: throughput {:.2}, CPU per MiB {:.2}",
            ratios[round - 1].0,
            ratios[round - 1].1
        );
    }
    println!(
        "  median of {rounds} rounds: throughput {:.2}, CPU per MiB {:.2} of the folder's",
        median(ratios.iter().map(|ratio| ratio.0).collect()),
        median(ratios.iter().map(|ratio| ratio.1).collect())
    );
    watching(&objects, &objects_settings).await;
}

const CLUSTER_SECRET: &str = "the scale-out benchmark's cluster secret";

/// The settings of a replica answering its peers on `port`.
fn cluster(port: u16) -> Vec<(String, String)> {
    vec![
        (
            "CHANGEAUDIT_CLUSTER_LISTEN".to_owned(),
            format!("127.0.0.1:{port}"),
        ),
        (
            "CHANGEAUDIT_CLUSTER_SECRET".to_owned(),
            CLUSTER_SECRET.to_owned(),
        ),
    ]
}

fn pairs(settings: &[(String, String)]) -> Vec<(&str, &str)> {
    settings
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect()
}

/// A session on `first`, watched from it and from a second replica: each line's time from the
/// executor's socket to each watcher's.
async fn watching(first: &Ready, first_settings: &[(String, String)]) {
    let lines: usize = setting("WATCHED_LINES", 500).max(1);
    let data = first.server.data_dir();
    // The second replica: the first's database (SQLite, shared by both processes on this
    // machine), keys and bucket, its own spool and cluster port.
    let mut settings: Vec<(String, String)> = first_settings
        .iter()
        .filter(|(name, _)| !name.starts_with("CHANGEAUDIT_CLUSTER_"))
        .cloned()
        .collect();
    settings.extend(cluster(free_port().unwrap()));
    settings.extend([
        (
            "CHANGEAUDIT_DATABASE_URL".to_owned(),
            format!("sqlite://{}", data.join("changeaudit.db").display()),
        ),
        (
            "CHANGEAUDIT_MASTER_KEY_FILE".to_owned(),
            data.join("master.key").display().to_string(),
        ),
        (
            "CHANGEAUDIT_TRAIL_KEY_FILE".to_owned(),
            data.join("trail.key").display().to_string(),
        ),
    ]);
    let second = Server::start_with(ADMIN_PASSWORD, &pairs(&settings)).await;
    let admin_there = second.signed_in("admin", ADMIN_PASSWORD, "192.0.2.2").await;

    let mut executor = first
        .server
        .terminal_sized(&first.admin, first.credential, 100, 30)
        .await;
    let running: serde_json::Value = first
        .admin
        .http
        .get(format!(
            "{}/api/terminal-sessions/running",
            first.server.url
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = running[0]["id"].as_i64().unwrap();
    let mut same = arrivals(first.server.watch(&first.admin, id).await, lines);
    let mut other = arrivals(second.watch(&admin_there, id).await, lines);
    let (mut on_same, mut on_other) = (Vec::new(), Vec::new());
    for line in 0..lines {
        send(&mut executor, &format!("echo w-$(({MARKS}+{line}))\r")).await;
        let shown = output_until(&mut executor, &mark(line)).await;
        let at = Instant::now();
        assert!(shown > 0);
        let after = |watched: Instant| watched.saturating_duration_since(at).as_secs_f64() * 1e3;
        on_same.push(after(same.recv().await.unwrap()));
        on_other.push(after(other.recv().await.unwrap()));
    }
    println!(
        "watching a session live, {lines} lines, from the executor's socket to the watcher's:"
    );
    for (what, mut times) in [
        ("on the replica running it", on_same),
        ("on another replica (relayed)", on_other),
    ] {
        times.sort_by(f64::total_cmp);
        let p99 = times[(times.len() * 99 / 100).min(times.len() - 1)];
        println!(
            "  {what:<30} median {:>7.2} ms   p99 {:>7.2} ms",
            median(times.clone()),
            p99
        );
    }
}

/// What the lines print: `w-` and a number of their own.
const MARKS: usize = 100_000;

fn mark(line: usize) -> String {
    format!("w-{}\r\n", MARKS + line)
}

/// When each of `lines` marks reached `socket`, in order.
fn arrivals(mut socket: Socket, lines: usize) -> mpsc::UnboundedReceiver<Instant> {
    let (arrived, arrivals) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut text = String::new();
        let mut next = 0;
        while next < lines {
            text.push_str(&next_output(&mut socket).await);
            while let Some(at) = text.find(&mark(next)) {
                arrived.send(Instant::now()).ok();
                text.drain(..at + mark(next).len());
                next += 1;
            }
        }
    });
    arrivals
}

struct Run {
    bytes: u64,
    wall: Duration,
    cpu: Duration,
    /// From the session's close until its spool was empty (S3), or nothing (a folder).
    stored_after: Option<Duration>,
}

impl Run {
    fn mib_per_s(&self) -> f64 {
        self.bytes as f64 / MIB / self.wall.as_secs_f64()
    }

    fn cpu_ms_per_mib(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e3 / (self.bytes as f64 / MIB)
    }
}

/// A server with its admin signed in and the device's credential.
struct Ready {
    server: Server,
    admin: support::Signed,
    credential: i64,
}

impl Ready {
    async fn on(server: Server, sshd: &Sshd) -> Ready {
        let admin = server.signed_in("admin", ADMIN_PASSWORD, "192.0.2.1").await;
        let credential = provision(&server, &admin, sshd).await;
        Ready {
            server,
            admin,
            credential,
        }
    }
}

/// One session printing `file`, then closed.
async fn run(ready: &Ready, file: &Path) -> Run {
    let server = &ready.server;
    let mut socket = server
        .terminal_sized(&ready.admin, ready.credential, 100, 30)
        .await;
    let cpu = server.cpu();
    let started = Instant::now();
    send(
        &mut socket,
        &format!("base64 {}; echo STORES-$((1+1))-DONE\r", file.display()),
    )
    .await;
    let bytes = output_until(&mut socket, DONE).await;
    let wall = started.elapsed();
    let cpu = server.cpu() - cpu;
    let closed = Instant::now();
    socket.close(None).await.ok();
    while socket.next().await.is_some() {}
    let spool = server.data_dir().join("spool");
    let mut stored_after = None;
    if spool.exists() {
        let mut every = tokio::time::interval(Duration::from_millis(20));
        while std::fs::read_dir(&spool).unwrap().next().is_some() {
            every.tick().await;
        }
        stored_after = Some(closed.elapsed());
    }
    Run {
        bytes,
        wall,
        cpu,
        stored_after,
    }
}

fn report(what: &str, run: &Run) {
    let stored = run.stored_after.map_or("-".to_owned(), |after| {
        format!("{:.1} s", after.as_secs_f64())
    });
    println!(
        "    {what:<14} {:>10.1} {:>10.1} {:>12.1} {:>16}",
        run.bytes as f64 / MIB,
        run.mib_per_s(),
        run.cpu_ms_per_mib(),
        stored
    );
}
