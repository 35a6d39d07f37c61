use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use changeaudit_backend::AppState;
use changeaudit_backend::auth::password;
use changeaudit_backend::clock::{Clock, ManualClock, Timestamp};
use changeaudit_backend::config::Config;
use changeaudit_backend::db::Database;
use changeaudit_backend::trail::key::TrailKey;
use changeaudit_backend::users;
use changeaudit_backend::vault::MasterKey;
use reqwest::cookie::{CookieStore, Jar};
use reqwest::header::{HeaderMap, HeaderValue};
use secrecy::SecretString;
use serde_json::{Value, json};
use sqlx::Executor;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub const ADMIN_PASSWORD: &str = "first-admin-password";
/// Every replica of a test shares one master key, as replicas in production do.
pub const TEST_MASTER_KEY: &str = "Y2hhbmdlYXVkaXQgdGVzdCBtYXN0ZXIga2V5IDMyQiE=";
/// 2026-01-01T00:00:00Z: tests start from a fixed moment and move the clock by hand.
pub const START: Timestamp = Timestamp::from_millis(1_767_225_600_000);

/// Which database the tests run on, chosen by `CHANGEAUDIT_TEST_DATABASE`.
pub enum TestDatabase {
    Sqlite,
    Postgres { admin_url: String },
}

impl TestDatabase {
    /// The PostgreSQL server of the test command, whichever database the tests run on.
    pub fn postgres() -> TestDatabase {
        TestDatabase::Postgres {
            admin_url: std::env::var("CHANGEAUDIT_TEST_POSTGRES_URL").expect(
                "CHANGEAUDIT_TEST_POSTGRES_URL is not set: `scripts/dev test` starts PostgreSQL and sets it",
            ),
        }
    }

    pub fn chosen() -> TestDatabase {
        match std::env::var("CHANGEAUDIT_TEST_DATABASE").as_deref() {
            Err(_) | Ok("sqlite") => TestDatabase::Sqlite,
            Ok("postgres") => TestDatabase::Postgres {
                admin_url: std::env::var("CHANGEAUDIT_TEST_POSTGRES_URL").expect(
                    "CHANGEAUDIT_TEST_DATABASE=postgres needs CHANGEAUDIT_TEST_POSTGRES_URL",
                ),
            },
            Ok(other) => panic!("CHANGEAUDIT_TEST_DATABASE: unknown database `{other}`"),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            TestDatabase::Sqlite => "sqlite",
            TestDatabase::Postgres { .. } => "postgres",
        }
    }

    /// The URL of a new, empty database.
    pub async fn fresh_url(&self, dir: &Path) -> String {
        match self {
            TestDatabase::Sqlite => format!("sqlite://{}", dir.join("changeaudit.db").display()),
            TestDatabase::Postgres { admin_url } => {
                let name = format!("test_{}", hex_id());
                let admin = sqlx::PgPool::connect(admin_url)
                    .await
                    .expect("connecting to the test PostgreSQL server");
                admin
                    .execute(format!("CREATE DATABASE {name}").as_str())
                    .await
                    .expect("creating a test database");
                admin.close().await;
                let (base, _) = admin_url
                    .rsplit_once('/')
                    .expect("a database URL with a path");
                format!("{base}/{name}")
            }
        }
    }
}

fn hex_id() -> String {
    let bytes: [u8; 8] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    cookies: Arc<Jar>,
    pub clock: ManualClock,
    pub db: Database,
    pub database_url: String,
    /// The server's state, for running its background work on demand.
    pub state: AppState,
    /// The settings that put its recordings in object storage, when they are there: a binary
    /// started beside it takes them too.
    pub recordings_settings: Vec<(String, String)>,
    /// Where its peers reach it, when it answers them.
    pub peer_address: Option<String>,
    shutdown: Option<oneshot::Sender<()>>,
    _dir: Arc<TempDir>,
}

impl TestApp {
    /// A server on a fresh database holding the first admin.
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(&[]).await
    }

    /// Like `spawn`, with extra `CHANGEAUDIT_*` settings.
    pub async fn spawn_with(settings: &[(&str, &str)]) -> TestApp {
        TestApp::spawn_on(TestDatabase::chosen(), settings).await
    }

    /// Like `spawn_with`, on `database` whichever the tests run on.
    pub async fn spawn_on(database: TestDatabase, settings: &[(&str, &str)]) -> TestApp {
        let dir = Arc::new(tempfile::tempdir().expect("temporary folder"));
        let database_url = database.fresh_url(dir.path()).await;
        let db = Database::open(&database_url)
            .await
            .expect("opening the test database");
        let hash = password::hash(SecretString::from(ADMIN_PASSWORD.to_owned()))
            .await
            .expect("hashing");
        assert!(users::create_first_admin(&db, &hash, START).await.unwrap());
        TestApp::start(dir, database_url, db, ManualClock::at(START), settings).await
    }

    /// A second server on this one's database, as another replica behind a load balancer.
    pub async fn replica(&self) -> TestApp {
        self.replica_with(&[]).await
    }

    /// A server beside this one (its folder, keys and clock) on the database at `url`: a copy.
    pub async fn on_database(&self, url: &str, settings: &[(&str, &str)]) -> TestApp {
        let db = Database::open(url)
            .await
            .expect("opening the other database");
        TestApp::start(
            self._dir.clone(),
            url.to_owned(),
            db,
            self.clock.clone(),
            settings,
        )
        .await
    }

    /// Like `replica`, with extra `CHANGEAUDIT_*` settings.
    pub async fn replica_with(&self, settings: &[(&str, &str)]) -> TestApp {
        let db = Database::open(&self.database_url)
            .await
            .expect("opening the database again");
        TestApp::start(
            self._dir.clone(),
            self.database_url.clone(),
            db,
            self.clock.clone(),
            settings,
        )
        .await
    }

    async fn start(
        dir: Arc<TempDir>,
        database_url: String,
        db: Database,
        clock: ManualClock,
        settings: &[(&str, &str)],
    ) -> TestApp {
        crate::logs::capture();
        let mut env: HashMap<String, String> = HashMap::from([
            (
                "CHANGEAUDIT_DATA_DIR".to_owned(),
                dir.path().display().to_string(),
            ),
            ("CHANGEAUDIT_DATABASE_URL".to_owned(), database_url.clone()),
            (
                "CHANGEAUDIT_STATIC_DIR".to_owned(),
                dir.path().join("dist").display().to_string(),
            ),
        ]);
        let own_recordings = settings
            .iter()
            .any(|(key, _)| key.starts_with("CHANGEAUDIT_RECORDINGS_"));
        let recordings_settings = match own_recordings {
            true => Vec::new(),
            false => recordings_in_objects(dir.path()).unwrap_or_default(),
        };
        env.extend(recordings_settings.iter().cloned());
        env.extend(
            settings
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        // With a cluster secret, the replica answers its peers on a listener of its own.
        let peers = match env.contains_key("CHANGEAUDIT_CLUSTER_SECRET") {
            true => {
                let listener = TcpListener::bind("127.0.0.1:0").await.expect("binding");
                let at = listener.local_addr().expect("bound address");
                env.insert("CHANGEAUDIT_CLUSTER_LISTEN".to_owned(), at.to_string());
                env.insert("CHANGEAUDIT_CLUSTER_URL".to_owned(), format!("http://{at}"));
                Some(listener)
            }
            false => None,
        };
        let config = Config::load(None, &env).expect("test configuration");
        let master_key = MasterKey::from_base64(&SecretString::from(TEST_MASTER_KEY.to_owned()))
            .expect("the test master key");
        let (trail_key, _) =
            TrailKey::load_or_create(&config.trail.key_file).expect("the test trail key");
        let state = AppState::new(
            &config,
            db.clone(),
            Arc::new(clock.clone()),
            master_key,
            trail_key,
        )
        .expect("the test state");

        let peer_address = state.cluster.address.clone();
        if let Some(peers) = peers {
            tokio::spawn(changeaudit_backend::serve(
                peers,
                changeaudit_backend::cluster::peers::router(state.clone()),
                std::future::pending(),
            ));
        }
        // Registered at once, as the server's first heartbeat does.
        changeaudit_backend::cluster::registry::beat(
            &db,
            &state.cluster.replica,
            peer_address.as_deref(),
            clock.now(),
        )
        .await
        .expect("registering the replica");

        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binding");
        let address = format!("http://{}", listener.local_addr().expect("bound address"));
        let (shutdown, stop) = oneshot::channel::<()>();
        tokio::spawn(changeaudit_backend::serve(
            listener,
            changeaudit_backend::app(state.clone()),
            async {
                stop.await.ok();
            },
        ));
        let cookies = Arc::new(Jar::default());
        TestApp {
            address,
            client: browser_like_client(cookies.clone()),
            cookies,
            clock,
            db,
            database_url,
            state,
            recordings_settings,
            peer_address,
            shutdown: Some(shutdown),
            _dir: dir,
        }
    }

    /// Replaces recording `name` with `bytes`, or removes it, where the server keeps it: what
    /// someone holding the folder or the bucket's keys could do behind its back.
    pub async fn replace_recording(&self, name: &str, bytes: Option<Vec<u8>>) {
        let setting = |key: &str| {
            self.recordings_settings
                .iter()
                .find(|(name, _)| name == key)
                .map(|(_, value)| value.clone())
        };
        let Some(url) = setting("CHANGEAUDIT_RECORDINGS_URL") else {
            let path = self.dir().join("recordings").join(name);
            match bytes {
                Some(bytes) => std::fs::write(&path, bytes).unwrap(),
                None => std::fs::remove_file(&path).unwrap(),
            }
            return;
        };
        let url = url::Url::parse(&url).unwrap();
        let bucket = object_store::aws::AmazonS3Builder::new()
            .with_bucket_name(url.host_str().unwrap())
            .with_endpoint(setting("CHANGEAUDIT_S3_ENDPOINT").unwrap())
            .with_allow_http(true)
            .with_region(setting("CHANGEAUDIT_S3_REGION").unwrap())
            .with_access_key_id(setting("CHANGEAUDIT_S3_ACCESS_KEY_ID").unwrap())
            .with_secret_access_key(setting("CHANGEAUDIT_S3_SECRET_ACCESS_KEY").unwrap())
            .build()
            .unwrap();
        let path =
            object_store::path::Path::from(format!("{}/{name}", url.path().trim_matches('/')));
        match bytes {
            Some(bytes) => {
                object_store::ObjectStore::put(&bucket, &path, bytes.into())
                    .await
                    .unwrap();
            }
            None => object_store::ObjectStore::delete(&bucket, &path)
                .await
                .unwrap(),
        }
    }

    /// The master key every test server seals with.
    pub fn master_key(&self) -> MasterKey {
        MasterKey::from_base64(&SecretString::from(TEST_MASTER_KEY.to_owned()))
            .expect("the test master key")
    }

    pub fn dir(&self) -> &Path {
        self._dir.path()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    pub async fn sign_in(&self, username: &str, password: &str) -> reqwest::Response {
        self.client
            .post(self.url("/api/session"))
            .json(&json!({ "username": username, "password": password }))
            .send()
            .await
            .expect("POST /api/session")
    }

    pub async fn sign_in_as_admin(&self) {
        let response = self.sign_in("admin", ADMIN_PASSWORD).await;
        assert_eq!(
            response.status(),
            200,
            "{}",
            response.text().await.unwrap_or_default()
        );
    }

    pub async fn sign_out(&self) -> reqwest::Response {
        self.client
            .delete(self.url("/api/session"))
            .send()
            .await
            .expect("DELETE /api/session")
    }

    /// The cookies the client holds for this server, as a `Cookie` header value.
    pub fn cookie_header(&self) -> String {
        let url = self.address.parse().expect("server URL");
        self.cookies
            .cookies(&url)
            .map(|value| value.to_str().expect("ASCII cookies").to_owned())
            .unwrap_or_default()
    }

    /// A client of its own (its own cookies), signed in as `username`.
    pub async fn person(&self, username: &str, password: &str) -> Person {
        let person = self.anonymous();
        let response = person
            .post(
                "/api/session",
                &json!({ "username": username, "password": password }),
            )
            .await;
        assert_eq!(response.status(), 200, "signing in as {username}");
        person
    }

    /// A client of its own that has not signed in.
    pub fn anonymous(&self) -> Person {
        Person::anonymous_at(&self.address)
    }

    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// Adds an enabled user straight into the database, for tests about something else than
    /// managing users (which `users_and_groups` tests through the API).
    pub async fn add_user(&self, username: &str, password: &str, roles: &[&str]) -> i64 {
        let hash = password::hash(SecretString::from(password.to_owned()))
            .await
            .expect("hashing");
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO users (username, display_name, password_hash, created_at, updated_at)
             VALUES ($1, $1, $2, 0, 0) RETURNING id",
        )
        .bind(username)
        .bind(hash)
        .fetch_one(self.db.pool())
        .await
        .expect("inserting a user");
        for role in roles {
            sqlx::query("INSERT INTO user_roles (user_id, role) VALUES ($1, $2)")
                .bind(id)
                .bind(*role)
                .execute(self.db.pool())
                .await
                .expect("granting a role");
        }
        id
    }

    pub async fn set_enabled(&self, username: &str, enabled: bool) {
        sqlx::query("UPDATE users SET enabled = $2 WHERE username = $1")
            .bind(username)
            .bind(enabled)
            .execute(self.db.pool())
            .await
            .expect("updating a user");
    }
}

/// Someone using the API through their own client.
pub struct Person {
    address: String,
    pub client: reqwest::Client,
    cookies: Arc<Jar>,
}

impl Person {
    /// A client of its own, not signed in, for the server at `address`.
    pub fn anonymous_at(address: &str) -> Person {
        let cookies = Arc::new(Jar::default());
        Person {
            address: address.to_owned(),
            client: browser_like_client(cookies.clone()),
            cookies,
        }
    }

    /// The server's address, e.g. `http://127.0.0.1:PORT`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The cookies this person's browser would send, as a `Cookie` header value.
    pub fn cookie_header(&self) -> String {
        let url = self.address.parse().expect("server URL");
        self.cookies
            .cookies(&url)
            .map(|value| value.to_str().expect("ASCII cookies").to_owned())
            .unwrap_or_default()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("POST")
    }

    pub async fn send(&self, method: &str, path: &str, body: Option<&Value>) -> reqwest::Response {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
        let mut request = self.client.request(method, self.url(path));
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.expect("request")
    }

    /// Creates an object with `POST path` (expecting 201) and answers its id.
    pub async fn create(&self, path: &str, body: &Value) -> i64 {
        self.expect("POST", path, Some(body), 201).await["id"]
            .as_i64()
            .expect("an id in the answer")
    }

    /// Sends and expects `status`, answering the JSON body (null when empty).
    pub async fn expect(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        status: u16,
    ) -> Value {
        let response = self.send(method, path, body).await;
        let actual = response.status().as_u16();
        let text = response.text().await.expect("a body");
        assert_eq!(actual, status, "{method} {path}: {text}");
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).expect("a JSON body")
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            shutdown.send(()).ok();
        }
    }
}

/// A client that keeps cookies and sends the headers a same-origin browser fetch would.
fn browser_like_client(cookies: Arc<Jar>) -> reqwest::Client {
    let mut headers = HeaderMap::new();
    headers.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
    reqwest::Client::builder()
        .cookie_provider(cookies)
        .default_headers(headers)
        .build()
        .expect("HTTP client")
}

/// The trail's events of `action`, oldest first: their actor and details.
pub async fn events_of(app: &TestApp, action: &str) -> Vec<(String, Value)> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT actor, details FROM audit_events WHERE action = $1 ORDER BY seq")
            .bind(action)
            .fetch_all(app.db.pool())
            .await
            .expect("reading the trail");
    rows.into_iter()
        .map(|(actor, details)| (actor, serde_json::from_str(&details).expect("JSON details")))
        .collect()
}

/// A problem-details body, checked for its media type.
pub async fn problem(response: reqwest::Response) -> Value {
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json",
        "a refusal answers with problem details"
    );
    response.json().await.expect("problem details JSON")
}

/// The fields a refusal names, in order.
pub fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .expect("a refusal with field errors")
        .iter()
        .map(|error| error["field"].as_str().expect("a field name").to_owned())
        .collect()
}

/// With `CHANGEAUDIT_TEST_RECORDINGS=s3`, the settings that keep a test server's recordings in
/// the S3-compatible store the test command started (`CHANGEAUDIT_TEST_S3_*`), under a prefix of
/// the server's own (its replicas share it).
fn recordings_in_objects(dir: &Path) -> Option<Vec<(String, String)>> {
    if std::env::var("CHANGEAUDIT_TEST_RECORDINGS").ok()? != "s3" {
        return None;
    }
    let test = |name: &str| {
        std::env::var(format!("CHANGEAUDIT_TEST_S3_{name}")).unwrap_or_else(|_| {
            panic!("CHANGEAUDIT_TEST_RECORDINGS=s3 needs CHANGEAUDIT_TEST_S3_{name} (scripts/dev test starts Garage and sets it)")
        })
    };
    let prefix = dir.file_name()?.to_string_lossy().into_owned();
    Some(vec![
        (
            "CHANGEAUDIT_RECORDINGS_URL".to_owned(),
            format!("s3://{}/{prefix}", test("BUCKET")),
        ),
        ("CHANGEAUDIT_S3_ENDPOINT".to_owned(), test("ENDPOINT")),
        ("CHANGEAUDIT_S3_REGION".to_owned(), test("REGION")),
        (
            "CHANGEAUDIT_S3_ACCESS_KEY_ID".to_owned(),
            test("ACCESS_KEY_ID"),
        ),
        (
            "CHANGEAUDIT_S3_SECRET_ACCESS_KEY".to_owned(),
            test("SECRET_ACCESS_KEY"),
        ),
    ])
}
