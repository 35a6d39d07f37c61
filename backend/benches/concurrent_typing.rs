//! Many sessions at once: N terminals open through the built binary to a real sshd, each a
//! person typing (a key every half second, staggered, Enter after every ninth), for N = 1, 200
//! and 1,000. Prints, for each N, the echo's median and 99th percentile and the server's
//! resident memory per open session.
//!
//!     cargo bench -p changeaudit-backend --bench concurrent_typing
//!
//! `TYPING_SESSIONS` (a comma-separated list) changes the Ns; `TYPING_KEYS` the keys each
//! session types (18).

// A measuring tool: it prints, and stops on any failure.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use changeaudit_e2e::{Sshd, resident};
use futures_util::StreamExt;

use support::{Server, Signed, Socket, next_output, provision, send};

const ADMIN_PASSWORD: &str = "typing benchmark admin password";
/// Terminals opened at once while the sessions are set up (sshd drops unauthenticated
/// connections beyond ten by default).
const OPENING_AT_ONCE: usize = 8;
const EVERY: Duration = Duration::from_millis(500);
const MIB: f64 = (1 << 20) as f64;

#[tokio::main]
async fn main() {
    let counts: Vec<usize> = std::env::var("TYPING_SESSIONS")
        .unwrap_or_else(|_| "1,200,1000".to_owned())
        .split(',')
        .map(|count| count.trim().parse().unwrap())
        .collect();
    let keys: usize = std::env::var("TYPING_KEYS")
        .ok()
        .and_then(|keys| keys.parse().ok())
        .unwrap_or(18);
    let sshd = Sshd::start().await.unwrap();
    // One person holds every session: the limit of four per person is lifted; the server's
    // work for a session is the same whoever holds it.
    let server = Server::start_with(
        ADMIN_PASSWORD,
        &[("CHANGEAUDIT_TERMINALS_PER_PERSON", "100000")],
    )
    .await;
    let admin = server.signed_in("admin", ADMIN_PASSWORD, "192.0.2.1").await;
    let credential = provision(&server, &admin, &sshd).await;

    println!(
        "sessions typing at once, a key every {} ms each, {keys} keys:",
        EVERY.as_millis()
    );
    println!(
        "  {:>8} {:>10} {:>12} {:>12} {:>16}",
        "sessions", "opened in", "echo p50", "echo p99", "server MiB each"
    );
    for count in counts {
        let before = resident(server.pid());
        let started = Instant::now();
        let sockets = open(&server, &admin, credential, count).await;
        let opened = started.elapsed();
        let open_memory = resident(server.pid()).saturating_sub(before);
        let mut echoes = type_in_all(sockets, keys).await;
        echoes.sort();
        let at = |q: f64| echoes[((echoes.len() - 1) as f64 * q).round() as usize];
        println!(
            "  {count:>8} {:>8.1} s {:>9.2} ms {:>9.2} ms {:>16.2}",
            opened.as_secs_f64(),
            at(0.5).as_secs_f64() * 1e3,
            at(0.99).as_secs_f64() * 1e3,
            open_memory as f64 / MIB / count as f64
        );
    }
}

/// `count` terminals at their first prompt, `OPENING_AT_ONCE` being opened at a time.
async fn open(server: &Server, admin: &Signed, credential: i64, count: usize) -> Vec<Socket> {
    futures_util::stream::iter(0..count)
        .map(|_| server.terminal(admin, credential))
        .buffer_unordered(OPENING_AT_ONCE)
        .collect()
        .await
}

/// Every session types `keys` keys at once, each on its own clock, staggered over one
/// interval; answers every echo's time. The sessions are closed after.
async fn type_in_all(sockets: Vec<Socket>, keys: usize) -> Vec<Duration> {
    let count = sockets.len();
    let start = tokio::time::Instant::now();
    let typing = sockets.into_iter().enumerate().map(|(n, socket)| {
        let offset = EVERY * n as u32 / count as u32;
        tokio::spawn(type_keys(socket, start + offset, keys))
    });
    let mut echoes = Vec::new();
    for session in typing.collect::<Vec<_>>() {
        echoes.extend(session.await.unwrap());
    }
    echoes
}

/// Types `keys` keys, one each interval from `from`, Enter after every ninth: `true #abcd…`,
/// a command that runs and prints nothing. Times each key's echo.
async fn type_keys(mut socket: Socket, from: tokio::time::Instant, keys: usize) -> Vec<Duration> {
    let line = ["t", "r", "u", "e", " ", "#", "a", "b", "c"];
    let mut every = tokio::time::interval_at(from, EVERY);
    let mut echoes = Vec::with_capacity(keys);
    for n in 0..keys {
        every.tick().await;
        let key = line[n % line.len()];
        let sent = Instant::now();
        send(&mut socket, key).await;
        while !next_output(&mut socket).await.contains(key) {}
        echoes.push(sent.elapsed());
        if (n + 1) % line.len() == 0 {
            send(&mut socket, "\r").await;
            while !next_output(&mut socket).await.ends_with("$ ") {}
        }
    }
    socket.close(None).await.ok();
    while socket.next().await.is_some() {}
    echoes
}
