//! The sections the server reads its configuration in, one per concern.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use secrecy::SecretString;

#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub sessions: SessionsConfig,
    pub terminal: TerminalConfig,
    pub notifications: NotificationsConfig,
    pub trail: TrailConfig,
    pub siem: SiemConfig,
    pub cluster: ClusterConfig,
}

/// Where the server listens and who it believes.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Holds the SQLite database, the keys and the recordings unless configured elsewhere.
    pub data_dir: PathBuf,
    /// The built single-page app (Trunk's output); none: the one in the binary, or
    /// `frontend/dist` when the binary holds none.
    pub static_dir: Option<PathBuf>,
    /// The address people use, e.g. `https://changeaudit.example.com`; an `https` URL marks the
    /// session cookie `Secure`, and its origin is trusted for state-changing requests.
    pub public_url: Option<String>,
    /// Further origins allowed to send state-changing requests (besides the server's own).
    pub trusted_origins: Vec<String>,
    /// Proxies whose `X-Forwarded-For` names the client; anyone else's is ignored.
    pub trusted_proxies: Vec<IpNet>,
    /// Whether a trusted proxy's `X-Forwarded-Proto: https` means the person came over TLS
    /// (TLS ends at the proxy): the cookie is then `Secure` and HSTS is sent.
    pub trust_forwarded_proto: bool,
    /// How long an API request may take to be answered (its head, for a stream) before it is
    /// abandoned with 503; a request's head must arrive within `connections::HEADER_READ_LIMIT`.
    pub answer_deadline: Duration,
    /// A tracing filter such as `info` or `info,sqlx=warn`.
    pub log: String,
}

/// The database, the key that seals the secrets it stores, and its first admin.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub url: SecretString,
    /// The master key that seals stored secrets, as 32 bytes in base64; when absent, the key
    /// file is used (and created on first run).
    pub master_key: Option<SecretString>,
    pub master_key_file: PathBuf,
    /// The first admin's password; generated and printed once when absent.
    pub admin_password: Option<SecretString>,
}

/// People's sign-in sessions.
#[derive(Debug, Clone)]
pub struct SessionsConfig {
    pub idle_timeout: Duration,
    pub max_lifetime: Duration,
    /// The most live event streams (the bell's) one person may hold open on a replica.
    pub streams_per_person: u64,
}

/// Terminal sessions and their recordings.
#[derive(Debug, Clone)]
pub struct TerminalConfig {
    /// Where session recordings are kept.
    pub recordings: RecordingsAt,
    /// How long before a change's due date its sessions are warned.
    pub due_warning: Duration,
    /// The longest a terminal session may last, whatever the change's window.
    pub max_length: Duration,
    /// The most a session may record, in bytes: at it the session is closed.
    pub recording_limit: u64,
    /// The free space, in bytes, below which no session starts on the recordings' volume;
    /// running sessions are warned below it and closed below half of it.
    pub free_floor: u64,
    /// The most terminal sessions one person may have running at once.
    pub per_person: u64,
}

/// Where recordings are kept: `recordings_url`.
#[derive(Debug, Clone)]
pub enum RecordingsAt {
    /// `file:///path` (or `recordings_dir`): files in a local folder.
    Folder(PathBuf),
    /// `s3://bucket/prefix`: objects in S3-compatible storage, written through a local spool.
    Objects(ObjectStorage),
}

/// An S3-compatible bucket. What is not set here is read from the usual `AWS_*` variables.
#[derive(Debug, Clone)]
pub struct ObjectStorage {
    pub bucket: String,
    /// Where under the bucket the recordings go; empty for its top.
    pub prefix: String,
    /// The service's URL, for storage other than AWS's (Garage, MinIO, Ceph).
    pub endpoint: Option<String>,
    pub region: Option<String>,
    /// `https://endpoint/bucket/key` (the default) or `https://bucket.endpoint/key`.
    pub path_style: Option<bool>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<SecretString>,
    /// Where a recording is written first, synced every second, and uploaded from.
    pub spool_dir: PathBuf,
}

/// Where notifications go besides the app.
#[derive(Debug, Clone)]
pub struct NotificationsConfig {
    /// `smtp://host:port` (plain; `?tls=required` for STARTTLS), `smtps://host:port` (TLS), with
    /// `user:password@` when the server wants a login. No e-mail without it.
    pub smtp_url: Option<SecretString>,
    /// The sender of changeaudit's e-mail.
    pub smtp_from: String,
    /// Where each notification is also POSTed as JSON; none without it. A secret: chat
    /// services take the URL itself as the key, so only its scheme, host and port are shown.
    pub webhook_url: Option<SecretString>,
    /// The key of the webhook's HMAC-SHA256 signature header.
    pub webhook_secret: Option<SecretString>,
}

/// The audit trail's signing.
#[derive(Debug, Clone)]
pub struct TrailConfig {
    /// The trail's Ed25519 signing key (created with its `.pub` on first run). Every replica
    /// needs the same one.
    pub key_file: PathBuf,
    /// A checkpoint is signed once this many events are new…
    pub checkpoint_events: u64,
    /// …or once this long has passed with any new event.
    pub checkpoint_interval: Duration,
}

/// Where the trail is streamed besides the database.
#[derive(Debug, Clone)]
pub struct SiemConfig {
    /// A syslog collector (`host:port`, TCP), RFC 5424.
    pub syslog: Option<String>,
    /// An HTTP endpoint, sent JSON. Held as a secret, shown as scheme, host and port only.
    pub url: Option<SecretString>,
    /// The `Authorization` header sent to `url` (e.g. `Bearer …` or `Splunk …`).
    pub authorization: Option<SecretString>,
}

/// How replicas reach each other: a watcher on one is relayed a session running on another.
#[derive(Debug, Clone, Default)]
pub struct ClusterConfig {
    /// Where this replica takes its peers' requests; none: it serves them nothing.
    pub listen: Option<SocketAddr>,
    /// Where its peers reach `listen`, e.g. `http://10.0.0.2:8091`.
    pub url: Option<String>,
    /// The key every replica signs and checks its peers' requests with.
    pub secret: Option<SecretString>,
}

/// The shortest cluster secret taken: 32 characters.
pub const MIN_CLUSTER_SECRET_CHARS: usize = 32;

pub const MIN_ADMIN_PASSWORD_CHARS: usize = 12;

impl Config {
    /// The cookie is only sent back over TLS when people reach the server over TLS.
    pub fn cookie_secure(&self) -> bool {
        self.server
            .public_url
            .as_deref()
            .is_some_and(|url| url.starts_with("https://"))
    }
}
