//! Prints how fast `changeaudit verify` checks a trail: one million events with a signed
//! checkpoint every thousand, verified on one thread (target: one million events per second per
//! core). The export is built in memory first; only the verification is timed.
//!
//!     cargo bench -p changeaudit-backend --bench trail_verify

// A measuring tool: it prints, and stops on any failure.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use changeaudit_backend::trail::key::TrailKey;
use changeaudit_shared::export::{
    Checkpoint, FORMAT, Header, VERSION, canonical_into, checkpoint_line, event_leaf, header_line,
    signed_text,
};
use changeaudit_shared::merkle::{Frontier, Hash};
use changeaudit_shared::trail::{GENESIS, hex};
use changeaudit_shared::verify::ExportVerifier;
use sha2::{Digest, Sha256};

const EVENTS: u64 = 1_000_000;
const CHECKPOINT_EVERY: u64 = 1_000;

/// A trail like a busy server's: sign-ins, commands recognised, changes edited.
fn export(key: &TrailKey) -> String {
    let mut out = String::with_capacity(400 * EVENTS as usize);
    let header = Header {
        format: FORMAT.to_owned(),
        version: VERSION,
        public_key: key.public_key_hex(),
        key_id: key.id().to_owned(),
        exported_at: 0,
    };
    out.push_str(&header_line(&header));
    out.push('\n');
    let mut previous = GENESIS.to_owned();
    let mut frontier = Frontier::default();
    let mut canonical = Vec::new();
    for seq in 1..=EVENTS {
        let at = 1_767_225_600_000 + i64::try_from(seq).unwrap() * 250;
        let (action, object, details) = match seq % 3 {
            0 => (
                "session.signed_in",
                format!("user:{}", seq % 50),
                format!(
                    "{{\"client_ip\":\"10.0.{}.{}\",\"method\":\"password\",\"user_agent\":\"Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0\"}}",
                    seq % 256,
                    seq % 200
                ),
            ),
            1 => (
                "session.command",
                format!("terminal_session:{}", seq / 40),
                format!(
                    "{{\"command\":\"systemctl restart nginx.service --now {seq}\",\"exit_code\":0,\"offset_us\":{},\"source\":\"shell_integration\"}}",
                    seq * 1_000
                ),
            ),
            _ => (
                "change.edited",
                format!("change:CHG-{}", seq % 900),
                "{\"after\":{\"status\":\"approved\",\"title\":\"Rotate the certificates of the front proxies\"},\"before\":{\"status\":\"waiting_approval\",\"title\":\"Rotate certificates\"}}".to_owned(),
            ),
        };
        let actor = format!("operator{}", seq % 17);
        canonical_into(
            &mut canonical,
            action,
            &actor,
            at,
            &details,
            Some(&object),
            &previous,
            i64::try_from(seq).unwrap(),
        );
        let hash: Hash = Sha256::digest(&canonical).into();
        let hash_hex = hex(&hash);
        out.push_str("{\"event\":");
        out.push_str(std::str::from_utf8(&canonical).unwrap());
        out.push_str(",\"hash\":\"");
        out.push_str(&hash_hex);
        out.push_str("\"}\n");
        frontier.push(event_leaf(&hash), |_, _, _| {});
        previous = hash_hex;
        if seq % CHECKPOINT_EVERY == 0 {
            let root = hex(&frontier.root());
            let checkpoint = Checkpoint {
                tree_size: seq,
                signature: key.sign(&signed_text(seq, &root, at)),
                root,
                at,
                key_id: key.id().to_owned(),
            };
            out.push_str(&checkpoint_line(&checkpoint));
            out.push('\n');
        }
    }
    out
}

fn main() {
    let key = TrailKey::from_seed(&[42; 32]);
    let built = Instant::now();
    let text = export(&key);
    println!(
        "built an export of {EVENTS} events ({} MB, a checkpoint every {CHECKPOINT_EVERY}) in {:.2} s",
        text.len() / 1_000_000,
        built.elapsed().as_secs_f64()
    );
    for run in 1..=3 {
        let started = Instant::now();
        let mut verifier = ExportVerifier::new(key.verifying_key(), false);
        for line in text.lines() {
            verifier.line(line).unwrap();
        }
        let summary = verifier.finish().unwrap();
        let seconds = started.elapsed().as_secs_f64();
        assert_eq!(summary.events, EVENTS);
        assert_eq!(summary.checkpoints, EVENTS / CHECKPOINT_EVERY);
        println!(
            "run {run}: verified {} events and {} checkpoints in {seconds:.3} s on one thread: {:.0} events per second per core (target 1,000,000)",
            summary.events,
            summary.checkpoints,
            summary.events as f64 / seconds
        );
    }
}
