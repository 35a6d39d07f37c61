//! The trail streamed to a SIEM: a real TCP syslog collector on loopback gets every event as an
//! RFC 5424 message in octet-counted frames, in order, once; an HTTP collector gets them as
//! JSON. A collector that is away delays the stream, never the product, and it catches up.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use changeaudit_backend::clock::Clock;
use changeaudit_backend::trail::siem::{Sink, ship};
use secrecy::SecretString;
use serde_json::Value;
use tokio::io::AsyncReadExt;
use tokio::sync::watch;

use crate::helpers::TestApp;
use crate::{logs, trail};

/// Splits octet-counted frames (RFC 6587): `LEN SP MSG`, one after another.
fn frames(mut bytes: &[u8]) -> Vec<String> {
    let mut messages = Vec::new();
    while !bytes.is_empty() {
        let space = bytes.iter().position(|b| *b == b' ').unwrap();
        let length: usize = std::str::from_utf8(&bytes[..space])
            .unwrap()
            .parse()
            .unwrap();
        let message = &bytes[space + 1..space + 1 + length];
        messages.push(String::from_utf8(message.to_vec()).unwrap());
        bytes = &bytes[space + 1 + length..];
    }
    messages
}

/// A syslog collector on `listener`: every connection's bytes, framed, announced to whoever
/// watches as each connection ends.
fn collect_on(listener: tokio::net::TcpListener) -> watch::Receiver<Vec<String>> {
    let (received, watching) = watch::channel(Vec::new());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut bytes = Vec::new();
            stream.read_to_end(&mut bytes).await.unwrap();
            received.send_modify(|messages| messages.extend(frames(&bytes)));
        }
    });
    watching
}

/// A syslog collector on a free loopback port.
async fn syslog_collector() -> (String, watch::Receiver<Vec<String>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    (address, collect_on(listener))
}

/// What the collector has once `count` messages are in (it reads each connection to its end,
/// a moment after the sender closed it).
async fn received_all(received: &mut watch::Receiver<Vec<String>>, count: usize) -> Vec<String> {
    let arrived = received.wait_for(|messages| messages.len() >= count);
    let messages = tokio::time::timeout(Duration::from_secs(5), arrived)
        .await
        .map(|messages| messages.unwrap().clone());
    messages.unwrap_or_else(|_| {
        panic!(
            "the collector has {} messages of {count}",
            received.borrow().len()
        )
    })
}

async fn event_count(app: &TestApp) -> usize {
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    usize::try_from(count).unwrap()
}

#[tokio::test]
async fn every_event_reaches_a_syslog_collector_once_in_order_as_rfc_5424() {
    let app = TestApp::spawn().await;
    app.sign_in_as_admin().await;
    let (address, mut received) = syslog_collector().await;
    let sink = Sink::Syslog(address);
    let http = reqwest::Client::new();
    let sent = ship(&app.db, &http, &sink, app.clock.now()).await.unwrap();
    assert_eq!(sent, event_count(&app).await);
    app.sign_in_as_admin().await;
    ship(&app.db, &http, &sink, app.clock.now()).await.unwrap();
    // Nothing new: nothing sent.
    assert_eq!(
        ship(&app.db, &http, &sink, app.clock.now()).await.unwrap(),
        0
    );

    let count = event_count(&app).await;
    let messages = received_all(&mut received, count).await;
    assert_eq!(messages.len(), count);
    for (index, message) in messages.iter().enumerate() {
        // PRI (log audit, informational), version 1, timestamp, no host, app, no procid, msgid.
        assert!(message.starts_with("<110>1 20"), "{message}");
        let seq = index + 1;
        assert!(
            message.contains(&format!("[changeaudit@32473 seq=\"{seq}\" ")),
            "{message}"
        );
        let json = &message[message.find("] {").unwrap() + 2..];
        let event: Value = serde_json::from_str(json).unwrap();
        assert_eq!(event["seq"], seq);
        assert_eq!(event["hash"].as_str().unwrap().len(), 64);
    }
    assert!(
        messages[0]
            .contains(" changeaudit - user.created [changeaudit@32473 seq=\"1\" actor=\"system\"")
    );
    assert!(
        messages[1].contains(" session.signed_in "),
        "{}",
        messages[1]
    );
}

#[tokio::test]
async fn checkpoints_follow_the_events_they_sign_and_one_from_the_siem_anchors_a_verification() {
    let app = TestApp::spawn().await;
    app.sign_in_as_admin().await;
    let (address, mut received) = syslog_collector().await;
    let sink = Sink::Syslog(address);
    let http = reqwest::Client::new();
    let first = ship(&app.db, &http, &sink, app.clock.now()).await.unwrap();
    // The checkpoint is signed after its events went: it follows on its own.
    trail::checkpoint(&app).await;
    assert_eq!(
        ship(&app.db, &http, &sink, app.clock.now()).await.unwrap(),
        0
    );
    app.sign_in_as_admin().await;
    trail::checkpoint(&app).await;
    let second = ship(&app.db, &http, &sink, app.clock.now()).await.unwrap();
    assert_eq!(
        ship(&app.db, &http, &sink, app.clock.now()).await.unwrap(),
        0
    );

    let messages = received_all(&mut received, first + second + 2).await;
    assert_eq!(messages.len(), first + second + 2);
    let kinds: Vec<bool> = messages
        .iter()
        .map(|message| message.contains(" trail.checkpoint [changeaudit@32473 tree_size="))
        .collect();
    // Events, the checkpoint over them, the next events, the checkpoint over all.
    let mut expected = vec![false; first];
    expected.push(true);
    expected.extend(vec![false; second]);
    expected.push(true);
    assert_eq!(kinds, expected);
    let json = |message: &str| -> Value {
        serde_json::from_str(&message[message.find("] {").unwrap() + 2..]).unwrap()
    };
    let taken = json(&messages[first]);
    assert_eq!(taken["checkpoint"]["tree_size"], first);

    // The checkpoint the SIEM kept anchors a later export.
    let trusted = serde_json::from_value(taken["checkpoint"].clone()).unwrap();
    let export = trail::export_file(&app).await;
    let summary = trail::verify_trusting(&app, &export, Some(trusted))
        .await
        .unwrap();
    assert_eq!(
        summary.trusted_checkpoint,
        Some(u64::try_from(first).unwrap())
    );
}

#[tokio::test]
async fn a_collector_that_is_away_delays_the_stream_and_it_catches_up() {
    let app = TestApp::spawn().await;
    app.sign_in_as_admin().await;
    // Nothing listens here yet; the address is held, so no other test can be handed it.
    let held = tokio::net::TcpSocket::new_v4().unwrap();
    held.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let address = held.local_addr().unwrap();
    let sink = Sink::Syslog(address.to_string());
    let http = reqwest::Client::new();
    let error = ship(&app.db, &http, &sink, app.clock.now())
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("trying again in 30s"), "{error}");
    let (attempts, last_error): (i64, String) =
        sqlx::query_as("SELECT attempts, last_error FROM siem_cursors WHERE sink = 'syslog'")
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    assert_eq!(attempts, 1);
    assert!(last_error.contains(&address.to_string()), "{last_error}");
    // The product goes on meanwhile, and the pause is kept.
    app.sign_in_as_admin().await;
    assert_eq!(
        ship(&app.db, &http, &sink, app.clock.now()).await.unwrap(),
        0
    );

    // The collector comes up at that address; after the pause everything arrives.
    let mut received = collect_on(held.listen(16).unwrap());
    app.clock.advance(Duration::from_secs(31));
    let sent = ship(&app.db, &http, &sink, app.clock.now()).await.unwrap();
    assert_eq!(sent, event_count(&app).await);
    assert_eq!(received_all(&mut received, sent).await.len(), sent);
}

#[tokio::test]
async fn every_event_reaches_an_http_collector_as_json_with_its_header_and_no_secret_shows() {
    let app = TestApp::spawn().await;
    app.sign_in_as_admin().await;
    let received = Arc::new(Mutex::new(Vec::<Value>::new()));
    let kept = received.clone();
    let checkpoints_received = Arc::new(Mutex::new(Vec::<Value>::new()));
    let kept_checkpoints = checkpoints_received.clone();
    // The collector takes a bearer token in the header; its URL holds a key of its own too.
    let collector = axum::Router::new().route(
        "/events",
        post(move |headers: HeaderMap, Json(body): Json<Value>| {
            let kept = kept.clone();
            let kept_checkpoints = kept_checkpoints.clone();
            async move {
                if headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok())
                    != Some("Bearer hec-7f3a9c")
                {
                    return StatusCode::UNAUTHORIZED;
                }
                kept.lock()
                    .unwrap()
                    .extend(body["events"].as_array().unwrap().iter().cloned());
                kept_checkpoints
                    .lock()
                    .unwrap()
                    .extend(body["checkpoints"].as_array().unwrap().iter().cloned());
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let url = format!("http://{address}/events?key=url-key-51c2");
    tokio::spawn(async move { axum::serve(listener, collector).await });
    let sink = |authorization: &str| Sink::Http {
        url: SecretString::from(url.clone()),
        authorization: Some(SecretString::from(authorization.to_owned())),
    };

    // Unreachable first (a port held, never listened on): the library's error names the URL,
    // and only the endpoint is kept of it.
    let closed = tokio::net::TcpSocket::new_v4().unwrap();
    closed.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let closed = closed.local_addr().unwrap();
    let away = Sink::Http {
        url: SecretString::from(format!("http://{closed}/events?key=url-key-51c2")),
        authorization: None,
    };
    let unreachable = ship(&app.db, &reqwest::Client::new(), &away, app.clock.now())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        unreachable.starts_with(&format!("http://{closed}: ")),
        "{unreachable}"
    );
    assert!(!unreachable.contains("url-key-51c2"), "{unreachable}");
    app.clock.advance(Duration::from_secs(31));

    let refused = ship(
        &app.db,
        &reqwest::Client::new(),
        &sink("Bearer wrong"),
        app.clock.now(),
    )
    .await
    .unwrap_err();
    let said = refused.to_string();
    let expected = format!("http://{address}: answered 401 Unauthorized");
    assert!(said.starts_with(&expected), "{said}");
    let stored: String =
        sqlx::query_scalar("SELECT last_error FROM siem_cursors WHERE sink = 'http'")
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    assert_eq!(stored, expected);

    app.clock.advance(Duration::from_secs(61));
    ship(
        &app.db,
        &reqwest::Client::new(),
        &sink("Bearer hec-7f3a9c"),
        app.clock.now(),
    )
    .await
    .unwrap();
    let events = received.lock().unwrap().clone();
    assert_eq!(events.len(), event_count(&app).await);
    assert_eq!(events[1]["action"], "session.signed_in");
    // A checkpoint signed since goes next, in the body's `checkpoints`.
    trail::checkpoint(&app).await;
    let signed = checkpoints_received.lock().unwrap().len();
    assert_eq!(signed, 0);
    ship(
        &app.db,
        &reqwest::Client::new(),
        &sink("Bearer hec-7f3a9c"),
        app.clock.now(),
    )
    .await
    .unwrap();
    let checkpoints = checkpoints_received.lock().unwrap().clone();
    assert_eq!(checkpoints.len(), 1);
    assert_eq!(checkpoints[0]["tree_size"], events.len());
    assert_eq!(
        events[1]["prev_hash"].as_str().unwrap(),
        events[0]["hash"].as_str().unwrap()
    );
    for secret in ["url-key-51c2", "hec-7f3a9c"] {
        assert!(!logs::text().contains(secret), "a log line holds {secret}");
    }
}
