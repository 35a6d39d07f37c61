//! What keeping recordings in object storage costs a session: the same bulk output (a file of
//! random bytes printed as base64 to a 100×30 terminal) through two servers in one run, one
//! keeping recordings in a folder (`file://`), one in a real Garage node on loopback
//! (`s3://`, segments uploaded every 8 MiB while the output flows). Prints each one's MiB/s and
//! server CPU per MiB, their ratios, and how long after the session the S3 server took to store
//! the recording whole (its spool emptied).
//!
//!     cargo bench -p changeaudit-backend --bench recording_stores
//!
//! Needs `garage` on the path (`scripts/dev test` installs it). `STORES_MIB` sets the file's
//! size (100) and `STORES_ROUNDS` the rounds (3).

// A measuring tool: it prints, and stops on any failure.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use changeaudit_e2e::{Garage, Sshd};
use futures_util::StreamExt;

use support::{Server, median, output_until, provision, random_file, send, setting};

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
    let objects_settings = garage.settings("bench");
    let objects_settings: Vec<(&str, &str)> = objects_settings
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    let objects = Server::start_with(ADMIN_PASSWORD, &objects_settings).await;

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
