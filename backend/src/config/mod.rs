//! Configuration: defaults, then an optional TOML file, then `CHANGEAUDIT_*` variables, read
//! into one section per concern. A leaf: it knows nothing of the server that reads it.

mod keys;
mod resolve;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use secrecy::SecretString;

pub use resolve::parse_network;

#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub sessions: SessionsConfig,
    pub terminal: TerminalConfig,
    pub notifications: NotificationsConfig,
    pub trail: TrailConfig,
    pub siem: SiemConfig,
}

/// Where the server listens and who it believes.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Holds the SQLite database, the keys and the recordings unless configured elsewhere.
    pub data_dir: PathBuf,
    /// The built single-page app (Trunk's output).
    pub static_dir: PathBuf,
    /// The address people use, e.g. `https://changeaudit.example.com`; an `https` URL marks the
    /// session cookie `Secure`, and its origin is trusted for state-changing requests.
    pub public_url: Option<String>,
    /// Further origins allowed to send state-changing requests (besides the server's own).
    pub trusted_origins: Vec<String>,
    /// Proxies whose `X-Forwarded-For` names the client; anyone else's is ignored.
    pub trusted_proxies: Vec<IpNet>,
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
}

/// Terminal sessions and their recordings.
#[derive(Debug, Clone)]
pub struct TerminalConfig {
    /// Where session recordings are written.
    pub recordings_dir: PathBuf,
    /// How long before a change's due date its sessions are warned.
    pub due_warning: Duration,
    /// The longest a terminal session may last, whatever the change's window.
    pub max_length: Duration,
}

/// Where notifications go besides the app.
#[derive(Debug, Clone)]
pub struct NotificationsConfig {
    /// `smtp://host:port` (plain; `?tls=required` for STARTTLS), `smtps://host:port` (TLS), with
    /// `user:password@` when the server wants a login. No e-mail without it.
    pub smtp_url: Option<SecretString>,
    /// The sender of changeaudit's e-mail.
    pub smtp_from: String,
    /// Where each notification is also POSTed as JSON; none without it.
    pub webhook_url: Option<String>,
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
    /// An HTTP endpoint, sent JSON.
    pub url: Option<String>,
}

/// The variables read, in the order the README lists them.
pub const ENV_VARS: [&str; 26] = [
    "CHANGEAUDIT_CONFIG",
    "CHANGEAUDIT_LISTEN",
    "CHANGEAUDIT_DATA_DIR",
    "CHANGEAUDIT_DATABASE_URL",
    "CHANGEAUDIT_ADMIN_PASSWORD",
    "CHANGEAUDIT_MASTER_KEY",
    "CHANGEAUDIT_MASTER_KEY_FILE",
    "CHANGEAUDIT_STATIC_DIR",
    "CHANGEAUDIT_PUBLIC_URL",
    "CHANGEAUDIT_TRUSTED_ORIGINS",
    "CHANGEAUDIT_SESSION_IDLE_MINUTES",
    "CHANGEAUDIT_SESSION_MAX_HOURS",
    "CHANGEAUDIT_RECORDINGS_DIR",
    "CHANGEAUDIT_TRUSTED_PROXIES",
    "CHANGEAUDIT_DUE_WARNING_MINUTES",
    "CHANGEAUDIT_TERMINAL_MAX_MINUTES",
    "CHANGEAUDIT_SMTP_URL",
    "CHANGEAUDIT_SMTP_FROM",
    "CHANGEAUDIT_WEBHOOK_URL",
    "CHANGEAUDIT_WEBHOOK_SECRET",
    "CHANGEAUDIT_TRAIL_KEY_FILE",
    "CHANGEAUDIT_CHECKPOINT_EVENTS",
    "CHANGEAUDIT_CHECKPOINT_SECONDS",
    "CHANGEAUDIT_SIEM_SYSLOG",
    "CHANGEAUDIT_SIEM_URL",
    "CHANGEAUDIT_LOG",
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("configuration file {path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("{name}: {message}")]
    Invalid { name: String, message: String },
}

pub const MIN_ADMIN_PASSWORD_CHARS: usize = 12;

impl Config {
    /// Reads the configuration file named by `file` (or by `CHANGEAUDIT_CONFIG`), then `env`.
    pub fn load(file: Option<&Path>, env: &HashMap<String, String>) -> Result<Config, ConfigError> {
        let file = file
            .map(Path::to_owned)
            .or_else(|| env.get("CHANGEAUDIT_CONFIG").map(PathBuf::from));
        keys::Keys::load(file.as_deref(), env)?.resolve()
    }

    /// Reads the configuration from the process environment.
    pub fn from_process(file: Option<&Path>) -> Result<Config, ConfigError> {
        let env: HashMap<String, String> = std::env::vars()
            .filter(|(name, _)| name.starts_with("CHANGEAUDIT_"))
            .collect();
        Config::load(file, &env)
    }

    /// The cookie is only sent back over TLS when people reach the server over TLS.
    pub fn cookie_secure(&self) -> bool {
        self.server
            .public_url
            .as_deref()
            .is_some_and(|url| url.starts_with("https://"))
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_put_everything_under_the_data_folder() {
        let config = Config::load(None, &env(&[])).unwrap();
        assert_eq!(config.server.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(config.server.data_dir, PathBuf::from("data"));
        assert_eq!(
            config.database.url.expose_secret(),
            "sqlite://data/changeaudit.db"
        );
        assert_eq!(config.sessions.idle_timeout, Duration::from_secs(30 * 60));
        assert_eq!(
            config.terminal.recordings_dir,
            PathBuf::from("data/recordings")
        );
        assert!(config.server.trusted_proxies.is_empty());
        assert!(!config.cookie_secure());
    }

    #[test]
    fn environment_overrides_the_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("changeaudit.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9000\"\ndata_dir = \"/srv/ca\"\npublic_url = \"https://ca.example/\"\n",
        )
        .unwrap();
        let config =
            Config::load(Some(&file), &env(&[("CHANGEAUDIT_LISTEN", "0.0.0.0:80")])).unwrap();
        assert_eq!(config.server.listen, "0.0.0.0:80".parse().unwrap());
        assert_eq!(config.server.data_dir, PathBuf::from("/srv/ca"));
        assert_eq!(
            config.database.url.expose_secret(),
            "sqlite:///srv/ca/changeaudit.db"
        );
        assert_eq!(
            config.server.public_url.as_deref(),
            Some("https://ca.example")
        );
        assert!(config.cookie_secure());
    }

    #[test]
    fn lists_and_numbers_read_alike_from_the_file_and_the_variables() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("changeaudit.toml");
        std::fs::write(
            &file,
            "trusted_proxies = [\"10.0.0.0/8\", \"::1\"]\nsession_idle_minutes = 5\n",
        )
        .unwrap();
        let config = Config::load(Some(&file), &env(&[])).unwrap();
        assert_eq!(config.server.trusted_proxies.len(), 2);
        assert_eq!(config.sessions.idle_timeout, Duration::from_secs(5 * 60));

        let config = Config::load(
            Some(&file),
            &env(&[
                (
                    "CHANGEAUDIT_TRUSTED_ORIGINS",
                    "https://a.example, https://b.example",
                ),
                ("CHANGEAUDIT_SESSION_IDLE_MINUTES", "7"),
                ("CHANGEAUDIT_TRUSTED_PROXIES", ""),
            ]),
        )
        .unwrap();
        assert_eq!(
            config.server.trusted_origins,
            ["https://a.example", "https://b.example"]
        );
        assert_eq!(config.sessions.idle_timeout, Duration::from_secs(7 * 60));
        // An empty variable is unset: the file's list stands.
        assert_eq!(config.server.trusted_proxies.len(), 2);
    }

    #[test]
    fn errors_name_the_variable_or_key() {
        let error = Config::load(None, &env(&[("CHANGEAUDIT_LISTEN", "nowhere")])).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("CHANGEAUDIT_LISTEN: `nowhere` is not valid")
        );

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, "lisen = \"127.0.0.1:1\"\n").unwrap();
        let error = Config::load(Some(&file), &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(error.contains("unknown field `lisen`"), "{error}");

        let error = Config::load(
            None,
            &env(&[("CHANGEAUDIT_TRUSTED_PROXIES", "10.0.0.0/33")]),
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("CHANGEAUDIT_TRUSTED_PROXIES"), "{error}");
        assert!(error.contains("10.0.0.0/33"), "{error}");

        let error =
            Config::load(None, &env(&[("CHANGEAUDIT_ADMIN_PASSWORD", "short")])).unwrap_err();
        assert!(
            error.to_string().contains("CHANGEAUDIT_ADMIN_PASSWORD"),
            "{error}"
        );
    }

    #[test]
    fn the_readme_lists_every_variable() {
        let readme = include_str!("../../../README.md");
        for name in ENV_VARS {
            assert!(
                readme.contains(&format!("`{name}`")),
                "README.md does not list {name}"
            );
        }
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let config = Config::load(
            None,
            &env(&[
                ("CHANGEAUDIT_DATABASE_URL", "postgres://u:topsecret@db/ca"),
                ("CHANGEAUDIT_ADMIN_PASSWORD", "another-topsecret"),
            ]),
        )
        .unwrap();
        let debug = format!("{config:?}");
        assert!(!debug.contains("topsecret"), "{debug}");
    }
}
