//! How long a keystroke takes to come back as echo, through the broker (browser WebSocket →
//! changeaudit → SSH → sshd → bash, and back, recorded and recognised on the way) against a
//! direct SSH connection to the same sshd. Prints the median and the 99th percentile.
//!
//!     cargo bench -p changeaudit-backend --bench keystroke_echo

// A measuring tool: it prints, and stops on any failure.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use changeaudit_backend::AppState;
use changeaudit_backend::auth::password;
use changeaudit_backend::clock::{Clock, SystemClock};
use changeaudit_backend::config::Config;
use changeaudit_backend::db::Database;
use changeaudit_backend::trail::key::TrailKey;
use changeaudit_backend::users;
use changeaudit_backend::vault::MasterKey;
use changeaudit_e2e::{KEY_USER, Sshd};
use changeaudit_shared::terminal::{ClientMessage, ServerMessage};
use futures_util::{SinkExt, StreamExt};
use russh::ChannelMsg;
use russh::client;
use russh::keys::{PrivateKeyWithHashAlg, PublicKeyOrCertificate, decode_secret_key};
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

const KEYSTROKES: usize = 400;
const ADMIN_PASSWORD: &str = "benchmark admin password";

#[tokio::main]
async fn main() {
    let sshd = Sshd::start().await.unwrap();
    let direct = direct_ssh(&sshd).await;
    let brokered = through_the_broker(&sshd).await;
    println!("keystroke echo over loopback, {KEYSTROKES} keystrokes each:");
    report("direct SSH to sshd", direct);
    report("through the broker", brokered);
}

fn report(what: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    println!(
        "  {what:<20} median {:>7.3} ms   p99 {:>7.3} ms",
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3
    );
}

struct Trusting;

impl client::Handler for Trusting {
    type Error = russh::Error;

    async fn check_server_key(&mut self, _: &PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        Ok(true)
    }
}

async fn direct_ssh(sshd: &Sshd) -> Vec<Duration> {
    let config = Arc::new(client::Config {
        nodelay: true,
        ..Default::default()
    });
    let mut handle = client::connect(config, sshd.address, Trusting)
        .await
        .unwrap();
    let key = decode_secret_key(&sshd.client_key, None).unwrap();
    let auth = handle
        .authenticate_publickey(KEY_USER, PrivateKeyWithHashAlg::new(Arc::new(key), None))
        .await
        .unwrap();
    assert!(auth.success());
    let mut channel = handle.channel_open_session().await.unwrap();
    channel
        .request_pty(true, "xterm-256color", 80, 24, 0, 0, &[])
        .await
        .unwrap();
    channel.request_shell(true).await.unwrap();
    let mut seen = String::new();
    while !seen.ends_with("$ ") {
        if let Some(ChannelMsg::Data { data }) = channel.wait().await {
            seen.push_str(&String::from_utf8_lossy(&data));
        }
    }
    let mut samples = Vec::with_capacity(KEYSTROKES);
    for n in 0..KEYSTROKES {
        let key = keystroke(n);
        let sent = Instant::now();
        channel.data_bytes(key.as_bytes().to_vec()).await.unwrap();
        loop {
            if let Some(ChannelMsg::Data { data }) = channel.wait().await
                && String::from_utf8_lossy(&data).contains(key)
            {
                break;
            }
        }
        samples.push(sent.elapsed());
    }
    samples
}

/// Letters cycling: each one typed is echoed once, so its echo is easy to tell.
fn keystroke(n: usize) -> &'static str {
    const KEYS: [&str; 4] = ["a", "b", "c", "d"];
    KEYS[n % KEYS.len()]
}

async fn through_the_broker(sshd: &Sshd) -> Vec<Duration> {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let db = Database::open(&url).await.unwrap();
    let hash = password::hash(SecretString::from(ADMIN_PASSWORD.to_owned()))
        .await
        .unwrap();
    users::create_first_admin(&db, &hash, SystemClock.now())
        .await
        .unwrap();
    let env = [
        ("CHANGEAUDIT_DATA_DIR", dir.path().display().to_string()),
        ("CHANGEAUDIT_DATABASE_URL", url.clone()),
        ("CHANGEAUDIT_LOG", "warn".to_owned()),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value))
    .collect();
    let config = Config::load(None, &env).unwrap();
    let state = AppState::new(
        &config,
        db.clone(),
        Arc::new(SystemClock),
        MasterKey::generate(),
        TrailKey::from_seed(&[7; 32]),
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(changeaudit_backend::serve(
        listener,
        changeaudit_backend::app(state),
        std::future::pending(),
    ));

    let jar = Arc::new(reqwest::cookie::Jar::default());
    let http = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .build()
        .unwrap();
    let call = |path: &str, body: Value| {
        let request = http.post(format!("{address}{path}")).json(&body);
        async move {
            let response = request.send().await.unwrap();
            assert!(response.status().is_success(), "{}", response.status());
            response.json::<Value>().await.unwrap()
        }
    };
    call(
        "/api/session",
        json!({ "username": "admin", "password": ADMIN_PASSWORD }),
    )
    .await;
    let admin_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = 'admin'")
        .fetch_one(db.pool())
        .await
        .unwrap();
    let device = call(
        "/api/devices",
        json!({ "name": "bench", "host": "127.0.0.1", "port": sshd.address.port(), "host_key": sshd.host_key }),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let credential = call(
        "/api/credentials",
        json!({ "device_id": device, "username": KEY_USER, "kind": "private_key", "secret": sshd.client_key }),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    call(
        "/api/access-groups",
        json!({
            "name": "bench",
            "unplanned_sessions_allowed": true,
            "members": [{ "user_id": admin_id, "executor": true, "approver": false }],
            "credential_ids": [credential],
        }),
    )
    .await;
    let cookie = {
        use reqwest::cookie::CookieStore;
        let cookies = jar.cookies(&address.parse().unwrap()).unwrap();
        cookies.to_str().unwrap().to_owned()
    };

    let ws_url = format!(
        "{}/api/credentials/{credential}/terminal?cols=80&rows=24",
        address.replacen("http://", "ws://", 1)
    );
    let mut request = ws_url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("cookie", HeaderValue::from_str(&cookie).unwrap());
    request
        .headers_mut()
        .insert("origin", HeaderValue::from_str(&address).unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let mut seen = String::new();
    while !seen.ends_with("$ ") {
        if let ServerMessage::Output { data } = next(&mut socket).await {
            seen.push_str(&data);
        }
    }
    let mut samples = Vec::with_capacity(KEYSTROKES);
    for n in 0..KEYSTROKES {
        let key = keystroke(n);
        let input = serde_json::to_string(&ClientMessage::Input {
            data: key.to_owned(),
        })
        .unwrap();
        let sent = Instant::now();
        socket.send(Message::Text(input.into())).await.unwrap();
        loop {
            if let ServerMessage::Output { data } = next(&mut socket).await
                && data.contains(key)
            {
                break;
            }
        }
        samples.push(sent.elapsed());
    }
    samples
}

async fn next(
    socket: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> ServerMessage {
    loop {
        match socket.next().await.unwrap().unwrap() {
            Message::Text(text) => return serde_json::from_str(text.as_str()).unwrap(),
            Message::Binary(bytes) => return ServerMessage::from_binary(&bytes).unwrap(),
            Message::Close(_) => panic!("the session closed"),
            _ => {}
        }
    }
}
