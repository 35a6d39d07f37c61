//! What the benchmarks that drive the built binary share: the server as a process, a signed-in
//! client, a device with its credential, a terminal's WebSocket, a file of random bytes, and
//! reading their settings and medians.

// Each benchmark uses its own part of this.
#![allow(dead_code)]

use std::process::Stdio;
use std::sync::Arc;

use changeaudit_e2e::{KEY_USER, Sshd};
use changeaudit_shared::terminal::{ClientMessage, ServerMessage};
use futures_util::{SinkExt, StreamExt};
use reqwest::cookie::CookieStore;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The device, its key credential, and a group that lets admin run unplanned sessions on it.
/// Answers the credential.
pub async fn provision(server: &Server, admin: &Signed, sshd: &Sshd) -> i64 {
    let admin = &admin.http;
    let device = server
        .call(
            admin,
            "/api/devices",
            json!({ "name": "bench", "host": "127.0.0.1",
            "port": sshd.address.port(), "host_key": sshd.host_key }),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let credential = server
        .call(
            admin,
            "/api/credentials",
            json!({ "device_id": device, "username": KEY_USER,
            "kind": "private_key", "secret": sshd.client_key }),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let users: Value = admin
        .get(format!("{}/api/users", server.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let admin_id = users["items"][0]["id"].as_i64().unwrap();
    server
        .call(
            admin,
            "/api/access-groups",
            json!({
                "name": "bench",
                "unplanned_sessions_allowed": true,
                "members": [{ "user_id": admin_id, "executor": true, "approver": false }],
                "credential_ids": [credential],
            }),
        )
        .await;
    credential
}

/// A client signed in, and its session cookie for the WebSocket.
pub struct Signed {
    pub http: reqwest::Client,
    pub cookie: String,
}

/// `changeaudit serve`, the release binary, behind a "proxy" it trusts (loopback), so each
/// client names its own address in `X-Forwarded-For`.
pub struct Server {
    child: Child,
    pub url: String,
    _data: tempfile::TempDir,
}

impl Server {
    pub async fn start(admin_password: &str) -> Server {
        Server::start_with(admin_password, &[]).await
    }

    /// The server, with configuration `settings` (variables) besides the benchmarks' own.
    pub async fn start_with(admin_password: &str, settings: &[(&str, &str)]) -> Server {
        let data = tempfile::tempdir().unwrap();
        // `BENCH_SERVER_WRAPPER` runs the server under a profiler (`heaptrack`, `perf record`).
        let mut command = match std::env::var("BENCH_SERVER_WRAPPER") {
            Ok(wrapper) => {
                let mut words = wrapper.split_whitespace();
                let mut command = Command::new(words.next().unwrap());
                command.args(words).arg(env!("CARGO_BIN_EXE_changeaudit"));
                command
            }
            Err(_) => Command::new(env!("CARGO_BIN_EXE_changeaudit")),
        };
        let mut child =
            command
                .arg("serve")
                .env_clear()
                .env("PATH", std::env::var("PATH").unwrap_or_default())
                .env("CHANGEAUDIT_LISTEN", "127.0.0.1:0")
                .env("CHANGEAUDIT_DATA_DIR", data.path())
                .env("CHANGEAUDIT_STATIC_DIR", data.path().join("no-web-app"))
                .env("CHANGEAUDIT_ADMIN_PASSWORD", admin_password)
                .env("CHANGEAUDIT_TRUSTED_PROXIES", "127.0.0.1/32")
                .env("CHANGEAUDIT_LOG", "error")
                .envs(settings.iter().copied())
                // The allocators' own settings, to measure them.
                .envs(std::env::vars().filter(|(name, _)| {
                    name.starts_with("MALLOC_") || name.starts_with("MIMALLOC_")
                }))
                .stdout(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = loop {
            let line = lines
                .next_line()
                .await
                .unwrap()
                .expect("the server to listen");
            if let Some(address) = line.strip_prefix("changeaudit listening on ") {
                break address.to_owned();
            }
        };
        Server {
            child,
            url,
            _data: data,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id().unwrap()
    }

    /// The server's data folder (database, recordings).
    pub fn data_dir(&self) -> &std::path::Path {
        self._data.path()
    }

    /// The CPU time the server has used so far (user and system).
    pub fn cpu(&self) -> std::time::Duration {
        process_cpu(self.pid())
    }

    /// A client that comes through the proxy from `address`.
    pub fn client(&self, address: &str) -> reqwest::Client {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-forwarded-for", address.parse().unwrap());
        headers.insert("origin", self.url.parse().unwrap());
        reqwest::Client::builder()
            .cookie_store(true)
            .default_headers(headers)
            .build()
            .unwrap()
    }

    pub async fn sign_in(&self, client: &reqwest::Client, username: &str, password: &str) -> u16 {
        client
            .post(format!("{}/api/session", self.url))
            .json(&json!({ "username": username, "password": password }))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    pub async fn signed_in(&self, username: &str, password: &str, address: &str) -> Signed {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-forwarded-for", address.parse().unwrap());
        headers.insert("origin", self.url.parse().unwrap());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .default_headers(headers)
            .build()
            .unwrap();
        assert_eq!(self.sign_in(&client, username, password).await, 200);
        let cookie = jar.cookies(&self.url.parse().unwrap()).unwrap();
        Signed {
            http: client,
            cookie: cookie.to_str().unwrap().to_owned(),
        }
    }

    pub async fn call(&self, client: &reqwest::Client, path: &str, body: Value) -> Value {
        let response = client
            .post(format!("{}{path}", self.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    /// An unplanned 80×24 terminal on `credential`, at its first prompt.
    pub async fn terminal(&self, admin: &Signed, credential: i64) -> Socket {
        self.terminal_sized(admin, credential, 80, 24).await
    }

    /// Watching session `session` live, as `who` (an admin or auditor).
    pub async fn watch(&self, who: &Signed, session: i64) -> Socket {
        let url = format!(
            "{}/api/terminal-sessions/{session}/watch",
            self.url.replacen("http://", "ws://", 1)
        );
        let mut request = url.into_client_request().unwrap();
        let headers = request.headers_mut();
        headers.insert("cookie", HeaderValue::from_str(&who.cookie).unwrap());
        headers.insert("origin", HeaderValue::from_str(&self.url).unwrap());
        let (socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        socket
    }

    /// An unplanned terminal of `cols`×`rows` on `credential`, at its first prompt.
    pub async fn terminal_sized(
        &self,
        admin: &Signed,
        credential: i64,
        cols: u16,
        rows: u16,
    ) -> Socket {
        let url = format!(
            "{}/api/credentials/{credential}/terminal?cols={cols}&rows={rows}",
            self.url.replacen("http://", "ws://", 1)
        );
        let mut request = url.into_client_request().unwrap();
        let headers = request.headers_mut();
        headers.insert("cookie", HeaderValue::from_str(&admin.cookie).unwrap());
        headers.insert("origin", HeaderValue::from_str(&self.url).unwrap());
        headers.insert("x-forwarded-for", HeaderValue::from_static("192.0.2.1"));
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        while !next_output(&mut socket).await.ends_with("$ ") {}
        socket
    }
}
pub async fn send(socket: &mut Socket, data: &str) {
    let input = serde_json::to_string(&ClientMessage::Input {
        data: data.to_owned(),
    })
    .unwrap();
    socket.send(Message::Text(input.into())).await.unwrap();
}

/// The next output the device printed.
pub async fn next_output(socket: &mut Socket) -> String {
    loop {
        match socket.next().await.unwrap().unwrap() {
            // Output comes in binary frames, everything else as JSON text.
            Message::Binary(bytes) => return String::from_utf8(bytes.into()).unwrap(),
            Message::Text(text) => {
                if let ServerMessage::Closed { reason, message } =
                    serde_json::from_str(text.as_str()).unwrap()
                {
                    panic!("the session closed ({reason:?}): {message}")
                }
            }
            Message::Close(_) => panic!("the session closed"),
            _ => {}
        }
    }
}

/// Reads the terminal's output until `mark` shows in it; answers the bytes read. The mark is
/// looked for across messages, keeping only the end of what came before.
pub async fn output_until(socket: &mut Socket, mark: &str) -> u64 {
    let mut bytes = 0;
    let mut tail = String::new();
    loop {
        let data = next_output(socket).await;
        bytes += data.len() as u64;
        tail.push_str(&data);
        if tail.contains(mark) {
            return bytes;
        }
        let keep = tail.len().saturating_sub(mark.len());
        let cut = (keep..=tail.len())
            .find(|at| tail.is_char_boundary(*at))
            .unwrap_or(0);
        tail.drain(..cut);
    }
}

/// The CPU time (user and system) process `pid` has used, from `/proc/<pid>/stat`.
pub fn process_cpu(pid: u32) -> std::time::Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The fields after the command's name, which ends with the last `)`.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // Linux counts in USER_HZ, 100 a second on every platform it runs on.
    std::time::Duration::from_millis(ticks * 10)
}

/// The variable `name` read as a `T`, or `default`.
pub fn setting<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// The middle of `values`: on two shared cores a single round swings by a quarter either way.
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// `mib` MiB of random bytes in a file the device's account can read.
pub fn random_file(folder: &std::path::Path, mib: u64) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(folder, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = folder.join("random.bin");
    let status = std::process::Command::new("head")
        .args(["-c", &format!("{mib}M"), "/dev/urandom"])
        .stdout(std::fs::File::create(&path).unwrap())
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    path
}
