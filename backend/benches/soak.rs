//! Memory that comes back: the built binary's resident memory when fresh, at its peak and after
//! a soak of 200 password sign-ins (50 people at a time) and then 50 terminal sessions of 20 MB
//! of output each, one after another, against a real sshd.
//!
//!     cargo bench -p changeaudit-backend --bench soak
//!
//! `SOAK_SIGN_INS`, `SOAK_SESSIONS` and `SOAK_MB` change the counts and each session's output.

// A measuring tool: it prints, and stops on any failure.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use changeaudit_e2e::{PeakMemory, Sshd, resident};
use futures_util::StreamExt;
use serde_json::json;

use support::{Server, output_until, provision, send};

const ADMIN_PASSWORD: &str = "soak benchmark admin password";
const PASSWORD: &str = "a soak person's password";
const AT_ONCE: usize = 50;
const MIB: u64 = 1 << 20;
/// Printed after each session's output; typed as an expression, so the typed line never
/// matches it.
const DONE: &str = "SOAK-2-DONE";

#[tokio::main]
async fn main() {
    let sign_ins: usize = setting("SOAK_SIGN_INS", 200);
    let sessions: usize = setting("SOAK_SESSIONS", 50);
    let mb: u64 = setting("SOAK_MB", 20);
    let sshd = Sshd::start().await.unwrap();
    let server = Server::start(ADMIN_PASSWORD).await;
    let fresh = resident(server.pid());
    let memory = PeakMemory::watch(server.pid());

    let admin = server.signed_in("admin", ADMIN_PASSWORD, "192.0.2.1").await;
    people(&server, &admin).await;
    let started = Instant::now();
    let busy = sign_in_many(&server, sign_ins).await;
    let sign_in_time = started.elapsed();
    let after_sign_ins = settled(&server).await;

    let credential = provision(&server, &admin, &sshd).await;
    let started = Instant::now();
    for _ in 0..sessions {
        let mut socket = server.terminal_sized(&admin, credential, 100, 30).await;
        // Base64 makes 4 bytes of every 3, and a line end every 76.
        let random = mb * 1_000_000 * 3 / 4;
        send(
            &mut socket,
            &format!("head -c {random} /dev/urandom | base64; echo SOAK-$((1+1))-DONE\r"),
        )
        .await;
        output_until(&mut socket, DONE).await;
        socket.close(None).await.ok();
        while socket.next().await.is_some() {}
    }
    let session_time = started.elapsed();
    let after = settled(&server).await;

    println!(
        "soak: {sign_ins} sign-ins ({AT_ONCE} at a time, {busy} answered busy and asked again) in {:.1} s, then {sessions} sessions of {mb} MB output one after another in {:.1} s",
        sign_in_time.as_secs_f64(),
        session_time.as_secs_f64()
    );
    println!(
        "  server RSS: fresh {:.1} MiB, after the sign-ins {:.1} MiB, peak {:.1} MiB, after {:.1} MiB ({:+.1} MiB on fresh)",
        mib(fresh),
        mib(after_sign_ins),
        mib(memory.peak()),
        mib(after),
        mib(after) - mib(fresh)
    );
    // What the resident memory is: the process's own (anonymous), or files mapped in.
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid())).unwrap();
    let parts: Vec<String> = status
        .lines()
        .filter(|line| line.starts_with("Rss"))
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    println!("  after: {}", parts.join(", "));
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / MIB as f64
}

fn setting<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// `count` password sign-ins, `AT_ONCE` at a time: each of `AT_ONCE` people from an address of
/// their own (one account's parallel burst from unknown browsers is held to its free allowance,
/// by design). One the server answers busy (503: its hashing places stayed taken) is asked
/// again, as a person would; answers how many were.
async fn sign_in_many(server: &Server, count: usize) -> usize {
    let mut busy = 0;
    for batch in 0..count.div_ceil(AT_ONCE) {
        let signing = (0..AT_ONCE.min(count - batch * AT_ONCE)).map(|n| {
            let client = server.client(&format!("198.51.100.{}", n + 1));
            async move {
                let mut busy = 0;
                loop {
                    match server.sign_in(&client, &person(n), PASSWORD).await {
                        200 => return busy,
                        503 => busy += 1,
                        status => panic!("a sign-in of the soak answered {status}"),
                    }
                }
            }
        });
        busy += futures_util::future::join_all(signing)
            .await
            .into_iter()
            .sum::<usize>();
    }
    busy
}

fn person(n: usize) -> String {
    format!("soak-{n}")
}

/// The people who sign in.
async fn people(server: &Server, admin: &support::Signed) {
    for n in 0..AT_ONCE {
        server
            .call(
                &admin.http,
                "/api/users",
                json!({ "username": person(n), "display_name": person(n), "roles": [],
                        "enabled": true, "password": PASSWORD }),
            )
            .await;
    }
}

/// The server's resident memory once the work has settled: what it keeps, not what it was
/// still finishing (a session's seal, a hash's answer).
#[expect(
    clippy::disallowed_methods,
    reason = "nothing signals that a server has settled; it is given time, then read"
)]
async fn settled(server: &Server) -> u64 {
    tokio::time::sleep(Duration::from_secs(3)).await;
    resident(server.pid())
}
