//! What holding each Enter costs: the time from Enter leaving the browser to the shell's next
//! prompt coming back (the line reached the device, ran `true`, and bash answered), through the
//! built binary to a real sshd, in one run, for a session held to nothing, one held to twenty
//! command rules, and a script-only change session with the same rules, measured in rotation.
//! Each line is typed plainly and its echo awaited first, as a person's would be. Prints the
//! median and the 99th percentile of each, and what enforcement adds.
//!
//!     cargo bench -p changeaudit-backend --bench enter_to_device

// A measuring tool: it prints, and stops on any failure.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use changeaudit_backend::clock::{Clock, SystemClock};
use changeaudit_e2e::Sshd;
use changeaudit_shared::terminal::ServerMessage;
use futures_util::StreamExt;
use serde_json::json;
use time::format_description::well_known::Rfc3339;
use tokio_tungstenite::tungstenite::Message;

use support::{Server, Signed, Socket, next_output, provision, send};

const ADMIN_PASSWORD: &str = "enter benchmark admin password";
const PERSON_PASSWORD: &str = "enter benchmark person password";
const ENTERS: usize = 300;
const RULES: usize = 20;
/// Rounds run first, not timed.
const WARM_UP: usize = 50;

#[tokio::main]
async fn main() {
    let sshd = Sshd::start().await.unwrap();
    let server = Server::start(ADMIN_PASSWORD).await;
    let admin = server.signed_in("admin", ADMIN_PASSWORD, "192.0.2.1").await;
    let credential = provision(&server, &admin, &sshd).await;

    // Each session is held to what was in force when it opened: opened in turn, they are then
    // measured a line at a time in rotation, so that the machine's moods fall on all three.
    let plain = server.terminal(&admin, credential).await;
    for n in 0..RULES {
        let body = match n % 2 {
            0 => {
                json!({ "name": format!("rule {n}"), "pattern": format!("systemctl stop service-{n}") })
            }
            _ => json!({ "name": format!("rule {n}"), "pattern_kind": "regex",
                         "pattern": format!("^rm .*/data-{n}( |$)"), "action": "alert" }),
        };
        server.call(&admin.http, "/api/command-rules", body).await;
    }
    let ruled = server.terminal(&admin, credential).await;
    script_only(&server, &admin, credential).await;
    let scripted = server.terminal(&admin, credential).await;
    let mut sockets = [plain, ruled, scripted];
    let mut samples = [Vec::new(), Vec::new(), Vec::new()];
    for round in 0..ENTERS + WARM_UP {
        for turn in 0..3 {
            let which = (round + turn) % 3;
            let took = enter(&mut sockets[which]).await;
            if round >= WARM_UP {
                samples[which].push(took);
            }
        }
    }
    let [none, rules, script] = samples;
    // The session measured was held to its script: every line ran as one of it, and another
    // line is held.
    let scripted = &mut sockets[2];
    send(scripted, "touch /tmp/never\r").await;
    while !held(scripted).await {}

    println!("Enter to the shell's next prompt over loopback, {ENTERS} lines each (`true`):");
    let base = report("held to nothing", none);
    let with_rules = report(&format!("{RULES} command rules"), rules);
    let with_script = report("script-only and rules", script);
    println!(
        "  added at the median: rules {:+.3} ms, script-only {:+.3} ms",
        with_rules - base,
        with_script - base
    );
}

/// Types `true`, waits for its echo, then times Enter until the next prompt.
async fn enter(socket: &mut Socket) -> Duration {
    send(socket, "true").await;
    let mut echoed = String::new();
    while !echoed.contains("true") {
        echoed.push_str(&next_output(socket).await);
    }
    let sent = Instant::now();
    send(socket, "\r").await;
    let mut after = String::new();
    while !after
        .find('\n')
        .is_some_and(|line_break| after[line_break..].ends_with("$ "))
    {
        after.push_str(&next_output(socket).await);
    }
    sent.elapsed()
}

/// Reads one message: whether it says a line was held.
async fn held(socket: &mut Socket) -> bool {
    match socket.next().await.unwrap().unwrap() {
        Message::Text(text) => matches!(
            serde_json::from_str(text.as_str()).unwrap(),
            ServerMessage::Held { .. }
        ),
        Message::Close(_) => panic!("the session closed"),
        _ => false,
    }
}

/// Answers the median, in milliseconds.
fn report(what: &str, mut samples: Vec<Duration>) -> f64 {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    let median = at(0.5).as_secs_f64() * 1e3;
    println!(
        "  {what:<24} median {median:>7.3} ms   p99 {:>7.3} ms",
        at(0.99).as_secs_f64() * 1e3
    );
    median
}

/// Makes the admin's next terminal on `credential` a script-only change session: the group
/// `bench` enforces its scripts, a planner's change of `ENTERS` lines of `true` is open now,
/// and an approver has approved the admin's request.
async fn script_only(server: &Server, admin: &Signed, credential: i64) {
    let http = &admin.http;
    let mut ids = Vec::new();
    for (name, roles) in [("planner", json!(["planner"])), ("approver", json!([]))] {
        let user = server
            .call(
                http,
                "/api/users",
                json!({ "username": name, "display_name": name, "roles": roles,
                        "enabled": true, "password": PERSON_PASSWORD }),
            )
            .await;
        ids.push(user["id"].as_i64().unwrap());
    }
    let groups = get(http, &format!("{}/api/access-groups", server.url)).await;
    let group_id = groups["items"][0]["id"].as_i64().unwrap();
    let group_url = format!("{}/api/access-groups/{group_id}", server.url);
    let mut group = get(http, &group_url).await;
    let device_id = get(
        http,
        &format!("{}/api/credentials/{credential}", server.url),
    )
    .await["device_id"]
        .as_i64()
        .unwrap();
    group["enforcement"] = json!("script_only");
    // A request is made only where a session without one is not allowed.
    group["unplanned_sessions_allowed"] = json!(false);
    group["passkey_required_to_approve"] = json!(false);
    group["credential_ids"] = json!([credential]);
    group["members"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "user_id": ids[1], "executor": false, "approver": true }));
    let updated = http.put(&group_url).json(&group).send().await.unwrap();
    assert!(updated.status().is_success(), "{}", updated.status());

    let planner = server
        .signed_in("planner", PERSON_PASSWORD, "192.0.2.2")
        .await;
    let now = SystemClock.now().to_datetime();
    let at = |offset: time::Duration| (now + offset).format(&Rfc3339).unwrap();
    server
        .call(
            &planner.http,
            "/api/changes",
            json!({
                "id": "BENCH-1",
                "title": "Run true, many times",
                "start_at": at(time::Duration::minutes(-5)),
                "due_at": at(time::Duration::hours(2)),
                "access_group_id": group_id,
                "device_ids": [device_id],
                "script": "true\n".repeat(ENTERS + WARM_UP),
            }),
        )
        .await;
    let asked = server
        .call(
            http,
            "/api/requests",
            json!({ "credential_id": credential }),
        )
        .await;
    let request = asked["request"]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no request: {asked}"));
    let approver = server
        .signed_in("approver", PERSON_PASSWORD, "192.0.2.3")
        .await;
    server
        .call(
            &approver.http,
            &format!("/api/requests/{request}/decisions"),
            json!({ "decision": "approved" }),
        )
        .await;
}

async fn get(http: &reqwest::Client, url: &str) -> serde_json::Value {
    http.get(url).send().await.unwrap().json().await.unwrap()
}
