//! Several replicas as they are deployed: PostgreSQL, recordings in Garage, two `changeaudit
//! serve` run as `contrib/deploy/changeaudit.service` runs them, nginx in front as
//! `contrib/deploy/nginx` configures it, and a real sshd. An executor's session opened through
//! nginx is watched live and terminated through the other replica; its recording and its
//! change's evidence bundle come the same from both; a replica killed with SIGKILL has its
//! session marked interrupted by the survivor within 30 s, playing up to its last uploaded
//! segment; back again, it stores the rest and the whole recording verifies against the trail.

// A test's helpers may panic: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use changeaudit_e2e::{
    Garage, Nginx, PASSWORD_USER, Replica, Sshd, free_port, fresh_postgres, psql, random_hex,
};
use changeaudit_shared::terminal::{ClientMessage, EndReason, ServerMessage};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

const ADMIN_PASSWORD: &str = "replicas-admin-password";
const PASSWORD: &str = "replicas-person-password";
const CHANGE: &str = "CHG-REPLICAS";
/// How long a step may take before the test gives up on it.
const PATIENCE: Duration = Duration::from_secs(30);

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Someone signed in at `base` (nginx, or one replica).
struct Person {
    http: reqwest::Client,
    base: String,
    cookie: String,
}

impl Person {
    async fn sign_in(base: &str, username: &str, password: &str) -> Person {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("origin", base.parse().unwrap());
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .build()
            .unwrap();
        let answer = http
            .post(format!("{base}/api/session"))
            .json(&json!({ "username": username, "password": password }))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "{username} signing in at {base}");
        let cookie = answer
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|value| value.to_str().ok()?.split(';').next().map(str::to_owned))
            .collect::<Vec<_>>()
            .join("; ");
        Person {
            http,
            base: base.to_owned(),
            cookie,
        }
    }

    /// The same sign-in, used at another replica.
    fn at(&self, base: &str) -> Person {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("origin", base.parse().unwrap());
        Person {
            http: reqwest::Client::builder()
                .default_headers(headers)
                .build()
                .unwrap(),
            base: base.to_owned(),
            cookie: self.cookie.clone(),
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            // As a client behind nginx: nginx appends its own peer after it.
            .header("x-forwarded-for", "192.0.2.7");
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let answer = self.send(reqwest::Method::POST, path, Some(body)).await;
        let status = answer.status();
        let text = answer.text().await.unwrap();
        assert!(status.is_success(), "POST {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    async fn get(&self, path: &str) -> Vec<u8> {
        let answer = self.send(reqwest::Method::GET, path, None).await;
        assert_eq!(answer.status(), 200, "GET {path} at {}", self.base);
        answer.bytes().await.unwrap().to_vec()
    }

    async fn screen(&self, path: &str) -> Screen {
        let url = format!("{}{path}", self.base.replacen("http://", "ws://", 1));
        let mut request = url.into_client_request().unwrap();
        let headers = request.headers_mut();
        headers.insert("cookie", HeaderValue::from_str(&self.cookie).unwrap());
        headers.insert("origin", HeaderValue::from_str(&self.base).unwrap());
        headers.insert("x-forwarded-for", HeaderValue::from_static("192.0.2.7"));
        let (socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        Screen {
            socket,
            output: String::new(),
            session: None,
            closed: None,
        }
    }
}

/// A terminal or a watcher, and what it has been shown.
struct Screen {
    socket: Socket,
    output: String,
    session: Option<i64>,
    closed: Option<EndReason>,
}

impl Screen {
    async fn until(&mut self, done: impl Fn(&Screen) -> bool, what: &str) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while !done(self) {
            assert!(
                self.closed.is_none(),
                "closed before {what}: {}",
                self.output
            );
            let message = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .unwrap_or_else(|_| panic!("waiting for {what}; shown: {}", self.output));
            match message {
                Some(Ok(Message::Binary(bytes))) => {
                    self.output.push_str(&String::from_utf8_lossy(&bytes));
                }
                Some(Ok(Message::Text(text))) => match serde_json::from_str(text.as_str()) {
                    Ok(ServerMessage::Started { session_id, .. }) => {
                        self.session = Some(session_id)
                    }
                    Ok(ServerMessage::Closed { reason, .. }) => self.closed = Some(reason),
                    _ => {}
                },
                Some(Ok(_)) => {}
                None | Some(Err(_)) => {
                    self.closed.get_or_insert(EndReason::Interrupted);
                }
            }
        }
    }

    async fn run(&mut self, line: &str) {
        let input = ClientMessage::Input {
            data: format!("{line}\r"),
        };
        let text = serde_json::to_string(&input).unwrap();
        self.socket.send(Message::Text(text.into())).await.unwrap();
    }

    async fn closed(&mut self) -> EndReason {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while self.closed.is_none() {
            match tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .expect("the close")
            {
                Some(Ok(Message::Binary(bytes))) => {
                    self.output.push_str(&String::from_utf8_lossy(&bytes));
                }
                Some(Ok(Message::Text(text))) => {
                    if let Ok(ServerMessage::Closed { reason, .. }) =
                        serde_json::from_str(text.as_str())
                    {
                        self.closed = Some(reason);
                    }
                }
                Some(Ok(_)) => {}
                None | Some(Err(_)) => return self.closed.unwrap_or(EndReason::Interrupted),
            }
        }
        self.closed.unwrap()
    }
}

/// Everything shared by the replicas' configuration files.
struct Installation {
    folder: tempfile::TempDir,
    database: String,
    garage: Garage,
    prefix: String,
    master_key: String,
    cluster_secret: String,
}

impl Installation {
    fn recordings(&self) -> String {
        format!("s3://{}/{}", self.garage.bucket, self.prefix)
    }

    /// Replica `name`'s configuration file, listening on `port` and answering peers on
    /// `cluster_port`.
    fn config(&self, name: &str, port: u16, cluster_port: u16) -> PathBuf {
        let data = self.folder.path().join(name);
        std::fs::create_dir_all(&data).unwrap();
        let garage = &self.garage;
        let text = format!(
            "data_dir = \"{data}\"\nlisten = \"127.0.0.1:{port}\"\n\
             database_url = \"{database}\"\nmaster_key = \"{master_key}\"\n\
             admin_password = \"{ADMIN_PASSWORD}\"\n\
             trail_key_file = \"{trail_key}\"\ncheckpoint_seconds = 1\n\
             recordings_url = \"{recordings}\"\ns3_endpoint = \"{endpoint}\"\n\
             s3_region = \"{region}\"\ns3_access_key_id = \"{key}\"\n\
             s3_secret_access_key = \"{secret}\"\n\
             cluster_listen = \"127.0.0.1:{cluster_port}\"\ncluster_secret = \"{cluster_secret}\"\n\
             trusted_proxies = [\"127.0.0.1/32\"]\nstatic_dir = \"{data}/no-web-app\"\nlog = \"warn\"\n",
            data = data.display(),
            database = self.database,
            master_key = self.master_key,
            trail_key = self.trail_key().display(),
            recordings = self.recordings(),
            endpoint = garage.endpoint,
            region = garage.region,
            key = garage.access_key_id,
            secret = garage.secret_access_key,
            cluster_secret = self.cluster_secret,
        );
        let file = data.join("changeaudit.toml");
        std::fs::write(&file, text).unwrap();
        file
    }

    /// Every replica signs with the same trail key.
    fn trail_key(&self) -> PathBuf {
        self.folder.path().join("trail.key")
    }
}

#[expect(
    clippy::disallowed_methods,
    reason = "the replicas run on the system clock: the change's window is placed around it"
)]
fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

/// The people, the device and change `CHANGE`, made through `base`; answers the credential.
async fn prepare(base: &str, sshd: &Sshd) -> i64 {
    let admin = Person::sign_in(base, "admin", ADMIN_PASSWORD).await;
    let mut ids = Vec::new();
    for (username, roles) in [
        ("executor", json!([])),
        ("approver", json!([])),
        ("planner", json!(["planner"])),
        ("auditor", json!(["auditor"])),
    ] {
        let user = admin
            .post(
                "/api/users",
                json!({ "username": username, "display_name": username, "roles": roles, "password": PASSWORD }),
            )
            .await;
        ids.push(user["id"].as_i64().unwrap());
    }
    let device = admin
        .post(
            "/api/devices",
            json!({ "name": "replicated-1", "host": "127.0.0.1", "port": sshd.address.port(), "host_key": sshd.host_key }),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let credential = admin
        .post(
            "/api/credentials",
            json!({ "device_id": device, "username": PASSWORD_USER, "kind": "password", "secret": sshd.password }),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let group = admin
        .post(
            "/api/access-groups",
            json!({
                "name": "replicated operators",
                "passkey_required_to_approve": false,
                "members": [
                    { "user_id": ids[0], "executor": true, "approver": false },
                    { "user_id": ids[1], "executor": false, "approver": true },
                ],
                "credential_ids": [credential],
            }),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let now = now();
    let format = &time::format_description::well_known::Rfc3339;
    Person::sign_in(base, "planner", PASSWORD)
        .await
        .post(
            "/api/changes",
            json!({
                "id": CHANGE,
                "title": "Say things on two replicas",
                "start_at": (now - time::Duration::hours(1)).format(format).unwrap(),
                "due_at": (now + time::Duration::hours(2)).format(format).unwrap(),
                "access_group_id": group,
                "device_ids": [device],
                "script": "echo one\necho two",
            }),
        )
        .await;
    let executor = Person::sign_in(base, "executor", PASSWORD).await;
    let asked = executor
        .post("/api/requests", json!({ "credential_id": credential }))
        .await;
    let request = asked["request"]["id"].as_i64().unwrap();
    Person::sign_in(base, "approver", PASSWORD)
        .await
        .post(
            &format!("/api/requests/{request}/decisions"),
            json!({ "decision": "approved" }),
        )
        .await;
    credential
}

/// The executor's terminal on `credential`, opened through `base`, at its prompt.
async fn terminal(executor: &Person, credential: i64) -> Screen {
    let mut screen = executor
        .screen(&format!(
            "/api/credentials/{credential}/terminal?cols=80&rows=24"
        ))
        .await;
    screen
        .until(
            |s| s.output.ends_with("$ ") && s.session.is_some(),
            "the prompt",
        )
        .await;
    screen
}

/// Which of `replicas` runs session `id`, by the address it registered.
fn holder(database: &str, id: i64, cluster_ports: &[u16]) -> usize {
    let address = psql(
        database,
        &format!(
            "SELECT r.address FROM terminal_sessions s JOIN replicas r ON r.id = s.replica_id WHERE s.id = {id}"
        ),
    )
    .unwrap();
    cluster_ports
        .iter()
        .position(|port| address.ends_with(&format!(":{port}")))
        .unwrap_or_else(|| panic!("session {id} runs on {address}, no replica of this test"))
}

/// `changeaudit <args>` on a replica's configuration, with `env` besides.
fn changeaudit(config: &Path, args: &[&str], env: &[(String, String)]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_changeaudit"))
        .args(args)
        .env_clear()
        .env("CHANGEAUDIT_CONFIG", config)
        .envs(env.iter().cloned())
        .output()
        .unwrap()
}

fn verified(output: &std::process::Output, what: &str) {
    assert!(
        output.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_behind_nginx_share_live_sessions_and_outlive_a_kill() {
    let garage = Garage::start().await.unwrap();
    let installation = Installation {
        folder: tempfile::tempdir().unwrap(),
        database: fresh_postgres().unwrap(),
        prefix: format!("replicas-{}", random_hex(4).unwrap()),
        garage,
        master_key: base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            hex::decode(random_hex(32).unwrap()).unwrap(),
        ),
        cluster_secret: random_hex(24).unwrap(),
    };
    let sshd = Sshd::start().await.unwrap();
    // Polling the database and the replicas is the design of the waits below.
    let mut every = tokio::time::interval(Duration::from_millis(200));
    let binary = Path::new(env!("CARGO_BIN_EXE_changeaudit"));
    let ports = [free_port().unwrap(), free_port().unwrap()];
    let cluster_ports = [free_port().unwrap(), free_port().unwrap()];
    let configs = [
        installation.config("a", ports[0], cluster_ports[0]),
        installation.config("b", ports[1], cluster_ports[1]),
    ];
    // The first makes the trail key every replica signs with.
    let first = Replica::start(binary, &configs[0]).await.unwrap();
    let second = Replica::start(binary, &configs[1]).await.unwrap();
    let mut replicas = [first, second];
    let upstreams: Vec<String> = ports
        .iter()
        .map(|port| format!("127.0.0.1:{port}"))
        .collect();
    let nginx = Nginx::start(&upstreams).await.unwrap();

    let credential = prepare(&nginx.url, &sshd).await;
    let executor = Person::sign_in(&nginx.url, "executor", PASSWORD).await;
    let mut screen = terminal(&executor, credential).await;
    let id = screen.session.unwrap();
    let holds = holder(&installation.database, id, &cluster_ports);
    let other = 1 - holds;
    // The proxy's forwarded address is believed, as trusted_proxies says.
    let client_ip = psql(
        &installation.database,
        &format!("SELECT client_ip FROM terminal_sessions WHERE id = {id}"),
    )
    .unwrap();
    assert_eq!(client_ip, "192.0.2.7");

    // The auditor's bell streams through nginx unbuffered: its first event arrives at once.
    let auditor = Person::sign_in(&nginx.url, "auditor", PASSWORD).await;
    let mut bell = auditor
        .send(reqwest::Method::GET, "/api/me/notifications/stream", None)
        .await;
    let first_event = tokio::time::timeout(Duration::from_secs(5), bell.chunk())
        .await
        .expect("the bell's first event through nginx")
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&first_event).contains("inbox"));

    // Watching through the replica that does not run the session: relayed live.
    let at_other = auditor.at(&replicas[other].url);
    let mut watcher = at_other
        .screen(&format!("/api/terminal-sessions/{id}/watch"))
        .await;
    screen.run("echo one").await;
    let shown = Instant::now();
    watcher
        .until(|w| w.output.contains("one\r\n"), "the watched output")
        .await;
    eprintln!("relayed to the other replica within {:?}", shown.elapsed());
    let asked = at_other
        .send(
            reqwest::Method::POST,
            &format!("/api/terminal-sessions/{id}/terminate"),
            None,
        )
        .await;
    assert_eq!(asked.status(), 202);
    assert_eq!(screen.closed().await, EndReason::Terminated);
    assert_eq!(watcher.closed().await, EndReason::Terminated);
    assert_eq!(watcher.output, screen.output);

    // The recording and the evidence bundle, the same from both replicas; the bundle verifies.
    let path = format!("/api/terminal-sessions/{id}/recording");
    let recordings = [
        auditor.at(&replicas[0].url).get(&path).await,
        auditor.at(&replicas[1].url).get(&path).await,
    ];
    assert!(!recordings[0].is_empty());
    assert_eq!(recordings[0], recordings[1]);
    let public_key = format!("{}.pub", installation.trail_key().display());
    for replica in &replicas {
        let bundle = auditor
            .at(&replica.url)
            .get(&format!("/api/changes/{CHANGE}/evidence"))
            .await;
        let file = installation.folder.path().join("bundle.jsonl");
        std::fs::write(&file, bundle).unwrap();
        let output = changeaudit(
            &configs[0],
            &[
                "verify",
                "--bundle",
                file.to_str().unwrap(),
                "--public-key",
                &public_key,
            ],
            &[],
        );
        verified(&output, "the evidence bundle");
    }

    // A second session, with a segment uploaded, on a replica killed with SIGKILL.
    let mut doomed = terminal(&executor, credential).await;
    let doomed_id = doomed.session.unwrap();
    let dies = holder(&installation.database, doomed_id, &cluster_ports);
    let survives = 1 - dies;
    // More than a segment's 8 MiB of output: a segment is uploaded at once.
    doomed
        .run("head -c 7000000 /dev/zero | base64 -w 100 | tr A B; echo printed-$((6*7))")
        .await;
    doomed
        .until(|s| s.output.contains("printed-42"), "the bulk output")
        .await;
    // Killed once the survivor reads a segment: what a lost replica leaves is what it uploaded.
    let survivor = auditor.at(&replicas[survives].url);
    let recording_path = format!("/api/terminal-sessions/{doomed_id}/recording");
    let uploaded = Instant::now();
    while survivor.get(&recording_path).await.len() < 8 << 20 {
        assert!(uploaded.elapsed() < PATIENCE, "no segment was uploaded");
        every.tick().await;
    }
    replicas[dies].kill().await.unwrap();
    let killed = Instant::now();
    let session_path = format!("/api/terminal-sessions/{doomed_id}");
    loop {
        let marked = psql(
            &installation.database,
            &format!("SELECT status FROM terminal_sessions WHERE id = {doomed_id}"),
        )
        .unwrap();
        if marked == "ended" {
            break;
        }
        assert!(
            killed.elapsed() < PATIENCE,
            "not marked interrupted within 30 s"
        );
        every.tick().await;
    }
    eprintln!("marked interrupted {:?} after the kill", killed.elapsed());
    let details: Value = serde_json::from_slice(&survivor.get(&session_path).await).unwrap();
    assert_eq!(details["end_reason"], "interrupted");
    let marked = psql(
        &installation.database,
        &format!(
            "SELECT details FROM audit_events WHERE action = 'session.interrupted' AND object = 'terminal_session:{doomed_id}'"
        ),
    )
    .unwrap();
    let marked: Value = serde_json::from_str(&marked).unwrap();
    assert_eq!(marked["ended_at_from"], "recording");
    // It plays from the survivor up to the last segment uploaded.
    let partial = survivor.get(&recording_path).await;
    assert!(partial.len() > 8 << 20, "{} bytes", partial.len());
    assert!(partial.starts_with(b"{\"version\":2"));

    // Back again, the killed replica stores what its spool held; the whole recording is sealed
    // in the trail and verifies against it.
    replicas[dies].restart().await.unwrap();
    let back = Instant::now();
    loop {
        let sealed = psql(
            &installation.database,
            &format!("SELECT COALESCE(recording_sha256, '') FROM terminal_sessions WHERE id = {doomed_id}"),
        )
        .unwrap();
        if !sealed.is_empty() {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(60),
            "the recording was not recovered"
        );
        every.tick().await;
    }
    let whole = survivor.get(&recording_path).await;
    assert!(String::from_utf8_lossy(&whole).contains("printed-"));
    let export = installation.folder.path().join("trail.jsonl");
    let output = changeaudit(
        &configs[survives],
        &["export", "--output", export.to_str().unwrap()],
        &[],
    );
    verified(&output, "the export");
    let output = changeaudit(
        &configs[survives],
        &[
            "verify",
            "--export",
            export.to_str().unwrap(),
            "--public-key",
            &public_key,
            "--recordings",
            &installation.recordings(),
        ],
        &installation.garage.settings(&installation.prefix),
    );
    verified(&output, "the trail with the recordings");
    drop(nginx);
}
