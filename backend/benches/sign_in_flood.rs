//! The server under a sign-in flood: the built `changeaudit` binary, a real sshd, and 2,000
//! wrong passwords from 50 concurrent clients (each its own address, through a trusted proxy's
//! `X-Forwarded-For`) aimed at one person's username. Meanwhile that person signs in from an
//! address of their own, and a terminal session types a keystroke every 100 ms and runs a
//! command every second. The same person and session are measured first on a quiet server, in
//! the same run, so the two columns compare.
//!
//!     cargo bench -p changeaudit-backend --bench sign_in_flood
//!
//! Prints the person's sign-in time, the session's echo median and p99, the server's peak
//! resident memory, and what the flood was answered (401, 429, 503).

// A measuring tool: it prints, and stops on any failure.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use changeaudit_e2e::{PeakMemory, Sshd, resident};
use serde_json::json;

use support::{Server, Signed, Socket, next_output, provision, send};

const ADMIN_PASSWORD: &str = "flood benchmark admin password";
const PERSON: &str = "alice";
const PERSON_PASSWORD: &str = "alice's own long password";
const FLOOD_CLIENTS: usize = 50;
const FLOOD_REQUESTS: usize = 2_000;
const PERSON_SIGN_INS: usize = 5;
const MIB: u64 = 1 << 20;

#[tokio::main]
async fn main() {
    let sshd = Sshd::start().await.unwrap();
    let server = Server::start(ADMIN_PASSWORD).await;
    let admin = server.signed_in("admin", ADMIN_PASSWORD, "192.0.2.1").await;
    let credential = provision(&server, &admin, &sshd).await;
    server
        .call(&admin.http, "/api/users", json!({ "username": PERSON, "display_name": "Alice",
            "email": "alice@example.org", "roles": [], "enabled": true, "password": PERSON_PASSWORD }))
        .await;
    let memory = PeakMemory::watch(server.pid());
    let idle = resident(server.pid());

    // The person's own browser, which has signed in here before.
    let person = server.client("198.51.100.7");
    assert_eq!(server.sign_in(&person, PERSON, PERSON_PASSWORD).await, 200);
    let quiet = measure(&server, &admin, &person, credential, false).await;
    let peak_quiet = memory.peak();
    let flooded = measure(&server, &admin, &person, credential, true).await;
    let after = resident(server.pid());

    println!(
        "sign-in flood: {FLOOD_REQUESTS} wrong passwords for `{PERSON}` from {FLOOD_CLIENTS} clients at once"
    );
    println!("  {:<34} {:>12} {:>12}", "", "quiet", "flooded");
    println!(
        "  {:<34} {:>9.0} ms {:>9.0} ms",
        "person's sign-in, slowest of 5",
        quiet.sign_in.as_secs_f64() * 1e3,
        flooded.sign_in.as_secs_f64() * 1e3
    );
    println!(
        "  {:<34} {:>12} {:>12}",
        "the person from a new browser", quiet.new_browser, flooded.new_browser
    );
    for (label, q) in [("session echo median", 0.5), ("session echo p99", 0.99)] {
        println!(
            "  {label:<34} {:>9.2} ms {:>9.2} ms",
            percentile(&quiet.echoes, q).as_secs_f64() * 1e3,
            percentile(&flooded.echoes, q).as_secs_f64() * 1e3
        );
    }
    println!(
        "  {:<34} {:>9} {:>12}",
        "echo samples",
        quiet.echoes.len(),
        flooded.echoes.len()
    );
    println!(
        "  server RSS: {} MiB idle, {} MiB at peak when quiet, {} MiB at peak in the flood, {} MiB after",
        idle / MIB,
        peak_quiet / MIB,
        memory.peak() / MIB,
        after / MIB
    );
    println!(
        "  flood answered in {:.1} s: {}",
        flooded.flood_time.as_secs_f64(),
        flooded
            .answers
            .iter()
            .map(|(status, count)| format!("{count} × {status}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

/// What one round measured.
struct Round {
    sign_in: Duration,
    /// What the person's sign-in from a browser never used before was answered.
    new_browser: u16,
    echoes: Vec<Duration>,
    answers: BTreeMap<u16, usize>,
    flood_time: Duration,
}

/// Runs the session and the person's sign-ins, with or without the flood beside them.
async fn measure(
    server: &Server,
    admin: &Signed,
    person: &reqwest::Client,
    credential: i64,
    flood: bool,
) -> Round {
    let mut socket = server.terminal(admin, credential).await;
    let typing = Arc::new(AtomicBool::new(true));
    let session = {
        let typing = typing.clone();
        tokio::spawn(async move { type_while(&mut socket, &typing).await })
    };
    let started = Instant::now();
    let flooding = flood.then(|| tokio::spawn(flood_of_wrong_passwords(server.url.clone())));
    let mut sign_in = Duration::ZERO;
    let mut every = tokio::time::interval(Duration::from_millis(400));
    every.tick().await;
    for n in 0..PERSON_SIGN_INS {
        every.tick().await;
        let asked = Instant::now();
        let status = server.sign_in(person, PERSON, PERSON_PASSWORD).await;
        assert_eq!(status, 200, "the person's sign-in {n} answered {status}");
        sign_in = sign_in.max(asked.elapsed());
    }
    // The same person on a browser they have never used here, once the flood has passed
    // the account's allowance for strangers.
    let stranger = server.client("198.51.100.8");
    let new_browser = server.sign_in(&stranger, PERSON, PERSON_PASSWORD).await;
    let (answers, flood_time) = match flooding {
        Some(flooding) => (flooding.await.unwrap(), started.elapsed()),
        None => (BTreeMap::new(), Duration::ZERO),
    };
    typing.store(false, Ordering::Relaxed);
    let echoes = session.await.unwrap();
    Round {
        sign_in,
        new_browser,
        echoes,
        answers,
        flood_time,
    }
}

/// 2,000 wrong sign-ins for the person, 40 from each of 50 addresses, 50 at a time.
async fn flood_of_wrong_passwords(url: String) -> BTreeMap<u16, usize> {
    let clients = (0..FLOOD_CLIENTS).map(|client| {
        let url = url.clone();
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut answers = Vec::new();
            for attempt in 0..FLOOD_REQUESTS / FLOOD_CLIENTS {
                let response = http
                    .post(format!("{url}/api/session"))
                    .header("origin", &url)
                    .header("x-forwarded-for", format!("203.0.113.{}", client + 1))
                    .json(&json!({ "username": PERSON, "password": format!("guess {attempt}") }))
                    .send()
                    .await
                    .unwrap();
                answers.push(response.status().as_u16());
            }
            answers
        })
    });
    let mut counted = BTreeMap::new();
    for client in clients.collect::<Vec<_>>() {
        for status in client.await.unwrap() {
            *counted.entry(status).or_insert(0) += 1;
        }
    }
    counted
}

/// Types a keystroke every 100 ms and Enter after every ninth, timing each echo, until told
/// to stop. Each line is `true` plus letters: a command that runs and prints nothing.
async fn type_while(socket: &mut Socket, typing: &AtomicBool) -> Vec<Duration> {
    let mut echoes = Vec::new();
    let mut every = tokio::time::interval(Duration::from_millis(100));
    let line = ["t", "r", "u", "e", " ", "#", "a", "b", "c"];
    let mut n = 0;
    while typing.load(Ordering::Relaxed) {
        every.tick().await;
        let key = line[n % line.len()];
        let sent = Instant::now();
        send(socket, key).await;
        while !next_output(socket).await.contains(key) {}
        echoes.push(sent.elapsed());
        n += 1;
        if n % line.len() == 0 {
            send(socket, "\r").await;
            while !next_output(socket).await.ends_with("$ ") {}
        }
    }
    echoes
}

fn percentile(samples: &[Duration], q: f64) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    sorted
        .get(((sorted.len().saturating_sub(1)) as f64 * q).round() as usize)
        .copied()
        .unwrap_or_default()
}
