//! Bulk output through the broker against direct SSH to the same sshd: a file of random bytes
//! printed as base64 to a 100×30 terminal, read by a WebSocket client as a browser would, and by
//! OpenSSH's `ssh -tt` directly. Prints the throughput of each, their ratio, the CPU time per
//! MiB of the server against the OpenSSH client's, and the recording's size against the output.
//!
//!     cargo bench -p changeaudit-backend --bench bulk_output
//!
//! `BULK_MIB` sets the file's size (150 by default: about 205 MiB of output) and `BULK_ROUNDS`
//! how many times each is run (5); the medians of the rounds' ratios close the report.

// A measuring tool: it prints, and stops on any failure.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use changeaudit_e2e::{KEY_USER, Sshd};
use futures_util::StreamExt;
use tokio::io::AsyncReadExt;
use tokio::process::Command;

use support::{Server, Socket, median, output_until, provision, random_file, send, setting};

const ADMIN_PASSWORD: &str = "bulk benchmark admin password";
const MIB: f64 = (1 << 20) as f64;
/// Printed after the output; typed as an expression, so the typed line never matches it.
const DONE: &str = "BULK-2-DONE";

/// One run: how much came out, how long it took, and the CPU time of the side measured.
struct Run {
    bytes: u64,
    wall: Duration,
    cpu: Duration,
}

impl Run {
    fn mib_per_s(&self) -> f64 {
        self.bytes as f64 / MIB / self.wall.as_secs_f64()
    }

    fn cpu_ms_per_mib(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e3 / (self.bytes as f64 / MIB)
    }
}

#[tokio::main]
async fn main() {
    let mib: u64 = setting("BULK_MIB", 150);
    let rounds: usize = setting("BULK_ROUNDS", 5).max(1);
    let sshd = Sshd::start().await.unwrap();
    let folder = tempfile::tempdir().unwrap();
    let file = random_file(folder.path(), mib);
    let key = key_file(folder.path(), &sshd.client_key);

    let server = Server::start(ADMIN_PASSWORD).await;
    let admin = server.signed_in("admin", ADMIN_PASSWORD, "192.0.2.1").await;
    let credential = provision(&server, &admin, &sshd).await;

    println!(
        "bulk output: {mib} MiB of random bytes as base64 to a 100×30 terminal, {rounds} rounds"
    );
    println!(
        "  {:<22} {:>10} {:>10} {:>14}",
        "", "MiB out", "MiB/s", "CPU ms/MiB"
    );
    let mut ratios = Vec::with_capacity(rounds);
    for round in 1..=rounds {
        let direct = direct_ssh(&sshd, &key, &file).await;
        let before = recordings_size(server.data_dir());
        let mut socket = server.terminal_sized(&admin, credential, 100, 30).await;
        let brokered = through_the_broker(&server, &mut socket, &file).await;
        socket.close(None).await.ok();
        while socket.next().await.is_some() {}
        settle().await;
        let recorded = recordings_size(server.data_dir()) - before;
        println!("  round {round}");
        report("direct ssh -tt (client)", &direct);
        report("through the broker", &brokered);
        let throughput = brokered.mib_per_s() / direct.mib_per_s();
        let cpu = brokered.cpu_ms_per_mib() / direct.cpu_ms_per_mib();
        println!(
            "    throughput ratio {throughput:.2}, CPU per MiB {cpu:.1}× the OpenSSH client's, recording {:.3}× the output",
            recorded as f64 / brokered.bytes as f64
        );
        ratios.push((throughput, cpu));
    }
    // A round's figures swing by a quarter either way: the middle round is the figure, with
    // every round above it.
    println!(
        "  median of {rounds} rounds: throughput ratio {:.2}, CPU per MiB {:.1}× the OpenSSH client's",
        median(ratios.iter().map(|ratio| ratio.0).collect()),
        median(ratios.iter().map(|ratio| ratio.1).collect())
    );
}

/// A moment for the server to seal the recording of the session that just ended.
#[expect(
    clippy::disallowed_methods,
    reason = "the seal is written after the socket closes, and no signal of it reaches a client"
)]
async fn settle() {
    tokio::time::sleep(Duration::from_secs(1)).await;
}

fn report(what: &str, run: &Run) {
    println!(
        "    {what:<22} {:>10.1} {:>10.1} {:>14.1}",
        run.bytes as f64 / MIB,
        run.mib_per_s(),
        run.cpu_ms_per_mib()
    );
}

fn key_file(folder: &Path, key: &str) -> PathBuf {
    let path = folder.join("client_key");
    std::fs::write(&path, key).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

/// OpenSSH's client with a terminal, its output read as fast as it comes; its CPU time from
/// the shell that ran it (`times`).
async fn direct_ssh(sshd: &Sshd, key: &Path, file: &Path) -> Run {
    // The device's account always starts an interactive shell: the lines are typed into it.
    let typed = format!("stty cols 100 rows 30; base64 {}; exit", file.display());
    let script = format!(
        "echo '{typed}' | ssh -tt -i {key} -p {port} -o StrictHostKeyChecking=no \
         -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR {KEY_USER}@127.0.0.1; times >&2",
        key = key.display(),
        port = sshd.address.port(),
    );
    let mut child = Command::new("bash")
        .args(["-c", &script])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut buffer = vec![0; 1 << 16];
    // Timed from the shell's first bytes, as the broker's run is: the connection's set-up is
    // measured by neither.
    let mut bytes = stdout.read(&mut buffer).await.unwrap() as u64;
    let started = Instant::now();
    loop {
        let read = stdout.read(&mut buffer).await.unwrap();
        if read == 0 {
            break;
        }
        bytes += read as u64;
    }
    let wall = started.elapsed();
    let output = child.wait_with_output().await.unwrap();
    let times = String::from_utf8_lossy(&output.stderr);
    // `times` prints the shell's own user and system time, then its children's.
    let children = times.lines().last().unwrap();
    let cpu = children.split_whitespace().map(bash_time).sum();
    Run { bytes, wall, cpu }
}

/// `0m1.234s` as a duration.
fn bash_time(text: &str) -> Duration {
    let (minutes, seconds) = text.trim_end_matches('s').split_once('m').unwrap();
    Duration::from_secs_f64(
        minutes.parse::<f64>().unwrap() * 60.0 + seconds.parse::<f64>().unwrap(),
    )
}

/// The same file printed in a brokered session, read from its WebSocket as the browser would;
/// the server's CPU time over the run.
async fn through_the_broker(server: &Server, socket: &mut Socket, file: &Path) -> Run {
    let cpu = server.cpu();
    let started = Instant::now();
    send(
        socket,
        &format!("base64 {}; echo BULK-$((1+1))-DONE\r", file.display()),
    )
    .await;
    let bytes = output_until(socket, DONE).await;
    Run {
        bytes,
        wall: started.elapsed(),
        cpu: server.cpu() - cpu,
    }
}

/// The bytes under the server's recordings folder.
fn recordings_size(data: &Path) -> u64 {
    fn walk(path: &Path) -> u64 {
        match std::fs::read_dir(path) {
            Ok(entries) => entries.flatten().map(|entry| walk(&entry.path())).sum(),
            Err(_) => std::fs::metadata(path).map_or(0, |meta| meta.len()),
        }
    }
    walk(&data.join("recordings"))
}
